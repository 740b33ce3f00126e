import Testing
@testable import SMMU

private let base = TableTestMemory.base
private let ctxPtr = IntermediateAddress(base + 0x30_0000)

/// A recognisable valid STE: stage 1 with the context pointer tagged by `tag`.
private func taggedSTE(_ tag: UInt64) -> DescriptorImage { STE.stage1(contextPtr: ctxPtr + tag * 64) }
private func tagOf(_ r: Result<StreamConfig, ConfigFault>) -> UInt64? {
    r.successValue?.stage1.map { ($0.contextPointer - ctxPtr) / 64 }
}

@Test func linearStreamTable() {
    let mem = TableTestMemory()
    // STE n lives at base + 64 * n.
    for sid: UInt64 in [0, 1, 200, 255] { mem.write(taggedSTE(sid).words, at: base + 64 * sid) }
    let control = ControlState.linear(base: base, log2Size: 8)
    let cfg = SMMUConfiguration()
    for sid: UInt32 in [0, 1, 200, 255] {
        #expect(tagOf(StreamTable.lookup(streamID: sid, control: control, configuration: cfg, memory: mem.memory))
                == UInt64(sid))
    }
    // An all-zero STE has V=0.
    #expect(StreamTable.lookup(streamID: 2, control: control, configuration: cfg, memory: mem.memory).failureValue?.type
            == .C_BAD_STE)
    // SID >= 2^LOG2SIZE: C_BAD_STREAMID, recorded as CR2.RECINVSID says.
    #expect(StreamTable.lookup(streamID: 256, control: control, configuration: cfg, memory: mem.memory).failureValue
            == ConfigFault(type: .C_BAD_STREAMID, fetchAddress: 0, record: true))
    let quiet = ControlState.linear(base: base, log2Size: 8, recordInvalid: false)
    #expect(StreamTable.lookup(streamID: 0xFFFF_FFFF, control: quiet, configuration: cfg, memory: mem.memory).failureValue
            == ConfigFault(type: .C_BAD_STREAMID, fetchAddress: 0, record: false))
}

@Test func linearBaseIsAlignedToTableSize() {
    let mem = TableTestMemory()
    mem.write(taggedSTE(5).words, at: base + 64 * 5)
    // 2^8 STEs = 16 KiB: ADDR[13:0] are ignored.
    let control = ControlState.linear(base: base + 0x2FC0, log2Size: 8)
    #expect(tagOf(StreamTable.lookup(streamID: 5, control: control, configuration: .init(), memory: mem.memory)) == 5)
}

@Test func log2SizeIsCappedToSIDSIZE() {
    let mem = TableTestMemory()
    mem.write(taggedSTE(256).words, at: base + 64 * 256)
    var cfg = SMMUConfiguration()
    cfg.streamIDBits = 8
    let control = ControlState.linear(base: base, log2Size: 12)
    #expect(StreamTable.lookup(streamID: 256, control: control, configuration: cfg, memory: mem.memory).failureValue?.type
            == .C_BAD_STREAMID)
    cfg.streamIDBits = 16
    #expect(tagOf(StreamTable.lookup(streamID: 256, control: control, configuration: cfg, memory: mem.memory)) == 256)
}

@Test func steFetchAbortReportsTheAddress() {
    let mem = TableTestMemory(size: 64 << 10)
    // Table 2^16 STEs at the region base: STE 1024 lies past the 64 KiB region.
    let control = ControlState.linear(base: base, log2Size: 16)
    #expect(StreamTable.lookup(streamID: 1024, control: control, configuration: .init(), memory: mem.memory).failureValue
            == ConfigFault(type: .F_STE_FETCH, fetchAddress: PhysicalAddress(base + 1024 * 64), record: true))
}

/// An L1STD (5.1) with `span`, pointing at `l2`.
private func l1std(span: UInt64, l2: UInt64) -> UInt64 {
    var d: [UInt64] = [0]
    d.set(L1STD.Fields.span, UInt8(span))
    d.set(L1STD.Fields.l2Ptr, PhysicalAddress(l2))
    return d[0]
}

