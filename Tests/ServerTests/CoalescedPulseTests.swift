import Logging
import SMMU
import SystemPackage
import Testing
@testable import VSMMUServer
#if canImport(Glibc)
import Glibc
#endif

/// The wired CMD_SYNC output's coalescing (spec 3.18: identical interrupts
/// may be coalesced, without significantly delaying the notification).
@Suite("Coalesced wired pulses", .serialized)
struct CoalescedPulseTests {
    /// Counts pulses and the time of each.
    final class Sent: @unchecked Sendable {
        private let times = Locked<[UInt64]>([])
        func record() { times.withLock { $0.append(RateLimitedLogger.nowNanoseconds()) } }
        var count: Int { times.withLock { $0.count } }
        var last: UInt64? { times.withLock { $0.last } }
        /// Waits up to `ms` for `n` pulses.
        func wait(for n: Int, ms: UInt64 = 2000) -> Bool {
            let end = monotonicMs() + ms
            while monotonicMs() < end { if count >= n { return true }; usleep(500) }
            return count >= n
        }
    }

    @Test func aLonePulseGoesAtOnce() {
        let sent = Sent()
        let p = CoalescedPulse(windowNs: 50_000_000, send: sent.record)
        defer { p.stop() }
        p.pulse()
        #expect(sent.count == 1)   // in pulse() itself, not later
    }

    @Test func aBurstCostsOneMorePulseWhenItsWindowEnds() {
        let window: UInt64 = 100_000_000
        let sent = Sent()
        let p = CoalescedPulse(windowNs: window, send: sent.record)
        defer { p.stop() }
        let before = RateLimitedLogger.nowNanoseconds()
        p.pulse()
        for _ in 0..<20 { p.pulse() }
        // Held, not sent, while the window lasts (checked only while it does).
        if RateLimitedLogger.nowNanoseconds() < before + window / 2 { #expect(sent.count == 1) }
        #expect(sent.wait(for: 2))
        // The window starts when the first pulse was decided, after `before`.
        #expect((sent.last ?? 0) >= before + window)
        // One pulse for all twenty: nothing else follows.
        usleep(UInt32(2 * window / 1000))
        #expect(sent.count == 2)
    }

    @Test func aPulseAfterAQuietWindowGoesAtOnce() {
        let window: UInt64 = 20_000_000
        let sent = Sent()
        let p = CoalescedPulse(windowNs: window, send: sent.record)
        defer { p.stop() }
        p.pulse()
        usleep(UInt32(window / 1000 + 10_000))
        p.pulse()
        #expect(sent.count == 2)
    }

    @Test func aZeroWindowSendsEveryPulse() {
        let sent = Sent()
        let p = CoalescedPulse(windowNs: 0, send: sent.record)
        defer { p.stop() }
        for _ in 0..<100 { p.pulse() }
        #expect(sent.count == 100)
    }

    @Test func stopDropsAHeldPulseAndLaterOnes() {
        // Longer than any pause of this thread: the second pulse is held.
        let window: UInt64 = 5_000_000_000
        let sent = Sent()
        let p = CoalescedPulse(windowNs: window, send: sent.record)
        p.pulse()
        p.pulse()   // held
        p.stop()    // the flusher has ended: nothing can be sent after this
        p.pulse()
        #expect(sent.count == 1)
    }
}

/// The same through a session: a Linux-shaped driver's CMD_SYNCs (SIG_IRQ,
/// MSI to the sync's own slot) each complete at once by their MSI, and the
/// wired CMD_SYNC output they all pulse reaches the front end as two IRQ
/// messages, the first at once and one when the window ends.
@Suite("CMD_SYNC wired interrupt coalescing", .serialized, .enabled(if: ModelProbe.registerFileImplemented))
struct CommandSyncPulseCoalescingTests {
    static func syncPulses(_ log: [Message]) -> Int {
        log.filter { $0.header.request == BackRequest.irq.rawValue && $0.payload == [2, 0, 0, 0] }.count
    }

