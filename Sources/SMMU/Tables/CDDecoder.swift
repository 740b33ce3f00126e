/// Decodes and validates a CD (IHI 0070 5.4, validity 5.4.2 CdIllegal)
/// from one copy of its 8 words, in the context of the STE that located it
/// (StreamWorld, S1STALLD), read through `CD.Fields`. Nil means V=0 or
/// ILLEGAL: C_BAD_CD.
enum CDDecoder {
    private typealias F = CD.Fields

    static func decode(_ words: [UInt64], stream: StreamConfig, configuration: SMMUConfiguration) -> ContextDescriptor? {
        guard let d = DescriptorWords(words), d[F.v] else { return nil }
        // EL2 (not E2H) has a single VA range: TTB1 is unreachable, EPDx are
        // IGNORED with effective value 0, ASID is IGNORED (5.4 EPD0, 5.4.1).
        let el2 = stream.streamWorld == .el2
        let epd0 = el2 ? false : d[F.epd0]
        let epd1 = el2 ? true : d[F.epd1]

        // Fault model: S against STE.S1STALLD and the stall model; A=0 needs
        // IDR0.TERM_MODEL=0, which this SMMU does not advertise.
        let stall = d[F.s], abort = d[F.a]
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
        if (!epd0 || !epd1) && d[F.endi] { return nil }
        guard d[F.aa64] else { return nil }

        // HA needs HTTU, HD needs HTTU=0b10; {HD,HA}=0b10 is Reserved and behaves as both off.
        var ha = d[F.ha], hd = d[F.hd]
        if (ha || hd) && configuration.httu == .none { return nil }
        if hd && configuration.httu == .accessFlag { return nil }
        if hd && !ha { ha = false; hd = false }

        // 8-bit ASIDs: ASID[15:8] != 0 is ILLEGAL where the ASID is used.
        let asidField = d[F.asid]
        if !el2 && !configuration.asid16 && asidField >> 8 != 0 { return nil }

        // Every IPS encoding is defined.
        guard let ips = d[F.ips] else { return nil }
        var flags = Stage1TableConfig(granule: .size4K, inputSizeBits: 0, tableBase: 0, outputSizeBits: 0,
                                      hardwareAccessFlag: ha, hardwareDirty: hd,
                                      accessFlagFaultDisabled: d[F.affd])
        var ttb0: Stage1TableConfig?
        var ttb1: Stage1TableConfig?
        // Fields of a disabled half are IGNORED and not validated (5.4.1.1).
        // A Reserved TGx reads nil: ILLEGAL.
        if !epd0 {
            flags.topByteIgnore = d[F.tbi0]
            flags.hierarchicalAttributesDisabled = d[F.had0]
            ttb0 = half(txsz: d[F.t0sz], granule: d[F.tg0]?.granule, ttb: d[F.ttb0], ips: ips, flags: flags,
                        configuration: configuration)
            if ttb0 == nil { return nil }
        }
        if !epd1 {
            flags.topByteIgnore = d[F.tbi1]
            flags.hierarchicalAttributesDisabled = d[F.had1]
            ttb1 = half(txsz: d[F.t1sz], granule: d[F.tg1]?.granule, ttb: d[F.ttb1], ips: ips, flags: flags,
                        configuration: configuration)
            if ttb1 == nil { return nil }
        }

        // UWXN is IGNORED for VMSAv8-64 (EL0-writable regions are PXN anyway);
        // PAN is IGNORED (effectively 0) for EL2.
        var cd = ContextDescriptor(asid: el2 ? 0 : asidField, ttb0: ttb0, ttb1: ttb1,
                                   recordFaults: d[F.r], abortOnFault: abort, stallFaults: stall,
                                   wxn: d[F.wxn], uwxn: false)
        cd.pan = !el2 && d[F.pan]
        cd.mair = UInt64(d[F.mair1]) << 32 | UInt64(d[F.mair0])
        cd.aset = d[F.aset]
        return cd
    }

    /// One enabled VA half: TxSZ in 16...39 (VAX=0b00, no STT), a supported
    /// granule, TTBx within the effective IPS (and 48 bits for 4K/16K).
    /// `flags` carries the HA/HD/AFFD/TBI settings of the half.
    private static func half(txsz: UInt8, granule: Granule?, ttb: IntermediateAddress, ips: CD.IPS,
                             flags: Stage1TableConfig, configuration: SMMUConfiguration) -> Stage1TableConfig? {
        guard txsz >= ImplementedLimits.minStage1TxSZ, txsz <= ImplementedLimits.maxTxSZ,
              let granule, configuration.supports(granule) else { return nil }
        let outputSize = TranslationGeometry.effectiveOutputSize(ips, granule: granule,
                                                                 oas: configuration.outputAddressBits)
        guard ttb.fits(bits: outputSize) else { return nil }
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
