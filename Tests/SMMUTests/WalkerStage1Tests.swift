import Testing
@testable import SMMU

/// Stage-1 walks for every granule and start level. Table indices and
/// expected PAs are worked out by hand in the comments from the VMSAv8-64
/// rules: with granule G (bits g) each level resolves g-3 bits, level 3
/// resolving VA[g+(g-3)-1 : g]; the start level is the one whose bits reach
/// the top of the input size (64 - TxSZ).
@Suite struct WalkerStage1Tests {
    // 4KB granule, 48-bit input (T0SZ = 16): start level 0, 4 lookups.
    // VA 0x80_8060_4ABC: L0 idx VA[47:39] = 1, L1 idx VA[38:30] = 2,
    // L2 idx VA[29:21] = 3, L3 idx VA[20:12] = 4, offset 0xABC.
    @Test func granule4KStartLevel0() {
        let ram = WalkerRAM()
        ram[ram0 + 0x0000 + 1 * 8] = Desc.table(ram0 + 0x1000)
        ram[ram0 + 0x1000 + 2 * 8] = Desc.table(ram0 + 0x2000)
        ram[ram0 + 0x2000 + 3 * 8] = Desc.table(ram0 + 0x3000)
        ram[ram0 + 0x3000 + 4 * 8] = Desc.page(0x4012_3000)
        let r = s1Walk(0x0000_0080_8060_4ABC, .s1(.size4K, bits: 48, base: ram0), ram).value
        #expect(r?.outputAddress == 0x4012_3ABC)
        #expect(r?.blockSizeLog2 == 12)
        #expect(r?.stage1BlockLog2 == 12)
        #expect(r?.stage2BlockLog2 == nil)
        // A cold 4-level walk is exactly 4 descriptor reads.
        #expect(ram.reads == 4)
        #expect(ram.casAttempts == 0)
    }

    // 4KB, 39-bit input (T0SZ = 25): start level 1, 3 lookups.
    // VA 0x1_40C0_7123: L1 idx 5, L2 idx 6, L3 idx 7, offset 0x123.
    @Test func granule4KStartLevel1() {
        let ram = WalkerRAM()
        ram[ram0 + 0x10000 + 5 * 8] = Desc.table(ram0 + 0x11000)
        ram[ram0 + 0x11000 + 6 * 8] = Desc.table(ram0 + 0x12000)
        ram[ram0 + 0x12000 + 7 * 8] = Desc.page(0x5555_5000)
        let r = s1Walk(0x1_40C0_7123, .s1(.size4K, bits: 39, base: ram0 + 0x10000), ram).value
        #expect(r?.outputAddress == 0x5555_5123)
        #expect(ram.reads == 3)
    }

    // 4KB, 30-bit input (T0SZ = 34): start level 2, 2 lookups.
    // VA 0x3F20_1FFF: L2 idx VA[29:21] = 0x1F9, L3 idx VA[20:12] = 1, offset 0xFFF.
    @Test func granule4KStartLevel2() {
        let ram = WalkerRAM()
        ram[ram0 + 0x20000 + 0x1F9 * 8] = Desc.table(ram0 + 0x21000)
        ram[ram0 + 0x21000 + 1 * 8] = Desc.page(0x7777_7000)
        let r = s1Walk(0x3F20_1FFF, .s1(.size4K, bits: 30, base: ram0 + 0x20000), ram).value
        #expect(r?.outputAddress == 0x7777_7FFF)
        #expect(ram.reads == 2)
    }

    // 4KB, 25-bit input (T0SZ = 39): start level 2 resolving only VA[24:21]
    // (a 16-entry, 128-byte table). CD.TTB0: bits below the table alignment
    // are treated as zero, so base ...00F0 behaves as ...0080.
    // VA 0x1AB_CDEF: L2 idx 0xD, L3 idx 0xBC, offset 0xDEF.
    @Test func granule4KSmallStartTableAndTTBAlignment() {
        let ram = WalkerRAM()
        ram[ram0 + 0x30080 + 0xD * 8] = Desc.table(ram0 + 0x31000)
        ram[ram0 + 0x31000 + 0xBC * 8] = Desc.page(0x1234_5000)
        #expect(s1Walk(0x1AB_CDEF, .s1(.size4K, bits: 25, base: ram0 + 0x30080), ram).value?.outputAddress == 0x1234_5DEF)
        #expect(s1Walk(0x1AB_CDEF, .s1(.size4K, bits: 25, base: ram0 + 0x300F0), ram).value?.outputAddress == 0x1234_5DEF)
        // Bit 25 is outside the 25-bit range: Translation fault (3.4, check 1).
        #expect(s1Walk(0x200_0000, .s1(.size4K, bits: 25, base: ram0 + 0x30080), ram).fault?.type == .F_TRANSLATION)
    }

