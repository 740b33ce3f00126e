import Testing
@testable import SMMU

/// Substreams (PASIDs) end to end through the façade: CD tables located by
/// STE.S1ContextPtr, S1Fmt and S1CDMax (IHI 0070 5.2, 5.3 L1CD, 3.3.2),
/// one CD per PASID with its own ASID and tables, and the S1DSS rules for
/// transactions without a SubstreamID. Expected PAs come from the tables
/// the test writes; event fields from 7.3.
struct PASIDTests {
    static let sid: UInt32 = 3
    static let va: UInt64 = 0x1234_5000

    /// A stream with two PASIDs: `cdOf(ssid)` gives where each CD lives.
    /// PASID a -> ASID 11 -> PA base+0x100_0000, PASID b -> ASID 12 -> base+0x110_0000.
    struct TwoPASIDs {
        let d: LinuxLikeDriver
        let pa: [UInt32: UInt64]
        let tables: [UInt32: Stage1Tables]
    }

    static func twoPASIDs(_ d: LinuxLikeDriver, ste: [UInt64], cdOf: (UInt32) -> UInt64,
                          pasids: (UInt32, UInt32)) -> TwoPASIDs {
        let base = d.ram.base
        var pa: [UInt32: UInt64] = [:], tables: [UInt32: Stage1Tables] = [:]
        for (i, ssid) in [pasids.0, pasids.1].enumerated() {
            let t = Stage1Tables(ram: d.ram, arena: base + 0x40_0000 + UInt64(i) * 0x10_0000)
            let out = base + 0x100_0000 + UInt64(i) * 0x10_0000
            t.map(va, to: out)
            d.ram.writeWords(cdOf(ssid), CDWords.linux(asid: UInt16(11 + i), ttb0: t.root))
            pa[ssid] = out; tables[ssid] = t
        }
        d.writeSTE(sid: sid, ste)
        #expect(d.submit([DriverCmd.cfgiSTE(sid)]))
        return TwoPASIDs(d: d, pa: pa, tables: tables)
    }

    static func outputAddress(_ d: LinuxLikeDriver, ssid: UInt32?, _ address: UInt64 = va | 0x678) -> UInt64? {
        guard case .translated(let t) = d.smmu.translate(TranslationRequest(streamID: sid, substreamID: ssid,
                                                                            address: InputAddress(address), access: .write))
        else { return nil }
        return t.output(for: InputAddress(address)).physical?.raw
    }

    /// Linear CD table: S1Fmt = 0, S1CDMax = 4 (16 CDs of 64 bytes), CD n at
    /// S1ContextPtr + 64 * n (5.2 S1Fmt).
    static func linearMachine(s1dss: STE.S1DSS = .terminate) throws -> TwoPASIDs {
        let d = try LinuxLikeDriver()
        #expect(d.reset())
        let cdTable = d.ram.base + 0x30_0000
        return twoPASIDs(d, ste: STEWords.stage1(cdPointer: cdTable, cdMax: 4, s1dss: s1dss),
                         cdOf: { cdTable + UInt64($0) * 64 }, pasids: (1, 2))
    }

    @Test func linearCDTableTranslatesEachPASIDThroughItsOwnCD() throws {
        let m = try Self.linearMachine()
        #expect(Self.outputAddress(m.d, ssid: 1) == m.pa[1]! | 0x678)
        #expect(Self.outputAddress(m.d, ssid: 2) == m.pa[2]! | 0x678)
        guard case .translated(let t) = m.d.smmu.translate(TranslationRequest(streamID: Self.sid, substreamID: 2,
                                                                              address: InputAddress(Self.va))) else {
            Issue.record("PASID 2 should translate"); return
        }
        #expect(t.asid == 12)
        #expect(t.substreamID == 2)
        // A PASID whose CD is still zero (V = 0): C_BAD_CD (5.4, 7.3.11).
        guard case .fault(let f) = m.d.smmu.translate(TranslationRequest(streamID: Self.sid, substreamID: 3,
                                                                         address: InputAddress(Self.va))) else {
            Issue.record("PASID 3 has no valid CD"); return
        }
        #expect(f.type == .C_BAD_CD)
    }

    @Test func substreamIDBeyondS1CDMaxIsBadSubstreamID() throws {
        let m = try Self.linearMachine()
        _ = m.d.drainEvents()
        // S1CDMax = 4: SubstreamIDs >= 2^4 are out of range: C_BAD_SUBSTREAMID (5.2 S1CDMax).
        #expect(Self.outputAddress(m.d, ssid: 16) == nil)
        let events = m.d.drainEvents()
        #expect(events.count == 1)
        if let e = events.first {
            // 7.3.9: type 0x08, SubstreamID [31:12], StreamID [63:32].
            #expect(e[0] & 0xFF == 0x08)
            #expect((e[0] >> 12) & 0xF_FFFF == 16)
            #expect(e[0] >> 32 == UInt64(Self.sid))
        }
    }

