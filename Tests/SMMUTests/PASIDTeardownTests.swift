import Dispatch
import Synchronization
import Testing
@testable import SMMU

/// The PASID teardown hazards of DESIGN.md, driven as Linux drives them.
struct PASIDTeardownTests {
    typealias P = PASIDTests
    let sid = PASIDTests.sid, va = PASIDTests.va

    /// (a) Page requests still in the PRI queue when their PASID is unbound
    /// stay there for software (chapter 8: the SMMU only writes the queue);
    /// the device's stop marker (R = W = 0, L = 1, with a PASID: 8.0) is
    /// queued like a request and answered by nobody (8.2 "The SMMU does not
    /// generate responses to Stop Marker messages"); software's later
    /// PRI_RESP for the drained group still reaches the device (4.5.2).
    @Test func pendingPageRequestsSurviveUnbindAndStopMarkerGetsNoResponse() throws {
        let m = try P.linearMachine()
        let d = m.d
        let r1 = PageRequest(streamID: sid, substreamID: 1, address: InputAddress(va), read: true, write: false,
                             last: false, prgIndex: 3)
        let r2 = PageRequest(streamID: sid, substreamID: 1, address: InputAddress(va + 0x1000), read: false, write: true,
                             last: true, prgIndex: 3)
        #expect(d.smmu.pageRequest(r1) == .queued)
        #expect(d.smmu.pageRequest(r2) == .queued)

        // Unbind PASID 1: arm_smmu_clear_cd writes a zero CD, then CFGI_CD + SYNC.
        d.ram.writeWords(d.ram.base + 0x30_0000 + 64, [UInt64](repeating: 0, count: 8))
        #expect(d.submit([DriverCmd.cfgiCD(sid, ssid: 1)]))
        let stop = PageRequest(streamID: sid, substreamID: 1, address: 0, read: false, write: false,
                               last: true, prgIndex: 0)
        #expect(stop.isStopMarker)
        #expect(d.smmu.pageRequest(stop) == .queued)
        #expect(d.host.log.withLock { $0.responses.isEmpty })

        // Record format (8.0; Linux PRIQ_0_*/PRIQ_1_*): w0 StreamID [31:0],
        // SubstreamID [51:32], Priv [58], X [59], R [60], W [61], Last [62],
        // SSV [63]; w1 PRGIndex [8:0], Page address [63:12].
        let records = d.drainPRI()
        let s = UInt64(sid), pasid1: UInt64 = 1 << 32 | 1 << 63
        #expect(records == [
            [s | pasid1 | 1 << 60, va | 3],
            [s | pasid1 | 1 << 61 | 1 << 62, (va + 0x1000) | 3],
            [s | pasid1 | 1 << 62, 0],
        ])

        // Software answers the group it drained (PRI_RESP, Resp = 0b01 InvalidRequest).
        #expect(d.submit([DriverCmd.priResp(sid: sid, ssid: 1, prgIndex: 3, resp: .invalidRequest)]))
        #expect(d.host.log.withLock { $0.responses } ==
                [PageResponse(streamID: sid, substreamID: 1, prgIndex: 3, code: .invalidRequest)])
        // The other PASID is untouched.
        #expect(P.outputAddress(d, ssid: 2) == m.pa[2]! | 0x678)
    }

    /// (b) A "quiet" CD (V = 1, EPD0 = EPD1 = 1, R = 0: arm_smmu_make_sva_cd
    /// without an mm) replacing a live one: a walk using a disabled half is
    /// a Translation fault (5.4 EPD0/EPD1), not recorded because R = 0 (5.4
    /// R, 3.12); the other PASID keeps translating. Here the quiet CD takes a
    /// fresh ASID, so CFGI_CD + SYNC alone must be enough (the TLB is tagged
    /// by ASID, 3.17).
    @Test func quietCDFaultsWithoutEventsAndSparesOtherPASID() throws {
        let m = try P.linearMachine()
        let d = m.d
        #expect(P.outputAddress(d, ssid: 1) == m.pa[1]! | 0x678)   // warm the caches
        #expect(P.outputAddress(d, ssid: 2) == m.pa[2]! | 0x678)
        _ = d.drainEvents()
        let prodBefore = d.read32(Reg.EVENTQ_PROD)

        d.ram.writeWords(d.ram.base + 0x30_0000 + 64, CDWords.quiet(asid: 21))
        #expect(d.submit([DriverCmd.cfgiCD(sid, ssid: 1)]))
        for address in [va, va | 0x678, 0x7000_0000, 0xFFFF_8000_0000_0000] {
            let out = d.smmu.translate(TranslationRequest(streamID: sid, substreamID: 1, address: InputAddress(address)))
            guard case .fault(let f) = out else { Issue.record("quiet CD translated \(address)"); continue }
            #expect(f.type == .F_TRANSLATION)
            #expect(f.event == nil)
            #expect(!f.stalled)
        }
        #expect(d.read32(Reg.EVENTQ_PROD) == prodBefore)
        #expect(d.drainEvents().isEmpty)
        #expect(P.outputAddress(d, ssid: 2) == m.pa[2]! | 0x678)
    }

    /// (b) as Linux does it on mm release: the quiet CD keeps the ASID, so the
    /// driver follows CFGI_CD with TLBI_NH_ASID before the SYNC.
    @Test func quietCDWithSameASIDAfterTLBI() throws {
        let m = try P.linearMachine()
        let d = m.d
        #expect(P.outputAddress(d, ssid: 1) == m.pa[1]! | 0x678)
        _ = d.drainEvents()
        d.ram.writeWords(d.ram.base + 0x30_0000 + 64, CDWords.quiet(asid: 11))
        #expect(d.submit([DriverCmd.cfgiCD(sid, ssid: 1), DriverCmd.tlbiNHASID(11)]))
        guard case .fault(let f) = d.smmu.translate(TranslationRequest(streamID: sid, substreamID: 1, address: InputAddress(va)))
        else { Issue.record("quiet CD must fault"); return }
        #expect(f.event == nil)
        #expect(d.drainEvents().isEmpty)
        #expect(P.outputAddress(d, ssid: 2) == m.pa[2]! | 0x678)
    }

    /// The rewrite used by (c): CD 1 moves from table A to table A' (TTB0,
    /// word 1, is the only word whose used bits change, so the update is
    /// hitless: 5.4 / 3.21.3 single-copy atomic 64-bit writes; Linux
    /// arm_smmu_write_entry). Order: unused bits of other words (none
    /// differ), sync; the critical word, sync; the rest, sync. Same ASID, so
    /// the TLB is invalidated by ASID with the CFGI.
    static func hitlessRewrite(_ d: LinuxLikeDriver, cd: UInt64, to words: [UInt64], asid: UInt16, ssid: UInt32) {
        let sync = { _ = d.submit([DriverCmd.cfgiCD(PASIDTests.sid, ssid: ssid), DriverCmd.tlbiNHASID(asid)]) }
        sync()
        d.ram.write64(cd + 8, words[1])
        sync()
        for i in [0, 2, 3, 4, 5, 6, 7] { d.ram.write64(cd + UInt64(i) * 8, words[i]) }
        sync()
    }

    /// (c) CD rewritten while other threads translate through both PASIDs:
    /// every result is the old or the new mapping, PASID 2 is never
    /// disturbed, and a translation started after the final SYNC sees only
    /// the new mapping (4.7.3: CMD_SYNC completes the CFGI/TLBI before it).
    @Test(.timeLimit(.minutes(1)))
    func cdRewrittenUnderConcurrentTranslation() throws {
        let m = try P.linearMachine()
        let d = m.d, smmu = d.smmu, sid = sid, va = va
        let cd1 = d.ram.base + 0x30_0000 + 64
        // Table A' (new): same VA, another page.
        let tablesNew = Stage1Tables(ram: d.ram, arena: d.ram.base + 0x60_0000)
        let newPA = d.ram.base + 0x120_0000
        tablesNew.map(va, to: newPA)
        let oldCD = CDWords.linux(asid: 11, ttb0: m.tables[1]!.root)
        let newCD = CDWords.linux(asid: 11, ttb0: tablesNew.root)
        let oldPA = m.pa[1]!, pa2 = m.pa[2]!

        struct Tally { var old = 0, new = 0, bad: [String] = [], lateOld = 0 }
        let tally = Shared(Tally())
        let finalSyncDone = SharedFlag(), stop = SharedFlag()
        let workers = 3
        let group = DispatchGroup(), started = Shared(0)
        for worker in 0..<workers {
            DispatchQueue.global().async(group: group) {
                started.update { $0 += 1 }
                var local = Tally()
                var i = 0
                while (!stop.isSet || i < 2_000) && i < 2_000_000 {
                    i += 1
                    let after = finalSyncDone.isSet
                    let ssid: UInt32 = (i + worker) % 3 == 0 ? 2 : 1
                    let out = smmu.translate(TranslationRequest(streamID: sid, substreamID: ssid,
                                                                address: InputAddress(va | 0x678), access: .write))
                    guard case .translated(let t) = out else {
                        if local.bad.count < 5 { local.bad.append("ssid \(ssid): \(out)") }
                        continue
                    }
                    let pa = t.output(for: InputAddress(va | 0x678)).raw
                    if ssid == 2 {
                        if pa != pa2 | 0x678, local.bad.count < 5 { local.bad.append("ssid 2 -> \(pa)") }
                    } else if pa == oldPA | 0x678 {
                        local.old += 1
                        if after { local.lateOld += 1 }
                    } else if pa == newPA | 0x678 {
                        local.new += 1
                    } else if local.bad.count < 5 {
                        local.bad.append("ssid 1 -> \(pa)")
                    }
                }
                tally.update { $0.old += local.old; $0.new += local.new; $0.bad += local.bad
                    $0.lateOld += local.lateOld }
            }
        }
        // Start the commands only once every worker runs (bounded wait).
        for _ in 0..<10_000_000 where started.value < workers { }
        // Back and forth; the final state is the new CD.
        for round in 0..<41 {
            let target = round % 2 == 0 ? newCD : oldCD
            Self.hitlessRewrite(d, cd: cd1, to: target, asid: 11, ssid: 1)
        }
        finalSyncDone.set()
        // Let the workers run a little past the final SYNC.
        for _ in 0..<20_000 { _ = smmu.translate(TranslationRequest(streamID: sid, substreamID: 1, address: InputAddress(va))) }
        stop.set()
        #expect(group.wait(timeout: .now() + 50) == .success)

        let t = tally.value
        #expect(t.bad.isEmpty, "\(t.bad)")
        #expect(t.lateOld == 0)
        #expect(t.old + t.new > 0)
        #expect(P.outputAddress(d, ssid: 1) == newPA | 0x678)
        #expect(P.outputAddress(d, ssid: 2) == pa2 | 0x678)
    }

    /// The race of (c) made deterministic: another CPU rewrites the CD, and
    /// completes CFGI_CD + TLBI_NH_ASID + SYNC, between the moment a
    /// translation copied the old CD out of memory and its table walk. That
    /// in-flight translation may use the old CD, but after the SYNC no cache
    /// may hold what it produced: the next translation must use the new CD
    /// (4.7.3, 3.21: TLB entries are not created from stale configuration
    /// after the invalidation completed).
    @Test func walkRacingWithCDRewriteLeavesNoStaleTLBEntry() throws {
        var hooked: HookedMemory?
        let d = try LinuxLikeDriver(wrapMemory: { let h = HookedMemory($0); hooked = h; return h })
        #expect(d.reset())
        let cdTable = d.ram.base + 0x30_0000
        let m = PASIDTests.twoPASIDs(d, ste: STEWords.stage1(cdPointer: cdTable, cdMax: 4),
                                     cdOf: { cdTable + UInt64($0) * 64 }, pasids: (1, 2))
        let cd1 = cdTable + 64
        let tablesNew = Stage1Tables(ram: d.ram, arena: d.ram.base + 0x60_0000)
        let newPA = d.ram.base + 0x120_0000
        tablesNew.map(va, to: newPA)
        let sid = sid, newRoot = tablesNew.root
        hooked?.onceAfterRead(of: cd1 + 8) {
            d.ram.write64(cd1 + 8, newRoot)
            _ = d.submit([DriverCmd.cfgiCD(sid, ssid: 1), DriverCmd.tlbiNHASID(11)])
        }
        let first = P.outputAddress(d, ssid: 1)
        #expect(first == m.pa[1]! | 0x678 || first == newPA | 0x678)
        #expect(P.outputAddress(d, ssid: 1) == newPA | 0x678)
    }
}
