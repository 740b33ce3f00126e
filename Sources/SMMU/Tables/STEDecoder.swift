/// Decodes and validates an STE (IHI 0070 5.2, validity 5.2.2 SteIllegal)
/// from one copy of its 8 words. Nil means V=0 or ILLEGAL: C_BAD_STE.
enum STEDecoder {
    // Field positions, STE bit numbering (5.2).
    private enum F {
        static let v = 0, config = (3, 1), s1Fmt = (5, 4), s1CDMax = (63, 59), s1DSS = (65, 64)
        static let ppar = 82, mev = 83, s2FWB = 89, s1StallD = 91, eats = (93, 92), strw = (95, 94)
        static let s2VMID = (143, 128), s2T0SZ = (165, 160), s2SL0 = (167, 166), s2TG = (175, 174)
        static let s2PS = (178, 176), s2AA64 = 179, s2ENDI = 180, s2AFFD = 181, s2PTW = 182
        static let s2HD = 183, s2HA = 184, s2S = 185, s2R = 186, s2TTB = (243, 196)
    }
    /// S1ContextPtr, bits [55:6] of word 0, in place.
    private static let contextPointerMask: UInt64 = 0x00FF_FFFF_FFFF_FFC0

    /// `e2h` is SMMU_CR2.E2H, which selects EL2 or EL2-E2H for STRW=0b10.
    static func decode(_ words: [UInt64], configuration: SMMUConfiguration, e2h: Bool = false) -> StreamConfig? {
        guard let d = DescriptorWords(words), d.bit(F.v) else { return nil }
        let config = d.field(F.config.0, F.config.1)
        // Config 0b000 aborts silently; 0b001-0b011 are Reserved and behave as 0b000.
        guard config & 0b100 != 0 else { return StreamConfig(mode: .abort) }
        let s1 = config & 0b001 != 0, s2 = config & 0b010 != 0
        // A stage the SMMU does not implement is ILLEGAL (5.2 Config); so is
        // 0b111 on an instance configured without nesting.
        if s1 && !configuration.stage1 { return nil }
        if s2 && !configuration.stage2 { return nil }
        if s1 && s2 && !configuration.nested { return nil }

        var stream = StreamConfig(mode: s1 || s2 ? .translate : .bypass)
        stream.mev = d.bit(F.mev)
        // PPAR is RES0 without PRI or substreams.
        stream.ppar = configuration.pri && configuration.substreamIDBits > 0 && d.bit(F.ppar)
        // Bypass (0b100): S1*, S2*, EATS (effective 0b00), STRW and S2VMID are IGNORED.
        guard stream.mode == .translate else { return stream }

        let s2sBit = d.bit(F.s2S)
        guard let eats = effectiveEATS(d.field(F.eats.0, F.eats.1), nested: s1 && s2, stage2: s2,
                                       s2s: s2sBit, configuration: configuration) else { return nil }
        stream.eats = eats

        // STRW is used only for stage-1-only STEs on an SMMU with HYP (IgnoreSTESTRW).
        if configuration.hypervisorContexts && config == 0b101 {
            let strw = d.field(F.strw.0, F.strw.1)
            if strw & 1 != 0 { return nil }   // 0bx1: Reserved, ILLEGAL
            if strw == 0b10 {
                stream.strw = 0b10
                stream.streamWorld = e2h ? .el2E2H : .el2
            }
        }

        // S2VMID tags NS-EL1 translations whenever stage 2 is implemented
        // (IgnoreSTES2VMID); 8-bit VMIDs make VMID[15:8] != 0 ILLEGAL.
        if configuration.stage2 && stream.streamWorld == .el1 {
            let vmid = d.field(F.s2VMID.0, F.s2VMID.1)
            if !configuration.vmid16 && vmid >> 8 != 0 { return nil }
            stream.vmidTag = UInt16(truncatingIfNeeded: vmid)
        }

        if s1 {
            guard let stage1 = decodeStage1(d, configuration: configuration) else { return nil }
            // S1STALLD=1 is ILLEGAL unless the stall model is configurable (STALL_MODEL=0b00).
            let stallD = d.bit(F.s1StallD)
            if stallD && configuration.stallModel != .both { return nil }
            stream.s1StallDisabled = stallD
            stream.stage1 = stage1
        }
        if s2 {
            guard var stage2 = decodeStage2(d, vmid: stream.vmidTag ?? 0, configuration: configuration)
            else { return nil }
            // S2PTW is IGNORED unless Config[1:0] == 0b11 (5.2).
            stage2.table.protectedTableWalk = s1 && d.bit(F.s2PTW)
            stream.stage2 = stage2
        }
        return stream
    }

    /// STE.EATS (5.2): IGNORED (effective 0) without IDR0.ATS; 0b10
    /// (split-stage) only with Config=0b111 and S2S=0; 0b01 ILLEGAL with
    /// stage 2 stalling; 0b11 (DPT) is Reserved with IDR3.DPT=0 and behaves
    /// as 0b00. Nil = ILLEGAL. (EATS=0b10 with CR0.ATSCHK=0 behaves as 0b00:
    /// the caller applies that, it is not part of the STE.)
    private static func effectiveEATS(_ eats: UInt64, nested: Bool, stage2: Bool, s2s: Bool,
                                      configuration: SMMUConfiguration) -> UInt8? {
        guard configuration.ats else { return 0 }
        switch eats {
        case 0b01: return stage2 && s2s ? nil : 1
        case 0b10: return !nested || s2s ? nil : 2
        default: return 0
        }
    }

