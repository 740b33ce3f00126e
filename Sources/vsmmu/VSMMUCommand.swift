import ArgumentParser
import Logging
import SMMU
import VSMMUServer
#if canImport(Glibc)
import Glibc
#endif

@main
struct VSMMUCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vsmmu",
        abstract: "A virtual Arm SMMUv3 backend process (vhost-user style, see docs/protocol.md).",
        usage: """
            vsmmu (--socket-path PATH | --fd N | --print-capabilities) [FEATURE OPTIONS] \
            [--check[=RULES]] [--check-report PATH] [--log-level LEVEL]
            """,
        discussion: """
            Listens on --socket-path (one front end at a time; after a disconnect the SMMU \
            state and guest memory are dropped and the next front end starts from reset unless it hands over the state region its last backend used: docs/backend.md, "Restart"), \
            or serves an inherited connected socket (--fd) and exits when it closes. \
            Model features (from one table, SMMUFeature.all; also --feature NAME=VALUE; \
            --no-ats also turns PRI off, and nested is off when either stage is):

            """ + FeatureArguments.help + """


            Check mode (docs/checker.md): --check, or --check=RULES with a comma-separated \
            list of \(CheckRule.allCases.map(\.rawValue).joined(separator: ", ")) (default: all), \
            reports where the guest's driver breaks the architecture's rules: a log line \
            each (rate-limited) and a summary when the front end disconnects; \
            --check-report PATH also appends one JSON line per report to PATH (implies --check).
            """)

    enum LevelArg: String, ExpressibleByArgument, CaseIterable {
        case trace, debug, info, notice, warning, error, critical
    }

    @Option(help: "Listen on this Unix socket path (a stale socket file is removed).")
    var socketPath: String?
    @Option(help: "Serve this inherited, already connected socket; exit when the front end disconnects.")
    var fd: Int32?
    @Flag(help: "Print the backend's capabilities as JSON (as vhost-user backends do) and exit.")
    var printCapabilities = false

    /// Every model feature: parsed by FeatureArguments from SMMUFeature.all.
    @Argument(parsing: .allUnrecognized, help: .hidden)
    var featureArguments: [String] = []
    @Option(help: "Write check reports to this file, one JSON object per line (implies --check).")
    var checkReport: String?
    @Option(help: ArgumentHelp("Busy-poll this many microseconds for the front end's next message before sleeping (0: never).",
                               discussion: "A sleeping thread takes tens of microseconds to wake on a busy host; a vCPU waiting for a reply usually sends its next request within a few."))
    var pollUs: UInt32 = Wire.defaultPollMicroseconds
    @Option(help: ArgumentHelp("The most the wait for the next request polls, in microseconds: it grows from --poll-us while requests come just after it gave up.",
                               discussion: "As QEMU's poll-max-ns: a guest in a map/unmap loop is caught spinning; an idle one costs --poll-us per request."))
    var pollMaxUs: UInt32 = Wire.defaultPollMaxMicroseconds
    @Option(help: ArgumentHelp("Coalesce the wired CMD_SYNC interrupt's pulses within this many microseconds (0: send every pulse).",
                               discussion: "Spec 3.18 allows an SMMU to coalesce identical interrupts without significantly delaying them: a pulse goes out at once unless one went out within the window, and then one pulse goes out when the window ends. MSIs are never coalesced."))
    var syncIRQCoalesceUs: UInt32 = VSMMUServer.defaultSyncIRQCoalesceMicroseconds
    static let maxSyncIRQCoalesceUs: UInt32 = 100_000
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: LevelArg = .info

    func smmuConfiguration() throws -> SMMUConfiguration {
        try FeatureArguments.configuration(from: CheckArgument.extract(featureArguments).rest)
    }

    /// Check mode, if asked for by --check[=RULES] or --check-report.
    func checkSettings() throws -> CheckSettings? {
        let rules = try CheckArgument.extract(featureArguments).rules
        guard rules != nil || checkReport != nil else { return nil }
        return CheckSettings(rules: rules ?? Set(CheckRule.allCases), reportPath: checkReport)
    }

    func validate() throws {
        if !printCapabilities && (socketPath == nil) == (fd == nil) {
            throw ValidationError("give exactly one of --socket-path and --fd")
        }
        let config = try smmuConfiguration()
        do { try config.validate() } catch { throw ValidationError("\(error)") }
        // 3.18: coalescing must not significantly delay the notification.
        if syncIRQCoalesceUs > Self.maxSyncIRQCoalesceUs {
            throw ValidationError("--sync-irq-coalesce-us is at most \(Self.maxSyncIRQCoalesceUs)")
        }
        _ = try checkSettings()
    }

    func run() throws {
        let config = try smmuConfiguration()
        if printCapabilities {
            print(Capabilities.json(config))
            return
        }
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = Logger.Level(rawValue: logLevel.rawValue) ?? .info
            return h
        }
        let logger = Logger(label: "vsmmu")
        let server = try VSMMUServer(configuration: config, logger: logger, pollMicroseconds: pollUs, pollMaxMicroseconds: pollMaxUs,
                                     syncIRQCoalesceMicroseconds: syncIRQCoalesceUs,
                                     check: checkSettings())
        ShutdownOnSignal.install(server: server, socketPath: socketPath, logger: logger)
        if let fd {
            server.serve(connectionFD: fd)
            if let line = server.checkSummaryLine { logger.info("\(line)") }
            ShutdownOnSignal.exitCleanly(socketPath: nil)
        }
        guard let socketPath else { return }
        let listenFD = try server.listen(path: socketPath)
        logger.info("listening on \(socketPath)")
        server.acceptLoop(listenFD: listenFD)
        if let line = server.checkSummaryLine { logger.info("\(line)") }
        ShutdownOnSignal.exitCleanly(socketPath: socketPath)
    }
}
