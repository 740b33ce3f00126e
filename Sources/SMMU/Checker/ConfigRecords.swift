/// What the checker keeps about each STE and CD it has seen (rules `cfgi`,
/// `hitless`, `pasid-reuse`).

enum ConfigKey: Hashable, Sendable {
    case stream(UInt32)
    case context(UInt32, UInt32)

    var streamID: UInt32 {
        switch self { case .stream(let s), .context(let s, _): s }
    }
    var substreamID: UInt32? {
        if case .context(_, let ssid) = self { return ssid }
        return nil
    }
}

/// An STE or CD as decoded, in the bits the SMMU uses for it: the decoders
/// keep only the fields the entry's own configuration uses (an STE in
/// bypass keeps no stage fields), so two observations compare equal exactly
/// when they configure the same thing.
enum ObservedConfig: Hashable, Sendable {
    /// V == 0, or not reachable (no table, an invalid L1 descriptor). Break
    /// before make passes through this state, which is allowed.
    case absent
    /// V == 1 but ILLEGAL.
    case illegal
    case stream(StreamConfig)
    case context(ContextDescriptor)

    var isValid: Bool {
        switch self { case .stream, .context: true; case .absent, .illegal: false }
    }

    /// The address space a CD gives its substream (rule `pasid-reuse`).
    var addressSpace: AddressSpaceIdentity? {
        guard case .context(let cd) = self else { return nil }
        return AddressSpaceIdentity(asid: cd.asid, ttb0: cd.ttb0?.tableBase.raw, ttb1: cd.ttb1?.tableBase.raw)
    }

    var summary: String {
        switch self {
        case .absent: "invalid (V == 0 or unreachable)"
        case .illegal: "ILLEGAL"
        case .stream(let s):
            switch s.mode {
            case .abort: "valid: abort"
            case .bypass: "valid: bypass"
            case .translate:
                "valid: translate" + (s.stage1.map { " S1ContextPtr=\($0.contextPointer) S1CDMax=\($0.cdMaxBits)" } ?? "")
                    + (s.stage2.map { " S2VMID=\($0.vmid)" } ?? "")
            }
        case .context(let cd):
            "valid: ASID=\(cd.asid) TTB0=\(cd.ttb0.map { "\($0.tableBase)" } ?? "disabled")"
                + " TTB1=\(cd.ttb1.map { "\($0.tableBase)" } ?? "disabled")"
                + " R=\(cd.recordFaults ? 1 : 0) S=\(cd.stallFaults ? 1 : 0) A=\(cd.abortOnFault ? 1 : 0)"
        }
    }
}

struct AddressSpaceIdentity: Hashable, Sendable {
    var asid: UInt16
    var ttb0: UInt64?
    var ttb1: UInt64?
}

/// One STE or CD between invalidations.
struct ConfigRecord: Sendable {
    /// What it was at the last CFGI covering it (or when first seen).
    var anchor: ObservedConfig
    /// Other states seen since, in order (bounded).
    var interim: [ObservedConfig] = []
    /// For each interim state, at how many CMD_SYNCs it was seen.
    var interimSyncs: [Int] = []
    /// The value the configuration cache holds, if it holds one.
    var cached: ObservedConfig?
    /// Rule `cfgi`: the CMD_SYNC count when memory was first seen not to
    /// match the cached value, and whether a CFGI that left the entry out
    /// was consumed after that (the driver is past invalidating it).
    var staleSince: UInt64?
    var otherCFGISinceStale = false
    /// Set at a CMD_SYNC after both: a later use of the cached value is the
    /// violation.
    var staleAtSync: (commandIndex: UInt32, observed: String)?
    var staleReported = false
    /// The last valid CD's address space (rule `pasid-reuse`).
    var lastAddressSpace: AddressSpaceIdentity?

    static let maxInterim = 4

    /// Keeps `o` if it is a state other than the anchor (and counts the
    /// CMD_SYNCs it is seen at, `atSync`); whether the record changed.
    @discardableResult
    mutating func observe(_ o: ObservedConfig, atSync: Bool = false) -> Bool {
        guard o != anchor else { return false }
        if let i = interim.firstIndex(of: o) {
            guard atSync else { return false }
            interimSyncs[i] += 1
            return true
        }
        guard interim.count < Self.maxInterim else { return false }
        interim.append(o)
        interimSyncs.append(atSync ? 1 : 0)
        return true
    }

