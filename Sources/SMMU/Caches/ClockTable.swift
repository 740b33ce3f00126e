/// A map of at most `capacity` entries that makes room by CLOCK (second
/// chance). Entries live in a slot array indexed by a key -> slot
/// dictionary, so lookup, insertion and removal by key cost one dictionary
/// operation and a scan walks the array. A hit sets the slot's reference bit;
/// to make room, the hand clears set bits as it passes and replaces the first
/// slot whose bit was clear, giving up after `maxSweep` slots and replacing
/// the one under the hand: every insertion is O(1), never a rebuild.
///
/// Which entry goes only matters for the hit rate: a TLB may drop any entry
/// at any time (IHI 0070 16.2: an SMMU need not cache anything).
struct ClockTable<Key: Hashable, Value> {
    private struct Slot {
        var key: Key
        var value: Value
        var referenced: Bool
        var live: Bool
    }

    let capacity: Int
    private var slots: [Slot] = []
    private var index: [Key: Int] = [:]
    /// Slots emptied by removal, reused before anything is evicted.
    private var free: [Int] = []
    private var hand = 0

    /// Reference bits cleared per eviction at most (bounds the worst insert).
    static var maxSweep: Int { 64 }

    init(capacity: Int) { self.capacity = max(1, capacity) }

    var count: Int { index.count }

    /// The value for `key`, marking it recently used.
    mutating func lookup(_ key: Key) -> Value? {
        guard let i = index[key] else { return nil }
        if !slots[i].referenced { slots[i].referenced = true }
        return slots[i].value
    }

    mutating func insert(_ key: Key, _ value: Value) {
        if let i = index[key] {
            slots[i].value = value
            return
        }
        let slot = Slot(key: key, value: value, referenced: false, live: true)
        if let i = free.popLast() {
            slots[i] = slot
            index[key] = i
        } else if slots.count < capacity {
            index[key] = slots.count
            slots.append(slot)
        } else {
            // No free slot and the array is full: every slot is live.
            let i = victim()
            index[slots[i].key] = nil
            slots[i] = slot
            index[key] = i
        }
    }

    private mutating func victim() -> Int {
        for _ in 0..<Self.maxSweep {
            let i = hand
            hand = hand + 1 == slots.count ? 0 : hand + 1
            if !slots[i].referenced { return i }
            slots[i].referenced = false
        }
        let i = hand
        hand = hand + 1 == slots.count ? 0 : hand + 1
        return i
    }

    mutating func remove(_ key: Key) {
        guard let i = index.removeValue(forKey: key) else { return }
        slots[i].live = false
        free.append(i)
    }

    /// Removes every entry for which `predicate` holds: one pass over the slots.
    mutating func removeAll(where predicate: (Key, Value) -> Bool) {
        for i in slots.indices where slots[i].live && predicate(slots[i].key, slots[i].value) {
            index[slots[i].key] = nil
            slots[i].live = false
            free.append(i)
        }
    }

    mutating func removeAll() {
        slots.removeAll(keepingCapacity: true)
        index.removeAll(keepingCapacity: true)
        free.removeAll(keepingCapacity: true)
        hand = 0
    }
}
