/// The shape of one stage's walk: which level it starts at and how many
/// address bits each level resolves (Arm ARM, "Translation table walks" /
/// "Concatenated translation tables"). Nil from the factories for a
/// configuration that cannot be walked: the walker turns that into a
/// Translation fault instead of trusting the decoder.
struct WalkGeometry: Sendable, Hashable {
    var granuleBits: UInt8
    var strideBits: UInt8
    var inputSizeBits: UInt8
    var startLevel: Int8
    /// Index width of the starting-level table; more than strideBits means
    /// concatenated tables at stage 2 (up to 16, i.e. strideBits + 4).
    var startIndexBits: UInt8

    /// Lowest input address bit resolved at `level`.
    @inline(__always)
    func shift(at level: Int8) -> UInt8 {
        granuleBits &+ strideBits &* UInt8(truncatingIfNeeded: 3 &- level)
    }

    @inline(__always)
    func indexBits(at level: Int8) -> UInt8 { level == startLevel ? startIndexBits : strideBits }

    /// The starting-level table base with the bits below the table's
    /// alignment treated as zero (CD.TTBx, STE.S2TTB: "the SMMU effectively
    /// aligns the value in this field before use").
    @inline(__always)
    func alignedBase<Address: SMMUAddress>(_ base: Address) -> Address {
        base.alignedDown(log2: startIndexBits &+ 3)
    }

    /// Blocks exist only at level 1 and 2 with a 4KB granule, and only at
    /// level 2 with 16KB and 64KB (no FEAT_LPA2 / 52-bit blocks).
    func blockAllowed(at level: Int8) -> Bool {
        switch granuleBits {
        case Granule.size4K.bits: level == 1 || level == 2
        default: level == 2
        }
    }

    /// Largest input size one stage accepts: 52 bits with 64KB (FEAT_LVA),
    /// 48 bits otherwise (DS=1 is not implemented).
    static func maxInputBits(_ granule: Granule) -> UInt8 { granule == .size64K ? 52 : 48 }

    /// Stage 1: the start level follows from TxSZ and the granule.
    static func stage1(_ config: Stage1TableConfig) -> WalkGeometry? {
        let g = config.granule.bits, stride = config.granule.strideBits, ia = config.inputSizeBits
        guard ia > g, ia <= maxInputBits(config.granule) else { return nil }
        let levels = (ia - g + stride - 1) / stride
        guard levels >= 1, levels <= 4 else { return nil }
        let start = Int8(4 - levels)
        var geometry = WalkGeometry(granuleBits: g, strideBits: stride, inputSizeBits: ia,
                                    startLevel: start, startIndexBits: 0)
        geometry.startIndexBits = ia - geometry.shift(at: start)
        return geometry
    }

    /// Stage 2: the start level comes from S2SL0; the starting level may
    /// resolve up to 4 more bits than one table holds (2 to 16 concatenated
    /// tables). More than that, or no bits at all, is an inconsistent
    /// S2T0SZ/S2SL0 pair.
    static func stage2(_ config: Stage2TableConfig) -> WalkGeometry? {
        let g = config.granule.bits, stride = config.granule.strideBits, ia = config.inputSizeBits
        guard let start = config.startLevel, (0...3).contains(start),
              ia > g, ia <= maxInputBits(config.granule) else { return nil }
        var geometry = WalkGeometry(granuleBits: g, strideBits: stride, inputSizeBits: ia,
                                    startLevel: start, startIndexBits: 0)
        let shift = geometry.shift(at: start)
        guard ia > shift, ia - shift <= stride + 4 else { return nil }
        geometry.startIndexBits = ia - shift
        return geometry
    }
}
