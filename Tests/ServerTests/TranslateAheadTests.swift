import CVSMMU
import SMMU
import Testing
import VSMMUServer
#if canImport(Glibc)
import Glibc
#endif

/// VSMMU_F_TRANSLATE_AHEAD (docs/protocol.md, "Translation"): a
/// TRANSLATE_AHEAD reply carries the translation asked for and those of
/// the blocks after it. Everything it hands out is the front end's to
/// cache, so every later invalidation that covers any of it must reach
/// the front end, also for a page no transaction asked for.
@Suite("Translate ahead", .serialized, .enabled(if: ModelProbe.registerFileImplemented))
struct TranslateAheadTests {
    static let features = Wire.featureMMIOWriteSync | Wire.featureInOrderSync | Wire.featureTranslateAhead
    static let iova: UInt64 = 0x1000_0000

    /// Stage 1 on StreamID 9 with `pages` consecutive pages from `iova`.
    static func mapPages(_ f: LinuxFrontEnd, _ pages: Int) throws -> UInt64 {
        #expect(try f.reset())
        let pa = f.ram.base + 0x40_0000
        var pgd: UInt64 = 0
        for i in 0..<UInt64(pages) {
            pgd = FullSessionTests.mapPage(f, iova: iova + i * 0x1000, pa: pa + i * 0x1000)
        }
        let cd = f.ram.base + 0x30_0000
        f.ram.writeWords(cd, FullSessionTests.cd(ttb0: pgd))
        f.writeSTE(sid: 9, FullSessionTests.stage1STE(cd: cd))
        #expect(try f.submitAndWait([SMMUCmd.cfgiSTE(9)]))
        return pa
    }

    static func translateAhead(_ c: TestClient, iova: UInt64, flags: UInt32 = 0) throws -> Message {
        var w = WireWriter(); WireTranslateRequest(sid: 9, flags: flags, iova: iova).encode(into: &w)
        return try c.request(.translateAhead, payload: w.bytes)
    }

    @Test func theReplyCarriesTheFollowingPagesUpToTheFirstUnmappedOne() throws {
        let f = try LinuxFrontEnd(features: Self.features)
        let pa = try Self.mapPages(f, 5)
        let m = try Self.translateAhead(f.client, iova: Self.iova + 0x10, flags: WireTranslateRequest.write)
        #expect(m.payload.count == WireTranslateAheadReply.size)
        var r = WireReader(m.payload)
        let rep = WireTranslateAheadReply(&r)
        #expect(rep.first.status == WireTranslateReply.ok && rep.first.iovaBase == Self.iova && rep.first.paBase == pa)
        #expect(rep.ahead.count == 4)
        for (i, a) in rep.ahead.enumerated() {
            let n = UInt64(i + 1)
            #expect(a.status == WireTranslateReply.ok && a.sizeLog2 == 12)
            #expect(a.iovaBase == Self.iova + n * 0x1000 && a.paBase == pa + n * 0x1000)
            #expect(a.tags == WireTranslateReply.tagASID | WireTranslateReply.tagVMID && a.asid == FullSessionTests.asid)
            #expect(a.perm & 0b11 == 0b11)
        }
        // Unused slots are zero.
        #expect(m.payload.suffix((Wire.aheadMax - 4) * WireTranslateReply.size).allSatisfy { $0 == 0 })
        // The unmapped sixth page recorded nothing.
        #expect(try f.client.mmioRead(SMMUReg.EVENTQ_PROD) == f.client.mmioRead(SMMUReg.EVENTQ_CONS))
    }

    @Test func aFaultCarriesNothingAhead() throws {
        let f = try LinuxFrontEnd(features: Self.features)
        _ = try Self.mapPages(f, 2)
        var r = WireReader(try Self.translateAhead(f.client, iova: 0x2000_0000).payload)
        let rep = WireTranslateAheadReply(&r)
        #expect(rep.first.status == WireTranslateReply.fault && rep.ahead.isEmpty)
    }

    /// The backend leaves out invalidations that cover nothing it handed
    /// out (FrontEndShadow). A page handed out ahead was handed out: its
    /// TLBI must go to the front end, and the CMD_SYNC after it complete
    /// behind it.
    @Test func aTLBIOfAPageHandedOutAheadReachesTheFrontEnd() throws {
        let f = try LinuxFrontEnd(features: Self.features)
        f.needReply = true
        _ = try Self.mapPages(f, 4)
        _ = try Self.translateAhead(f.client, iova: Self.iova)
        // A TLBI of a page nobody was given stays home...
        var before = f.backend.log.count
        var slot = try f.submit([SMMUCmd.tlbiNHVA(asid: FullSessionTests.asid, address: Self.iova + 0x10_0000)])
        #expect(f.ram.read32(slot) == 0 || f.waitForSync(slot))
        #expect(!InOrderSyncTests.requests(f, from: before).contains(BackRequest.invalidate.rawValue))
        // ...one of the third page, only ever handed out ahead, does not.
        before = f.backend.log.count
        slot = try f.submit([SMMUCmd.tlbiNHVA(asid: FullSessionTests.asid, address: Self.iova + 0x2000)])
        #expect(f.ram.read32(slot) == 0 || f.waitForSync(slot))
        let sent = f.backend.log.dropFirst(before).filter { $0.header.request == BackRequest.invalidate.rawValue }
        #expect(sent.count == 1)
        if let m = sent.first {
            var r = WireReader(m.payload)
            let inv = WireInvalidate(&r)
            #expect(inv.addr <= Self.iova + 0x2000 && Self.iova + 0x2000 < inv.addr &+ max(inv.size, 1))
        }
    }

    /// A request that needs a feature the front end did not acknowledge
    /// is a protocol error (docs/protocol.md, "Message header").
    @Test func withoutTheFeatureTheRequestIsRefused() throws {
        let f = try LinuxFrontEnd(features: Wire.featureMMIOWriteSync | Wire.featureInOrderSync)
        _ = try Self.mapPages(f, 2)
        let m = try Self.translateAhead(f.client, iova: Self.iova)
        #expect(TestClient.status(m) == Int64(-EINVAL))
        // and the channel goes on
        #expect(try f.client.translate(sid: 9, iova: Self.iova).status == WireTranslateReply.ok)
    }
}
