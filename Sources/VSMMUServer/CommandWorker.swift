/// The thread that runs command processing, so that the front-end reader
/// never does: kicks while a pass runs coalesce into one more pass.
/// Actions that must not overlap a pass (unmapping guest RAM) run when the
/// worker is idle, or right after its current pass.
final class CommandWorker: @unchecked Sendable {
    private let monitor = Monitor()
    private var pending = false
    private var busy = false
    private var stopping = false
    private var afterPass: [() -> Void] = []
    private var thread: POSIXThread?

    init(process: @escaping () -> Void) {
        thread = POSIXThread { [unowned self] in self.loop(process) }
    }

    /// Commands are pending: run (another) pass.
    func kick() {
        monitor.withLock { pending = true; monitor.broadcast() }
    }

    /// Runs `action` now if no pass is running, else right after the pass.
    func whenIdle(_ action: @escaping () -> Void) {
        monitor.withLock {
            if busy { afterPass.append(action) } else { action() }
        }
    }

    /// Stops the thread after its current pass (the caller first makes sure
    /// a pass blocked in synchronize() returns, by closing the backend channel).
    func stop() {
        monitor.withLock { stopping = true; monitor.broadcast() }
        thread?.join()
        thread = nil
        monitor.withLock { for a in afterPass { a() }; afterPass = [] }
    }

    private func loop(_ process: () -> Void) {
        monitor.withLock {
            while true {
                while !pending && !stopping { monitor.wait() }
                if stopping { return }
                pending = false
                busy = true
                pthreadUnlocked { process() }
                busy = false
                for a in afterPass { a() }
                afterPass = []
            }
        }
    }

    /// Runs `body` with the monitor released (called with it held).
    private func pthreadUnlocked(_ body: () -> Void) {
        monitor.unlockForCall(body)
    }
}
