import Testing
import Synchronization
@testable import SMMU

/// A host that records WFE wake-up events and MSI attempts, and terminates
/// MSIs to chosen addresses with abort.
final class AbortingHost: HostSignals, @unchecked Sendable {
    struct Log {
        var interrupts: [SMMUInterruptLine] = []
        var msis: [(address: UInt64, data: UInt32)] = []
        var events = 0
        /// CMDQ_CONS as read from inside sendEvent().
        var consAtEvent: [UInt64] = []
    }
    let log = Locked(Log())
    let aborting: Set<UInt64>
    let readCONS = Locked<(@Sendable () -> UInt64)?>(nil)
    init(aborting: Set<UInt64> = []) { self.aborting = aborting }

    func raiseInterrupt(_ line: SMMUInterruptLine) { log.withLock { $0.interrupts.append(line) } }
    func writeMSI(address: PhysicalAddress, data: UInt32) { log.withLock { $0.msis.append((address.raw, data)) } }
    func deliverMSI(address: PhysicalAddress, data: UInt32) -> Bool {
        log.withLock { $0.msis.append((address.raw, data)) }
        return !aborting.contains(address.raw)
    }
    func sendEvent() {
        let cons = readCONS.withLock { $0 }?() ?? 0
        log.withLock { $0.events += 1; $0.consAtEvent.append(cons) }
    }
    func invalidate(_ invalidation: HostInvalidation) {}
    func synchronize() -> Bool { true }
    func deliverPageResponse(_ response: PageResponse) {}
    func resolveStall(streamID: UInt32, stag: UInt16, retry: Bool) {}

    var events: Int { log.withLock { $0.events } }
    var interrupts: [SMMUInterruptLine] { log.withLock { $0.interrupts } }
    var msiAddresses: [UInt64] { log.withLock { $0.msis.map(\.address) } }
}

/// ControlHarness's layout with an AbortingHost.
final class SignalHarness: @unchecked Sendable {
    let ram: UnsafeMutableRawPointer
    let memory = RegionGuestMemory()
    let host: AbortingHost
    let unit: ControlUnit

    init(_ configuration: SMMUConfiguration = .init(), aborting: Set<UInt64> = []) {
        ram = UnsafeMutableRawPointer.allocate(byteCount: ControlHarness.ramSize, alignment: 4096)
        ram.initializeMemory(as: UInt8.self, repeating: 0, count: ControlHarness.ramSize)
        try! memory.add(.init(guestAddress: PhysicalAddress(ControlHarness.ramBase), size: UInt64(ControlHarness.ramSize), host: ram))
        host = AbortingHost(aborting: aborting)
        unit = ControlUnit(configuration: configuration, memory: memory, host: host)
        // Weak: the unit holds the host, so a strong capture is a cycle
        // that leaks both (LeakSanitizer, make test-sanitizers).
        let unit = self.unit
        host.readCONS.withLock { $0 = { [weak unit] in unit?.read(offset: Off.CMDQ_CONS, size: 4) ?? 0 } }
    }
    deinit { ram.deallocate() }

    func read(_ offset: UInt64) -> UInt64 { unit.read(offset: offset, size: 4) }
    func write(_ offset: UInt64, _ value: UInt64, _ size: Int = 4) {
        _ = unit.write(offset: offset, size: size, value: value)
    }

    /// Command queue of 2^log2 entries, SMMUEN and CMDQEN set.
    func enableCommandQueue(log2: UInt64) {
        write(Off.CMDQ_BASE, ControlHarness.cmdq | log2, 8)
        write(Off.CR0, 0x1 | 0x8)
    }

    /// Writes `commands` at PROD and moves PROD, without running the queue.
    func produce(_ commands: [(UInt64, UInt64)], log2: UInt64) {
        var prod = UInt32(read(Off.CMDQ_PROD))
        let mask = UInt32((1 << (log2 + 1)) - 1), entries = UInt32(1 << log2)
        for c in commands {
            let slot = PhysicalAddress(ControlHarness.cmdq + UInt64(prod & (entries - 1)) * 16)
            _ = memory.write64(at: slot, c.0); _ = memory.write64(at: slot + 8, c.1)
            prod = (prod + 1) & mask
        }
        write(Off.CMDQ_PROD, UInt64(prod))
    }

    var activeGlobalErrors: UInt64 { read(Off.GERROR) ^ read(Off.GERRORN) }
}

