import Testing
@testable import SMMU

/// Input address size checks where a stage does not translate (IHI 0070
/// 3.4). OAS = IAS = 48 bits here (IDR0.TTF = AArch64 only, so IAS == OAS).
struct AddressSizeTests {
    let sid: UInt32 = 4
    let beyond: UInt64 = 1 << 48 | 0x1000

    func faultOrNil(_ outcome: TranslationOutcome) -> TranslationFault? {
        if case .fault(let f) = outcome { return f }
        return nil
    }

    /// "If the SMMU is disabled (... GBPA.ABORT == 0 allows traffic bypass)
    /// ... If the input address of a transaction exceeds the size of the OAS,
    /// the transaction is terminated with an abort and no event is recorded."
    @Test func disabledBypassAbortsAddressBeyondOAS_3_4() throws {
        let d = try LinuxLikeDriver()
        #expect(d.reset(enableSMMU: false))
        guard case .translated(let t) = d.smmu.translate(TranslationRequest(streamID: sid, address: 0x4000_1000)) else {
            Issue.record("GBPA bypass translates"); return
        }
        // The identity block must not cover addresses beyond the OAS.
        #expect(t.sizeLog2 <= 48)
        let f = try #require(faultOrNil(d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(beyond)))))
        #expect(f.event == nil)
        #expect(d.drainEvents().isEmpty)
    }

    /// "When a stream selects an STE with STE.Config == 0b100 ... If the
    /// input address of a transaction exceeds the size of the OAS, the
    /// transaction is terminated with an abort and a stage 1 Address Size
    /// fault (F_ADDR_SIZE) is recorded": 0x11, S2 = 0, CLASS = IN (7.3.14).
    @Test func bypassSTERecordsStage1AddressSizeBeyondOAS_3_4() throws {
        let d = try LinuxLikeDriver()
        #expect(d.reset())
        d.writeSTE(sid: sid, STEWords.plain(.bypass))
        #expect(d.submit([DriverCmd.cfgiSTE(sid)]))
        _ = d.drainEvents()
        #expect(faultOrNil(d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(beyond)))) != nil)
        let e = d.drainEvents()
        #expect(e.map { $0[0] & 0xFF } == [0x11])
        if let e = e.first {
            #expect((e[1] >> 39) & 1 == 0)
            #expect((e[1] >> 40) & 3 == 0b10)
            #expect(e[2] == beyond)
        }
    }

    /// "If bypassing stage 1 (because STE.Config == 0b1x0, STE.S1DSS == 0b01
    /// ...) ... If the input address of a transaction exceeds the size of the
    /// IAS, a stage 1 Address Size fault occurs" — not stage 2's
    /// Translation fault for an IPA outside S2T0SZ.
    @Test func stage2OnlyRecordsStage1AddressSizeBeyondIAS_3_4() throws {
        let l = try NestedTests().build()
        NestedTests().install(l.d, STEWords.stage2Only(vmid: 7, t0sz: 24, sl0: 1, ttb: l.s2root))
        #expect(faultOrNil(l.d.smmu.translate(TranslationRequest(streamID: 20, address: InputAddress(beyond)))) != nil)
        let e = l.d.drainEvents()
        #expect(e.map { $0[0] & 0xFF } == [0x11])
        if let e = e.first {
            #expect((e[1] >> 39) & 1 == 0)
            #expect((e[1] >> 40) & 3 == 0b10)
        }
    }

    /// The same with stage 1 skipped by S1DSS == 0b01 on a stage-1-only STE.
    @Test func s1dssBypassRecordsStage1AddressSizeBeyondIAS_3_4() throws {
        let d = try LinuxLikeDriver()
        #expect(d.reset())
        d.writeSTE(sid: sid, STEWords.stage1(cdPointer: d.ram.base + 0x30_0000, cdMax: 4, s1dss: .bypass))
        #expect(d.submit([DriverCmd.cfgiSTE(sid)]))
        _ = d.drainEvents()
        #expect(faultOrNil(d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(beyond)))) != nil)
        #expect(d.drainEvents().map { $0[0] & 0xFF } == [0x11])
        // Within the IAS the address passes unchanged.
        guard case .translated(let t) = d.smmu.translate(TranslationRequest(streamID: sid, address: 0x4000_1000)) else {
            Issue.record("S1DSS bypass translates"); return
        }
        #expect(t.output(for: 0x4000_1000) == .physical(0x4000_1000))
    }
}

extension AddressSizeTests {
    /// 13.6.5 note / 3.9.1.2: "Even if stage 1 is effectively bypassed, a
    /// stage 1 Address Size Fault might occur if the input address supplied
    /// in the Translation Request is greater than the IAS" — and an Address
    /// Size fault answers an ATS request with Success, R == W == 0, no event.
    @Test func atsRequestBeyondIASWithStage1SkippedIsNoAccess_3_9_1_2() throws {
        let d = try LinuxLikeDriver()
        #expect(d.reset())
        d.writeSTE(sid: sid, STEWords.stage1(cdPointer: d.ram.base + 0x30_0000, cdMax: 4, s1dss: .bypass, eats: .full))
        #expect(d.submit([DriverCmd.cfgiSTE(sid)]))
        _ = d.drainEvents()
        let f = try #require(faultOrNil(d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(beyond), ats: true))))
        #expect(f.atsStatus == .noAccess)
        #expect(f.type == .F_ADDR_SIZE)
        #expect(d.drainEvents().isEmpty)
    }
}
