import Testing
@testable import SMMU

/// Stage-2-only walks: start level from S2SL0, concatenated starting tables
/// (the starting level resolves up to 4 more bits than one table, in up to 16
/// contiguous tables), S2AP/XN permissions, S2 AF/DBM, and the stage-2 fault
/// fields (S2 == 1, CLASS == IN, IPA, 7.3.13).
@Suite struct WalkerStage2Tests {
    func s2Walk(_ ipa: UInt64, _ cfg: Stage2TableConfig, _ ram: WalkerRAM,
                access: AccessType = []) -> Result<WalkResult, WalkFault> {
        PageTableWalker.walk(address: InputAddress(ipa), access: access, stage1: nil, stage2: cfg, memory: ram)
    }

    // 4KB, SL0 -> level 1, 40-bit IPA: level 1 resolves IPA[39:30] (10 bits),
    // i.e. 2 concatenated tables. IPA 0x80_4020_3456: L1 idx 0x201 (second
    // table, entry 1), L2 idx IPA[29:21] = 1, L3 idx IPA[20:12] = 3, offset 0x456.
    @Test func granule4KLevel1TwoConcatenatedTables() {
        let ram = WalkerRAM()
        let base = ram0 + 0x80000
        ram[base + 0x201 * 8] = Desc.table(ram0 + 0x82000)
        ram[ram0 + 0x82000 + 1 * 8] = Desc.table(ram0 + 0x83000)
        ram[ram0 + 0x83000 + 3 * 8] = Desc.s2page(0xC000_0000)
        let r = s2Walk(0x80_4020_3456, .s2(.size4K, bits: 40, level: 1, base: base), ram).value
        #expect(r?.outputAddress == 0xC000_0456)
        #expect(r?.blockSizeLog2 == 12)
        #expect(r?.stage2BlockLog2 == 12)
        #expect(r?.stage1BlockLog2 == nil)
        #expect(ram.reads == 3)
    }

    // 4KB, SL0 -> level 2, 34-bit IPA: IPA[33:21] is 13 bits = 16 concatenated
    // tables. IPA 0x3_FFE0_1234: L2 idx 0x1FFF (last entry of the 16th table),
    // L3 idx 1, offset 0x234. IPA 0x21_2345: L2 idx 1 -> 2MB block 0x4060_0000.
    @Test func granule4KLevel2SixteenConcatenatedTables() {
        let ram = WalkerRAM()
        let base = ram0 + 0x90000
        ram[base + 0x1FFF * 8] = Desc.table(ram0 + 0xA0000)
        ram[ram0 + 0xA0000 + 1 * 8] = Desc.s2page(0x1_0000_0000)
        ram[base + 1 * 8] = Desc.s2block(0x4060_0000)
        let cfg = Stage2TableConfig.s2(.size4K, bits: 34, level: 2, base: base)
        #expect(s2Walk(0x3_FFE0_1234, cfg, ram).value?.outputAddress == 0x1_0000_0234)
        let b = s2Walk(0x21_2345, cfg, ram).value
        #expect(b?.outputAddress == 0x4061_2345)
        #expect(b?.blockSizeLog2 == 21)
    }

    // 4KB, SL0 -> level 0, 48-bit IPA: no concatenation. IPA 0x181_4000_1234:
    // L0 idx IPA[47:39] = 3, L1 idx 5 -> 1GB block 0x8000_0000, offset 0x1234.
    @Test func granule4KLevel0() {
        let ram = WalkerRAM()
        ram[ram0 + 3 * 8] = Desc.table(ram0 + 0x1000)
        ram[ram0 + 0x1000 + 5 * 8] = Desc.s2block(0x8000_0000)
        let r = s2Walk(0x181_4000_1234, .s2(.size4K, bits: 48, level: 0, base: ram0), ram).value
        #expect(r?.outputAddress == 0x8000_1234)
        #expect(r?.blockSizeLog2 == 30)
    }

    // 16KB, SL0 -> level 2, 40-bit IPA: IPA[39:25] is 15 bits = 16 tables of
    // 2048 entries. IPA 0xFF_FE00_4010: L2 idx 0x7FFF, L3 idx 1, offset 0x10.
    @Test func granule16KLevel2SixteenConcatenatedTables() {
        let ram = WalkerRAM()
        let base = ram0 + 0x100000
        ram[base + 0x7FFF * 8] = Desc.table(ram0 + 0x140000)
        ram[ram0 + 0x140000 + 1 * 8] = Desc.s2page(0x2_0000_4000)
        let r = s2Walk(0xFF_FE00_4010, .s2(.size16K, bits: 40, level: 2, base: base), ram).value
        #expect(r?.outputAddress == 0x2_0000_4010)
        #expect(r?.blockSizeLog2 == 14)
    }