/// IDR0.SEV: WFE wake-up events (IHI 0070 4.1.2, 4.7.3).
@Suite struct WakeUpEventTests {
    @Test func syncWithSigSEVSendsAnEventAfterItIsConsumed() {
        // 4.7.3: SIG_SEV "sends an Event to the PE similar to SEV"; observation of
        // the event means that the consumption of the CMD_SYNC is observable.
        let h = SignalHarness()
        h.enableCommandQueue(log2: 4)
        h.produce([Cmd.tlbi(0x30), Cmd.sync(cs: 0b10)], log2: 4)
        h.unit.processCommands()
        #expect(h.read(Off.CMDQ_CONS) == 2)
        #expect(h.host.events == 1)
        #expect(h.host.log.withLock { $0.consAtEvent } == [2])
        #expect(h.host.interrupts.isEmpty && h.host.msiAddresses.isEmpty)
    }

    @Test func sigSEVWithoutIDR0SEVIsSigNone() {
        // 4.7.3: with SMMU_IDR0.SEV == 0, SIG_SEV is equivalent to SIG_NONE.
        var c = SMMUConfiguration(); c.sev = false
        let h = SignalHarness(c)
        h.enableCommandQueue(log2: 4)
        h.produce([Cmd.sync(cs: 0b10)], log2: 4)
        h.unit.processCommands()
        #expect(h.read(Off.CMDQ_CONS) == 1)
        #expect(h.host.events == 0)
    }

    @Test func otherCompletionSignalsSendNoEvent() {
        let h = SignalHarness()
        h.enableCommandQueue(log2: 4)
        h.produce([Cmd.sync(cs: 0b00), Cmd.sync(cs: 0b01), Cmd.tlbi(0x30)], log2: 4)
        h.unit.processCommands()
        #expect(h.read(Off.CMDQ_CONS) == 3)
        #expect(h.host.events == 0)
    }

    @Test func queueThatStopsBeingFullSendsAnEvent() {
        // 4.1.2: with IDR0.SEV == 1, a WFE wake-up event when the Command queue
        // becomes non-full and an agent could have observed it full.
        let h = SignalHarness()
        h.enableCommandQueue(log2: 1)
        h.produce([Cmd.tlbi(0x30), Cmd.tlbi(0x30)], log2: 1)   // PROD = 0b10, CONS = 0: full
        h.unit.processCommands()
        #expect(h.read(Off.CMDQ_CONS) == 0b10)
        #expect(h.host.events == 1)
        // The event follows the CONS move that made room.
        #expect(h.host.log.withLock { $0.consAtEvent } == [1])
    }

    @Test func queueThatWasNeverFullSendsNoEvent() {
        let h = SignalHarness()
        h.enableCommandQueue(log2: 2)
        h.produce([Cmd.tlbi(0x30), Cmd.tlbi(0x30), Cmd.tlbi(0x30)], log2: 2)
        h.unit.processCommands()
        #expect(h.read(Off.CMDQ_CONS) == 3)
        #expect(h.host.events == 0)
    }

    @Test func fullQueueWithoutIDR0SEVSendsNoEvent() {
        var c = SMMUConfiguration(); c.sev = false
        let h = SignalHarness(c)
        h.enableCommandQueue(log2: 1)
        h.produce([Cmd.tlbi(0x30), Cmd.tlbi(0x30)], log2: 1)
        h.unit.processCommands()
        #expect(h.host.events == 0)
    }

    @Test func defaultHostSignalsIgnoreEventsAndReportMSIsDelivered() {
        // Conformers that predate sendEvent/deliverMSI keep working.
        final class Old: HostSignals, @unchecked Sendable {
            let msis = Locked(0)
            func raiseInterrupt(_ line: SMMUInterruptLine) {}
            func writeMSI(address: PhysicalAddress, data: UInt32) { msis.withLock { $0 += 1 } }
            func invalidate(_ invalidation: HostInvalidation) {}
            func synchronize() -> Bool { true }
            func deliverPageResponse(_ response: PageResponse) {}
            func resolveStall(streamID: UInt32, stag: UInt16, retry: Bool) {}
        }
        let old = Old()
        let host: any HostSignals = old
        host.sendEvent()
        #expect(host.deliverMSI(address: 0x1000, data: 1))
        #expect(old.msis.withLock { $0 } == 1)
    }
}

/// GERROR.MSI_*_ABT_ERR (IHI 0070 6.3.19, 7.5, 3.18.1).
@Suite struct MSIAbortTests {
    static let bad: UInt64 = 0x9000_0000        // the host aborts MSIs here
    static let gerrorMSI: UInt64 = ControlHarness.msiTarget + 0x40

