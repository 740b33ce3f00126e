/// One SMMUv3 instance: the register file and queues (`ControlUnit`) and the
/// translation path with its caches (`TranslationUnit`), reaching the world
/// only through `GuestMemory` and `HostSignals`.
///
/// Threads: `read`, `write`, `translate` and `pageRequest` may be called from
/// any thread at once. `processCommands` runs the command queue; the host
/// calls it (typically on a worker thread) after `write` reports
/// `.commandsPending`. It may block in `HostSignals.synchronize` while
/// `read` and `translate` keep being answered: command processing never
/// blocks a register read.
public final class SMMUv3: @unchecked Sendable {
    public let configuration: SMMUConfiguration
    public let memory: any GuestMemory
    public let host: any HostSignals
    let control: ControlUnit
    let translation: TranslationUnit
    let checker: DriverChecker?

    /// `checking`: check mode (docs/checker.md), reporting where the guest's
    /// driver breaks the architecture's rules.
    public init(configuration: SMMUConfiguration = .init(), memory: any GuestMemory,
                host: any HostSignals, checking: CheckOptions? = nil) throws(SMMUConfiguration.Invalid) {
        try configuration.validate()
        self.configuration = configuration
        self.memory = memory
        self.host = host
        control = ControlUnit(configuration: configuration, memory: memory, host: host)
        translation = TranslationUnit(configuration: configuration, memory: memory, host: host, events: control)
        control.caches = translation
        let translation = self.translation, control = self.control
        let checker = checking.map {
            DriverChecker(options: $0, configuration: configuration, memory: memory, tlb: translation.tlb,
                          configCache: translation.configCache)
        }
        self.checker = checker
        checker?.control = control
        control.checker = checker
        translation.checker = checker
    }

    /// Check mode's findings so far (nil when not checking).
    public var checkSummary: CheckSummary? { checker?.summary }

    /// The architected register region: 128 KiB (pages 0 and 1).
    public static let mmioSize: UInt64 = 0x20000

    /// Registers whose write nothing waits for: what it starts is seen only
    /// through later accesses (CMDQ_CONS, a CMD_SYNC's completion), never
    /// through the write itself, and writing the same value again changes
    /// nothing. A front end may post these writes. (CR0, GBPA and IRQ_CTRL
    /// have their acknowledgements, but a write there may also change what
    /// the front end caches, so it is not on this list.)
    public var postableWriteOffsets: [UInt64] {
        control.registers.withLock { [UInt64($0.layout[.CMDQ_PROD].offset)] }
    }

    /// MMIO read of `size` (4 or 8) bytes. Unimplemented or misaligned: RAZ.
    public func read(offset: UInt64, size: Int) -> UInt64 {
        control.read(offset: offset, size: size)
    }

    /// MMIO write of `size` (4 or 8) bytes. Unimplemented or misaligned: WI.
    @discardableResult
    public func write(offset: UInt64, size: Int, value: UInt64) -> MMIOWriteEffect {
        control.write(offset: offset, size: size, value: value)
    }

    /// Consumes the command queue up to CMDQ_PROD (or until an error stops it).
    public func processCommands() { control.processCommands() }

    /// Translates one transaction: untranslated, an ATS Translation Request
    /// (see `TranslationFault.atsStatus`), or an ATS Translated transaction
    /// (`TranslationRequest.Kind`).
    public func translate(_ request: TranslationRequest) -> TranslationOutcome {
        translation.translate(request)
    }

    /// Up to `limit` translations of the blocks that follow `first`, which
    /// `request` was just given, each starting where the one before ends,
    /// for a host cache to hold before its device gets there. Speculative:
    /// nothing is recorded, stalled or written, and the run stops at the
    /// first block that would fault or need an HTTU update (none for ATS,
    /// bypass, or in check mode). Filed in the TLB like any walk.
    public func translations(after first: Translation, of request: TranslationRequest,
                             limit: Int) -> [Translation] {
        translation.translationsAhead(of: request, after: first, limit: limit)
    }

    /// A PCIe page request (or stop marker) from an endpoint. An automatic
    /// response goes to `HostSignals.deliverPageResponse` unless
    /// `deliverResponse` is false (the caller then delivers the one returned).
    public func pageRequest(_ request: PageRequest, deliverResponse: Bool = true) -> PageRequestOutcome {
        control.pageRequest(request, deliverResponse: deliverResponse)
    }

