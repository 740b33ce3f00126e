import Testing
@testable import SMMU

/// Responses to ATS Translation Requests (IHI 0070 3.9.1.2, 13.7): which
/// completion status (Success, UR, CA) and which events, for each way a
/// request can go wrong. Event type codes from 7.3.
struct ATSResponseTests {
    let sid: UInt32 = 9
    let va: UInt64 = 0x1234_5000

    func request(_ address: UInt64, ssid: UInt32? = nil, write: Bool = false) -> TranslationRequest {
        TranslationRequest(streamID: sid, substreamID: ssid, address: InputAddress(address), access: write ? .write : [], ats: true)
    }

    func atsFault(_ outcome: TranslationOutcome) -> TranslationFault? {
        if case .fault(let f) = outcome { return f }
        return nil
    }

    /// A driver whose CR2 is written before SMMUEN (CR2 is fixed while SMMUEN == 1).
    func driver(configuration: SMMUConfiguration = .init(), cr2: UInt64 = 0) throws -> LinuxLikeDriver {
        let d = try LinuxLikeDriver(configuration: configuration)
        #expect(d.reset(enableSMMU: false))
        d.write32(Reg.CR2, cr2)
        #expect(d.enable(CR0.SMMUEN))
        d.registerEndpoint(sid)
        return d
    }

    // MARK: configuration errors: CA, no event (3.9.1.2 second table)

