import Synchronization

/// Translation lookaside buffer: completed translations tagged by regime,
/// VMID and ASID, holding blocks of any size the walk produced.
///
/// It may hold stale entries exactly as the architecture allows: until the
/// matching TLBI. A walk that raced with an invalidation must not insert its
/// (possibly stale) result afterwards, so insertion is conditional on the
/// invalidation generation the walk started under.
final class TLB: @unchecked Sendable {
    /// Which translation regime an entry belongs to. `asid`/`vmid` are nil
    /// where the stage is absent (stage-2-only streams have no ASID).
    struct Tag: Hashable, Sendable {
        var el2: Bool
        var vmid: UInt16?
        var asid: UInt16?
    }

    struct Entry: Sendable {
        var outputBase: UInt64
        var permissions: Permissions
        var stage2: Bool
    }

    private struct Key: Hashable {
        var tag: Tag
        var sizeLog2: UInt8
        var pageNumber: UInt64
    }

    private struct Storage {
        var entries: [Key: Entry] = [:]
        /// Block sizes present, as a bit mask of log2 sizes, so a lookup
        /// probes only sizes that exist.
        var sizes: UInt64 = 0
        /// Tags inserted since the last full flush, so an address
        /// invalidation can probe exact keys instead of scanning every entry.
        var tags: Set<Tag> = []
        var generation: UInt64 = 0
    }

    /// Above this many probes an address invalidation scans instead.
    private static let maxProbes = 4096

    let capacity: Int
    private let storage = Mutex(Storage())

    init(capacity: Int = 16384) { self.capacity = max(capacity, 16) }

    /// The current invalidation generation; pass it back to `insert`.
    var generation: UInt64 { storage.withLock { $0.generation } }

    var count: Int { storage.withLock { $0.entries.count } }

    /// Looks `address` up; on a hit returns the block's translation.
    func lookup(tag: Tag, address: UInt64) -> (entry: Entry, sizeLog2: UInt8)? {
        storage.withLock { s in
            var sizes = s.sizes
            while sizes != 0 {
                let log2 = UInt8(sizes.trailingZeroBitCount)
                sizes &= sizes &- 1
                let key = Key(tag: tag, sizeLog2: log2, pageNumber: log2 >= 64 ? 0 : address >> log2)
                if let e = s.entries[key] { return (e, log2) }
            }
            return nil
        }
    }

    /// Inserts a block unless an invalidation happened since `generation`.
    func insert(tag: Tag, inputAddress: UInt64, sizeLog2: UInt8, entry: Entry, generation: UInt64) {
        guard sizeLog2 >= 12, sizeLog2 < 64 else { return }
        storage.withLock { s in
            guard s.generation == generation else { return }
            if s.entries.count >= capacity {
                // Drop an arbitrary quarter: cheaper than LRU bookkeeping on
                // every hit, and the architecture lets a TLB forget anything.
                let victims = s.entries.keys.prefix(capacity / 4)
                for k in Array(victims) { s.entries[k] = nil }
            }
            s.entries[Key(tag: tag, sizeLog2: sizeLog2, pageNumber: inputAddress >> sizeLog2)] = entry
            s.sizes |= 1 << UInt64(sizeLog2)
            s.tags.insert(tag)
        }
    }

    /// Removes every entry matching `predicate` (tag, block base, block size).
    func invalidate(where predicate: (Tag, UInt64, UInt8, Entry) -> Bool) {
        storage.withLock { s in
            s.generation &+= 1
            s.entries = s.entries.filter { key, entry in
                !predicate(key.tag, key.pageNumber << key.sizeLog2, key.sizeLog2, entry)
            }
        }
    }

    func invalidateAll() {
        storage.withLock { s in
            s.generation &+= 1
            s.entries.removeAll(keepingCapacity: true)
            s.sizes = 0
            s.tags.removeAll()
        }
    }

    /// Drops every block of a matching tag that overlaps [address, address+size),
    /// by probing the keys such blocks would have; falls back to a scan when
    /// the range covers too many blocks.
    private func invalidateRange(tagMatches: (Tag) -> Bool, address: UInt64, size: UInt64) {
        storage.withLock { s in
            s.generation &+= 1
            let tags = s.tags.filter(tagMatches)
            if tags.isEmpty { return }
            let last = size == 0 || address &+ (size &- 1) < address ? UInt64.max : address &+ (size &- 1)
            var probes = 0
            var sizes = s.sizes
            while sizes != 0 {
                let log2 = UInt64(sizes.trailingZeroBitCount)
                sizes &= sizes &- 1
                probes += Int(min((last >> log2) &- (address >> log2), UInt64(Self.maxProbes))) + 1
            }
            if probes * tags.count > Self.maxProbes {
                s.entries = s.entries.filter { key, _ in
                    !(tagMatches(key.tag) && Self.overlaps(key.pageNumber << key.sizeLog2, key.sizeLog2, address, size))
                }
                return
            }
            sizes = s.sizes
            while sizes != 0 {
                let log2 = UInt8(sizes.trailingZeroBitCount)
                sizes &= sizes &- 1
                var page = address >> log2
                let lastPage = last >> log2
                while true {
                    for tag in tags { s.entries[Key(tag: tag, sizeLog2: log2, pageNumber: page)] = nil }
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
            invalidate { tag, _, _, _ in !tag.el2 }
        case .allEL2:
            invalidate { tag, _, _, _ in tag.el2 }
        case .vmidStage1(let vmid):
            invalidate { tag, _, _, _ in !tag.el2 && tag.vmid == vmid && tag.asid != nil }
        case .vmidAll(let vmid):
            invalidate { tag, _, _, _ in !tag.el2 && tag.vmid == vmid }
        case .asid(let vmid, let asid, let el2):
            invalidate { tag, _, _, _ in tag.el2 == el2 && tag.asid == asid && (el2 || tag.vmid == vmid) }
        case .va(let vmid, let asid, let address, let size, _, let el2):
            // Leaf-only invalidation may drop non-leaf state too; we cache leaves only.
            invalidateRange(tagMatches: { tag in
                tag.el2 == el2 && tag.asid != nil && (el2 || tag.vmid == vmid) && (asid == nil || tag.asid == asid)
            }, address: address, size: size)
        case .ipa(let vmid, _, _, _):
            // Combined stage-1+2 entries do not remember the IPA they went
            // through, so drop every entry of the VMID (over-invalidation is allowed).
            invalidate { tag, _, _, _ in !tag.el2 && tag.vmid == vmid }
        }
    }

    static func overlaps(_ base: UInt64, _ log2: UInt8, _ address: UInt64, _ size: UInt64) -> Bool {
        let blockEnd = log2 >= 64 ? UInt64.max : base &+ ((UInt64(1) << log2) &- 1)
        let rangeEnd = size == 0 ? UInt64.max : address &+ (size &- 1)
        let rangeEndClamped = rangeEnd < address ? UInt64.max : rangeEnd
        return base <= rangeEndClamped && address <= blockEnd
    }
}
