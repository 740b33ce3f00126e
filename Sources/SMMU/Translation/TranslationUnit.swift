
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
    let fetches = ConfigurationFetchCounters()
    /// Check mode (nil: off).
    var checker: DriverChecker?
    private let endpoints = Locked<[UInt32: Endpoint]>([:])

    init(configuration: SMMUConfiguration, memory: any GuestMemory, host: any HostSignals, events: ControlUnit) {
        self.configuration = configuration; self.memory = memory; self.host = host; self.events = events
    }

    func registerEndpoint(_ endpoint: Endpoint) {
        endpoints.withLock { $0[endpoint.streamID] = endpoint }
    }

    func endpoint(_ streamID: UInt32) -> Endpoint? { endpoints.withLock { $0[streamID] } }

    // MARK: - Translation

    func translate(_ request: TranslationRequest) -> TranslationOutcome {
        switch request.kind {
        case .untranslated: translateUntranslated(request)
        case .translationRequest: translationRequest(request)
        case .translated: translatedTransaction(request)
        }
    }

    /// An ordinary transaction or an ATS Translation Request (`request.ats`;
    /// `translationRequest` has prepared its access type).
    func translateUntranslated(_ request: TranslationRequest) -> TranslationOutcome {
        let control = events.controlState
        // Taken before the STE/CD are looked up: a walk that used a CD which
        // a CFGI + TLBI + SYNC has since replaced must not fill the TLB.
        let generation = tlb.generation
        guard control.smmuEnabled else {
            // 3.9.1.2: SMMUEN=0 disables ATS: UR and F_BAD_ATS_TREQ.
            if request.ats { return badATSRequest(request) }
            // SMMUEN=0: GBPA decides for every transaction (3.10.2); an
            // address beyond the OAS aborts with no event (3.4).
            if control.globalBypassAbort || !fitsOAS(PhysicalAddress(bypassingTranslation: request.address)) {
                return .fault(TranslationFault(event: nil, type: nil))
            }
            return .translated(bypass(request))
        }

        let stream: StreamConfig
        switch streamConfig(request.streamID, control: control) {
        case .success(let s): stream = s
        case .failure(let f): return configFault(f, request)
        }

        // 3.9.1.2: STE.Config=0b000 answers an ATS Translation Request with
        // UR and no event; Config=0b100 or an effective EATS of 0b00, with
        // UR and F_BAD_ATS_TREQ.
        let eats = effectiveEATS(stream, control: control)
        if request.ats {
            if stream.mode == .abort {
                return .fault(TranslationFault(event: nil, type: nil, atsStatus: .unsupportedRequest))
            }
            if eats == .off { return badATSRequest(request) }
        }

        switch stream.mode {
        case .abort:
            return .fault(TranslationFault(event: nil, type: nil))
        case .bypass:
            if request.substreamID != nil { return configFault(.badSubstreamID, request) }
            // 3.4: beyond the OAS, an abort and a stage 1 F_ADDR_SIZE.
            guard fitsOAS(PhysicalAddress(bypassingTranslation: request.address)) else {
                return walkFault(.stage1AddressSize, request, stream: stream, context: nil)
            }
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

        // 3.4: with stage 1 bypassed the input is an IPA; beyond the IAS it is
        // a stage 1 F_ADDR_SIZE (not a stage 2 Translation fault).
        if context == nil && !fitsIAS(IntermediateAddress(bypassingStage1: request.address)) {
            return walkFault(.stage1AddressSize, request, stream: stream, context: nil)
        }
        if context == nil && stream.stage2 == nil {
            return .translated(bypass(request))
        }
        // Split-stage ATS (5.2 EATS=0b10, 13.6.3) answers with stage 1's IPA,
        // which a TLB entry (VA to PA) cannot give.
        let splitStage = request.ats && eats == .splitStage

        let (tag, singleRange, regime) = lookupRegime(stream: stream, context: context)
        let tlbAddress = TLB.keyAddress(request.address, context: context, singleRange: singleRange)
        if !splitStage, let (entry, log2, global) = tlb.lookup(tag: tag, address: tlbAddress),
           entry.permissions.allows(request.access) {
            let t = makeTranslation(request, stream: stream, context: context, outputBase: .physical(entry.outputBase),
                                    sizeLog2: log2, permissions: entry.permissions, global: global)
            if let checker {
                checker.tlbHit(key: WalkKey(tag: tag, global: global, keyAddress: tlbAddress, sizeLog2: log2),
                               address: request.address)
                if request.ats {
                    checker.atsTranslation(checkedWalk(t, request, tag: tag, tlbAddress: tlbAddress, regime: regime,
                                                       stream: stream, output: entry.outputBase))
                }
            }
            return .translated(t)
        }

        switch PageTableWalker.walk(address: request.address, access: request.access, stage1: regime,
                                    stage2: stream.stage2?.table, memory: memory) {
        case .success(let walk):
            let (outputBase, log2, cached) = fillTLB(walk, tag: tag, tlbAddress: tlbAddress, stream: stream,
                                                     generation: generation)
            // Split-stage: stage 1's output, the IPA (the input address if S1DSS bypassed stage 1).
            let output: TranslationOutput = splitStage
                ? .intermediate((walk.intermediateAddress ?? IntermediateAddress(bypassingStage1: request.address))
                    .alignedDown(log2: log2))
                : .physical(outputBase)
            let t = makeTranslation(request, stream: stream, context: context, outputBase: output,
                                    sizeLog2: log2, permissions: walk.permissions, global: walk.global)
            if let checker {
                var checked = checkedWalk(t, request, tag: tag, tlbAddress: tlbAddress, regime: regime,
                                          stream: stream, output: outputBase)
                checked.leafAddress = walk.leafDescriptorAddress
                checked.leafDescriptor = walk.leafDescriptor
                if cached {
                    checker.cachedWalk(key: WalkKey(tag: tag, global: walk.global, keyAddress: tlbAddress,
                                                    sizeLog2: log2), checked)
                }
                if request.ats { checker.atsTranslation(checked) }
            }
            return .translated(t)
        case .failure(let fault):
            // 3.9.1.2, 13.7: a Permission fault on the page answers an ATS
            // request with the permissions that are available: a write intent
            // (NW == 0) the page refuses is retried as a read (NW == 1).
            if request.ats && fault.type == .F_PERMISSION && fault.faultClass == .input
                && request.access.contains(.write) {
                var read = request
                read.access.remove(.write)
                return translateUntranslated(read)
            }
            return walkFault(fault, request, stream: stream, context: context)
        }
    }

    /// The TLB tag a stream and its stage-1 context file translations
    /// under, whether the regime has a single VA range, and the stage-1
    /// regime a walk uses (nil: stage 1 bypassed).
    func lookupRegime(stream: StreamConfig, context: ContextDescriptor?)
        -> (tag: TLB.Tag, singleRange: Bool, regime: Stage1Regime?) {
        // EL2 regimes (STRW=EL2, with or without E2H) have no VMID; NS-EL1
        // streams are VMID-tagged even with stage 1 only.
        let el2 = stream.streamWorld != .el1
        // Only EL2 without E2H is a single-range, single-privilege regime.
        let singleRange = stream.streamWorld == .el2
        let tag = TLB.Tag(el2: el2, vmid: stream.vmidTag, asid: context?.asid, aset: context?.aset ?? false)
        let regime = context.map {
            Stage1Regime(ttb0: $0.ttb0, ttb1: $0.ttb1, wxn: $0.wxn, uwxn: $0.uwxn, el2: singleRange, pan: $0.pan)
        }
        return (tag, singleRange, regime)
    }

    /// Files a successful walk in the TLB, unless an invalidation since
    /// `generation` may have made it stale; returns the block's output
    /// base and size, and whether it was filed.
    func fillTLB(_ walk: WalkResult, tag: TLB.Tag, tlbAddress: UInt64, stream: StreamConfig,
                 generation: UInt64) -> (outputBase: PhysicalAddress, sizeLog2: UInt8, cached: Bool) {
        let log2 = min(walk.blockSizeLog2, 63)
        let mask = (UInt64(1) << log2) &- 1
        let outputBase = walk.outputAddress.alignedDown(log2: log2)
        let cached = tlb.insert(tag: tag, global: walk.global, inputAddress: tlbAddress & ~mask, sizeLog2: log2,
                                entry: .init(outputBase: outputBase, permissions: walk.permissions,
                                             stage2: stream.stage2 != nil),
                                generation: generation)
        return (outputBase, log2, cached)
    }

    /// What check mode keeps of a translation to walk it again later.
    private func checkedWalk(_ t: Translation, _ request: TranslationRequest, tag: TLB.Tag, tlbAddress: UInt64,
                             regime: Stage1Regime?, stream: StreamConfig, output: PhysicalAddress) -> CachedWalk {
        CachedWalk(lookupTag: tag, lookupAddress: tlbAddress, tags: CachedTranslationTags(t),
                   inputs: WalkInputs(address: request.address, access: request.access, stage1: regime,
                                      stage2: stream.stage2?.table),
                   outputBase: output, permissions: t.permissions)
    }

    /// The identity block of a transaction that bypasses translation: the
    /// OAS, since anything beyond it aborts (3.4).
    func bypass(_ request: TranslationRequest) -> Translation {
        Translation(inputBase: 0, outputBase: .physical(0), sizeLog2: configuration.outputAddressBits,
                    permissions: .all, streamID: request.streamID, substreamID: request.substreamID, bypass: true)
    }

    func fitsOAS(_ address: PhysicalAddress) -> Bool { address.fits(bits: configuration.outputAddressBits) }
    func fitsIAS(_ address: IntermediateAddress) -> Bool { address.fits(bits: configuration.intermediateAddressBits) }

    /// STE.EATS as it applies now: 0b10 (split-stage) behaves as 0b00 with
    /// CR0.ATSCHK=0 (5.2); the decoder has applied the rest.
    func effectiveEATS(_ stream: StreamConfig, control: ControlState) -> STE.EATS {
        guard configuration.ats else { return .off }
        return stream.eats == .splitStage && !control.atsCheck ? .off : stream.eats
    }

    func makeTranslation(_ request: TranslationRequest, stream: StreamConfig, context: ContextDescriptor?,
                         outputBase: TranslationOutput, sizeLog2: UInt8, permissions: Permissions,
                         global: Bool = false) -> Translation {
        var t = Translation(inputBase: request.address.alignedDown(log2: sizeLog2), outputBase: outputBase,
                            sizeLog2: sizeLog2, permissions: permissions, streamID: request.streamID,
                            substreamID: request.substreamID, asid: global ? nil : context?.asid,
                            vmid: stream.vmidTag)
        t.global = global && context != nil
        return t
    }

    // MARK: - Configuration lookups (through the configuration cache)

    func streamConfig(_ streamID: UInt32, control: ControlState) -> Result<StreamConfig, ConfigFault> {
        if let cached = configCache.stream(streamID) {
            checker?.configHit(.stream(streamID))
            return .success(cached)
        }
        let generation = configCache.generation
        let result = StreamTable.lookup(streamID: streamID, control: control, configuration: configuration, memory: memory)
        switch result {
        case .success(let s):
            fetches.countSTE()
            let cached = configCache.insert(stream: s, for: streamID, generation: generation)
            checker?.configFetched(.stream(streamID), .stream(s), cached: cached, generation: generation)
        case .failure(let f):
            if let checker {
                checker.configFetched(.stream(streamID), checker.observedFault(.stream(streamID), f, control: control),
                                      cached: false, generation: generation)
            }
        }
        return result
    }

    private struct FaultOutcome: Error { var fault: TranslationOutcome }

    private func contextDescriptor(stream: StreamConfig, streamID: UInt32, substreamID: UInt32,
                                   _ request: TranslationRequest) -> Result<ContextDescriptor, FaultOutcome> {
        if let cached = configCache.context(streamID, substreamID) {
            checker?.configHit(.context(streamID, substreamID))
            return .success(cached)
        }
        let generation = configCache.generation
        // CD and L1CD addresses are IPAs: translated by stage 2 under nesting,
        // the PA itself otherwise (5.2 S1ContextPtr).
        var stage2Fault: WalkFault?
        let resolve: (IntermediateAddress) -> PhysicalAddress? = { [memory] ipa in
            guard let s2 = stream.stage2 else { return PhysicalAddress(bypassingStage2: ipa) }
            switch PageTableWalker.translateIPA(ipa, access: [], stage2: s2.table, memory: memory) {
            case .success(let w): return w.outputAddress
            case .failure(let f): stage2Fault = f; return nil
            }
        }
        switch CDTable.lookup(stream: stream, substreamID: substreamID, configuration: configuration,
                              memory: memory, resolve: resolve) {
        case .success(let cd):
            if let s1 = stream.stage1 { fetches.countCD(of: s1, substreamID: substreamID) }
            let cached = configCache.insert(context: cd, for: streamID, substreamID, generation: generation)
            checker?.configFetched(.context(streamID, substreamID), .context(cd), cached: cached, generation: generation)
            return .success(cd)
        case .failure(let f):
            checker?.configFetched(.context(streamID, substreamID), .absent, cached: false, generation: generation)
            if f.stage2Fault, var s2 = stage2Fault {
                s2.faultClass = .cd
                return .failure(FaultOutcome(fault: walkFault(s2, request, stream: stream, context: nil)))
            }
            return .failure(FaultOutcome(fault: configFault(f, request)))
        }
    }

    // MARK: - Faults to events

    func configFault(_ fault: ConfigFault, _ request: TranslationRequest) -> TranslationOutcome {
        var event = EventRecord(type: fault.type, streamID: request.streamID, substreamID: request.substreamID)
        event.fetchAddress = fault.fetchAddress
        fillAccess(&event, request)
        guard request.kind != .untranslated else { return recordAndFault(event, request, record: fault.record) }
        // 3.9.1.2, 3.9.1.3: a configuration error met by ATS traffic (a CA
        // for a Translation Request, an abort for a Translated transaction)
        // is recorded only with CR2.REC_CFG_ATS; C_BAD_STREAMID then also
        // needs RECINVSID for a Translation Request, not for a Translated
        // transaction.
        let recordATS = events.controlState.recordConfigErrorsATS
            && (fault.record || (request.kind == .translated && fault.type == .C_BAD_STREAMID))
        return recordAndFault(event, request, record: recordATS,
                              atsStatus: request.ats ? .completerAbort : nil)
    }

    /// 3.9.1.2, 7.3.6: an ATS Translation Request where ATS is disabled.
    private func badATSRequest(_ request: TranslationRequest) -> TranslationOutcome {
        recordAndFault(EventRecord(type: .F_BAD_ATS_TREQ, streamID: request.streamID,
                                   substreamID: request.substreamID), request, record: true,
                       atsStatus: .unsupportedRequest)
    }

    func walkFault(_ fault: WalkFault, _ request: TranslationRequest, stream: StreamConfig,
                           context: ContextDescriptor?) -> TranslationOutcome {
        var event = EventRecord(type: fault.type, streamID: request.streamID, substreamID: request.substreamID)
        fillAccess(&event, request)
        event.inputAddress = request.address
        event.stage2 = fault.stage2
        event.faultClass = fault.faultClass
        if fault.type == .F_WALK_EABT {
            event.fetchAddress = fault.fetchAddress
        } else if fault.stage2 {
            event.ipa = fault.ipa
        }
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
        // ATS Translation Requests never stall (3.9.1.2): F_WALK_EABT is a
        // configuration error (CA, recorded only with CR2.REC_CFG_ATS); a
        // translation-related fault at either stage, also on a CD fetch or a
        // table walk, is Success with R == W == 0 and never recorded.
        if request.ats {
            if fault.type == .F_WALK_EABT {
                return recordAndFault(event, request, record: events.controlState.recordConfigErrorsATS,
                                      atsStatus: .completerAbort)
            }
            return .fault(TranslationFault(event: nil, type: fault.type, atsStatus: .noAccess))
        }
        if stall, let s = events.stall(event) {
            // A stalled fault is always recorded, whatever R says: now, or
            // when the Event queue is next writable (7.2.1, 7.4). Either way
            // the transaction stays stalled.
            event.stall = true
            event.stag = s.stag
            return .fault(TranslationFault(event: s.recorded ? event : nil, type: fault.type, stalled: true, stag: s.stag))
        }
        return recordAndFault(event, request, record: record)
    }

    private func fillAccess(_ event: inout EventRecord, _ request: TranslationRequest) {
        event.read = !request.access.contains(.write)
        event.instruction = request.access.contains(.instruction)
        event.privileged = request.access.contains(.privileged)
        event.inputAddress = request.address
    }

    func recordAndFault(_ event: EventRecord, _ request: TranslationRequest, record: Bool,
                        atsStatus: ATSCompletionStatus? = nil) -> TranslationOutcome {
        guard record else { return .fault(TranslationFault(event: nil, type: event.type, atsStatus: atsStatus)) }
        let queued = events.record(event)
        return .fault(TranslationFault(event: queued ? event : nil, type: event.type, atsStatus: atsStatus))
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
