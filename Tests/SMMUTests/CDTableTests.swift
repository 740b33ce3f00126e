import Testing
@testable import SMMU

private let base = TableTestMemory.base
private let ttbBase = IntermediateAddress(base + 0x100_0000)     // TTB0 of CD n is ttbBase + n * 4 KiB (tags the CD)

private func taggedCD(_ n: UInt64) -> DescriptorImage { CD.valid(ttb0: ttbBase + n * 0x1000, asid: UInt16(n & 0xFFFF)) }
private func tagOf(_ r: Result<ContextDescriptor, ConfigFault>) -> UInt64? {
    r.successValue?.ttb0.map { ($0.tableBase - ttbBase) / 0x1000 }
}

private func stage1Stream(ptr: UInt64, cdMax: UInt8, fmt: STE.S1Fmt, dss: STE.S1DSS = .terminate) -> StreamConfig {
    var s = StreamConfig(mode: .translate)
    s.stage1 = Stage1Config(contextPointer: IntermediateAddress(ptr), format: fmt, cdMaxBits: cdMax, defaultSubstream: dss)
    return s
}

private func lookup(_ s: StreamConfig, _ ssid: UInt32, _ mem: TableTestMemory,
                    resolve: (IntermediateAddress) -> PhysicalAddress? = { PhysicalAddress(bypassingStage2: $0) })
    -> Result<ContextDescriptor, ConfigFault> {
    CDTable.lookup(stream: s, substreamID: ssid, configuration: .init(), memory: mem.memory, resolve: resolve)
}

@Test func singleCD() {
    let mem = TableTestMemory()
    mem.write(taggedCD(1).words, at: base + 0x40)
    let s = stage1Stream(ptr: base + 0x40, cdMax: 0, fmt: .linear)
    #expect(tagOf(lookup(s, 0, mem)) == 1)
    // S1CDMax=0: any SubstreamID is out of range.
    #expect(lookup(s, 1, mem).failureValue == ConfigFault(type: .C_BAD_SUBSTREAMID, fetchAddress: 0, record: true))
}

@Test func linearCDTable() {
    let mem = TableTestMemory()
    let table = base + 0x1_0000
    for n: UInt64 in [0, 3, 15] { mem.write(taggedCD(n).words, at: table + n * 64) }
    // 16 CDs: the table is aligned to 1 KiB, S1ContextPtr[9:6] taken as zero.
    let s = stage1Stream(ptr: table + 0x3C0, cdMax: 4, fmt: .linear)
    for n: UInt32 in [0, 3, 15] { #expect(tagOf(lookup(s, n, mem)) == UInt64(n)) }
    #expect(lookup(s, 1, mem).failureValue?.type == .C_BAD_CD)          // zero CD: V=0
    #expect(lookup(s, 16, mem).failureValue?.type == .C_BAD_SUBSTREAMID)
}

/// An L1CD (5.3) pointing at `l2`.
private func l1cd(_ l2: UInt64, valid: Bool = true) -> UInt64 {
    var d: [UInt64] = [0]
    d.set(L1CD.Fields.v, valid)
    d.set(L1CD.Fields.l2Ptr, IntermediateAddress(l2))
    return d[0]
}

@Test(arguments: [STE.S1Fmt.twoLevel4K, .twoLevel64K])
func twoLevelCDTable20BitSSIDs(fmt: STE.S1Fmt) {
    let mem = TableTestMemory(size: 8 << 20)
    let leafBits: UInt64 = fmt == .twoLevel4K ? 6 : 10      // 4 KiB leaves of 64 CDs, 64 KiB leaves of 1024 CDs
    let l1 = base                                  // 2^(20-leafBits) L1CDs: 128 KiB or 8 KiB
    let leafA = base + 0x40_0000
    let leafB = base + 0x50_0000
    let s = stage1Stream(ptr: l1, cdMax: 20, fmt: fmt)
    let ssids: [UInt64] = [0xABCDE, 0xFFFFF, 0x00001]
    let leaves = [leafA, leafB, leafA]
    for (ssid, leaf) in zip(ssids, leaves) {
        mem.write([l1cd(leaf)], at: l1 + (ssid >> leafBits) * 8)
        mem.write(taggedCD(ssid & 0xFFFF).words, at: leaf + (ssid & ((1 << leafBits) - 1)) * 64)
    }
    for ssid in ssids { #expect(tagOf(lookup(s, UInt32(ssid), mem)) == ssid & 0xFFFF) }
    // A zero L1CD (V=0): C_BAD_SUBSTREAMID.
    let unmappedL1 = UInt64(0x12345)
    #expect(lookup(s, UInt32(unmappedL1), mem).failureValue?.type == .C_BAD_SUBSTREAMID)
    // 2^20 is out of range.
    #expect(lookup(s, 1 << 20, mem).failureValue?.type == .C_BAD_SUBSTREAMID)
    // An L1CD whose leaf lies outside RAM: F_CD_FETCH at the CD's address.
    let missing: UInt64 = 0x9000_0000
    mem.write([l1cd(missing)], at: l1 + 7 * 8)
    let ssid = (7 << leafBits) | 5
    #expect(lookup(s, UInt32(ssid), mem).failureValue
            == ConfigFault(type: .F_CD_FETCH, fetchAddress: PhysicalAddress(missing + 5 * 64), record: true))
}

@Test func twoLevelSmallTableUsesIndexZero() {
    // S1CDMax=4 with 4 KiB leaves: only L1CD #0 is used.
    let mem = TableTestMemory()
    let l1 = base + 0x2000, leaf = base + 0x4000
    mem.write([l1cd(leaf)], at: l1)
    mem.write(taggedCD(9).words, at: leaf + 9 * 64)
    #expect(tagOf(lookup(stage1Stream(ptr: l1, cdMax: 4, fmt: .twoLevel4K), 9, mem)) == 9)
    // 64 KiB leaves: L2Ptr[15:12] are RES0 and taken as zero.
    let leaf64 = base + 0x10_0000
    mem.write([l1cd(leaf64 + 0x3000)], at: l1)
    mem.write(taggedCD(10).words, at: leaf64 + 9 * 64)
    #expect(tagOf(lookup(stage1Stream(ptr: l1, cdMax: 12, fmt: .twoLevel64K), 9, mem)) == 10)
}

@Test func cdFetchAborts() {
    let mem = TableTestMemory(size: 1 << 20)
    // Linear table pointer outside RAM.
    let far: UInt64 = 0x8000_0000
    #expect(lookup(stage1Stream(ptr: far, cdMax: 8, fmt: .linear), 3, mem).failureValue
            == ConfigFault(type: .F_CD_FETCH, fetchAddress: PhysicalAddress(far + 3 * 64), record: true))
    // L1 table outside RAM: the L1CD address is reported.
    #expect(lookup(stage1Stream(ptr: far, cdMax: 16, fmt: .twoLevel4K), 0x1234, mem).failureValue
            == ConfigFault(type: .F_CD_FETCH, fetchAddress: PhysicalAddress(far + (0x1234 >> 6) * 8), record: true))
}