    // 4KB blocks: 1GB at level 1 and 2MB at level 2 (39-bit input).
    // VA 0xC234_5678: L1 idx 3 -> block 0x8000_0000, offset VA[29:0] = 0x0234_5678.
    // VA 0x1_40C1_2345: L1 idx 5 -> table, L2 idx 6 -> block 0x4060_0000, offset VA[20:0] = 0x1_2345.
    @Test func granule4KBlocksAtLevels1And2() {
        let ram = WalkerRAM()
        let base = ram0 + 0x10000
        ram[base + 3 * 8] = Desc.block(0x8000_0000)
        ram[base + 5 * 8] = Desc.table(ram0 + 0x11000)
        ram[ram0 + 0x11000 + 6 * 8] = Desc.block(0x4060_0000)
        let cfg = Stage1TableConfig.s1(.size4K, bits: 39, base: base)
        let l1 = s1Walk(0xC234_5678, cfg, ram).value
        #expect(l1?.outputAddress == 0x8234_5678)
        #expect(l1?.blockSizeLog2 == 30)
        let l2 = s1Walk(0x1_40C1_2345, cfg, ram).value
        #expect(l2?.outputAddress == 0x4061_2345)
        #expect(l2?.blockSizeLog2 == 21)
    }

    // A block descriptor at level 0 with the 4KB granule is not allowed
    // (no FEAT_LPA2): Translation fault at level 0.
    @Test func granule4KBlockAtLevel0Faults() {
        let ram = WalkerRAM()
        ram[ram0] = Desc.block(0)
        let f = s1Walk(0x1000, .s1(.size4K, bits: 48, base: ram0), ram).fault
        #expect(f?.type == .F_TRANSLATION)
        #expect(f?.level == 0)
        #expect(f?.stage2 == false)
        #expect(f?.faultClass == .input)
    }

    // 16KB granule, 48-bit input: start level 0 resolves only VA[47] (2 entries).
    // VA 0x8030_0A01_FABC: L0 idx 1, L1 idx VA[46:36] = 3, L2 idx VA[35:25] = 5,
    // L3 idx VA[24:14] = 7, offset VA[13:0] = 0x3ABC.
    @Test func granule16KStartLevel0() {
        let ram = WalkerRAM()
        ram[ram0 + 0x40000 + 1 * 8] = Desc.table(ram0 + 0x44000)
        ram[ram0 + 0x44000 + 3 * 8] = Desc.table(ram0 + 0x48000)
        ram[ram0 + 0x48000 + 5 * 8] = Desc.table(ram0 + 0x4C000)
        ram[ram0 + 0x4C000 + 7 * 8] = Desc.page(0x9876_4000)
        let r = s1Walk(0x0000_8030_0A01_FABC, .s1(.size16K, bits: 48, base: ram0 + 0x40000), ram).value
        #expect(r?.outputAddress == 0x9876_7ABC)
        #expect(r?.blockSizeLog2 == 14)
        #expect(ram.reads == 4)
    }

    // 16KB, 47-bit input: start level 1 (VA[46:36], 2048 entries).
    // VA 0x7FF0_0000_4000 + 0x10: L1 idx 0x7FF, L2 idx 0, L3 idx 1, offset 0x10.
    @Test func granule16KStartLevel1() {
        let ram = WalkerRAM()
        ram[ram0 + 0x40000 + 0x7FF * 8] = Desc.table(ram0 + 0x44000)
        ram[ram0 + 0x44000] = Desc.table(ram0 + 0x48000)
        ram[ram0 + 0x48000 + 8] = Desc.page(0x2_0000_8000)
        let r = s1Walk(0x7FF0_0000_4010, .s1(.size16K, bits: 47, base: ram0 + 0x40000), ram).value
        #expect(r?.outputAddress == 0x2_0000_8010)
        #expect(ram.reads == 3)
    }

