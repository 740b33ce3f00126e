import Synchronization

/// The translation path (IHI 0070 3.3, 3.9): StreamID -> STE -> CD ->
/// TLB or table walk, with the caches that may hold any of them until
/// invalidated. Faults become events through the `EventSink`, recorded or
/// not as CD.R / STE.S2R say, stalled where CD.S / STE.S2S allow.
final class TranslationUnit: CacheMaintenance, @unchecked Sendable {
    let configuration: SMMUConfiguration
    let memory: any GuestMemory
    let host: any HostSignals
    unowned let events: ControlUnit
    let tlb = TLB()
    let configCache = ConfigCache()
    private let endpoints = Mutex<[UInt32: Endpoint]>([:])

    init(configuration: SMMUConfiguration, memory: any GuestMemory, host: any HostSignals, events: ControlUnit) {
        self.configuration = configuration; self.memory = memory; self.host = host; self.events = events
    }

    func registerEndpoint(_ endpoint: Endpoint) {
        endpoints.withLock { $0[endpoint.streamID] = endpoint }
    }

    func endpoint(_ streamID: UInt32) -> Endpoint? { endpoints.withLock { $0[streamID] } }

    // MARK: - Translation

    func translate(_ request: TranslationRequest) -> TranslationOutcome {
        let control = events.controlState
        // Taken before the STE/CD are looked up: a walk that used a CD which
        // a CFGI + TLBI + SYNC has since replaced must not fill the TLB.
        let generation = tlb.generation
        guard control.smmuEnabled else {
            // SMMUEN=0: GBPA decides for every transaction (3.10.2).
            if control.globalBypassAbort { return .fault(TranslationFault(event: nil, type: nil)) }
            return .translated(bypass(request))
        }

        let stream: StreamConfig
        switch streamConfig(request.streamID, control: control) {
        case .success(let s): stream = s
        case .failure(let f): return configFault(f, request)
        }

        // An ATS Translation Request to a stream whose STE does not enable
        // ATS is a bad request (F_BAD_ATS_TREQ, 3.9.1).
        // EATS=0b10 (split-stage) is only meaningful with CR0.ATSCHK=1 (5.2).
        let eats = stream.eats == 0b10 && !control.atsCheck ? 0 : stream.eats
        if request.ats && (!configuration.ats || eats == 0) {
            return recordAndFault(EventRecord(type: .F_BAD_ATS_TREQ, streamID: request.streamID,
                                              substreamID: request.substreamID), request, record: true)
        }

        switch stream.mode {
        case .abort:
            return .fault(TranslationFault(event: nil, type: nil))
        case .bypass:
            if request.substreamID != nil { return badSubstream(request) }
            return .translated(bypass(request))
        case .translate:
            break
        }

        // Stage 1 context, chosen by SSID or, without one, by S1DSS (5.2).
        var context: ContextDescriptor?
        switch CDTable.selectSubstream(stream: stream, substreamID: request.substreamID) {
        case .failure(let f):
            return configFault(f, request)
        case .success(.bypassStage1):
            break
        case .success(.context(let ssid)):
            switch contextDescriptor(stream: stream, streamID: request.streamID, substreamID: ssid, request) {
            case .success(let cd): context = cd
            case .failure(let outcome): return outcome.fault
            }
        }

        if context == nil && stream.stage2 == nil {
            return .translated(bypass(request))
        }

        // EL2 regimes (STRW=EL2, with or without E2H) have no VMID; NS-EL1
        // streams are VMID-tagged even with stage 1 only.
        let el2 = stream.streamWorld != .el1
        // Only EL2 without E2H is a single-range, single-privilege regime.
        let singleRange = stream.streamWorld == .el2
        let tag = TLB.Tag(el2: el2, vmid: stream.vmidTag, asid: context?.asid, aset: context?.aset ?? false)
        let tlbAddress = TLB.keyAddress(request.address, context: context, singleRange: singleRange)
        if let (entry, log2) = tlb.lookup(tag: tag, address: tlbAddress), entry.permissions.allows(request.access) {
            return .translated(makeTranslation(request, stream: stream, context: context, outputBase: entry.outputBase,
                                               sizeLog2: log2, permissions: entry.permissions))
        }

        let regime = context.map { Stage1Regime(ttb0: $0.ttb0, ttb1: $0.ttb1, wxn: $0.wxn, uwxn: $0.uwxn, el2: singleRange, pan: $0.pan) }
        switch PageTableWalker.walk(address: request.address, access: request.access, stage1: regime,
                                    stage2: stream.stage2?.table, memory: memory) {
        case .success(let walk):
            let log2 = min(walk.blockSizeLog2, 63)
            let mask = (UInt64(1) << log2) &- 1
            let outputBase = walk.outputAddress & ~mask
            tlb.insert(tag: tag, global: walk.global, inputAddress: tlbAddress & ~mask, sizeLog2: log2,
                       entry: .init(outputBase: outputBase, permissions: walk.permissions, stage2: stream.stage2 != nil),
                       generation: generation)
            return .translated(makeTranslation(request, stream: stream, context: context, outputBase: outputBase,
                                               sizeLog2: log2, permissions: walk.permissions))
        case .failure(let fault):
            return walkFault(fault, request, stream: stream, context: context)
        }
    }

