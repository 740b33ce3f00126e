/// A 16-byte PRI queue record (IHI 0070 8.2) as two little-endian words,
/// written through `PageRequest.Fields`.
struct EncodedPageRequest: MutableBitRecord, Sendable, Equatable {
    var w0: UInt64 = 0, w1: UInt64 = 0

    func word(_ i: Int) -> UInt64 { i == 0 ? w0 : w1 }
    mutating func setWord(_ i: Int, _ value: UInt64) {
        if i == 0 { w0 = value } else { w1 = value }
    }

    init(_ r: PageRequest) {
        typealias F = PageRequest.Fields
        set(F.streamID, r.streamID)
        if let ssid = r.substreamID {
            set(F.ssv)
            set(F.substreamID, ssid)
            // 8.0: "When SSV == 0, the X and Priv bits are both 0."
            set(F.priv, r.privileged)
            set(F.x, r.execute)
        }
        set(F.r, r.read)
        set(F.w, r.write)
        set(F.last, r.last)
        set(F.prgIndex, r.prgIndex)
        set(F.pageAddress, r.address)
    }

    var last: Bool { self[PageRequest.Fields.last] }
}

/// `queued`: the PROD pointer the record was written at.
enum PRIEnqueueResult { case queued(UInt32), overflow, dropped }

extension ControlRegisters {
    /// Writes one PRI record at PRIQ_PROD, or reports the overflow condition
    /// of 8.1: while it is active (OVFLG != CONS.OVACKFLG) nothing is written.
    mutating func enqueuePageRequest(_ r: EncodedPageRequest, memory: any GuestMemory,
                                     _ out: inout PendingSignals) -> PRIEnqueueResult {
        // 6.3.9.5, 6.3.9.6: the effective PRIQEN is 0 while SMMUEN == 0.
        guard cr0 & (RegBits.PRIQEN | RegBits.SMMUEN) == RegBits.PRIQEN | RegBits.SMMUEN,
              !globalErrorActive(RegBits.PRIQ_ABT_ERR) else { return .dropped }
        let g = geometry(.PRIQ_BASE)
        let prodReg = self[.PRIQ_PROD], consReg = self[.PRIQ_CONS]
        // 6.3.36 LO == 1: interrupt for each message with L == 1, written or
        // discarded by overflow, and for nothing else.
        let lastOnly = self[.PRIQ_IRQ_CFG2] & RegBits.PRIQ_LO != 0
        let last = r.last
        if (prodReg ^ consReg) & RegBits.OVFLG != 0 {
            if lastOnly && last { out.add(queueInterrupt(.priQueue)) }
            return .overflow
        }
        let prod = UInt32(truncatingIfNeeded: prodReg), cons = UInt32(truncatingIfNeeded: consReg)
        if g.isFull(prod: prod, cons: cons) {
            // 8.1: a message arriving at a full queue activates the overflow condition.
            self[.PRIQ_PROD] = prodReg ^ RegBits.OVFLG
            if !lastOnly || last { out.add(queueInterrupt(.priQueue)) }
            priIRQArmed = false
            return .overflow
        }
        var record = (r.w0.littleEndian, r.w1.littleEndian)
        let written = withUnsafeBytes(of: &record) { memory.write(at: g.address(of: prod), from: $0) }
        guard written else {
            out.add(raiseGlobalError(RegBits.PRIQ_ABT_ERR))
            return .dropped
        }
        self[.PRIQ_PROD] = (prodReg & RegBits.OVFLG) | UInt64(g.next(prod))
        if lastOnly {
            if last { out.add(queueInterrupt(.priQueue)) }
        } else if priIRQArmed, let irq = queueInterrupt(.priQueue) {
            // LO == 0: the empty to non-empty transition.
            out.add(irq)
            priIRQArmed = false
        }
        return .queued(prod & g.pointerMask)
    }
}

extension ControlUnit {
    /// A page request or stop marker from an endpoint (IHI 0070 chapter 8).
    /// `deliverResponse`: whether an automatic response also goes to
    /// HostSignals.deliverPageResponse (false: the caller delivers it).
    func pageRequest(_ request: PageRequest, deliverResponse: Bool = true) -> PageRequestOutcome {
        guard configuration.pri else { return .dropped }
        var normalized = request
        if configuration.substreamIDBits == 0 { normalized.substreamID = nil }
        let result = mutateAndDeliver { r, out in
            r.enqueuePageRequest(EncodedPageRequest(normalized), memory: memory, &out)
        }
        switch result {
        case .queued(let pointer):
            checker?.pageRequestQueued(normalized, at: pointer)
            return .queued
        case .dropped:
            // 8.2: with effective PRIQEN == 0 or PRIQ_ABT_ERR active, every PPR (not a
            // stop marker) gets an automatic Response Failure without PASID.
            guard !normalized.isStopMarker else { return .dropped }
            let response = PageResponse(streamID: normalized.streamID, substreamID: nil,
                                        prgIndex: normalized.prgIndex & 0x1FF, code: .failure)
            if deliverResponse { host.deliverPageResponse(response) }
            return .autoResponded(response)
        case .overflow:
            // 8.1: stop markers and L == 0 requests are discarded silently; a
            // request with L == 1 gets an automatic Success response. With
            // IDR3.PPS == 1 (set whenever PRI and PASIDs are supported) the
            // response carries the request's PASID and STE.PPAR is not checked.
            guard normalized.last, !normalized.isStopMarker else { return .dropped }
            let response = PageResponse(streamID: normalized.streamID, substreamID: normalized.substreamID,
                                        prgIndex: normalized.prgIndex & 0x1FF, code: .success)
            if deliverResponse { host.deliverPageResponse(response) }
            return .autoResponded(response)
        }
    }
}
