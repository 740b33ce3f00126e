import CVSMMU
import SMMU
import Testing
import VSMMUServer
#if canImport(Glibc)
import Glibc
#endif

/// VSMMU_F_IN_ORDER_SYNC (docs/protocol.md, "Features", "Ordering"): the
/// front end applies backend-channel messages in order, so a CMD_SYNC's
/// completion that travels behind its invalidations on that channel
/// cannot reach the guest before them. The backend then needs no SYNC
/// round trip (unless an ATC_INV's outcome is pending) and never stores a
/// completion MSI in RAM itself.
@Suite("In-order sync", .serialized, .enabled(if: ModelProbe.registerFileImplemented))
struct InOrderSyncTests {
    static let features = Wire.featureMMIOWriteSync | Wire.featureInOrderSync

    /// The backend-channel messages of one batch, from the first message
    /// logged after `from`.
    static func requests(_ f: LinuxFrontEnd, from: Int) -> [UInt32] {
        f.backend.log.dropFirst(from).map(\.header.request)
    }

    @Test func completionTravelsBehindTheInvalidationWithoutASyncRoundTrip() throws {
        let f = try LinuxFrontEnd(features: Self.features)
        f.needReply = true
        try SyncWriteTests.holdTranslation(f)
        f.backend.holdMSIs = true
        let before = f.backend.log.count

        let slot = try f.submit([SMMUCmd.tlbiNSNHAll])
        // The reply came after everything the batch sent: it is all logged
        // once the responder has read it.
        #expect(f.backend.wait { log in log.dropFirst(before).contains { $0.header.request == BackRequest.msi.rawValue } })
        let seen = Self.requests(f, from: before)
        let inv = seen.firstIndex(of: BackRequest.invalidate.rawValue)
        let msi = seen.firstIndex(of: BackRequest.msi.rawValue)
        #expect(inv != nil && msi != nil && inv! < msi!)
        #expect(!seen.contains(BackRequest.sync.rawValue))
        // The backend left the completion to the front end: the slot is
        // untouched until the MSI message is applied.
        #expect(f.ram.read32(slot) != 0)
        let m = f.backend.log.dropFirst(before).first { $0.header.request == BackRequest.msi.rawValue }!
        var r = WireReader(m.payload)
        #expect(r.u64() == slot)
        #expect(r.u32() == 0)
        #expect(try f.client.mmioRead(SMMUReg.CMDQ_CONS) & 0x1FF == f.cmdProd)
    }

    /// How a CMD_SYNC completes must not change under a running guest: once
    /// the SMMU was used, SET_FEATURES may only repeat what it acknowledged.
    @Test func featuresAreLatchedOnceTheSMMUIsUsed() throws {
        let f = try LinuxFrontEnd(features: Self.features)
        f.needReply = true
        try SyncWriteTests.holdTranslation(f)
        var same = WireWriter(); same.u64(Self.features)
        #expect(try f.client.statusRequest(.setFeatures, payload: same.bytes) == 0)
        var other = WireWriter(); other.u64(Wire.featureMMIOWriteSync)
        #expect(try f.client.statusRequest(.setFeatures, payload: other.bytes) == Int64(-EBUSY))
        // still in order: a TLBI's CMD_SYNC makes no SYNC round trip
        let before = f.backend.log.count
        let slot = try f.submit([SMMUCmd.tlbiNSNHAll])
        #expect(f.backend.wait { log in log.dropFirst(before).contains { $0.header.request == BackRequest.msi.rawValue } })
        #expect(!Self.requests(f, from: before).contains(BackRequest.sync.rawValue))
        #expect(f.ram.read32(slot) == 0 || f.waitForSync(slot))
    }

