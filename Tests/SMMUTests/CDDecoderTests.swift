import Testing
@testable import SMMU

private let cdAddress = TableTestMemory.base + 0x1000
private let ttb = IntermediateAddress(TableTestMemory.base + 0x10_0000)

/// A stage-1 stream with a single CD at `cdAddress`.
private func stream(stallDisabled: Bool = false, world: StreamConfig.StreamWorld = .el1) -> StreamConfig {
    var s = StreamConfig(mode: .translate)
    s.stage1 = Stage1Config(contextPointer: IntermediateAddress(cdAddress), format: .linear, cdMaxBits: 0, defaultSubstream: .terminate)
    s.s1StallDisabled = stallDisabled
    s.streamWorld = world
    return s
}

/// Writes `cd` and looks it up as the stream's only CD.
private func lookupCD(_ cd: DescriptorImage, _ configuration: SMMUConfiguration = .init(),
                      stream s: StreamConfig = stream()) -> Result<ContextDescriptor, ConfigFault> {
    let mem = TableTestMemory()
    mem.write(cd.words, at: cdAddress)
    return CDTable.lookup(stream: s, substreamID: 0, configuration: configuration, memory: mem.memory,
                          resolve: { PhysicalAddress(bypassingStage2: $0) })
}


struct IllegalCD: CustomTestStringConvertible, Sendable {
    var testDescription: String
    var cd: DescriptorImage
    var configuration = SMMUConfiguration()
    var stallDisabled = false
}

private let good = CD.valid(ttb0: ttb)
/// Both halves enabled: TTB1 4KB 48-bit.
private let twoHalves = with(good) {
    $0.set(CD.Fields.epd1, false); $0.set(CD.Fields.t1sz, 16); $0.set(CD.Fields.tg1, .size4K); $0.set(CD.Fields.ttb1, ttb + 0x1000)
}

private let illegalCDs: [IllegalCD] = [
    .init(testDescription: "V=0", cd: with(good) { $0.set(CD.Fields.v, false) }),
    .init(testDescription: "T0SZ=40 > 39", cd: with(good) { $0.set(CD.Fields.t0sz, 40) }),
    .init(testDescription: "T0SZ=15 < 16", cd: with(good) { $0.set(CD.Fields.t0sz, 15) }),
    .init(testDescription: "T0SZ=12 with 64KB (VAX=0)", cd: with(good) { $0.set(CD.Fields.t0sz, 12); $0.set(CD.Fields.tg0, .size64K) }),
    .init(testDescription: "T1SZ=40", cd: with(twoHalves) { $0.set(CD.Fields.t1sz, 40) }),
    .init(testDescription: "TG0 reserved", cd: with(good) { $0.setRaw(CD.Fields.tg0, 0b11) }),
    .init(testDescription: "TG1 reserved (0b00)", cd: with(twoHalves) { $0.setRaw(CD.Fields.tg1, 0b00) }),
    .init(testDescription: "TG0 16KB unsupported", cd: with(good) { $0.set(CD.Fields.tg0, .size16K) },
          configuration: config { $0.granule16K = false }),
    .init(testDescription: "TG1 64KB unsupported", cd: with(twoHalves) { $0.set(CD.Fields.tg1, .size64K) },
          configuration: config { $0.granule64K = false }),
    .init(testDescription: "ENDI=1", cd: with(good) { $0.set(CD.Fields.endi) }),
    .init(testDescription: "AA64=0 (AArch32 tables unsupported)", cd: with(good) { $0.set(CD.Fields.aa64, false) }),
    .init(testDescription: "16-bit ASID without ASID16", cd: with(good) { $0.set(CD.Fields.asid, 0x100) },
          configuration: config { $0.asid16 = false }),
    .init(testDescription: "S=1 with STE.S1STALLD", cd: with(good) { $0.set(CD.Fields.s) }, stallDisabled: true),
    .init(testDescription: "S=1 without stalls", cd: with(good) { $0.set(CD.Fields.s) },
          configuration: config { $0.stallModel = .terminateOnly }),
    .init(testDescription: "S=0 with stall forced", cd: good, configuration: config { $0.stallModel = .stallOnly }),
    .init(testDescription: "A=0 (TERM_MODEL=1)", cd: with(good) { $0.set(CD.Fields.a, false) }),
    .init(testDescription: "HA without HTTU", cd: with(good) { $0.set(CD.Fields.ha) }, configuration: config { $0.httu = .none }),
    .init(testDescription: "HD with HTTU=AF only", cd: with(good) { $0.set(CD.Fields.ha); $0.set(CD.Fields.hd) },
          configuration: config { $0.httu = .accessFlag }),
    .init(testDescription: "TTB0 beyond IPS", cd: with(good) { $0.set(CD.Fields.ips, .bits32); $0.set(CD.Fields.ttb0, IntermediateAddress(1 << 33)) }),
    .init(testDescription: "TTB0 beyond OAS", cd: with(good) { $0.set(CD.Fields.ttb0, IntermediateAddress(1 << 41)) },
          configuration: config { $0.outputAddressBits = 40 }),
    .init(testDescription: "TTB0 beyond 48 bits with 4KB", cd: with(good) { $0.set(CD.Fields.ips, .bits52); $0.set(CD.Fields.ttb0, IntermediateAddress(1 << 49)) },
          configuration: config { $0.outputAddressBits = 52 }),
    .init(testDescription: "TTB1 beyond IPS", cd: with(twoHalves) { $0.set(CD.Fields.ips, .bits32); $0.set(CD.Fields.ttb0, 0x1000); $0.set(CD.Fields.ttb1, IntermediateAddress(1 << 33)) }),
]

