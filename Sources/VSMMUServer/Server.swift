import Logging
import SMMU
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// The vsmmu backend: serves one front end at a time, on a listening Unix
/// socket or on an inherited connected socket. After a disconnect the model
/// and guest memory are gone and the next front end starts from reset,
/// unless it hands over the state region the last one used
/// (SET_STATE_REGION: the SMMU then carries on as it was).
public final class VSMMUServer: @unchecked Sendable {
    public let configuration: SMMUConfiguration
    public let logger: Logger
    let log: RateLimitedLogger
    let syncTimeoutMs: Int32
    /// How long a thread that waits for the front end busy-polls before it
    /// sleeps (0: never).
    let pollNs: UInt64
    /// The most the reader's poll for the next request grows to.
    let pollMaxNs: UInt64
    /// The window in which wired CMD_SYNC pulses are coalesced (CoalescedPulse).
    let syncIRQCoalesceNs: UInt64
    /// `--sync-irq-coalesce-us`'s default: a map/unmap storm's CMD_SYNCs
    /// (tens of microseconds apart) cost one interrupt message a millisecond.
    public static let defaultSyncIRQCoalesceMicroseconds: UInt32 = 1000
    let checkReporter: CheckReporter?
    private struct State { var listenFD: Int32 = -1; var current: MessageSocket?; var stopping = false }
    private let state = Locked(State())

    public enum SetupError: Error, CustomStringConvertible {
        case configuration(SMMUConfiguration.Invalid)
        case checkReport(String)
        public var description: String {
            switch self {
            case .configuration(let e): "\(e)"
            case .checkReport(let e): e
            }
        }
    }

    /// `check`: check mode for every front end's model (docs/checker.md).
    public init(configuration: SMMUConfiguration, logger: Logger, syncTimeoutMs: Int32 = Wire.syncTimeoutMs,
                pollMicroseconds: UInt32 = Wire.defaultPollMicroseconds,
                pollMaxMicroseconds: UInt32 = Wire.defaultPollMaxMicroseconds,
                syncIRQCoalesceMicroseconds: UInt32 = VSMMUServer.defaultSyncIRQCoalesceMicroseconds,
                check: CheckSettings? = nil) throws(SetupError) {
        do { try configuration.validate() } catch { throw .configuration(error) }
        self.configuration = configuration
        self.logger = logger
        let log = RateLimitedLogger(logger: logger)
        self.log = log
        self.syncTimeoutMs = syncTimeoutMs
        self.pollNs = UInt64(pollMicroseconds) * 1000
        self.pollMaxNs = UInt64(pollMaxMicroseconds) * 1000
        self.syncIRQCoalesceNs = UInt64(syncIRQCoalesceMicroseconds) * 1000
        do { checkReporter = try check.map { s throws(CheckReporter.OpenError) in try CheckReporter(s, log: log) } }
        catch { throw .checkReport(error.description) }
    }

    /// Check mode's totals over every front end so far (nil when not checking).
    public var checkSummaryLine: String? { checkReporter?.totalLine }

    /// Serves one connected socket until the front end disconnects (blocking).
    /// Takes ownership of `fd`.
    public func serve(connectionFD fd: Int32) {
        let socket = MessageSocket(fd: fd)
        let stopping = state.withLock { s -> Bool in
            if !s.stopping { s.current = socket }
            return s.stopping
        }
        if stopping { return }
        Session(socket: socket, configuration: configuration, log: log, syncTimeoutMs: syncTimeoutMs,
                pollNs: pollNs, pollMaxNs: pollMaxNs, syncIRQCoalesceNs: syncIRQCoalesceNs,
                checkReporter: checkReporter) {
            [self] moved in self.sessionMoved(to: moved)
        }.run()
        state.withLock { $0.current = nil }
    }

    /// SET_FRONTEND_CHANNEL: shutdown() must reach the channel the session
    /// now reads.
    private func sessionMoved(to moved: MessageSocket) {
        let stopping = state.withLock { s -> Bool in
            if !s.stopping { s.current = moved }
            return s.stopping
        }
        if stopping { moved.shutdownBoth() }
    }

    public enum ListenError: Error, CustomStringConvertible {
        case pathTooLong(String), socket(String, Errno)
        public var description: String {
            switch self {
            case .pathTooLong(let p): "socket path too long: \(p)"
            case .socket(let what, let e): "\(what) failed: \(e)"
            }
        }
    }

    /// Binds and listens on `path`, removing a stale socket file first.
    public func listen(path: String) throws(ListenError) -> Int32 {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { throw .pathTooLong(path) }
        withUnsafeMutableBytes(of: &addr.sun_path) { p in
            for (i, b) in bytes.enumerated() { p[i] = b }
            p[bytes.count] = 0
        }
        var st = stat()
        if lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFSOCK { unlink(path) }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .socket("socket", Errno(rawValue: errno)) }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else { let e = Errno(rawValue: errno); close(fd); throw .socket("bind \(path)", e) }
        guard Glibc.listen(fd, 1) == 0 else { let e = Errno(rawValue: errno); close(fd); throw .socket("listen", e) }
        state.withLock { $0.listenFD = fd }
        return fd
    }

    /// Accepts and serves front ends one after another until shutdown().
    public func acceptLoop(listenFD: Int32) {
        while !state.withLock({ $0.stopping }) {
            let fd: Int32
            switch SystemCall.waitingWhenBusy(FileDescriptor(rawValue: listenFD), for: Int16(POLLIN), {
                accept(listenFD, nil, nil)
            }) {
            case .success(let accepted):
                fd = accepted
            case .failure(.connectionAbort):
                continue
            case .failure(let e):
                if state.withLock({ $0.stopping }) { return }
                logger.error("accept failed: \(e)")
                return
            }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            logger.info("front end connected")
            serve(connectionFD: fd)
        }
    }

    /// Waits up to `timeoutMs` for the current session to end (after
    /// `shutdown`, so that its closing log lines are written before exit).
    public func waitForSessionEnd(timeoutMs: Int) {
        for _ in 0..<max(timeoutMs / 10, 1) {
            if state.withLock({ $0.current == nil }) { return }
            usleep(10_000)
        }
    }

    /// Wakes the accept loop and the current session; they return.
    public func shutdown() {
        let (lfd, current) = state.withLock { s -> (Int32, MessageSocket?) in
            s.stopping = true
            return (s.listenFD, s.current)
        }
        if lfd >= 0 { _ = Glibc.shutdown(lfd, Int32(SHUT_RDWR)) }
        current?.shutdownBoth()
    }
}
