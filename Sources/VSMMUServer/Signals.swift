#if canImport(Glibc)
import Glibc
#endif

private func terminationSignals() -> sigset_t {
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGINT)
    sigaddset(&set, SIGTERM)
    return set
}

/// Blocks SIGINT and SIGTERM in the calling thread (and threads it starts later).
public func blockTerminationSignals() {
    var set = terminationSignals()
    pthread_sigmask(SIG_BLOCK, &set, nil)
}

/// Waits for SIGINT or SIGTERM (blocked beforehand); returns its number.
public func waitForTerminationSignal() -> Int32 {
    var set = terminationSignals()
    var sig: Int32 = 0
    sigwait(&set, &sig)
    return sig
}

/// Runs `body` on a new thread that nobody joins (detached, so that its
/// stack is freed when it ends rather than kept for a join).
public func startDetachedThread(_ body: @escaping @Sendable () -> Void) {
    POSIXThread(body).detach()
}
