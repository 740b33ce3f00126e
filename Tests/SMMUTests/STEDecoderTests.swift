import Testing
@testable import SMMU

private let tableBase = TableTestMemory.base            // linear Stream table, 2^8 STEs
private let ctxPtr = IntermediateAddress(TableTestMemory.base + 0x10_0000)   // a CD
private let s2ttb = PhysicalAddress(TableTestMemory.base + 0x20_0000)    // stage-2 tables
private let sid: UInt32 = 3

/// Writes `ste` as the STE of StreamID 3 and looks it up.
private func lookupSTE(_ ste: DescriptorImage, _ configuration: SMMUConfiguration = .init(),
                       e2h: Bool = false) -> Result<StreamConfig, ConfigFault> {
    let mem = TableTestMemory()
    mem.write(ste.words, at: tableBase + UInt64(sid) * 64)
    var control = ControlState.linear(base: tableBase, log2Size: 8)
    control.e2h = e2h
    return StreamTable.lookup(streamID: sid, control: control, configuration: configuration, memory: mem.memory)
}

struct IllegalSTE: CustomTestStringConvertible, Sendable {
    var testDescription: String
    var ste: DescriptorImage
    var configuration = SMMUConfiguration()
}


private let s1 = STE.stage1(contextPtr: ctxPtr)
private let s2 = STE.stage2(ttb: s2ttb)
private let nested = STE.nested(contextPtr: ctxPtr, ttb: s2ttb)

