
/// Translation lookaside buffer: completed translations tagged by regime,
/// VMID and ASID (IHI 0070 3.17), holding blocks of any size the walk
/// produced. Global entries (stage-1 leaf with nG == 0, in a regime with
/// ASIDs) record no ASID and match a lookup from any ASID of the same
/// regime, VMID and ASET (3.17.1).
///
/// It may hold stale entries exactly as the architecture allows: until the
/// matching TLBI. A walk that raced with an invalidation must not insert its
/// (possibly stale) result afterwards, so insertion is conditional on the
/// invalidation generation the walk started under.
///
/// At most `capacity` entries (`TLB.defaultCapacity`, 65536: 256 MiB of
/// 4 KiB pages) in 8-way sets (SetAssociativeTable): a full set replaces
/// its not-recently-used entry, O(1) per insertion.
final class TLB: @unchecked Sendable {
    /// Which translation regime an entry belongs to. `asid`/`vmid` are nil
    /// where the stage is absent (stage-2-only streams have no ASID).
    struct Tag: Hashable, Sendable {
        var el2: Bool
        var vmid: UInt16?
        var asid: UInt16?
        /// CD.ASET: matters for global entries only (3.17.1).
        var aset: Bool

        init(el2: Bool, vmid: UInt16?, asid: UInt16?, aset: Bool = false) {
            self.el2 = el2; self.vmid = vmid; self.asid = asid; self.aset = aset
        }
    }

    /// Keys are raw input-address bits (TBI-free, `keyAddress`); the entry's
    /// output is a PA.
    struct Entry: Sendable {
        var outputBase: PhysicalAddress
        var permissions: Permissions
        var stage2: Bool
    }

    /// What invalidation matches an entry on.
    struct Owner {
        var el2: Bool
        var vmid: UInt16?
        /// nil for global and for stage-2-only entries.
        var asid: UInt16?
        var global: Bool
        /// A stage-1 entry (VA input), as opposed to a stage-2-only one (IPA).
        var stage1: Bool { asid != nil || global }
    }

    static let defaultCapacity = 65536

    private struct Storage {
        var table: SetAssociativeTable<Entry>
        /// Block sizes present, as bit masks of log2 sizes, so a lookup
        /// probes only sizes that exist (global entries separately).
        var sizes: UInt64 = 0
        var globalSizes: UInt64 = 0
        /// Owners inserted since the last full flush, so an address
        /// invalidation can probe exact keys instead of scanning every entry.
        /// Bounded (a guest can mint ASID/VMID pairs without end): past
        /// `maxRecordedOwners` it is dropped and address invalidations scan
        /// until a scan finds few enough owners left to record again.
        var owners: Set<UInt64> = []
        var ownersOverflowed = false
        var generation: UInt64 = 0
    }

    /// Above this many probes an address invalidation scans instead.
    private static let maxProbes = 4096
    /// The most owners (regime, VMID, ASID, ASET, global) recorded.
    static let maxRecordedOwners = 1024

    /// How many owners are recorded (for tests of the bound).
    var recordedOwners: Int { storage.withLock { $0.owners.count } }

    let capacity: Int
    private let storage: Locked<Storage>

    init(capacity: Int = TLB.defaultCapacity) {
        let table = SetAssociativeTable<Entry>(capacity: max(capacity, 16))
        self.capacity = table.capacity
        storage = Locked(Storage(table: table))
    }

    /// The current invalidation generation; pass it back to `insert`.
    var generation: UInt64 { storage.withLock { $0.generation } }

    var count: Int { storage.withLock { $0.table.count } }

    /// Looks `address` up; on a hit returns the block's translation and
    /// whether it is a global entry (one that belongs to no ASID).
    func lookup(tag: Tag, address: UInt64) -> (entry: Entry, sizeLog2: UInt8, global: Bool)? {
        let owner = TLBKey.owner(tag, global: false)
        let globalOwner = tag.asid == nil ? nil : TLBKey.owner(tag, global: true)
        return storage.withLock { s in
            if let hit = Self.probe(&s, owner: owner, sizes: s.sizes, address: address) {
                return (hit.entry, hit.sizeLog2, false)
            }
            guard let globalOwner, s.globalSizes != 0,
                  let hit = Self.probe(&s, owner: globalOwner, sizes: s.globalSizes, address: address)
            else { return nil }
            return (hit.entry, hit.sizeLog2, true)
        }
    }

    private static func probe(_ s: inout Storage, owner: UInt64, sizes: UInt64,
                              address: UInt64) -> (entry: Entry, sizeLog2: UInt8)? {
        var sizes = sizes
        while sizes != 0 {
            let log2 = UInt8(sizes.trailingZeroBitCount)
            sizes &= sizes &- 1
            if let e = s.table.lookup(TLBKey(owner: owner, sizeLog2: log2, address: address)) { return (e, log2) }
        }
        return nil
    }

    /// Inserts a block unless an invalidation happened since `generation`
    /// (then returns false). `global`: the stage-1 leaf had nG == 0;
    /// ignored without an ASID.
    @discardableResult
    func insert(tag: Tag, global: Bool = false, inputAddress: UInt64, sizeLog2: UInt8, entry: Entry,
                generation: UInt64) -> Bool {
        guard sizeLog2 >= 12, sizeLog2 < 64 else { return false }
        let global = global && tag.asid != nil
        let owner = TLBKey.owner(tag, global: global)
        return storage.withLock { s in
            guard s.generation == generation else { return false }
            s.table.insert(TLBKey(owner: owner, sizeLog2: sizeLog2, address: inputAddress), entry)
            if global { s.globalSizes |= 1 << UInt64(sizeLog2) } else { s.sizes |= 1 << UInt64(sizeLog2) }
            guard !s.ownersOverflowed else { return true }
            if s.owners.count >= Self.maxRecordedOwners && !s.owners.contains(owner) {
                s.owners.removeAll()
                s.ownersOverflowed = true
            } else {
                s.owners.insert(owner)
            }
            return true
        }
    }

