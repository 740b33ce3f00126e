import Testing
@testable import SMMU

@Suite struct EventQueueTests {
    // Golden words built from the record layouts of IHI 0070 7.3.

    @Test func translationFaultEncoding() {
        var e = EventRecord(type: .F_TRANSLATION, streamID: 0x1234, substreamID: 0x5_6789)
        e.stall = true; e.stag = 0xBEEF; e.read = true; e.instruction = true; e.privileged = true
        e.stage2 = true; e.faultClass = .tableWalk
        e.inputAddress = 0xFFFF_0000_DEAD_B000; e.ipa = 0x12_3456_7ABC
        let w = e.encode()
        // type 0x10 [7:0], SSV [11], SubstreamID [31:12], StreamID [63:32]
        #expect(w.0 == 0x10 | 1 << 11 | 0x5_6789 << 12 | 0x1234 << 32)
        // STAG [79:64], Stall [95], PnU [97], InD [98], RnW [99], S2 [103], CLASS 0b01 [105:104]
        #expect(w.1 == 0xBEEF | 1 << 31 | 1 << 33 | 1 << 34 | 1 << 35 | 1 << 39 | 1 << 40)
        #expect(w.2 == 0xFFFF_0000_DEAD_B000)
        #expect(w.3 == 0x12_3456_7000)            // IPA [55:12]
    }

    @Test func permissionFaultWithoutStallOrStageTwo() {
        var e = EventRecord(type: .F_PERMISSION, streamID: 7)
        e.read = false; e.faultClass = .input; e.inputAddress = 0x4000; e.ipa = 0x9999_9000
        let w = e.encode()
        #expect(w.0 == 0x13 | 7 << 32)
        #expect(w.1 == 0b10 << 40)                 // CLASS IN, write, no stall
        #expect(w.2 == 0x4000 && w.3 == 0)         // IPA only valid with S2
    }

    @Test func fetchAndConfigurationEvents() {
        var f = EventRecord(type: .F_STE_FETCH, streamID: 0x42)
        f.fetchAddress = 0x8000_1237; f.extra = 0x5
        let w = f.encode()
        #expect(w.0 == 0x03 | 0x42 << 32 && w.1 == 0x5 && w.3 == 0x8000_1230)   // FetchAddr [55:3]

        var walk = EventRecord(type: .F_WALK_EABT, streamID: 1, substreamID: 2)
        walk.read = true; walk.faultClass = .tableWalk; walk.inputAddress = 0x1000; walk.fetchAddress = 0x4000_0008
        let ww = walk.encode()
        #expect(ww.0 == 0x0B | 1 << 11 | 2 << 12 | 1 << 32)
        #expect(ww.1 == 1 << 35 | 1 << 40 && ww.2 == 0x1000 && ww.3 == 0x4000_0008)

        // C_BAD_SUBSTREAMID has no SSV bit: the SubstreamID is always valid (7.3.9).
        let b = EventRecord(type: .C_BAD_SUBSTREAMID, streamID: 3, substreamID: 9).encode()
        #expect(b.0 == 0x08 | 9 << 12 | 3 << 32 && b.1 == 0 && b.2 == 0 && b.3 == 0)
        // F_STREAM_DISABLED carries only the StreamID (7.3.7).
        let d = EventRecord(type: .F_STREAM_DISABLED, streamID: 3, substreamID: 9).encode()
        #expect(d.0 == 0x06 | 3 << 32)
        // F_TRANSL_FORBIDDEN (7.3.8) is checked where the model records it:
        // TranslatedTrafficTests.
        let c = EventRecord(type: .C_BAD_STREAMID, streamID: 0xFFFF_FFFF).encode()
        #expect(c.0 == 0xFFFF_FFFF_0000_0002)
    }

    // Positions cross-checked against Linux arm-smmu-v3.h: EVTQ_1_STAG =
    // GENMASK_ULL(15, 0), EVTQ_1_STALL = bit 31, EVTQ_1_PnU/InD/RnW = bits
    // 33/34/35, EVTQ_1_S2 = bit 39, EVTQ_1_CLASS = GENMASK_ULL(41, 40),
    // EVTQ_1_TT_READ = bit 44, EVTQ_3_IPA = GENMASK_ULL(51, 12).
    @Test func ttrnwOnlyInPermissionFaultsWithClassTT() {
        // 7.3.16: TTRnW is defined for F_PERMISSION and valid when CLASS == TT;
        // Linux reads EVTQ_1_TT_READ only for EVT_ID_PERMISSION_FAULT.
        var p = EventRecord(type: .F_PERMISSION, streamID: 1)
        p.stage2 = true; p.faultClass = .tableWalk; p.extra = 1; p.ipa = 0x8000_0000
        #expect(p.encode().1 == 1 << 35 | 1 << 39 | 1 << 40 | 1 << 44)
        // Not in F_ACCESS (7.3.15 defines no TTRnW: the bit is RES0).
        var a = p
        a.type = .F_ACCESS
        #expect(a.encode().1 == 1 << 35 | 1 << 39 | 1 << 40)
        // Not when CLASS != TT.
        var q = p
        q.faultClass = .input
        #expect(q.encode().1 == 1 << 35 | 1 << 39 | 0b10 << 40)
    }