    /// The interim states a torn update can explain: seen at most at one
    /// CMD_SYNC. A state that stayed through two was a whole configuration
    /// the driver left without invalidating it: rule cfgi's case.
    var transientInterim: [ObservedConfig] {
        zip(interim, interimSyncs).filter { $0.1 < 2 }.map(\.0)
    }
}

/// Page requests the SMMU queued and what became of them (rule `pasid-reuse`).
struct PRITracker: Sendable {
    struct Queued: Sendable {
        var pointer: UInt32
        var prgIndex: UInt16
    }
    struct Group: Hashable, Sendable {
        var streamID: UInt32
        var prgIndex: UInt16
    }
    /// Records written to the PRI queue, per (StreamID, SubstreamID), by PROD pointer.
    var queued: [ConfigKey: [Queued]] = [:]
    /// Complete groups (a request with L = 1 queued) with no CMD_PRI_RESP yet,
    /// and the SubstreamID they came with.
    var awaitingResponse: [Group: UInt32?] = [:]

    /// Records queued and groups awaiting a response that are tracked at
    /// most (each is bounded by what the PRI queue holds between two
    /// prunes, but a guest need not prune: it may never send a command).
    static let maxQueued = 65536, maxAwaiting = 65536
    private(set) var queuedCount = 0
    /// Requests not tracked because a bound was reached.
    private(set) var untracked = 0

    /// Whether a prune is due: when the count doubled since the last one
    /// (from half the bound), so that records software has not consumed do
    /// not make every new one prune.
    var needsPrune: Bool { queuedCount >= nextPrune }
    private var nextPrune = maxQueued / 2

    mutating func queued(_ r: PageRequest, at pointer: UInt32) {
        if r.last && !r.isStopMarker {
            let g = Group(streamID: r.streamID, prgIndex: r.prgIndex)
            if awaitingResponse[g] != nil || awaitingResponse.count < Self.maxAwaiting {
                awaitingResponse[g] = .some(r.substreamID)
            } else {
                untracked += 1
            }
        }
        guard let ssid = r.substreamID else { return }
        guard queuedCount < Self.maxQueued else { untracked += 1; return }
        queued[.context(r.streamID, ssid), default: []].append(Queued(pointer: pointer, prgIndex: r.prgIndex))
        queuedCount += 1
    }

    mutating func responded(_ r: PageResponse) {
        let g = Group(streamID: r.streamID, prgIndex: r.prgIndex)
        guard let ssid = awaitingResponse[g] else { return }
        if r.substreamID == nil || ssid == nil || ssid == r.substreamID { awaitingResponse[g] = nil }
    }

    /// Forgets records software has consumed: those no longer between
    /// PRIQ_CONS and PRIQ_PROD (all of them while the queue is disabled).
    mutating func prune(_ q: PRIQueueSnapshot) {
        var count = 0
        for (key, list) in queued {
            let left = list.filter { q.holds($0.pointer) }
            queued[key] = left.isEmpty ? nil : left
            count += left.count
        }
        queuedCount = count
        nextPrune = max(Self.maxQueued / 2, min(count * 2, Self.maxQueued))
    }

    /// What is outstanding for one (StreamID, SubstreamID).
    func outstanding(streamID: UInt32, substreamID: UInt32) -> (inQueue: Int, unanswered: [UInt16]) {
        let inQueue = queued[.context(streamID, substreamID)]?.count ?? 0
        let groups = awaitingResponse.filter { $0.key.streamID == streamID && $0.value == substreamID }
            .map(\.key.prgIndex).sorted()
        return (inQueue, groups)
    }
}

/// PRIQ_PROD, PRIQ_CONS and the queue's geometry at one instant.
struct PRIQueueSnapshot: Sendable {
    var enabled: Bool
    var geometry: QueueGeometry
    var prod: UInt32
    var cons: UInt32

    /// Whether the record written at `pointer` is still unconsumed.
    func holds(_ pointer: UInt32) -> Bool {
        guard enabled else { return false }
        let g = geometry
        return g.count(prod: pointer, cons: cons) < g.count(prod: prod, cons: cons)
    }
}
