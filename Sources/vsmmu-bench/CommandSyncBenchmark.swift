import CVSMMU
import Logging
import SMMU
import SystemPackage
import VSMMUServer
#if canImport(Glibc)
import Glibc
#endif

// A CMD_SYNC's cost, as QEMU's vCPU pays it: one CMDQ_PROD write (MMIO_WRITE
// with NEED_REPLY under VSMMU_F_MMIO_WRITE_SYNC and VSMMU_F_IN_ORDER_SYNC)
// whose reply comes after the batch ran, the backend channel drained after
// it (the MSI, the IRQ and any INVALIDATE the batch sent), against an
// in-process server with a bypass stream. Beside an echo round trip of the
// same sockets, both with the waiting side polling as QEMU's and the
// server's do (poll-us) and without. With VSMMU_F_POSTED_WRITES the write
// has no reply: the client then polls the sync slot, applying the MSI
// message when it comes as QEMU's main loop would.

/// A client playing QEMU: guest RAM, the SMMU brought up as Linux does, and
/// the batch TLBI_NSNH_ALL + CMD_SYNC.
final class SyncBenchClient {
    let front: MessageSocket
    let channel: MessageSocket
    let spinNs: UInt64
    /// CMDQ_PROD is posted (VSMMU_F_POSTED_WRITES).
    let posted: Bool
    let ram: UnsafeMutableRawPointer
    static let ramBase: UInt64 = 0x4000_0000, ramSize: UInt64 = 4 << 20
    static let cmdq: UInt64 = ramBase + 0x10_0000, cmdqLog2: UInt64 = 8
    static let strtab: UInt64 = ramBase + 0x20_0000
    private(set) var prod: UInt64 = 0

    init(server: VSMMUServer, spinNs: UInt64, posted: Bool = false) throws {
        self.spinNs = spinNs
        self.posted = posted
        let (client, serverEnd) = pair()
        startDetachedThread { server.serve(connectionFD: serverEnd) }
        let front = MessageSocket(fd: client)
        let fd = vsmmu_shim_memfd("bench-ram", Self.ramSize)
        precondition(fd >= 0)
        ram = mmap(nil, Int(Self.ramSize), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)!
        var f = WireWriter()
        f.u64(Wire.featureMMIOWriteSync | Wire.featureInOrderSync | (posted ? Wire.featurePostedWrites : 0))
        try Self.expectStatus(front, .setFeatures, f.bytes)
        let (mine, theirs) = pair()
        try Self.expectStatus(front, .setBackendChannel, [], fds: [FileDescriptor(rawValue: theirs)])
        close(theirs)
        var r = WireWriter(); WireMemRegion(guestAddr: Self.ramBase, size: Self.ramSize).encode(into: &r)
        try Self.expectStatus(front, .addMemRegion, r.bytes, fds: [FileDescriptor(rawValue: fd)])
        close(fd)
        self.front = front
        channel = MessageSocket(fd: mine)
        // arm_smmu_device_reset, reduced: stream table, command queue, CR0.
        write(0x80, Self.strtab | 1 << 62, size: 8)   // STRTAB_BASE
        write(0x88, 8)                                  // STRTAB_BASE_CFG: 256 linear STEs
        write(0x90, Self.cmdq | Self.cmdqLog2 | 1 << 62, size: 8)
        write(0x20, 1 << 3)                             // CR0.CMDQEN
        write(0x20, 1 << 3 | 1)                         // CR0.SMMUEN
        // StreamID 8: bypass (V, Config 0b100).
        store64(Self.strtab + 8 * 64, 1 | 0b100 << 1)
        batch([0x03 | 8 << 32, 1])                      // CFGI_STE
    }

    private static func expectStatus(_ front: MessageSocket, _ r: FrontRequest, _ payload: [UInt8],
                                     fds: [FileDescriptor] = []) throws {
        front.send(request: r.rawValue, payload: payload, fds: fds)
        guard case .success(let m) = front.receive(), m.payload.count == 8 else { throw BenchFailure("\(r)") }
        var rd = WireReader(m.payload)
        guard rd.i64() == 0 else { throw BenchFailure("\(r) refused") }
    }

    private func store64(_ addr: UInt64, _ v: UInt64) {
        (ram + Int(addr - Self.ramBase)).storeBytes(of: v.littleEndian, as: UInt64.self)
    }

    /// Waits for the reply as QEMU's vCPU does: polls (spinNs), then blocks.
    private func awaitReply() -> Message {
        _ = front.spinUntilReadable(ns: spinNs)
        guard case .success(let m) = front.receive() else { fatalError("no reply") }
        return m
    }

    /// Handles what came before the reply (VSMMU_F_IN_ORDER_SYNC): an MSI
    /// into RAM is stored; everything else is read and dropped.
    private func drain() {
        while channel.waitReadable(ms: 0), case .success(let m) = channel.receive() {
            if m.header.request == BackRequest.msi.rawValue, m.payload.count == 16 {
                var r = WireReader(m.payload)
                let addr = r.u64(), data = r.u32()
                if addr >= Self.ramBase, addr < Self.ramBase + Self.ramSize {
                    vsmmu_shim_store_release32(ram + Int(addr - Self.ramBase), data.littleEndian)
                }
            }
        }
    }

    func write(_ offset: UInt64, _ value: UInt64, size: UInt32 = 4) {
        var w = WireWriter(); WireMMIO(offset: offset, size: size, value: value).encode(into: &w)
        front.send(request: FrontRequest.mmioWrite.rawValue, flags: Wire.version | Wire.flagNeedReply, payload: w.bytes)
        _ = awaitReply()
        drain()
    }

