import Synchronization
@testable import SMMU

/// A HostSignals that records everything the model asks of the host.
final class RecordingHost: HostSignals, @unchecked Sendable {
    struct Log {
        var interrupts: [SMMUInterruptLine] = []
        var msis: [(address: UInt64, data: UInt32)] = []
        var invalidations: [HostInvalidation] = []
        var responses: [PageResponse] = []
        var stalls: [(streamID: UInt32, stag: UInt16, retry: Bool)] = []
        var syncs = 0
    }
    let log = Locked(Log())
    /// What synchronize() answers (false: an ATC invalidation failed).
    let syncResult = Locked(true)
    /// Called inside synchronize() (to block it in concurrency tests).
    let onSync = Locked<(@Sendable () -> Void)?>(nil)
    /// Called before an interrupt or MSI is logged (to look at the registers
    /// at the moment the signal becomes observable).
    let onSignal = Locked<(@Sendable () -> Void)?>(nil)

    func raiseInterrupt(_ line: SMMUInterruptLine) {
        onSignal.withLock { $0 }?()
        log.withLock { $0.interrupts.append(line) }
    }
    func writeMSI(address: PhysicalAddress, data: UInt32) {
        onSignal.withLock { $0 }?()
        log.withLock { $0.msis.append((address.raw, data)) }
    }
    func invalidate(_ invalidation: HostInvalidation) { log.withLock { $0.invalidations.append(invalidation) } }
    func synchronize() -> Bool {
        onSync.withLock { $0 }?()
        log.withLock { $0.syncs += 1 }
        return syncResult.withLock { $0 }
    }
    func deliverPageResponse(_ response: PageResponse) { log.withLock { $0.responses.append(response) } }
    func resolveStall(streamID: UInt32, stag: UInt16, retry: Bool) {
        log.withLock { $0.stalls.append((streamID, stag, retry)) }
    }

    var interrupts: [SMMUInterruptLine] { log.withLock { $0.interrupts } }
    var msis: [(address: UInt64, data: UInt32)] { log.withLock { $0.msis } }
    var invalidations: [HostInvalidation] { log.withLock { $0.invalidations } }
    var responses: [PageResponse] { log.withLock { $0.responses } }
    var stalls: [(streamID: UInt32, stag: UInt16, retry: Bool)] { log.withLock { $0.stalls } }
    var syncs: Int { log.withLock { $0.syncs } }
    func clear() { log.withLock { $0 = Log() } }
}

/// A CacheMaintenance that records the calls command processing makes.
final class RecordingCaches: CacheMaintenance, @unchecked Sendable {
    enum Call: Equatable {
        case streams(ClosedRange<UInt32>?)
        case contexts(streamID: UInt32, substreamID: UInt32?)
        case tlb(TLBScope)
        case prefetch(streamID: UInt32, substreamID: UInt32?)
    }
    let calls = Locked<[Call]>([])
    func invalidateStreams(_ range: ClosedRange<UInt32>?) { calls.withLock { $0.append(.streams(range)) } }
    func invalidateContexts(streamID: UInt32, substreamID: UInt32?) {
        calls.withLock { $0.append(.contexts(streamID: streamID, substreamID: substreamID)) }
    }
    func invalidateTLB(_ scope: TLBScope) { calls.withLock { $0.append(.tlb(scope)) } }
    func prefetchConfiguration(streamID: UInt32, substreamID: UInt32?) {
        calls.withLock { $0.append(.prefetch(streamID: streamID, substreamID: substreamID)) }
    }
    var all: [Call] { calls.withLock { $0 } }
    func clear() { calls.withLock { $0 = [] } }
}

