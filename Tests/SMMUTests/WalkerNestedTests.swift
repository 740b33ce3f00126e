import Testing
@testable import SMMU

/// Nested walks: stage-1 table addresses and the stage-1 output are IPAs
/// translated by stage 2 (SMMUv3 3.4.3 note; Arm ARM two-stage walks), with
/// stage-2 faults on a table walk reported CLASS == TT and IPA = the stage-1
/// descriptor address, and on the output CLASS == IN (7.3.12, 7.3.13, 7.3.16).
///
/// Stage 2 (4KB, 32-bit IPA, SL0 -> level 1, IPA[31:30] = 4 entries):
///   L1[0]: 1GB block -> PA 0x4000_0000, so IPA x < 1GB lives at PA ram0 + x.
///   L1[1]: table -> L2 (PA ram0+0x301000), L2[0]: table -> L3 (PA ram0+0x302000).
///   L3[5]: IPA 0x4000_5000 -> PA 0x8888_8000, read-only (S2AP = 01).
/// Stage 1 (4KB, 39-bit, TTB0 = IPA 0x10000), VA 0x1_40C0_7123:
///   L1 idx 5 -> table IPA 0x11000, L2 idx 6 -> table IPA 0x12000,
///   L3 idx 7 -> page IPA 0x4000_5000 (AP = 01).
@Suite struct WalkerNestedTests {
    static let s2Base = ram0 + 0x300000
    static let s2L3 = ram0 + 0x302000
    static let va: UInt64 = 0x1_40C0_7123

    func setup() -> (WalkerRAM, Stage1Regime, Stage2TableConfig) {
        let ram = WalkerRAM()
        ram[Self.s2Base + 0] = Desc.s2block(0x4000_0000)
        ram[Self.s2Base + 8] = Desc.table(ram0 + 0x301000)
        ram[ram0 + 0x301000] = Desc.table(Self.s2L3)
        ram[Self.s2L3 + 5 * 8] = Desc.s2page(0x8888_8000, Desc.s2r | Desc.af)
        ram[ram0 + 0x10000 + 5 * 8] = Desc.table(0x11000)
        ram[ram0 + 0x11000 + 6 * 8] = Desc.table(0x12000)
        ram[ram0 + 0x12000 + 7 * 8] = Desc.page(0x4000_5000)
        let s1 = Stage1Regime(ttb0: .s1(.size4K, bits: 39, base: 0x10000))
        let s2 = Stage2TableConfig.s2(.size4K, bits: 32, level: 1, base: Self.s2Base)
        return (ram, s1, s2)
    }

    func walk(_ va: UInt64, _ s1: Stage1Regime, _ s2: Stage2TableConfig, _ ram: WalkerRAM,
              access: AccessType = []) -> Result<WalkResult, WalkFault> {
        PageTableWalker.walk(address: InputAddress(va), access: access, stage1: s1, stage2: s2, memory: ram)
    }

    // Final PA 0x8888_8123; permissions are the intersection: stage 1 gives
    // R/W at both privileges + unprivileged X, stage 2 gives read and X.
    // Reads: 3 stage-1 descriptors, each after a 1-read stage-2 walk of its
    // IPA, then a 3-level stage-2 walk of the output IPA = 9.
    @Test func nestedTranslation() {
        let (ram, s1, s2) = setup()
        let r = walk(Self.va, s1, s2, ram).value
        #expect(r?.outputAddress == 0x8888_8123)
        #expect(r?.permissions == [.read, .privilegedRead, .execute])
        #expect(r?.blockSizeLog2 == 12)
        #expect(r?.stage1BlockLog2 == 12)
        #expect(r?.stage2BlockLog2 == 12)
        #expect(ram.reads == 9)
    }

    // Stage 1 allows the write, stage 2 (S2AP = 01) does not: stage-2
    // Permission fault, CLASS == IN, IPA = the stage-1 output.
    @Test func stage2PermissionFaultOnOutput() {
        let (ram, s1, s2) = setup()
        let f = walk(Self.va, s1, s2, ram, access: .write).fault
        #expect(f?.type == .F_PERMISSION)
        #expect(f?.stage2 == true)
        #expect(f?.faultClass == .input)
        #expect(f?.ipa == 0x4000_5123)
    }

    // Stage 1 is checked first: a stage-1 read-only page written faults at stage 1.
    @Test func stage1PermissionCheckedFirst() {
        let (ram, s1, s2) = setup()
        ram[ram0 + 0x12000 + 7 * 8] = Desc.page(0x4000_5000, Desc.ap11 | Desc.af)
        let f = walk(Self.va, s1, s2, ram, access: .write).fault
        #expect(f?.type == .F_PERMISSION)
        #expect(f?.stage2 == false)
    }