    /// Removes every entry matching `predicate` (owner, block base, block size).
    func invalidate(where predicate: @Sendable (Owner, UInt64, UInt8) -> Bool) {
        storage.withLock { s in
            s.generation &+= 1
            s.table.removeAll { key, _ in predicate(key.decodedOwner, key.base, key.sizeLog2) }
        }
    }

    func invalidateAll() {
        storage.withLock { s in
            s.generation &+= 1
            s.table.removeAll()
            s.sizes = 0
            s.globalSizes = 0
            s.owners.removeAll()
            s.ownersOverflowed = false
        }
    }

    /// Drops every block of a matching owner that overlaps [address, address+size),
    /// by probing the keys such blocks would have; falls back to a scan when
    /// the range covers too many blocks.
    private func invalidateRange(matching: @Sendable (Owner) -> Bool, address: UInt64, size: UInt64) {
        storage.withLock { s in
            s.generation &+= 1
            if s.ownersOverflowed {
                // No record of owners: scan, and rebuild the record from
                // what is left if it fits again.
                var left: Set<UInt64> = []
                var fits = true
                s.table.removeAll { key, _ in
                    if matching(key.decodedOwner) && Self.overlaps(key.base, key.sizeLog2, address, size) { return true }
                    if fits { left.insert(key.owner); fits = left.count <= Self.maxRecordedOwners }
                    return false
                }
                if fits { s.owners = left; s.ownersOverflowed = false }
                return
            }
            let owners = s.owners.filter { matching(TLBKey.decode($0)) }
            if owners.isEmpty { return }
            let last = size == 0 || address &+ (size &- 1) < address ? UInt64.max : address &+ (size &- 1)
            let allSizes = s.sizes | s.globalSizes
            var probes = 0
            var sizes = allSizes
            while sizes != 0 {
                let log2 = UInt64(sizes.trailingZeroBitCount)
                sizes &= sizes &- 1
                probes += Int(min((last >> log2) &- (address >> log2), UInt64(Self.maxProbes))) + 1
            }
            if probes * owners.count > Self.maxProbes {
                s.table.removeAll { key, _ in
                    owners.contains(key.owner) && Self.overlaps(key.base, key.sizeLog2, address, size)
                }
                return
            }
            sizes = allSizes
            while sizes != 0 {
                let log2 = UInt8(sizes.trailingZeroBitCount)
                sizes &= sizes &- 1
                var page = address >> log2
                let lastPage = last >> log2
                while true {
                    for owner in owners { s.table.remove(TLBKey(owner: owner, sizeLog2: log2, page: page)) }
                    if page >= lastPage { break }
                    page &+= 1
                }
            }
        }
    }

    /// Applies one TLBI scope.
    func invalidate(_ scope: TLBScope) {
        switch scope {
        case .allNonHyp:
            invalidate { o, _, _ in !o.el2 }
        case .allEL2:
            invalidate { o, _, _ in o.el2 }
        case .vmidStage1(let vmid):
            // 4.4.2.1: including global entries.
            invalidate { o, _, _ in !o.el2 && o.vmid == vmid && o.stage1 }
        case .vmidAll(let vmid):
            invalidate { o, _, _ in !o.el2 && o.vmid == vmid }
        case .asid(let vmid, let asid, let el2):
            // 4.4.2.2 / 4.4.2.10: non-global entries only (global ones carry
            // no ASID); 3.17.1: ASIDE1 need not invalidate global mappings.
            invalidate { o, _, _ in o.el2 == el2 && o.asid == asid && (el2 || o.vmid == vmid) }
        case .va(let vmid, let asid, let address, let size, _, let el2):
            // Leaf-only invalidation may drop non-leaf state too; we cache leaves only.
            // 4.4.2.4 / 4.4.2.8: by VA, global entries whatever ASID filled them.
            invalidateRange(matching: { o in
                o.el2 == el2 && o.stage1 && (el2 || o.vmid == vmid) && (asid == nil || o.global || o.asid == asid)
            }, address: address, size: size)
        case .ipa(let vmid, _, _, _):
            // Combined stage-1+2 entries do not remember the IPA they went
            // through, so drop every entry of the VMID (over-invalidation is allowed).
            invalidate { o, _, _ in !o.el2 && o.vmid == vmid }
        }
    }

    static func overlaps(_ base: UInt64, _ log2: UInt8, _ address: UInt64, _ size: UInt64) -> Bool {
        let blockEnd = log2 >= 64 ? UInt64.max : base &+ ((UInt64(1) << log2) &- 1)
        let rangeEnd = size == 0 ? UInt64.max : address &+ (size &- 1)
        let rangeEndClamped = rangeEnd < address ? UInt64.max : rangeEnd
        return base <= rangeEndClamped && address <= blockEnd
    }
}

extension SMMUv3 {
    /// Entries the TLB holds (8-way sets; a full set replaces its not-recently-used entry).
    public static var tlbCapacity: Int { TLB.defaultCapacity }
}
