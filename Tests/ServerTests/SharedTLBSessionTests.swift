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
/// (SharedTranslationCacheTests covers the region's rules one by one;
/// SharedTLBSessionProtocolTests the requests.)
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

    static func field(_ view: UnsafeRawPointer, _ k: KeyPath<VSMMUTlbRegion, UInt64>) -> UInt64 {
        vsmmu_shim_load_acquire64(view + MemoryLayout<VSMMUTlbRegion>.offset(of: k)!)
    }

    /// The front end's lookup in the region at `view`: the entry holding
    /// `iova`, read under its seqlock.
    static func lookup(_ view: UnsafeRawPointer, sid: UInt32, ssidKey: UInt32 = 0, iova: UInt64) -> VSMMUTlbEntry? {
        var sizes = field(view, \.sizes)
        let entries = view + MemoryLayout<VSMMUTlbRegion>.offset(of: \.entry)!
        while sizes != 0 {
            let log2 = UInt8(sizes.trailingZeroBitCount)
            sizes &= sizes - 1
            let slot = Int(vsmmu_tlb_slot(sid, ssidKey, iova, UInt32(log2)))
            let p = entries + slot * MemoryLayout<VSMMUTlbEntry>.stride
            let seq = vsmmu_shim_load_acquire32(p)
            if seq & 1 != 0 { continue }
            let e = p.load(as: VSMMUTlbEntry.self)
            vsmmu_shim_fence_seq_cst()
            guard vsmmu_shim_load_acquire32(p) == seq else { continue }
            let mask: UInt64 = log2 >= 64 ? .max : (1 << log2) - 1
            if e.size_log2 == log2, e.sid == sid, e.ssid_key == ssidKey, e.iova_base == iova & ~mask { return e }
        }
        return nil
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
        let generation = Self.field(r.view, \.generation)
        var rd = WireReader(try TranslateAheadTests.translateAhead(f.client, iova: iova).payload)
        let rep = WireTranslateAheadReply(&rd)
        #expect(rep.first.status == WireTranslateReply.ok && rep.tlbGeneration == UInt32(generation))
        for i in 0..<UInt64(4) {
            let e = Self.lookup(r.view, sid: 9, iova: iova + i * 0x1000)
            #expect(e?.pa_base == pa + i * 0x1000, "page \(i)")
        }

        // A TLBI of the third page: gone from the region, logged, no
        // INVALIDATE and no MSI message, and the completion in RAM at once.
        var before = f.backend.log.count
        var slot = try f.submit([SMMUCmd.tlbiNHVA(asid: FullSessionTests.asid, address: iova + 0x2000)])
        #expect(f.ram.read32(slot) == 0)
        #expect(Self.lookup(r.view, sid: 9, iova: iova + 0x2000) == nil)
        #expect(Self.lookup(r.view, sid: 9, iova: iova + 0x1000) != nil)
        #expect(Self.field(r.view, \.generation) == generation + 1)
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
        #expect(Self.lookup(r.view, sid: 9, iova: iova + 0x1000) == nil)
        #expect(f.ram.read32(slot) == 0 || f.waitForSync(slot))
    }
}
