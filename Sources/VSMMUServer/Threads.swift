#if canImport(Glibc)
import Glibc
#endif

/// A joinable POSIX thread running a closure.
final class POSIXThread: @unchecked Sendable {
    private var thread = pthread_t()
    private final class Box { let body: () -> Void; init(_ b: @escaping () -> Void) { body = b } }

    init(_ body: @escaping () -> Void) {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        let rc = pthread_create(&thread, nil, { arg in
            let box = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
            box.body()
            return nil
        }, box)
        precondition(rc == 0, "pthread_create failed: \(rc)")
    }

    func join() { pthread_join(thread, nil) }

    /// Nobody will join it: its resources go when it ends.
    func detach() { pthread_detach(thread) }
}

/// A mutex with one condition variable (timed waits on CLOCK_MONOTONIC).
final class Monitor: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    init() {
        pthread_mutex_init(mutex, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        // Timed waits take CLOCK_MONOTONIC deadlines: on another clock they
        // would all be long past.
        precondition(pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0, "pthread_condattr_setclock")
        pthread_cond_init(cond, &attr)
        pthread_condattr_destroy(&attr)
    }
    deinit {
        pthread_cond_destroy(cond); pthread_mutex_destroy(mutex)
        cond.deallocate(); mutex.deallocate()
    }
    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
    /// Only inside withLock.
    func wait() { pthread_cond_wait(cond, mutex) }
    /// Only inside withLock: waits until woken or CLOCK_MONOTONIC reaches
    /// `deadlineNs` (RateLimitedLogger.nowNanoseconds's clock).
    func wait(untilNs deadlineNs: UInt64) {
        var ts = timespec(tv_sec: Int(deadlineNs / 1_000_000_000), tv_nsec: Int(deadlineNs % 1_000_000_000))
        pthread_cond_timedwait(cond, mutex, &ts)
    }
    func broadcast() { pthread_cond_broadcast(cond) }
    /// Only inside withLock: runs `body` with the lock released.
    func unlockForCall(_ body: () -> Void) {
        pthread_mutex_unlock(mutex)
        body()
        pthread_mutex_lock(mutex)
    }
}
