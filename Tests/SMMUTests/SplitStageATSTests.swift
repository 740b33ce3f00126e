import Testing
@testable import SMMU

/// Split-stage ATS (STE.EATS == 0b10 with SMMU_CR0.ATSCHK == 1, IHI 0070 5.2
/// EATS, 13.6.3): Translation Completions carry stage 1's IPA, and the
/// endpoint's Translated transactions are IPAs that stage 2 translates.
/// Tables: NestedTests' layout (VA -> IPA IB + 0x10_0000 -> dataPA).
struct SplitStageATSTests {
    let sid: UInt32 = 20
    let va: UInt64 = 0x1234_5000
    let dataIPA = NestedTests.ib + 0x10_0000

    func split(atsCheck: Bool = true) throws -> NestedTests.Layout {
        let l = try NestedTests().build()
        // reset() sets ATSCHK with IDR0.ATS, as Linux does.
        #expect(atsCheck ? l.d.enable(CR0.ATSCHK) : l.d.disable(CR0.ATSCHK))
        NestedTests().install(l.d, STEWords.nested(cdPointer: NestedTests.ib, vmid: 7, t0sz: 24, sl0: 1,
                                                   ttb: l.s2root, eats: .splitStage))
        return l
    }

    /// 13.6.3: "The completion contains the IPA result from the Stage 1
    /// translation of the requested VA (instead of the output PA ...)";
    /// permissions come from both stages.
    @Test func translationRequestReturnsStage1IPA_13_6_3() throws {
        let l = try split()
        let r = TranslationRequest(streamID: sid, address: InputAddress(va | 0x678), access: .write, ats: true)
        guard case .translated(let t) = l.d.smmu.translate(r) else {
            Issue.record("split-stage ATS request should translate"); return
        }
        #expect(t.output(for: InputAddress(va | 0x678)) == .intermediate(IntermediateAddress(dataIPA + 0x678)))
        #expect(t.permissions.allows(.write))
        #expect(l.d.drainEvents().isEmpty)
    }

    /// 5.2 EATS: with ATSCHK == 0, EATS == 0b10 "behaves as 0b00": UR and
    /// F_BAD_ATS_TREQ (0x05, 3.9.1.2).
    @Test func withoutATSCHKSplitStageIsATSDisabled_5_2() throws {
        let l = try split(atsCheck: false)
        guard case .fault(let f) = l.d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(va), ats: true)) else {
            Issue.record("EATS=0b10 without ATSCHK must refuse ATS"); return
        }
        #expect(f.atsStatus == .unsupportedRequest)
        #expect(l.d.drainEvents().map { $0[0] & 0xFF } == [0x05])
    }

    /// 13.6.3: "When EATS == 0b10, the Translated transaction provides an
    /// IPA. This IPA is subject to stage 2 translation".
    @Test func translatedTransactionIsTranslatedByStage2_13_6_3() throws {
        let l = try split()
        let r = TranslationRequest(streamID: sid, address: InputAddress(dataIPA + 0x678), access: .write, kind: .translated)
        guard case .translated(let t) = l.d.smmu.translate(r) else {
            Issue.record("the IPA should translate at stage 2"); return
        }
        #expect(t.output(for: InputAddress(dataIPA + 0x678)) == .physical(l.dataPA + 0x678))
        #expect(!t.bypass)
    }

    /// 3.9.1.3: a fault in that stage 2 translation "is terminated with an
    /// abort and an event is recorded in the same way as for an ordinary
    /// transaction": stage-2 F_TRANSLATION (0x10), S2 = 1, CLASS = IN.
    @Test func stage2FaultOnTranslatedTransactionIsRecorded_3_9_1_3() throws {
        let l = try split()
        let hole = NestedTests.ib + 0x5010
        guard case .fault = l.d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(hole), kind: .translated)) else {
            Issue.record("an unmapped IPA must fault"); return
        }
        NestedTests.expectStage2InputTranslationFault(l.d.drainEvents(), inputAddress: hole)
    }

    /// 3.9.1.3 priority 10: "If STE.EATS is 0b10 (Split-stage), then
    /// F_ADDR_SIZE arising from the check of the input address against IAS.
    /// Note: This is reported as a stage 1 fault."
    @Test func translatedIPABeyondIASIsStage1AddressSize_3_9_1_3() throws {
        let l = try split()
        let beyond: UInt64 = 1 << 48                    // IAS = OAS = 48
        guard case .fault = l.d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(beyond), kind: .translated)) else {
            Issue.record("an IPA beyond the IAS must fault"); return
        }
        let e = l.d.drainEvents()
        #expect(e.map { $0[0] & 0xFF } == [0x11])
        if let e = e.first { #expect((e[1] >> 39) & 1 == 0) }
    }
}

extension SplitStageATSTests {
    /// 13.6.5: with stage 1 skipped by S1DSS == 0b01, a split-stage request
    /// without PASID gets an identity IPA, permissions from stage 2.
    @Test func skippedStage1ReturnsIdentityIPA_13_6_5() throws {
        let l = try NestedTests().build()
        #expect(l.d.enable(CR0.ATSCHK))
        let cdTable = NestedTests.ib                                    // CD 0 at IPA IB
        NestedTests().install(l.d, STEWords.nested(cdPointer: cdTable, vmid: 7, t0sz: 24, sl0: 1, ttb: l.s2root,
                                                   cdMax: 1, s1dss: .bypass, eats: .splitStage))
        let r = TranslationRequest(streamID: sid, address: InputAddress(dataIPA + 0x10), ats: true)
        guard case .translated(let t) = l.d.smmu.translate(r) else {
            Issue.record("skipped stage 1 should translate"); return
        }
        #expect(t.output(for: InputAddress(dataIPA + 0x10)) == .intermediate(IntermediateAddress(dataIPA + 0x10)))
        // An IPA stage 2 does not map: Success with R == W == 0 (3.9.1.2).
        guard case .fault(let f) = l.d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(NestedTests.ib + 0x5000),
                                                                         ats: true)) else {
            Issue.record("an unmapped IPA must not translate"); return
        }
        #expect(f.atsStatus == .noAccess)
        #expect(l.d.drainEvents().isEmpty)
    }
}
