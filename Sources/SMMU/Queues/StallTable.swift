/// Outstanding stalled transactions (IHI 0070 3.12.2): a STAG is an index
/// into a fixed table of IDR5.STALL_MAX slots holding the StreamID, so
/// CMD_RESUME can check that a STAG belongs to the StreamID it names (4.7.1).
struct StallTable: Sendable {
    private var owner: [UInt32]
    private var used: [Bool]
    private var cursor = 0
    private(set) var count = 0

    init(capacity: Int = Int(IDRegisters.stallMax)) {
        owner = Array(repeating: 0, count: capacity)
        used = Array(repeating: false, count: capacity)
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
    mutating func release(streamID: UInt32, stag: UInt16) -> Bool {
        let i = Int(stag)
        guard i < used.count, used[i], owner[i] == streamID else { return false }
        used[i] = false; count -= 1
        return true
    }

    /// Frees every STAG of `streamID` (CMD_STALL_TERM) or of all streams (nil).
    mutating func releaseAll(streamID: UInt32?) -> [(UInt32, UInt16)] {
        var freed: [(UInt32, UInt16)] = []
        for i in 0..<used.count where used[i] && (streamID == nil || owner[i] == streamID) {
            used[i] = false; count -= 1
            freed.append((owner[i], UInt16(i)))
        }
        return freed
    }
}