    private func bypass(_ request: TranslationRequest) -> Translation {
        Translation(inputBase: 0, outputBase: 0, sizeLog2: 64, permissions: .all,
                    streamID: request.streamID, substreamID: request.substreamID, bypass: true)
    }

    private func makeTranslation(_ request: TranslationRequest, stream: StreamConfig, context: ContextDescriptor?,
                                 outputBase: UInt64, sizeLog2: UInt8, permissions: Permissions) -> Translation {
        let mask = (UInt64(1) << sizeLog2) &- 1
        return Translation(inputBase: request.address & ~mask, outputBase: outputBase, sizeLog2: sizeLog2,
                           permissions: permissions, streamID: request.streamID, substreamID: request.substreamID,
                           asid: context?.asid, vmid: stream.vmidTag)
    }

    // MARK: - Configuration lookups (through the configuration cache)

    private func streamConfig(_ streamID: UInt32, control: ControlState) -> Result<StreamConfig, ConfigFault> {
        if let cached = configCache.stream(streamID) { return .success(cached) }
        let generation = configCache.generation
        let result = StreamTable.lookup(streamID: streamID, control: control, configuration: configuration, memory: memory)
        if case .success(let s) = result { configCache.insert(stream: s, for: streamID, generation: generation) }
        return result
    }

    private struct FaultOutcome: Error { var fault: TranslationOutcome }

    private func contextDescriptor(stream: StreamConfig, streamID: UInt32, substreamID: UInt32,
                                   _ request: TranslationRequest) -> Result<ContextDescriptor, FaultOutcome> {
        if let cached = configCache.context(streamID, substreamID) { return .success(cached) }
        let generation = configCache.generation
        // Under nesting, CD and L1CD addresses are IPAs: translate them by stage 2.
        var stage2Fault: WalkFault?
        let resolve: (UInt64) -> UInt64? = { [memory] address in
            guard let s2 = stream.stage2 else { return address }
            switch PageTableWalker.translateIPA(address, access: [], stage2: s2.table, memory: memory) {
            case .success(let w): return w.outputAddress
            case .failure(let f): stage2Fault = f; return nil
            }
        }
        switch CDTable.lookup(stream: stream, substreamID: substreamID, configuration: configuration,
                              memory: memory, resolve: resolve) {
        case .success(let cd):
            configCache.insert(context: cd, for: streamID, substreamID, generation: generation)
            return .success(cd)
        case .failure(let f):
            if f.stage2Fault, var s2 = stage2Fault {
                s2.faultClass = .cd
                return .failure(FaultOutcome(fault: walkFault(s2, request, stream: stream, context: nil)))
            }
            return .failure(FaultOutcome(fault: configFault(f, request)))
        }
    }

    // MARK: - Faults to events

