import CVSMMU
import Logging
import SMMU
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// The model's host signals, carried out by messages on the backend channel
/// (and MSIs into guest RAM stored directly).
final class BackendLink: HostSignals, @unchecked Sendable {
    private struct State {
        var channel: MessageSocket?
        /// An invalidation was sent since the last successful SYNC.
        var postedSinceSync = false
        /// An ATC_INV was sent since then (its outcome needs the SYNC reply).
        var atcSinceSync = false
        /// An invalidation could not be sent on this channel: every SYNC
        /// fails until the front end gives a new one.
        var lostSinceSync = false
        /// VSMMU_F_IN_ORDER_SYNC acknowledged (SET_FEATURES).
        var inOrder = false
        /// An INVALIDATE or ATC_INV was sent that no SYNC reply has shown
        /// applied yet: an MSI in order must follow it on the channel.
        var invalidationUnacknowledged = false
        /// SYNC replies still to come for SYNCs that timed out (skipped).
        var lateSyncReplies = 0
        var endpoints: Set<UInt32> = []
        /// VSMMU_F_SHARED_TLB: the front end's translation cache.
        var sharedCache: SharedTranslationCache?
    }
    private let state = Locked(State())
    /// Serializes synchronize(): one thread reads the channel at a time.
    private let syncLock = Monitor()
    let ram: MappedGuestRAM
    let log: RateLimitedLogger
    /// What the front end may hold; invalidations that match nothing are not sent.
    let shadow = FrontEndShadow()
    let syncTimeoutMs: Int32
    /// Busy-poll budget for a SYNC reply before sleeping.
    let pollNs: UInt64
    /// The wired CMD_SYNC output, coalesced (CoalescedPulse); set once, in init.
    private var commandSyncPulse: CoalescedPulse!

    /// `syncIRQCoalesceNs`: the window of the wired CMD_SYNC output's
    /// coalescing (0: every pulse is sent).
    init(ram: MappedGuestRAM, log: RateLimitedLogger, syncTimeoutMs: Int32 = Wire.syncTimeoutMs, pollNs: UInt64 = 0,
         syncIRQCoalesceNs: UInt64 = 0) {
        self.ram = ram; self.log = log; self.syncTimeoutMs = syncTimeoutMs; self.pollNs = pollNs
        commandSyncPulse = CoalescedPulse(windowNs: syncIRQCoalesceNs) { [weak self] in
            self?.send(.irq) { $0.u32(UInt32(SMMUInterruptLine.commandSync.rawValue)) }
        }
    }

    func setChannel(_ fd: FileDescriptor) {
        let old = state.withLock { s -> MessageSocket? in
            let old = s.channel
            s.channel = MessageSocket(fd)
            s.lateSyncReplies = 0
            s.lostSinceSync = false
            return old
        }
        old?.shutdownBoth()
    }

    /// Closes the channel: a synchronize() waiting on it returns at once.
    func close() {
        let old = state.withLock { s -> MessageSocket? in let c = s.channel; s.channel = nil; return c }
        old?.shutdownBoth()
        // After the shutdown: a flusher blocked sending on the channel
        // returns, and the wait for it ends.
        commandSyncPulse.stop()
    }

    /// A restarted backend that adopted the state: a CMD_SYNC pulse the
    /// old one held for coalescing died with it, so send one now (an extra
    /// edge is a spurious interrupt, docs/backend.md "Restart").
    func pulseAfterAdoption() { commandSyncPulse.pulse() }

    /// With VSMMU_F_IN_ORDER_SYNC the front end applies this channel's
    /// messages in order and before any reply it acts on: a CMD_SYNC's
    /// completion sent after its invalidations then needs no SYNC round trip.
    var completesInOrder: Bool {
        get { state.withLock { $0.inOrder } }
        set { state.withLock { $0.inOrder = newValue } }
    }

    /// The front end's translation cache from here on is `cache`
    /// (SET_TLB_REGION): invalidations go into it, and INVALIDATE messages
    /// only while the front end asks for them.
    var sharedCache: SharedTranslationCache? {
        get { state.withLock { $0.sharedCache } }
        set { state.withLock { $0.sharedCache = newValue } }
    }

    func registerEndpoint(_ sid: UInt32) { state.withLock { _ = $0.endpoints.insert(sid) } }

    private func send(_ request: BackRequest, _ encode: (inout WireWriter) -> Void = { _ in }) {
        guard let channel = state.withLock({ $0.channel }) else {
            log.log(.warning, kind: "no-backend-channel",
                    "backend message \(request) dropped: no backend channel")
            return
        }
        var w = WireWriter()
        encode(&w)
        if case .failure(let e) = channel.send(request: request.rawValue, payload: w.bytes) {
            log.log(.error, kind: "backend-send", "backend channel send of \(request) failed: \(e)")
            // A lost invalidation must fail the next CMD_SYNC, which in
            // order would otherwise complete without asking the front end.
            if request == .invalidate || request == .atcInvalidate {
                state.withLock { $0.lostSinceSync = true }
            }
        }
    }

    // MARK: HostSignals

    func raiseInterrupt(_ line: SMMUInterruptLine) {
        if line == .commandSync { return commandSyncPulse.pulse() }
        send(.irq) { $0.u32(UInt32(line.rawValue)) }
    }

