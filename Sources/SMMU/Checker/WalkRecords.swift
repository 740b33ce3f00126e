/// What the checker keeps about each translation the model cached (a TLB
/// entry, rule `tlbi`) or handed to an endpoint's ATC (rule `atc-inv`): enough
/// to walk the tables again and compare.

/// The inputs of the walk that produced a translation.
struct WalkInputs: Sendable {
    var address: InputAddress
    var access: AccessType
    var stage1: Stage1Regime?
    var stage2: Stage2TableConfig?
}

/// A TLB entry as the TLB keys it.
struct WalkKey: Hashable, Sendable {
    /// The entry's owner: no ASID for a global entry.
    var tag: TLB.Tag
    var global: Bool
    var base: UInt64
    var sizeLog2: UInt8

    init(tag: TLB.Tag, global: Bool, keyAddress: UInt64, sizeLog2: UInt8) {
        let global = global && tag.asid != nil
        var owner = tag
        if global { owner.asid = nil }
        self.tag = owner; self.global = global; self.sizeLog2 = sizeLog2
        let mask = sizeLog2 >= 64 ? UInt64.max : (UInt64(1) << sizeLog2) &- 1
        base = keyAddress & ~mask
    }
}

/// A cached translation as the walk made it.
struct CachedWalk: Sendable {
    /// The lookup that finds the entry again (with the ASID of the stream
    /// that filled it, also for a global entry).
    var lookupTag: TLB.Tag
    var lookupAddress: UInt64
    var tags: CachedTranslationTags
    var inputs: WalkInputs
    var outputBase: PhysicalAddress
    var permissions: Permissions
    /// The leaf descriptor the walk read and where (nil: not from a walk).
    var leafAddress: PhysicalAddress?
    var leafDescriptor: UInt64 = 0
}

/// How a cached translation compares with the tables in memory now.
enum Staleness: Equatable {
    case current
    /// The walk now faults: the mapping was removed.
    case removed(String)
    /// The walk now gives another output address or fewer permissions.
    case changed(String)

    var isStale: Bool { self != .current }
    var observed: String {
        switch self {
        case .current: "unchanged"
        case .removed(let s), .changed(let s): s
        }
    }

    /// Walks `walk.inputs` again, with the access that made the entry
    /// (a write-only stage-2 page faults a read), without side effects
    /// (CheckerMemory takes a hardware update as done), and compares. An
    /// access flag cleared since (HA = 0) is not a change: software may
    /// clear AF without invalidating (the entry only stays "young").
    static func of(_ walk: CachedWalk, memory: CheckerMemory) -> Staleness {
        let access = walk.inputs.access
        let expected = walk.outputBase &+ walk.inputs.address.offset(inBlockLog2: walk.tags.sizeLog2)
        switch PageTableWalker.walk(address: walk.inputs.address, access: access, stage1: walk.inputs.stage1,
                                    stage2: walk.inputs.stage2, memory: memory) {
        case .success(let now):
            if now.outputAddress != expected {
                return .changed("cached \(walk.inputs.address) -> \(expected) (\(walk.permissions.letters)); "
                    + "the tables now map it to \(now.outputAddress)")
            }
            if !now.permissions.isSuperset(of: walk.permissions) {
                return .changed("cached \(walk.inputs.address) -> \(expected) with \(walk.permissions.letters); "
                    + "the tables now allow only \(now.permissions.letters)")
            }
            return .current
        case .failure(let fault):
            if fault.type == .F_ACCESS { return .current }
            return .removed("cached \(walk.inputs.address) -> \(expected) (\(walk.permissions.letters)); "
                + "a walk now gives \(fault.type) at level \(fault.level)\(fault.stage2 ? " of stage 2" : "")")
        }
    }
}

/// Rule `tlbi` state of one TLB entry.
struct WalkRecord: Sendable {
    var walk: CachedWalk
    /// The CMD_SYNC count when the entry was first seen stale.
    var staleSince: UInt64?
    /// A TLBI of the entry's regime (any address) was consumed after that.
    var regimeInvalidatedSince = false
    /// Set at a CMD_SYNC at which the entry was stale and no TLBI had
    /// covered it: a later use is the violation.
    var violation: (commandIndex: UInt32, observed: String)?
    var reported = false
}

/// Rule `atc-inv` state of one translation an ATS Translation Request returned.
struct ATSRecord: Sendable {
    var walk: CachedWalk
    /// CMD_SYNC count when a TLBI covering it was consumed.
    var invalidatedAtSync: UInt64?
    /// A CMD_ATC_INV of the same stream that did not cover it came after.
    var atcInvalidatedSince = false
}

struct ATSKey: Hashable, Sendable {
    var streamID: UInt32
    var substreamID: UInt32?
    var base: UInt64
    var sizeLog2: UInt8
}

extension Permissions {
    /// "rwx" style, privileged bits ignored.
    var letters: String {
        (contains(.read) ? "r" : "-") + (contains(.write) ? "w" : "-") + (contains(.execute) ? "x" : "-")
    }
}