    /// 2-level CD table, S1Fmt = 1 (4 KiB leaves of 64 CDs), S1CDMax = 10:
    /// L1 index = SSID[9:6], L1CD = L2Ptr [55:12] | V [0] (5.3),
    /// CD at L2Ptr + 64 * SSID[5:0].
    @Test func twoLevelCDTableTranslatesEachPASID() throws {
        let d = try LinuxLikeDriver()
        #expect(d.reset())
        let base = d.ram.base
        let l1 = base + 0x30_0000, leafA = base + 0x31_0000, leafB = base + 0x32_0000
        d.ram.write64(l1 + 0 * 8, leafA | 1)          // PASIDs 0-63
        d.ram.write64(l1 + 10 * 8, leafB | 1)         // PASIDs 640-703
        let m = Self.twoPASIDs(d, ste: STEWords.stage1(cdPointer: l1, s1fmt: .twoLevel4K, cdMax: 10),
                               cdOf: { ($0 >> 6 == 0 ? leafA : leafB) + UInt64($0 & 63) * 64 },
                               pasids: (5, 700))
        #expect(Self.outputAddress(d, ssid: 5) == m.pa[5]! | 0x678)
        #expect(Self.outputAddress(d, ssid: 700) == m.pa[700]! | 0x678)
        _ = d.drainEvents()
        // L1CD[2].V = 0: C_BAD_SUBSTREAMID (5.3 L1CD.V).
        #expect(Self.outputAddress(d, ssid: 130) == nil)
        // 1024 >= 2^S1CDMax: C_BAD_SUBSTREAMID.
        #expect(Self.outputAddress(d, ssid: 1024) == nil)
        let events = d.drainEvents()
        #expect(events.map { $0[0] & 0xFF } == [0x08, 0x08])
        #expect(events.map { ($0[0] >> 12) & 0xF_FFFF } == [130, 1024])
    }

    /// `configurationFetches` counts each CD read from memory by the format
    /// the STE gave (5.2 S1Fmt): the backend logs it, and the SVA guest case
    /// proves with it that Linux's 2-level CD table was walked. A second
    /// translation hits the configuration cache and reads nothing.
    @Test func configurationFetchesCountCDsByTableFormat() throws {
        let d = try LinuxLikeDriver()
        #expect(d.reset())
        let base = d.ram.base
        let l1 = base + 0x30_0000, leaf = base + 0x38_0000
        d.ram.write64(l1 + 1 * 8, leaf | 1)            // PASIDs 1024-2047
        let before = d.smmu.configurationFetches
        let m = Self.twoPASIDs(d, ste: STEWords.stage1(cdPointer: l1, s1fmt: .twoLevel64K, cdMax: 20),
                               cdOf: { leaf + UInt64($0 & 1023) * 64 }, pasids: (1025, 2000))
        #expect(Self.outputAddress(d, ssid: 1025) == m.pa[1025]! | 0x678)
        #expect(Self.outputAddress(d, ssid: 2000) == m.pa[2000]! | 0x678)
        #expect(Self.outputAddress(d, ssid: 1025) == m.pa[1025]! | 0x678)
        let after = d.smmu.configurationFetches
        #expect(after.twoLevel64KTableCDs - before.twoLevel64KTableCDs == 2)
        // Both PASIDs live in L1CD[1]'s leaf, not the first one.
        #expect(after.laterLeafCDs - before.laterLeafCDs == 2)
        #expect(after.twoLevel4KTableCDs == before.twoLevel4KTableCDs)
        #expect(after.linearTableCDs == before.linearTableCDs)
        #expect(after.streamTableEntries - before.streamTableEntries == 1)

        let lin = try Self.linearMachine()
        let linBefore = lin.d.smmu.configurationFetches
        #expect(Self.outputAddress(lin.d, ssid: 1) == lin.pa[1]! | 0x678)
        #expect(lin.d.smmu.configurationFetches.linearTableCDs - linBefore.linearTableCDs == 1)
        #expect(lin.d.smmu.configurationFetches.twoLevel64KTableCDs == 0)
        #expect(lin.d.smmu.configurationFetches.laterLeafCDs == 0)
    }

    /// S1DSS (5.2) decides for a transaction without a SubstreamID on a stream
    /// with substreams: 0b00 terminate with F_STREAM_DISABLED, 0b01 bypass
    /// stage 1, 0b10 use CD 0 (and then SubstreamID 0 itself is F_STREAM_DISABLED).
    @Test func transactionsWithoutSubstreamFollowS1DSS() throws {
        let d = try LinuxLikeDriver()
        #expect(d.reset())
        let cdTable = d.ram.base + 0x30_0000
        let m = Self.twoPASIDs(d, ste: STEWords.stage1(cdPointer: cdTable, cdMax: 4, s1dss: .terminate),
                               cdOf: { cdTable + UInt64($0) * 64 }, pasids: (0, 2))
        _ = d.drainEvents()

        // 0b00: terminate, F_STREAM_DISABLED (7.3.7: type 0x06, StreamID).
        #expect(Self.outputAddress(d, ssid: nil) == nil)
        let events = d.drainEvents()
        #expect(events.count == 1)
        #expect(events.first.map { $0[0] & 0xFF } == 0x06)
        #expect(events.first.map { $0[0] >> 32 } == UInt64(Self.sid))

        // 0b01: stage 1 bypassed (no stage 2 here: the output is the input).
        d.writeSTE(sid: Self.sid, STEWords.stage1(cdPointer: cdTable, cdMax: 4, s1dss: .bypass))
        #expect(d.submit([DriverCmd.cfgiSTE(Self.sid)]))
        #expect(Self.outputAddress(d, ssid: nil) == Self.va | 0x678)
        #expect(Self.outputAddress(d, ssid: 2) == m.pa[2]! | 0x678)

        // 0b10: CD 0 translates SSID-less traffic; SubstreamID 0 is terminated.
        d.writeSTE(sid: Self.sid, STEWords.stage1(cdPointer: cdTable, cdMax: 4, s1dss: .substream0))
        #expect(d.submit([DriverCmd.cfgiSTE(Self.sid)]))
        #expect(Self.outputAddress(d, ssid: nil) == m.pa[0]! | 0x678)
        _ = d.drainEvents()
        #expect(Self.outputAddress(d, ssid: 0) == nil)
        #expect(d.drainEvents().map { $0[0] & 0xFF } == [0x06])
        #expect(Self.outputAddress(d, ssid: 2) == m.pa[2]! | 0x678)
    }
}