/// Register offsets (IHI 0070 6.2), spelled out here rather than taken from
/// the model so the tests check the model's table.
enum Off {
    static let IDR0: UInt64 = 0x00, IDR1: UInt64 = 0x04, IDR2: UInt64 = 0x08, IDR3: UInt64 = 0x0C
    static let IDR4: UInt64 = 0x10, IDR5: UInt64 = 0x14, IIDR: UInt64 = 0x18, AIDR: UInt64 = 0x1C
    static let CR0: UInt64 = 0x20, CR0ACK: UInt64 = 0x24, CR1: UInt64 = 0x28, CR2: UInt64 = 0x2C
    static let STATUSR: UInt64 = 0x40, GBPA: UInt64 = 0x44, IRQ_CTRL: UInt64 = 0x50, IRQ_CTRLACK: UInt64 = 0x54
    static let GERROR: UInt64 = 0x60, GERRORN: UInt64 = 0x64
    static let GERROR_IRQ_CFG0: UInt64 = 0x68, GERROR_IRQ_CFG1: UInt64 = 0x70, GERROR_IRQ_CFG2: UInt64 = 0x74
    static let STRTAB_BASE: UInt64 = 0x80, STRTAB_BASE_CFG: UInt64 = 0x88
    static let CMDQ_BASE: UInt64 = 0x90, CMDQ_PROD: UInt64 = 0x98, CMDQ_CONS: UInt64 = 0x9C
    static let EVENTQ_BASE: UInt64 = 0xA0, EVENTQ_PROD: UInt64 = 0x100A8, EVENTQ_CONS: UInt64 = 0x100AC
    static let EVENTQ_IRQ_CFG0: UInt64 = 0xB0, EVENTQ_IRQ_CFG1: UInt64 = 0xB8, EVENTQ_IRQ_CFG2: UInt64 = 0xBC
    static let PRIQ_BASE: UInt64 = 0xC0, PRIQ_PROD: UInt64 = 0x100C8, PRIQ_CONS: UInt64 = 0x100CC
    static let PRIQ_IRQ_CFG0: UInt64 = 0xD0, PRIQ_IRQ_CFG1: UInt64 = 0xD8, PRIQ_IRQ_CFG2: UInt64 = 0xDC
}

/// A ControlUnit over 1 MiB of RAM at `ramBase`, with recording doubles.
final class ControlHarness: @unchecked Sendable {
    static let ramBase: UInt64 = 0x8000_0000
    static let ramSize = 1 << 20
    let ram: UnsafeMutableRawPointer
    let memory = RegionGuestMemory()
    let host = RecordingHost()
    let caches = RecordingCaches()
    let unit: ControlUnit

    // Queue placement inside RAM.
    static let cmdq: UInt64 = ramBase + 0x1_0000
    static let eventq: UInt64 = ramBase + 0x2_0000
    static let priq: UInt64 = ramBase + 0x3_0000
    static let msiTarget: UInt64 = ramBase + 0x4_0000

    init(_ configuration: SMMUConfiguration = .init()) {
        ram = UnsafeMutableRawPointer.allocate(byteCount: Self.ramSize, alignment: 4096)
        ram.initializeMemory(as: UInt8.self, repeating: 0, count: Self.ramSize)
        try! memory.add(.init(guestAddress: PhysicalAddress(Self.ramBase), size: UInt64(Self.ramSize), host: ram))
        unit = ControlUnit(configuration: configuration, memory: memory, host: host)
        unit.caches = caches
    }
    deinit { ram.deallocate() }

    func read(_ offset: UInt64, _ size: Int = 4) -> UInt64 { unit.read(offset: offset, size: size) }
    @discardableResult
    func write(_ offset: UInt64, _ value: UInt64, _ size: Int = 4) -> MMIOWriteEffect {
        unit.write(offset: offset, size: size, value: value)
    }

    func ram64(_ address: UInt64) -> UInt64 { memory.read64(at: PhysicalAddress(address)) ?? 0xDEAD }
    func setRAM64(_ address: UInt64, _ value: UInt64) { memory.write64(at: PhysicalAddress(address), value) }

