import Testing
@testable import SMMU

/// STE.S2PTW, Protected Table Walk (IHI 0070 5.2): with both stages, a
/// stage 1 table walk access or CD fetch to a stage 2 page of any Device
/// type "is terminated and recorded as a stage 2 Permission fault".
/// Stage 2 Device: MemAttr[3:2] == 0b00 (descriptor bits [5:4]), or with
/// STE.S2FWB == 1, MemAttr[2] == 0 (bit [4]) (Arm ARM, FEAT_S2FWB).
struct S2PTWTests {
    let sid: UInt32 = 20
    let va: UInt64 = 0x1234_5000

    /// NestedTests' layout with the stage-2 page holding IPA `ib + offset` remapped with `memAttr`.
    func layout(_ offset: UInt64, memAttr: UInt64, s2ptw: Bool, s2fwb: Bool = false) throws -> NestedTests.Layout {
        let l = try NestedTests().build()
        let s2l3 = l.d.ram.base + 0x60_3000
        let slot = s2l3 + ((offset >> 12) & 0x1FF) * 8
        let pa = l.d.ram.read64(slot) & 0x0000_FFFF_FFFF_F000
        l.d.ram.write64(slot, S2PT.page(pa, memAttr: memAttr))
        NestedTests().install(l.d, STEWords.nested(cdPointer: NestedTests.ib, vmid: 7, t0sz: 24, sl0: 1,
                                                   ttb: l.s2root, s2ptw: s2ptw, s2fwb: s2fwb))
        return l
    }

    /// A stage-2 F_PERMISSION (0x13), S2 = 1, with `cls` and the IPA (7.3.16).
    func expectStage2Permission(_ l: NestedTests.Layout, cls: UInt64, ipa: UInt64) {
        let e = l.d.drainEvents()
        #expect(e.count == 1)
        guard let e = e.first else { return }
        #expect(e[0] & 0xFF == 0x13)
        #expect((e[1] >> 39) & 1 == 1)
        #expect((e[1] >> 40) & 3 == cls)
        #expect(e[3] & ~0xFFF == ipa)
    }

    @Test func stage1TableInDeviceMemoryIsStage2PermissionFault_5_2() throws {
        let l = try layout(0x2000, memAttr: S2PT.device, s2ptw: true)   // stage-1 level-1 table
        guard case .fault = l.d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(va))) else {
            Issue.record("a walk into Device memory must fault with S2PTW"); return
        }
        expectStage2Permission(l, cls: 0b01, ipa: NestedTests.ib + 0x2000)    // CLASS = TT
    }

    @Test func cdInDeviceMemoryIsStage2PermissionFault_5_2() throws {
        let l = try layout(0x0000, memAttr: S2PT.device, s2ptw: true)   // the CD
        guard case .fault = l.d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(va))) else {
            Issue.record("a CD fetch from Device memory must fault with S2PTW"); return
        }
        expectStage2Permission(l, cls: 0b00, ipa: NestedTests.ib)             // CLASS = CD
    }

    /// S2PTW == 0 (without IDR3.PTWNNC): walks "allowed to any valid stage 2 address".
    @Test func withoutS2PTWDeviceTablesAreWalked_5_2() throws {
        let l = try layout(0x2000, memAttr: S2PT.device, s2ptw: false)
        guard case .translated = l.d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(va))) else {
            Issue.record("S2PTW=0 walks Device tables"); return
        }
    }

    /// Only table walks and CD fetches are checked: Device data is fine.
    @Test func deviceDataPageIsNotAProtectedWalk_5_2() throws {
        let l = try layout(0x10_0000, memAttr: S2PT.device, s2ptw: true)
        guard case .translated(let t) = l.d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(va))) else {
            Issue.record("a Device data page translates"); return
        }
        #expect(t.output(for: InputAddress(va)) == .physical(l.dataPA))
    }

    /// MemAttr = 0b1011: Normal with S2FWB == 0 (MemAttr[3:2] = 0b10), Device
    /// with S2FWB == 1 (MemAttr[2] = 0).
    @Test func s2fwbChangesWhatIsDevice_5_2() throws {
        let attr: UInt64 = 0b1011 << 2
        let normal = try layout(0x2000, memAttr: attr, s2ptw: true)
        guard case .translated = normal.d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(va))) else {
            Issue.record("MemAttr 0b1011 without FWB is Normal"); return
        }
        let fwb = try layout(0x2000, memAttr: attr, s2ptw: true, s2fwb: true)
        guard case .fault = fwb.d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(va))) else {
            Issue.record("MemAttr 0b1011 with FWB is Device"); return
        }
        expectStage2Permission(fwb, cls: 0b01, ipa: NestedTests.ib + 0x2000)
    }
}
