/// PCIe ATS traffic (IHI 0070 3.9.1): Translation Requests, answered with
/// the permissions the tables grant (13.7.1), and Translated transactions,
/// checked as SMMU_CR0.ATSCHK and STE.EATS say (3.9.1.3, 13.6.3).
extension TranslationUnit {
    /// An ATS Translation Request. The walk is made for read or write
    /// (NW): Exe is granted from the page's permissions, never walked for,
    /// so that a request with Exe to an XN page still gets R (13.7).
    func translationRequest(_ request: TranslationRequest) -> TranslationOutcome {
        var walked = request
        walked.access.remove(.instruction)
        let outcome = translateUntranslated(walked)
        guard case .translated(var t) = outcome else { return outcome }
        t.permissions = Self.atsGranted(t.permissions, execute: request.access.contains(.instruction))
        return .translated(t)
    }

    /// 13.7.1 (INSTCFG and PRIVCFG "Use incoming"): R and W as the tables
    /// give them; Exe only where requested, and only with R ("Granting X
    /// implies granting R").
    static func atsGranted(_ p: Permissions, execute: Bool) -> Permissions {
        var granted = p.intersection([.read, .write, .privilegedRead, .privilegedWrite])
        if execute && p.contains([.read, .execute]) { granted.insert(.execute) }
        if execute && p.contains([.privilegedRead, .privilegedExecute]) { granted.insert(.privilegedExecute) }
        return granted
    }

    /// A Translated transaction: its address came from an ATS Translation
    /// Completion, a PA (or an IPA under split-stage ATS).
    func translatedTransaction(_ request: TranslationRequest) -> TranslationOutcome {
        let control = events.controlState
        // SMMU_IDR3.PASIDTT == 0: treated as SSV == 0, PnU == 0, InD == 0 (3.9.1.3).
        var request = request
        request.substreamID = nil
        request.access = request.access.intersection(.write)
        // 5.2 EATS: without IDR0.ATS no Translated traffic is passed.
        guard configuration.ats else { return .fault(TranslationFault(event: nil, type: nil)) }

        // 3.9.1.3: "SMMUEN == 0: F_TRANSL_FORBIDDEN and aborted".
        guard control.smmuEnabled else { return translationForbidden(request) }
        // ATSCHK == 0: bypass "with no further checks, other than an address size check" (3.9.1).
        guard control.atsCheck else { return passThrough(request) }

        let stream: StreamConfig
        switch streamConfig(request.streamID, control: control) {
        case .success(let s): stream = s
        case .failure(let f): return configFault(f, request)
        }
        switch stream.mode {
        case .abort: return .fault(TranslationFault(event: nil, type: nil))   // silently (5.2 EATS)
        case .bypass: return translationForbidden(request)                     // effective EATS 0b00
        case .translate: break
        }
        let eats = effectiveEATS(stream, control: control)
        guard eats != .off else { return translationForbidden(request) }
        // 3.9.1.3 priority 7: F_STREAM_DISABLED, by S1DSS for a transaction
        // without a SubstreamID.
        if case .failure(let f) = CDTable.selectSubstream(stream: stream, substreamID: nil) {
            return configFault(f, request)
        }
        // EATS == 0b01: the address is a PA, let through (5.2).
        guard eats == .splitStage, let stage2 = stream.stage2 else { return passThrough(request) }

        // Split-stage (13.6.3): the address is an IPA, checked against the IAS
        // as a stage 1 fault (3.9.1.3 priority 10), then translated by stage 2
        // with its faults recorded as for an ordinary transaction.
        guard fitsIAS(IntermediateAddress(bypassingStage1: request.address)) else {
            return walkFault(.stage1AddressSize, request, stream: stream, context: nil)
        }
        switch PageTableWalker.walk(address: request.address, access: request.access, stage1: nil,
                                    stage2: stage2.table, memory: memory) {
        case .success(let walk):
            let log2 = min(walk.blockSizeLog2, 63)
            return .translated(makeTranslation(request, stream: stream, context: nil,
                                               outputBase: .physical(walk.outputAddress.alignedDown(log2: log2)),
                                               sizeLog2: log2, permissions: walk.permissions))
        case .failure(let fault):
            return walkFault(fault, request, stream: stream, context: nil)
        }
    }

    /// A PA let through: beyond the OAS it is aborted with no event, the
    /// first of the IMPLEMENTATION DEFINED choices of 3.9.1.1.
    private func passThrough(_ request: TranslationRequest) -> TranslationOutcome {
        guard fitsOAS(PhysicalAddress(bypassingTranslation: request.address)) else {
            return .fault(TranslationFault(event: nil, type: nil))
        }
        return .translated(bypass(request))
    }

    /// 7.3.8: aborted and recorded with RnW and InputAddr (no SubstreamID).
    private func translationForbidden(_ request: TranslationRequest) -> TranslationOutcome {
        var event = EventRecord(type: .F_TRANSL_FORBIDDEN, streamID: request.streamID)
        event.read = !request.access.contains(.write)
        event.inputAddress = request.address
        return recordAndFault(event, request, record: true)
    }
}

extension WalkFault {
    /// A stage 1 Address Size fault on the input address where stage 1 does
    /// not translate (3.4): S2 = 0, CLASS = IN.
    static let stage1AddressSize = WalkFault(type: .F_ADDR_SIZE, stage2: false, faultClass: .input)
}