    /// Programs a command queue of 2^log2 entries at `cmdq` and enables it.
    func enableCommandQueue(log2: UInt64 = 4) {
        write(Off.CMDQ_BASE, Self.cmdq | log2, 8)
        write(Off.CMDQ_PROD, 0); write(Off.CMDQ_CONS, 0)
        write(Off.CR0, read(Off.CR0) | 0x8)
    }

    /// Writes commands at PROD, moves PROD and runs the queue.
    func submit(_ commands: [(UInt64, UInt64)], log2: UInt64 = 4) {
        var prod = UInt32(read(Off.CMDQ_PROD))
        let mask = UInt32((1 << (log2 + 1)) - 1), entries = UInt32(1 << log2)
        for c in commands {
            let slot = Self.cmdq + UInt64(prod & (entries - 1)) * 16
            setRAM64(slot, c.0); setRAM64(slot + 8, c.1)
            prod = (prod + 1) & mask
        }
        let effect = write(Off.CMDQ_PROD, UInt64(prod))
        if effect.contains(.commandsPending) { unit.processCommands() }
    }
}

/// Command encodings built from the field tables of IHI 0070 chapter 4.
/// Commands for the control-unit tests, written through `Command.Fields`.
/// Opcodes and small encodings are taken raw so a test can also give ones
/// the model must refuse.
enum Cmd {
    private typealias F = Command.Fields

    private static func words(_ opcode: UInt64, _ build: (inout [UInt64]) -> Void) -> (UInt64, UInt64) {
        var w: [UInt64] = [0, 0]
        w.setRaw(F.opcode, opcode)
        build(&w)
        return (w[0], w[1])
    }
    /// Word 0 of a command with a StreamID and a SubstreamID.
    static func op(_ opcode: UInt64, sid: UInt64 = 0, ssid: UInt64 = 0, ssv: Bool = false) -> UInt64 {
        words(opcode) {
            $0.set(F.ssv, ssv)
            $0.setRaw(F.substreamID, ssid)
            $0.setRaw(F.streamID, sid)
        }.0
    }
    static func cfgiSTE(_ sid: UInt64) -> (UInt64, UInt64) {
        words(0x03) { $0.setRaw(F.streamID, sid); $0.set(F.leaf) }
    }
    static func cfgiSTERange(_ sid: UInt64, range: UInt64) -> (UInt64, UInt64) {
        words(0x04) { $0.setRaw(F.streamID, sid); $0.setRaw(F.range, range) }
    }
    static var cfgiAll: (UInt64, UInt64) { cfgiSTERange(0, range: 31) }
    static func cfgiCD(_ sid: UInt64, ssid: UInt64) -> (UInt64, UInt64) {
        words(0x05) { $0.setRaw(F.streamID, sid); $0.setRaw(F.substreamID, ssid); $0.set(F.leaf) }
    }
    static func cfgiCDAll(_ sid: UInt64) -> (UInt64, UInt64) { words(0x06) { $0.setRaw(F.streamID, sid) } }
    static func tlbi(_ opcode: UInt64, vmid: UInt64 = 0, asid: UInt64 = 0, num: UInt64 = 0, scale: UInt64 = 0,
                     address: UInt64 = 0, leaf: Bool = false, ttl: UInt64 = 0, tg: UInt64 = 0) -> (UInt64, UInt64) {
        words(opcode) {
            $0.setRaw(F.num, num)
            $0.setRaw(F.scale, scale)
            $0.setRaw(F.vmid, vmid)
            $0.setRaw(F.asid, asid)
            $0.set(F.leaf, leaf)
            $0.setRaw(F.ttl, ttl)
            $0.setRaw(F.tg, tg)
            $0.set(F.address, InputAddress(address))
        }
    }
    static func sync(cs: UInt64, msiData: UInt64 = 0, msiAddress: UInt64 = 0) -> (UInt64, UInt64) {
        words(0x46) {
            $0.setRaw(F.cs, cs)
            $0.setRaw(F.msiData, msiData)
            $0.set(F.msiAddress, PhysicalAddress(msiAddress))
        }
    }
}