    @Test func instructionBitIsZeroForWrites() {
        // 7.3.13: "InD == 0 when RnW == 0".
        var e = EventRecord(type: .F_TRANSLATION, streamID: 1)
        e.read = false; e.instruction = true; e.privileged = true
        #expect(e.encode().1 == 1 << 33 | 0b10 << 40)
    }

    // E_PAGE_REQUEST (7.3.19) is a device-specific hint the model has no
    // source for; PipelinePRITests checks that PCIe page requests never
    // become one.

    /// Event queue of 2^log2 entries at `eventq`, enabled.
    func harness(log2: UInt64 = 2, irq: Bool = true, msi: UInt64 = 0) -> ControlHarness {
        let h = ControlHarness()
        h.write(Off.EVENTQ_BASE, ControlHarness.eventq | log2, 8)
        h.write(Off.EVENTQ_IRQ_CFG0, msi, 8); h.write(Off.EVENTQ_IRQ_CFG1, 0x77)
        h.write(Off.IRQ_CTRL, irq ? 0x4 : 0)
        h.write(Off.CR0, 0x4)
        return h
    }

    @Test func recordsAreWrittenAtPRODWithOneInterrupt() {
        let h = harness()
        var e = EventRecord(type: .F_TRANSLATION, streamID: 9)
        e.inputAddress = 0xABC000
        #expect(h.unit.record(e))
        #expect(h.unit.record(e))
        #expect(h.read(Off.EVENTQ_PROD) == 2)
        let slot1 = ControlHarness.eventq + 32
        #expect(h.ram64(slot1) == 0x10 | 9 << 32 && h.ram64(slot1 + 16) == 0xABC000)
        // One interrupt for the batch: the queue was already non-empty for the second.
        #expect(h.host.interrupts == [.eventQueue])
        // Software consumes everything: re-armed, next record interrupts again.
        h.write(Off.EVENTQ_CONS, 2)
        #expect(h.unit.record(e))
        #expect(h.host.interrupts == [.eventQueue, .eventQueue])
        // Consuming only part: the rest must not be stranded.
        #expect(h.unit.record(e))
        h.write(Off.EVENTQ_CONS, 3)
        #expect(h.host.interrupts.count == 3)
    }

    @Test func msiWhenConfigured() {
        let h = harness(msi: ControlHarness.msiTarget)
        #expect(h.unit.record(EventRecord(type: .C_BAD_STE, streamID: 1)))
        #expect(h.host.interrupts.isEmpty)
        #expect(h.host.msis.first.map { $0.address == ControlHarness.msiTarget && $0.data == 0x77 } == true)
    }

    @Test func disabledQueueRecordsNothing() {
        let h = ControlHarness()
        #expect(!h.unit.record(EventRecord(type: .C_BAD_STE, streamID: 1)))
        #expect(h.read(Off.EVENTQ_PROD) == 0)
    }

    @Test func overflowAndAcknowledge() {
        let h = harness(log2: 1)                       // 2 entries
        let e = EventRecord(type: .C_BAD_STE, streamID: 1)
        #expect(h.unit.record(e) && h.unit.record(e))
        #expect(h.read(Off.EVENTQ_PROD) == 0x2)        // full: index 0, wrap 1
        #expect(!h.unit.record(e))                     // lost: OVFLG toggles (7.4)
        #expect(h.read(Off.EVENTQ_PROD) == 1 << 31 | 0x2)
        #expect(!h.unit.record(e))                     // still full: OVFLG stays
        #expect(h.read(Off.EVENTQ_PROD) == 1 << 31 | 0x2)
        // Software drains one entry without acknowledging: records resume
        // (an active event-queue overflow does not inhibit writes).
        h.write(Off.EVENTQ_CONS, 1)
        #expect(h.unit.record(e))
        #expect(h.read(Off.EVENTQ_PROD) == 1 << 31 | 0x3)
        // Acknowledge: OVACKFLG = OVFLG; a later overflow toggles OVFLG again.
        h.write(Off.EVENTQ_CONS, 1 << 31 | 0x3)
        #expect(h.unit.record(e) && h.unit.record(e))
        #expect(!h.unit.record(e))
        #expect(h.read(Off.EVENTQ_PROD) & (1 << 31) == 0)
    }