    // 16KB, 36-bit input: start level 2 (VA[35:25]).
    // VA 0xF_FE00_8010: L2 idx 0x7FF, L3 idx 2, offset 0x10.
    // VA 0x3AB_CDEF: L2 idx 1 -> 32MB block 0x4200_0000, offset VA[24:0] = 0x1AB_CDEF.
    @Test func granule16KStartLevel2AndBlock() {
        let ram = WalkerRAM()
        let base = ram0 + 0x50000
        ram[base + 0x7FF * 8] = Desc.table(ram0 + 0x54000)
        ram[ram0 + 0x54000 + 2 * 8] = Desc.page(0x1_0000_4000)
        ram[base + 1 * 8] = Desc.block(0x4200_0000)
        let cfg = Stage1TableConfig.s1(.size16K, bits: 36, base: base)
        #expect(s1Walk(0xF_FE00_8010, cfg, ram).value?.outputAddress == 0x1_0000_4010)
        let b = s1Walk(0x3AB_CDEF, cfg, ram).value
        #expect(b?.outputAddress == 0x43AB_CDEF)
        #expect(b?.blockSizeLog2 == 25)
    }

    // 16KB has no level-1 blocks (without FEAT_LPA2): Translation fault.
    @Test func granule16KBlockAtLevel1Faults() {
        let ram = WalkerRAM()
        ram[ram0 + 0x40000] = Desc.block(0)
        let f = s1Walk(0x10, .s1(.size16K, bits: 47, base: ram0 + 0x40000), ram).fault
        #expect(f?.type == .F_TRANSLATION)
        #expect(f?.level == 1)
    }

    // 64KB granule, 48-bit input: start level 1 resolves VA[47:42] (64 entries).
    // VA 0xFFFF_FFFF_FFFF: L1 idx 63, L2 idx VA[41:29] = 0x1FFF, L3 idx VA[28:16] = 0x1FFF, offset 0xFFFF.
    @Test func granule64KStartLevel1() {
        let ram = WalkerRAM()
        ram[ram0 + 0x100000 + 63 * 8] = Desc.table(ram0 + 0x110000)
        ram[ram0 + 0x110000 + 0x1FFF * 8] = Desc.table(ram0 + 0x120000)
        ram[ram0 + 0x120000 + 0x1FFF * 8] = Desc.page(0xABCD_0000)
        let r = s1Walk(0xFFFF_FFFF_FFFF, .s1(.size64K, bits: 48, base: ram0 + 0x100000), ram).value
        #expect(r?.outputAddress == 0xABCD_FFFF)
        #expect(r?.blockSizeLog2 == 16)
        #expect(ram.reads == 3)
    }

    // 64KB, 42-bit input: start level 2. VA 0x4003_0044: L2 idx 2, L3 idx 3, offset 0x44.
    // VA 0x3234_5678: L2 idx 1 -> 512MB block 0x6000_0000, offset VA[28:0] = 0x1234_5678.
    @Test func granule64KStartLevel2AndBlock() {
        let ram = WalkerRAM()
        let base = ram0 + 0x130000
        ram[base + 2 * 8] = Desc.table(ram0 + 0x140000)
        ram[ram0 + 0x140000 + 3 * 8] = Desc.page(0x5_0000)
        ram[base + 1 * 8] = Desc.block(0x6000_0000)
        let cfg = Stage1TableConfig.s1(.size64K, bits: 42, base: base)
        let p = s1Walk(0x4003_0044, cfg, ram).value
        #expect(p?.outputAddress == 0x5_0044)
        #expect(ram.reads == 2)
        let b = s1Walk(0x3234_5678, cfg, ram).value
        #expect(b?.outputAddress == 0x7234_5678)
        #expect(b?.blockSizeLog2 == 29)
    }

    // 64KB with a 52-bit VA (FEAT_LVA, T0SZ = 12): level 1 resolves VA[51:42]
    // (1024 entries). VA 0xF_FC00_0000_1234: L1 idx 0x3FF, L2 idx 0 -> block
    // 0x2000_0000, offset 0x1234.
    @Test func granule64KWith52BitInput() {
        let ram = WalkerRAM()
        ram[ram0 + 0x100000 + 0x3FF * 8] = Desc.table(ram0 + 0x110000)
        ram[ram0 + 0x110000] = Desc.block(0x2000_0000)
        let r = s1Walk(0xF_FC00_0000_1234, .s1(.size64K, bits: 52, base: ram0 + 0x100000), ram).value
        #expect(r?.outputAddress == 0x2000_1234)
    }

