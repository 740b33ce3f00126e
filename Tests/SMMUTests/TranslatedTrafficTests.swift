import Testing
@testable import SMMU

/// ATS Translated transactions (PCIe AT = Translated) and SMMU_CR0.ATSCHK
/// (IHI 0070 3.9.1, 3.9.1.3, 5.2 EATS, 7.3.8 F_TRANSL_FORBIDDEN).
struct TranslatedTrafficTests {
    let sid: UInt32 = 9
    let pa: UInt64 = 0x4100_0123

    func translated(_ address: UInt64, write: Bool = false, ssid: UInt32? = nil) -> TranslationRequest {
        TranslationRequest(streamID: sid, substreamID: ssid, address: InputAddress(address), access: write ? .write : [],
                           kind: .translated)
    }

    func driver(atsCheck: Bool, ste: [UInt64]?) throws -> LinuxLikeDriver {
        let d = try LinuxLikeDriver()
        #expect(d.reset())
        // reset() sets ATSCHK with IDR0.ATS, as Linux does.
        #expect(atsCheck ? d.enable(CR0.ATSCHK) : d.disable(CR0.ATSCHK))
        if let ste {
            d.writeSTE(sid: sid, ste)
            #expect(d.submit([DriverCmd.cfgiSTE(sid)]))
        }
        _ = d.drainEvents()
        return d
    }

    /// 7.3.8 layout: type 0x07 [7:0], StreamID [63:32], no SSV/SubstreamID,
    /// RnW [99], InputAddr [191:128].
    func expectTranslForbidden(_ d: LinuxLikeDriver, address: UInt64, read: Bool) {
        let e = d.drainEvents()
        #expect(e.count == 1)
        guard let e = e.first else { return }
        #expect(e[0] == 0x07 | UInt64(sid) << 32)
        #expect((e[1] >> 35) & 1 == (read ? 1 : 0))
        #expect(e[2] == address)
    }

    /// 3.9.1.3: "SMMUEN == 0: F_TRANSL_FORBIDDEN and aborted" (7.3.8: "This
    /// event is permitted to be recorded when SMMUEN == 0").
    @Test func smmuDisabledForbidsTranslatedTraffic_3_9_1_3() throws {
        let d = try LinuxLikeDriver()
        #expect(d.reset(enableSMMU: false))
        _ = d.drainEvents()
        guard case .fault(let f) = d.smmu.translate(translated(pa, write: true, ssid: 5)) else {
            Issue.record("Translated traffic must not pass with SMMUEN=0"); return
        }
        #expect(f.type == .F_TRANSL_FORBIDDEN)
        expectTranslForbidden(d, address: pa, read: false)
    }

    /// 3.9.1: with ATSCHK == 0 the SMMU "allows Translated traffic to bypass
    /// with no further checks, other than an address size check" — whatever
    /// the STE says (here: none, an invalid STE).
    @Test func withoutATSCHKTranslatedTrafficPassesAsPA_3_9_1() throws {
        let d = try driver(atsCheck: false, ste: [0])
        guard case .translated(let t) = d.smmu.translate(translated(pa)) else {
            Issue.record("ATSCHK=0 lets Translated traffic through"); return
        }
        #expect(t.output(for: InputAddress(pa)) == .physical(PhysicalAddress(pa)))
        #expect(d.drainEvents().isEmpty)
        // 3.9.1.1: above the OAS (48 bits) we abort, recording nothing (the
        // first of the two IMPLEMENTATION DEFINED behaviours).
        guard case .fault(let f) = d.smmu.translate(translated(1 << 48 | pa)) else {
            Issue.record("a PA above the OAS must not pass"); return
        }
        #expect(f.event == nil)
        #expect(d.drainEvents().isEmpty)
    }

    /// 5.2 EATS == 0b00: "if SMMU_CR0.ATSCHK == 1, Translated traffic ... is
    /// terminated with an abort and a F_TRANSL_FORBIDDEN event is recorded."
    @Test func eatsZeroForbidsTranslatedTrafficWithATSCHK_5_2() throws {
        let d = try driver(atsCheck: true, ste: STEWords.stage1(cdPointer: 0x4030_0000, eats: .off))
        guard case .fault = d.smmu.translate(translated(pa)) else {
            Issue.record("EATS=0 with ATSCHK must abort Translated traffic"); return
        }
        expectTranslForbidden(d, address: pa, read: true)
    }

