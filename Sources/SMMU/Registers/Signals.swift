/// An interrupt decided under the register lock and delivered after it is
/// released (host calls never run under the lock).
enum InterruptSignal: Sendable, Equatable {
    case wired(SMMUInterruptLine)
    /// `source`: whose MSI it is (an abort activates that source's MSI_*_ABT_ERR).
    case msi(address: PhysicalAddress, data: UInt32, source: SMMUInterruptLine)
}

/// Everything a register access or queue write asks of the host, collected
/// under the lock. Fixed size: no allocation on the event path.
struct PendingSignals: Sendable {
    var first: InterruptSignal?
    var second: InterruptSignal?
    var third: InterruptSignal?
    /// SMMUEN or GBPA changed: host-side caches of bypass/translations are stale.
    var invalidateAll = false
    var effect: MMIOWriteEffect = []
    /// Stalls terminated by the access (SMMUEN 1 -> 0); empty does not allocate.
    var terminatedStalls: [(UInt32, UInt16)] = []
    /// Stalls a consumed command resolved (CMD_RESUME, CMD_STALL_TERM, or a
    /// CMD_SYNC retrying held records) and page responses it sent
    /// (CMD_PRI_RESP): delivered once the command's consumption is recorded.
    var resolvedStalls: [(streamID: UInt32, stag: UInt16, retry: Bool)] = []
    var pageResponses: [PageResponse] = []
    /// What a consumed command does to the stall table, applied under the
    /// lock with the CONS update (so an image never has one without the other).
    var stallUpdate: StallUpdate?

    mutating func add(_ s: InterruptSignal?) {
        guard let s else { return }
        if first == nil { first = s } else if second == nil { second = s } else { third = s }
    }
    // Delivered by ControlUnit.deliver(_:), which handles MSI aborts.

    /// What is delivered to the host, in delivery order (the durable
    /// model's outbox entries).
    var effects: [Outbox.Effect] {
        var e: [Outbox.Effect] = []
        if invalidateAll { e.append(.invalidateAll) }
        for s in [first, second, third] { if let s { e.append(.signal(s)) } }
        for (sid, stag) in terminatedStalls { e.append(.stallResolved(streamID: sid, stag: stag, retry: false)) }
        for s in resolvedStalls { e.append(.stallResolved(streamID: s.streamID, stag: s.stag, retry: s.retry)) }
        for p in pageResponses { e.append(.pageResponse(p)) }
        return e
    }

    var isEmpty: Bool {
        !invalidateAll && first == nil && terminatedStalls.isEmpty && resolvedStalls.isEmpty && pageResponses.isEmpty
    }
}

/// A consumed command's change to the stall table (4.7.1, 4.7.2, 7.2.1).
enum StallUpdate: Sendable {
    case resume(streamID: UInt32, stag: UInt16, retry: Bool)
    case terminate(streamID: UInt32)
    /// CMD_SYNC: stalls whose records are still held are retried.
    case retryHeld
}

extension ControlRegisters {
    mutating func apply(_ update: StallUpdate, _ out: inout PendingSignals) {
        switch update {
        case .resume(let sid, let stag, let retry):
            // 4.7.1: an unknown STAG, or one of another stream, is a no-op.
            if stalls.release(streamID: sid, stag: stag) { out.resolvedStalls.append((sid, stag, retry)) }
        case .terminate(let sid):
            for (s, stag) in stalls.releaseAll(streamID: sid) { out.resolvedStalls.append((s, stag, false)) }
        case .retryHeld:
            for (s, stag) in stalls.releaseHeld() { out.resolvedStalls.append((s, stag, true)) }
        }
    }
}
