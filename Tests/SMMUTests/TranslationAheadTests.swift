import Testing
@testable import SMMU

/// Translations handed out ahead of a device (SMMUv3.translations(after:)):
/// the blocks that follow one just translated, for a host cache. They are
/// speculative, so they may only do what an SMMU may do without a
/// transaction: walk and cache valid entries. Nothing may be recorded
/// (IHI 0070 3.12 records faults of transactions), nothing stalled, and no
/// descriptor written (HTTU sets AF or dirty state for an access, 3.13).
struct TranslationAheadTests {
    let sid: UInt32 = 8
    let asid: UInt16 = 1
    let iova: UInt64 = 0x1234_5000
    let rw = PT4K.af | PT4K.innerShareable | PT4K.apEL0 | PT4K.uxn | PT4K.nG

    /// A Linux-shaped stage-1 stream (as LinuxStage1Tests) with `pages`
    /// mapped from `iova` at 0x80_0000 + 0x1000 * i, and `cdBits` ORed into
    /// CD word 0; check mode as asked.
    func setUp(pages: Int, attributes: [Int: UInt64] = [:], cdBits: UInt64 = 0,
               check: Bool = false) throws -> (LinuxLikeDriver, l3: UInt64) {
        let d = try LinuxLikeDriver(check: check)
        #expect(d.reset())
        let base = d.ram.base
        let cd = base + 0x30_0000
        let pgd = base + 0x31_0000, l1 = base + 0x31_1000, l2 = base + 0x31_2000, l3 = base + 0x31_3000
        d.ram.write64(pgd + PT4K.index(iova, level: 0) * 8, PT4K.tableDescriptor(l1))
        d.ram.write64(l1 + PT4K.index(iova, level: 1) * 8, PT4K.tableDescriptor(l2))
        d.ram.write64(l2 + PT4K.index(iova, level: 2) * 8, PT4K.tableDescriptor(l3))
        for i in 0..<pages {
            let va = iova + UInt64(i) * 0x1000
            d.ram.write64(l3 + PT4K.index(va, level: 3) * 8,
                          PT4K.pageDescriptor(base + 0x80_0000 + UInt64(i) * 0x1000, attributes[i] ?? rw))
        }
        let w0: UInt64 = 16 | 1 << 8 | 1 << 10 | 3 << 12 | 1 << 30 | 1 << 31
            | 0b101 << 32 | 1 << 41 | 1 << 45 | 1 << 46 | 1 << 47 | UInt64(asid) << 48 | cdBits
        d.ram.writeWords(cd, [w0, pgd & 0x000F_FFFF_FFFF_FFF0, 0, 0x0404_FF44, 0, 0, 0, 0])
        d.writeSTE(sid: sid, [1 | 0b101 << 1 | (cd & 0x000F_FFFF_FFFF_FFC0), 1 << 2 | 1 << 4 | 3 << 6])
        #expect(d.submit([DriverCmd.cfgiSTE(sid)]))
        _ = d.drainEvents()
        return (d, l3)
    }

    func first(_ d: LinuxLikeDriver, access: AccessType = []) -> (TranslationRequest, Translation)? {
        let request = TranslationRequest(streamID: sid, address: InputAddress(iova), access: access)
        guard case .translated(let t) = d.smmu.translate(request) else { return nil }
        return (request, t)
    }

    @Test func followingPagesComeBackInOrderAndTheRunEndsAtTheFirstUnmappedOneWithoutAnEvent() throws {
        let (d, _) = try setUp(pages: 5)
        let (request, t) = try #require(first(d))
        let ahead = d.smmu.translations(after: t, of: request, limit: 15)
        #expect(ahead.count == 4)
        for (i, a) in ahead.enumerated() {
            let n = UInt64(i + 1)
            #expect(a.inputBase.raw == iova + n * 0x1000 && a.sizeLog2 == 12)
            #expect(a.output(for: InputAddress(iova + n * 0x1000)) == .physical(PhysicalAddress(d.ram.base + 0x80_0000 + n * 0x1000)))
            #expect(a.asid == asid && a.streamID == sid && a.substreamID == nil && !a.global)
            #expect(a.permissions.allows([.write]))
        }
        // The sixth page is unmapped: a transaction there records
        // F_TRANSLATION, a look-ahead records nothing.
        #expect(d.drainEvents().isEmpty)
        #expect(!d.host.log.withLock { $0.interrupts.contains(.eventQueue) })
    }

