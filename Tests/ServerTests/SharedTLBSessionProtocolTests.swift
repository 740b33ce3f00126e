import CVSMMU
import SMMU
import Testing
import VSMMUServer
#if canImport(Glibc)
import Glibc
#endif

/// VSMMU_F_SHARED_TLB through a real session (docs/protocol.md, "Features"
/// and "The shared translation cache"): the feature needs TRANSLATE_AHEAD,
/// SET_TLB_REGION needs the feature and comes once, TRANSLATE_AHEAD fills
/// the region and tells its generation, and an invalidation empties the
/// region before its CMD_SYNC completes, as a message only while the front
/// end asks for messages.
@Suite("Shared TLB session protocol", .serialized, .enabled(if: ModelProbe.registerFileImplemented))
struct SharedTLBSessionProtocolTests {
    static let features = TranslateAheadTests.features | Wire.featureSharedTLB
    static let iova = TranslateAheadTests.iova

    static func setFeatures(_ c: TestClient, _ f: UInt64) throws -> Int64? {
        var w = WireWriter(); w.u64(f)
        return try c.statusRequest(.setFeatures, payload: w.bytes)
    }

    static func setRegion(_ c: TestClient, _ fd: Int32) throws -> Int64? {
        try c.statusRequest(.setTLBRegion, fds: [fd])
    }

    static func translateAhead(_ c: TestClient, iova: UInt64) throws -> WireTranslateAheadReply {
        let m = try TranslateAheadTests.translateAhead(c, iova: iova)
        guard m.payload.count == WireTranslateAheadReply.size else {
            throw TestFailure("TRANSLATE_AHEAD reply of \(m.payload.count) bytes")
        }
        var r = WireReader(m.payload)
        return WireTranslateAheadReply(&r)
    }

    static func invalidations(_ f: LinuxFrontEnd, from: Int) -> [Message] {
        f.backend.log.dropFirst(from).filter { $0.header.request == BackRequest.invalidate.rawValue }
    }

