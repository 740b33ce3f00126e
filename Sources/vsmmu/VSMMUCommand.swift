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
        usage: "vsmmu (--socket-path PATH | --fd N | --print-capabilities) [FEATURE OPTIONS] [--log-level LEVEL]",
        discussion: """
            Listens on --socket-path (one front end at a time; after a disconnect the SMMU \
            state and guest memory are dropped and the next front end starts from reset), \
            or serves an inherited connected socket (--fd) and exits when it closes. \
            Model features (from one table, SMMUFeature.all; also --feature NAME=VALUE; \
            --no-ats also turns PRI off, and nested is off when either stage is):

            """ + FeatureArguments.help)

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
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: LevelArg = .info

    func smmuConfiguration() throws -> SMMUConfiguration {
        try FeatureArguments.configuration(from: featureArguments)
    }

    func validate() throws {
        if !printCapabilities && (socketPath == nil) == (fd == nil) {
            throw ValidationError("give exactly one of --socket-path and --fd")
        }
        let config = try smmuConfiguration()
        do { try config.validate() } catch { throw ValidationError("\(error)") }
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
        let server = try VSMMUServer(configuration: config, logger: logger)
        ShutdownOnSignal.install(server: server, socketPath: socketPath, logger: logger)
        if let fd {
            server.serve(connectionFD: fd)
            ShutdownOnSignal.exitCleanly(socketPath: nil)
        }
        guard let socketPath else { return }
        let listenFD = try server.listen(path: socketPath)
        logger.info("listening on \(socketPath)")
        server.acceptLoop(listenFD: listenFD)
        ShutdownOnSignal.exitCleanly(socketPath: socketPath)
    }
}
