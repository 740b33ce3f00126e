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
        discussion: """
            Listens on --socket-path (one front end at a time; after a disconnect the SMMU \
            state and guest memory are dropped and the next front end starts from reset), \
            or serves an inherited connected socket (--fd) and exits when it closes. \
            Every feature is on by default; --no-FEATURE turns one off.
            """)

    enum StallModelArg: String, ExpressibleByArgument, CaseIterable { case both, terminate, stall }
    enum HTTUArg: String, ExpressibleByArgument, CaseIterable {
        case none, af, afDirty = "af+dirty"
    }
    enum LevelArg: String, ExpressibleByArgument, CaseIterable {
        case trace, debug, info, notice, warning, error, critical
    }

    @Option(help: "Listen on this Unix socket path (a stale socket file is removed).")
    var socketPath: String?
    @Option(help: "Serve this inherited, already connected socket; exit when the front end disconnects.")
    var fd: Int32?
    @Flag(help: "Print the backend's capabilities as JSON (as vhost-user backends do) and exit.")
    var printCapabilities = false

    @Flag(inversion: .prefixedNo, help: "Stage-1 translation (IDR0.S1P).")
    var stage1 = true
    @Flag(inversion: .prefixedNo, help: "Stage-2 translation (IDR0.S2P).")
    var stage2 = true
    @Flag(inversion: .prefixedNo, help: "Nested translation (both stages at once; off when either stage is off).")
    var nested = true
    @Option(help: "SubstreamID (PASID) width in bits, 0-20 (IDR1.SSIDSIZE); 0: no substreams.")
    var ssidBits: UInt8 = 20
    @Option(help: "StreamID width in bits, 0-32 (IDR1.SIDSIZE).")
    var sidBits: UInt8 = 16
    @Flag(inversion: .prefixedNo, help: "2-level stream tables (IDR0.ST_LEVEL).")
    var twoLevelStrtab = true
    @Flag(inversion: .prefixedNo, help: "2-level CD tables (IDR0.CD2L).")
    var twoLevelCdtab = true
    @Flag(inversion: .prefixedNo, help: "PCIe ATS (IDR0.ATS); the front end advertises ats-supported. Off also turns PRI off.")
    var ats = true
    @Flag(inversion: .prefixedNo, help: "PCIe PRI and the PRI queue (IDR0.PRI).")
    var pri = true
    @Flag(inversion: .prefixedNo, help: "MSIs (IDR0.MSI): CMD_SYNC completion written to guest RAM.")
    var msi = true
    @Flag(inversion: .prefixedNo, help: "Send-event on CMD_SYNC (IDR0.SEV).")
    var sev = true
    @Option(help: "Stall model (IDR0.STALL_MODEL): both, terminate or stall (forced).")
    var stallModel: StallModelArg = .both
    @Flag(inversion: .prefixedNo, help: "EL2 translation regime and TLBI_EL2_* (IDR0.HYP).")
    var hyp = true
    @Flag(inversion: .prefixedNo, help: "Range invalidation (IDR3.RIL).")
    var ril = true
    @Option(help: "Hardware table updates (IDR0.HTTU): none, af or af+dirty.")
    var httu: HTTUArg = .afDirty
    @Option(help: "Output address size in bits: 32, 36, 40, 42, 44, 48 or 52 (IDR5.OAS).")
    var oas: UInt8 = 48
    @Flag(inversion: .prefixedNo, help: "4 KiB translation granule (IDR5.GRAN4K).")
    var granule4k = true
    @Flag(inversion: .prefixedNo, help: "16 KiB translation granule (IDR5.GRAN16K).")
    var granule16k = true
    @Flag(inversion: .prefixedNo, help: "64 KiB translation granule (IDR5.GRAN64K).")
    var granule64k = true
    @Flag(inversion: .prefixedNo, help: "16-bit ASIDs (IDR0.ASID16).")
    var asid16 = true
    @Flag(inversion: .prefixedNo, help: "16-bit VMIDs (IDR0.VMID16).")
    var vmid16 = true
    @Flag(inversion: .prefixedNo, help: "Coherent table walks and queue accesses (IDR0.COHACC).")
    var coherent = true
    @Flag(inversion: .prefixedNo, help: "Broadcast TLB maintenance (IDR0.BTM); off by default.")
    var btm = false
    @Option(help: "log2 of the largest command queue, 1-19 (IDR1.CMDQS).")
    var cmdqLog2: UInt8 = 19
    @Option(help: "log2 of the largest event queue, 1-19 (IDR1.EVENTQS).")
    var evtqLog2: UInt8 = 19
    @Option(help: "log2 of the largest PRI queue, 1-19 (IDR1.PRIQS).")
    var priqLog2: UInt8 = 19
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: LevelArg = .info

    func smmuConfiguration() -> SMMUConfiguration {
        var c = SMMUConfiguration()
        c.stage1 = stage1; c.stage2 = stage2; c.nested = nested && stage1 && stage2
        c.substreamIDBits = ssidBits; c.streamIDBits = sidBits
        c.twoLevelStreamTable = twoLevelStrtab; c.twoLevelCDTables = twoLevelCdtab
        c.ats = ats; c.pri = pri && ats; c.msi = msi; c.sev = sev
        c.stallModel = switch stallModel { case .both: .both; case .terminate: .terminateOnly; case .stall: .stallOnly }
        c.hyp = hyp; c.rangeInvalidation = ril
        c.httu = switch httu { case .none: .none; case .af: .accessFlag; case .afDirty: .accessAndDirty }
        c.outputAddressBits = oas
        c.granule4K = granule4k; c.granule16K = granule16k; c.granule64K = granule64k
        c.asid16 = asid16; c.vmid16 = vmid16; c.coherent = coherent; c.broadcastTLBMaintenance = btm
        c.commandQueueLog2 = cmdqLog2; c.eventQueueLog2 = evtqLog2; c.priQueueLog2 = priqLog2
        return c
    }

    func validate() throws {
        if !printCapabilities && (socketPath == nil) == (fd == nil) {
            throw ValidationError("give exactly one of --socket-path and --fd")
        }
        do { try smmuConfiguration().validate() } catch { throw ValidationError("\(error)") }
    }

    func run() throws {
        let config = smmuConfiguration()
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
