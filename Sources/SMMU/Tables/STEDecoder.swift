/// Decodes and validates an STE (IHI 0070 5.2, validity 5.2.2 SteIllegal)
/// from one copy of its 8 words, read through `STE.Fields`. Nil means V=0
/// or ILLEGAL: C_BAD_STE.
enum STEDecoder {
    private typealias F = STE.Fields

    /// `e2h` is SMMU_CR2.E2H, which selects EL2 or EL2-E2H for STRW=0b10.
    static func decode(_ words: [UInt64], configuration: SMMUConfiguration, e2h: Bool = false) -> StreamConfig? {
        guard let d = DescriptorWords(words), d[F.v] else { return nil }
        // Config 0b000 aborts silently; 0b001-0b011 are Reserved and behave as 0b000.
        guard let config = d[F.config], config != .abort else { return StreamConfig(mode: .abort) }
        let s1 = config.stage1Translates, s2 = config.stage2Translates
        // A stage the SMMU does not implement is ILLEGAL (5.2 Config); so is
        // 0b111 on an instance configured without nesting.
        if s1 && !configuration.stage1 { return nil }
        if s2 && !configuration.stage2 { return nil }
        if s1 && s2 && !configuration.nested { return nil }

        var stream = StreamConfig(mode: s1 || s2 ? .translate : .bypass)
        stream.mev = d[F.mev]
        // PPAR is RES0 without PRI or substreams.
        stream.ppar = configuration.pri && configuration.substreamIDBits > 0 && d[F.ppar]
        // Bypass (0b100): S1*, S2*, EATS (effective 0b00), STRW and S2VMID are IGNORED.
        guard stream.mode == .translate else { return stream }

        guard let eats = effectiveEATS(d[F.eats], nested: s1 && s2, stage2: s2,
                                       s2s: d[F.s2S], configuration: configuration) else { return nil }
        stream.eats = eats

        // STRW is used only for stage-1-only STEs on an SMMU with HYP (IgnoreSTESTRW).
        if configuration.hypervisorContexts && config == .stage1 {
            // 0bx1: Reserved, ILLEGAL.
            guard let strw = d[F.strw] else { return nil }
            if strw == .el2 {
                stream.strw = .el2
                stream.streamWorld = e2h ? .el2E2H : .el2
            }
        }

        // S2VMID tags NS-EL1 translations whenever stage 2 is implemented
        // (IgnoreSTES2VMID); 8-bit VMIDs make VMID[15:8] != 0 ILLEGAL.
        if configuration.stage2 && stream.streamWorld == .el1 {
            let vmid = d[F.s2VMID]
            if !configuration.vmid16 && vmid >> 8 != 0 { return nil }
            stream.vmidTag = vmid
        }

        if s1 {
            guard let stage1 = decodeStage1(d, configuration: configuration) else { return nil }
            // S1STALLD=1 is ILLEGAL unless the stall model is configurable (STALL_MODEL=0b00).
            let stallD = d[F.s1STALLD]
            if stallD && configuration.stallModel != .both { return nil }
            stream.s1StallDisabled = stallD
            stream.stage1 = stage1
        }
        if s2 {
            guard var stage2 = decodeStage2(d, vmid: stream.vmidTag ?? 0, configuration: configuration)
            else { return nil }
            // S2PTW is IGNORED unless Config[1:0] == 0b11 (5.2).
            stage2.table.protectedTableWalk = s1 && d[F.s2PTW]
            stream.stage2 = stage2
        }
        return stream
    }

    /// STE.EATS (5.2): IGNORED (effective 0b00) without IDR0.ATS; 0b10
    /// (split-stage) only with Config=0b111 and S2S=0; 0b01 ILLEGAL with
    /// stage 2 stalling; 0b11 (DPT, nil here) is Reserved with IDR3.DPT=0
    /// and behaves as 0b00. Nil = ILLEGAL. (EATS=0b10 with CR0.ATSCHK=0
    /// behaves as 0b00: the caller applies that, it is not part of the STE.)
    private static func effectiveEATS(_ eats: STE.EATS?, nested: Bool, stage2: Bool, s2s: Bool,
                                      configuration: SMMUConfiguration) -> STE.EATS? {
        guard configuration.ats else { return .off }
        switch eats {
        case .full: return stage2 && s2s ? nil : .full
        case .splitStage: return !nested || s2s ? nil : .splitStage
        case .off, nil: return .off
        }
    }

