import Testing
@testable import SMMU

/// Stage 2 only (STE.Config = 0b110) and nested (0b111) through the façade.
/// Stage 2: 4 KiB granule, S2T0SZ = 24 (40-bit IPA), S2SL0 = 0b01 (start
/// at level 1). Level 1 then resolves IPA[39:30], 10 bits: two concatenated
/// 4 KiB tables, 8 KiB aligned (Arm ARM VMSAv8-64 stage-2 concatenation).
/// The IPA window IB = 0x80_4000_0000 has level-1 index 0x201 = 513, i.e.
/// entry 1 of the second concatenated table.
struct NestedTests {
    let sid: UInt32 = 20
    let vmid: UInt16 = 7
    static let ib: UInt64 = 0x80_4000_0000
    let va: UInt64 = 0x1234_5000

    struct Layout {
        let d: LinuxLikeDriver
        let s2root: UInt64
        /// Where the data page's IPA lands.
        let dataPA: PhysicalAddress
    }

    /// Stage-2 tables by hand, then stage-1 tables and CD in IPA space
    /// (written at the PAs stage 2 gives them).
    func build() throws -> Layout {
        let d = try LinuxLikeDriver()
        #expect(d.reset())
        let base = d.ram.base, ib = Self.ib
        let s2root = base + 0x60_0000                   // 8 KiB aligned, 2 tables
        let s2l2 = base + 0x60_2000, s2l3 = base + 0x60_3000
        #expect((ib >> 30) & 0x3FF == 513)
        d.ram.write64(s2root + 513 * 8, S2PT.table(s2l2))
        #expect((ib >> 21) & 0x1FF == 0)
        d.ram.write64(s2l2 + 0 * 8, S2PT.table(s2l3))
        // IPA page offset -> PA. IB+0x5000 and IB+0x6000 stay unmapped.
        let pages: [(UInt64, UInt64)] = [
            (0x0000, base + 0x70_0000),    // CD
            (0x1000, base + 0x71_0000),    // stage-1 level 0
            (0x2000, base + 0x72_0000),    // stage-1 level 1
            (0x3000, base + 0x73_0000),    // stage-1 level 2
            (0x4000, base + 0x74_0000),    // stage-1 level 3
            (0x10_0000, base + 0x180_0000), // data
        ]
        for (off, pa) in pages { d.ram.write64(s2l3 + ((off >> 12) & 0x1FF) * 8, S2PT.page(pa)) }

        // Stage 1 in IPA space: table descriptors hold IPAs.
        func s1(_ ipaTable: UInt64, _ level: Int, _ descriptor: UInt64) {
            let pa = pages.first { $0.0 == ipaTable - ib }!.1
            d.ram.write64(pa + PT4K.index(va, level: level) * 8, descriptor)
        }
        s1(ib + 0x1000, 0, PT4K.tableDescriptor(ib + 0x2000))
        s1(ib + 0x2000, 1, PT4K.tableDescriptor(ib + 0x3000))
        s1(ib + 0x3000, 2, PT4K.tableDescriptor(ib + 0x4000))
        s1(ib + 0x4000, 3, PT4K.pageDescriptor(ib + 0x10_0000,
                                                PT4K.af | PT4K.innerShareable | PT4K.apEL0 | PT4K.uxn | PT4K.nG))
        d.ram.writeWords(base + 0x70_0000, CDWords.linux(asid: 2, ttb0: ib + 0x1000))
        return Layout(d: d, s2root: s2root, dataPA: PhysicalAddress(base + 0x180_0000))
    }

    func install(_ d: LinuxLikeDriver, _ ste: [UInt64]) {
        d.writeSTE(sid: sid, ste)
        #expect(d.submit([DriverCmd.cfgiSTE(sid)]))
        _ = d.drainEvents()
    }