@Test(arguments: illegalCDs)
func illegalCDIsBadCD(_ c: IllegalCD) {
    #expect(lookupCD(c.cd, c.configuration, stream: stream(stallDisabled: c.stallDisabled)).failureValue
            == ConfigFault(type: .C_BAD_CD, fetchAddress: 0, record: true))
}

@Test func validCD() throws {
    var d = twoHalves
    d.set(CD.Fields.tbi1)
    d.set(CD.Fields.affd)
    d.set(CD.Fields.wxn)
    d.set(CD.Fields.pan)
    d.set(CD.Fields.ha)
    d.set(CD.Fields.hd)
    d.set(CD.Fields.mair0, 0x0004_FF44)
    d.set(CD.Fields.mair1, 0xAABB_CCDD)
    let cd = try #require(lookupCD(d).successValue)
    #expect(cd.asid == 7 && cd.recordFaults && cd.abortOnFault && !cd.stallFaults && cd.wxn && cd.pan && !cd.uwxn)
    #expect(cd.mair == 0xAABB_CCDD_0004_FF44)
    #expect(cd.ttb0 == Stage1TableConfig(granule: .size4K, inputSizeBits: 48, tableBase: ttb, outputSizeBits: 48,
                                              hardwareAccessFlag: true, hardwareDirty: true,
                                              accessFlagFaultDisabled: true, topByteIgnore: false))
    #expect(cd.ttb1 == Stage1TableConfig(granule: .size4K, inputSizeBits: 48, tableBase: ttb + 0x1000,
                                              outputSizeBits: 48, hardwareAccessFlag: true, hardwareDirty: true,
                                              accessFlagFaultDisabled: true, topByteIgnore: true))
}

@Test(arguments: [(CD.TG1.size16K, Granule.size16K), (.size4K, .size4K), (.size64K, .size64K)])
func tg1Encoding(_ tg1: CD.TG1, _ granule: Granule) throws {
    // TG0 uses 0b00/0b01/0b10 = 4K/64K/16K; TG1 uses 0b10/0b11/0b01.
    let d = with(twoHalves) { $0.set(CD.Fields.tg1, tg1); $0.set(CD.Fields.ttb1, 0x4800_0000) }
    #expect(try #require(lookupCD(d).successValue).ttb1?.granule == granule)
}

@Test func tg0Encoding() throws {
    for (tg0, granule) in [(CD.TG0.size4K, Granule.size4K), (.size64K, .size64K), (.size16K, .size16K)] {
        let d = with(good) { $0.set(CD.Fields.tg0, tg0); $0.set(CD.Fields.ttb0, 0x4800_0000) }
        #expect(lookupCD(d).successValue?.ttb0?.granule == granule)
    }
}

@Test func ipsIsCappedAndTablesAligned() throws {
    // IPS 48 bits on a 40-bit OAS: 40.
    let oas40 = config { $0.outputAddressBits = 40 }
    #expect(lookupCD(good, oas40).successValue?.ttb0?.outputSizeBits == 40)
    // 64KB may output 52 bits; 4KB only 48 (no DS).
    let oas52 = config { $0.outputAddressBits = 52 }
    let big = with(good) { $0.set(CD.Fields.ips, .bits52); $0.set(CD.Fields.tg0, .size64K) }
    #expect(lookupCD(big, oas52).successValue?.ttb0?.outputSizeBits == 52)
    #expect(lookupCD(with(good) { $0.set(CD.Fields.ips, .bits52) }, oas52).successValue?.ttb0?.outputSizeBits == 48)
    // 32-bit VA with 4KB starts at level 1 with 2 bits: a 32-byte table, TTB0[4:0] ignored.
    let small = with(good) { $0.set(CD.Fields.t0sz, 32); $0.set(CD.Fields.ttb0, ttb + 0x30) }
    #expect(lookupCD(small).successValue?.ttb0?.tableBase == ttb + 0x20)
    #expect(lookupCD(small).successValue?.ttb0?.inputSizeBits == 32)
    // 48-bit VA with 4KB: a 4KB table at level 0.
    let full = with(good) { $0.set(CD.Fields.ttb0, ttb + 0x30) }
    #expect(lookupCD(full).successValue?.ttb0?.tableBase == ttb)
}

