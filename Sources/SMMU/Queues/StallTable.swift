/// Outstanding stalled transactions (IHI 0070 3.12.2): a STAG is an index
/// into a fixed table of IDR5.STALL_MAX slots holding the StreamID, so
/// CMD_RESUME can check that a STAG belongs to the StreamID it names (4.7.1).
///
/// A slot also holds its stall event record while the Event queue cannot
/// take it: stall records are never discarded (7.2.1, 7.4), so the held
/// records are bounded by STALL_MAX, oldest first, and a record goes with
/// its STAG when the stall is resumed or terminated.
struct StallTable: Sendable {
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
        used[i] = false; count -= 1
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
}
