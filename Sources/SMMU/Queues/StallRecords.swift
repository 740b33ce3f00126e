/// Stalled faults and their event records (IHI 0070 3.12.2, 7.2.1, 7.4).
extension ControlRegisters {
    /// A stalled faulting transaction takes a STAG and records its event with
    /// Stall = 1 and the STAG. A record the Event queue cannot take now (full,
    /// disabled, or EVENTQ_ABT_ERR) is held, not discarded, causes no
    /// overflow, and is written when the queue is next writable; the
    /// transaction stays stalled meanwhile. Nil: it cannot stall (no free
    /// STAG, or SMMUEN == 0: 6.3.9.6 "no new transactions can become
    /// stalled") and terminates instead.
    mutating func stall(_ event: EventRecord, memory: any GuestMemory,
                        _ out: inout PendingSignals) -> (stag: UInt16, recorded: Bool)? {
        guard cr0 & RegBits.SMMUEN != 0, let stag = stalls.allocate(streamID: event.streamID) else { return nil }
        var e = event
        e.stall = true; e.stag = stag
        // Behind any older held record, so records keep their order.
        stalls.hold(e.encoded(), stag: stag)
        writeHeldStallRecords(memory: memory, &out)
        return (stag, !stalls.isHeld(stag))
    }

    /// Writes held stall records, oldest first, while the queue takes them.
    /// Called after every register write (CONS moving, EVENTQEN set or
    /// EVENTQ_ABT_ERR acknowledged make the queue writable again) and before
    /// any new record. A write that aborts raises EVENTQ_ABT_ERR (7.2.2) and
    /// keeps the record for the next attempt after the acknowledgement; each
    /// attempt needs a register write, so a bad queue cannot make this spin.
    mutating func writeHeldStallRecords(memory: any GuestMemory, _ out: inout PendingSignals) {
        while let record = stalls.oldestHeld {
            guard writeEvent(record, memory: memory, &out) == .written else { return }
            stalls.dropOldestHeld()
        }
    }
}

extension ControlUnit {
    /// A stalled fault (see `ControlRegisters.stall`); nil with the
    /// terminate-only stall model.
    func stall(_ event: EventRecord) -> (stag: UInt16, recorded: Bool)? {
        guard configuration.stallModel != .terminateOnly else { return nil }
        return mutateAndDeliver { r, out in r.stall(event, memory: memory, &out) }
    }

}
