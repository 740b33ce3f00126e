import CVSMMU
import SMMU
import Testing
import VSMMUServer
#if canImport(Glibc)
import Glibc
#endif

/// SET_STATE_REGION (docs/protocol.md; docs/backend.md "Restart"): a
/// backend given the region a killed one used carries on with the same
/// registers, queue positions and stalls, and finishes the batch the old
/// one was in the middle of; a region it cannot trust is refused with an
/// errno and the session goes on from reset.
@Suite("Backend restart", .serialized, .enabled(if: ModelProbe.registerFileImplemented))
struct RestartTests {
    static func stateRegion(size: Int = Wire.stateRegionSize) throws -> Int32 {
        let fd = vsmmu_shim_sealed_memfd("vsmmu-test-state", UInt64(size))
        try #require(fd >= 0, "sealed memfd: errno \(errno)")
        return fd
    }

    /// A session that resets the SMMU in `region` and ends: the region
    /// keeps its last image.
    static func leaveAnImage(in region: Int32) throws {
        let f = try LinuxFrontEnd(stateRegion: region)
        #expect(try f.reset())
        f.client.front.shutdownBoth()
        #expect(f.client.waitForServerExit())
    }

    /// Every 32-bit register of both register pages as the guest reads it.
    static let registerOffsets: [UInt64] = Array(stride(from: 0, to: 0x200, by: 4))
        + Array(stride(from: 0x1_0000, to: 0x1_0200, by: 4))

    static func registers(_ c: TestClient) throws -> [UInt64: UInt64] {
        var r: [UInt64: UInt64] = [:]
        for o in registerOffsets { r[o] = try c.mmioRead(o) }
        return r
    }

    /// A vsmmu process serving one connection on its fd 3.
    struct Backend {
        let pid: pid_t
        let client: TestClient
        init(_ extra: [String] = []) throws {
            let (mine, theirs) = socketPair()
            pid = ExecutableTests.spawn([try ExecutableTests.binary(), "--fd", "3"] + extra, inherit: theirs)
            close(theirs)
            try #require(pid > 0)
            client = TestClient(connectedTo: mine)
        }
        func kill9() {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
        }
    }

    /// Stage-1 page for StreamID 9 (FullSessionTests' tables).
    static func mapStream9(_ f: LinuxFrontEnd) throws -> (iova: UInt64, pa: UInt64) {
        let iova: UInt64 = 0x1000_0000, pa = f.ram.base + 0x40_0000
        let pgd = FullSessionTests.mapPage(f, iova: iova, pa: pa)
        f.ram.writeWords(f.ram.base + 0x30_0000, FullSessionTests.cd(ttb0: pgd))
        f.writeSTE(sid: 9, FullSessionTests.stage1STE(cd: f.ram.base + 0x30_0000))
        try #require(try f.submitAndWait([SMMUCmd.cfgiSTE(9)]))
        return (iova, pa)
    }

    @Test func aNewSessionAdoptsTheRegisterFileAndCarriesOn() throws {
        let region = try Self.stateRegion()
        defer { close(region) }
        let f = try LinuxFrontEnd(stateRegion: region)
        #expect(f.stateRegionStatus == 0, "a new region: the SMMU starts from reset")
        #expect(try f.reset())
        let (iova, pa) = try Self.mapStream9(f)
        let before = try Self.registers(f.client)
        let old = f.client
        old.front.shutdownBoth()
        #expect(old.waitForServerExit())

        #expect(try f.reconnect(TestClient(), stateRegion: region) == 1, "adopted")
        #expect(try Self.registers(f.client) == before, "every register reads as before")
        // Caches start empty and are rebuilt from guest memory.
        let t = try f.client.translate(sid: 9, iova: iova, flags: 1 << 1)
        #expect(t.status == 0 && t.paBase == pa)
        // The command queue goes on from where it was.
        #expect(try f.submitAndWait([SMMUCmd.tlbiNSNHAll]))
        #expect(try f.client.mmioRead(SMMUReg.CMDQ_CONS) == f.cmdProd)
    }