    /// Tells the model what an endpoint supports (for ATS, PRI and PASID checks).
    public func registerEndpoint(_ endpoint: Endpoint) { translation.registerEndpoint(endpoint) }

    /// Back to the reset state: registers, queues, caches (guest memory untouched).
    public func reset() {
        control.reset()
        translation.invalidateStreams(nil)
        checker?.reset()
    }

    // MARK: durability (docs/backend.md, "Restart")

    /// Makes this model durable: `sink` gets the image of the state that is
    /// not in guest memory (`DurableState`) after every change to it, under
    /// the model's lock and before anything the change causes can be
    /// observed, so the last image given is never behind what the guest or
    /// the host saw. The sink must not call the model. Call once, before
    /// the model is used.
    public func makeDurable(_ sink: @escaping @Sendable (DurableState) -> Void) {
        control.durable = sink
        sink(control.durableState)
    }

    /// The image of the state now.
    public var durableState: DurableState { control.durableState }

    /// Carries on from an image a durable model left (a backend that
    /// crashed or was replaced): registers, queue pointers, errors,
    /// interrupt arming and stalls as they were; caches start empty and
    /// every host-side cache is invalidated; effects the old model may not
    /// have delivered are delivered now (at least once). Call on a new
    /// model before any other use, then `makeDurable` to keep it durable
    /// (until then the old image stays the last one recorded, so a kill in
    /// between only repeats the adoption). `.commandsPending` when the image has commands left to
    /// consume (the old model died in the middle of a batch): call
    /// `processCommands()`.
    @discardableResult
    public func adopt(_ state: DurableState) -> MMIOWriteEffect {
        translation.invalidateStreams(nil)
        let effect = control.adopt(state)
        host.invalidate(.all)
        return effect
    }

    /// STEs and CDs read from guest memory so far, CDs by table format.
    public var configurationFetches: ConfigurationFetches { translation.fetches.snapshot }

    /// The register snapshot the translation path uses (for hosts that want
    /// to know whether translation is enabled at all).
    public var controlState: ControlState { control.controlState }
}

public struct MMIOWriteEffect: OptionSet, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// CMDQ_PROD moved (or the queue was enabled) with commands to consume:
    /// call `processCommands()`.
    public static let commandsPending = MMIOWriteEffect(rawValue: 1 << 0)
}

/// A PCIe Page Request Message (or a stop marker: read = write = false,
/// last = true, with a PASID).
public struct PageRequest: Sendable, Hashable {
    public var streamID: UInt32
    public var substreamID: UInt32?
    /// The page asked for: an untranslated address, like a transaction's.
    public var address: InputAddress
    public var read: Bool
    public var write: Bool
    public var execute: Bool
    public var privileged: Bool
    /// Last request of its page request group (L).
    public var last: Bool
    public var prgIndex: UInt16
    public init(streamID: UInt32, substreamID: UInt32? = nil, address: InputAddress, read: Bool, write: Bool,
                execute: Bool = false, privileged: Bool = false, last: Bool, prgIndex: UInt16) {
        self.streamID = streamID; self.substreamID = substreamID; self.address = address
        self.read = read; self.write = write; self.execute = execute; self.privileged = privileged
        self.last = last; self.prgIndex = prgIndex
    }
    public var isStopMarker: Bool { !read && !write && last && substreamID != nil }
}

public enum PageRequestOutcome: Sendable, Equatable {
    /// Written to the PRI queue.
    case queued
    /// Answered at once (also delivered through HostSignals.deliverPageResponse
    /// unless the caller asked to deliver it itself):
    /// Success for an L=1 request while the PRI queue is in overflow (8.1),
    /// Response Failure for any request while the effective PRIQEN is 0
    /// (PRIQEN=0 or SMMUEN=0) or PRIQ_ABT_ERR is active (8.2).
    case autoResponded(PageResponse)
    /// Dropped: queue overflow (L=0 or stop marker), a stop marker while the
    /// queue is disabled, or no PRI in this SMMU.
    case dropped
}

/// An endpoint behind the SMMU and the PCIe capabilities it has.
public struct Endpoint: Sendable, Hashable {
    public var streamID: UInt32
    public var ats: Bool
    public var pri: Bool
    /// PASID width in bits (0: no PASID).
    public var pasidBits: UInt8
    public init(streamID: UInt32, ats: Bool = false, pri: Bool = false, pasidBits: UInt8 = 0) {
        self.streamID = streamID; self.ats = ats; self.pri = pri; self.pasidBits = pasidBits
    }
}
