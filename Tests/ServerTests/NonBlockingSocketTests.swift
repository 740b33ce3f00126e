import Testing
import VSMMUServer
#if canImport(Glibc)
import Glibc
#endif

/// A descriptor handed over with `--fd` may have O_NONBLOCK set (the file
/// status flags belong to the open file, which the parent shares). The
/// backend then waits for the socket instead of treating EAGAIN as an error
/// (docs/backend.md, "Robustness").
@Suite("Non-blocking sockets")
struct NonBlockingSocketTests {
    @Test func requestsAfterAnIdlePeriodAreAnswered() throws {
        let c = try TestClient(nonBlocking: true)
        usleep(50_000)   // the reader finds nothing to read at first
        #expect(!c.serverFinished)
        let m = try c.request(.getFeatures)
        #expect(m.payload.count == 8)
        // Replies faster than the client reads, into a small send buffer:
        // the backend's sends find it full and wait for room.
        for _ in 0..<100 { c.send(FrontRequest.getFeatures.rawValue) }
        usleep(50_000)
        for _ in 0..<100 {
            let r = try c.receive()
            #expect(r.header.request == FrontRequest.getFeatures.rawValue && r.payload.count == 8)
        }
        #expect(!c.serverFinished)
    }
}
