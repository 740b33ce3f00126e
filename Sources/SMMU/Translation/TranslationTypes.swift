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
    /// What the transaction is, in PCIe terms (the TLP's AT field).
    public enum Kind: Sendable, Hashable {
        /// An ordinary transaction (AT = Untranslated): translated by the STE's stages.
        case untranslated
        /// A PCIe ATS Translation Request: answered with a translation the
        /// endpoint may cache in its ATC, or with an ATS completion status
        /// (`TranslationFault.atsStatus`, IHI 0070 3.9.1.2).
        case translationRequest
        /// A transaction the endpoint marked Translated (AT = Translated),
        /// carrying an address from an earlier Translation Completion: a PA,
        /// or an IPA under split-stage ATS (STE.EATS = 0b10). Checked as
        /// SMMU_CR0.ATSCHK says (3.9.1.3).
        case translated
    }

    public var streamID: UInt32
    /// PASID / SubstreamID, nil when the transaction carries none.
    public var substreamID: UInt32?
    /// The address on the bus: a VA, an IPA for stage 2 alone, or for a
    /// Translated transaction the PA (or split-stage IPA) of a completion.
    public var address: InputAddress
    public var access: AccessType
    public var kind: Kind
    /// A PCIe ATS Translation Request (`kind == .translationRequest`).
    public var ats: Bool {
        get { kind == .translationRequest }
        set { kind = newValue ? .translationRequest : .untranslated }
    }

    public init(streamID: UInt32, substreamID: UInt32? = nil, address: InputAddress,
                access: AccessType = [], ats: Bool = false) {
        self.init(streamID: streamID, substreamID: substreamID, address: address, access: access,
                  kind: ats ? .translationRequest : .untranslated)
    }

    public init(streamID: UInt32, substreamID: UInt32? = nil, address: InputAddress, access: AccessType = [],
                kind: Kind) {
        self.streamID = streamID; self.substreamID = substreamID
        self.address = address; self.access = access; self.kind = kind
    }
}

/// What a translation's block maps to: a PA, except for one answer.
public enum TranslationOutput: Sendable, Hashable {
    /// A PA: every translation but the one below.
    case physical(PhysicalAddress)
    /// An IPA: the answer to an ATS Translation Request under split-stage
    /// ATS (STE.EATS == 0b10), stage 1's output, which the endpoint sends
    /// back in Translated transactions for stage 2 to translate (13.6.3).
    case intermediate(IntermediateAddress)

    /// The address bits, for the wire and the C ABI.
    @inlinable public var raw: UInt64 {
        switch self {
        case .physical(let pa): pa.raw
        case .intermediate(let ipa): ipa.raw
        }
    }

    /// The PA; nil for a split-stage answer.
    @inlinable public var physical: PhysicalAddress? {
        if case .physical(let pa) = self { pa } else { nil }
    }

    /// The address `offset` bytes into the block starting here: the offset's
    /// bits ORed in (the base is aligned to the block, so this adds them).
    func withBlockOffset(_ offset: UInt64) -> TranslationOutput {
        switch self {
        case .physical(let pa): .physical(PhysicalAddress(pa.raw | offset))
        case .intermediate(let ipa): .intermediate(IntermediateAddress(ipa.raw | offset))
        }
    }
}

/// A successful translation: an aligned block of input addresses mapped to an
/// aligned block of output addresses, with the tags a cache needs to be
/// invalidated precisely.
public struct Translation: Sendable, Hashable {
    /// First input address of the block (aligned to the block size).
    public var inputBase: InputAddress
    /// First output address of the block: a PA, or the IPA of a split-stage
    /// ATS answer (`TranslationOutput.intermediate`).
    public var outputBase: TranslationOutput
    /// log2 of the block size in bytes (12 for a 4 KiB page ... the OAS for
    /// bypass, since addresses beyond it abort, IHI 0070 3.4).
    public var sizeLog2: UInt8
    public var permissions: Permissions
    public var streamID: UInt32
    public var substreamID: UInt32?
    /// Tags of the translation regime (nil where the stage is absent).
    public var asid: UInt16?
    public var vmid: UInt16?
    /// The stage-1 leaf was global (nG == 0, 3.17.1): the translation belongs
    /// to no ASID (`asid` is nil), so a VA invalidation of any ASID covers it
    /// and an ASID invalidation does not.
    public var global: Bool = false
    /// No translation took place (STE bypass, SMMU disabled with GBPA bypass,
    /// or a Translated transaction let through as a PA).
    public var bypass: Bool

    public init(inputBase: InputAddress, outputBase: TranslationOutput, sizeLog2: UInt8, permissions: Permissions,
                streamID: UInt32, substreamID: UInt32? = nil, asid: UInt16? = nil, vmid: UInt16? = nil,
                bypass: Bool = false) {
        self.inputBase = inputBase; self.outputBase = outputBase; self.sizeLog2 = sizeLog2
        self.permissions = permissions; self.streamID = streamID; self.substreamID = substreamID
        self.asid = asid; self.vmid = vmid; self.bypass = bypass
    }

    public var size: UInt64 { sizeLog2 >= 64 ? .max : UInt64(1) << sizeLog2 }

    /// The output address for `address`, which must lie in the block.
    public func output(for address: InputAddress) -> TranslationOutput {
        outputBase.withBlockOffset(address.offset(inBlockLog2: sizeLog2))
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
    /// For an ATS Translation Request: the status of its Translation
    /// Completion (3.9.1.2). Nil for every other kind of transaction.
    public var atsStatus: ATSCompletionStatus?
    public init(event: EventRecord?, type: EventType?, stalled: Bool = false, stag: UInt16 = 0,
                atsStatus: ATSCompletionStatus? = nil) {
        self.event = event; self.type = type; self.stalled = stalled; self.stag = stag
        self.atsStatus = atsStatus
    }
}

/// How an ATS Translation Request that yields no translation completes
/// (IHI 0070 3.9.1.2).
public enum ATSCompletionStatus: Sendable, Hashable {
    /// Success with R == W == 0 (a translation-related fault: the page is
    /// not accessible; an endpoint with PRI may ask for it to be paged in).
    case noAccess
    /// Unsupported Request: ATS is disabled for the stream (SMMUEN == 0,
    /// STE.Config == 0b000 or 0b100, effective STE.EATS == 0b00).
    case unsupportedRequest
    /// Completer Abort: a configuration error (C_BAD_STE, F_CD_FETCH, ...,
    /// F_WALK_EABT).
    case completerAbort
}

public enum TranslationOutcome: Sendable, Hashable {
    case translated(Translation)
    case fault(TranslationFault)
}