@Test func epdDisablesAHalfWithoutValidatingIt() throws {
    // EPD0=1: T0SZ/TG0/TTB0 IGNORED, even if invalid.
    let d = with(twoHalves) { $0.set(CD.Fields.epd0); $0.set(CD.Fields.t0sz, 63); $0.setRaw(CD.Fields.tg0, 0b11); $0.set(CD.Fields.ttb0, IntermediateAddress(1 << 50)) }
    let cd = try #require(lookupCD(d).successValue)
    #expect(cd.ttb0 == nil && cd.ttb1 != nil)
    // EPD1=1 (the Linux layout): T1 fields IGNORED.
    let e = with(good) { $0.set(CD.Fields.t1sz, 63); $0.setRaw(CD.Fields.tg1, 0b00) }
    #expect(try #require(lookupCD(e).successValue).ttb1 == nil)
}

@Test func quietCDIsValid() throws {
    // EPD0=EPD1=1, R=0: every translation faults silently, but the CD is not ILLEGAL.
    var d = CD.quiet()
    d.set(CD.Fields.t0sz, 0)          // junk in the disabled halves
    d.setRaw(CD.Fields.tg1, 0b00)
    d.set(CD.Fields.endi)             // IGNORED when both halves are disabled
    let cd = try #require(lookupCD(d).successValue)
    #expect(cd.ttb0 == nil && cd.ttb1 == nil && !cd.recordFaults && cd.asid == 9)
}

@Test func hdWithoutHAIsBothOff() throws {
    let cd = try #require(lookupCD(with(good) { $0.set(CD.Fields.hd) }).successValue)
    #expect(cd.ttb0?.hardwareAccessFlag == false && cd.ttb0?.hardwareDirty == false)
}

@Test func el2StreamWorld() throws {
    // EL2: EPD0 IGNORED (TTB0 walked), TTB1 unreachable, ASID IGNORED.
    let d = with(good) { $0.set(CD.Fields.epd0); $0.set(CD.Fields.asid, 0x1FF) }
    let noASID16 = config { $0.asid16 = false }
    let cd = try #require(lookupCD(d, noASID16, stream: stream(world: .el2)).successValue)
    #expect(cd.ttb0 != nil && cd.ttb1 == nil && cd.asid == 0)
    // EL2-E2H behaves like EL1: EPD0 honoured, ASID used.
    let e2h = try #require(lookupCD(with(twoHalves) { $0.set(CD.Fields.epd0) }, stream: stream(world: .el2E2H)).successValue)
    #expect(e2h.ttb0 == nil && e2h.ttb1 != nil && e2h.asid == 7)
}

@Test func stallFields() throws {
    let stallOnly = config { $0.stallModel = .stallOnly }
    #expect(lookupCD(with(good) { $0.set(CD.Fields.s) }, stallOnly).successValue?.stallFaults == true)
    #expect(lookupCD(with(good) { $0.set(CD.Fields.s) }).successValue?.stallFaults == true)
}

@Test func hierarchicalAttributeDisablePerHalf() throws {
    // CD.HAD0 is bit [65], CD.HAD1 bit [129] (IHI 0070 5.4 "HAD0, bit [65]";
    // QEMU CD_HAD(x, sel) = word32[2 + 2 * sel] bit 1, i.e. bits 65 and 129).
    // IDR3.HAD == 1, so they are honoured, each for its own half.
    let d = with(twoHalves) { $0.setRaw(BitField<Bool>(65), 1) }
    let cd = try #require(lookupCD(d).successValue)
    #expect(cd.ttb0?.hierarchicalAttributesDisabled == true)
    #expect(cd.ttb1?.hierarchicalAttributesDisabled == false)
    let e = with(twoHalves) { $0.setRaw(BitField<Bool>(129), 1) }
    let cd1 = try #require(lookupCD(e).successValue)
    #expect(cd1.ttb0?.hierarchicalAttributesDisabled == false)
    #expect(cd1.ttb1?.hierarchicalAttributesDisabled == true)
}