    private static func decodeStage1(_ d: DescriptorWords, configuration: SMMUConfiguration) -> Stage1Config? {
        let ssidBits = UInt64(configuration.substreamIDBits)
        // S1CDMax is IGNORED with SSIDSIZE=0; otherwise 0...SSIDSIZE.
        var cdMax = d.field(F.s1CDMax.0, F.s1CDMax.1)
        if ssidBits == 0 { cdMax = 0 } else if cdMax > ssidBits { return nil }
        // S1Fmt is IGNORED for a single CD; 0b11 behaves as 0b00; 2-level
        // formats are ILLEGAL without IDR0.CD2L.
        var fmt = d.field(F.s1Fmt.0, F.s1Fmt.1)
        if cdMax == 0 || fmt == 0b11 { fmt = 0 }
        if fmt != 0 && !configuration.twoLevelCDTables { return nil }
        // S1ContextPtr beyond the OAS (IAS under nesting; equal here) is
        // C_BAD_STE, the SMMUv3.1 choice of 3.4.3.
        let pointer = d.word(0) & contextPointerMask
        if pointer >> UInt64(configuration.outputAddressBits) != 0 { return nil }
        // S1DSS 0b11 is Reserved and behaves as 0b00 (terminate).
        var dss = d.field(F.s1DSS.0, F.s1DSS.1)
        if dss == 0b11 { dss = 0 }
        return Stage1Config(contextPointer: pointer, format: UInt8(fmt), cdMaxBits: UInt8(cdMax),
                            defaultSubstream: UInt8(dss))
    }

    private static func decodeStage2(_ d: DescriptorWords, vmid: UInt16, configuration: SMMUConfiguration) -> Stage2Config? {
        let s2s = d.bit(F.s2S)
        // S2S against the stall model (SteIllegal): no stalls with
        // terminate-only, stalls forced with stall-only.
        switch configuration.stallModel {
        case .terminateOnly where s2s: return nil
        case .stallOnly where !s2s: return nil
        default: break
        }
        // Only VMSAv8-64 little-endian tables are implemented (IDR0.TTF=0b10,
        // TTENDIAN=0b10): S2AA64=0 and S2ENDI=1 are ILLEGAL.
        guard d.bit(F.s2AA64), !d.bit(F.s2ENDI) else { return nil }

        // S2HA needs HTTU; S2HD needs HTTU=0b10. {S2HA,S2HD}=0b01 is Reserved
        // and behaves as both off.
        var ha = d.bit(F.s2HA), hd = d.bit(F.s2HD)
        if (ha || hd) && configuration.httu == .none { return nil }
        if hd && configuration.httu == .accessFlag { return nil }
        if hd && !ha { ha = false; hd = false }

        // S2TG: 0b00 4KB, 0b01 64KB, 0b10 16KB, 0b11 Reserved; unsupported is ILLEGAL.
        let granule: Granule
        switch d.field(F.s2TG.0, F.s2TG.1) {
        case 0b00: granule = .size4K
        case 0b01: granule = .size64K
        case 0b10: granule = .size16K
        default: return nil
        }
        guard configuration.supports(granule) else { return nil }

        // S2PS is capped to the OAS (not ILLEGAL); S2TTB beyond it is ILLEGAL.
        let oas = configuration.outputAddressBits
        let outputSize = TranslationGeometry.effectiveOutputSize(d.field(F.s2PS.0, F.s2PS.1), granule: granule, oas: oas)
        let ttb = d.field(F.s2TTB.0, F.s2TTB.1) << 4
        if ttb >> UInt64(outputSize) != 0 { return nil }

        // S2T0SZ: at most 39 (no STT), at least MAX(16, 64-IAS) for 4K/16K and
        // MAX(12, 64-IAS) for 64K (STES2T0SZInvalid).
        let t0sz = d.field(F.s2T0SZ.0, F.s2T0SZ.1)
        let ias = UInt64(configuration.intermediateAddressBits)
        let minT0SZ = max(granule == .size64K ? 12 : 16, 64 - ias)
        guard t0sz >= minT0SZ, t0sz <= ImplementedLimits.maxTxSZ else { return nil }
        let inputSize = 64 - Int(t0sz)

        // S2SL0 must be valid for the granule and consistent with S2T0SZ.
        guard let level = TranslationGeometry.stage2StartLevel(sl0: d.field(F.s2SL0.0, F.s2SL0.1),
                                                               granule: granule, oas: oas),
              TranslationGeometry.stage2Consistent(inputSize: inputSize, granule: granule, startLevel: level)
        else { return nil }

        let bitsAtStart = TranslationGeometry.bitsAtStartLevel(inputSize: inputSize, granule: granule, startLevel: level)
        var table = TranslationTableConfig(
            granule: granule, inputSizeBits: UInt8(inputSize),
            tableBase: TranslationGeometry.alignTableBase(ttb, bitsAtStart: bitsAtStart, outputSize: outputSize),
            startLevel: Int8(level), outputSizeBits: outputSize,
            hardwareAccessFlag: ha, hardwareDirty: hd,
            accessFlagFaultDisabled: d.bit(F.s2AFFD), topByteIgnore: false)
        // S2FWB is RES0 without IDR3.FWB (which the SMMUv3.2 configuration sets).
        table.forcedWriteBack = configuration.rangeInvalidation && d.bit(F.s2FWB)
        return Stage2Config(vmid: vmid, table: table, recordFaults: d.bit(F.s2R), stallFaults: s2s)
    }
}
