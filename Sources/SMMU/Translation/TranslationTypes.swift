/// What a transaction asks for.
public struct AccessType: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// A write (absent: a read).
    public static let write = AccessType(rawValue: 1 << 0)
    /// An instruction fetch.
    public static let instruction = AccessType(rawValue: 1 << 1)
    /// A privileged access.
    public static let privileged = AccessType(rawValue: 1 << 2)
}

public struct Permissions: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let read = Permissions(rawValue: 1 << 0)
    public static let write = Permissions(rawValue: 1 << 1)
    public static let execute = Permissions(rawValue: 1 << 2)
    /// The mapping allows privileged accesses (as opposed to unprivileged ones).
    public static let privilegedRead = Permissions(rawValue: 1 << 3)
    public static let privilegedWrite = Permissions(rawValue: 1 << 4)
    public static let privilegedExecute = Permissions(rawValue: 1 << 5)
    public static let all: Permissions = [.read, .write, .execute, .privilegedRead, .privilegedWrite, .privilegedExecute]

    /// Whether an access of this type is allowed.
    public func allows(_ access: AccessType) -> Bool {
        let priv = access.contains(.privileged)
        if access.contains(.instruction) { return contains(priv ? .privilegedExecute : .execute) }
        if access.contains(.write) { return contains(priv ? .privilegedWrite : .write) }
        return contains(priv ? .privilegedRead : .read)
    }
}

/// A translation request from an endpoint (or from the front end on its behalf).
public struct TranslationRequest: Sendable, Hashable {
    public var streamID: UInt32
    /// PASID / SubstreamID, nil when the transaction carries none.
    public var substreamID: UInt32?
    public var address: UInt64
    public var access: AccessType
    /// A PCIe ATS Translation Request (answered with a translation the
    /// endpoint may cache in its ATC) rather than an untranslated transaction.
    public var ats: Bool

    public init(streamID: UInt32, substreamID: UInt32? = nil, address: UInt64,
                access: AccessType = [], ats: Bool = false) {
        self.streamID = streamID; self.substreamID = substreamID
        self.address = address; self.access = access; self.ats = ats
    }
}

/// A successful translation: an aligned block of input addresses mapped to an
/// aligned block of output addresses, with the tags a cache needs to be
/// invalidated precisely.
public struct Translation: Sendable, Hashable {
    /// First input address of the block (aligned to the block size).
    public var inputBase: UInt64
    /// First output (physical) address of the block.
    public var outputBase: UInt64
    /// log2 of the block size in bytes (12 for a 4 KiB page ... 42 for bypass).
    public var sizeLog2: UInt8
    public var permissions: Permissions
    public var streamID: UInt32
    public var substreamID: UInt32?
    /// Tags of the translation regime (nil where the stage is absent).
    public var asid: UInt16?
    public var vmid: UInt16?
    /// No translation took place (STE bypass, or SMMU disabled with GBPA bypass).
    public var bypass: Bool

    public init(inputBase: UInt64, outputBase: UInt64, sizeLog2: UInt8, permissions: Permissions,
                streamID: UInt32, substreamID: UInt32? = nil, asid: UInt16? = nil, vmid: UInt16? = nil,
                bypass: Bool = false) {
        self.inputBase = inputBase; self.outputBase = outputBase; self.sizeLog2 = sizeLog2
        self.permissions = permissions; self.streamID = streamID; self.substreamID = substreamID
        self.asid = asid; self.vmid = vmid; self.bypass = bypass
    }

    public var size: UInt64 { sizeLog2 >= 64 ? .max : UInt64(1) << sizeLog2 }

    /// The output address for `address`, which must lie in the block.
    public func output(for address: UInt64) -> UInt64 {
        let mask: UInt64 = sizeLog2 >= 64 ? .max : (UInt64(1) << sizeLog2) &- 1
        return outputBase | (address & mask)
    }
}

/// Why a transaction did not translate.
public struct TranslationFault: Sendable, Hashable {
    /// The event the fault produced; nil when none was recorded (CD.R=0,
    /// STE.S2R=0, an abort STE, GBPA abort, a quiet CD, an ATS request...).
    public var event: EventRecord?
    /// Event type of the fault even when it was not recorded.
    public var type: EventType?
    /// The transaction is stalled (see HostSignals.resolveStall).
    public var stalled: Bool
    public var stag: UInt16
    public init(event: EventRecord?, type: EventType?, stalled: Bool = false, stag: UInt16 = 0) {
        self.event = event; self.type = type; self.stalled = stalled; self.stag = stag
    }
}


public enum TranslationOutcome: Sendable, Hashable {
    case translated(Translation)
    case fault(TranslationFault)
}