    /// An adopted SMMU is in use: its queues may run at once, so how a
    /// CMD_SYNC completes is latched (docs/protocol.md, "Latched").
    @Test func featuresAreLatchedOnceAnImageIsAdopted() throws {
        let region = try Self.stateRegion()
        defer { close(region) }
        let features = Wire.featureMMIOWriteSync | Wire.featureInOrderSync
        let f = try LinuxFrontEnd(features: features, stateRegion: region)
        #expect(try f.reset())
        f.client.front.shutdownBoth()
        #expect(f.client.waitForServerExit())

        #expect(try f.reconnect(TestClient(), stateRegion: region, features: features) == 1)
        var same = WireWriter(); same.u64(features)
        #expect(try f.client.statusRequest(.setFeatures, payload: same.bytes) == 0)
        var other = WireWriter(); other.u64(Wire.featureMMIOWriteSync)
        #expect(try f.client.statusRequest(.setFeatures, payload: other.bytes) == Int64(-EBUSY))
    }

    @Test func aKilledProcessIsReplacedAndTheBatchInFlightCompletes() throws {
        let region = try Self.stateRegion()
        defer { close(region) }
        let first = try Backend()
        let f = try LinuxFrontEnd(client: first.client, stateRegion: region)
        #expect(f.stateRegionStatus == 0)
        #expect(try f.reset())
        let (iova, pa) = try Self.mapStream9(f)
        let before = try Self.registers(f.client)
        // A batch the backend has taken (the PROD write applied: the read
        // after it on the same channel says so) and is in the middle of, or
        // has finished, at the kill: the replacement must finish it, and the
        // CMD_SYNC's MSI must reach guest memory.
        let slot = try f.submit([[UInt64]](repeating: SMMUCmd.cfgiAll, count: 200))
        #expect(try f.client.mmioRead(SMMUReg.CMDQ_PROD) == f.cmdProd)
        first.kill9()

        let second = try Backend()
        #expect(try f.reconnect(second.client, stateRegion: region) == 1)
        #expect(f.waitForSync(slot), "the CMD_SYNC of the batch in flight completed")
        let after = try Self.registers(f.client)
        #expect(after[SMMUReg.CMDQ_CONS] == f.cmdProd && after[SMMUReg.CMDQ_PROD] == f.cmdProd)
        for o in Self.registerOffsets where o != SMMUReg.CMDQ_CONS && o != SMMUReg.CMDQ_PROD {
            #expect(after[o] == before[o], "register 0x\(String(o, radix: 16))")
        }
        let t = try f.client.translate(sid: 9, iova: iova, flags: 1 << 1)
        #expect(t.status == 0 && t.paBase == pa)

        // A write whose reply never came: the front end sends it again to
        // the next backend. Applying a register write twice in a row is
        // harmless (every SMMU register write sets a value), so this is
        // right whether or not the killed backend applied it.
        f.needReply = true
        let slot2 = f.enqueue([SMMUCmd.tlbiNSNHAll])
        var w = WireWriter(); WireMMIO(offset: SMMUReg.CMDQ_PROD, size: 4, value: f.cmdProd).encode(into: &w)
        f.client.send(FrontRequest.mmioWrite.rawValue, flags: Wire.version | Wire.flagNeedReply, payload: w.bytes)
        second.kill9()
        let third = try Backend()
        defer { third.kill9() }
        #expect(try f.reconnect(third.client, stateRegion: region) == 1)
        try f.client.mmioWrite(SMMUReg.CMDQ_PROD, f.cmdProd, needReply: true)
        #expect(f.waitForSync(slot2))
        #expect(try f.client.mmioRead(SMMUReg.CMDQ_CONS) == f.cmdProd)
        #expect(try f.client.mmioRead(0x60) == 0, "GERROR: no command error")
    }

    @Test func aRegionHeldByALiveProcessIsRefused() throws {
        let region = try Self.stateRegion()
        defer { close(region) }
        let holder = try Backend()
        defer { holder.kill9() }
        let f = try LinuxFrontEnd(client: holder.client, stateRegion: region)
        #expect(f.stateRegionStatus == 0)
        let other = try LinuxFrontEnd(stateRegion: region)
        #expect(other.stateRegionStatus == -Int64(EBUSY), "two writers")
        #expect(try other.reset(), "the refused session goes on from reset")
    }

    @Test func aRegionInUseByAnotherSessionOfTheProcessIsRefused() throws {
        let region = try Self.stateRegion()
        defer { close(region) }
        let f = try LinuxFrontEnd(stateRegion: region)
        #expect(f.stateRegionStatus == 0)
        let other = try LinuxFrontEnd(stateRegion: region)
        #expect(other.stateRegionStatus == -Int64(EBUSY))
    }