    func writeMSI(address: PhysicalAddress, data: UInt32) {
        // An MSI into guest RAM (CMD_SYNC completion) is a plain store,
        // unless it must come after invalidations on their way on the
        // channel (VSMMU_F_IN_ORDER_SYNC: the front end writes it). With a
        // shared translation cache the invalidations were applied here,
        // so only a message still unacknowledged needs that order.
        let direct = state.withLock { s in
            !s.inOrder || (s.sharedCache != nil && !s.invalidationUnacknowledged)
        }
        if direct, address.isAligned(log2: 2),
           let p = ram.memory.hostPointer(for: address, length: 4) {
            vsmmu_shim_store_release32(p, data.littleEndian)
            return
        }
        send(.msi) { var m = WireMSI(); m.addr = address.raw; m.data = data; m.encode(into: &$0) }
    }

    func invalidate(_ inv: HostInvalidation) {
        if case .atc(let sid, let ssid, let address, let size, let global) = inv {
            // Only a registered endpoint has an ATC to invalidate.
            guard state.withLock({ $0.endpoints.contains(sid) }), shadow.mustSend(inv) else { return }
            state.withLock { $0.postedSinceSync = true; $0.atcSinceSync = true; $0.invalidationUnacknowledged = true }
            send(.atcInvalidate) {
                WireATCInvalidate(streamID: sid, substreamID: ssid, address: address, size: size, global: global).encode(into: &$0)
            }
            return
        }
        guard let toSend = shadow.message(for: inv), let message = WireInvalidate(toSend) else { return }
        if let cache = sharedCache {
            cache.invalidate(toSend, record: message)
            // The drops before the load of notify: a notifier registered
            // meanwhile either is seen here or its translate misses.
            vsmmu_shim_fence_seq_cst()
            guard cache.frontEndWantsMessages else { return }
        }
        state.withLock { $0.postedSinceSync = true; $0.invalidationUnacknowledged = true }
        send(.invalidate) { message.encode(into: &$0) }
    }

    func deliverPageResponse(_ r: PageResponse) {
        guard state.withLock({ $0.endpoints.contains(r.streamID) }) else { return }
        send(.pageResponse) { WirePageResponse(r).encode(into: &$0) }
    }

    func resolveStall(streamID: UInt32, stag: UInt16, retry: Bool) {
        send(.stallResolve) {
            var m = WireStall(); m.sid = streamID; m.stag = stag; m.retry = retry ? 1 : 0; m.encode(into: &$0)
        }
    }

    /// SYNC round trip, skipped when nothing was posted since the last one;
    /// with a shared translation cache, first the wait for its readers.
    func synchronize() -> Bool {
        if let cache = sharedCache, !cache.awaitReaders(timeoutNs: UInt64(syncTimeoutMs) * 1_000_000) {
            log.log(.error, kind: "sync", "a front-end thread stayed in a translation-cache lookup for \(syncTimeoutMs) ms; completing CMD_SYNC with an error")
            return false
        }
        return syncLock.withLock {
            let (channel, needed, lost) = state.withLock { s -> (MessageSocket?, Bool, Bool) in
                // In order, what completes the CMD_SYNC (CONS seen through
                // a reply, an MSI or IRQ message) follows the invalidations
                // on their way; only an ATC_INV's outcome needs the reply.
                let needed = s.inOrder ? s.atcSinceSync : s.postedSinceSync
                let lost = s.lostSinceSync
                s.postedSinceSync = false
                s.atcSinceSync = false
                return (s.channel, needed, lost)
            }
            if lost { return false }
            guard needed, let channel else { return true }
            // Sent before the SYNC: everything before it has been applied.
            let unacknowledgedBefore = state.withLock { s -> Bool in
                let u = s.invalidationUnacknowledged; s.invalidationUnacknowledged = false; return u
            }
            let ok = syncRoundTrip(channel)
            if !ok {
                state.withLock {
                    $0.postedSinceSync = true; $0.atcSinceSync = true
                    $0.invalidationUnacknowledged = $0.invalidationUnacknowledged || unacknowledgedBefore
                }
            }
            return ok
        }
    }

    private func syncRoundTrip(_ channel: MessageSocket) -> Bool {
        if case .failure(let e) = channel.send(request: BackRequest.sync.rawValue) {
            log.log(.error, kind: "sync", "SYNC send failed: \(e)")
            return false
        }
        let deadline = RateLimitedLogger.nowNanoseconds() &+ UInt64(syncTimeoutMs) * 1_000_000
        // Bounded: each iteration consumes one message or ends at the deadline.
        while true {
            let now = RateLimitedLogger.nowNanoseconds()
            let left = now >= deadline ? 0 : Int32((deadline - now) / 1_000_000)
            guard left > 0, channel.spinUntilReadable(ns: pollNs) || channel.waitReadable(ms: left) else {
                state.withLock { $0.lateSyncReplies += 1 }
                log.log(.error, kind: "sync", "SYNC not answered within \(syncTimeoutMs) ms; completing CMD_SYNC with an error")
                return false
            }
            switch channel.receive() {
            case .failure(let e):
                log.log(.error, kind: "sync", "backend channel lost while waiting for SYNC: \(e)")
                return false
            case .success(let m):
                m.closeFDs()
                guard m.header.isReply, m.header.request == BackRequest.sync.rawValue else {
                    log.log(.warning, kind: "backend-unexpected",
                            "unexpected message on backend channel (request \(m.header.request), flags \(m.header.flags)) ignored")
                    continue
                }
                let skip = state.withLock { s -> Bool in
                    if s.lateSyncReplies > 0 { s.lateSyncReplies -= 1; return true }
                    return false
                }
                if skip { continue }
                guard m.payload.count == 8 else {
                    log.log(.warning, kind: "backend-unexpected", "SYNC reply with \(m.payload.count) bytes")
                    return false
                }
                var r = WireReader(m.payload)
                let status = r.i64()
                if status != 0 {
                    log.log(.info, kind: "sync-status", "SYNC answered with status \(status)")
                }
                return status == 0
            }
        }
    }
}
