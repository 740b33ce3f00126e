import CVSMMU
import SMMU
import Testing
import VSMMUServer
#if canImport(Glibc)
import Glibc
#endif

@Suite("Protocol basics", .serialized)
struct ProtocolTests {
    @Test func negotiateFeatures() throws {
        let c = try TestClient()
        let m = try c.request(.getFeatures)
        #expect(m.payload.count == 8)
        #expect(m.header.flags == Wire.version | Wire.flagReply)
        var r = WireReader(m.payload)
        // VSMMU_F_MMIO_WRITE_SYNC bit 0, VSMMU_F_STATE_REGION bit 1, VSMMU_F_IN_ORDER_SYNC bit 2,
        // VSMMU_F_TRANSLATE_AHEAD bit 3, VSMMU_F_SHARED_TLB bit 4, VSMMU_F_POSTED_WRITES bit 5
        #expect(r.u64() == 0b11_1111)
        var w = WireWriter(); w.u64(0)
        #expect(try c.statusRequest(.setFeatures, payload: w.bytes) == 0)
        var one = WireWriter(); one.u64(1)
        #expect(try c.statusRequest(.setFeatures, payload: one.bytes) == 0)
        var bad = WireWriter(); bad.u64(1 << 6)
        #expect(try c.statusRequest(.setFeatures, payload: bad.bytes) == Int64(-EINVAL))
        var mixed = WireWriter(); mixed.u64(1 | 1 << 6)
        #expect(try c.statusRequest(.setFeatures, payload: mixed.bytes) == Int64(-EINVAL))
    }

    @Test func configReportsCapabilities() throws {
        let c = try TestClient()
        let m = try c.request(.getConfig)
        #expect(m.payload.count == WireConfig.size)
        var r = WireReader(m.payload)
        let cfg = WireConfig(&r)
        let all: UInt32 = (1 << 9) - 1   // STAGE1 ... NESTED
        #expect(cfg.caps == all)
        #expect(cfg.ssidBits == 20 && cfg.sidBits == 16 && cfg.oasBits == 48)

        var reduced = SMMUConfiguration()
        reduced.ats = false; reduced.pri = false; reduced.nested = false; reduced.stage2 = false
        reduced.substreamIDBits = 0; reduced.outputAddressBits = 40
        let c2 = try TestClient(configuration: reduced)
        var r2 = WireReader(try c2.request(.getConfig).payload)
        let cfg2 = WireConfig(&r2)
        #expect(cfg2.caps & (WireConfig.capATS | WireConfig.capPRI | WireConfig.capNested | WireConfig.capStage2) == 0)
        #expect(cfg2.caps & WireConfig.capStage1 != 0)
        #expect(cfg2.ssidBits == 0 && cfg2.oasBits == 40)
    }

