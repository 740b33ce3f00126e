@testable import SMMU

/// Guest RAM for table tests: one zeroed region at `base`.
final class TableTestMemory {
    static let base: UInt64 = 0x4000_0000
    let size: UInt64
    let memory = RegionGuestMemory()
    private let buffer: UnsafeMutableRawPointer

    init(size: UInt64 = 4 << 20) {
        self.size = size
        buffer = UnsafeMutableRawPointer.allocate(byteCount: Int(size), alignment: 65536)
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: Int(size))
        try! memory.add(.init(guestAddress: PhysicalAddress(Self.base), size: size, host: buffer))
    }
    deinit { buffer.deallocate() }

    func write(_ words: [UInt64], at address: UInt64) {
        precondition(memory.writeWords(at: PhysicalAddress(address), words))
    }
}

/// A 64-byte descriptor built field by field through the model's own
/// layouts (`STE.Fields`, `CD.Fields`), so a test names a field, never its
/// bits. The layouts themselves are checked against the spec's text in
/// FieldLayoutTests.
struct DescriptorImage: MutableBitRecord {
    var words = [UInt64](repeating: 0, count: 8)
    func word(_ i: Int) -> UInt64 { words[i] }
    mutating func setWord(_ i: Int, _ value: UInt64) { words[i] = value }
}

/// Builders of valid STEs (IHI 0070 5.2).
extension STE {
    /// A valid stage-1-only STE.
    static func stage1(contextPtr: IntermediateAddress, cdMax: UInt8 = 0, fmt: S1Fmt = .linear,
                       dss: S1DSS = .terminate) -> DescriptorImage {
        var d = DescriptorImage()
        d.set(Fields.v)
        d.set(Fields.config, .stage1)
        d.set(Fields.s1ContextPtr, contextPtr)
        d.set(Fields.s1CDMax, cdMax)
        d.set(Fields.s1Fmt, fmt)
        d.set(Fields.s1DSS, dss)
        return d
    }

    /// Adds valid stage-2 fields: 4KB granule, 40-bit IPA (S2T0SZ=24) from
    /// level 1 (S2SL0=0b01), 48-bit S2PS, AArch64, recording faults.
    static func addStage2(_ d: inout DescriptorImage, ttb: PhysicalAddress, vmid: UInt16 = 5, t0sz: UInt8 = 24,
                          sl0: UInt8 = 1, tg: S2TG = .size4K, ps: S2PS = .bits48) {
        d.set(Fields.s2VMID, vmid)
        d.set(Fields.s2T0SZ, t0sz)
        d.set(Fields.s2SL0, sl0)
        d.set(Fields.s2TG, tg)
        d.set(Fields.s2PS, ps)
        d.set(Fields.s2AA64)
        d.set(Fields.s2R)
        d.set(Fields.s2TTB, ttb)
    }

    static func stage2(ttb: PhysicalAddress, t0sz: UInt8 = 24, sl0: UInt8 = 1, tg: S2TG = .size4K,
                       ps: S2PS = .bits48) -> DescriptorImage {
        var d = DescriptorImage()
        d.set(Fields.v)
        d.set(Fields.config, .stage2)
        addStage2(&d, ttb: ttb, t0sz: t0sz, sl0: sl0, tg: tg, ps: ps)
        return d
    }

    static func nested(contextPtr: IntermediateAddress, ttb: PhysicalAddress) -> DescriptorImage {
        var d = stage1(contextPtr: contextPtr)
        d.set(Fields.config, .nested)
        addStage2(&d, ttb: ttb)
        return d
    }
}

/// Builders of valid CDs (IHI 0070 5.4).
extension CD {
    /// A valid CD as Linux writes it: both halves 48-bit 4KB (T1 disabled),
    /// IPS 48 bits, AA64, R, A, ASID.
    static func valid(ttb0: IntermediateAddress, asid: UInt16 = 7) -> DescriptorImage {
        var d = DescriptorImage()
        d.set(Fields.v)
        d.set(Fields.t0sz, 16)
        d.set(Fields.tg0, .size4K)
        d.set(Fields.epd1)
        d.set(Fields.ips, .bits48)
        d.set(Fields.aa64)
        d.set(Fields.r)
        d.set(Fields.a)
        d.set(Fields.asid, asid)
        d.set(Fields.ttb0, ttb0)
        return d
    }

    /// The "quiet" CD of a PASID being torn down: both walks disabled, no
    /// fault recording.
    static func quiet(asid: UInt16 = 9) -> DescriptorImage {
        var d = DescriptorImage()
        d.set(Fields.v)
        d.set(Fields.epd0)
        d.set(Fields.epd1)
        d.set(Fields.aa64)
        d.set(Fields.a)
        d.set(Fields.asid, asid)
        return d
    }
}

extension ControlState {
    static func linear(base: UInt64, log2Size: UInt8, recordInvalid: Bool = true) -> ControlState {
        var c = ControlState()
        c.smmuEnabled = true
        c.streamTableBase = PhysicalAddress(base)
        c.streamTableLog2Size = log2Size
        c.recordInvalidStreamID = recordInvalid
        return c
    }

    static func twoLevel(base: UInt64, log2Size: UInt8, split: UInt8) -> ControlState {
        var c = linear(base: base, log2Size: log2Size)
        c.streamTableTwoLevel = true
        c.streamTableSplit = split
        return c
    }
}

extension Result {
    var failureValue: Failure? {
        if case .failure(let f) = self { return f }
        return nil
    }
    var successValue: Success? {
        if case .success(let s) = self { return s }
        return nil
    }
}

/// A copy of `base` with `change` applied (one ILLEGAL field per test case).
func with(_ base: DescriptorImage, _ change: (inout DescriptorImage) -> Void) -> DescriptorImage {
    var d = base
    change(&d)
    return d
}

/// The default configuration with `change` applied.
func config(_ change: (inout SMMUConfiguration) -> Void) -> SMMUConfiguration {
    var c = SMMUConfiguration()
    change(&c)
    return c
}
