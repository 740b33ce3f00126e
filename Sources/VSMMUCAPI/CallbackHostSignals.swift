import CVSMMU
import SMMU

/// Host signals delivered to the C caller's callbacks.
final class CallbackHostSignals: HostSignals, @unchecked Sendable {
    let callbacks: vsmmu_callbacks
    init(_ callbacks: vsmmu_callbacks) { self.callbacks = callbacks }

    func raiseInterrupt(_ line: SMMUInterruptLine) {
        callbacks.raise_irq?(callbacks.opaque, UInt32(line.rawValue))
    }

    func writeMSI(address: UInt64, data: UInt32) {
        callbacks.msi_write?(callbacks.opaque, address, data)
    }

    func invalidate(_ invalidation: HostInvalidation) {
        guard let f = callbacks.invalidate else { return }
        var c = vsmmu_invalidation(invalidation)
        f(callbacks.opaque, &c)
    }

    func synchronize() -> Bool {
        guard let f = callbacks.synchronize else { return true }
        return f(callbacks.opaque)
    }

    func deliverPageResponse(_ response: PageResponse) {
        guard let f = callbacks.page_response else { return }
        var c = vsmmu_page_response(response)
        f(callbacks.opaque, &c)
    }

    func resolveStall(streamID: UInt32, stag: UInt16, retry: Bool) {
        callbacks.stall_resolve?(callbacks.opaque, streamID, stag, retry)
    }
}
