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
        try! memory.add(.init(guestAddress: Self.base, size: size, host: buffer))
    }
    deinit { buffer.deallocate() }

    func write(_ words: [UInt64], at address: UInt64) {
        precondition(memory.writeWords(at: address, words))
    }
}

/// A 64-byte descriptor built field by field from the spec's bit numbering
/// (bit n of the structure is bit n%64 of 64-bit word n/64).
struct DescriptorImage {
    var words = [UInt64](repeating: 0, count: 8)

    mutating func set(_ field: (hi: Int, lo: Int), _ value: UInt64) {
        for i in 0...(field.hi - field.lo) {
            let n = field.lo + i
            let bit = (value >> UInt64(i)) & 1
            words[n / 64] = (words[n / 64] & ~(UInt64(1) << UInt64(n % 64))) | (bit << UInt64(n % 64))
        }
    }
    mutating func set(_ bit: Int, _ on: Bool = true) { set((bit, bit), on ? 1 : 0) }
}

/// STE field positions, IHI 0070 section 5.2.
enum STE {
    static let V = 0
    static let Config = (hi: 3, lo: 1)
    static let S1Fmt = (hi: 5, lo: 4)
    static let S1ContextPtr = (hi: 55, lo: 6)      // address bits [55:6]
    static let S1CDMax = (hi: 63, lo: 59)
    static let S1DSS = (hi: 65, lo: 64)
    static let PPAR = 82, MEV = 83, S1STALLD = 91
    static let EATS = (hi: 93, lo: 92)
    static let STRW = (hi: 95, lo: 94)
    static let S2VMID = (hi: 143, lo: 128)
    static let S2T0SZ = (hi: 165, lo: 160)
    static let S2SL0 = (hi: 167, lo: 166)
    static let S2TG = (hi: 175, lo: 174)
    static let S2PS = (hi: 178, lo: 176)
    static let S2AA64 = 179, S2ENDI = 180, S2AFFD = 181, S2PTW = 182, S2HD = 183, S2HA = 184, S2S = 185, S2R = 186
    static let S2TTB = (hi: 243, lo: 196)           // address bits [51:4]

    static let configAbort: UInt64 = 0b000, configBypass: UInt64 = 0b100
    static let configS1: UInt64 = 0b101, configS2: UInt64 = 0b110, configNested: UInt64 = 0b111
    static let tg4K: UInt64 = 0b00, tg64K: UInt64 = 0b01, tg16K: UInt64 = 0b10

    /// A valid stage-1-only STE.
    static func stage1(contextPtr: UInt64, cdMax: UInt64 = 0, fmt: UInt64 = 0, dss: UInt64 = 0) -> DescriptorImage {
        var d = DescriptorImage()
        d.set(V)
        d.set(Config, configS1)
        d.set(S1ContextPtr, contextPtr >> 6)
        d.set(S1CDMax, cdMax)
        d.set(S1Fmt, fmt)
        d.set(S1DSS, dss)
        return d
    }

    /// Adds valid stage-2 fields: 4KB granule, 40-bit IPA (S2T0SZ=24) from
    /// level 1 (S2SL0=0b01), 48-bit S2PS, AArch64, recording faults.
    static func addStage2(_ d: inout DescriptorImage, ttb: UInt64, vmid: UInt64 = 5, t0sz: UInt64 = 24,
                          sl0: UInt64 = 1, tg: UInt64 = tg4K, ps: UInt64 = 0b101) {
        d.set(S2VMID, vmid)
        d.set(S2T0SZ, t0sz)
        d.set(S2SL0, sl0)
        d.set(S2TG, tg)
        d.set(S2PS, ps)
        d.set(S2AA64)
        d.set(S2R)
        d.set(S2TTB, ttb >> 4)
    }

    static func stage2(ttb: UInt64, t0sz: UInt64 = 24, sl0: UInt64 = 1, tg: UInt64 = tg4K,
                       ps: UInt64 = 0b101) -> DescriptorImage {
        var d = DescriptorImage()
        d.set(V)
        d.set(Config, configS2)
        addStage2(&d, ttb: ttb, t0sz: t0sz, sl0: sl0, tg: tg, ps: ps)
        return d
    }

    static func nested(contextPtr: UInt64, ttb: UInt64) -> DescriptorImage {
        var d = stage1(contextPtr: contextPtr)
        d.set(Config, configNested)
        addStage2(&d, ttb: ttb)
        return d
    }
}

/// CD field positions, IHI 0070 section 5.4.
enum CD {
    static let T0SZ = (hi: 5, lo: 0)
    static let TG0 = (hi: 7, lo: 6)
    static let EPD0 = 14, ENDI = 15
    static let T1SZ = (hi: 21, lo: 16)
    static let TG1 = (hi: 23, lo: 22)
    static let EPD1 = 30, V = 31
    static let IPS = (hi: 34, lo: 32)
    static let AFFD = 35, WXN = 36, UWXN = 37, TBI0 = 38, TBI1 = 39, PAN = 40, AA64 = 41
    static let HD = 42, HA = 43, S = 44, R = 45, A = 46
    static let ASID = (hi: 63, lo: 48)
    static let TTB0 = (hi: 115, lo: 68)             // address bits [51:4]
    static let TTB1 = (hi: 179, lo: 132)
    static let MAIR0 = (hi: 223, lo: 192), MAIR1 = (hi: 255, lo: 224)

    // TG0 and TG1 encode granules differently (5.4).
    static let tg0_4K: UInt64 = 0b00, tg0_64K: UInt64 = 0b01, tg0_16K: UInt64 = 0b10
    static let tg1_16K: UInt64 = 0b01, tg1_4K: UInt64 = 0b10, tg1_64K: UInt64 = 0b11

    /// A valid CD as Linux writes it: both halves 48-bit 4KB (T1 disabled),
    /// IPS 48 bits, AA64, R, A, ASID.
    static func valid(ttb0: UInt64, asid: UInt64 = 7) -> DescriptorImage {
        var d = DescriptorImage()
        d.set(V)
        d.set(T0SZ, 16)
        d.set(TG0, tg0_4K)
        d.set(EPD1)
        d.set(IPS, 0b101)
        d.set(AA64)
        d.set(R)
        d.set(A)
        d.set(ASID, asid)
        d.set(TTB0, ttb0 >> 4)
        return d
    }

    /// The "quiet" CD of a PASID being torn down: both walks disabled, no
    /// fault recording.
    static func quiet(asid: UInt64 = 9) -> DescriptorImage {
        var d = DescriptorImage()
        d.set(V)
        d.set(EPD0)
        d.set(EPD1)
        d.set(AA64)
        d.set(A)
        d.set(ASID, asid)
        return d
    }
}

extension ControlState {
    static func linear(base: UInt64, log2Size: UInt8, recordInvalid: Bool = true) -> ControlState {
        var c = ControlState()
        c.smmuEnabled = true
        c.streamTableBase = base
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