@Test func l2PointerBeyondOASIsBadSubstream() {
    let mem = TableTestMemory()
    mem.write([l1cd(1 << 50)], at: base)
    #expect(lookup(stage1Stream(ptr: base, cdMax: 8, fmt: .twoLevel4K), 3, mem).failureValue?.type == .C_BAD_SUBSTREAMID)
}

@Test func cdAddressesAreResolvedThroughStage2() {
    // Nesting: IPAs 0x1000_0000+ map to PAs base+ (a fixed offset, standing in for stage 2).
    let mem = TableTestMemory()
    let ipaBase: UInt64 = 0x1000_0000
    let offset = base - ipaBase
    let leaf = base + 0x8000
    mem.write([l1cd(ipaBase + 0x8000)], at: base + 1 * 8)      // L1CD #1 holds an IPA
    mem.write(taggedCD(4).words, at: leaf + 2 * 64)
    let s = stage1Stream(ptr: ipaBase, cdMax: 10, fmt: .twoLevel4K)
    var seen: [IntermediateAddress] = []
    let r = lookup(s, 1 << 6 | 2, mem) { ipa in seen.append(ipa); return PhysicalAddress(ipa.raw &+ offset) }
    #expect(tagOf(r) == 4)
    #expect(seen == [IntermediateAddress(ipaBase + 8), IntermediateAddress(ipaBase + 0x8000 + 2 * 64)])
    // A stage-2 fault: the marker carries the IPA and asks for no record.
    let f = lookup(s, 1 << 6 | 2, mem) { ipa in
        ipa == IntermediateAddress(ipaBase + 8) ? nil : PhysicalAddress(ipa.raw &+ offset)
    }.failureValue
    #expect(f?.stage2Fault == true && f?.record == false && f?.ipa == IntermediateAddress(ipaBase + 8))
}

@Test func substreamSelection() {
    let multi = stage1Stream(ptr: base, cdMax: 8, fmt: .linear, dss: .terminate)
    typealias Sel = CDTable.SubstreamSelection
    func select(_ s: StreamConfig, _ ssid: UInt32?) -> Result<Sel, ConfigFault> {
        CDTable.selectSubstream(stream: s, substreamID: ssid)
    }
    #expect(select(multi, 5).successValue == .context(5))
    #expect(select(multi, 256).failureValue?.type == .C_BAD_SUBSTREAMID)
    #expect(select(multi, nil).failureValue?.type == .F_STREAM_DISABLED)          // S1DSS=0b00
    let bypass = stage1Stream(ptr: base, cdMax: 8, fmt: .linear, dss: .bypass)
    #expect(select(bypass, nil).successValue == .bypassStage1)
    let zero = stage1Stream(ptr: base, cdMax: 8, fmt: .linear, dss: .substream0)
    #expect(select(zero, nil).successValue == .context(0))
    #expect(select(zero, 0).failureValue?.type == .F_STREAM_DISABLED)             // SSID 0 reserved
    let single = stage1Stream(ptr: base, cdMax: 0, fmt: .linear, dss: .terminate)
    #expect(select(single, nil).successValue == .context(0))                      // S1DSS IGNORED
    #expect(select(single, 0).failureValue?.type == .C_BAD_SUBSTREAMID)
    let s2only = StreamConfig(mode: .translate)
    #expect(select(s2only, nil).successValue == .bypassStage1)
    #expect(select(s2only, 1).failureValue?.type == .C_BAD_SUBSTREAMID)
}
