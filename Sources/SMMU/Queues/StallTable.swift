/// Outstanding stalled transactions (IHI 0070 3.12.2): a STAG is an index
/// into a fixed table of IDR5.STALL_MAX slots holding the StreamID, so
/// CMD_RESUME can check that a STAG belongs to the StreamID it names (4.7.1).
///
/// A slot also holds its stall event record while the Event queue cannot
/// take it: stall records are never discarded (7.2.1, 7.4), so the held
/// records are bounded by STALL_MAX, oldest first, and a record goes with
/// its STAG when the stall is resumed or terminated.
struct StallTable: Sendable, Equatable {
    private var owner: [UInt32]
    private var used: [Bool]
    private var held: [EncodedEvent?]
    /// STAGs with a held record, in the order the records arose; each STAG
    /// at most once.
    private var heldOrder: [UInt16]
    private var cursor = 0
    private(set) var count = 0

    init(capacity: Int = Int(IDRegisters.stallMax)) {
        owner = Array(repeating: 0, count: capacity)
        used = Array(repeating: false, count: capacity)
        held = Array(repeating: nil, count: capacity)
        heldOrder = []
        heldOrder.reserveCapacity(capacity)
    }

    var capacity: Int { used.count }

    /// A free STAG for `streamID`, or nil when every slot is taken.
    mutating func allocate(streamID: UInt32) -> UInt16? {
        guard count < used.count else { return nil }
        for step in 0..<used.count {
            let i = (cursor + step) % used.count
            if !used[i] {
                used[i] = true; owner[i] = streamID; count += 1
                cursor = (i + 1) % used.count
                return UInt16(i)
            }
        }
        return nil
    }

    /// Frees `stag` if it is held by `streamID`; false otherwise (no-op, 4.7.1).
    /// A record not yet written is dropped with it.
    mutating func release(streamID: UInt32, stag: UInt16) -> Bool {
        let i = Int(stag)
        guard i < used.count, used[i], owner[i] == streamID else { return false }
        free(i)
        return true
    }

    /// Frees every STAG of `streamID` (CMD_STALL_TERM) or of all streams (nil).
    mutating func releaseAll(streamID: UInt32?) -> [(UInt32, UInt16)] {
        var freed: [(UInt32, UInt16)] = []
        for i in 0..<used.count where used[i] && (streamID == nil || owner[i] == streamID) {
            freed.append((owner[i], UInt16(i)))
            free(i)
        }
        return freed
    }

    /// Frees every STAG whose record is still held (not yet written).
    mutating func releaseHeld() -> [(UInt32, UInt16)] {
        let stags = heldOrder
        return stags.map { stag in
            let i = Int(stag)
            defer { free(i) }
            return (owner[i], stag)
        }
    }

    private mutating func free(_ i: Int) {
        // owner 0 keeps one form per state (the image stores used slots only)
        used[i] = false; owner[i] = 0; count -= 1
        if held[i] != nil {
            held[i] = nil
            heldOrder.removeAll { Int($0) == i }
        }
    }

    // MARK: held records

    var hasHeldRecords: Bool { !heldOrder.isEmpty }

    func isHeld(_ stag: UInt16) -> Bool { Int(stag) < held.count && held[Int(stag)] != nil }

    /// Keeps the record of an allocated `stag` until the queue can take it.
    mutating func hold(_ record: EncodedEvent, stag: UInt16) {
        let i = Int(stag)
        guard i < used.count, used[i], held[i] == nil else { return }
        held[i] = record
        heldOrder.append(stag)
    }

    /// The oldest held record.
    var oldestHeld: EncodedEvent? { heldOrder.first.flatMap { held[Int($0)] } }

    /// The oldest held record was written.
    mutating func dropOldestHeld() {
        guard !heldOrder.isEmpty else { return }
        held[Int(heldOrder.removeFirst())] = nil
    }

    // MARK: durable image (DurableState)

    func encode(into w: inout ByteWriter) {
        // Allocated slots only: the image is committed after every change,
        // and the table is almost always empty.
        w.u32(UInt32(used.count)); w.u32(UInt32(cursor)); w.u32(UInt32(count))
        for i in 0..<used.count where used[i] {
            w.u16(UInt16(i)); w.u32(owner[i])
        }
        w.u32(UInt32(heldOrder.count))
        for stag in heldOrder {
            let e = held[Int(stag)] ?? EncodedEvent()
            w.u16(stag); w.u64(e.w0); w.u64(e.w1); w.u64(e.w2); w.u64(e.w3)
        }
    }

    /// Nil when the image is not a table of `capacity` slots whose held
    /// records belong to allocated STAGs, each once. Format 1 (before
    /// DurableState format 2) listed every slot; format 2 lists the
    /// allocated ones.
    init?(decoding r: inout ByteReader, capacity: Int, format: UInt32 = DurableState.formatVersion) {
        guard Int(r.u32()) == capacity else { return nil }
        let cursor = Int(r.u32())
        guard cursor < capacity else { return nil }
        self.init(capacity: capacity)
        self.cursor = cursor
        if format == 1 {
            guard r.remaining >= capacity * 5 else { return nil }
            for i in 0..<capacity {
                let u = r.u8(), o = r.u32()
                guard u <= 1 else { return nil }
                if u == 1 { used[i] = true; owner[i] = o; count += 1 }
            }
        } else {
            let usedCount = Int(r.u32())
            guard usedCount <= capacity, r.remaining >= usedCount * 6 else { return nil }
            for _ in 0..<usedCount {
                let i = Int(r.u16())
                guard i < capacity, !used[i] else { return nil }
                used[i] = true; owner[i] = r.u32()
            }
            count = usedCount
        }
        let heldCount = Int(r.u32())
        guard heldCount <= capacity, r.remaining >= heldCount * 34 else { return nil }
        for _ in 0..<heldCount {
            let stag = r.u16()
            let e = EncodedEvent(w0: r.u64(), w1: r.u64(), w2: r.u64(), w3: r.u64())
            guard Int(stag) < capacity, used[Int(stag)], held[Int(stag)] == nil else { return nil }
            held[Int(stag)] = e
            heldOrder.append(stag)
        }
    }
}