    static let MSI_CMDQ_ABT_ERR: UInt64 = 1 << 4, MSI_EVENTQ_ABT_ERR: UInt64 = 1 << 5
    static let MSI_PRIQ_ABT_ERR: UInt64 = 1 << 6, MSI_GERROR_ABT_ERR: UInt64 = 1 << 7
    static let CMDQ_ERR: UInt64 = 1 << 0

    /// The interrupts other than the wired CMD_SYNC line, which every
    /// SIG_IRQ CMD_SYNC raises "regardless of MSIAddress" (3.18, 4.7.3).
    func nonSyncInterrupts(_ h: SignalHarness) -> [SMMUInterruptLine] {
        h.host.interrupts.filter { $0 != .commandSync }
    }

    /// GERROR interrupt enabled, as a wired line (GERROR_IRQ_CFG0.ADDR == 0) or an MSI.
    func enableGERRORInterrupt(_ h: SignalHarness, msi: UInt64 = 0) {
        h.write(Off.GERROR_IRQ_CFG0, msi, 8); h.write(Off.GERROR_IRQ_CFG1, 0x99)
        h.write(Off.IRQ_CTRL, h.read(Off.IRQ_CTRL) | 0x1)
    }

    @Test func abortedSyncMSIActivatesMSI_CMDQ_ABT_ERR() {
        let h = SignalHarness(aborting: [Self.bad])
        enableGERRORInterrupt(h)
        h.enableCommandQueue(log2: 4)
        h.produce([Cmd.sync(cs: 0b01, msiData: 7, msiAddress: Self.bad)], log2: 4)
        h.unit.processCommands()
        #expect(h.host.msiAddresses == [Self.bad])
        #expect(h.activeGlobalErrors == Self.MSI_CMDQ_ABT_ERR)
        // The GERROR interrupt signals the new error (7.5.1); the wired
        // CMD_SYNC line fires whatever happened to the MSI (3.18).
        #expect(nonSyncInterrupts(h) == [.globalError])
        #expect(h.host.interrupts.contains(.commandSync))
        // The CMD_SYNC itself is consumed; commands go on (the abort is not CMDQ_ERR).
        #expect(h.read(Off.CMDQ_CONS) == 1)
        // Activation does not affect future MSIs (6.3.19).
        h.produce([Cmd.sync(cs: 0b01, msiData: 8, msiAddress: ControlHarness.msiTarget)], log2: 4)
        h.unit.processCommands()
        #expect(h.host.msiAddresses == [Self.bad, ControlHarness.msiTarget])
        #expect(h.read(Off.CMDQ_CONS) == 2)
    }

    @Test func anErrorAlreadyActiveIsNotActivatedAgain() {
        let h = SignalHarness(aborting: [Self.bad])
        enableGERRORInterrupt(h)
        h.enableCommandQueue(log2: 4)
        h.produce([Cmd.sync(cs: 0b01, msiAddress: Self.bad), Cmd.sync(cs: 0b01, msiAddress: Self.bad)], log2: 4)
        h.unit.processCommands()
        #expect(h.read(Off.GERROR) == Self.MSI_CMDQ_ABT_ERR)
        #expect(nonSyncInterrupts(h) == [.globalError])
        // Acknowledged: the next abort activates it again.
        h.write(Off.GERRORN, Self.MSI_CMDQ_ABT_ERR)
        h.produce([Cmd.sync(cs: 0b01, msiAddress: Self.bad)], log2: 4)
        h.unit.processCommands()
        #expect(h.activeGlobalErrors == Self.MSI_CMDQ_ABT_ERR)
        #expect(nonSyncInterrupts(h) == [.globalError, .globalError])
    }

    @Test func abortedEventQueueMSIActivatesMSI_EVENTQ_ABT_ERR() {
        let h = SignalHarness(aborting: [Self.bad])
        enableGERRORInterrupt(h)
        h.write(Off.EVENTQ_BASE, ControlHarness.eventq | 2, 8)
        h.write(Off.EVENTQ_IRQ_CFG0, Self.bad, 8)
        h.write(Off.IRQ_CTRL, h.read(Off.IRQ_CTRL) | 0x4)
        h.write(Off.CR0, 0x4)
        #expect(h.unit.record(EventRecord(type: .F_TRANSLATION, streamID: 1)))
        #expect(h.host.msiAddresses == [Self.bad])
        #expect(h.activeGlobalErrors == Self.MSI_EVENTQ_ABT_ERR)
        #expect(h.host.interrupts == [.globalError])
        // The record itself was written.
        #expect(h.read(Off.EVENTQ_PROD) == 1)
    }