private let illegalSTEs: [IllegalSTE] = [
    .init(testDescription: "V=0", ste: with(s1) { $0.set(STE.Fields.v, false) }),
    .init(testDescription: "stage 1 not implemented", ste: s1,
          configuration: config { $0.stage1 = false; $0.nested = false }),
    .init(testDescription: "stage 2 not implemented", ste: s2,
          configuration: config { $0.stage2 = false; $0.nested = false }),
    .init(testDescription: "nested not implemented", ste: nested, configuration: config { $0.nested = false }),
    .init(testDescription: "S1Fmt=1 without CD2L", ste: with(s1) { $0.set(STE.Fields.s1CDMax, 8); $0.set(STE.Fields.s1Fmt, .twoLevel4K) },
          configuration: config { $0.twoLevelCDTables = false }),
    .init(testDescription: "S1CDMax > SSIDSIZE", ste: with(s1) { $0.set(STE.Fields.s1CDMax, 9) },
          configuration: config { $0.substreamIDBits = 8 }),
    .init(testDescription: "S1STALLD with stall forced", ste: with(s1) { $0.set(STE.Fields.s1STALLD) },
          configuration: config { $0.stallModel = .stallOnly }),
    .init(testDescription: "S1STALLD without stalls", ste: with(s1) { $0.set(STE.Fields.s1STALLD) },
          configuration: config { $0.stallModel = .terminateOnly }),
    .init(testDescription: "S1ContextPtr beyond OAS", ste: STE.stage1(contextPtr: IntermediateAddress(1 << 44)),
          configuration: config { $0.outputAddressBits = 40 }),
    .init(testDescription: "EATS=2 without stage 2", ste: with(s1) { $0.set(STE.Fields.eats, .splitStage) }),
    .init(testDescription: "EATS=2 with S2S", ste: with(nested) { $0.set(STE.Fields.eats, .splitStage); $0.set(STE.Fields.s2S) }),
    .init(testDescription: "EATS=1 with S2S", ste: with(s2) { $0.set(STE.Fields.eats, .full); $0.set(STE.Fields.s2S) }),
    .init(testDescription: "STRW=0b01", ste: with(s1) { $0.setRaw(STE.Fields.strw, 0b01) }),
    .init(testDescription: "STRW=0b11", ste: with(s1) { $0.setRaw(STE.Fields.strw, 0b11) }),
    .init(testDescription: "16-bit S2VMID without VMID16", ste: with(s2) { $0.set(STE.Fields.s2VMID, 0x100) },
          configuration: config { $0.vmid16 = false }),
    .init(testDescription: "16-bit S2VMID, stage-1-only EL1, without VMID16",
          ste: with(s1) { $0.set(STE.Fields.s2VMID, 0x1FF) }, configuration: config { $0.vmid16 = false }),
    .init(testDescription: "S2TG reserved", ste: with(s2) { $0.setRaw(STE.Fields.s2TG, 0b11) }),
    .init(testDescription: "S2TG 4KB unsupported", ste: s2, configuration: config { $0.granule4K = false }),
    .init(testDescription: "S2AA64=0", ste: with(s2) { $0.set(STE.Fields.s2AA64, false) }),
    .init(testDescription: "S2ENDI=1", ste: with(s2) { $0.set(STE.Fields.s2ENDI) }),
    .init(testDescription: "S2HA without HTTU", ste: with(s2) { $0.set(STE.Fields.s2HA) },
          configuration: config { $0.httu = .none }),
    .init(testDescription: "S2HD with HTTU=AF only", ste: with(s2) { $0.set(STE.Fields.s2HA); $0.set(STE.Fields.s2HD) },
          configuration: config { $0.httu = .accessFlag }),
    .init(testDescription: "S2S without stalls", ste: with(s2) { $0.set(STE.Fields.s2S) },
          configuration: config { $0.stallModel = .terminateOnly }),
    .init(testDescription: "S2S=0 with stall forced", ste: s2, configuration: config { $0.stallModel = .stallOnly }),
    .init(testDescription: "S2T0SZ=40 > 39", ste: STE.stage2(ttb: s2ttb, t0sz: 40, sl0: 0)),
    .init(testDescription: "S2T0SZ=15 < 16 (4KB)", ste: STE.stage2(ttb: s2ttb, t0sz: 15, sl0: 2)),
    .init(testDescription: "S2T0SZ < 64-IAS", ste: STE.stage2(ttb: s2ttb, t0sz: 23, sl0: 1),
          configuration: config { $0.outputAddressBits = 40 }),
    // 4KB, 40-bit IPA cannot start at level 2 (at most 34 bits with 16 concatenated tables).
    .init(testDescription: "4KB T0SZ=24 SL0=0", ste: STE.stage2(ttb: s2ttb, t0sz: 24, sl0: 0)),
    // 4KB, 32-bit IPA needs no level 0 (a level-0 start needs at least 40 bits).
    .init(testDescription: "4KB T0SZ=32 SL0=2", ste: STE.stage2(ttb: s2ttb, t0sz: 32, sl0: 2)),
    .init(testDescription: "4KB SL0=3 (no STT)", ste: STE.stage2(ttb: s2ttb, t0sz: 39, sl0: 3)),
    // Level 0 with 4KB needs PAMax >= 44.
    .init(testDescription: "4KB SL0=2 with OAS 42", ste: STE.stage2(ttb: s2ttb, t0sz: 22, sl0: 2),
          configuration: config { $0.outputAddressBits = 42 }),
    .init(testDescription: "16KB SL0=3 (no DS)", ste: STE.stage2(ttb: s2ttb, t0sz: 16, sl0: 3, tg: .size16K)),
    // 16KB, 36-bit IPA from level 1 needs at least 37 bits.
    .init(testDescription: "16KB T0SZ=28 SL0=2", ste: STE.stage2(ttb: s2ttb, t0sz: 28, sl0: 2, tg: .size16K)),
    .init(testDescription: "64KB SL0=3", ste: STE.stage2(ttb: s2ttb, t0sz: 22, sl0: 3, tg: .size64K)),
    // 64KB, 42-bit IPA from level 1 needs at least 43 bits.
    .init(testDescription: "64KB T0SZ=22 SL0=2", ste: STE.stage2(ttb: s2ttb, t0sz: 22, sl0: 2, tg: .size64K)),
    .init(testDescription: "S2TTB beyond S2PS", ste: STE.stage2(ttb: PhysicalAddress(1 << 33), ps: .bits32)),
    .init(testDescription: "S2TTB beyond OAS (S2PS capped)", ste: STE.stage2(ttb: PhysicalAddress(1 << 41), ps: .bits48),
          configuration: config { $0.outputAddressBits = 40 }),
    .init(testDescription: "S2TTB beyond 48 bits with 4KB", ste: STE.stage2(ttb: PhysicalAddress(1 << 49), ps: .bits52),
          configuration: config { $0.outputAddressBits = 52 }),
]

@Test(arguments: illegalSTEs)
func illegalSTEIsBadSTE(_ c: IllegalSTE) {
    #expect(lookupSTE(c.ste, c.configuration).failureValue == ConfigFault(type: .C_BAD_STE, fetchAddress: 0, record: true))
}

