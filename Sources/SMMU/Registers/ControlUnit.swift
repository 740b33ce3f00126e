
/// The register file, command/event/PRI queues, GERROR and interrupts
/// (IHI 0070 chapters 4, 6.3, 7, 8).
///
/// Locks: `registers` guards every register value and queue pointer, and
/// the stall table with its held stall records; it is
/// held for a register access, one queue record write, or one command's
/// bookkeeping, never across HostSignals calls or command execution.
/// `published` holds the ControlState snapshot the translation path reads;
/// it is only written under `registers`, so snapshots follow register order.
/// `runner` makes sure one thread at a time consumes the command queue.
final class ControlUnit: EventSink, @unchecked Sendable {
    let configuration: SMMUConfiguration
    let memory: any GuestMemory
    let host: any HostSignals
    weak var caches: (any CacheMaintenance)?
    /// Check mode (nil: off).
    var checker: DriverChecker?
    /// Durable model: given every new image under the lock (nil: not
    /// durable, no images, no outbox). Set before the model is used.
    var durable: (@Sendable (DurableState) -> Void)?
    let ids: IDRegisters

    let registers: Locked<ControlRegisters>
    private let published = Locked(ControlState())
    let runner = Locked(CommandRunnerState())

    init(configuration: SMMUConfiguration, memory: any GuestMemory, host: any HostSignals) {
        self.configuration = configuration; self.memory = memory; self.host = host
        ids = IDRegisters(configuration)
        registers = Locked(ControlRegisters(layout: RegisterLayout(ids: ids), configuration: configuration))
    }

    var controlState: ControlState { published.withLock { $0 } }

    // MARK: MMIO

    /// Valid accesses: 4 or 8 bytes, naturally aligned, inside pages 0 and 1.
    private func valid(_ offset: UInt64, _ size: Int) -> Bool {
        (size == 4 || size == 8) && offset % UInt64(size) == 0 && offset &+ UInt64(size) <= SMMUv3.mmioSize
    }

    func read(offset: UInt64, size: Int) -> UInt64 {
        guard valid(offset, size) else { return 0 }
        let o = UInt32(offset)
        return registers.withLock { r in
            size == 4 ? UInt64(r.read32(o)) : UInt64(r.read32(o)) | UInt64(r.read32(o + 4)) << 32
        }
    }

    func write(offset: UInt64, size: Int, value: UInt64) -> MMIOWriteEffect {
        guard valid(offset, size) else { return [] }
        let o = UInt32(offset)
        var violation: CheckReport?
        let effect = mutateAndDeliver { r, out in
            if let checker, let (reg, _) = r.layout.slots[o] {
                violation = checker.registerWrite(reg, offset: o, value: size == 4 ? value & 0xFFFF_FFFF : value, before: r)
            }
            r.write32(o, UInt32(truncatingIfNeeded: value), &out)
            if size == 8 { r.write32(o + 4, UInt32(truncatingIfNeeded: value >> 32), &out) }
            // The write may have made the Event queue writable (7.2.1).
            if r.stalls.hasHeldRecords { r.writeHeldStallRecords(memory: memory, &out) }
            publish(r)
            return out.effect
        }
        if let violation { checker?.emit([violation]) }
        return effect
    }

    // MARK: changes, their images and their effects

    /// Runs `body` under the register lock. In a durable model the host
    /// gets the new image before the lock is released: nothing the change
    /// causes can be observed before it is recorded.
    func mutate<T>(_ body: (inout ControlRegisters) -> T) -> T {
        registers.withLock { r in
            let v = body(&r)
            if let durable { durable(DurableState(r)) }
            return v
        }
    }

    /// `mutate` for a change with effects, which are delivered once the
    /// lock is released. In a durable model they are entered in the
    /// change's own image and removed once delivered, so a model that
    /// adopts the image delivers whatever may not have been.
    func mutateAndDeliver<T>(_ body: (inout ControlRegisters, inout PendingSignals) -> T) -> T {
        var out = PendingSignals()
        var ids: Range<UInt64> = 0..<0
        let v = mutate { r in
            let v = body(&r, &out)
            if durable != nil && !out.isEmpty { ids = r.outbox.enter(out.effects) }
            return v
        }
        if !out.isEmpty { deliver(out) }
        if !ids.isEmpty { mutate { $0.outbox.remove(ids) } }
        return v
    }

    /// The PRI queue's pointers now (for check mode).
    func priQueueSnapshot() -> PRIQueueSnapshot {
        registers.withLock { r in
            PRIQueueSnapshot(enabled: r.cr0 & RegBits.PRIQEN != 0, geometry: r.geometry(.PRIQ_BASE),
                             prod: UInt32(truncatingIfNeeded: r[.PRIQ_PROD]),
                             cons: UInt32(truncatingIfNeeded: r[.PRIQ_CONS]))
        }
    }

    /// Called with `registers` held.
    private func publish(_ r: ControlRegisters) {
        let s = r.controlState
        published.withLock { if $0 != s { $0 = s } }
    }

    func deliver(_ out: PendingSignals) {
        for e in out.effects { deliver(e) }
    }

    func deliver(_ effect: Outbox.Effect) {
        switch effect {
        case .invalidateAll:
            caches?.invalidateStreams(nil)
            host.invalidate(.all)
        case .signal(let s):
            signal(s)
        case .stallResolved(let sid, let stag, let retry):
            host.resolveStall(streamID: sid, stag: stag, retry: retry)
        case .pageResponse(let response):
            host.deliverPageResponse(response)
        }
    }

    /// Raises one interrupt, with no lock held. An MSI the host reports as
    /// aborted activates its source's GERROR.MSI_*_ABT_ERR (6.3.19), whose
    /// GERROR interrupt follows, except that an aborted GERROR MSI triggers
    /// no GERROR interrupt (7.5.1). At most two MSIs per call.
    func signal(_ s: InterruptSignal) {
        switch s {
        case .wired(let line):
            host.raiseInterrupt(line)
        case .msi(let address, let data, let source):
            guard !host.deliverMSI(address: address, data: data) else { return }
            let bit = switch source {
            case .commandSync: RegBits.MSI_CMDQ_ABT_ERR
            case .eventQueue: RegBits.MSI_EVENTQ_ABT_ERR
            case .priQueue: RegBits.MSI_PRIQ_ABT_ERR
            case .globalError: RegBits.MSI_GERROR_ABT_ERR
            }
            mutateAndDeliver { r, out in
                let irq = r.raiseGlobalError(bit)
                if source != .globalError { out.add(irq) }
            }
        }
    }

    // MARK: reset

    /// Registers to their reset values, queues empty (pointers 0), stalls
    /// terminated. Guest memory is untouched.
    func reset() {
        mutateAndDeliver { r, out in
            out.terminatedStalls = r.stalls.releaseAll(streamID: nil)
            r.reset()
            out.invalidateAll = true
            publish(r)
        }
    }

    // MARK: durability (docs/backend.md, "Restart")

    /// The image of the state now.
    var durableState: DurableState { registers.withLock { DurableState($0) } }

    /// Takes over `state` (already validated) and delivers what its outbox
    /// holds. Called on a new model before any other use.
    func adopt(_ state: DurableState) -> MMIOWriteEffect {
        let pending = registers.withLock { r -> [Outbox.Effect] in
            r.adopt(state)
            publish(r)
            return r.outbox.effects
        }
        for e in pending { deliver(e) }
        return mutate { r in
            _ = r.outbox.removeAll()
            return r.commandsPending ? .commandsPending : []
        }
    }
}
