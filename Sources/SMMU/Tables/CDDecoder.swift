/// Decodes and validates a CD (IHI 0070 5.4, validity 5.4.2 CdIllegal)
/// from one copy of its 8 words, in the context of the STE that located it
/// (StreamWorld, S1STALLD). Nil means V=0 or ILLEGAL: C_BAD_CD.
enum CDDecoder {
    // Field positions, CD bit numbering (5.4).
    private enum F {
        static let t0sz = (5, 0), tg0 = (7, 6), epd0 = 14, endi = 15, t1sz = (21, 16), tg1 = (23, 22)
        static let epd1 = 30, v = 31, ips = (34, 32), affd = 35, wxn = 36, tbi0 = 38, tbi1 = 39
        static let pan = 40, aa64 = 41, hd = 42, ha = 43, s = 44, r = 45, a = 46, aset = 47, asid = (63, 48)
        static let had0 = 65, had1 = 129   // IDR3.HAD == 1 (QEMU CD_HAD: word[2 + 2 * sel] bit 1)
        static let ttb0 = (115, 68), ttb1 = (179, 132), mair = (255, 192)
    }

    static func decode(_ words: [UInt64], stream: StreamConfig, configuration: SMMUConfiguration) -> ContextDescriptor? {
        guard let d = DescriptorWords(words), d.bit(F.v) else { return nil }
        // EL2 (not E2H) has a single VA range: TTB1 is unreachable, EPDx are
        // IGNORED with effective value 0, ASID is IGNORED (5.4 EPD0, 5.4.1).
        let el2 = stream.streamWorld == .el2
        let epd0 = el2 ? false : d.bit(F.epd0)
        let epd1 = el2 ? true : d.bit(F.epd1)

        // Fault model: S against STE.S1STALLD and the stall model; A=0 needs
        // IDR0.TERM_MODEL=0, which this SMMU does not advertise.
        let stall = d.bit(F.s), abort = d.bit(F.a)
        if stall && stream.s1StallDisabled { return nil }
        switch configuration.stallModel {
        case .terminateOnly where stall: return nil
        case .stallOnly where !stall: return nil
        default: break
        }
        if ImplementedLimits.terminateModelAbortOnly && !abort { return nil }

        // Only little-endian VMSAv8-64 tables (IDR0.TTENDIAN=0b10, TTF=0b10):
        // ENDI=1 is ILLEGAL unless both halves are disabled; AA64=0 (AArch32
        // LPAE tables, unsupported) is ILLEGAL.
        if (!epd0 || !epd1) && d.bit(F.endi) { return nil }
        guard d.bit(F.aa64) else { return nil }

        // HA needs HTTU, HD needs HTTU=0b10; {HD,HA}=0b10 is Reserved and behaves as both off.
        var ha = d.bit(F.ha), hd = d.bit(F.hd)
        if (ha || hd) && configuration.httu == .none { return nil }
        if hd && configuration.httu == .accessFlag { return nil }
        if hd && !ha { ha = false; hd = false }

        // 8-bit ASIDs: ASID[15:8] != 0 is ILLEGAL where the ASID is used.
        let asidField = d.field(F.asid.0, F.asid.1)
        if !el2 && !configuration.asid16 && asidField >> 8 != 0 { return nil }

        let ips = d.field(F.ips.0, F.ips.1)
        var flags = TranslationTableConfig(granule: .size4K, inputSizeBits: 0, tableBase: 0, outputSizeBits: 0,
                                           hardwareAccessFlag: ha, hardwareDirty: hd,
                                           accessFlagFaultDisabled: d.bit(F.affd))
        var ttb0: TranslationTableConfig?
        var ttb1: TranslationTableConfig?
        // Fields of a disabled half are IGNORED and not validated (5.4.1.1).
        if !epd0 {
            flags.topByteIgnore = d.bit(F.tbi0)
            flags.hierarchicalAttributesDisabled = d.bit(F.had0)
            ttb0 = half(txsz: d.field(F.t0sz.0, F.t0sz.1), granule: granule0(d.field(F.tg0.0, F.tg0.1)),
                        ttb: d.field(F.ttb0.0, F.ttb0.1) << 4, ips: ips, flags: flags, configuration: configuration)
            if ttb0 == nil { return nil }
        }
        if !epd1 {
            flags.topByteIgnore = d.bit(F.tbi1)
            flags.hierarchicalAttributesDisabled = d.bit(F.had1)
            ttb1 = half(txsz: d.field(F.t1sz.0, F.t1sz.1), granule: granule1(d.field(F.tg1.0, F.tg1.1)),
                        ttb: d.field(F.ttb1.0, F.ttb1.1) << 4, ips: ips, flags: flags, configuration: configuration)
            if ttb1 == nil { return nil }
        }

        // UWXN is IGNORED for VMSAv8-64 (EL0-writable regions are PXN anyway);
        // PAN is IGNORED (effectively 0) for EL2.
        var cd = ContextDescriptor(asid: el2 ? 0 : UInt16(truncatingIfNeeded: asidField), ttb0: ttb0, ttb1: ttb1,
                                   recordFaults: d.bit(F.r), abortOnFault: abort, stallFaults: stall,
                                   wxn: d.bit(F.wxn), uwxn: false)
        cd.pan = !el2 && d.bit(F.pan)
        cd.mair = d.field(F.mair.0, F.mair.1)
        cd.aset = d.bit(F.aset)
        return cd
    }

    /// TG0: 0b00 4KB, 0b01 64KB, 0b10 16KB, 0b11 Reserved.
    private static func granule0(_ tg: UInt64) -> Granule? {
        switch tg {
        case 0b00: .size4K
        case 0b01: .size64K
        case 0b10: .size16K
        default: nil
        }
    }

    /// TG1 encodes differently: 0b00 Reserved, 0b01 16KB, 0b10 4KB, 0b11 64KB.
    private static func granule1(_ tg: UInt64) -> Granule? {
        switch tg {
        case 0b01: .size16K
        case 0b10: .size4K
        case 0b11: .size64K
        default: nil
        }
    }

    /// One enabled VA half: TxSZ in 16...39 (VAX=0b00, no STT), a supported
    /// granule, TTBx within the effective IPS (and 48 bits for 4K/16K).
    /// `flags` carries the HA/HD/AFFD/TBI settings of the half.
    private static func half(txsz: UInt64, granule: Granule?, ttb: UInt64, ips: UInt64,
                             flags: TranslationTableConfig, configuration: SMMUConfiguration) -> TranslationTableConfig? {
        guard txsz >= ImplementedLimits.minStage1TxSZ, txsz <= ImplementedLimits.maxTxSZ,
              let granule, configuration.supports(granule) else { return nil }
        let outputSize = TranslationGeometry.effectiveOutputSize(ips, granule: granule,
                                                                 oas: configuration.outputAddressBits)
        guard ttb >> UInt64(outputSize) == 0 else { return nil }
        let inputSize = 64 - Int(txsz)
        let level = TranslationGeometry.stage1StartLevel(inputSize: inputSize, granule: granule)
        let bitsAtStart = TranslationGeometry.bitsAtStartLevel(inputSize: inputSize, granule: granule, startLevel: level)
        var table = flags
        table.granule = granule
        table.inputSizeBits = UInt8(inputSize)
        table.tableBase = TranslationGeometry.alignTableBase(ttb, bitsAtStart: bitsAtStart, outputSize: outputSize)
        table.startLevel = nil
        table.outputSizeBits = outputSize
        return table
    }
}
