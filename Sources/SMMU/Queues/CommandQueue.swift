/// Whether a thread is consuming the command queue, and whether another
/// asked meanwhile (it then returns at once; the running one goes again).
struct CommandRunnerState: Sendable {
    var running = false
    var again = false
}

extension ControlUnit {
    /// Consumes the command queue from CONS to PROD (IHI 0070 4.1.2) until it
    /// is empty, disabled, or stopped by an error. Concurrent calls do not
    /// consume twice: a second caller leaves the work to the first.
    func processCommands() {
        let start = runner.withLock { s -> Bool in
            if s.running { s.again = true; return false }
            s.running = true; s.again = false
            return true
        }
        guard start else { return }
        repeat {
            runCommandQueue()
        } while runner.withLock { s -> Bool in
            if s.again { s.again = false; return true }
            s.running = false
            return false
        }
    }

    /// One pass over at most one queue's worth of commands.
    private func runCommandQueue() {
        let limit = 1 << Int(configuration.commandQueueLog2)
        for _ in 0..<limit {
            // Snapshot what this command needs; the lock is not held while it runs.
            let next = registers.withLock { r -> (QueueGeometry, UInt32, CommandContext)? in
                guard r.commandsPending else { return nil }
                let ctx = CommandContext(configuration: configuration,
                                         e2h: r[.CR2] & RegBits.E2H != 0 && configuration.hypervisorContexts)
                return (r.geometry(.CMDQ_BASE), UInt32(truncatingIfNeeded: r[.CMDQ_CONS]), ctx)
            }
            guard let (geometry, cons, context) = next else { return }

            // Copy the 16 bytes out once, then decode the copy.
            var raw: (UInt64, UInt64) = (0, 0)
            let fetched = withUnsafeMutableBytes(of: &raw) { memory.read(at: geometry.address(of: cons), into: $0) }
            let outcome: Result<PendingSignals, CommandError>
            // IDR0.SEV: a WFE wake-up event once CONS has moved past a CMD_SYNC
            // with CS = SIG_SEV (4.7.3) or made room in a full queue (4.1.2).
            var wake = false
            if fetched {
                let words = CommandWords(w0: UInt64(littleEndian: raw.0), w1: UInt64(littleEndian: raw.1))
                switch CommandDecoder.decode(words, context) {
                case .success(let command):
                    outcome = execute(command, at: cons & geometry.pointerMask)
                    if case .sync(.sev) = command { wake = configuration.sev }
                case .failure(let error): outcome = .failure(error)
                }
            } else {
                outcome = .failure(.CERROR_ABT)
            }

            // One change: CONS passes the command together with what the
            // command does to the stall table, so a durable image never
            // has one without the other; its signals go out after it.
            let proceed = mutateAndDeliver { r, out -> Bool in
                // Software may only move CONS while CMDQEN == 0; if it did, stop.
                guard UInt32(truncatingIfNeeded: r[.CMDQ_CONS]) & geometry.pointerMask == cons & geometry.pointerMask
                else { return false }
                switch outcome {
                case .success(let completion):
                    // Consumed: CONS passes the command, ERR keeps its last value.
                    let errBits = r[.CMDQ_CONS] & ~RegBits.QUEUE_INDEX
                    r[.CMDQ_CONS] = errBits | UInt64(geometry.next(cons))
                    if configuration.sev && geometry.isFull(prod: UInt32(truncatingIfNeeded: r[.CMDQ_PROD]), cons: cons) {
                        wake = true
                    }
                    // 3.18, 4.7.3: a CMD_SYNC's completion signals are sent
                    // only now, once its consumption is observable in CONS.
                    out = completion
                    if let update = completion.stallUpdate { r.apply(update, &out) }
                    return true
                case .failure(let error):
                    // 4.1.3: stop with CONS at the command that failed.
                    out.add(r.commandError(error))
                    return false
                }
            }
            if !proceed { return }
            if wake { host.sendEvent() }
        }
    }

