import CVSMMU
import Logging
import SMMU
import Synchronization
import SystemPackage
import VSMMUServer
#if canImport(Glibc)
import Glibc
#endif

/// A thread-safe boolean (Mutex itself cannot be captured by escaping closures).
final class Flag: Sendable {
    private let m = Locked(false)
    func set() { m.withLock { $0 = true } }
    var value: Bool { m.withLock { $0 } }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

func socketPair() -> (Int32, Int32) {
    var fds: [Int32] = [-1, -1]
    let rc = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds)
    precondition(rc == 0)
    return (fds[0], fds[1])
}

func monotonicMs() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
}

/// Shared guest RAM: a memfd mapped in the test too.
final class SharedRAM: @unchecked Sendable {
    let fd: Int32
    let base: UInt64
    let size: UInt64
    let host: UnsafeMutableRawPointer
    init(base: UInt64, size: UInt64) {
        self.base = base; self.size = size
        fd = vsmmu_shim_memfd("test-ram", size)
        precondition(fd >= 0)
        host = mmap(nil, Int(size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)!
    }
    deinit { munmap(host, Int(size)); close(fd) }
    func write64(_ addr: UInt64, _ v: UInt64) {
        (host + Int(addr - base)).storeBytes(of: v.littleEndian, as: UInt64.self)
    }
    func read64(_ addr: UInt64) -> UInt64 { UInt64(littleEndian: (host + Int(addr - base)).load(as: UInt64.self)) }
    func read32(_ addr: UInt64) -> UInt32 { vsmmu_shim_load_acquire32(host + Int(addr - base)) }
    /// A 32-bit MSI store, as a front end makes it for an MSI message; false
    /// outside this RAM.
    @discardableResult
    func storeMSI(_ addr: UInt64, _ data: UInt32) -> Bool {
        guard addr >= base, addr &- base <= size - 4, addr & 3 == 0 else { return false }
        vsmmu_shim_store_release32(host + Int(addr - base), data.littleEndian)
        return true
    }
    func writeWords(_ addr: UInt64, _ words: [UInt64]) {
        for (i, w) in words.enumerated() { write64(addr + UInt64(i) * 8, w) }
    }
}

/// Plays QEMU's part against an in-process server on a socket pair, or
/// against a `vsmmu` process on the other end of `connectedTo`.
final class TestClient: @unchecked Sendable {
    private let inProcess: VSMMUServer?
    let front: MessageSocket
    private let done = Flag()
    var backend: MessageSocket?

    /// The in-process server (tests that made one).
    var server: VSMMUServer { inProcess! }

    /// The front-end end of a connection to a backend started elsewhere.
    init(connectedTo fd: Int32) {
        inProcess = nil
        front = MessageSocket(fd: fd)
    }

    /// `nonBlocking`: the server's end has O_NONBLOCK, as an inherited `--fd` may.
    init(configuration: SMMUConfiguration = .init(), syncTimeoutMs: Int32 = Wire.syncTimeoutMs,
         nonBlocking: Bool = false, check: CheckSettings? = nil,
         syncIRQCoalesceMicroseconds: UInt32 = VSMMUServer.defaultSyncIRQCoalesceMicroseconds) throws {
        var logger = Logger(label: "vsmmu-test")
        logger.logLevel = .critical
        let server = try VSMMUServer(configuration: configuration, logger: logger, syncTimeoutMs: syncTimeoutMs,
                                     syncIRQCoalesceMicroseconds: syncIRQCoalesceMicroseconds, check: check)
        inProcess = server
        let (a, b) = socketPair()
        if nonBlocking {
            precondition(fcntl(b, F_SETFL, fcntl(b, F_GETFL) | O_NONBLOCK) == 0)
            var small: Int32 = 4096   // so that replies fill it
            precondition(setsockopt(b, SOL_SOCKET, SO_SNDBUF, &small, socklen_t(MemoryLayout<Int32>.size)) == 0)
        }
        front = MessageSocket(fd: a)
        let done = self.done
        startDetachedThread {
            server.serve(connectionFD: b)
            done.set()
        }
    }

    var serverFinished: Bool { done.value }

    /// Waits up to `ms` for the session to end.
    func waitForServerExit(ms: UInt64 = 2000) -> Bool {
        let end = monotonicMs() + ms
        while monotonicMs() < end {
            if serverFinished { return true }
            usleep(1000)
        }
        return serverFinished
    }

    func send(_ request: UInt32, flags: UInt32 = Wire.version, payload: [UInt8] = [], fds: [Int32] = []) {
        front.send(request: request, flags: flags, payload: payload, fds: fds.map(FileDescriptor.init(rawValue:)))
    }

    /// Receives one message on the front-end channel within `ms`.
    func receive(ms: Int32 = 2000) throws -> Message {
        guard front.waitReadable(ms: ms) else { throw TestFailure("no reply within \(ms) ms") }
        switch front.receive() {
        case .success(let m): return m
        case .failure(let e): throw TestFailure("receive: \(e)")
        }
    }

