/// The three kinds of address the SMMU handles (IHI 0070 3.4), each its own
/// type so that one cannot be passed where another is meant: an input
/// address where guest memory wants a PA, a stage-1 table pointer (an IPA)
/// where stage 2's walk wants its own (a PA). The idea of rust-vmm
/// vm-memory's `GuestAddress` and of Linux's separate `dma_addr_t` and
/// `phys_addr_t`: a `UInt64` in a one-field struct, free at run time.
///
/// * `InputAddress`: the address a transaction arrives with (the spec's
///   "input address", an event's InputAddr): a VA when stage 1 translates,
///   an IPA when it is bypassed, a PA for an ATS-translated transaction.
/// * `IntermediateAddress`: an IPA, stage 1's output and stage 2's input.
///   Stage 1's tables and CDs live in IPA space (5.2 S1ContextPtr, 5.4 TTB0).
/// * `PhysicalAddress`: a PA, the final output address, and the only kind
///   guest memory is read and written at (tables, queues, MSIs).
///
/// One kind becomes another only through a walk or a conversion named after
/// the rule of 3.4 that allows it: `IntermediateAddress(bypassingStage1:)`,
/// `PhysicalAddress(bypassingStage2:)`, `PhysicalAddress(bypassingTranslation:)`.
/// `init(_:)` takes the bits of a register, a descriptor field, a wire
/// message or a C struct; `.raw` gives them back. Integer literals convert
/// too (a literal is not a variable of the wrong kind); a `UInt64` value
/// never does implicitly.
public protocol SMMUAddress: RawRepresentable<UInt64>, Hashable, Comparable, Sendable,
                             CustomStringConvertible, ExpressibleByIntegerLiteral {
    init(_ raw: UInt64)
}

extension SMMUAddress {
    @inlinable @inline(__always) public var raw: UInt64 { rawValue }
    @inlinable @inline(__always) public init(integerLiteral value: UInt64) { self.init(value) }
    @inlinable @inline(__always) public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "0x" + String(rawValue, radix: 16) }

    // Offsets. Guest-controlled bases use `&+` or `adding(_:)`; `+` is for
    // sums that cannot overflow, and traps like `+` on integers if one does.

    /// `offset` bytes on; traps past 2^64 - 1.
    @inlinable @inline(__always) public static func + (a: Self, offset: UInt64) -> Self { Self(a.rawValue + offset) }
    /// `offset` bytes on, modulo 2^64 (the table and queue arithmetic of
    /// the spec, whose callers bound or check the result).
    @inlinable @inline(__always) public static func &+ (a: Self, offset: UInt64) -> Self { Self(a.rawValue &+ offset) }
    /// `offset` bytes on, or nil past 2^64 - 1 (vm-memory's `checked_add`).
    @inlinable @inline(__always) public func adding(_ offset: UInt64) -> Self? {
        let (sum, overflow) = rawValue.addingReportingOverflow(offset)
        return overflow ? nil : Self(sum)
    }
    /// The bytes from `base` up to `a`; traps if `base` is above `a`.
    @inlinable @inline(__always) public static func - (a: Self, base: Self) -> UInt64 { a.rawValue - base.rawValue }

    // Alignment and address sizes.

    /// Rounded down to a multiple of 2^log2 (0 for log2 >= 64).
    @inlinable @inline(__always) public func alignedDown(log2: UInt8) -> Self {
        log2 >= 64 ? Self(0) : Self(rawValue & ~((1 << UInt64(log2)) &- 1))
    }
    @inlinable @inline(__always) public func isAligned(log2: UInt8) -> Bool { self == alignedDown(log2: log2) }
    /// The offset into the 2^log2-byte block holding the address (all of it for log2 >= 64).
    @inlinable @inline(__always) public func offset(inBlockLog2 log2: UInt8) -> UInt64 {
        log2 >= 64 ? rawValue : rawValue & ((1 << UInt64(log2)) &- 1)
    }
    /// Whether the address fits in `bits` bits (an address size check, 3.4).
    @inlinable @inline(__always) public func fits(bits: UInt8) -> Bool { bits >= 64 || rawValue >> UInt64(bits) == 0 }
}

/// The address of a transaction as it arrives (IHI 0070 3.4.1 "input
/// address"): translated by stage 1 when it does, otherwise an IPA for
/// stage 2 (`IntermediateAddress(bypassingStage1:)`) or, with no
/// translation, the PA (`PhysicalAddress(bypassingTranslation:)`).
public struct InputAddress: SMMUAddress {
    public let rawValue: UInt64
    @inlinable @inline(__always) public init(rawValue: UInt64) { self.rawValue = rawValue }
    @inlinable @inline(__always) public init(_ raw: UInt64) { rawValue = raw }
}

/// An intermediate physical address (IPA): what stage 1 outputs and stage 2
/// translates. STE.S1ContextPtr, L1CD.L2Ptr and CD.TTB0/TTB1 point into IPA
/// space (5.2, 5.3, 5.4); where stage 2 does not translate, an IPA is used
/// as the PA (`PhysicalAddress(bypassingStage2:)`).
public struct IntermediateAddress: SMMUAddress {
    public let rawValue: UInt64
    @inlinable @inline(__always) public init(rawValue: UInt64) { self.rawValue = rawValue }
    @inlinable @inline(__always) public init(_ raw: UInt64) { rawValue = raw }

    /// 3.4: "If bypassing stage 1 ..., the input address is passed directly
    /// to stage 2 as the IPA" (the IAS check is the caller's). Also the
    /// address of a Translated transaction under split-stage ATS, whose
    /// stage 1 the endpoint's ATC did (13.6.3).
    @inlinable @inline(__always) public init(bypassingStage1 input: InputAddress) { rawValue = input.rawValue }
}

/// A physical address (PA): what guest memory is read and written at, and
/// the output of a full translation. STRTAB_BASE, L1STD.L2Ptr, the queue
/// bases, MSI addresses and STE.S2TTB are PAs (6.3, 5.1, 5.2).
public struct PhysicalAddress: SMMUAddress {
    public let rawValue: UInt64
    @inlinable @inline(__always) public init(rawValue: UInt64) { self.rawValue = rawValue }
    @inlinable @inline(__always) public init(_ raw: UInt64) { rawValue = raw }

    /// 3.4: "If bypassing stage 2 ..., the IPA is presented directly as the
    /// PA output address". So are stage-1 table, CD and L1CD addresses when
    /// stage 2 is not enabled: those are "fetched from PA space" (5.4). The
    /// truncation to the OAS that 3.4 allows never applies here: IAS == OAS
    /// and every IPA the model passes was checked against it.
    @inlinable @inline(__always) public init(bypassingStage2 ipa: IntermediateAddress) { rawValue = ipa.rawValue }

    /// 3.4: with SMMUEN == 0 or an STE bypassing both stages "the input
    /// address is presented directly to the output PA"; an ATS-translated
    /// transaction carries a PA (3.9.1). The OAS check is the caller's.
    @inlinable @inline(__always) public init(bypassingTranslation input: InputAddress) { rawValue = input.rawValue }
}
