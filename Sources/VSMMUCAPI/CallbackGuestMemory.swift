import CVSMMU
import SMMU

/// Guest memory served by the C caller's callbacks.
final class CallbackGuestMemory: GuestMemory, @unchecked Sendable {
    let callbacks: vsmmu_callbacks
    init(_ callbacks: vsmmu_callbacks) { self.callbacks = callbacks }

    func read(at address: PhysicalAddress, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        guard let f = callbacks.mem_read else { return false }
        if buffer.isEmpty { return true }
        return f(callbacks.opaque, address.raw, buffer.baseAddress, buffer.count)
    }

    func write(at address: PhysicalAddress, from buffer: UnsafeRawBufferPointer) -> Bool {
        guard let f = callbacks.mem_write else { return false }
        if buffer.isEmpty { return true }
        return f(callbacks.opaque, address.raw, buffer.baseAddress, buffer.count)
    }

    func compareExchange64(at address: PhysicalAddress, expected: UInt64, desired: UInt64) -> UInt64? {
        guard let f = callbacks.mem_cmpxchg64 else { return nil }
        var old: UInt64 = 0
        return f(callbacks.opaque, address.raw, expected, desired, &old) ? old : nil
    }
}