    func request(_ r: FrontRequest, flags: UInt32 = Wire.version, payload: [UInt8] = [], fds: [Int32] = []) throws -> Message {
        send(r.rawValue, flags: flags, payload: payload, fds: fds)
        let m = try receive()
        guard m.header.request == r.rawValue, m.header.isReply else {
            throw TestFailure("reply header \(m.header) for request \(r)")
        }
        return m
    }

    static func status(_ m: Message) -> Int64? {
        guard m.payload.count == 8 else { return nil }
        var r = WireReader(m.payload)
        return r.i64()
    }

    func statusRequest(_ r: FrontRequest, payload: [UInt8] = [], fds: [Int32] = []) throws -> Int64? {
        TestClient.status(try request(r, payload: payload, fds: fds))
    }

    func setBackendChannel() throws -> MessageSocket {
        let (mine, theirs) = socketPair()
        let st = try statusRequest(.setBackendChannel, fds: [theirs])
        close(theirs)
        guard st == 0 else { throw TestFailure("SET_BACKEND_CHANNEL: \(String(describing: st))") }
        let s = MessageSocket(fd: mine)
        backend = s
        return s
    }

    func addRegion(_ ram: SharedRAM, offset: UInt64 = 0) throws -> Int64? {
        var w = WireWriter(); WireMemRegion(guestAddr: ram.base, size: ram.size, mmapOffset: offset).encode(into: &w)
        return try statusRequest(.addMemRegion, payload: w.bytes, fds: [ram.fd])
    }

    func mmioRead(_ offset: UInt64, size: UInt32 = 4) throws -> UInt64 {
        var w = WireWriter(); WireMMIO(offset: offset, size: size).encode(into: &w)
        let m = try request(.mmioRead, payload: w.bytes)
        var r = WireReader(m.payload)
        return r.u64()
    }

    func mmioWrite(_ offset: UInt64, _ value: UInt64, size: UInt32 = 4, needReply: Bool = false) throws {
        var w = WireWriter(); WireMMIO(offset: offset, size: size, value: value).encode(into: &w)
        if needReply {
            let st = TestClient.status(try request(.mmioWrite, flags: Wire.version | Wire.flagNeedReply, payload: w.bytes))
            guard st == 0 else { throw TestFailure("MMIO_WRITE status \(String(describing: st))") }
        } else {
            send(FrontRequest.mmioWrite.rawValue, payload: w.bytes)
        }
    }

    func translate(sid: UInt32, iova: UInt64, flags: UInt32 = 0, ssid: UInt32 = 0) throws -> WireTranslateReply {
        var w = WireWriter(); WireTranslateRequest(sid: sid, ssid: ssid, flags: flags, iova: iova).encode(into: &w)
        let m = try request(.translate, payload: w.bytes)
        guard m.payload.count == WireTranslateReply.size else { throw TestFailure("TRANSLATE reply of \(m.payload.count) bytes") }
        var r = WireReader(m.payload)
        return WireTranslateReply(&r)
    }

    /// Receives one backend-channel message within `ms`.
    func receiveBackend(ms: Int32 = 2000) throws -> Message {
        guard let backend else { throw TestFailure("no backend channel") }
        guard backend.waitReadable(ms: ms) else { throw TestFailure("no backend message within \(ms) ms") }
        switch backend.receive() {
        case .success(let m): return m
        case .failure(let e): throw TestFailure("backend receive: \(e)")
        }
    }

    func answerSync(status: Int64 = 0) {
        var w = WireWriter(); w.i64(status)
        backend?.reply(to: BackRequest.sync.rawValue, payload: w.bytes)
    }
}

/// Whether the model's register file is implemented (IDR0 reads non-zero):
/// tests of register behaviour run only then.
enum ModelProbe {
    static let registerFileImplemented: Bool = {
        guard let m = try? SMMUv3(memory: RegionGuestMemory(), host: NoHost()) else { return false }
        return m.read(offset: 0, size: 4) != 0
    }()

    private final class NoHost: HostSignals {
        func raiseInterrupt(_ line: SMMUInterruptLine) {}
        func writeMSI(address: PhysicalAddress, data: UInt32) {}
        func invalidate(_ invalidation: HostInvalidation) {}
        func synchronize() -> Bool { true }
        func deliverPageResponse(_ response: PageResponse) {}
        func resolveStall(streamID: UInt32, stag: UInt16, retry: Bool) {}
    }
}

/// A descriptor that reports when every copy of it is closed: the write
/// end of a pipe (the read end sees EOF once all write ends are closed).
struct ClosureProbe {
    let readEnd: Int32, writeEnd: Int32
    init() {
        var p: [Int32] = [-1, -1]
        precondition(pipe(&p) == 0)
        readEnd = p[0]; writeEnd = p[1]
    }
    /// Closes our write end; true if the read end then sees EOF within `ms`.
    func allCopiesClosed(ms: Int32 = 1000) -> Bool {
        close(writeEnd)
        var pfd = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
        let r = poll(&pfd, 1, ms)
        var byte: UInt8 = 0
        let n = r > 0 ? read(readEnd, &byte, 1) : -1
        close(readEnd)
        return n == 0
    }
}