    @Test func stage2OnlyTranslatesIPAThroughConcatenatedStartLevel() throws {
        let l = try build()
        install(l.d, STEWords.stage2Only(vmid: vmid, t0sz: 24, sl0: 1, ttb: l.s2root))
        let ipa = Self.ib + 0x10_0678
        guard case .translated(let t) = l.d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(ipa),
                                                                              access: .write)) else {
            Issue.record("IPA should translate"); return
        }
        #expect(t.output(for: InputAddress(ipa)) == .physical(l.dataPA + 0x678))
        #expect(t.vmid == vmid)
        #expect(t.asid == nil)
        // Unmapped IPA: stage-2 F_TRANSLATION, S2 [103] = 1, CLASS [105:104] =
        // IN (0b10), InputAddr and IPA [247:204] = the IPA (7.3.13).
        let hole = Self.ib + 0x5010
        guard case .fault = l.d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(hole))) else {
            Issue.record("unmapped IPA must fault"); return
        }
        if let e = Self.expectStage2InputTranslationFault(l.d.drainEvents(), inputAddress: hole) {
            #expect(e[3] == Self.ib + 0x5000)
        }
    }

    /// One F_TRANSLATION (0x10) record of stage 2 (S2 [103] = 1) for the
    /// input address (CLASS [105:104] = IN, 0b10; InputAddr in word 2,
    /// 7.3.13); returns it for further checks.
    @discardableResult
    static func expectStage2InputTranslationFault(_ events: [[UInt64]], inputAddress: UInt64) -> [UInt64]? {
        #expect(events.count == 1)
        guard let e = events.first else { return nil }
        #expect(e[0] & 0xFF == 0x10)
        #expect((e[1] >> 39) & 1 == 1)
        #expect((e[1] >> 40) & 3 == 0b10)
        #expect(e[2] == inputAddress)
        return e
    }

    @Test func nestedTranslatesWithCDAndTablesInIPASpace() throws {
        let l = try build()
        install(l.d, STEWords.nested(cdPointer: Self.ib, vmid: vmid, t0sz: 24, sl0: 1, ttb: l.s2root))
        guard case .translated(let t) = l.d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(va | 0x678),
                                                                              access: .write)) else {
            Issue.record("nested translation failed"); return
        }
        #expect(t.output(for: InputAddress(va | 0x678)) == .physical(l.dataPA + 0x678))
        #expect(t.asid == 2)
        #expect(t.vmid == vmid)
    }

    /// The CD address (an IPA) does not translate at stage 2: a stage-2
    /// F_TRANSLATION with S2 = 1 and CLASS = CD (0b00), IPA = the CD's IPA.
    @Test func stage2FaultOnCDFetchIsClassCD() throws {
        let l = try build()
        install(l.d, STEWords.nested(cdPointer: Self.ib + 0x5000, vmid: vmid, t0sz: 24, sl0: 1, ttb: l.s2root))
        guard case .fault = l.d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(va))) else {
            Issue.record("CD fetch must fault"); return
        }
        let e = l.d.drainEvents()
        #expect(e.count == 1)
        if let e = e.first {
            #expect(e[0] & 0xFF == 0x10)
            #expect((e[1] >> 39) & 1 == 1)
            #expect((e[1] >> 40) & 3 == 0b00)
            #expect(e[3] == Self.ib + 0x5000)
        }
    }

    /// A stage-1 table address (an IPA) does not translate at stage 2: S2 = 1,
    /// CLASS = TT (0b01), IPA = the IPA of the stage-1 descriptor (its page,
    /// since the field holds IPA[51:12]), InputAddr = the VA.
    @Test func stage2FaultOnStage1TableIsClassTT() throws {
        let l = try build()
        let ib = Self.ib
        // Level-1 entry now points at IPA IB+0x6000, which stage 2 does not map.
        l.d.ram.write64(l.d.ram.base + 0x72_0000 + PT4K.index(va, level: 1) * 8, PT4K.tableDescriptor(ib + 0x6000))
        install(l.d, STEWords.nested(cdPointer: ib, vmid: vmid, t0sz: 24, sl0: 1, ttb: l.s2root))
        guard case .fault = l.d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(va | 0x40))) else {
            Issue.record("stage-1 walk must fault at stage 2"); return
        }
        let e = l.d.drainEvents()
        #expect(e.count == 1)
        if let e = e.first {
            #expect(e[0] & 0xFF == 0x10)
            #expect((e[1] >> 39) & 1 == 1)
            #expect((e[1] >> 40) & 3 == 0b01)
            #expect(e[2] == va | 0x40)
            #expect(e[3] == ib + 0x6000)
        }
    }
}