    @Test func abortingQueueIsEVENTQ_ABT_ERR() {
        let h = ControlHarness()
        h.write(Off.EVENTQ_BASE, 0x2_0000_0000 | 2, 8)  // no RAM
        h.write(Off.IRQ_CTRL, 0x1)                      // GERROR interrupt, wired
        h.write(Off.CR0, 0x4)
        #expect(!h.unit.record(EventRecord(type: .C_BAD_STE, streamID: 1)))
        #expect(h.read(Off.GERROR) == 1 << 2)
        #expect(h.host.interrupts == [.globalError])
        // While active, nothing more is written or raised.
        #expect(!h.unit.record(EventRecord(type: .C_BAD_STE, streamID: 1)))
        #expect(h.host.interrupts == [.globalError])
    }

    @Test func gerrorInterruptUsesMSIWhenConfigured() {
        let h = ControlHarness()
        h.write(Off.GERROR_IRQ_CFG0, ControlHarness.msiTarget | 0x3, 8)
        h.write(Off.GERROR_IRQ_CFG1, 0x99)
        h.write(Off.IRQ_CTRL, 0x1)
        h.write(Off.CMDQ_BASE, ControlHarness.cmdq | 2, 8)
        h.write(Off.CR0, 0x8)
        h.submit([(0xFF, 0)], log2: 2)
        #expect(h.read(Off.GERROR_IRQ_CFG0, 8) == ControlHarness.msiTarget)   // ADDR [51:2]
        #expect(h.host.msis.first.map { $0.address == ControlHarness.msiTarget && $0.data == 0x99 } == true)
        #expect(h.host.interrupts.isEmpty)
    }

    /// 6.3.95: EVENTQ_PROD, OVFLG [31] included, is RW while EVENTQEN == 0
    /// and RO while it is 1.
    @Test func prodOVFLGIsWritableWhileTheQueueIsDisabled_6_3_95() {
        let h = ControlHarness()
        h.write(Off.EVENTQ_BASE, ControlHarness.eventq | 1, 8)
        h.write(Off.EVENTQ_PROD, 1 << 31 | 1)
        #expect(h.read(Off.EVENTQ_PROD) == 1 << 31 | 1)
        h.write(Off.CR0, 0x4)
        h.write(Off.EVENTQ_PROD, 0)
        #expect(h.read(Off.EVENTQ_PROD) == 1 << 31 | 1)
        // After an overflow, disable and reset PROD = CONS = 0: no overflow left.
        let e = EventRecord(type: .C_BAD_STE, streamID: 1)
        #expect(h.unit.record(e))
        #expect(!h.unit.record(e))                                  // full
        h.write(Off.CR0, 0)
        h.write(Off.EVENTQ_PROD, 0); h.write(Off.EVENTQ_CONS, 0)
        #expect(h.read(Off.EVENTQ_PROD) == 0)
    }

    /// 7.2.2: a write of the queue that aborts is EVENTQ_ABT_ERR. A stall
    /// record is held rather than lost (losing it is permitted, keeping it is
    /// too): once software has fixed the queue and acknowledged the error,
    /// the record is written and the transaction was stalled all along.
    @Test func stallRecordSurvivesAQueueAbort_7_2_2() {
        let h = ControlHarness()
        h.write(Off.EVENTQ_BASE, 0x2_0000_0000 | 2, 8)             // no RAM
        h.write(Off.CR0, 0x1 | 0x4)
        guard let s = h.unit.stall(EventRecord(type: .F_TRANSLATION, streamID: 4)) else {
            Issue.record("expected a stall"); return
        }
        #expect(!s.recorded)
        #expect(h.read(Off.GERROR) == 1 << 2 && h.read(Off.EVENTQ_PROD) == 0)
        h.write(Off.CR0, 0x1)
        h.write(Off.EVENTQ_BASE, ControlHarness.eventq | 2, 8)
        h.write(Off.GERRORN, h.read(Off.GERROR))
        #expect(h.read(Off.EVENTQ_PROD) == 0)                      // still disabled
        h.write(Off.CR0, 0x1 | 0x4)
        #expect(h.read(Off.EVENTQ_PROD) == 1)
        #expect(h.ram64(ControlHarness.eventq) == 0x10 | 4 << 32)
        #expect(h.ram64(ControlHarness.eventq + 8) & 0xFFFF_FFFF == UInt64(s.stag) | 1 << 31)   // STAG [79:64], Stall [95]
        #expect(h.host.stalls.isEmpty)
    }
}
