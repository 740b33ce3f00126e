import Testing
@testable import SMMU

/// The STE and CD words Linux 6.12's arm-smmu-v3 writes, built from its
/// arm-smmu-v3.h field macros (STRTAB_STE_* / CTXDESC_CD_*), must decode as
/// valid: an ILLEGAL verdict would show the guest C_BAD_STE / C_BAD_CD.
/// Positions: STRTAB_STE_0_CFG = GENMASK(3,1), S1FMT = GENMASK(5,4),
/// S1CTXPTR_MASK = GENMASK(51,6), S1CDMAX = GENMASK(63,59);
/// STRTAB_STE_1_S1DSS = GENMASK(1,0), S1CIR = GENMASK(3,2), S1COR = GENMASK(5,4),
/// S1CSH = GENMASK(7,6), S1STALLD = bit 27, EATS = GENMASK(29,28),
/// STRW = GENMASK(31,30), SHCFG = GENMASK(45,44); STRTAB_STE_2_S2VMID = GENMASK(15,0).
@Suite struct LinuxDriverWordsTests {
    static let cdTable: UInt64 = 0x4010_0000

    /// arm_smmu_make_cdtable_ste(): V, Config=S1_TRANS (5), S1Fmt, CD table
    /// pointer, S1CDMax; S1DSS, S1CIR/S1COR=WBRA (1), S1CSH=ISH (3), S1STALLD
    /// (when the SMMU has stalls and the master did not enable them), EATS=TRANS
    /// (1) with ATS, STRW=NSEL1 (0) or EL2 (2) with E2H, SHCFG=INCOMING with E2H
    /// and S1DSS=BYPASS; word 2 S2VMID=0 without E2H.
    static func cdTableSTE(s1fmt: UInt64, s1cdmax: UInt64, s1dss: UInt64, stallD: Bool, ats: Bool,
                           e2h: Bool) -> [UInt64] {
        let w0: UInt64 = 1 | 5 << 1 | s1fmt << 4 | (cdTable & 0x000F_FFFF_FFFF_FFC0) | s1cdmax << 59
        var w1: UInt64 = s1dss | 1 << 2 | 1 << 4 | 3 << 6 | (stallD ? 1 << 27 : 0) | (ats ? 1 << 28 : 0)
        if e2h {
            w1 |= 2 << 30
            if s1dss == 1 { w1 |= 1 << 44 }
        }
        return [w0, w1, 0, 0, 0, 0, 0, 0]
    }

    @Test(arguments: [false, true])
    func dmaDomainWithoutPASID(ats: Bool) throws {
        // Non-PASID master: linear table, S1CDMax=0, S1DSS=SSID0 (IGNORED with
        // S1CDMax=0), S1STALLD (STALL_MODEL=0b00 and no dma-can-stall).
        let words = Self.cdTableSTE(s1fmt: 0, s1cdmax: 0, s1dss: 2, stallD: true, ats: ats, e2h: false)
        let s = try #require(STEDecoder.decode(words, configuration: SMMUConfiguration()))
        #expect(s.mode == .translate && s.s1StallDisabled && s.eats == (ats ? .full : .off))
        #expect(s.stage1?.contextPointer == IntermediateAddress(Self.cdTable) && s.stage1?.cdMaxBits == 0)
        #expect(s.streamWorld == .el1 && s.vmidTag == 0)
    }

    @Test func pasidMasterUsesTwoLevelCDTable() throws {
        // ssid_bits = 20 > log2(CTXDESC_L2_ENTRIES): S1Fmt = 64K_L2 (2), S1DSS = SSID0.
        let words = Self.cdTableSTE(s1fmt: 2, s1cdmax: 20, s1dss: 2, stallD: true, ats: true, e2h: false)
        let s = try #require(STEDecoder.decode(words, configuration: SMMUConfiguration()))
        #expect(s.stage1?.format == .twoLevel64K && s.stage1?.cdMaxBits == 20 && s.stage1?.defaultSubstream == .substream0)
    }

    @Test func vheHostUsesEL2StreamWorld() throws {
        // FEAT_E2H (guest kernel at EL2 with VHE): STRW=EL2, CR2.E2H=1.
        for dss: UInt64 in [1, 2] {
            let words = Self.cdTableSTE(s1fmt: 2, s1cdmax: 20, s1dss: dss, stallD: true, ats: true, e2h: true)
            let s = try #require(STEDecoder.decode(words, configuration: SMMUConfiguration(), e2h: true))
            #expect(s.streamWorld == .el2E2H)
        }
    }

    @Test func forcedStallModelMasterHasStallsEnabled() throws {
        // STALL_MODEL=0b10: Linux forces master->stall_enabled, so no S1STALLD
        // (S1STALLD=1 would be ILLEGAL there, 5.2) and CD.S=1.
        var c = SMMUConfiguration()
        c.stallModel = .stallOnly
        let words = Self.cdTableSTE(s1fmt: 0, s1cdmax: 0, s1dss: 2, stallD: false, ats: false, e2h: false)
        #expect(STEDecoder.decode(words, configuration: c) != nil)
    }

    @Test func bypassAndAbortSTEs() throws {
        // arm_smmu_make_bypass_ste: V | CFG=BYPASS (4) | SHCFG=INCOMING; abort: V | CFG=ABORT (0).
        let bypass = try #require(STEDecoder.decode([1 | 4 << 1, 1 << 44, 0, 0, 0, 0, 0, 0],
                                                    configuration: SMMUConfiguration()))
        #expect(bypass.mode == .bypass)
        let abort = try #require(STEDecoder.decode([1, 0, 0, 0, 0, 0, 0, 0], configuration: SMMUConfiguration()))
        #expect(abort.mode == .abort)
    }

    /// arm_smmu_make_s1_cd(): T0SZ (64 - 48), TG0=4K (0), IRGN0/ORGN0=WBWA (1),
    /// SH0=ISH (3), EPD1, V, IPS=48 bits (5), AA64, S (stall_enabled), R, A,
    /// ASET, ASID; HA|HD for dirty tracking; word 1 TTB0 (CTXDESC_CD_1_TTB0_MASK
    /// = GENMASK(51,4)); word 3 MAIR. Positions from CTXDESC_CD_0_*.
    @Test(arguments: [(false, false), (true, false), (false, true)])
    func linuxS1CD(stall: Bool, dirty: Bool) throws {
        let ttb: UInt64 = 0x4020_0000
        var w0: UInt64 = 16 | 0 << 6 | 1 << 8 | 1 << 10 | 3 << 12 | 1 << 30 | 1 << 31 | 5 << 32
            | 1 << 41 | 1 << 45 | 1 << 46 | 1 << 47 | 0x1234 << 48
        if stall { w0 |= 1 << 44 }
        if dirty { w0 |= 1 << 42 | 1 << 43 }
        var stream = StreamConfig(mode: .translate)
        stream.s1StallDisabled = !stall
        let cd = try #require(CDDecoder.decode([w0, ttb, 0, 0x0404_FF44, 0, 0, 0, 0], stream: stream,
                                               configuration: SMMUConfiguration()))
        #expect(cd.asid == 0x1234 && cd.ttb1 == nil && cd.ttb0?.tableBase == IntermediateAddress(ttb) && cd.stallFaults == stall)
        #expect(cd.ttb0?.hardwareDirty == dirty && cd.ttb0?.inputSizeBits == 48)
    }
}
