/// The translation path: StreamID -> STE -> CD -> TLB or table walk.
/// STUB: to be replaced.
final class TranslationUnit: CacheMaintenance, @unchecked Sendable {
    let configuration: SMMUConfiguration
    let memory: any GuestMemory
    let host: any HostSignals
    unowned let events: ControlUnit

    init(configuration: SMMUConfiguration, memory: any GuestMemory, host: any HostSignals, events: ControlUnit) {
        self.configuration = configuration; self.memory = memory; self.host = host; self.events = events
    }

    func translate(_ request: TranslationRequest) -> TranslationOutcome {
        .fault(TranslationFault(event: nil, type: nil))
    }
    func registerEndpoint(_ endpoint: Endpoint) {}
    func invalidateStreams(_ range: ClosedRange<UInt32>?) {}
    func invalidateContexts(streamID: UInt32, substreamID: UInt32?) {}
    func invalidateTLB(_ scope: TLBScope) {}
    func prefetchConfiguration(streamID: UInt32, substreamID: UInt32?) {}
}
