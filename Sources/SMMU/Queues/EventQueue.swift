/// What became of one attempt to write an event record (7.2.1: the queue is
/// writable when enabled, not full and without EVENTQ_ABT_ERR).
enum EventWrite { case written, full, unwritable, aborted }

extension ControlRegisters {
    /// Queues an event that is not a stall record (IHI 0070 7.2, 7.4): held
    /// stall records go first; if the queue is full the event is lost and
    /// OVFLG toggles unless an overflow is already active (OVFLG !=
    /// CONS.OVACKFLG). Unlike the PRI queue, an active overflow does not stop
    /// later records once there is room. Disabled: discarded, no overflow.
    mutating func enqueueEvent(_ e: EncodedEvent, memory: any GuestMemory, _ out: inout PendingSignals) -> Bool {
        writeHeldStallRecords(memory: memory, &out)
        switch writeEvent(e, memory: memory, &out) {
        case .written:
            return true
        case .full:
            // 7.4: a held stall record leaves the queue full without an overflow;
            // this discarded record is one.
            let prodReg = self[.EVENTQ_PROD], consReg = self[.EVENTQ_CONS]
            if (prodReg ^ consReg) & RegBits.OVFLG == 0 {
                self[.EVENTQ_PROD] = prodReg ^ RegBits.OVFLG
                out.add(queueInterrupt(.eventQueue))
                eventIRQArmed = false
            }
            return false
        case .unwritable, .aborted:
            return false
        }
    }

    /// Writes one 32-byte record at EVENTQ_PROD if the queue is writable.
    /// Holds the caller's lock for one small guest-memory write so concurrent
    /// producers get distinct slots in order.
    mutating func writeEvent(_ e: EncodedEvent, memory: any GuestMemory, _ out: inout PendingSignals) -> EventWrite {
        guard cr0 & RegBits.EVTQEN != 0, !globalErrorActive(RegBits.EVENTQ_ABT_ERR) else { return .unwritable }
        let g = geometry(.EVENTQ_BASE)
        let prodReg = self[.EVENTQ_PROD]
        let prod = UInt32(truncatingIfNeeded: prodReg), cons = UInt32(truncatingIfNeeded: self[.EVENTQ_CONS])
        if g.isFull(prod: prod, cons: cons) { return .full }
        var record = (e.w0.littleEndian, e.w1.littleEndian, e.w2.littleEndian, e.w3.littleEndian)
        let written = withUnsafeBytes(of: &record) { memory.write(at: g.address(of: prod), from: $0) }
        guard written else {
            // 7.2.2: an abort writing the queue is EVENTQ_ABT_ERR; the record is lost.
            out.add(raiseGlobalError(RegBits.EVENTQ_ABT_ERR))
            return .aborted
        }
        self[.EVENTQ_PROD] = (prodReg & RegBits.OVFLG) | UInt64(g.next(prod))
        if eventIRQArmed, let irq = queueInterrupt(.eventQueue) {
            out.add(irq)
            eventIRQArmed = false
        }
        return .written
    }
}

extension ControlUnit {
    /// Queues an event (EventSink). Allocation-free and log-free: a guest
    /// can cause millions of these.
    func record(_ event: EventRecord) -> Bool {
        let encoded = event.encoded()
        return mutateAndDeliver { r, out in r.enqueueEvent(encoded, memory: memory, &out) }
    }
}
