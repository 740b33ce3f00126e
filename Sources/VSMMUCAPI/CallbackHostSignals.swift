import CVSMMU
import SMMU

/// Host signals delivered to the C caller's callbacks. ATC invalidations and
/// page responses reach only registered endpoints (vsmmu.h).
final class CallbackHostSignals: HostSignals, @unchecked Sendable {
    let callbacks: vsmmu_callbacks
    private let endpoints = Locked(Set<UInt32>())
    init(_ callbacks: vsmmu_callbacks) { self.callbacks = callbacks }

    func register(streamID: UInt32) { _ = endpoints.withLock { $0.insert(streamID) } }
    private func registered(_ streamID: UInt32) -> Bool { endpoints.withLock { $0.contains(streamID) } }

    func raiseInterrupt(_ line: SMMUInterruptLine) {
        callbacks.raise_irq?(callbacks.opaque, UInt32(line.rawValue))
    }

    func writeMSI(address: PhysicalAddress, data: UInt32) {
        _ = deliverMSI(address: address, data: data)
    }

    func deliverMSI(address: PhysicalAddress, data: UInt32) -> Bool {
        if let f = callbacks.msi_deliver { return f(callbacks.opaque, address.raw, data) }
        callbacks.msi_write?(callbacks.opaque, address.raw, data)
        return true
    }

    func sendEvent() {
        callbacks.send_event?(callbacks.opaque)
    }

    func invalidate(_ invalidation: HostInvalidation) {
        guard let f = callbacks.invalidate else { return }
        if case .atc(let sid, _, _, _, _) = invalidation, !registered(sid) { return }
        var c = vsmmu_invalidation(invalidation)
        f(callbacks.opaque, &c)
    }

    func synchronize() -> Bool {
        guard let f = callbacks.synchronize else { return true }
        return f(callbacks.opaque)
    }

    func deliverPageResponse(_ response: PageResponse) {
        guard let f = callbacks.page_response, registered(response.streamID) else { return }
        var c = vsmmu_page_response(response)
        f(callbacks.opaque, &c)
    }

    func resolveStall(streamID: UInt32, stag: UInt16, retry: Bool) {
        callbacks.stall_resolve?(callbacks.opaque, streamID, stag, retry)
    }
}