    @Test func aBurstOfSyncsCostsTwoInterruptMessages() throws {
        // Long enough for five round trips on a loaded host under TSan.
        let windowUs: UInt32 = 1_000_000
        let fe = try LinuxFrontEnd(client: try TestClient(syncIRQCoalesceMicroseconds: windowUs))
        #expect(try fe.reset())
        usleep(windowUs + 50_000)   // the reset's own pulses are out
        let before = Self.syncPulses(fe.backend.log)
        let start = RateLimitedLogger.nowNanoseconds()
        for _ in 0..<5 { #expect(try fe.submitAndWait([SMMUCmd.tlbiNSNHAll])) }
        #expect(fe.backend.wait { Self.syncPulses($0) == before + 1 })
        if RateLimitedLogger.nowNanoseconds() < start + UInt64(windowUs) * 500 {
            #expect(Self.syncPulses(fe.backend.log) == before + 1)
        }
        #expect(fe.backend.wait(ms: 3000) { Self.syncPulses($0) == before + 2 })
        usleep(windowUs + 200_000)
        #expect(Self.syncPulses(fe.backend.log) == before + 2)
    }

    @Test func withoutAWindowEverySyncPulses() throws {
        let fe = try LinuxFrontEnd(client: try TestClient(syncIRQCoalesceMicroseconds: 0))
        #expect(try fe.reset())
        // The reset's own CMD_SYNCs: one pulse each, all sent.
        #expect(fe.backend.wait { Self.syncPulses($0) >= 1 })
        usleep(20_000)
        let before = Self.syncPulses(fe.backend.log)
        for _ in 0..<5 { #expect(try fe.submitAndWait([SMMUCmd.tlbiNSNHAll])) }
        #expect(fe.backend.wait { Self.syncPulses($0) == before + 5 })
        usleep(20_000)
        #expect(Self.syncPulses(fe.backend.log) == before + 5)
    }
}

/// Teardown with a front end that stopped reading the backend channel: a
/// thread blocked sending on the full channel holds its send lock, and the
/// pulse flusher waits behind it. Closing must shut the channel down before
/// it waits for the flusher, or it waits for ever.
@Suite("Backend link teardown", .serialized)
struct BackendLinkTeardownTests {
    @Test func closeReturnsWhileSendsAreBlockedOnAFullChannel() throws {
        var logger = Logger(label: "vsmmu-test")
        logger.logLevel = .critical
        let link = BackendLink(ram: MappedGuestRAM(), log: RateLimitedLogger(logger: logger),
                               syncIRQCoalesceNs: 200_000_000)
        let (mine, theirs) = socketPair()
        defer { close(mine) }
        var small: Int32 = 4096
        precondition(setsockopt(theirs, SOL_SOCKET, SO_SNDBUF, &small, socklen_t(MemoryLayout<Int32>.size)) == 0)
        link.setChannel(FileDescriptor(rawValue: theirs))
        // Nobody reads `mine`: this thread fills the channel and blocks.
        let filling = Flag(), filled = Flag()
        startDetachedThread {
            filling.set()
            for _ in 0..<100_000 { link.raiseInterrupt(.eventQueue) }
            filled.set()
        }
        while !filling.value { usleep(1000) }
        usleep(50_000)
        try #require(!filled.value, "the channel never filled")
        // A burst of CMD_SYNC pulses, each from a thread of its own (a send
        // blocks): the first waits to send, the second is held, and the
        // flusher then waits to send it.
        for _ in 0..<2 {
            startDetachedThread { link.raiseInterrupt(.commandSync) }
            usleep(20_000)
        }
        usleep(300_000)   // past the window: the flusher is sending
        let closed = Flag()
        startDetachedThread {
            link.close()
            closed.set()
        }
        let end = monotonicMs() + 5000
        while !closed.value && monotonicMs() < end { usleep(1000) }
        #expect(closed.value, "close() did not return within 5 s")
    }
}