    // 64KB, SL0 -> level 2, 44-bit IPA: IPA[43:29] is 15 bits = 4 tables of 8192
    // entries. IPA 0xC00_0001_0008: L2 idx 0x6000 (4th table, entry 0), L3 idx 1, offset 8.
    // 64KB, SL0 -> level 3, 30-bit IPA: IPA[29:16] is 14 bits = 2 tables.
    // IPA 0x2001_0ABC: L3 idx 0x2001 (second table, entry 1), offset 0xABC.
    @Test func granule64KConcatenation() {
        let ram = WalkerRAM()
        let base = ram0 + 0x200000
        ram[base + 0x6000 * 8] = Desc.table(ram0 + 0x240000)
        ram[ram0 + 0x240000 + 1 * 8] = Desc.s2page(0x7_0000_0000)
        #expect(s2Walk(0xC00_0001_0008, .s2(.size64K, bits: 44, level: 2, base: base), ram).value?.outputAddress
                == 0x7_0000_0008)
        let l3 = ram0 + 0x300000
        ram[l3 + 0x2001 * 8] = Desc.s2page(0x1234_0000)
        let r = s2Walk(0x2001_0ABC, .s2(.size64K, bits: 30, level: 3, base: l3), ram).value
        #expect(r?.outputAddress == 0x1234_0ABC)
        #expect(ram.reads == 3)
    }

    // An IPA outside S2T0SZ is a stage-2 Translation fault with the IPA
    // (3.4, stage 2 check 1); an inconsistent S2T0SZ/S2SL0 (more than 16
    // concatenated tables) faults without walking.
    @Test func inputRangeAndInconsistentStartLevel() {
        let ram = WalkerRAM()
        let f = s2Walk(1 << 40, .s2(.size4K, bits: 40, level: 1, base: ram0), ram).fault
        #expect(f?.type == .F_TRANSLATION)
        #expect(f?.stage2 == true)
        #expect(f?.faultClass == .input)
        #expect(f?.ipa == IntermediateAddress(1 << 40))
        #expect(s2Walk(0, .s2(.size4K, bits: 44, level: 1, base: ram0), ram).fault?.type == .F_TRANSLATION)
        #expect(s2Walk(0, .s2(.size64K, bits: 48, level: 0, base: ram0), ram).fault?.type == .F_TRANSLATION)
        #expect(ram.reads == 0)
    }

    // S2AP[0] is read, S2AP[1] is write; XN[1:0] (FEAT_XNX): 10 never
    // executable, 01 not at EL1, 11 not at EL0. Denials are stage-2
    // Permission faults, CLASS == IN, IPA = the input.
    @Test func stage2Permissions() {
        func check(_ attrs: UInt64, _ access: AccessType) -> WalkFault? {
            let ram = WalkerRAM()
            ram[ram0] = Desc.s2block(0x8000_0000, attrs | Desc.af)   // 4KB, 39-bit, L1 idx 0
            return s2Walk(0x1234, .s2(.size4K, bits: 39, level: 1, base: ram0), ram, access: access).fault
        }
        let ro = check(Desc.s2r, .write)
        #expect(ro?.type == .F_PERMISSION)
        #expect(ro?.stage2 == true)
        #expect(ro?.faultClass == .input)
        #expect(ro?.ipa == 0x1234)
        #expect(check(Desc.s2r, []) == nil)
        #expect(check(0, [])?.type == .F_PERMISSION)
        #expect(check(Desc.s2w, .write) == nil)
        #expect(check(Desc.s2w, [])?.type == .F_PERMISSION)
        #expect(check(Desc.s2rw | 0b10 << 53, [.instruction])?.type == .F_PERMISSION)
        #expect(check(Desc.s2rw | 0b10 << 53, [.instruction, .privileged])?.type == .F_PERMISSION)
        #expect(check(Desc.s2rw | 0b01 << 53, [.instruction]) == nil)
        #expect(check(Desc.s2rw | 0b01 << 53, [.instruction, .privileged])?.type == .F_PERMISSION)
        #expect(check(Desc.s2rw | 0b11 << 53, [.instruction])?.type == .F_PERMISSION)
        #expect(check(Desc.s2rw | 0b11 << 53, [.instruction, .privileged]) == nil)
        #expect(check(Desc.s2rw, [.instruction, .privileged]) == nil)
    }

    // Stage-2 access flag (STE.S2AFFD / S2HA) and dirty state (S2HD: a write
    // to a DBM page with S2AP[1] == 0 sets S2AP[1]).
    @Test func stage2AccessFlagAndDirtyState() {
        let ram = WalkerRAM()
        let cfg = Stage2TableConfig.s2(.size4K, bits: 39, level: 1, base: ram0)
        let noAF = Desc.s2block(0x8000_0000, Desc.s2rw)
        ram[ram0] = noAF
        let f = s2Walk(0x10, cfg, ram).fault
        #expect(f?.type == .F_ACCESS)
        #expect(f?.stage2 == true)
        #expect(f?.ipa == 0x10)
        #expect(s2Walk(0x10, .s2(.size4K, bits: 39, level: 1, base: ram0, affd: true), ram).value != nil)
        #expect(ram[ram0] == noAF)
        #expect(s2Walk(0x10, .s2(.size4K, bits: 39, level: 1, base: ram0, ha: true), ram).value != nil)
        #expect(ram[ram0] == noAF | (1 << 10))

        let clean = Desc.s2block(0x8000_0000, Desc.s2r | Desc.af | Desc.dbm)
        ram[ram0] = clean
        #expect(s2Walk(0x10, cfg, ram, access: .write).fault?.type == .F_PERMISSION)
        let hd = Stage2TableConfig.s2(.size4K, bits: 39, level: 1, base: ram0, ha: true, hd: true)
        #expect(s2Walk(0x10, hd, ram).value?.permissions.contains(.write) == false)
        #expect(ram[ram0] == clean)
        #expect(s2Walk(0x10, hd, ram, access: .write).value?.permissions.contains(.write) == true)
        #expect(ram[ram0] == clean | (1 << 7))
    }

    // STE.S2PS: an output above the effective PA size is a stage-2 Address
    // Size fault with the IPA.
    @Test func stage2AddressSize() {
        let ram = WalkerRAM()
        ram[ram0] = Desc.s2block(0x100_0000_0000)   // bit 40
        let f = s2Walk(0x10, .s2(.size4K, bits: 39, level: 1, base: ram0, oas: 40), ram).fault
        #expect(f?.type == .F_ADDR_SIZE)
        #expect(f?.stage2 == true)
        #expect(f?.ipa == 0x10)
        #expect(s2Walk(0x10, .s2(.size4K, bits: 39, level: 1, base: ram0, oas: 42), ram).value?.outputAddress
                == 0x100_0000_0010)
    }

    // F_WALK_EABT on a stage-2 descriptor while translating the input IPA:
    // S2 == 1, CLASS == IN, FetchAddr = the stage-2 descriptor PA (7.3.12).
    // L1 idx 0 -> table at 0x9000_0000 (no RAM), L2 idx IPA[29:21] = 2.
    @Test func stage2WalkExternalAbort() {
        let ram = WalkerRAM()
        ram[ram0] = Desc.table(0x9000_0000)
        let f = s2Walk(0x40_0000, .s2(.size4K, bits: 39, level: 1, base: ram0), ram).fault
        #expect(f?.type == .F_WALK_EABT)
        #expect(f?.stage2 == true)
        #expect(f?.faultClass == .input)
        #expect(f?.fetchAddress == 0x9000_0010)
    }

    // translateIPA (CD fetches under nesting) reports stage-2 faults with
    // CLASS == CD and the CD's IPA (7.3.13).
    @Test func translateIPAForCDFetch() {
        let ram = WalkerRAM()
        ram[ram0] = Desc.s2block(0x4000_0000)
        let cfg = Stage2TableConfig.s2(.size4K, bits: 39, level: 1, base: ram0)
        #expect(PageTableWalker.translateIPA(0x1000, access: [], stage2: cfg, memory: ram).value?.outputAddress
                == 0x4000_1000)
        let f = PageTableWalker.translateIPA(0x4000_1000, access: [], stage2: cfg, memory: ram).fault
        #expect(f?.type == .F_TRANSLATION)
        #expect(f?.faultClass == .cd)
        #expect(f?.ipa == 0x4000_1000)
    }
}
