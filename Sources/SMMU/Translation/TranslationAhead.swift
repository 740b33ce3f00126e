/// Translations of the blocks that follow one a transaction just got, for a
/// host-side cache to hold before its device reaches them (the backend's
/// TRANSLATE_AHEAD, docs/protocol.md). A DMA that streams through a buffer
/// then costs the host one miss, not one per page.
///
/// These are lookups no transaction asked for, so they may do only what an
/// SMMU may do speculatively: walk tables and cache valid translations
/// (the SMMU inherits VMSAv8's speculative walks; IHI 0070 16.2 leaves
/// what is cached, and when, to the implementation).
/// Nothing is recorded, nothing stalls, no descriptor is written: a block
/// that would fault, or that needs its access flag or dirty state set by
/// HTTU, ends the run. Only configuration already cached is used (a fetch
/// could fault), and check mode gets none, since its record of what was
/// cached and used must be what the guest's traffic caused.
extension TranslationUnit {
    func translationsAhead(of request: TranslationRequest, after first: Translation, limit: Int) -> [Translation] {
        guard limit > 0, checker == nil, request.kind == .untranslated, !first.bypass,
              first.sizeLog2 < 64, events.controlState.smmuEnabled else { return [] }
        // Taken before the configuration is read, as for a transaction.
        let generation = tlb.generation
        guard let stream = configCache.stream(request.streamID), stream.mode == .translate else { return [] }
        var context: ContextDescriptor?
        switch CDTable.selectSubstream(stream: stream, substreamID: request.substreamID) {
        case .failure: return []
        case .success(.bypassStage1): break
        case .success(.context(let ssid)):
            guard let cd = configCache.context(request.streamID, ssid) else { return [] }
            context = cd
        }
        if context == nil && stream.stage2 == nil { return [] }
        let (tag, singleRange, regime) = lookupRegime(stream: stream, context: context)
        let readOnly = NoDescriptorUpdates(memory)

        var ahead: [Translation] = []
        var previous = first
        while ahead.count < limit {
            let (next, overflow) = previous.inputBase.raw.addingReportingOverflow(UInt64(1) << previous.sizeLog2)
            guard !overflow else { break }
            var probe = request
            probe.address = InputAddress(next)
            if context == nil && !fitsIAS(IntermediateAddress(bypassingStage1: probe.address)) { break }
            let tlbAddress = TLB.keyAddress(probe.address, context: context, singleRange: singleRange)
            let t: Translation
            if let (entry, log2, global) = tlb.lookup(tag: tag, address: tlbAddress),
               entry.permissions.allows(probe.access) {
                t = makeTranslation(probe, stream: stream, context: context, outputBase: .physical(entry.outputBase),
                                    sizeLog2: log2, permissions: entry.permissions, global: global)
            } else {
                guard case .success(let walk) = PageTableWalker.walk(
                    address: probe.address, access: probe.access, stage1: regime,
                    stage2: stream.stage2?.table, memory: readOnly) else { break }
                let (outputBase, log2, _) = fillTLB(walk, tag: tag, tlbAddress: tlbAddress, stream: stream,
                                                    generation: generation)
                t = makeTranslation(probe, stream: stream, context: context, outputBase: .physical(outputBase),
                                    sizeLog2: log2, permissions: walk.permissions, global: walk.global)
            }
            // A larger block found there (the tables changed since the
            // first walk) starts before `next`: the run is no longer one.
            guard t.inputBase.raw == next else { break }
            ahead.append(t)
            previous = t
        }
        return ahead
    }
}

/// Guest memory for a speculative walk: reads pass through, and the
/// compare-and-swap of an HTTU update fails as an abort would, which ends
/// the walk before it changes anything.
private final class NoDescriptorUpdates: GuestMemory, @unchecked Sendable {
    let base: any GuestMemory
    init(_ base: any GuestMemory) { self.base = base }

    func read(at address: PhysicalAddress, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        base.read(at: address, into: buffer)
    }

    func write(at address: PhysicalAddress, from buffer: UnsafeRawBufferPointer) -> Bool { false }

    func compareExchange64(at address: PhysicalAddress, expected: UInt64, desired: UInt64) -> UInt64? { nil }
}
