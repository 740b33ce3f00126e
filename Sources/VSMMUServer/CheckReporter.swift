import Logging
import SMMU
import SystemPackage

/// Check mode for the backend (docs/checker.md): the rules to check and
/// the file that gets one JSON line per report.
public struct CheckSettings: Sendable {
    public var rules: Set<CheckRule>
    public var reportPath: String?
    public init(rules: Set<CheckRule> = Set(CheckRule.allCases), reportPath: String? = nil) {
        self.rules = rules; self.reportPath = reportPath
    }
}

/// Where the model's check reports go: the report file (a JSON line each,
/// and a summary line when a front end disconnects) and the log (one
/// rate-limited line each, a summary per front end).
final class CheckReporter: Sendable {
    let rules: Set<CheckRule>
    private let file: FileDescriptor?
    private let log: RateLimitedLogger
    private let totals = Locked(CheckSummary())
    private let fileLock = Locked(())

    struct OpenError: Error, CustomStringConvertible {
        var path: String, errno: Errno
        var description: String { "cannot open the check report \(path): \(errno)" }
    }

    init(_ settings: CheckSettings, log: RateLimitedLogger) throws(OpenError) {
        rules = settings.rules
        self.log = log
        if let path = settings.reportPath {
            do {
                // Appended to: a backend restarted under the same guest
                // (docs/backend.md, "Restart") adds to the reports before it.
                file = try FileDescriptor.open(path, .writeOnly, options: [.create, .append, .closeOnExec],
                                               permissions: [.ownerReadWrite, .groupRead, .otherRead])
            } catch {
                throw OpenError(path: path, errno: error as? Errno ?? .ioError)
            }
        } else {
            file = nil
        }
    }

    deinit { try? file?.close() }

    /// The model's options: every report is written and logged.
    var options: CheckOptions {
        CheckOptions(rules: rules) { [self] report in
            write(report.jsonLine)
            log.log(.warning, kind: "check-\(report.rule.rawValue)", report.summaryLine)
        }
    }

    /// A front end went away: its model's summary is logged, written and
    /// added to the process's totals.
    func sessionEnded(_ summary: CheckSummary) {
        totals.withLock { t in
            for (rule, n) in summary.counts { t.counts[rule, default: 0] += n }
            t.untracked += summary.untracked
        }
        log.logger.info("check summary: \(summary.line(rules: rules)) (\(summary.total) reports)")
        let counts = rules.sorted().map { "\"\($0.rawValue)\":\(summary.counts[$0] ?? 0)" }.joined(separator: ",")
        write("{\"summary\":{\(counts)},\"total\":\(summary.total),\"untracked\":\(summary.untracked)}")
    }

    /// Everything reported since the process started.
    var totalLine: String {
        let t = totals.withLock { $0 }
        return "check summary (all front ends): \(t.line(rules: rules)) (\(t.total) reports)"
    }

    private func write(_ line: String) {
        guard let file else { return }
        let bytes = Array((line + "\n").utf8)
        fileLock.withLock { _ in
            do { _ = try bytes.withUnsafeBytes { try file.writeAll($0) } } catch {
                log.log(.error, kind: "check-report-write", "cannot write the check report: \(error)")
            }
        }
    }
}