    @Test func abortedPRIQueueMSIActivatesMSI_PRIQ_ABT_ERR() {
        let h = SignalHarness(aborting: [Self.bad])
        enableGERRORInterrupt(h)
        h.write(Off.PRIQ_BASE, ControlHarness.priq | 2, 8)
        h.write(Off.PRIQ_IRQ_CFG0, Self.bad, 8)
        h.write(Off.IRQ_CTRL, h.read(Off.IRQ_CTRL) | 0x2)
        h.write(Off.CR0, 0x3)    // PRIQEN takes effect only with SMMUEN (6.3.9.5)
        let r = PageRequest(streamID: 3, address: 0x5000, read: true, write: false, last: true, prgIndex: 1)
        #expect(h.unit.pageRequest(r) == .queued)
        #expect(h.host.msiAddresses == [Self.bad])
        #expect(h.activeGlobalErrors == Self.MSI_PRIQ_ABT_ERR)
        #expect(h.host.interrupts == [.globalError])
    }

    @Test func abortedGERRORMSIActivatesMSI_GERROR_ABT_ERRWithoutAnInterrupt() {
        // 7.5.1: activating MSI_GERROR_ABT_ERR triggers no GERROR interrupt
        // (another MSI to the same address might abort again).
        let h = SignalHarness(aborting: [Self.gerrorMSI])
        enableGERRORInterrupt(h, msi: Self.gerrorMSI)
        h.enableCommandQueue(log2: 4)
        h.produce([(0x00, 0)], log2: 4)           // reserved opcode: CERROR_ILL, CMDQ_ERR
        h.unit.processCommands()
        #expect(h.activeGlobalErrors == Self.CMDQ_ERR | Self.MSI_GERROR_ABT_ERR)
        #expect(h.host.msiAddresses == [Self.gerrorMSI])   // one attempt, not retried
        #expect(h.host.interrupts.isEmpty)
    }

    @Test func abortedSyncMSIWithGERRORMSIThatAbortsToo() {
        // CMD_SYNC MSI aborts -> MSI_CMDQ_ABT_ERR -> GERROR MSI aborts ->
        // MSI_GERROR_ABT_ERR, and there it stops.
        let h = SignalHarness(aborting: [Self.bad, Self.gerrorMSI])
        enableGERRORInterrupt(h, msi: Self.gerrorMSI)
        h.enableCommandQueue(log2: 4)
        h.produce([Cmd.sync(cs: 0b01, msiAddress: Self.bad)], log2: 4)
        h.unit.processCommands()
        #expect(h.activeGlobalErrors == Self.MSI_CMDQ_ABT_ERR | Self.MSI_GERROR_ABT_ERR)
        #expect(h.host.msiAddresses == [Self.bad, Self.gerrorMSI])
        #expect(nonSyncInterrupts(h).isEmpty)
    }

    @Test func deliveredMSIsActivateNothing() {
        let h = SignalHarness(aborting: [Self.bad])
        enableGERRORInterrupt(h)
        h.enableCommandQueue(log2: 4)
        h.produce([Cmd.sync(cs: 0b01, msiData: 1, msiAddress: ControlHarness.msiTarget)], log2: 4)
        h.unit.processCommands()
        #expect(h.read(Off.GERROR) == 0 && nonSyncInterrupts(h).isEmpty)
    }
}

/// An automatic PRI response is delivered once: by the host signal, or
/// returned only when the caller delivers it itself.
@Suite struct PageResponseDeliveryTests {
    @Test func automaticResponseReturnedWithoutTheHostSignal() {
        let h = ControlHarness()   // PRIQEN = 0: every PPR gets Response Failure (8.2)
        let r = PageRequest(streamID: 4, address: 0x1000, read: true, write: false, last: true, prgIndex: 3)
        let expected = PageResponse(streamID: 4, substreamID: nil, prgIndex: 3, code: .failure)
        #expect(h.unit.pageRequest(r, deliverResponse: false) == .autoResponded(expected))
        #expect(h.host.responses.isEmpty)
        #expect(h.unit.pageRequest(r) == .autoResponded(expected))
        #expect(h.host.responses == [expected])
    }
}
