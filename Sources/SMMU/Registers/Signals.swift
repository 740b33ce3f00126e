/// An interrupt decided under the register lock and delivered after it is
/// released (host calls never run under the lock).
enum InterruptSignal: Sendable, Equatable {
    case wired(SMMUInterruptLine)
    /// `source`: whose MSI it is (an abort activates that source's MSI_*_ABT_ERR).
    case msi(address: PhysicalAddress, data: UInt32, source: SMMUInterruptLine)
}

/// Everything a register access or queue write asks of the host, collected
/// under the lock. Fixed size: no allocation on the event path.
struct PendingSignals: Sendable {
    var first: InterruptSignal?
    var second: InterruptSignal?
    var third: InterruptSignal?
    /// SMMUEN or GBPA changed: host-side caches of bypass/translations are stale.
    var invalidateAll = false
    var effect: MMIOWriteEffect = []
    /// Stalls terminated by the access (SMMUEN 1 -> 0); empty does not allocate.
    var terminatedStalls: [(UInt32, UInt16)] = []

    mutating func add(_ s: InterruptSignal?) {
        guard let s else { return }
        if first == nil { first = s } else if second == nil { second = s } else { third = s }
    }
    // Delivered by ControlUnit.deliver(_:), which handles MSI aborts.
}
