import CVSMMU
import Dispatch
import Logging
import SMMU
import SystemPackage
import VSMMUServer
#if canImport(Glibc)
import Glibc
#endif

/// The backend as a hostile front end sees it: each input is the raw byte
/// stream of one connection (message framing included: headers, sizes,
/// payloads, all fuzzed) served by a real `Session` on a socket pair, after
/// a preamble that gives it 1 MiB of guest RAM (ADD_MEM_REGION with a
/// memfd), so that the model behind it reaches memory. The fuzzer does not
/// read replies; the socket buffers hold them (inputs are at most a few
/// KiB). Descriptors cannot be fuzzed, so requests that need one are
/// refused, as they must be. Ends when the session has served the stream
/// and torn down: a hang is a libFuzzer timeout.
enum WireFuzzer {
    static let ramBase: UInt64 = 0x4000_0000
    static let ramSize = 1 << 20
    private static let log: RateLimitedLogger = {
        var logger = Logger(label: "vsmmu-fuzz")
        logger.logLevel = .critical
        return RateLimitedLogger(logger: logger)
    }()

    /// Bytes of replies the last input drew (the replay mode prints them).
    nonisolated(unsafe) static var lastReplyBytes: Int32 = 0

    static func run(_ input: UnsafeRawBufferPointer) {
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            return
        }
        for fd in fds {
            var big: Int32 = 4 << 20
            _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, socklen_t(MemoryLayout<Int32>.size))
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, socklen_t(MemoryLayout<Int32>.size))
        }
        let front = MessageSocket(fd: fds[0])
        let session = Session(socket: MessageSocket(fd: fds[1]), configuration: .init(), log: log, syncTimeoutMs: 50)
        let done = DispatchSemaphore(value: 0)
        startDetachedThread {
            session.run()
            done.signal()
        }
        addRAM(front)
        _ = input.withMemoryRebound(to: UInt8.self) { front.send(bytes: Array($0)) }
        _ = shutdown(fds[0], Int32(SHUT_WR))
        done.wait()
        var pending: Int32 = 0
        _ = ioctl(fds[0], UInt(FIONREAD), &pending)
        lastReplyBytes = pending
    }

    private static func addRAM(_ front: MessageSocket) {
        let memfd = vsmmu_shim_memfd("vsmmu-fuzz-ram", UInt64(ramSize))
        guard memfd >= 0 else { return }
        defer { close(memfd) }
        var w = WireWriter()
        WireMemRegion(guestAddr: ramBase, size: UInt64(ramSize)).encode(into: &w)
        front.send(request: FrontRequest.addMemRegion.rawValue, payload: w.bytes, fds: [FileDescriptor(rawValue: memfd)])
    }

    /// Seed inputs built with the wire format's own encoders: a Linux-like
    /// bring-up (queues, stream table, enables), MMIO reads and writes,
    /// translations, page requests, endpoints, a reset and malformed
    /// headers.
    static var seeds: [String: [UInt8]] {
        func message(_ r: FrontRequest, needReply: Bool = false, _ build: (inout WireWriter) -> Void = { _ in }) -> [UInt8] {
            var p = WireWriter()
            build(&p)
            var w = WireWriter()
            let flags = Wire.version | (needReply ? Wire.flagNeedReply : 0)
            MessageHeader(request: r.rawValue, flags: flags, size: UInt32(p.bytes.count)).encode(into: &w)
            return w.bytes + p.bytes
        }
        func mmioWrite(_ offset: UInt64, _ value: UInt64, size: UInt32 = 4) -> [UInt8] {
            message(.mmioWrite, needReply: true) { WireMMIO(offset: offset, size: size, value: value).encode(into: &$0) }
        }
        let strtab = ramBase + 0x1_0000, cmdq = ramBase + 0x2_0000, eventq = ramBase + 0x3_0000
        let bringUp = mmioWrite(0x80, strtab, size: 8) + mmioWrite(0x88, 6) + mmioWrite(0x90, cmdq | 8, size: 8)
            + mmioWrite(0xA0, eventq | 7, size: 8) + mmioWrite(0x20, 0b1000) + mmioWrite(0x20, 0b1100)
            + mmioWrite(0x20, 0b1101)
        let translate = message(.translate) { WireTranslateRequest(sid: 1, iova: 0x1000).encode(into: &$0) }
        let endpoint = message(.registerEndpoint) { WireEndpoint(sid: 1, flags: WireEndpoint.ats | WireEndpoint.pri,
                                                                 pasidBits: 20).encode(into: &$0) }
        let page = message(.pageRequest) { WirePageRequest(sid: 1, flags: 0, prgIndex: 1, addr: 0x2000).encode(into: &$0) }
        var truncated = MessageHeader(request: FrontRequest.mmioRead.rawValue, flags: Wire.version, size: 4096)
        var bad = WireWriter()
        truncated.encode(into: &bad)
        truncated.size = 0
        return [
            "handshake": message(.getFeatures) + message(.getConfig),
            "bring-up": bringUp + message(.mmioRead) { WireMMIO(offset: 0x24, size: 4).encode(into: &$0) },
            "translate": bringUp + endpoint + translate + page,
            "commands": bringUp + mmioWrite(0x98, 1) + message(.reset),
            "truncated": bad.bytes + [1, 2, 3],
        ]
    }
}