    private static func decodeStage1(_ d: DescriptorWords, configuration: SMMUConfiguration) -> Stage1Config? {
        let ssidBits = configuration.substreamIDBits
        // S1CDMax is IGNORED with SSIDSIZE=0; otherwise 0...SSIDSIZE.
        var cdMax = d[F.s1CDMax]
        if ssidBits == 0 { cdMax = 0 } else if cdMax > ssidBits { return nil }
        // S1Fmt is IGNORED for a single CD; 0b11 (nil) behaves as 0b00;
        // 2-level formats are ILLEGAL without IDR0.CD2L.
        let fmt = cdMax == 0 ? .linear : d[F.s1Fmt] ?? .linear
        if fmt != .linear && !configuration.twoLevelCDTables { return nil }
        // S1ContextPtr beyond the OAS (IAS under nesting; equal here) is
        // C_BAD_STE, the SMMUv3.1 choice of 3.4.3.
        let pointer = d[F.s1ContextPtr]
        if !pointer.fits(bits: configuration.outputAddressBits) { return nil }
        // S1DSS 0b11 (nil) is Reserved and behaves as 0b00 (terminate).
        let dss = d[F.s1DSS] ?? .terminate
        return Stage1Config(contextPointer: pointer, format: fmt, cdMaxBits: cdMax, defaultSubstream: dss)
    }

    private static func decodeStage2(_ d: DescriptorWords, vmid: UInt16, configuration: SMMUConfiguration) -> Stage2Config? {
        let s2s = d[F.s2S]
        // S2S against the stall model (SteIllegal): no stalls with
        // terminate-only, stalls forced with stall-only.
        switch configuration.stallModel {
        case .terminateOnly where s2s: return nil
        case .stallOnly where !s2s: return nil
        default: break
        }
        // Only VMSAv8-64 little-endian tables are implemented (IDR0.TTF=0b10,
        // TTENDIAN=0b10): S2AA64=0 and S2ENDI=1 are ILLEGAL.
        guard d[F.s2AA64], !d[F.s2ENDI] else { return nil }

        // S2HA needs HTTU; S2HD needs HTTU=0b10. {S2HA,S2HD}=0b01 is Reserved
        // and behaves as both off.
        var ha = d[F.s2HA], hd = d[F.s2HD]
        if (ha || hd) && configuration.httu == .none { return nil }
        if hd && configuration.httu == .accessFlag { return nil }
        if hd && !ha { ha = false; hd = false }

        // S2TG: Reserved (nil) or unsupported is ILLEGAL.
        guard let granule = d[F.s2TG]?.granule, configuration.supports(granule) else { return nil }

        // S2PS is capped to the OAS (not ILLEGAL); S2TTB beyond it is ILLEGAL.
        // (Every S2PS encoding is defined.)
        let oas = configuration.outputAddressBits
        guard let ps = d[F.s2PS] else { return nil }
        let outputSize = TranslationGeometry.effectiveOutputSize(ps, granule: granule, oas: oas)
        let ttb = d[F.s2TTB]
        if !ttb.fits(bits: outputSize) { return nil }

        // S2T0SZ: at most 39 (no STT), at least MAX(16, 64-IAS) for 4K/16K and
        // MAX(12, 64-IAS) for 64K (STES2T0SZInvalid).
        let t0sz = d[F.s2T0SZ]
        let ias = configuration.intermediateAddressBits
        let minT0SZ = max(granule == .size64K ? 12 : 16, 64 - ias)
        guard t0sz >= minT0SZ, t0sz <= ImplementedLimits.maxTxSZ else { return nil }
        let inputSize = 64 - Int(t0sz)

        // S2SL0 must be valid for the granule and consistent with S2T0SZ.
        guard let level = TranslationGeometry.stage2StartLevel(sl0: d[F.s2SL0], granule: granule, oas: oas),
              TranslationGeometry.stage2Consistent(inputSize: inputSize, granule: granule, startLevel: level)
        else { return nil }

        let bitsAtStart = TranslationGeometry.bitsAtStartLevel(inputSize: inputSize, granule: granule, startLevel: level)
        var table = Stage2TableConfig(
            granule: granule, inputSizeBits: UInt8(inputSize),
            tableBase: TranslationGeometry.alignTableBase(ttb, bitsAtStart: bitsAtStart, outputSize: outputSize),
            startLevel: Int8(level), outputSizeBits: outputSize,
            hardwareAccessFlag: ha, hardwareDirty: hd,
            accessFlagFaultDisabled: d[F.s2AFFD], topByteIgnore: false)
        // S2FWB is RES0 without IDR3.FWB (which the SMMUv3.2 configuration sets).
        table.forcedWriteBack = configuration.rangeInvalidation && d[F.s2FWB]
        return Stage2Config(vmid: vmid, table: table, recordFaults: d[F.s2R], stallFaults: s2s)
    }
}
