/// A fixed-capacity map from TLB keys, set-associative like a hardware TLB:
/// a key's block number selects one set of `ways` slots, so lookup,
/// insertion and removal by key touch one set (a few adjacent cache lines)
/// however many entries there are, and a full set makes room within itself:
/// not-recently-used replacement, a reference bit per slot set by each hit,
/// all cleared when every way has been used (CLOCK within the set). Nothing
/// is ever rebuilt; scans walk the slot array.
///
/// Which entry goes only matters for the hit rate: an SMMU need not cache
/// anything (IHI 0070 16.2).
struct SetAssociativeTable<Value> {
    private struct Slot {
        var key: TLBKey
        var value: Value
        var referenced: Bool
    }

    static var ways: Int { 8 }
    /// No real key has every owner bit set (TLBKey leaves bits [39:37] zero).
    private static var empty: TLBKey { TLBKey(meta: .max, page: .max) }

    /// Sets * ways: `capacity` rounded up to a power of two.
    let capacity: Int
    private let setMask: UInt64
    /// Allocated on the first insertion.
    private var slots: [Slot] = []
    private(set) var count = 0

    init(capacity: Int) {
        var sets = 1
        while sets * Self.ways < capacity { sets <<= 1 }
        self.capacity = sets * Self.ways
        setMask = UInt64(sets - 1)
    }

    /// Consecutive blocks of one owner fall in consecutive sets (so n
    /// consecutive pages fit whenever n <= capacity); the owner shifts the
    /// start so that different ASIDs do not pile onto the same sets.
    @inline(__always)
    private func firstSlot(_ key: TLBKey) -> Int {
        let salt = (key.meta &* 0x9E37_79B9_7F4A_7C15) >> 40
        return Int(truncatingIfNeeded: (key.page &+ salt) & setMask) &* Self.ways
    }

    /// The value for `key`, marking it recently used.
    mutating func lookup(_ key: TLBKey) -> Value? {
        guard !slots.isEmpty else { return nil }
        let base = firstSlot(key)
        for i in base..<base + Self.ways where slots[i].key == key {
            if !slots[i].referenced { slots[i].referenced = true }
            return slots[i].value
        }
        return nil
    }

    mutating func insert(_ key: TLBKey, _ value: Value) {
        if slots.isEmpty {
            slots = Array(repeating: Slot(key: Self.empty, value: value, referenced: false), count: capacity)
        }
        let base = firstSlot(key)
        var free = -1, unreferenced = -1
        for i in base..<base + Self.ways {
            if slots[i].key == key {
                slots[i].value = value
                return
            }
            if slots[i].key == Self.empty {
                if free < 0 { free = i }
            } else if !slots[i].referenced && unreferenced < 0 {
                unreferenced = i
            }
        }
        var target = free >= 0 ? free : unreferenced
        if free >= 0 { count += 1 }
        if target < 0 {
            // Every way used since the last sweep of this set: start over.
            for i in base..<base + Self.ways { slots[i].referenced = false }
            target = base + Int(truncatingIfNeeded: key.page & UInt64(Self.ways - 1))
        }
        // The translation that filled it is a use.
        slots[target] = Slot(key: key, value: value, referenced: true)
    }

    mutating func remove(_ key: TLBKey) {
        guard !slots.isEmpty else { return }
        let base = firstSlot(key)
        for i in base..<base + Self.ways where slots[i].key == key {
            slots[i].key = Self.empty
            count -= 1
            return
        }
    }

    /// Removes every entry for which `predicate` holds: one pass over the slots.
    mutating func removeAll(where predicate: (TLBKey, Value) -> Bool) {
        guard count > 0 else { return }
        for i in slots.indices where slots[i].key != Self.empty && predicate(slots[i].key, slots[i].value) {
            slots[i].key = Self.empty
            count -= 1
        }
    }

    mutating func removeAll() {
        guard count > 0 else { return }
        for i in slots.indices { slots[i].key = Self.empty }
        count = 0
    }
}
