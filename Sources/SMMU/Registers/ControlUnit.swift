import Synchronization

/// The register file, command/event/PRI queues, GERROR and interrupts.
/// STUB: to be replaced by the register/queue implementation.
final class ControlUnit: EventSink, @unchecked Sendable {
    let configuration: SMMUConfiguration
    let memory: any GuestMemory
    let host: any HostSignals
    weak var caches: (any CacheMaintenance)?
    private let state = Mutex(ControlState())

    init(configuration: SMMUConfiguration, memory: any GuestMemory, host: any HostSignals) {
        self.configuration = configuration; self.memory = memory; self.host = host
    }

    var controlState: ControlState { state.withLock { $0 } }
    func record(_ event: EventRecord) -> Bool { false }
    func read(offset: UInt64, size: Int) -> UInt64 { 0 }
    func write(offset: UInt64, size: Int, value: UInt64) -> MMIOWriteEffect { [] }
    func processCommands() {}
    func pageRequest(_ request: PageRequest) -> PageRequestOutcome { .dropped }
    func reset() {}
    /// Allocates a stall tag for a stalled transaction (nil: cannot stall).
    func allocateStall(streamID: UInt32) -> UInt16? { nil }
}