    @Test func aRegionComesBeforeTheSMMUIsUsedAndOnlyOnce() throws {
        let f = try LinuxFrontEnd()
        _ = try f.client.mmioRead(SMMUReg.IDR0)
        let region = try Self.stateRegion()
        defer { close(region) }
        #expect(try f.client.statusRequest(.setStateRegion, fds: [region]) == -Int64(EBUSY))

        let g = try LinuxFrontEnd(stateRegion: region)
        #expect(g.stateRegionStatus == 0)
        let another = try Self.stateRegion()
        defer { close(another) }
        #expect(try g.client.statusRequest(.setStateRegion, fds: [another]) == -Int64(EALREADY))
    }

    @Test(arguments: ["unsealed", "too small", "not a region"])
    func aRegionThatIsNotOneIsRefused(_ kind: String) throws {
        let fd: Int32
        switch kind {
        case "unsealed": fd = vsmmu_shim_memfd("vsmmu-test-state", UInt64(Wire.stateRegionSize))
        case "too small": fd = try Self.stateRegion(size: 0x1000)
        default:
            fd = try Self.stateRegion()
            var junk: [UInt8] = Array("not a vsmmu state region".utf8)
            #expect(pwrite(fd, &junk, junk.count, 0) == junk.count)
        }
        defer { close(fd) }
        let f = try LinuxFrontEnd(stateRegion: fd)
        #expect(f.stateRegionStatus == -Int64(EINVAL))
        #expect(try f.reset(), "the session goes on from reset")
    }

    /// A CMD_SYNC pulse the old backend held for coalescing died with it:
    /// a backend that adopts the state sends one, one that starts fresh does not.
    @Test func anAdoptingBackendPulsesTheCommandSyncLine() throws {
        func syncPulse(_ log: [Message]) -> Bool {
            log.contains { $0.header.request == BackRequest.irq.rawValue && $0.payload == [2, 0, 0, 0] }
        }
        let region = try Self.stateRegion()
        defer { close(region) }
        let fresh = try LinuxFrontEnd(stateRegion: region)
        #expect(fresh.stateRegionStatus == 0)
        usleep(100_000)
        #expect(!syncPulse(fresh.backend.log))
        #expect(try fresh.reset())
        fresh.client.front.shutdownBoth()
        #expect(fresh.client.waitForServerExit())
        let adopting = try LinuxFrontEnd(stateRegion: region)
        #expect(adopting.stateRegionStatus == 1)
        #expect(adopting.backend.wait { syncPulse($0) })
    }

    /// Backends before the word-wise checksum stamped each image with FNV-1a
    /// over its bytes: a newer backend started under the same front end
    /// (an upgrade) adopts such an image too.
    @Test func anImageWithTheByteWiseChecksumIsAdopted() throws {
        let region = try Self.stateRegion()
        defer { close(region) }
        try Self.leaveAnImage(in: region)
        // The active slot: a 4-byte length, 4 bytes unused, the checksum, the image.
        var active: UInt32 = 0
        #expect(pread(region, &active, 4, 8) == 4)
        let slot = off_t(0x1000 + Int(active) * ((Wire.stateRegionSize - 0x1000) / 2))
        var length: UInt32 = 0
        #expect(pread(region, &length, 4, slot) == 4)
        var image = [UInt8](repeating: 0, count: Int(length))
        #expect(pread(region, &image, Int(length), slot + 16) == Int(length))
        var fnv1a: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in image { fnv1a = (fnv1a ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        #expect(pwrite(region, &fnv1a, 8, slot + 8) == 8)
        let f = try LinuxFrontEnd(stateRegion: region)
        #expect(f.stateRegionStatus == 1)
    }

    /// A damaged image, or one another SMMU configuration wrote, is not
    /// adopted: the guest would see registers its SMMU never had.
    @Test(arguments: ["checksum", "configuration"])
    func anImageItCannotTrustIsRefused(_ kind: String) throws {
        let region = try Self.stateRegion()
        defer { close(region) }
        try Self.leaveAnImage(in: region)
        var configuration = SMMUConfiguration()
        if kind == "checksum" {
            // The active slot's image: flip a byte (slot header is 16 bytes).
            var active: UInt32 = 0
            #expect(pread(region, &active, 4, 8) == 4)
            let at = off_t(0x1000 + Int(active) * ((Wire.stateRegionSize - 0x1000) / 2) + 16 + 20)
            var byte: UInt8 = 0
            #expect(pread(region, &byte, 1, at) == 1)
            byte ^= 0x40
            #expect(pwrite(region, &byte, 1, at) == 1)
        } else {
            configuration.pri = false
        }
        let f = try LinuxFrontEnd(client: TestClient(configuration: configuration), stateRegion: region)
        #expect(f.stateRegionStatus == -Int64(EPROTO))
    }
}
