/// A host with nothing behind the SMMU but guest memory: MSIs are written
/// there (so CMD_SYNC completions by MSI work), interrupts, invalidations,
/// page responses and stall resolutions reach no one, and synchronization
/// always succeeds. For driving the model alone (benchmarks, the fuzzer).
public final class MemoryOnlyHost: HostSignals, @unchecked Sendable {
    let memory: any GuestMemory

    public init(_ memory: any GuestMemory) { self.memory = memory }

    public func raiseInterrupt(_ line: SMMUInterruptLine) {}
    public func writeMSI(address: PhysicalAddress, data: UInt32) { _ = memory.write32(at: address, data) }
    public func invalidate(_ invalidation: HostInvalidation) {}
    public func synchronize() -> Bool { true }
    public func deliverPageResponse(_ response: PageResponse) {}
    public func resolveStall(streamID: UInt32, stag: UInt16, retry: Bool) {}
}