@Test(arguments: [UInt8(6), 8, 10])
func twoLevelStreamTable(split: UInt8) {
    let mem = TableTestMemory()
    let l1 = base                       // L1 table: 2^(16-split) descriptors
    let l2 = base + 0x10_0000           // one full L2 array (2^split STEs)
    let small = base + 0x20_0000        // an L2 array of 4 STEs (Span 3)
    let s = UInt64(split)
    let control = ControlState.twoLevel(base: l1, log2Size: 16, split: split)
    let cfg = SMMUConfiguration()
    func lookup(_ sid: UInt64) -> Result<StreamConfig, ConfigFault> {
        StreamTable.lookup(streamID: UInt32(sid), control: control, configuration: cfg, memory: mem.memory)
    }

    // L1 index 3: full span (Span = SPLIT + 1); index 5: 4 STEs; index 7: Span 0.
    mem.write([l1std(span: s + 1, l2: l2)], at: l1 + 3 * 8)
    mem.write([l1std(span: 3, l2: small)], at: l1 + 5 * 8)
    mem.write([l1std(span: 0, l2: small)], at: l1 + 7 * 8)
    let last = (UInt64(1) << s) - 1
    mem.write(taggedSTE(1).words, at: l2 + 0 * 64)
    mem.write(taggedSTE(2).words, at: l2 + last * 64)
    mem.write(taggedSTE(3).words, at: small + 3 * 64)
    mem.write(taggedSTE(4).words, at: small + 0 * 64)

    #expect(tagOf(lookup(3 << s)) == 1)
    #expect(tagOf(lookup(3 << s | last)) == 2)
    #expect(tagOf(lookup(5 << s | 3)) == 3)
    // Beyond the 4-STE span, and through a Span=0 descriptor: C_BAD_STREAMID.
    #expect(lookup(5 << s | 4).failureValue?.type == .C_BAD_STREAMID)
    #expect(lookup(7 << s).failureValue?.type == .C_BAD_STREAMID)
    // An untouched (zero) L1STD has Span 0 too.
    #expect(lookup(9 << s).failureValue?.type == .C_BAD_STREAMID)
    // Beyond LOG2SIZE.
    #expect(lookup(1 << 16).failureValue?.type == .C_BAD_STREAMID)
    // Span larger than SPLIT+1, and Reserved Span values, make the descriptor invalid.
    mem.write([l1std(span: s + 2, l2: l2)], at: l1 + 11 * 8)
    #expect(lookup(11 << s).failureValue?.type == .C_BAD_STREAMID)
    mem.write([l1std(span: 12, l2: l2)], at: l1 + 11 * 8)
    #expect(lookup(11 << s).failureValue?.type == .C_BAD_STREAMID)
    // L2Ptr low bits (below the array size) are ignored: 4 STEs = 256 bytes.
    mem.write([l1std(span: 3, l2: small + 0xC0)], at: l1 + 13 * 8)
    #expect(tagOf(lookup(13 << s)) == 4)
}

@Test func twoLevelFetchAborts() {
    let mem = TableTestMemory(size: 256 << 10)
    let control = ControlState.twoLevel(base: base, log2Size: 24, split: 8)
    var cfg = SMMUConfiguration()
    cfg.streamIDBits = 24
    // L1STD 0x8000 lies at base + 256 KiB: just past the region.
    #expect(StreamTable.lookup(streamID: 0x8000 << 8, control: control, configuration: cfg, memory: mem.memory)
            .failureValue == ConfigFault(type: .F_STE_FETCH, fetchAddress: PhysicalAddress(base + 0x8000 * 8), record: true))
    // A valid L1STD pointing outside RAM: the STE fetch aborts at the STE's address.
    let missing: UInt64 = 0x8000_0000
    mem.write([l1std(span: 9, l2: missing)], at: base + 8)
    #expect(StreamTable.lookup(streamID: 1 << 8 | 7, control: control, configuration: cfg, memory: mem.memory)
            .failureValue == ConfigFault(type: .F_STE_FETCH, fetchAddress: PhysicalAddress(missing + 7 * 64), record: true))
}

@Test func reservedSplitBehavesAsSix() {
    let mem = TableTestMemory()
    let l2 = base + 0x10_0000
    mem.write([l1std(span: 7, l2: l2)], at: base + 2 * 8)
    mem.write(taggedSTE(6).words, at: l2 + 5 * 64)
    let control = ControlState.twoLevel(base: base, log2Size: 16, split: 7)
    #expect(tagOf(StreamTable.lookup(streamID: 2 << 6 | 5, control: control, configuration: .init(),
                                     memory: mem.memory)) == 6)
}