    /// 3.9.1.2: "C_BAD_STE ... Terminate with CA status. If
    /// SMMU_CR2.REC_CFG_ATS == 1, the event is recorded. Otherwise, no event
    /// is recorded." An ordinary transaction still records C_BAD_STE (0x04).
    @Test func badSTEIsCompleterAbortWithoutEvent_3_9_1_2() throws {
        let d = try driver()
        d.writeSTE(sid: sid, [0])                        // V = 0
        _ = d.drainEvents()
        let f = try #require(atsFault(d.smmu.translate(request(va))))
        #expect(f.atsStatus == .completerAbort)
        #expect(f.event == nil)
        #expect(d.drainEvents().isEmpty)
        _ = d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(va)))
        #expect(d.drainEvents().map { $0[0] & 0xFF } == [0x04])
    }

    /// 3.9.1.2: C_BAD_STREAMID on an ATS request is CA and recorded only
    /// with REC_CFG_ATS == 1 and RECINVSID == 1: RECINVSID alone is not enough.
    @Test func badStreamIDIsCompleterAbortEvenWithRECINVSID_3_9_1_2() throws {
        let d = try driver(cr2: 1 << 1)                  // RECINVSID
        let outside = TranslationRequest(streamID: 1 << 12, address: InputAddress(va), ats: true)   // LOG2SIZE = 8
        let f = try #require(atsFault(d.smmu.translate(outside)))
        #expect(f.atsStatus == .completerAbort)
        #expect(d.drainEvents().isEmpty)
    }

    /// 3.9.1.2: C_BAD_SUBSTREAMID (a PASID on an STE without substreams) is CA, no event.
    @Test func badSubstreamIsCompleterAbortWithoutEvent_3_9_1_2() throws {
        let (d, _) = try ATSTests().machine(eats: .full)
        _ = d.drainEvents()
        let f = try #require(atsFault(d.smmu.translate(request(va, ssid: 1))))
        #expect(f.atsStatus == .completerAbort)
        #expect(d.drainEvents().isEmpty)
    }

    /// A torn-down PASID whose CD has V = 0 (C_BAD_CD for an ordinary
    /// transaction, 5.4): an ATS request gets CA and records nothing (3.9.1:
    /// "the SMMU does not record fault events for ATS translation failures").
    @Test func invalidCDOfTornDownPASIDIsCompleterAbortWithoutEvent_3_9_1_2() throws {
        let d = try driver()
        let cdTable = d.ram.base + 0x30_0000             // 16 CDs, all zero: V = 0
        d.writeSTE(sid: sid, STEWords.stage1(cdPointer: cdTable, cdMax: 4, s1dss: .substream0, eats: .full))
        #expect(d.submit([DriverCmd.cfgiSTE(sid)]))
        _ = d.drainEvents()
        let f = try #require(atsFault(d.smmu.translate(request(va, ssid: 3))))
        #expect(f.atsStatus == .completerAbort)
        #expect(d.drainEvents().isEmpty)
        _ = d.smmu.translate(TranslationRequest(streamID: sid, substreamID: 3, address: InputAddress(va)))
        #expect(d.drainEvents().map { $0[0] & 0xFF } == [0x0A])
    }

    /// 3.9.1.2: F_CD_FETCH (an external abort fetching the CD) is CA, no event.
    @Test func cdFetchAbortIsCompleterAbortWithoutEvent_3_9_1_2() throws {
        let d = try driver()
        d.writeSTE(sid: sid, STEWords.stage1(cdPointer: 0x1000, eats: .full))    // outside guest RAM
        #expect(d.submit([DriverCmd.cfgiSTE(sid)]))
        _ = d.drainEvents()
        let f = try #require(atsFault(d.smmu.translate(request(va))))
        #expect(f.atsStatus == .completerAbort)
        #expect(d.drainEvents().isEmpty)
    }

    /// With IDR0.ATSRECERR and CR2.REC_CFG_ATS == 1 the configuration error
    /// is recorded (3.9.1.2, 6.3.12); C_BAD_STREAMID also needs RECINVSID.
    @Test func recCfgATSRecordsConfigurationErrors_6_3_12() throws {
        var c = SMMUConfiguration()
        c.atsRecordConfigErrors = true
        let d = try driver(configuration: c, cr2: 1 << 3)   // REC_CFG_ATS, RECINVSID = 0
        d.writeSTE(sid: sid, [0])
        _ = d.drainEvents()
        let f = try #require(atsFault(d.smmu.translate(request(va))))
        #expect(f.atsStatus == .completerAbort)
        #expect(d.drainEvents().map { $0[0] & 0xFF } == [0x04])
        _ = d.smmu.translate(TranslationRequest(streamID: 1 << 12, address: InputAddress(va), ats: true))
        #expect(d.drainEvents().isEmpty)
    }

    // MARK: ATS disabled: UR (3.9.1.2 first table)

    /// "SMMUEN == 0: Terminated with UR status and F_BAD_ATS_TREQ generated"
    /// (3.9.1.2; 6.3.9.6) — not an identity translation an ATC could cache.
    @Test func smmuDisabledIsUnsupportedRequestWithBadATSTreq_3_9_1_2() throws {
        let d = try LinuxLikeDriver()
        #expect(d.reset(enableSMMU: false))
        let f = try #require(atsFault(d.smmu.translate(request(va))))
        #expect(f.atsStatus == .unsupportedRequest)
        let e = d.drainEvents()
        #expect(e.map { $0[0] & 0xFF } == [0x05])
        #expect(e.first.map { $0[0] >> 32 } == UInt64(sid))
    }

    /// "STE.Config == 0b000: Terminated with UR status" — and no event.
    @Test func abortSTEIsUnsupportedRequestWithoutEvent_3_9_1_2() throws {
        let d = try driver()
        d.writeSTE(sid: sid, STEWords.plain(.abort, eats: .full))    // EATS IGNORED
        _ = d.drainEvents()
        let f = try #require(atsFault(d.smmu.translate(request(va))))
        #expect(f.atsStatus == .unsupportedRequest)
        #expect(d.drainEvents().isEmpty)
    }

    /// "STE.Config == 0b100: Terminated with UR status and F_BAD_ATS_TREQ generated".
    @Test func bypassSTEIsUnsupportedRequestWithBadATSTreq_3_9_1_2() throws {
        let d = try driver()
        d.writeSTE(sid: sid, STEWords.plain(.bypass, eats: .full))   // EATS IGNORED: effective 0b00
        _ = d.drainEvents()
        let f = try #require(atsFault(d.smmu.translate(request(va))))
        #expect(f.atsStatus == .unsupportedRequest)
        #expect(d.drainEvents().map { $0[0] & 0xFF } == [0x05])
    }

    // MARK: translation-related faults: Success (3.9.1.2, 13.7)

    /// F_TRANSLATION: "Success: R == W == 0 (access denied)", no event.
    @Test func translationFaultIsSuccessWithNoAccess_3_9_1_2() throws {
        let (d, _) = try ATSTests().machine(eats: .full)
        _ = d.drainEvents()
        let f = try #require(atsFault(d.smmu.translate(request(0x7000_0000))))
        #expect(f.atsStatus == .noAccess)
        #expect(d.drainEvents().isEmpty)
    }

    /// F_PERMISSION: "Success. R, W and Exe permission is granted, where
    /// requested, from available translation table permissions" (3.9.1.2;
    /// 13.7 example "NW == 0 ... User-RO: R == 1, W == 0").
    @Test func writeIntentToReadOnlyPageGrantsReadOnly_13_7() throws {
        let (d, pa) = try ATSTests().machine(eats: .full)
        _ = d.drainEvents()
        guard case .translated(let t) = d.smmu.translate(request(va + 0x1000, write: true)) else {
            Issue.record("a read-only page must still grant read to a write-intent request"); return
        }
        #expect(t.outputBase == .physical(PhysicalAddress(pa + 0x1000)))
        #expect(t.permissions.allows([]))
        #expect(!t.permissions.allows(.write))
        #expect(d.drainEvents().isEmpty)
    }

    /// 13.7: "The response must not grant execute permission if this flag is
    /// not set in the request"; a request with Exe to an XN page still gets R
    /// (example "NW == 1, Exe == 1, ... XN == 1: R == 1, Exe == 0").
    @Test func executeGrantedOnlyWhereRequestedAndPermitted_13_7() throws {
        let d = try driver()
        let t = Stage1Tables(ram: d.ram, arena: d.ram.base + 0x40_0000)
        let pa = d.ram.base + 0x100_0000
        // User RW, executable (UXN = 0): Linux's attributes without UXN.
        t.map(va, to: pa, attrs: PT4K.af | PT4K.innerShareable | PT4K.apEL0)
        t.map(va + 0x1000, to: pa + 0x1000)                              // UXN
        let cd = d.ram.base + 0x30_0000
        d.ram.writeWords(cd, CDWords.linux(asid: 1, ttb0: t.root))
        d.writeSTE(sid: sid, STEWords.stage1(cdPointer: cd, eats: .full))
        #expect(d.submit([DriverCmd.cfgiSTE(sid)]))
        guard case .translated(let plain) = d.smmu.translate(request(va)) else {
            Issue.record("executable page must translate"); return
        }
        #expect(!plain.permissions.allows(.instruction))
        let exec = TranslationRequest(streamID: sid, address: InputAddress(va + 0x1000), access: .instruction, ats: true)
        guard case .translated(let xn) = d.smmu.translate(exec) else {
            Issue.record("an Exe request to an XN page still gets R"); return
        }
        #expect(xn.permissions.allows([]))
        #expect(!xn.permissions.allows(.instruction))
    }
}

