import CVSMMU
import Logging
import SMMU
import Synchronization
import SystemPackage
import Testing
import VSMMUServer
#if canImport(Glibc)
import Glibc
#endif

@Suite("Malformed messages", .serialized)
struct MalformedMessageTests {
    @Test func unknownRequestGetsENOSYS() throws {
        let c = try TestClient()
        c.send(99)
        let m = try c.receive()
        #expect(m.header.request == 99 && m.header.isReply)
        #expect(TestClient.status(m) == Int64(-ENOSYS))
        #expect(try c.request(.getFeatures).payload.count == 8)   // still serving
    }

    @Test func wrongVersionReplyFlagAndPayloadSize() throws {
        let c = try TestClient()
        #expect(TestClient.status(try c.request(.getFeatures, flags: 0x2)) == Int64(-EINVAL))
        #expect(TestClient.status(try c.request(.getFeatures, flags: Wire.version | Wire.flagReply)) == Int64(-EINVAL))
        #expect(TestClient.status(try c.request(.getFeatures, payload: [1, 2, 3, 4])) == Int64(-EINVAL))
        #expect(TestClient.status(try c.request(.translate, payload: [UInt8](repeating: 0, count: 16))) == Int64(-EINVAL))
        #expect(TestClient.status(try c.request(.mmioRead, payload: [UInt8](repeating: 0, count: 256))) == Int64(-EINVAL))
        #expect(try c.request(.getFeatures).payload.count == 8)
    }

    @Test func unexpectedDescriptorsAreClosed() throws {
        let c = try TestClient()
        let probe = ClosureProbe()
        #expect(TestClient.status(try c.request(.getFeatures, fds: [probe.writeEnd])) == Int64(-EINVAL))
        #expect(probe.allCopiesClosed())
        // An unknown request with a descriptor: closed too.
        let probe2 = ClosureProbe()
        c.send(77, fds: [probe2.writeEnd])
        #expect(TestClient.status(try c.receive()) == Int64(-ENOSYS))
        #expect(probe2.allCopiesClosed())
        // A posted MMIO write with a descriptor: no reply, descriptor closed.
        let probe3 = ClosureProbe()
        var w = WireWriter(); WireMMIO(offset: 0x20, size: 4).encode(into: &w)
        c.send(FrontRequest.mmioWrite.rawValue, payload: w.bytes, fds: [probe3.writeEnd])
        #expect(try c.request(.getFeatures).payload.count == 8)
        #expect(probe3.allCopiesClosed())
    }

    @Test func oversizedPayloadClosesConnection() throws {
        let c = try TestClient()
        var w = WireWriter(); MessageHeader(request: 1, size: 100_000).encode(into: &w)
        _ = w.bytes.withUnsafeBytes { write(c.front.fd, $0.baseAddress, $0.count) }
        #expect(c.waitForServerExit())
    }

    @Test func truncatedHeaderClosesConnection() throws {
        let c = try TestClient()
        let bytes: [UInt8] = [1, 0, 0, 0, 1]
        _ = bytes.withUnsafeBytes { write(c.front.fd, $0.baseAddress, $0.count) }
        shutdown(c.front.fd, Int32(SHUT_WR))
        #expect(c.waitForServerExit())
    }

    @Test func truncatedPayloadClosesConnection() throws {
        let c = try TestClient()
        var w = WireWriter(); MessageHeader(request: FrontRequest.translate.rawValue, size: 24).encode(into: &w)
        w.zeros(10)
        let probe = ClosureProbe()
        c.front.send(request: FrontRequest.translate.rawValue, payload: []) // a valid-size mismatch first
        _ = try c.receive()
        c.front.send(bytes: w.bytes, fds: [FileDescriptor(rawValue: probe.writeEnd)])
        shutdown(c.front.fd, Int32(SHUT_WR))
        #expect(c.waitForServerExit())
        #expect(probe.allCopiesClosed())
    }

    @Test func disconnectUnmapsAndServerAcceptsNext() throws {
        var logger = Logger(label: "test"); logger.logLevel = .critical
        let server = try VSMMUServer(configuration: .init(), logger: logger)
        let path = "/tmp/vsmmu-test-\(getpid()).sock"
        let lfd = try server.listen(path: path)
        let stopped = Flag()
        startDetachedThread { server.acceptLoop(listenFD: lfd); stopped.set() }
        defer { server.shutdown(); unlink(path) }

        func connectClient() -> MessageSocket {
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_un(); addr.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &addr.sun_path) { p in for (i, b) in path.utf8.enumerated() { p[i] = b } }
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            precondition(rc == 0)
            return MessageSocket(fd: fd)
        }
        // First front end: memory mapped, then framing lost (oversized).
        do {
            let s = connectClient()
            let ram = SharedRAM(base: 0x8000_0000, size: 1 << 16)
            var w = WireWriter(); WireMemRegion(guestAddr: ram.base, size: ram.size).encode(into: &w)
            s.send(request: FrontRequest.addMemRegion.rawValue, payload: w.bytes, fds: [FileDescriptor(rawValue: ram.fd)])
            #expect(s.waitReadable(ms: 2000))
            if case .success(let m) = s.receive() { #expect(TestClient.status(m) == 0) }
            #expect(mappingCount(of: ram) == 2)  // ours and the backend's
            var h = WireWriter(); MessageHeader(request: 1, size: 4096).encode(into: &h)
            _ = h.bytes.withUnsafeBytes { write(s.fd, $0.baseAddress, $0.count) }
            #expect(s.waitReadable(ms: 2000))
            #expect(s.receive() == .failure(.closed))
            // The backend unmapped the region on disconnect.
            let end = monotonicMs() + 2000
            while mappingCount(of: ram) != 1 && monotonicMs() < end { usleep(1000) }
            #expect(mappingCount(of: ram) == 1)
        }
        // Second front end: served.
        let s2 = connectClient()
        s2.send(request: FrontRequest.getFeatures.rawValue)
        #expect(s2.waitReadable(ms: 2000))
        if case .success(let m) = s2.receive() { #expect(m.payload.count == 8) } else { Issue.record("no reply") }
        server.shutdown()
        let end = monotonicMs() + 2000
        while !stopped.value && monotonicMs() < end { usleep(1000) }
        #expect(stopped.value)
    }
}

extension Result: @retroactive Equatable where Success == Message, Failure == ReceiveError {
    public static func == (a: Self, b: Self) -> Bool {
        switch (a, b) {
        case (.failure(let x), .failure(let y)): x == y
        default: false
        }
    }
}

/// How many mappings of the memfd behind `ram` this process has (from /proc/self/maps).
func mappingCount(of ram: SharedRAM) -> Int {
    var st = stat()
    fstat(ram.fd, &st)
    guard let f = fopen("/proc/self/maps", "r") else { return -1 }
    defer { fclose(f) }
    var count = 0
    var line = [CChar](repeating: 0, count: 4096)
    while fgets(&line, Int32(line.count), f) != nil {
        let s = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let fields = s.split(separator: " ", omittingEmptySubsequences: true)
        if fields.count >= 5, fields[4] == Substring(String(st.st_ino)), s.contains("memfd:test-ram") { count += 1 }
    }
    return count
}