    /// Carries out one decoded command. Cache effects go to the translation
    /// caches and, as a HostInvalidation, to host-side caches. Success carries
    /// the signals to send once the command is consumed (CMD_SYNC's).
    private func execute(_ command: Command, at index: UInt32) -> Result<PendingSignals, CommandError> {
        var signals = PendingSignals()
        defer { if let checker { observe(command, at: index, checker) } }
        switch command {
        case .prefetchConfig(let sid, let ssid):
            caches?.prefetchConfiguration(streamID: sid, substreamID: ssid)
        case .prefetchAddress:
            break
        case .cfgiStreams(let range):
            caches?.invalidateStreams(range)
            if let range {
                host.invalidate(.streams(first: range.lowerBound, count: range.upperBound &- range.lowerBound &+ 1))
            } else {
                host.invalidate(.all)
            }
        case .cfgiContexts(let sid, let ssid):
            caches?.invalidateContexts(streamID: sid, substreamID: ssid)
            host.invalidate(.streams(first: sid, count: 1))
        case .tlbi(let scope):
            caches?.invalidateTLB(scope)
            host.invalidate(Self.hostInvalidation(for: scope))
        case .atcInvalidate(let sid, let ssid, let address, let size, let global):
            // 4.5.1: IGNORED while SMMUEN == 0.
            guard controlState.smmuEnabled else { break }
            host.invalidate(.atc(streamID: sid, substreamID: ssid, address: address, size: size, global: global))
        case .priResponse(let response):
            // 4.5.2: IGNORED while SMMUEN == 0. Sent once consumed.
            guard controlState.smmuEnabled else { break }
            signals.pageResponses.append(response)
        case .resume(let sid, let stag, let retry):
            // Applied with the CONS update (4.7.1: an unknown STAG is a no-op).
            signals.stallUpdate = .resume(streamID: sid, stag: stag, retry: retry)
        case .stallTerminate(let sid):
            signals.stallUpdate = .terminate(streamID: sid)
        case .sync(let completion):
            if let checker {
                checker.commandSync(index: index, pri: priQueueSnapshot())
                if case .irq(let address, _) = completion, configuration.msi {
                    checker.syncMSI(address: address, index: index)
                }
                // Every use after this SYNC of what the model cached must
                // reach the model to be checked: the host drops its copies.
                host.invalidate(.all)
            }
            // 4.7.3: complete only when every earlier invalidation has taken
            // effect everywhere, ATCs included. No lock is held here.
            guard host.synchronize() else { return .failure(.CERROR_ATC_INV_SYNC) }
            // 7.2.1, 4.7.2.1: a stall record still held for an unwritable
            // Event queue must not be written after an invalidation and this
            // CMD_SYNC (it would describe the old configuration): the stalled
            // transaction is retried instead, and faults anew if it must.
            // Applied with the CONS update, before the completion signals.
            signals.stallUpdate = .retryHeld
            switch completion {
            case .none, .sev:
                break   // SEV: sent by runCommandQueue once CONS has moved.
            case .irq(let address, let data):
                // SIG_IRQ: the MSI if supported and MSIAddress != 0, and the
                // wired CMD_SYNC line "regardless of the value of MSIAddress".
                if configuration.msi && address != 0 {
                    signals.add(.msi(address: address, data: data, source: .commandSync))
                }
                signals.add(.wired(.commandSync))
            }
        }
        return .success(signals)
    }

    /// Check mode's view of a consumed command (after its effect).
    private func observe(_ command: Command, at index: UInt32, _ checker: DriverChecker) {
        switch command {
        case .cfgiStreams(let range):
            checker.configInvalidated(streams: range, index: index, pri: priQueueSnapshot())
        case .cfgiContexts(let sid, let ssid):
            checker.configInvalidated(streams: nil, contextsOf: sid, substreamID: ssid, index: index,
                                      pri: priQueueSnapshot())
        case .tlbi(let scope):
            checker.tlbInvalidated(Self.hostInvalidation(for: scope), index: index)
        case .atcInvalidate(let sid, let ssid, let address, let size, let global):
            if controlState.smmuEnabled {
                checker.atcInvalidated(.atc(streamID: sid, substreamID: ssid, address: address, size: size,
                                            global: global))
            }
        case .priResponse(let response):
            if controlState.smmuEnabled { checker.pageResponse(response) }
        case .prefetchConfig, .prefetchAddress, .resume, .stallTerminate, .sync:
            break
        }
    }

    static func hostInvalidation(for scope: TLBScope) -> HostInvalidation {
        switch scope {
        case .allNonHyp, .allEL2: .all
        case .vmidStage1(let vmid): vmid.map { .vmid($0) } ?? .all
        case .vmidAll(let vmid): .vmid(vmid)
        case .asid(let vmid, let asid, _): .asid(vmid: vmid, asid: asid)
        case .va(let vmid, let asid, let address, let size, _, _):
            .address(vmid: vmid, asid: asid, address: address, size: size)
        case .ipa(let vmid, let address, let size, _): .ipa(vmid: vmid, address: address, size: size)
        }
    }
}