    /// One command and a CMD_SYNC (MSI to its own slot, as Linux), then
    /// CMDQ_PROD; true once the sync slot reads 0.
    @discardableResult
    func batch(_ command: [UInt64]) -> Bool {
        let mask: UInt64 = (1 << Self.cmdqLog2) - 1
        let slot = Self.cmdq + ((prod + 1) & mask) * 16
        let sync: [UInt64] = [0x46 | 1 << 12 | 3 << 22 | 0xF << 24, slot & 0x000F_FFFF_FFFF_FFFC]
        for c in [command, sync] {
            let at = Self.cmdq + (prod & mask) * 16
            store64(at, c[0]); store64(at + 8, c[1])
            prod = (prod + 1) & ((mask << 1) | 1)
        }
        let slotPointer = ram + Int(slot - Self.ramBase)
        guard posted else {
            write(0x98, prod)
            return vsmmu_shim_load_acquire32(slotPointer) == 0
        }
        var w = WireWriter(); WireMMIO(offset: 0x98, size: 4, value: prod).encode(into: &w)
        front.send(request: FrontRequest.mmioWrite.rawValue, payload: w.bytes)
        // The guest polls its slot; the MSI comes as a message (in order).
        let deadline = nowNs() &+ 2_000_000_000
        while vsmmu_shim_load_acquire32(slotPointer) != 0 && nowNs() < deadline {
            _ = channel.spinUntilReadable(ns: spinNs)
            if channel.waitReadable(ms: spinNs == 0 ? 1 : 0) { drain() }
        }
        return vsmmu_shim_load_acquire32(slotPointer) == 0
    }

    func translate() {
        var w = WireWriter(); WireTranslateRequest(sid: 8, flags: 1 << 1, iova: 0x1234_5000).encode(into: &w)
        front.send(request: FrontRequest.translate.rawValue, payload: w.bytes)
        _ = awaitReply()
    }
}

struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = "bench set-up failed: " + d }
}

struct Percentiles {
    let p50: Double, p90: Double, p99: Double
    init(_ samples: [UInt64]) {
        let s = samples.sorted()
        func at(_ q: Int) -> Double { Double(s[min(s.count - 1, s.count * q / 100)]) / 1000 }
        p50 = at(50); p90 = at(90); p99 = at(99)
    }
}

func percentiles(_ iterations: Int, _ body: () -> Void) -> Percentiles {
    for _ in 0..<min(500, iterations / 10) { body() }
    var samples = [UInt64](repeating: 0, count: iterations)
    for i in 0..<iterations {
        let t0 = nowNs()
        body()
        samples[i] = nowNs() &- t0
    }
    return Percentiles(samples)
}

func runCommandSyncBenchmark(iterations: Int) throws {
    var logger = Logger(label: "bench")
    logger.logLevel = .critical
    let tlbiAll: [UInt64] = [0x30, 0]
    print("vsmmu-bench: \(iterations) each; CMD_SYNC = one CMDQ_PROD write (TLBI_NSNH_ALL + CMD_SYNC) as QEMU's vCPU makes it")
    print("wait                       what                          p50 µs    p90 µs    p99 µs    p50 / echo")
    for spinUs in [UInt32(0), Wire.defaultPollMicroseconds] {
        let server = try VSMMUServer(configuration: .init(), logger: logger, pollMicroseconds: spinUs,
                                     pollMaxMicroseconds: spinUs == 0 ? 0 : Wire.defaultPollMaxMicroseconds)
        let c = try SyncBenchClient(server: server, spinNs: UInt64(spinUs) * 1000)
        let p = try SyncBenchClient(server: server, spinNs: UInt64(spinUs) * 1000, posted: true)
        let (echoClient, echoServer) = pair()
        startEcho(echoServer)
        let echo = MessageSocket(fd: echoClient)
        var payload = WireWriter(); WireMMIO(offset: 0x98, size: 4).encode(into: &payload)
        let e = percentiles(iterations) {
            echo.send(request: FrontRequest.mmioWrite.rawValue, payload: payload.bytes)
            _ = echo.spinUntilReadable(ns: UInt64(spinUs) * 1000)
            _ = echo.receive()
        }
        guard c.batch(tlbiAll), p.batch(tlbiAll) else { throw BenchFailure("CMD_SYNC did not complete") }
        let idle = percentiles(iterations) { c.batch(tlbiAll) }
        let postedIdle = percentiles(iterations) { p.batch(tlbiAll) }
        let held = percentiles(iterations) { c.translate(); c.batch(tlbiAll) }
        let tr = percentiles(iterations) { c.translate() }
        let label = spinUs == 0 ? "sleep at once" : "poll \(spinUs) µs (default)"
        for (what, p) in [("echo (plain socket peer)", e), ("CMD_SYNC, nothing cached", idle),
                          ("CMD_SYNC, posted doorbell", postedIdle),
                          ("TRANSLATE + CMD_SYNC (INVAL)", held), ("TRANSLATE alone", tr)] {
            let cols = [label, what, fmt(p.p50), fmt(p.p90), fmt(p.p99), fmt(p.p50 / e.p50)]
            let widths = [27, 30, 10, 10, 10, 12]
            print(zip(cols, widths).map { c, w in c.count >= w ? c : c + String(repeating: " ", count: w - c.count) }.joined())
        }
    }
    print("The echo thread polls as the server does only in its own wait; CMD_SYNC - echo is the backend's and drain's work.")
}
