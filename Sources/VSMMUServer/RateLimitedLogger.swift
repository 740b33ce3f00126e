import Logging
import SMMU
#if canImport(Glibc)
import Glibc
#endif

/// A logger for messages a guest or a peer can cause: at most `limit` lines
/// per second for each kind of message; the rest are counted and reported as
/// one "suppressed K messages" line when the kind's next window opens.
public final class RateLimitedLogger: Sendable {
    public let logger: Logger
    let limit: Int
    private struct Bucket { var windowStart: UInt64 = 0; var count = 0; var suppressed = 0 }
    private let buckets = Locked<[String: Bucket]>([:])

    public init(logger: Logger, linesPerSecond: Int = 5) {
        self.logger = logger
        self.limit = linesPerSecond
    }

    static func nowNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// Logs `message` under `kind` unless the kind is over its rate.
    public func log(_ level: Logger.Level, kind: String, _ message: @autoclosure () -> String) {
        let now = Self.nowNanoseconds()
        let (emit, suppressedBefore) = buckets.withLock { table -> (Bool, Int) in
            var b = table[kind] ?? Bucket()
            var reported = 0
            if now &- b.windowStart >= 1_000_000_000 {
                reported = b.suppressed
                b = Bucket(windowStart: now)
            }
            b.count += 1
            let ok = b.count <= limit
            if !ok { b.suppressed += 1 }
            table[kind] = b
            return (ok, reported)
        }
        if suppressedBefore > 0 {
            logger.log(level: level, "suppressed \(suppressedBefore) messages of kind \(kind)")
        }
        if emit { logger.log(level: level, "\(message())") }
    }
}