    @Test func configIDRsMatchRegisters() throws {
        let c = try TestClient()
        var r = WireReader(try c.request(.getConfig).payload)
        let cfg = WireConfig(&r)
        for i in 0..<6 { #expect(UInt64(cfg.idr[i]) == (try c.mmioRead(UInt64(i) * 4))) }
        #expect(UInt64(cfg.iidr) == (try c.mmioRead(0x18)))
        #expect(UInt64(cfg.aidr) == (try c.mmioRead(0x1C)))
    }

    /// SET_FRONTEND_CHANNEL (docs/protocol.md): the reply is the new
    /// channel's first message, every later request is served there and
    /// nothing more on the old one; a descriptor that is not a stream
    /// socket is refused on the old channel; the server's shutdown reaches
    /// the channel the session moved to.
    @Test func frontEndChannelMoves() throws {
        let c = try TestClient()
        var pipeFDs: [Int32] = [-1, -1]
        #expect(pipe(&pipeFDs) == 0)
        #expect(try c.statusRequest(.setFrontEndChannel, fds: [pipeFDs[0]]) == Int64(-EINVAL))
        close(pipeFDs[0]); close(pipeFDs[1])

        let (mine, theirs) = socketPair()
        c.send(FrontRequest.setFrontEndChannel.rawValue, fds: [theirs])
        close(theirs)
        let moved = MessageSocket(fd: mine)
        #expect(moved.waitReadable(ms: 2000))
        guard case .success(let reply) = moved.receive() else {
            Issue.record("no SET_FRONTEND_CHANNEL reply on the new channel"); return
        }
        #expect(reply.header.request == FrontRequest.setFrontEndChannel.rawValue && reply.header.isReply)
        #expect(TestClient.status(reply) == 0)
        #expect(!c.front.waitReadable(ms: 100))

        moved.send(request: FrontRequest.getFeatures.rawValue)
        #expect(moved.waitReadable(ms: 2000))
        guard case .success(let features) = moved.receive() else {
            Issue.record("no GET_FEATURES reply on the new channel"); return
        }
        #expect(features.header.request == FrontRequest.getFeatures.rawValue && features.payload.count == 8)
        #expect(!c.front.waitReadable(ms: 100))

        c.server.shutdown()
        #expect(c.waitForServerExit())
    }

    @Test func backendChannel() throws {
        let c = try TestClient()
        _ = try c.setBackendChannel()
        // Without its descriptor: -EINVAL.
        #expect(try c.statusRequest(.setBackendChannel) == Int64(-EINVAL))
        // With two: -EINVAL, and both descriptors are closed by the backend.
        let p1 = ClosureProbe(), p2 = ClosureProbe()
        #expect(try c.statusRequest(.setBackendChannel, fds: [p1.writeEnd, p2.writeEnd]) == Int64(-EINVAL))
        #expect(p1.allCopiesClosed())
        #expect(p2.allCopiesClosed())
    }

    @Test func memoryRegions() throws {
        let c = try TestClient()
        let ram = SharedRAM(base: 0x4000_0000, size: 1 << 20)
        #expect(try c.addRegion(ram) == 0)
        // Overlap: refused, the existing region stays.
        let other = SharedRAM(base: 0x4008_0000, size: 1 << 20)
        #expect((try c.addRegion(other) ?? 0) < 0)
        // Size 0 and a wrapping region: refused.
        var w = WireWriter(); WireMemRegion(guestAddr: 0x9000_0000, size: 0).encode(into: &w)
        #expect((try c.statusRequest(.addMemRegion, payload: w.bytes, fds: [ram.fd]) ?? 0) < 0)
        w = WireWriter(); WireMemRegion(guestAddr: ~UInt64(0) - 0xFFF, size: 0x2000).encode(into: &w)
        #expect((try c.statusRequest(.addMemRegion, payload: w.bytes, fds: [ram.fd]) ?? 0) < 0)
        // Unmappable descriptor (a pipe): refused, and the descriptor closed.
        let probe = ClosureProbe()
        w = WireWriter(); WireMemRegion(guestAddr: 0x9000_0000, size: 0x1000).encode(into: &w)
        #expect((try c.statusRequest(.addMemRegion, payload: w.bytes, fds: [probe.writeEnd]) ?? 0) < 0)
        #expect(probe.allCopiesClosed())
        // An accepted region's descriptor is not kept open either (the mapping holds the file).
        let probe2 = ClosureProbe()
        // Removal needs the exact size.
        w = WireWriter(); WireMemRegion(guestAddr: ram.base, size: 0x1000).encode(into: &w)
        #expect(try c.statusRequest(.remMemRegion, payload: w.bytes) == Int64(-ENOENT))
        w = WireWriter(); WireMemRegion(guestAddr: ram.base, size: ram.size).encode(into: &w)
        #expect(try c.statusRequest(.remMemRegion, payload: w.bytes) == 0)
        #expect(try c.statusRequest(.remMemRegion, payload: w.bytes) == Int64(-ENOENT))
        // Now the other one fits.
        #expect(try c.addRegion(other) == 0)
        _ = probe2.allCopiesClosed()
    }

    @Test func mmioValidation() throws {
        let c = try TestClient()
        for (offset, size) in [(UInt64(0), UInt32(2)), (0x20000, 4), (0x1FFFC, 8), (~UInt64(0), 4)] {
            var w = WireWriter(); WireMMIO(offset: offset, size: size).encode(into: &w)
            #expect(TestClient.status(try c.request(.mmioRead, payload: w.bytes)) == Int64(-EINVAL))
        }
        // A bad posted write gets no reply: the next reply answers the next request.
        var w = WireWriter(); WireMMIO(offset: 0x30000, size: 4, value: 1).encode(into: &w)
        c.send(FrontRequest.mmioWrite.rawValue, payload: w.bytes)
        let m = try c.request(.getFeatures)
        #expect(m.payload.count == 8)
        // With NEED_REPLY a bad write is answered with -EINVAL, a good one with 0.
        #expect(TestClient.status(try c.request(.mmioWrite, flags: Wire.version | Wire.flagNeedReply, payload: w.bytes)) == Int64(-EINVAL))
        try c.mmioWrite(0x20, 0, needReply: true)
    }

    @Test(.enabled(if: ModelProbe.registerFileImplemented))
    func mmioRoundTrip() throws {
        let c = try TestClient()
        #expect(try c.mmioRead(0x0) != 0)                     // IDR0
        try c.mmioWrite(0x80, 0x4010_0000 | 1 << 62, size: 8)  // STRTAB_BASE, posted
        try c.mmioWrite(0x88, 8)                               // STRTAB_BASE_CFG
        #expect(try c.mmioRead(0x80, size: 8) == 0x4010_0000 | 1 << 62)
        #expect(try c.mmioRead(0x88) == 8)
    }

    @Test func translateAndPageRequestReplies() throws {
        let c = try TestClient()
        let rep = try c.translate(sid: 1, iova: 0x1234_5000, flags: 1 << 1)
        #expect([0, 1].contains(rep.status))
        if rep.status == 0 {
            // Whatever the source of the translation, the reply describes a block holding the IOVA.
            #expect(rep.sizeLog2 >= 12)
            let mask = rep.sizeLog2 >= 64 ? ~UInt64(0) : (UInt64(1) << rep.sizeLog2) - 1
            #expect(rep.iovaBase & mask == 0 && 0x1234_5000 & ~mask == rep.iovaBase)
        }
        var w = WireWriter()
        WireEndpoint(sid: 1, flags: WireEndpoint.ats | WireEndpoint.pri, pasidBits: 20).encode(into: &w)
        #expect(try c.statusRequest(.registerEndpoint, payload: w.bytes) == 0)
        w = WireWriter(); WireEndpoint(sid: 1, flags: 1 << 7, pasidBits: 0).encode(into: &w)
        #expect(try c.statusRequest(.registerEndpoint, payload: w.bytes) == Int64(-EINVAL))
        w = WireWriter(); WirePageRequest(sid: 1, flags: 1 << 1 | 1 << 5, prgIndex: 3, addr: 0x1000).encode(into: &w)
        let pr = try c.request(.pageRequest, payload: w.bytes)
        #expect(pr.payload.count == 8)
        var r = WireReader(pr.payload)
        #expect((0...2).contains(r.i32()))
        #expect(try c.statusRequest(.reset) == 0)
    }
}
