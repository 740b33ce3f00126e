extension ControlRegisters {
    /// Writes one 32-byte record at EVENTQ_PROD (IHI 0070 7.2, 7.4). Holds
    /// the caller's lock for one small guest-memory write so concurrent
    /// producers get distinct slots in order.
    mutating func enqueueEvent(_ e: EncodedEvent, memory: any GuestMemory, _ out: inout PendingSignals) -> Bool {
        guard cr0 & RegBits.EVTQEN != 0, !globalErrorActive(RegBits.EVENTQ_ABT_ERR) else { return false }
        let g = geometry(.EVENTQ_BASE)
        let prodReg = self[.EVENTQ_PROD], consReg = self[.EVENTQ_CONS]
        let prod = UInt32(truncatingIfNeeded: prodReg), cons = UInt32(truncatingIfNeeded: consReg)
        if g.isFull(prod: prod, cons: cons) {
            // 7.4: the event is lost; OVFLG toggles unless an overflow is already
            // active (OVFLG != CONS.OVACKFLG). Unlike the PRI queue, an active
            // overflow does not stop later records once there is room.
            if (prodReg ^ consReg) & RegBits.OVFLG == 0 {
                self[.EVENTQ_PROD] = prodReg ^ RegBits.OVFLG
                out.add(queueInterrupt(.eventQueue))
                eventIRQArmed = false
            }
            return false
        }
        var record = (e.w0.littleEndian, e.w1.littleEndian, e.w2.littleEndian, e.w3.littleEndian)
        let written = withUnsafeBytes(of: &record) { memory.write(at: g.address(of: prod), from: $0) }
        guard written else {
            // 7.2: an abort writing the queue is EVENTQ_ABT_ERR; the record is lost.
            out.add(raiseGlobalError(RegBits.EVENTQ_ABT_ERR))
            return false
        }
        self[.EVENTQ_PROD] = (prodReg & RegBits.OVFLG) | UInt64(g.next(prod))
        if eventIRQArmed, let irq = queueInterrupt(.eventQueue) {
            out.add(irq)
            eventIRQArmed = false
        }
        return true
    }
}

extension ControlUnit {
    /// Queues an event (EventSink). Allocation-free and log-free: a guest
    /// can cause millions of these.
    func record(_ event: EventRecord) -> Bool {
        let encoded = event.encoded()
        var out = PendingSignals()
        let queued = registers.withLock { $0.enqueueEvent(encoded, memory: memory, &out) }
        if out.first != nil { deliver(out) }
        return queued
    }
}