    @Test func theLimitIsKept() throws {
        let (d, _) = try setUp(pages: 20)
        let (request, t) = try #require(first(d))
        #expect(d.smmu.translations(after: t, of: request, limit: 15).count == 15)
        #expect(d.smmu.translations(after: t, of: request, limit: 3).count == 3)
        #expect(d.smmu.translations(after: t, of: request, limit: 0).isEmpty)
    }

    /// CD.HA (bit 43) with IDR0.HTTU: a transaction sets AF itself. A
    /// look-ahead must not: the run stops before the page and the
    /// descriptor is left as the guest wrote it.
    @Test func aPageWhoseAccessFlagHardwareWouldSetEndsTheRunUntouched() throws {
        let (d, l3) = try setUp(pages: 4, attributes: [2: rw & ~PT4K.af], cdBits: 1 << 43)
        let (request, t) = try #require(first(d))
        let slot = l3 + PT4K.index(iova + 0x2000, level: 3) * 8
        let before = try #require(d.ram.read64(slot))
        #expect(d.smmu.translations(after: t, of: request, limit: 15).count == 1)
        #expect(d.ram.read64(slot) == before)
        // A transaction there does set it (so the run stopped for HTTU).
        guard case .translated = d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(iova + 0x2000))) else {
            Issue.record("the page should translate for a transaction"); return
        }
        #expect(d.ram.read64(slot) == before | PT4K.af)
    }

    /// A write look-ahead stops at a read-only page (it would be a
    /// Permission fault), again with nothing recorded.
    @Test func aWriteRunStopsAtAReadOnlyPage() throws {
        let (d, _) = try setUp(pages: 4, attributes: [3: rw | PT4K.apReadOnly])
        let (request, t) = try #require(first(d, access: .write))
        #expect(d.smmu.translations(after: t, of: request, limit: 15).count == 2)
        #expect(d.drainEvents().isEmpty)
    }

    /// A look-ahead fills the TLB like any walk (without a TLBI, an unmap
    /// is not seen yet: the entry is cached), and the entry is invalidated
    /// like any other: after TLBI + CMD_SYNC the page faults.
    @Test func aTranslationGivenAheadIsCachedAndGoneAfterTLBIAndSync() throws {
        let (d, l3) = try setUp(pages: 3)
        let (request, t) = try #require(first(d))
        #expect(d.smmu.translations(after: t, of: request, limit: 15).count == 2)
        let va = iova + 0x1000
        d.ram.write64(l3 + PT4K.index(va, level: 3) * 8, 0)
        guard case .translated = d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(va))) else {
            Issue.record("the look-ahead did not fill the TLB"); return
        }
        #expect(d.submit([DriverCmd.tlbiNHVA(asid: asid, address: va)]))
        guard case .fault(let f) = d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(va))) else {
            Issue.record("stale look-ahead translation used after TLBI + SYNC"); return
        }
        #expect(f.type == .F_TRANSLATION)
    }

    /// Check mode's record of what was cached and used must be the guest's
    /// traffic alone, and ATS answers go to an ATC, not to a host cache.
    @Test func checkModeAndATSGetNone() throws {
        let (d, _) = try setUp(pages: 4, check: true)
        let (request, t) = try #require(first(d))
        #expect(d.smmu.translations(after: t, of: request, limit: 15).isEmpty)
        // With the STE and CD cached (a transaction went first), only the
        // request's kind can refuse.
        let (e, _) = try setUp(pages: 4)
        let (plain, u) = try #require(first(e))
        #expect(e.smmu.translations(after: u, of: plain, limit: 15).count == 3)
        var ats = plain
        ats.kind = .translationRequest
        #expect(e.smmu.translations(after: u, of: ats, limit: 15).isEmpty)
    }

    /// CD.S: a transaction that faults stalls and records a stall event. A
    /// look-ahead that reaches the unmapped page neither stalls nor records.
    @Test func aStallingContextNeitherStallsNorRecords() throws {
        let d = try LinuxLikeDriver(check: false)
        #expect(d.reset())
        #expect(d.setUpStallingStream(sid: sid))
        _ = d.drainEvents()
        let request = TranslationRequest(streamID: sid, address: 0x1234_5000, access: [])
        guard case .translated(let t) = d.smmu.translate(request) else {
            Issue.record("the mapped page should translate"); return
        }
        #expect(d.smmu.translations(after: t, of: request, limit: 15).isEmpty)
        #expect(d.drainEvents().isEmpty)
        // the page after it does stall a transaction
        guard case .fault(let f) = d.smmu.translate(TranslationRequest(streamID: sid, address: 0x1234_6000)) else {
            Issue.record("the unmapped page should fault"); return
        }
        #expect(f.stalled)
    }
}