@Test func bypassAndAbortSTEs() throws {
    var bypass = DescriptorImage()
    bypass.set(STE.Fields.v)
    bypass.set(STE.Fields.config, .bypass)
    bypass.set(STE.Fields.eats, .full)       // IGNORED in bypass: effective 0b00
    bypass.setRaw(STE.Fields.s2TG, 0b11)       // S2* IGNORED: not validated
    let b = try #require(lookupSTE(bypass).successValue)
    #expect(b.mode == .bypass && b.stage1 == nil && b.stage2 == nil && b.eats == .off)

    var abort = DescriptorImage()
    abort.set(STE.Fields.v)
    #expect(lookupSTE(abort).successValue?.mode == .abort)
    abort.setRaw(STE.Fields.config, 0b010)     // Reserved 0b0xx behaves as 0b000
    #expect(lookupSTE(abort).successValue?.mode == .abort)
}

@Test func stage1STE() throws {
    var d = STE.stage1(contextPtr: ctxPtr, cdMax: 20, fmt: .twoLevel64K, dss: .substream0)
    d.set(STE.Fields.eats, .full)
    d.set(STE.Fields.s1STALLD)
    d.set(STE.Fields.s2VMID, 0x1234)
    let s = try #require(lookupSTE(d).successValue)
    #expect(s.mode == .translate && s.stage2 == nil)
    #expect(s.stage1 == Stage1Config(contextPointer: ctxPtr, format: .twoLevel64K, cdMaxBits: 20, defaultSubstream: .substream0))
    #expect(s.eats == .full && s.s1StallDisabled && s.streamWorld == .el1)
    #expect(s.vmidTag == 0x1234)   // NS-EL1 stage-1-only streams are VMID-tagged

    // Without substreams S1CDMax and S1Fmt are IGNORED.
    let noSSID = config { $0.substreamIDBits = 0 }
    let t = try #require(lookupSTE(STE.stage1(contextPtr: ctxPtr, cdMax: 5, fmt: .twoLevel4K), noSSID).successValue)
    #expect(t.stage1?.cdMaxBits == 0 && t.stage1?.format == .linear)
    // S1Fmt=0b11 and S1DSS=0b11 are Reserved and behave as 0b00.
    let reserved = with(STE.stage1(contextPtr: ctxPtr, cdMax: 4)) {
        $0.setRaw(STE.Fields.s1Fmt, 0b11); $0.setRaw(STE.Fields.s1DSS, 0b11)
    }
    let u = try #require(lookupSTE(reserved).successValue)
    #expect(u.stage1?.format == .linear && u.stage1?.defaultSubstream == .terminate)
    // EATS without IDR0.ATS is IGNORED.
    let noATS = config { $0.ats = false; $0.pri = false }
    #expect(lookupSTE(with(s1) { $0.set(STE.Fields.eats, .full) }, noATS).successValue?.eats == .off)
}

@Test func streamWorldFromSTRW() throws {
    let el2 = with(s1) { $0.set(STE.Fields.strw, .el2) }
    #expect(lookupSTE(el2).successValue?.streamWorld == .el2)
    #expect(lookupSTE(el2).successValue?.vmidTag == nil)
    #expect(lookupSTE(el2, e2h: true).successValue?.streamWorld == .el2E2H)
    // Without HYP, STRW is RES0 (not checked, world stays EL1).
    let noHyp = config { $0.hyp = false }
    #expect(lookupSTE(with(s1) { $0.setRaw(STE.Fields.strw, 0b11) }, noHyp).successValue?.streamWorld == .el1)
    // With stage 2 translating, STRW is IGNORED.
    #expect(lookupSTE(with(nested) { $0.setRaw(STE.Fields.strw, 0b11) }).successValue?.streamWorld == .el1)
}

struct Stage2Case: CustomTestStringConvertible, Sendable {
    var testDescription: String
    var tg: STE.S2TG, t0sz: UInt8, sl0: UInt8
    var ttb: PhysicalAddress
    var granule: Granule, startLevel: Int8, expectedBase: PhysicalAddress
}