    @Test func sharedTLBWithoutTranslateAheadIsRefused() throws {
        let f = try LinuxFrontEnd()
        var r = WireReader(try f.client.request(.getFeatures).payload)
        #expect(r.u64() & Wire.featureSharedTLB != 0, "offered")
        #expect(try Self.setFeatures(f.client, Wire.featureSharedTLB) == Int64(-EINVAL))
        #expect(try Self.setFeatures(f.client, Wire.featureSharedTLB | Wire.featureMMIOWriteSync
                                     | Wire.featureInOrderSync) == Int64(-EINVAL))
        // Refused: nothing was acknowledged, so neither is a region.
        let region = try TLBRegionView()
        #expect(try Self.setRegion(f.client, region.fd) == Int64(-EINVAL))
        #expect(try Self.setFeatures(f.client, Wire.featureSharedTLB | Wire.featureTranslateAhead) == 0)
        #expect(try Self.setRegion(f.client, region.fd) == 0)
    }

    @Test func theRegionNeedsTheFeatureAMemfdItCanTrustAndComesOnce() throws {
        let f = try LinuxFrontEnd(features: TranslateAheadTests.features)
        let region = try TLBRegionView()
        #expect(try Self.setRegion(f.client, region.fd) == Int64(-EINVAL), "VSMMU_F_SHARED_TLB not acknowledged")
        #expect(try Self.setFeatures(f.client, Self.features) == 0)
        let unsealed = vsmmu_shim_memfd("vsmmu-test-tlb-unsealed", UInt64(TLBRegionView.size))
        try #require(unsealed >= 0)
        defer { close(unsealed) }
        #expect(try Self.setRegion(f.client, unsealed) == Int64(-EINVAL), "not sealed")
        let small = vsmmu_shim_sealed_memfd("vsmmu-test-tlb-small", UInt64(TLBRegionView.size - 64))
        try #require(small >= 0)
        defer { close(small) }
        #expect(try Self.setRegion(f.client, small) == Int64(-EINVAL), "wrong size")
        #expect(try Self.setRegion(f.client, region.fd) == 0)
        let second = try TLBRegionView()
        #expect(try Self.setRegion(f.client, second.fd) == Int64(-EALREADY))

        // The first one stays the cache.
        _ = try TranslateAheadTests.mapPages(f, 1)
        #expect(try Self.translateAhead(f.client, iova: Self.iova).first.status == WireTranslateReply.ok)
        #expect(region.lookup(sid: 9, iova: Self.iova) != nil)
        #expect(second.sizes == 0 && second.lookup(sid: 9, iova: Self.iova) == nil)
    }

    @Test func translateAheadFillsTheRegionAndAnInvalidationEmptiesItBeforeTheSync() throws {
        let f = try LinuxFrontEnd(features: Self.features)
        f.needReply = true
        let region = try TLBRegionView()
        #expect(try Self.setRegion(f.client, region.fd) == 0)
        let pa = try TranslateAheadTests.mapPages(f, 4)

        // TRANSLATE_AHEAD: every block of the reply is in the region.
        let g0 = region.generation
        let rep = try Self.translateAhead(f.client, iova: Self.iova + 0x10)
        #expect(rep.tlbGeneration == UInt32(truncatingIfNeeded: g0))
        #expect(rep.first.status == WireTranslateReply.ok && rep.ahead.count == 3)
        #expect(region.sizes & 1 << 12 != 0)
        for (i, r) in ([rep.first] + rep.ahead).enumerated() {
            let n = UInt64(i)
            let e = region.lookup(sid: 9, iova: Self.iova + n * 0x1000 + 0x800)
            #expect(e?.iovaBase == Self.iova + n * 0x1000 && e?.paBase == pa + n * 0x1000, "page \(i)")
            #expect(e?.sizeLog2 == 12 && e?.perm == UInt8(r.perm) && e?.ssidKey == 0, "page \(i)")
        }

        // A TLBI of the first page and its CMD_SYNC: gone from the region
        // (its neighbour stays), logged, and no message while notify == 0.
        var before = f.backend.log.count
        var slot = try f.submit([SMMUCmd.tlbiNHVA(asid: FullSessionTests.asid, address: Self.iova)])
        #expect(f.ram.read32(slot) == 0 || f.waitForSync(slot))
        #expect(region.lookup(sid: 9, iova: Self.iova) == nil)
        #expect(region.lookup(sid: 9, iova: Self.iova + 0x1000) != nil)
        #expect(region.generation == g0 + 1)
        let record = region.record(Int((g0 + 1) % UInt64(VSMMU_TLB_LOG)))
        #expect(record.generation == g0 + 1)
        #expect(record.decoded.kind == UInt32(VSMMU_INV_ADDRESS) && record.decoded.addr == Self.iova)
        #expect(record.decoded.asid == FullSessionTests.asid)
        #expect(!f.backend.wait(ms: 100) { _ in !Self.invalidations(f, from: before).isEmpty },
                "no INVALIDATE while notify is 0")

        // A new TRANSLATE_AHEAD carries the generation read before it.
        let g1 = region.generation
        let rep2 = try Self.translateAhead(f.client, iova: Self.iova)
        #expect(g1 != 0 && rep2.tlbGeneration == UInt32(truncatingIfNeeded: g1))
        #expect(region.lookup(sid: 9, iova: Self.iova)?.paBase == pa)

        // With notify = 1, the INVALIDATE goes as well, with the record's words.
        region.notify = 1
        before = f.backend.log.count
        slot = try f.submit([SMMUCmd.tlbiNHVA(asid: FullSessionTests.asid, address: Self.iova)])
        #expect(f.waitForSync(slot))
        #expect(region.lookup(sid: 9, iova: Self.iova) == nil)
        #expect(region.generation == g1 + 1)
        #expect(f.backend.wait { _ in Self.invalidations(f, from: before).count == 1 })
        if let m = Self.invalidations(f, from: before).first {
            let r = region.record(Int((g1 + 1) % UInt64(VSMMU_TLB_LOG)))
            #expect(r.generation == g1 + 1)
            #expect(m.payload == r.inv)
        }
    }

    /// The front end cannot empty the region (it writes only notify and
    /// its reader slots): a system reset, which empties every cache outside
    /// the backend, must empty it on the backend's side.
    @Test func resetEmptiesTheRegion() throws {
        let f = try LinuxFrontEnd(features: Self.features)
        f.needReply = true
        let region = try TLBRegionView()
        #expect(try Self.setRegion(f.client, region.fd) == 0)
        _ = try TranslateAheadTests.mapPages(f, 2)
        _ = try Self.translateAhead(f.client, iova: Self.iova)
        #expect(region.lookup(sid: 9, iova: Self.iova) != nil && region.lookup(sid: 9, iova: Self.iova + 0x1000) != nil)
        let g = region.generation
        #expect(try f.client.statusRequest(.reset) == 0)
        #expect(region.lookup(sid: 9, iova: Self.iova) == nil && region.lookup(sid: 9, iova: Self.iova + 0x1000) == nil)
        #expect(region.generation > g, "logged, for replies on their way")
    }

    /// A front end that takes SHARED_TLB back (SET_FEATURES may still change
    /// before the SMMU is used) keeps a cache of its own again: either the
    /// backend refuses the change, or INVALIDATE messages reach it whatever
    /// notify says.
    @Test func droppingTheFeatureAfterTheRegionLeavesNoInvalidationUnsent() throws {
        let f = try LinuxFrontEnd(features: Self.features)
        f.needReply = true
        let region = try TLBRegionView()
        #expect(try Self.setRegion(f.client, region.fd) == 0)
        let st = try Self.setFeatures(f.client, TranslateAheadTests.features)
        guard st == 0 else {
            #expect(st == Int64(-EBUSY))
            return
        }
        _ = try TranslateAheadTests.mapPages(f, 1)
        _ = try Self.translateAhead(f.client, iova: Self.iova)
        let before = f.backend.log.count
        let slot = try f.submit([SMMUCmd.tlbiNHVA(asid: FullSessionTests.asid, address: Self.iova)])
        #expect(f.ram.read32(slot) == 0 || f.waitForSync(slot))
        #expect(f.backend.wait { _ in !Self.invalidations(f, from: before).isEmpty },
                "the TLBI of a page handed out never reached a front end without VSMMU_F_SHARED_TLB")
    }

    /// A CMD_SYNC completes only once every front-end reader that may have
    /// seen a dropped entry has left (a slot holding 1 + the old epoch).
    @Test func aCMDSYNCWaitsForAReaderInsideTheCache() throws {
        let f = try LinuxFrontEnd(features: Self.features)
        let region = try TLBRegionView()
        #expect(try Self.setRegion(f.client, region.fd) == 0)
        _ = try TranslateAheadTests.mapPages(f, 1)
        _ = try Self.translateAhead(f.client, iova: Self.iova)
        #expect(region.lookup(sid: 9, iova: Self.iova) != nil)

        region.setReader(5, region.epoch + 1)
        let slot = try f.submit([SMMUCmd.tlbiNHVA(asid: FullSessionTests.asid, address: Self.iova)])
        // The entry goes at once; the completion waits for the reader.
        let end = monotonicMs() + 2000
        while region.lookup(sid: 9, iova: Self.iova) != nil && monotonicMs() < end { usleep(500) }
        #expect(region.lookup(sid: 9, iova: Self.iova) == nil)
        usleep(100_000)
        #expect(f.ram.read32(slot) != 0, "completed with a reader inside")
        #expect(try f.client.mmioRead(SMMUReg.CMDQ_CONS) != f.cmdProd)
        region.setReader(5, 0)
        #expect(f.waitForSync(slot))
        #expect(try f.client.mmioRead(SMMUReg.CMDQ_CONS) == f.cmdProd)
    }

    /// A reader that never leaves: at the SYNC timeout the CMD_SYNC fails
    /// (CMDQ_CONS.ERR = CERROR_ATC_INV_SYNC, GERROR.CMDQ_ERR) instead of
    /// completing.
    @Test func aReaderThatStaysFailsTheSyncAtTheTimeout() throws {
        let f = try LinuxFrontEnd(client: TestClient(syncTimeoutMs: 100), features: Self.features)
        let region = try TLBRegionView()
        #expect(try Self.setRegion(f.client, region.fd) == 0)
        _ = try TranslateAheadTests.mapPages(f, 1)
        _ = try Self.translateAhead(f.client, iova: Self.iova)
        region.setReader(0, region.epoch + 1)
        let slot = try f.submit([SMMUCmd.tlbiNHVA(asid: FullSessionTests.asid, address: Self.iova)])
        var gerror: UInt64 = 0
        for _ in 0..<2000 where gerror & 1 == 0 {
            gerror = try f.client.mmioRead(0x60)
            if gerror & 1 == 0 { usleep(1000) }
        }
        #expect(gerror & 1 == 1)
        #expect((try f.client.mmioRead(SMMUReg.CMDQ_CONS) >> 24) & 0x7F == 3)
        #expect(f.ram.read32(slot) != 0)
        #expect(region.lookup(sid: 9, iova: Self.iova) == nil)
    }
}