    // A level-3 descriptor with bits[1:0] == 01 is reserved (invalid), and an
    // invalid descriptor (bit 0 == 0) at any level is a Translation fault at that level.
    @Test func invalidAndReservedDescriptorsFault() {
        let ram = WalkerRAM()
        ram[ram0 + 0x10000 + 5 * 8] = Desc.table(ram0 + 0x11000)
        ram[ram0 + 0x11000 + 6 * 8] = Desc.table(ram0 + 0x12000)
        ram[ram0 + 0x12000 + 7 * 8] = 0x5555_5000 | 0b01 | Desc.af | Desc.ap01
        let cfg = Stage1TableConfig.s1(.size4K, bits: 39, base: ram0 + 0x10000)
        let l3 = s1Walk(0x1_40C0_7123, cfg, ram).fault
        #expect(l3?.type == .F_TRANSLATION)
        #expect(l3?.level == 3)
        // Level 2 entry 7 is zero.
        let l2 = s1Walk(0x1_40E0_0000, cfg, ram).fault
        #expect(l2?.type == .F_TRANSLATION)
        #expect(l2?.level == 2)
        // Bit 0 clear with the other bits set is still invalid.
        ram[ram0 + 0x12000 + 7 * 8] = Desc.page(0x5555_5000) & ~1
        #expect(s1Walk(0x1_40C0_7123, cfg, ram).fault?.level == 3)
    }

    // TTB1 is selected by VA[55] (3.4.1). 39-bit TTB1 range: VA[63:39] all ones.
    // VA 0xFFFF_FF80_8060_4567: L1 idx VA[38:30] = 2, L2 idx 3, L3 idx 4, offset 0x567.
    @Test func ttb1SelectedByBit55() {
        let ram = WalkerRAM()
        let t1 = ram0 + 0x200000
        ram[t1 + 2 * 8] = Desc.table(t1 + 0x1000)
        ram[t1 + 0x1000 + 3 * 8] = Desc.table(t1 + 0x2000)
        ram[t1 + 0x2000 + 4 * 8] = Desc.page(0x3333_3000)
        var regime = Stage1Regime(ttb0: .s1(.size4K, bits: 39, base: ram0), ttb1: .s1(.size4K, bits: 39, base: t1))
        func walk(_ va: UInt64) -> Result<WalkResult, WalkFault> {
            PageTableWalker.walk(address: InputAddress(va), access: [], stage1: regime, stage2: nil, memory: ram)
        }
        #expect(walk(0xFFFF_FF80_8060_4567).value?.outputAddress == 0x3333_3567)
        // Bit 39 clear: not a sign extension of the 39-bit TTB1 range.
        #expect(walk(0xFFFF_FF00_8060_4567).fault?.type == .F_TRANSLATION)
        // EPD1: walks through TTB1 fault.
        regime.ttb1 = nil
        #expect(walk(0xFFFF_FF80_8060_4567).fault?.type == .F_TRANSLATION)
        // EL2 regime: one range through TTB0; an upper address is out of range.
        regime.ttb1 = .s1(.size4K, bits: 39, base: t1)
        regime.el2 = true
        #expect(walk(0xFFFF_FF80_8060_4567).fault?.type == .F_TRANSLATION)
    }

    // Input range (3.4, stage 1 check 1): VA[63:N] must be zero for TTB0.
    // With TBI, VA[63:56] are ignored (3.4.1), so a tagged pointer translates.
    @Test func inputSizeAndTopByteIgnore() {
        let ram = WalkerRAM()
        let base = ram0 + 0x10000
        ram[base] = Desc.block(0x8000_0000)   // L1 idx 0: VA[38:30] == 0
        let plain = Stage1TableConfig.s1(.size4K, bits: 39, base: base)
        let tbi = Stage1TableConfig.s1(.size4K, bits: 39, base: base, tbi: true)
        let outOfRange = s1Walk(0x80_0000_0000, plain, ram).fault   // bit 39 set
        #expect(outOfRange?.type == .F_TRANSLATION)
        #expect(outOfRange?.stage2 == false)
        #expect(outOfRange?.faultClass == .input)
        #expect(ram.reads == 0)   // range checks precede the walk
        #expect(s1Walk(0xAB00_0000_0000_1234, plain, ram).fault?.type == .F_TRANSLATION)
        #expect(s1Walk(0xAB00_0000_0000_1234, tbi, ram).value?.outputAddress == 0x8000_1234)
        // TBI does not excuse VA[55:39].
        #expect(s1Walk(0xAB00_4000_0000_1234, tbi, ram).fault?.type == .F_TRANSLATION)
    }

