/// A wired interrupt output whose pulses are coalesced, as the spec allows
/// (3.18: "The SMMU can internally coalesce events and identical interrupts
/// so that only the latest interrupt is sent, but any coalescence must not
/// significantly delay the notification. This applies to both MSIs and
/// edge-triggered wired interrupts."). A pulse goes out at once unless one
/// went out less than `windowNs` ago; then it is held, and when that window
/// ends one pulse goes out for all that were held. So a lone pulse is never
/// delayed, a burst costs one message per window, and no pulse waits longer
/// than the window.
///
/// It exists for the CMD_SYNC output: every CMD_SYNC with CS = SIG_IRQ
/// pulses it, even when the MSI already completes it (4.7.3), so a
/// map/unmap storm would otherwise send the front end a message, and wake
/// its main loop, for every unmap.
final class CoalescedPulse: @unchecked Sendable {
    private let monitor = Monitor()
    let windowNs: UInt64
    private let send: () -> Void
    private var lastSentNs: UInt64?
    private var held = false
    private var stopping = false
    private var flusher: POSIXThread?
    /// The flusher waits without a deadline: a newly held pulse must wake it.
    private var flusherIdle = false

    /// `send` delivers one pulse; it is called without any lock of this
    /// object held, from the caller of `pulse()` or from the flusher thread.
    init(windowNs: UInt64, send: @escaping () -> Void) {
        self.windowNs = windowNs
        self.send = send
    }

    func pulse() {
        let now = RateLimitedLogger.nowNanoseconds()
        let sendNow = monitor.withLock { () -> Bool in
            guard !stopping, !held else { return false }
            if windowNs > 0, let last = lastSentNs, now &- last < windowNs {
                held = true
                // Created on the first burst: a guest that never bursts
                // never has the thread. Strong: stop() ends the thread,
                // and with it the cycle.
                if flusher == nil { flusher = POSIXThread { self.flushHeld() } }
                if flusherIdle { monitor.broadcast() }
                return false
            }
            lastSentNs = now
            return true
        }
        if sendNow { send() }
    }

    /// Ends the flusher (its thread keeps this object alive until then); a
    /// pulse still held is dropped, as are later ones: the channel they
    /// would go on is closing. The owner calls it once it no longer pulses.
    func stop() {
        let thread = monitor.withLock { () -> POSIXThread? in
            stopping = true
            monitor.broadcast()
            defer { flusher = nil }
            return flusher
        }
        thread?.join()
    }

    private func flushHeld() {
        monitor.withLock {
            // Bounded: each pass sends the held pulse or waits for the end
            // of its window or for a new one.
            while !stopping {
                let now = RateLimitedLogger.nowNanoseconds()
                let due = (lastSentNs ?? now) &+ windowNs
                if now < due {
                    // Within a window (a burst, most likely): look again at
                    // its end, so that a pulse held meanwhile needs no wake-up.
                    monitor.wait(untilNs: due)
                } else if held {
                    held = false
                    lastSentNs = now
                    monitor.unlockForCall(send)
                } else {
                    flusherIdle = true
                    monitor.wait()
                    flusherIdle = false
                }
            }
        }
    }
}