    /// An invalidation the front end never got must not be covered by a
    /// CMD_SYNC that completes: the SYNC fails (CMDQ_CONS.ERR =
    /// CERROR_ATC_INV_SYNC, GERROR.CMDQ_ERR) instead of completing in order.
    @Test func anInvalidationThatCouldNotBeSentFailsTheSync() throws {
        let f = try LinuxFrontEnd(features: Self.features)
        f.needReply = true
        try SyncWriteTests.holdTranslation(f)
        f.backend.stop()
        let slot = try f.submit([SMMUCmd.tlbiNSNHAll])
        // the command thread may still be at work when the write's reply comes
        var gerror: UInt64 = 0
        for _ in 0..<2000 where gerror & 1 == 0 {
            gerror = try f.client.mmioRead(0x60)
            if gerror & 1 == 0 { usleep(1000) }
        }
        let cons = try f.client.mmioRead(SMMUReg.CMDQ_CONS)
        #expect(gerror & 1 == 1)
        #expect((cons >> 24) & 0x7F == 3)
        #expect(f.ram.read32(slot) != 0)

        // Linux (arm_smmu_cmdq_skip_err) leaves CONS at the CMD_SYNC for
        // CERROR_ATC_INV_SYNC and acknowledges, so the SMMU runs it again
        // (IHI 0070 7.1). The invalidation is still lost: it fails again.
        try f.client.mmioWrite(0x64, gerror, needReply: true)
        var again: UInt64 = 0
        for _ in 0..<2000 where again & 1 == 0 {
            again = (try f.client.mmioRead(0x60)) ^ (try f.client.mmioRead(0x64))
            if again & 1 == 0 { usleep(1000) }
        }
        #expect(again & 1 == 1, "the repeated CMD_SYNC fails as well")
        #expect(f.ram.read32(slot) != 0)
    }

    @Test func withoutTheFeatureTheSyncRoundTripStays() throws {
        let f = try LinuxFrontEnd(features: Wire.featureMMIOWriteSync)
        f.needReply = true
        try SyncWriteTests.holdTranslation(f)
        let before = f.backend.log.count
        let slot = try f.submit([SMMUCmd.tlbiNSNHAll])
        #expect(f.waitForSync(slot))
        let seen = Self.requests(f, from: before)
        #expect(seen.contains(BackRequest.sync.rawValue))
        #expect(!seen.contains(BackRequest.msi.rawValue))
    }

    /// An ATC_INV can fail (CERROR_ATC_INV_SYNC): its CMD_SYNC still waits
    /// for the front end's SYNC reply, and completes only after it.
    @Test func anATCInvalidationStillWaitsForTheSyncReply() throws {
        let f = try LinuxFrontEnd(features: Self.features)
        f.needReply = true
        #expect(try f.reset())
        var w = WireWriter(); WireEndpoint(sid: 8, flags: WireEndpoint.ats, pasidBits: 0).encode(into: &w)
        #expect(try f.client.statusRequest(.registerEndpoint, payload: w.bytes) == 0)
        // Stage 1 with STE.EATS = 0b01 (dword 1 [29:28]): ATS is allowed.
        let iova: UInt64 = 0x1000_0000
        let pgd = FullSessionTests.mapPage(f, iova: iova, pa: f.ram.base + 0x40_0000)
        let cdAddr = f.ram.base + 0x30_0000
        f.ram.writeWords(cdAddr, FullSessionTests.cd(ttb0: pgd))
        var ste = FullSessionTests.stage1STE(cd: cdAddr)
        ste[1] |= 1 << 28
        f.writeSTE(sid: 8, ste)
        #expect(try f.submitAndWait([SMMUCmd.cfgiSTE(8)]))
        #expect(try f.client.translate(sid: 8, iova: iova, flags: UInt32(VSMMU_TR_ATS)).status == 0)
        let before = f.backend.log.count
        let slot = try f.submit([SMMUCmd.atcInvAll(8)])
        #expect(f.waitForSync(slot))
        let seen = Self.requests(f, from: before)
        let atc = seen.firstIndex(of: BackRequest.atcInvalidate.rawValue)
        let sync = seen.firstIndex(of: BackRequest.sync.rawValue)
        let msi = seen.firstIndex(of: BackRequest.msi.rawValue)
        #expect(atc != nil && sync != nil && msi != nil)
        if let atc, let sync, let msi { #expect(atc < sync && sync < msi) }
    }
}