extension ATSResponseTests {
    /// 3.9.1.2: F_WALK_EABT (a table walk that aborts) is a configuration
    /// error for an ATS request: CA and no event; an ordinary transaction records 0x0B.
    @Test func walkExternalAbortIsCompleterAbortWithoutEvent_3_9_1_2() throws {
        let d = try driver()
        let cd = d.ram.base + 0x30_0000
        d.ram.writeWords(cd, CDWords.linux(asid: 1, ttb0: 0x1000))      // TTB0 outside guest RAM
        d.writeSTE(sid: sid, STEWords.stage1(cdPointer: cd, eats: .full))
        #expect(d.submit([DriverCmd.cfgiSTE(sid)]))
        _ = d.drainEvents()
        let f = try #require(atsFault(d.smmu.translate(request(va))))
        #expect(f.atsStatus == .completerAbort)
        #expect(d.drainEvents().isEmpty)
        _ = d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(va)))
        #expect(d.drainEvents().map { $0[0] & 0xFF } == [0x0B])
    }

    /// 3.9.1 / 13.7: "An ATS request is either for a read-only translation
    /// (NW set) so only the Access flag is updated, or for a read-write
    /// translation (NW clear) for which both the Access flag and the dirty
    /// state of the page are updated"; "An ATS TR having NW == 1 must not
    /// mark a page as writable-dirty".
    @Test func writableCleanPageIsDirtiedOnlyByWriteIntent_13_7() throws {
        let d = try driver()
        let t = Stage1Tables(ram: d.ram, arena: d.ram.base + 0x40_0000)
        let pa = d.ram.base + 0x100_0000
        let dbm: UInt64 = 1 << 51
        t.map(va, to: pa, attrs: PT4K.af | PT4K.innerShareable | PT4K.apEL0 | PT4K.apReadOnly | PT4K.uxn | dbm)
        let cd = d.ram.base + 0x30_0000
        var words = CDWords.linux(asid: 1, ttb0: t.root)
        words.set(CD.Fields.hd)
        words.set(CD.Fields.ha)
        d.ram.writeWords(cd, words)
        d.writeSTE(sid: sid, STEWords.stage1(cdPointer: cd, eats: .full))
        #expect(d.submit([DriverCmd.cfgiSTE(sid)]))
        // Level-3 descriptor slot: walk the tables the builder wrote.
        var table = t.root
        for level in 0..<3 { table = d.ram.read64(table + PT4K.index(va, level: level) * 8) & 0x0000_FFFF_FFFF_F000 }
        let leaf = table + PT4K.index(va, level: 3) * 8
        guard case .translated(let ro) = d.smmu.translate(request(va)) else { Issue.record("NW=1 translates"); return }
        #expect(!ro.permissions.allows(.write))
        #expect(d.ram.read64(leaf) & PT4K.apReadOnly != 0)
        guard case .translated(let rw) = d.smmu.translate(request(va, write: true)) else {
            Issue.record("NW=0 translates"); return
        }
        #expect(rw.permissions.allows(.write))
        #expect(d.ram.read64(leaf) & PT4K.apReadOnly == 0)
    }
}