    // Stage-1 2MB block (L2 idx 8 -> IPA 0x4000_0000) over a stage-2 4KB page:
    // the TLB-cacheable size is the smaller one. VA 0x1_4100_0123 -> IPA
    // 0x4000_0123 -> stage-2 L3 idx 0. Unmapped: stage-2 Translation fault,
    // CLASS == IN, IPA 0x4000_0123, level 3. Mapped to 0x9999_0000: PA 0x9999_0123.
    @Test func stage2FaultOnOutputAndBlockSizeMinimum() {
        let (ram, s1, s2) = setup()
        ram[ram0 + 0x11000 + 8 * 8] = Desc.block(0x4000_0000)
        let f = walk(0x1_4100_0123, s1, s2, ram).fault
        #expect(f?.type == .F_TRANSLATION)
        #expect(f?.stage2 == true)
        #expect(f?.faultClass == .input)
        #expect(f?.ipa == 0x4000_0123)
        #expect(f?.level == 3)
        ram[Self.s2L3] = Desc.s2page(0x9999_0000)
        let r = walk(0x1_4100_0123, s1, s2, ram).value
        #expect(r?.outputAddress == 0x9999_0123)
        #expect(r?.blockSizeLog2 == 12)
        #expect(r?.stage1BlockLog2 == 21)
        #expect(r?.stage2BlockLog2 == 12)
    }

    // A stage-1 table at an IPA stage 2 does not map: stage-2 Translation
    // fault, CLASS == TT, IPA = the stage-1 descriptor address. L1 idx 5 points
    // at IPA 0x4001_0000 (stage-2 L3 idx 0x10, empty); the L2 descriptor for
    // idx 6 is at IPA 0x4001_0030. Likewise for TTB0 itself (IPA 0x4002_0000 +
    // L1 idx 5 * 8).
    @Test func stage2FaultDuringStage1TableWalk() {
        let (ram, s1, s2) = setup()
        ram[ram0 + 0x10000 + 5 * 8] = Desc.table(0x4001_0000)
        let f = walk(Self.va, s1, s2, ram).fault
        #expect(f?.type == .F_TRANSLATION)
        #expect(f?.stage2 == true)
        #expect(f?.faultClass == .tableWalk)
        #expect(f?.ipa == 0x4001_0030)
        var ttb = s1
        ttb.ttb0?.tableBase = 0x4002_0000
        let g = walk(Self.va, ttb, s2, ram).fault
        #expect(g?.faultClass == .tableWalk)
        #expect(g?.ipa == 0x4002_0028)
    }

    // F_WALK_EABT under nesting (7.3.12): a stage-1 descriptor whose IPA
    // translates to a PA that aborts is S2 == 0, CLASS == TT, FetchAddr = that
    // PA; a stage-2 descriptor fetch that aborts while translating a stage-1
    // table address is S2 == 1, CLASS == TT, FetchAddr = the stage-2 descriptor.
    @Test func walkExternalAbortsUnderNesting() {
        let (ram, s1, s2) = setup()
        ram[Self.s2L3 + 0x20 * 8] = Desc.s2page(0x9000_0000)   // IPA 0x4002_0000 -> PA 0x9000_0000
        var a = s1
        a.ttb0?.tableBase = 0x4002_0000
        let f1 = walk(Self.va, a, s2, ram).fault
        #expect(f1?.type == .F_WALK_EABT)
        #expect(f1?.stage2 == false)
        #expect(f1?.faultClass == .tableWalk)
        #expect(f1?.fetchAddress == 0x9000_0028)

        ram[Self.s2Base + 2 * 8] = Desc.table(0x9100_0000)     // IPA 0x8000_0000.. -> stage-2 L2 at no RAM
        var b = s1
        b.ttb0?.tableBase = 0x8000_0000
        let f2 = walk(Self.va, b, s2, ram).fault
        #expect(f2?.type == .F_WALK_EABT)
        #expect(f2?.stage2 == true)
        #expect(f2?.faultClass == .tableWalk)
        #expect(f2?.fetchAddress == 0x9100_0000)               // stage-2 L2 idx IPA[29:21] = 0
    }

    // Stage-1 HTTU under nesting writes the stage-1 descriptor through stage
    // 2: if stage 2 maps that table read-only, the update is a stage-2
    // Permission fault, CLASS == TT, IPA = the descriptor, TTRnW = 0 (7.3.16).
    // Stage-1 L3 table at IPA 0x4000_6000 -> PA ram0+0x12000 (stage-2 L3 idx 6).
    @Test func nestedAccessFlagUpdateNeedsStage2Write() {
        let (ram, s1, s2) = setup()
        ram[ram0 + 0x11000 + 6 * 8] = Desc.table(0x4000_6000)
        ram[Self.s2L3 + 6 * 8] = Desc.s2page(ram0 + 0x12000, Desc.s2r | Desc.af)
        let leaf = Desc.page(0x7000, Desc.ap01)                // AF = 0, output IPA 0x7000
        ram[ram0 + 0x12000 + 7 * 8] = leaf
        var ha = s1
        ha.ttb0?.hardwareAccessFlag = true
        let f = walk(Self.va, ha, s2, ram).fault
        #expect(f?.type == .F_PERMISSION)
        #expect(f?.stage2 == true)
        #expect(f?.faultClass == .tableWalk)
        #expect(f?.ipa == 0x4000_6038)
        #expect(f?.descriptorWrite == true)
        #expect(ram[ram0 + 0x12000 + 7 * 8] == leaf)

        ram[Self.s2L3 + 6 * 8] = Desc.s2page(ram0 + 0x12000)   // now read/write
        #expect(walk(Self.va, ha, s2, ram).value?.outputAddress == 0x4000_7123)
        #expect(ram[ram0 + 0x12000 + 7 * 8] == leaf | (1 << 10))
    }
}
