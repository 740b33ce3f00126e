import Testing
@testable import SMMU

@Suite struct PRIQueueTests {
    func harness(log2: UInt64 = 1, configuration: SMMUConfiguration = .init()) -> ControlHarness {
        let h = ControlHarness(configuration)
        h.write(Off.PRIQ_BASE, ControlHarness.priq | log2, 8)
        h.write(Off.IRQ_CTRL, 0x2)
        h.write(Off.CR0, 0x3)          // PRIQEN with SMMUEN: effective PRIQEN needs both (6.3.9.5)
        return h
    }

    @Test func recordFormat() {
        let h = harness()
        let r = PageRequest(streamID: 0x0102, substreamID: 0xA_BCDE, address: 0x7F12_3456_7FFF, read: true,
                            write: true, execute: true, privileged: true, last: true, prgIndex: 0x1FF)
        #expect(h.unit.pageRequest(r) == .queued)
        // StreamID [31:0], SubstreamID [51:32], Priv [58], Exec [59], Read [60], Write [61], Last [62], SSV [63];
        // PRGIndex [8:0], page address [63:12].
        #expect(h.ram64(ControlHarness.priq) == (0x0102 | 0xA_BCDE << 32 | 0xF << 58 | 1 << 62 | 1 << 63) as UInt64)
        #expect(h.ram64(ControlHarness.priq + 8) == 0x1FF | 0x7F12_3456_7000)
        #expect(h.read(Off.PRIQ_PROD) == 1)
        #expect(h.host.interrupts == [.priQueue])
        // A request without PASID: SSV clear.
        #expect(h.unit.pageRequest(PageRequest(streamID: 3, address: 0x5000, read: true, write: false,
                                               last: false, prgIndex: 2)) == .queued)
        #expect(h.ram64(ControlHarness.priq + 16) == 3 | 1 << 60)
    }

    /// 8.2: with PRIQEN == 0 nothing is written and every PPR gets an
    /// automatic Response Failure (0b1111) without a PASID prefix.
    @Test func disabledQueueDrops() {
        let h = ControlHarness()
        let failure = PageResponse(streamID: 1, substreamID: nil, prgIndex: 1, code: .failure)
        #expect(h.unit.pageRequest(PageRequest(streamID: 1, address: 0, read: true, write: false, last: true,
                                               prgIndex: 1)) == .autoResponded(failure))
        #expect(h.host.responses == [failure])
    }

    @Test func stopMarkersAreQueuedWithoutResponse() {
        let h = harness()
        let stop = PageRequest(streamID: 1, substreamID: 4, address: 0, read: false, write: false, last: true, prgIndex: 0)
        #expect(stop.isStopMarker)
        #expect(h.unit.pageRequest(stop) == .queued)
        #expect(h.ram64(ControlHarness.priq) == (1 | 4 << 32 | 1 << 62 | 1 << 63) as UInt64)
        #expect(h.host.responses.isEmpty)
    }

    /// IHI 0070 8.1, step by step.
    @Test func overflowExactlyAsSection8_1() {
        let h = harness(log2: 1)   // 2 entries
        func req(_ prg: UInt16, last: Bool, pasid: UInt32? = 7) -> PageRequest {
            PageRequest(streamID: 0x20, substreamID: pasid, address: InputAddress(0x1000 * UInt64(prg)), read: true,
                        write: false, last: last, prgIndex: prg)
        }
        #expect(h.unit.pageRequest(req(1, last: false)) == .queued)
        #expect(h.unit.pageRequest(req(1, last: true)) == .queued)
        #expect(h.read(Off.PRIQ_PROD) == 0x2)                       // full
        // The PPR that finds the queue full activates overflow (OVFLG toggles)
        // and, having L == 1, gets a Success auto-response with its PRGI and PASID.
        let first = PageResponse(streamID: 0x20, substreamID: 7, prgIndex: 2, code: .success)
        #expect(h.unit.pageRequest(req(2, last: true)) == .autoResponded(first))
        #expect(h.read(Off.PRIQ_PROD) == 1 << 31 | 0x2)
        // L == 0: silently ignored. Stop marker: discarded, no response.
        #expect(h.unit.pageRequest(req(3, last: false)) == .dropped)
        let stop = PageRequest(streamID: 0x20, substreamID: 7, address: 0, read: false, write: false, last: true, prgIndex: 0)
        #expect(h.unit.pageRequest(stop) == .dropped)
        // No PASID on the request: the response has none, still Success.
        let noPASID = PageResponse(streamID: 0x20, substreamID: nil, prgIndex: 4, code: .success)
        #expect(h.unit.pageRequest(req(4, last: true, pasid: nil)) == .autoResponded(noPASID))
        #expect(h.host.responses == [first, noPASID])
        // Software consumes the queue but does not acknowledge: overflow still
        // active, new entries are inhibited even with room.
        h.write(Off.PRIQ_CONS, 0x2)
        #expect(h.unit.pageRequest(req(5, last: false)) == .dropped)
        #expect(h.read(Off.PRIQ_PROD) == 1 << 31 | 0x2)
        // Acknowledge: OVACKFLG = OVFLG. Requests are written again.
        h.write(Off.PRIQ_CONS, 1 << 31 | 0x2)
        #expect(h.unit.pageRequest(req(6, last: false)) == .queued)
        #expect(h.read(Off.PRIQ_PROD) == 1 << 31 | 0x3)
        #expect(h.ram64(ControlHarness.priq + 8) == 6 | 0x6000)
    }

    @Test func withoutPASIDSupportTheSubstreamIsIgnored() {
        var c = SMMUConfiguration(); c.substreamIDBits = 0
        let h = harness(log2: 0, configuration: c)
        _ = h.unit.pageRequest(PageRequest(streamID: 1, address: 0, read: true, write: false, last: false, prgIndex: 1))
        let r = h.unit.pageRequest(PageRequest(streamID: 1, substreamID: 3, address: 0, read: true, write: false,
                                               last: true, prgIndex: 1))
        #expect(r == .autoResponded(PageResponse(streamID: 1, substreamID: nil, prgIndex: 1, code: .success)))
    }

    func ppr(_ prg: UInt16, last: Bool, pasid: UInt32? = 7) -> PageRequest {
        PageRequest(streamID: 0x20, substreamID: pasid, address: InputAddress(0x1000 * UInt64(prg)), read: true,
                    write: false, last: last, prgIndex: prg)
    }

    /// 6.3.9.5: "The effective value of PRIQEN is dependent on SMMUEN, however
    /// the value of SMMU_CR0ACK.PRIQEN is solely affected by the actual value";
    /// 8.2: with effective PRIQEN == 0 (SMMUEN == 0 implies it) no entry is
    /// written and every PPR gets an automatic Response Failure without PASID.
    @Test func smmuDisabledMakesTheEffectivePRIQENZero_6_3_9_5() {
        let h = ControlHarness()
        h.write(Off.PRIQ_BASE, ControlHarness.priq | 2, 8)
        h.write(Off.CR0, 0x2)                                      // PRIQEN, SMMUEN == 0
        #expect(h.read(Off.CR0ACK) == 0x2)
        let failure = PageResponse(streamID: 0x20, substreamID: nil, prgIndex: 1, code: .failure)
        #expect(h.unit.pageRequest(ppr(1, last: true)) == .autoResponded(failure))
        #expect(h.unit.pageRequest(ppr(2, last: false)) ==
                .autoResponded(PageResponse(streamID: 0x20, substreamID: nil, prgIndex: 2, code: .failure)))
        let stop = PageRequest(streamID: 0x20, substreamID: 7, address: 0, read: false, write: false, last: true, prgIndex: 0)
        #expect(h.unit.pageRequest(stop) == .dropped)               // no responses to stop markers
        #expect(h.read(Off.PRIQ_PROD) == 0 && h.ram64(ControlHarness.priq) == 0)
        // The PRIQ_* registers stay Guarded by the actual PRIQEN.
        h.write(Off.PRIQ_PROD, 3)
        #expect(h.read(Off.PRIQ_PROD) == 0)
        // SMMUEN set: the queue is written.
        h.write(Off.CR0, 0x3)
        #expect(h.unit.pageRequest(ppr(3, last: true)) == .queued)
        #expect(h.read(Off.PRIQ_PROD) == 1)
    }

    /// 6.3.97: PRIQ_PROD (OVFLG [31] and WR) is RW while PRIQEN == 0. After an
    /// overflow, software that disables the queue and rewrites PROD = CONS = 0
    /// (as a kexec'd kernel does) gets a queue without an overflow condition.
    @Test func prodOVFLGIsWritableWhileTheQueueIsDisabled_6_3_97() {
        let h = harness(log2: 1)
        _ = h.unit.pageRequest(ppr(1, last: false))
        _ = h.unit.pageRequest(ppr(1, last: true))
        _ = h.unit.pageRequest(ppr(2, last: true))                 // overflow
        #expect(h.read(Off.PRIQ_PROD) == 1 << 31 | 0x2)
        h.write(Off.CR0, 0x1)                                      // PRIQEN off
        h.write(Off.PRIQ_PROD, 0); h.write(Off.PRIQ_CONS, 0)
        #expect(h.read(Off.PRIQ_PROD) == 0 && h.read(Off.PRIQ_CONS) == 0)
        h.write(Off.PRIQ_PROD, 1 << 31 | 1)
        #expect(h.read(Off.PRIQ_PROD) == 1 << 31 | 1)
        h.write(Off.PRIQ_PROD, 0)
        h.write(Off.CR0, 0x3)
        #expect(h.unit.pageRequest(ppr(3, last: false)) == .queued)
        #expect(h.read(Off.PRIQ_PROD) == 1)
    }

    /// 6.3.36 PRIQ_IRQ_CFG2.LO == 1: "Send PRI queue interrupt when PRI message
    /// received with L bit set"; also "When the message is discarded because
    /// of a PRI queue overflow, the interrupt is generated."
    @Test func lastOnlyInterruptsForLastRequests_6_3_36() {
        let h = ControlHarness()
        h.write(Off.PRIQ_BASE, ControlHarness.priq | 2, 8)          // 4 entries
        h.write(Off.PRIQ_IRQ_CFG2, 1 << 31)
        #expect(h.read(Off.PRIQ_IRQ_CFG2) == 1 << 31)
        h.write(Off.IRQ_CTRL, 0x2)                                 // PRIQ_IRQEN, wired
        h.write(Off.CR0, 0x3)
        #expect(h.unit.pageRequest(ppr(1, last: false)) == .queued)
        #expect(h.host.interrupts.isEmpty)                         // empty -> non-empty, but L == 0
        #expect(h.unit.pageRequest(ppr(1, last: true)) == .queued)
        #expect(h.host.interrupts == [.priQueue])
        #expect(h.unit.pageRequest(ppr(2, last: true)) == .queued) // queue not empty: L == 1 still interrupts
        #expect(h.host.interrupts == [.priQueue, .priQueue])
        #expect(h.unit.pageRequest(ppr(3, last: false)) == .queued) // full now
        #expect(h.host.interrupts.count == 2)
        // Overflow: an L == 1 request discarded by it interrupts; L == 0 does not.
        #expect(h.unit.pageRequest(ppr(4, last: false)) == .dropped)
        #expect(h.host.interrupts.count == 2)
        #expect(h.unit.pageRequest(ppr(5, last: true)) ==
                .autoResponded(PageResponse(streamID: 0x20, substreamID: 7, prgIndex: 5, code: .success)))
        #expect(h.host.interrupts.count == 3)
    }
}
