import Logging
import VSMMUServer
#if canImport(Glibc)
import Glibc
#endif

/// SIGINT/SIGTERM: blocked in every thread and taken by one thread with
/// sigwait, which closes the sockets, removes the socket file and exits 0.
enum ShutdownOnSignal {
    static func install(server: VSMMUServer, socketPath: String?, logger: Logger) {
        // Before any other thread exists, so that all inherit the mask.
        blockTerminationSignals()
        startDetachedThread {
            let sig = waitForTerminationSignal()
            logger.info("signal \(sig): shutting down")
            server.shutdown()
            server.waitForSessionEnd(timeoutMs: 2000)
            if let line = server.checkSummaryLine { logger.info("\(line)") }
            exitCleanly(socketPath: socketPath)
        }
    }

    static func exitCleanly(socketPath: String?) -> Never {
        if let socketPath { unlink(socketPath) }
        exit(0)
    }
}
