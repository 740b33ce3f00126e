import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// The backend's policy for system calls on its descriptors, in one place:
/// EINTR is retried (a signal is not an error), EAGAIN on a descriptor that
/// came with O_NONBLOCK waits until the descriptor is ready, so every socket
/// behaves as a blocking one. Errors are swift-system `Errno`s.
enum SystemCall {
    /// Runs `call` (which returns -1 with errno set on failure) again while
    /// it fails with EINTR.
    static func retryingInterrupts<T: FixedWidthInteger>(_ call: () -> T) -> Result<T, Errno> {
        while true {
            let r = call()
            if r != -1 { return .success(r) }
            let e = Errno(rawValue: errno)
            if e != .interrupted { return .failure(e) }
        }
    }

    /// `retryingInterrupts`, and on EAGAIN waits for `events` (POLLIN or
    /// POLLOUT) on `fd` without a limit, then tries again.
    static func waitingWhenBusy<T: FixedWidthInteger>(_ fd: FileDescriptor, for events: Int16,
                                                      _ call: () -> T) -> Result<T, Errno> {
        while true {
            switch retryingInterrupts(call) {
            case .failure(.wouldBlock), .failure(.resourceTemporarilyUnavailable):
                if case .failure(let e) = poll(fd, events: events, ms: -1) { return .failure(e) }
            case let other:
                return other
            }
        }
    }

    /// Waits up to `ms` (negative: no limit) until `fd` has one of `events`
    /// (or hung up): true, or false at the timeout. EINTR resumes the wait
    /// with the time that is left.
    static func poll(_ fd: FileDescriptor, events: Int16, ms: Int32) -> Result<Bool, Errno> {
        let deadline = ms < 0 ? nil : RateLimitedLogger.nowNanoseconds() &+ UInt64(ms) * 1_000_000
        while true {
            var left: Int32 = -1
            if let deadline {
                let now = RateLimitedLogger.nowNanoseconds()
                left = now >= deadline ? 0 : Int32(clamping: (deadline - now + 999_999) / 1_000_000)
            }
            var p = pollfd(fd: fd.rawValue, events: events, revents: 0)
            let r = Glibc.poll(&p, 1, left)
            if r >= 0 { return .success(r > 0) }
            let e = Errno(rawValue: errno)
            if e != .interrupted { return .failure(e) }
        }
    }

    /// Busy-polls `fd` for up to `ns` nanoseconds: true as soon as it is
    /// readable (or hung up), false when the budget is spent. A wake-up
    /// through the scheduler costs tens of microseconds on a loaded host;
    /// a peer that answers within the budget is seen in a few.
    static func spinUntilReadable(_ fd: FileDescriptor, ns: UInt64) -> Bool {
        guard ns > 0 else { return false }
        let deadline = RateLimitedLogger.nowNanoseconds() &+ ns
        repeat {
            var p = pollfd(fd: fd.rawValue, events: Int16(POLLIN), revents: 0)
            if Glibc.poll(&p, 1, 0) > 0 { return true }
            // On a host with fewer cores than busy threads, the thread we
            // wait for may need this core: let it run, without sleeping.
            sched_yield()
        } while RateLimitedLogger.nowNanoseconds() < deadline
        return false
    }
}
