import SMMU

/// The entries of one of FrontEndShadow's caches, indexed so that an
/// invalidation of a few pages looks at the entries near them instead of
/// all of them: a strict unmap is a TLBI of one page per CMD_SYNC, and the
/// shadow may hold thousands of translations.
///
/// Untagged entries of at most 64 KiB, aligned to their size, are kept by
/// the 64 KiB-aligned region of their base; larger blocks, bypass entries,
/// TBI-tagged ones (whose raw base is not what an invalidation's range is
/// compared with) and any unaligned one are few, and are looked at every
/// time.
struct ShadowEntries {
    private static let regionLog2: UInt64 = 16
    /// An invalidation spanning more regions than this scans everything.
    private static let maxRegionsProbed: UInt64 = 256

    private var byRegion: [UInt64: [FrontEndShadow.Entry]] = [:]
    private(set) var others: Set<FrontEndShadow.Entry> = []
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    private static func region(of e: FrontEndShadow.Entry) -> UInt64? {
        // Only a block aligned to its size lies within one region.
        guard e.tags.sizeLog2 <= regionLog2, !e.tags.bypass, !e.tags.tagged,
              e.tags.inputBase & ((UInt64(1) << e.tags.sizeLog2) &- 1) == 0 else { return nil }
        return e.tags.inputBase >> regionLog2
    }

    mutating func insert(_ e: FrontEndShadow.Entry) {
        guard let r = Self.region(of: e) else {
            if others.insert(e).inserted { count += 1 }
            return
        }
        if byRegion[r, default: []].contains(e) { return }
        byRegion[r, default: []].append(e)
        count += 1
    }

    mutating func removeAll() {
        byRegion = [:]; others = []; count = 0
    }

    /// Removes the entries `inv` covers in `cache`; whether there were any.
    mutating func remove(coveredBy inv: HostInvalidation, in cache: HostCache) -> Bool {
        let before = count
        if let regions = Self.regions(touchedBy: inv) {
            for r in regions { removeCovered(inRegion: r, inv, cache) }
        } else {
            for r in Array(byRegion.keys) { removeCovered(inRegion: r, inv, cache) }
        }
        if others.contains(where: { inv.covers($0.tags, in: cache) }) {
            let kept = others.filter { !inv.covers($0.tags, in: cache) }
            count -= others.count - kept.count
            others = kept
        }
        return count != before
    }

    /// Whether an entry that is not kept by region (a TBI-tagged one among
    /// them) satisfies `predicate`.
    func containsOther(where predicate: (FrontEndShadow.Entry) -> Bool) -> Bool {
        others.contains(where: predicate)
    }

    private mutating func removeCovered(inRegion r: UInt64, _ inv: HostInvalidation, _ cache: HostCache) {
        guard var entries = byRegion[r], entries.contains(where: { inv.covers($0.tags, in: cache) }) else { return }
        let n = entries.count
        entries.removeAll { inv.covers($0.tags, in: cache) }
        guard entries.count != n else { return }
        count -= n - entries.count
        byRegion[r] = entries.isEmpty ? nil : entries
    }

    /// The regions an address-ranged invalidation can touch, when few
    /// enough to look up one by one; nil to look at every region.
    private static func regions(touchedBy inv: HostInvalidation) -> ClosedRange<UInt64>? {
        let address: UInt64, size: UInt64
        switch inv {
        case .address(_, _, let a, let s): (address, size) = (a, s)
        case .atc(_, _, let a, let s, _): (address, size) = (a, s)
        default: return nil
        }
        // Size 0 is 2^64; a range past the top wraps: everything.
        guard size != 0, address &+ (size &- 1) >= address else { return nil }
        let first = address >> regionLog2, last = (address &+ (size &- 1)) >> regionLog2
        return last - first < maxRegionsProbed ? first...last : nil
    }
}
