import CVSMMU
import Logging
import SMMU
import VSMMUServer
#if canImport(Glibc)
import Glibc
#endif

// Round trips over a Unix socket: TRANSLATE and MMIO_READ against an
// in-process vsmmu server (its reader thread, as in production), beside a
// plain echo round trip of the same size measured in the same run.

func nowNs() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

func pair() -> (Int32, Int32) {
    var fds: [Int32] = [-1, -1]
    precondition(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
    return (fds[0], fds[1])
}

struct Stats {
    let median: Double, p99: Double
    init(_ samples: [UInt64]) {
        let s = samples.sorted()
        median = Double(s[s.count / 2]) / 1000
        p99 = Double(s[min(s.count - 1, s.count * 99 / 100)]) / 1000
    }
}

func measure(_ iterations: Int, _ body: () -> Void) -> Stats {
    for _ in 0..<min(1000, iterations / 10) { body() }   // warm-up
    var samples = [UInt64](repeating: 0, count: iterations)
    for i in 0..<iterations {
        let t0 = nowNs()
        body()
        samples[i] = nowNs() &- t0
    }
    return Stats(samples)
}

/// Echo server: reads a header + payload and writes the same bytes back.
func startEcho(_ fd: Int32) {
    startDetachedThread {
        var buf = [UInt8](repeating: 0, count: 512)
        while true {
            var got = 0
            while got < Wire.headerSize {
                let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress! + got, Wire.headerSize - got) }
                if n <= 0 { close(fd); return }
                got += n
            }
            let size = Int(MessageHeader(decoding: Array(buf[0..<Wire.headerSize])).size)
            while got < Wire.headerSize + size {
                let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress! + got, Wire.headerSize + size - got) }
                if n <= 0 { close(fd); return }
                got += n
            }
            _ = buf.withUnsafeBytes { write(fd, $0.baseAddress, got) }
        }
    }
}

func roundTrip(_ sock: MessageSocket, _ request: UInt32, _ payload: [UInt8]) {
    sock.send(request: request, payload: payload)
    guard case .success = sock.receive() else { fatalError("round trip failed") }
}

func fmt(_ v: Double) -> String {
    let s = String(Int((v * 100).rounded()))
    let padded = s.count < 3 ? String(repeating: "0", count: 3 - s.count) + s : s
    return String(padded.dropLast(2)) + "." + String(padded.suffix(2))
}
func row(_ name: String, _ s: Stats, baseline: Stats) -> String {
    let cols = [name, fmt(s.median), fmt(s.p99), fmt(s.median / baseline.median)]
    let widths = [24, 12, 12, 16]
    return zip(cols, widths).map { c, w in c.count >= w ? c : c + String(repeating: " ", count: w - c.count) }.joined()
}

/// Socket round trips beside a plain echo of the same size, same run.
func runSocketBenchmark(iterations: Int) throws {
    var logger = Logger(label: "bench")
    logger.logLevel = .critical
    let server = try VSMMUServer(configuration: .init(), logger: logger)
    let (client, serverEnd) = pair()
    startDetachedThread { server.serve(connectionFD: serverEnd) }
    let front = MessageSocket(fd: client)

    var translate = WireWriter()
    WireTranslateRequest(sid: 8, flags: 1 << 1, iova: 0x1234_5000).encode(into: &translate)
    var mmio = WireWriter()
    WireMMIO(offset: 0x24, size: 4).encode(into: &mmio)

    let (echoClient, echoServer) = pair()
    startEcho(echoServer)
    let echo = MessageSocket(fd: echoClient)

    let echo24 = measure(iterations) { roundTrip(echo, 10, translate.bytes) }
    let tr = measure(iterations) { roundTrip(front, FrontRequest.translate.rawValue, translate.bytes) }
    let rd = measure(iterations) { roundTrip(front, FrontRequest.mmioRead.rawValue, mmio.bytes) }

    print("vsmmu-bench: \(iterations) round trips each, Unix socket pair, in-process server")
    print("round trip              median µs   p99 µs      median / echo")
    print(row("echo (24 B payload)", echo24, baseline: echo24))
    print(row("TRANSLATE", tr, baseline: echo24))
    print(row("MMIO_READ", rd, baseline: echo24))
}