    private func configFault(_ fault: ConfigFault, _ request: TranslationRequest) -> TranslationOutcome {
        var event = EventRecord(type: fault.type, streamID: request.streamID, substreamID: request.substreamID)
        event.address2 = fault.fetchAddress
        fillAccess(&event, request)
        // 5.2 S1DSS: an ATS Translation Request that S1DSS terminates gets a
        // CA and no event.
        let atsTerminated = request.ats && fault.type == .F_STREAM_DISABLED
        return recordAndFault(event, request, record: fault.record && !atsTerminated)
    }

    private func badSubstream(_ request: TranslationRequest) -> TranslationOutcome {
        recordAndFault(EventRecord(type: .C_BAD_SUBSTREAMID, streamID: request.streamID,
                                   substreamID: request.substreamID), request, record: true)
    }

    private func walkFault(_ fault: WalkFault, _ request: TranslationRequest, stream: StreamConfig,
                           context: ContextDescriptor?) -> TranslationOutcome {
        var event = EventRecord(type: fault.type, streamID: request.streamID, substreamID: request.substreamID)
        fillAccess(&event, request)
        event.inputAddress = request.address
        event.stage2 = fault.stage2
        event.faultClass = fault.faultClass
        event.address2 = fault.type == .F_WALK_EABT ? fault.fetchAddress : (fault.stage2 ? fault.ipa : 0)
        // TTRnW (7.3.11-13): for a fault on a stage-1 descriptor access, 1 = a
        // read of it, 0 = a hardware update (write) of it.
        if fault.faultClass == .tableWalk && !fault.descriptorWrite { event.extra |= 1 }

        // CD.R / STE.S2R gate only the four translation-related faults; an
        // external abort on a walk is always recorded (3.12).
        let translationRelated: Set<EventType> = [.F_TRANSLATION, .F_ADDR_SIZE, .F_ACCESS, .F_PERMISSION]
        var record = true
        var stall = false
        if translationRelated.contains(fault.type) {
            if fault.stage2 {
                record = stream.stage2?.recordFaults ?? true
                stall = stream.stage2?.stallFaults ?? false
            } else {
                record = context?.recordFaults ?? true
                stall = (context?.stallFaults ?? false) && !stream.s1StallDisabled
            }
        }
        // ATS Translation Requests never stall and their translation faults
        // are not recorded: the ATS completion reports them (3.9.1).
        if request.ats {
            return .fault(TranslationFault(event: nil, type: fault.type))
        }
        if stall, configuration.stallModel != .terminateOnly, let stag = events.allocateStall(streamID: request.streamID) {
            event.stall = true
            event.stag = stag
            // A stalled fault is always recorded, whatever R says; if the
            // record is lost (queue off or full) the transaction terminates.
            if events.record(event) {
                return .fault(TranslationFault(event: event, type: fault.type, stalled: true, stag: stag))
            }
            events.releaseStall(streamID: request.streamID, stag: stag)
            return .fault(TranslationFault(event: nil, type: fault.type))
        }
        return recordAndFault(event, request, record: record)
    }

    private func fillAccess(_ event: inout EventRecord, _ request: TranslationRequest) {
        event.read = !request.access.contains(.write)
        event.instruction = request.access.contains(.instruction)
        event.privileged = request.access.contains(.privileged)
        event.inputAddress = request.address
    }

    private func recordAndFault(_ event: EventRecord, _ request: TranslationRequest, record: Bool) -> TranslationOutcome {
        guard record else { return .fault(TranslationFault(event: nil, type: event.type)) }
        let queued = events.record(event)
        return .fault(TranslationFault(event: queued ? event : nil, type: event.type))
    }

    // MARK: - CacheMaintenance

    func invalidateStreams(_ range: ClosedRange<UInt32>?) {
        configCache.invalidateStreams(range)
        if range == nil { tlb.invalidateAll() }
    }

    func invalidateContexts(streamID: UInt32, substreamID: UInt32?) {
        configCache.invalidateContexts(streamID: streamID, substreamID: substreamID)
    }

    func invalidateTLB(_ scope: TLBScope) { tlb.invalidate(scope) }

    func prefetchConfiguration(streamID: UInt32, substreamID: UInt32?) {
        // Allowed to do nothing (4.2.1); we fetch lazily on the next transaction.
    }
}
