import CVSMMU
import SMMU
import Testing
import VSMMUServer
#if canImport(Glibc)
import Glibc
#endif

/// VSMMU_F_SHARED_TLB through a real session (docs/protocol.md, "The shared
/// translation cache"): the backend fills the front end's region as it
/// answers TRANSLATE_AHEAD, empties it on an invalidation without a message
/// while the front end asks for none, and stores the CMD_SYNC's MSI itself.
@Suite("Shared translation cache session", .serialized, .enabled(if: ModelProbe.registerFileImplemented))
struct SharedTLBSessionTests {
    static let features = TranslateAheadTests.features | Wire.featureSharedTLB

    /// A region as QEMU makes one: the fd to send and the test's own mapping.
    static func region() -> (fd: Int32, view: UnsafeMutableRawPointer) {
        let size = MemoryLayout<VSMMUTlbRegion>.size
        let fd = vsmmu_shim_sealed_memfd("vsmmu-test-tlb", UInt64(size))
        let view = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)!
        return (fd, view)
    }

    static func setNotify(_ view: UnsafeMutableRawPointer, _ on: Bool) {
        vsmmu_shim_store_release32(view + MemoryLayout<VSMMUTlbRegion>.offset(of: \.notify)!, on ? 1 : 0)
    }

    @Test func theFeatureNeedsTranslateAheadAndTheRegionNeedsTheFeature() throws {
        let c = try TestClient()
        var w = WireWriter(); w.u64(Wire.featureSharedTLB)
        #expect(try c.statusRequest(.setFeatures, payload: w.bytes) == Int64(-EINVAL))
        let r = Self.region()
        defer { munmap(r.view, MemoryLayout<VSMMUTlbRegion>.size); close(r.fd) }
        #expect(try c.statusRequest(.setTLBRegion, fds: [r.fd]) == Int64(-EINVAL))
        var both = WireWriter(); both.u64(Self.features)
        #expect(try c.statusRequest(.setFeatures, payload: both.bytes) == 0)
        #expect(try c.statusRequest(.setTLBRegion, fds: [r.fd]) == 0)
        #expect(try c.statusRequest(.setTLBRegion, fds: [r.fd]) == Int64(-EALREADY))
    }

    @Test func aTLBIEmptiesTheRegionAndNeedsNoMessageUnlessNotifyIsSet() throws {
        let f = try LinuxFrontEnd(features: Self.features)
        f.needReply = true
        let r = Self.region()
        defer { munmap(r.view, MemoryLayout<VSMMUTlbRegion>.size); close(r.fd) }
        #expect(try f.client.statusRequest(.setTLBRegion, fds: [r.fd]) == 0)
        let pa = try TranslateAheadTests.mapPages(f, 4)
        let iova = TranslateAheadTests.iova

        // The reply's blocks are in the region, and the reply names the generation.
        let generation = SharedTLBRegionTests.field(r.view, \.generation)
        var rd = WireReader(try TranslateAheadTests.translateAhead(f.client, iova: iova).payload)
        let rep = WireTranslateAheadReply(&rd)
        #expect(rep.first.status == WireTranslateReply.ok && rep.tlbGeneration == UInt32(generation))
        for i in 0..<UInt64(4) {
            let e = SharedTLBRegionTests.lookup(r.view, sid: 9, iova: iova + i * 0x1000)
            #expect(e?.pa_base == pa + i * 0x1000, "page \(i)")
        }

        // A TLBI of the third page: gone from the region, logged, no
        // INVALIDATE and no MSI message, and the completion in RAM at once.
        var before = f.backend.log.count
        var slot = try f.submit([SMMUCmd.tlbiNHVA(asid: FullSessionTests.asid, address: iova + 0x2000)])
        #expect(f.ram.read32(slot) == 0)
        #expect(SharedTLBRegionTests.lookup(r.view, sid: 9, iova: iova + 0x2000) == nil)
        #expect(SharedTLBRegionTests.lookup(r.view, sid: 9, iova: iova + 0x1000) != nil)
        #expect(SharedTLBRegionTests.field(r.view, \.generation) == generation + 1)
        let sent = InOrderSyncTests.requests(f, from: before)
        #expect(!sent.contains(BackRequest.invalidate.rawValue) && !sent.contains(BackRequest.msi.rawValue))

        // With notifiers on the front end's side, the message goes too, and
        // the completion follows it on the channel.
        Self.setNotify(r.view, true)
        before = f.backend.log.count
        slot = try f.submit([SMMUCmd.tlbiNHVA(asid: FullSessionTests.asid, address: iova + 0x1000)])
        #expect(f.backend.wait { log in log.dropFirst(before).contains { $0.header.request == BackRequest.msi.rawValue } })
        let seen = InOrderSyncTests.requests(f, from: before)
        let inv = seen.firstIndex(of: BackRequest.invalidate.rawValue)
        let msi = seen.firstIndex(of: BackRequest.msi.rawValue)
        #expect(inv != nil && msi != nil && inv! < msi!)
        #expect(SharedTLBRegionTests.lookup(r.view, sid: 9, iova: iova + 0x1000) == nil)
        #expect(f.ram.read32(slot) == 0 || f.waitForSync(slot))
    }
}