// Expected start levels from VTCR_EL2.SL0 (Arm ARM), table sizes from the
// bits the initial lookup resolves (concatenated tables included).
private let stage2Cases: [Stage2Case] = [
    // 40-bit IPA, 4KB from level 1: 10 bits -> 2 concatenated 4KB tables, 8KB aligned.
    .init(testDescription: "4KB 40-bit L1", tg: .size4K, t0sz: 24, sl0: 1, ttb: s2ttb + 0x1000,
          granule: .size4K, startLevel: 1, expectedBase: s2ttb),
    // 48-bit IPA, 4KB from level 0: 9 bits, one 4KB table.
    .init(testDescription: "4KB 48-bit L0", tg: .size4K, t0sz: 16, sl0: 2, ttb: s2ttb + 0x3000,
          granule: .size4K, startLevel: 0, expectedBase: s2ttb + 0x3000),
    // 32-bit IPA, 4KB from level 2: 11 bits -> 4 concatenated tables, 16KB aligned.
    .init(testDescription: "4KB 32-bit L2", tg: .size4K, t0sz: 32, sl0: 0, ttb: s2ttb + 0x3000,
          granule: .size4K, startLevel: 2, expectedBase: s2ttb),
    // 36-bit IPA, 16KB from level 2: 11 bits, one 16KB table.
    .init(testDescription: "16KB 36-bit L2", tg: .size16K, t0sz: 28, sl0: 1, ttb: s2ttb + 0x4000,
          granule: .size16K, startLevel: 2, expectedBase: s2ttb + 0x4000),
    // 42-bit IPA, 64KB from level 2: 13 bits, one 64KB table.
    .init(testDescription: "64KB 42-bit L2", tg: .size64K, t0sz: 22, sl0: 1, ttb: s2ttb + 0x8000,
          granule: .size64K, startLevel: 2, expectedBase: s2ttb),
    // 48-bit IPA, 64KB from level 1: 6 bits, a 512-byte table.
    .init(testDescription: "64KB 48-bit L1", tg: .size64K, t0sz: 16, sl0: 2, ttb: s2ttb + 0x8300,
          granule: .size64K, startLevel: 1, expectedBase: s2ttb + 0x8200),
    // 25-bit IPA, 4KB from level 2: 4 bits, a 128-byte table.
    .init(testDescription: "4KB 25-bit L2", tg: .size4K, t0sz: 39, sl0: 0, ttb: s2ttb + 0x1C0,
          granule: .size4K, startLevel: 2, expectedBase: s2ttb + 0x180),
]

@Test(arguments: stage2Cases)
func stage2STE(_ c: Stage2Case) throws {
    var d = STE.stage2(ttb: c.ttb, t0sz: c.t0sz, sl0: c.sl0, tg: c.tg)
    d.set(STE.Fields.s2AFFD)
    d.set(STE.Fields.s2PTW)
    d.set(STE.Fields.s2HA)
    let s = try #require(lookupSTE(d).successValue)
    let s2 = try #require(s.stage2)
    #expect(s.stage1 == nil && s.mode == .translate)
    // S2PTW is IGNORED with Config[1:0] != 0b11 (5.2): stage 2 only here.
    #expect(s2.vmid == 5 && s2.recordFaults && !s2.stallFaults && !s2.protectedTableWalk)
    #expect(s2.table == Stage2TableConfig(granule: c.granule, inputSizeBits: UInt8(64 - c.t0sz),
                                              tableBase: c.expectedBase, startLevel: c.startLevel,
                                              outputSizeBits: 48, hardwareAccessFlag: true, hardwareDirty: false,
                                              accessFlagFaultDisabled: true, topByteIgnore: false))
}

@Test func stage2OutputSizeIsCapped() throws {
    // S2PS=48 bits on a 44-bit OAS: capped, not ILLEGAL.
    let oas44 = config { $0.outputAddressBits = 44 }
    #expect(lookupSTE(STE.stage2(ttb: s2ttb, ps: .bits48), oas44).successValue?.stage2?.table.outputSizeBits == 44)
    // S2PS=52 bits with 4KB (no DS): 48-bit output; with 64KB: 52.
    let oas52 = config { $0.outputAddressBits = 52 }
    #expect(lookupSTE(STE.stage2(ttb: s2ttb, ps: .bits52), oas52).successValue?.stage2?.table.outputSizeBits == 48)
    let big = STE.stage2(ttb: PhysicalAddress(1 << 50), t0sz: 22, sl0: 1, tg: .size64K, ps: .bits52)
    #expect(lookupSTE(big, oas52).successValue?.stage2?.table.outputSizeBits == 52)
    // S2HD without S2HA is Reserved: both off.
    let hdOnly = with(s2) { $0.set(STE.Fields.s2HD) }
    let t = try #require(lookupSTE(hdOnly).successValue?.stage2?.table)
    #expect(!t.hardwareAccessFlag && !t.hardwareDirty)
}

@Test func nestedSTE() throws {
    let d = with(nested) { $0.set(STE.Fields.eats, .splitStage); $0.set(STE.Fields.s2VMID, 0xBEEF) }
    let s = try #require(lookupSTE(d).successValue)
    #expect(s.stage1?.contextPointer == ctxPtr)
    #expect(s.stage2?.vmid == 0xBEEF && s.vmidTag == 0xBEEF)
    #expect(s.stage2?.table.startLevel == 1)
    #expect(s.eats == .splitStage)
}
