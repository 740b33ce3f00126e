import CVSMMU
import SMMU
import Testing
import VSMMUServer
#if canImport(Glibc)
import Glibc
#endif

/// VSMMU_F_POSTED_WRITES (docs/protocol.md, "Posted register writes"): the
/// backend names the doorbell, a posted write to it gets no reply, and its
/// commands have run before the next request on the channel is answered.
@Suite("Posted register writes", .serialized, .enabled(if: ModelProbe.registerFileImplemented))
struct PostedWritesTests {
    static let features = Wire.featureMMIOWriteSync | Wire.featureInOrderSync | Wire.featurePostedWrites

    @Test func theFeatureNeedsInOrderSync() throws {
        let c = try TestClient()
        var w = WireWriter(); w.u64(Wire.featureMMIOWriteSync | Wire.featurePostedWrites)
        #expect(try c.statusRequest(.setFeatures, payload: w.bytes) == -Int64(EINVAL))
    }

    @Test func theListNeedsTheFeature() throws {
        let c = try TestClient()
        #expect(try c.statusRequest(.getPostedWrites) == -Int64(EINVAL))
    }

    /// CMDQ_PROD, at 0x98 (IHI 0070 6.3.26), and nothing else: CR0, GBPA
    /// and the rest have effects the front end must see applied.
    @Test func theDoorbellIsTheOnlyPostedRegister() throws {
        let f = try LinuxFrontEnd(features: Self.features)
        let m = try f.client.request(.getPostedWrites)
        #expect(m.payload.count == WirePostedWrites.size)
        var r = WireReader(m.payload)
        #expect(WirePostedWrites(&r).offsets == [0x98])
    }

    /// Each round posts the doorbell and reads CMDQ_CONS at once: the read's
    /// reply is the next message (no status came for the write), and it
    /// shows the batch consumed, its CMD_SYNC included.
    @Test func aPostedDoorbellRunsItsCommandsBeforeTheNextRequest() throws {
        let f = try LinuxFrontEnd(features: Self.features)
        try SyncWriteTests.holdTranslation(f)
        for _ in 0..<50 {
            let commands = [[UInt64]](repeating: SMMUCmd.tlbiNSNHAll, count: 8)
            let slot = f.enqueue(commands)
            try f.client.mmioWrite(SMMUReg.CMDQ_PROD, f.cmdProd)
            #expect(try f.client.mmioRead(SMMUReg.CMDQ_CONS) & 0x1FF == f.cmdProd)
            #expect(f.waitForSync(slot))
        }
        #expect(try f.client.mmioRead(0x60) == 0, "GERROR")
    }

    /// The write of the same value again, as a front end replays a posted
    /// write to a backend that took over the state, runs nothing twice.
    @Test func theSameDoorbellAgainRunsNothing() throws {
        let f = try LinuxFrontEnd(features: Self.features)
        try SyncWriteTests.holdTranslation(f)
        let slot = try f.submit([SMMUCmd.tlbiNSNHAll])
        #expect(f.waitForSync(slot))
        f.ram.storeMSI(slot, 1)
        let before = f.backend.log.count
        try f.client.mmioWrite(SMMUReg.CMDQ_PROD, f.cmdProd, needReply: true)
        #expect(try f.client.mmioRead(SMMUReg.CMDQ_CONS) & 0x1FF == f.cmdProd)
        usleep(20_000)
        #expect(f.ram.read32(slot) == 1, "the CMD_SYNC ran again")
        #expect(!f.backend.log.dropFirst(before).contains { $0.header.request == BackRequest.msi.rawValue })
    }
}
