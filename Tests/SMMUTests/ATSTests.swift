import Testing
@testable import SMMU

/// ATS through the façade (IHI 0070 3.9, 4.5.1, 7.1): Translation Requests
/// on a stream with STE.EATS, ATC invalidation and its CMD_SYNC.
struct ATSTests {
    let sid: UInt32 = 9
    let va: UInt64 = 0x1234_5000

    /// One stage-1 CD (ASID 1) mapping `va` RW and `va + 0x1000` read-only.
    /// `check`: check mode, which also sends the host an invalidate-all at
    /// every CMD_SYNC (off where a test looks at each invalidation sent).
    func machine(eats: STE.EATS, check: Bool = true) throws -> (LinuxLikeDriver, pa: UInt64) {
        let d = try LinuxLikeDriver(check: check)
        #expect(d.reset())
        let base = d.ram.base
        let t = Stage1Tables(ram: d.ram, arena: base + 0x40_0000)
        let pa = base + 0x100_0000
        t.map(va, to: pa)
        t.map(va + 0x1000, to: pa + 0x1000,
              attrs: PT4K.af | PT4K.innerShareable | PT4K.apEL0 | PT4K.apReadOnly | PT4K.uxn)
        let cd = base + 0x30_0000
        d.ram.writeWords(cd, CDWords.linux(asid: 1, ttb0: t.root))
        d.registerEndpoint(sid)
        d.writeSTE(sid: sid, STEWords.stage1(cdPointer: cd, eats: eats))
        #expect(d.submit([DriverCmd.cfgiSTE(sid)]))
        return (d, pa)
    }

    @Test func translationRequestReturnsAddressSizeAndPermissions() throws {
        let (d, pa) = try machine(eats: .full)
        guard case .translated(let t) = d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(va | 0x10),
                                                                            ats: true)) else {
            Issue.record("ATS request should translate"); return
        }
        #expect(t.outputBase == .physical(PhysicalAddress(pa)))
        #expect(t.sizeLog2 == 12)
        #expect(t.permissions.allows([]) && t.permissions.allows(.write))
        // AP[2] = 1: read-only; the completion must not grant write.
        guard case .translated(let ro) = d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(va + 0x1000),
                                                                             ats: true)) else {
            Issue.record("read-only page should translate"); return
        }
        #expect(ro.outputBase == .physical(PhysicalAddress(pa + 0x1000)))
        #expect(ro.permissions.allows([]))
        #expect(!ro.permissions.allows(.write))
    }

    /// 3.9.1: a translation-related fault on an ATS Translation Request is
    /// reported in the completion, not recorded.
    @Test func translationFaultIsNotRecorded() throws {
        let (d, _) = try machine(eats: .full)
        _ = d.drainEvents()
        guard case .fault(let f) = d.smmu.translate(TranslationRequest(streamID: sid, address: 0x7000_0000,
                                                                       ats: true)) else {
            Issue.record("unmapped address must fault"); return
        }
        #expect(f.event == nil)
        #expect(f.type == .F_TRANSLATION)
        #expect(d.drainEvents().isEmpty)
    }

    /// EATS = 0: an ATS Translation Request is F_BAD_ATS_TREQ (7.3.6: type 0x05).
    @Test func eatsZeroRecordsBadATSTranslationRequest() throws {
        let (d, _) = try machine(eats: .off)
        _ = d.drainEvents()
        guard case .fault = d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(va), ats: true)) else {
            Issue.record("EATS=0 must refuse ATS"); return
        }
        let events = d.drainEvents()
        #expect(events.count == 1)
        #expect(events.first.map { $0[0] & 0xFF } == 0x05)
        #expect(events.first.map { $0[0] >> 32 } == UInt64(sid))
        // The same address as an ordinary transaction still translates.
        guard case .translated = d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(va))) else {
            Issue.record("untranslated traffic is unaffected by EATS"); return
        }
    }

    /// 5.2 S1DSS: "For ATS Translation Requests, if the cases described in
    /// 0b00 and 0b10 lead to termination, the Translation Request is
    /// terminated with a CA and no event is recorded."
    @Test func s1dssTerminationOfATSRequestRecordsNothing() throws {
        let d = try LinuxLikeDriver()
        #expect(d.reset())
        let cdTable = d.ram.base + 0x30_0000
        d.writeSTE(sid: sid, STEWords.stage1(cdPointer: cdTable, cdMax: 4, s1dss: .terminate, eats: .full))
        #expect(d.submit([DriverCmd.cfgiSTE(sid)]))
        _ = d.drainEvents()
        guard case .fault(let f) = d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(va), ats: true)) else {
            Issue.record("S1DSS=0b00 must terminate"); return
        }
        #expect(f.event == nil)
        #expect(d.drainEvents().isEmpty)
        // An ordinary transaction records F_STREAM_DISABLED (0x06).
        _ = d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(va)))
        #expect(d.drainEvents().map { $0[0] & 0xFF } == [0x06])
    }

    /// CMD_ATC_INV (4.5.1): span 4096 * 2^Size, address aligned down to it;
    /// SSV selects the PASID; completion by the following CMD_SYNC.
    @Test func atcInvalidationReachesHostAndSyncWaits() throws {
        let (d, _) = try machine(eats: .full, check: false)
        let syncsBefore = d.host.log.withLock { $0.syncs }
        #expect(d.submit([DriverCmd.atcInv(sid: sid, ssid: 4, address: 0x1234_7000, size: 2),
                          DriverCmd.atcInv(sid: sid, address: va, size: 0)]))
        let log = d.host.log.withLock { $0 }
        #expect(log.invalidations.suffix(2) == [
            .atc(streamID: sid, substreamID: 4, address: 0x1234_4000, size: 0x4000),
            .atc(streamID: sid, substreamID: nil, address: va, size: 0x1000),
        ])
        #expect(log.syncs == syncsBefore + 1)
    }

    /// 4.7.3 / 7.1: a CMD_SYNC whose ATC invalidations failed stops the queue
    /// with CMDQ_CONS.ERR = CERROR_ATC_INV_SYNC (3) at the sync, and toggles
    /// GERROR.CMDQ_ERR (bit 0).
    @Test func failedATCSyncRaisesCommandQueueError() throws {
        let (d, _) = try machine(eats: .full)
        let gerrorBefore = d.read32(Reg.GERROR)
        let consBefore = d.read32(Reg.CMDQ_CONS)
        d.host.syncResult = false
        let r = d.submitExpectingError([DriverCmd.atcInv(sid: sid, address: va, size: 0)])
        #expect(!r.consumed)
        #expect((r.cons >> 24) & 0x7F == 3)
        // CONS stopped on the sync, one past the ATC_INV.
        #expect(r.cons & 0xFF == (consBefore &+ 1) & 0xFF)
        #expect((r.gerror ^ gerrorBefore) & 1 == 1)
        #expect((r.gerror ^ d.read32(Reg.GERRORN)) & 1 == 1)
        #expect(d.host.log.withLock { $0.interrupts.contains(.globalError) })
    }
}

extension LinuxLikeDriver {
    /// The PCIe side: an endpoint with ATS, PRI and 20-bit PASIDs.
    func registerEndpoint(_ sid: UInt32) {
        smmu.registerEndpoint(Endpoint(streamID: sid, ats: true, pri: true, pasidBits: 20))
    }
}
