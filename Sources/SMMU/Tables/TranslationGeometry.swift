/// ID-register values the structure decoders assume. The register file must
/// advertise the same: SMMU_IDR0.TTF=0b10 (AArch64 tables only),
/// IDR0.TTENDIAN=0b10 (little-endian only), IDR0.TERM_MODEL=1 (terminate
/// always aborts), IDR0.NS1ATS=0, IDR3.STT=0, IDR3.DPT=0,
/// IDR5.VAX=0b00 (48-bit VA), IDR5.DS=0, IDR5.D128=0.
enum ImplementedLimits {
    /// IDR3.STT=0: the largest TxSZ / S2T0SZ is 39 (5.2 S2T0SZ, 5.4 T0SZ).
    static let maxTxSZ: UInt8 = 39
    /// IDR5.VAX=0b00: stage-1 TxSZ is at least 16 for every granule (5.4 T0SZ).
    static let minStage1TxSZ: UInt8 = 16
    /// IDR0.TERM_MODEL=1: CD.A=0 is ILLEGAL (5.4.2 CdIllegal).
    static let terminateModelAbortOnly = true
}

extension SMMUConfiguration {
    /// IAS: with VMSAv8-32 LPAE unsupported, IAS = OAS (3.4).
    var intermediateAddressBits: UInt8 { outputAddressBits }

    func supports(_ granule: Granule) -> Bool {
        switch granule {
        case .size4K: granule4K
        case .size16K: granule16K
        case .size64K: granule64K
        }
    }
}

/// The IPS / S2PS encodings (5.4 IPS, 5.2 S2PS; TCR_ELx.PS): every 3-bit
/// value is defined.
enum PhysicalAddressSize: UInt8 {
    case bits32 = 0b000, bits36, bits40, bits42, bits44, bits48, bits52, bits56

    /// In bits; 0b111 (56 bits) behaves as 0b110 before SMMUv3.4. The
    /// caller caps the result to the OAS.
    var bits: UInt8 {
        switch self {
        case .bits32: 32
        case .bits36: 36
        case .bits40: 40
        case .bits42: 42
        case .bits44: 44
        case .bits48: 48
        case .bits52, .bits56: 52
        }
    }
}

/// Translation-regime arithmetic shared by the STE and CD decoders (the
/// VMSAv8-64 rules of the Arm ARM that IHI 0070 defers to).
enum TranslationGeometry {
    /// Effective output size: min(PS, OAS), and at most 48 bits unless the
    /// granule is 64 KiB (52-bit output needs 64 KiB or DS=1, and DS is RES0 here).
    static func effectiveOutputSize(_ size: PhysicalAddressSize, granule: Granule, oas: UInt8) -> UInt8 {
        let bits = min(size.bits, oas)
        return granule == .size64K ? bits : min(bits, 48)
    }

    /// The stage-1 initial lookup level for an input size (Arm ARM
    /// AArch64.S1StartLevel): the level whose tables resolve the top bits.
    static func stage1StartLevel(inputSize: Int, granule: Granule) -> Int {
        let g = Int(granule.bits), stride = Int(granule.strideBits)
        return 3 - (inputSize - 1 - g) / stride
    }

    /// Bits resolved by the initial lookup (more than a stride when stage-2
    /// tables are concatenated).
    static func bitsAtStartLevel(inputSize: Int, granule: Granule, startLevel: Int) -> Int {
        inputSize - Int(granule.bits) - (3 - startLevel) * Int(granule.strideBits)
    }

    /// Aligns a starting-level table address down to the table's size: the
    /// SMMU treats TTB[x-1:0] as zero (5.2 S2TTB, 5.4 TTB0), with a 64-byte
    /// minimum for 52-bit output.
    static func alignTableBase<Address: SMMUAddress>(_ base: Address, bitsAtStart: Int, outputSize: UInt8) -> Address {
        var x = max(bitsAtStart + 3, 4)
        if outputSize >= 52 { x = max(x, 6) }
        x = min(x, 63)
        return base.alignedDown(log2: UInt8(x))
    }

    /// Stage-2 start level from S2SL0 and S2TG (Arm ARM AArch64.S2StartLevel,
    /// VTCR_EL2.SL0 with SL2=0), or nil if the encoding is invalid for the
    /// implementation (AArch64.S2InvalidSL, with PAMax = OAS and no STT/DS).
    static func stage2StartLevel(sl0: UInt8, granule: Granule, oas: UInt8) -> Int? {
        switch (granule, sl0 & 3) {
        case (.size4K, 0): 2
        case (.size4K, 1): 1
        case (.size4K, 2): oas < 44 ? nil : 0
        case (.size4K, _): nil            // level 3 needs IDR3.STT
        case (.size16K, 0): 3
        case (.size16K, 1): 2
        case (.size16K, 2): oas < 42 ? nil : 1
        case (.size16K, _): nil           // level 0 needs DS
        case (.size64K, 0): 3
        case (.size64K, 1): 2
        case (.size64K, 2): oas < 44 ? nil : 1
        case (.size64K, _): nil
        }
    }

    /// Whether the input size can be resolved from the start level (Arm ARM
    /// AArch64.S2InconsistentSL): at least one bit for the initial lookup, at
    /// most a full stride plus 16 concatenated tables.
    static func stage2Consistent(inputSize: Int, granule: Granule, startLevel: Int) -> Bool {
        let g = Int(granule.bits), stride = Int(granule.strideBits)
        let minSize = (3 - startLevel) * stride + g + 1
        let maxSize = minSize + (stride - 1) + 4
        return inputSize >= minSize && inputSize <= maxSize
    }
}