    /// 3.9.1.3: "STE.Config == 0b100: If ATSCHK == 1, F_TRANSL_FORBIDDEN and aborted."
    @Test func bypassSTEForbidsTranslatedTrafficWithATSCHK_3_9_1_3() throws {
        let d = try driver(atsCheck: true, ste: STEWords.plain(.bypass, eats: .full))
        guard case .fault = d.smmu.translate(translated(pa, write: true)) else {
            Issue.record("Config=0b100 with ATSCHK must abort Translated traffic"); return
        }
        expectTranslForbidden(d, address: pa, read: false)
    }

    /// 3.9.1.3: "STE.Config == 0b000: If ATSCHK == 1, aborted" (silently, 5.2 EATS).
    @Test func abortSTEAbortsTranslatedTrafficSilently_3_9_1_3() throws {
        let d = try driver(atsCheck: true, ste: STEWords.plain(.abort, eats: .full))
        guard case .fault(let f) = d.smmu.translate(translated(pa)) else {
            Issue.record("Config=0b000 with ATSCHK must abort Translated traffic"); return
        }
        #expect(f.event == nil)
        #expect(d.drainEvents().isEmpty)
    }

    /// 5.2 EATS == 0b01: "Translated traffic from the StreamID of the STE is
    /// allowed to bypass (regardless of SMMU_CR0.ATSCHK)".
    @Test func fullATSLetsTranslatedTrafficThroughWithATSCHK_5_2() throws {
        let d = try driver(atsCheck: true, ste: STEWords.stage1(cdPointer: 0x4030_0000, eats: .full))
        guard case .translated(let t) = d.smmu.translate(translated(pa, write: true)) else {
            Issue.record("EATS=0b01 lets Translated traffic through"); return
        }
        #expect(t.output(for: InputAddress(pa)) == .physical(PhysicalAddress(pa)))
        #expect(d.drainEvents().isEmpty)
    }

    /// 3.9.1.3: with ATSCHK == 1, C_BAD_STE is "aborted ... Otherwise [no
    /// REC_CFG_ATS], no event is recorded".
    @Test func invalidSTEAbortsTranslatedTrafficWithoutEvent_3_9_1_3() throws {
        let d = try driver(atsCheck: true, ste: [0])
        guard case .fault(let f) = d.smmu.translate(translated(pa)) else {
            Issue.record("an invalid STE with ATSCHK must abort Translated traffic"); return
        }
        #expect(f.type == .C_BAD_STE)
        #expect(d.drainEvents().isEmpty)
    }
}

extension TranslatedTrafficTests {
    /// 3.9.1.3: with ATSCHK == 1 and REC_CFG_ATS == 1 the configuration
    /// error is recorded; "Reporting of C_BAD_STREAMID is not affected by
    /// SMMU_(R_)CR2.RECINVSID".
    @Test func recCfgATSRecordsBadStreamIDWithoutRECINVSID_3_9_1_3() throws {
        var c = SMMUConfiguration()
        c.atsRecordConfigErrors = true
        let d = try LinuxLikeDriver(configuration: c)
        #expect(d.reset(enableSMMU: false))
        d.write32(Reg.CR2, 1 << 3)                                      // REC_CFG_ATS, RECINVSID = 0
        #expect(d.enable(CR0.SMMUEN) && d.enable(CR0.ATSCHK))
        _ = d.drainEvents()
        let outside = TranslationRequest(streamID: 1 << 12, address: InputAddress(pa), kind: .translated)
        guard case .fault = d.smmu.translate(outside) else { Issue.record("must abort"); return }
        #expect(d.drainEvents().map { $0[0] & 0xFF } == [0x02])
        // An ordinary transaction still needs RECINVSID.
        _ = d.smmu.translate(TranslationRequest(streamID: 1 << 12, address: InputAddress(pa)))
        #expect(d.drainEvents().isEmpty)
    }
}

extension TranslatedTrafficTests {
    /// 5.2 EATS: with SMMU_IDR0.ATS == 0 "No ATS requests can be made, nor
    /// Translated traffic passed" — not even with ATSCHK == 0.
    @Test func withoutATSTranslatedTrafficDoesNotPass_5_2() throws {
        var c = SMMUConfiguration()
        c.ats = false; c.pri = false
        let d = try LinuxLikeDriver(configuration: c)
        #expect(d.reset())
        guard case .fault = d.smmu.translate(translated(pa)) else {
            Issue.record("an SMMU without ATS passes no Translated traffic"); return
        }
    }
}