    // CD.IPS (3.4, stage 1 check 2; 5.4 IPS): a next-level table address or
    // an output address above the effective IPS is a stage-1 Address Size
    // fault at the level of the descriptor that holds it; so is a TTB out
    // of range (the decoder's C_BAD_CD case, guarded here as well).
    @Test func addressSizeFaults() {
        let ram = WalkerRAM()
        let base = ram0 + 0x10000
        ram[base + 1 * 8] = Desc.table(0x1_0000_0000)             // 33-bit table address
        ram[base + 2 * 8] = Desc.table(ram0 + 0x11000)
        ram[ram0 + 0x11000] = Desc.table(ram0 + 0x12000)
        ram[ram0 + 0x12000] = Desc.page(0x1_2345_6000)            // 33-bit output
        ram[ram0 + 0x12000 + 8] = Desc.page(0xFFFF_F000)          // fits in 32 bits
        let cfg = Stage1TableConfig.s1(.size4K, bits: 39, base: base, oas: 32)
        let table = s1Walk(0x4000_0000, cfg, ram).fault           // L1 idx 1
        #expect(table?.type == .F_ADDR_SIZE)
        #expect(table?.level == 1)
        #expect(table?.stage2 == false)
        let page = s1Walk(0x8000_0000, cfg, ram).fault            // L1 idx 2, L2 0, L3 0
        #expect(page?.type == .F_ADDR_SIZE)
        #expect(page?.level == 3)
        #expect(s1Walk(0x8000_1ABC, cfg, ram).value?.outputAddress == 0xFFFF_FABC)
        // The same output is fine with a 36-bit IPS.
        #expect(s1Walk(0x8000_0000, .s1(.size4K, bits: 39, base: base, oas: 36), ram).value?.outputAddress == 0x1_2345_6000)
        let ttb = s1Walk(0, .s1(.size4K, bits: 39, base: 0x1_0000_0000, oas: 32), ram).fault
        #expect(ttb?.type == .F_ADDR_SIZE)
        #expect(ttb?.level == 1)
    }

    // F_WALK_EABT (7.3.12): an aborted descriptor fetch of a stage-1-only
    // walk is S2 == 0, CLASS == TT, with the PA of the descriptor fetched.
    // L1 idx 5 points at a table at 0x9000_0000 (no RAM); L2 idx 6 -> fetch 0x9000_0030.
    @Test func walkExternalAbortReportsFetchAddress() {
        let ram = WalkerRAM()
        ram[ram0 + 0x10000 + 5 * 8] = Desc.table(0x9000_0000)
        let f = s1Walk(0x1_40C0_7123, .s1(.size4K, bits: 39, base: ram0 + 0x10000), ram).fault
        #expect(f?.type == .F_WALK_EABT)
        #expect(f?.fetchAddress == 0x9000_0030)
        #expect(f?.stage2 == false)
        #expect(f?.faultClass == .tableWalk)
        #expect(f?.level == 2)
    }

    // Hostile tables: an entry pointing back at its own table is walked at
    // most once per level; at level 3 the 0b11 descriptor reads as a page
    // whose address is the table itself. No loop, 4 reads.
    @Test func selfReferencingTableIsBounded() {
        let ram = WalkerRAM()
        ram[ram0] = Desc.table(ram0, Desc.af | Desc.ap01)
        let r = s1Walk(0x123, .s1(.size4K, bits: 48, base: ram0), ram).value
        #expect(r?.outputAddress == PhysicalAddress(ram0 + 0x123))
        #expect(ram.reads == 4)
    }

    // Configurations the walker cannot walk fault instead of trapping
    // (the decoder should have made them ILLEGAL).
    @Test func unwalkableConfigurationsFault() {
        let ram = WalkerRAM()
        for bits: UInt8 in [0, 12, 49, 64, 255] {
            #expect(s1Walk(0, .s1(.size4K, bits: bits, base: ram0), ram).fault?.type == .F_TRANSLATION)
        }
        #expect(ram.reads == 0)
    }
}
