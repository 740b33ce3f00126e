/// Check mode (docs/checker.md): watches what the guest's driver does to the
/// model's tables and queues and reports where it relies on something the
/// architecture does not promise. It only observes: the model translates,
/// caches and executes exactly as without it (except that at each CMD_SYNC
/// it also asks the host to drop its translation caches, so that every use
/// of a stale model entry after the SYNC reaches the model and is seen).
///
/// The hooks are called by ControlUnit and TranslationUnit. Lock order:
/// ControlUnit's register lock, then `state`, then the TLB's, the
/// configuration cache's and the published-control-state locks. Reports
/// are passed to the sink after `state` is released.
final class DriverChecker: @unchecked Sendable {
    let rules: Set<CheckRule>
    private let options: CheckOptions
    let configuration: SMMUConfiguration
    let memory: CheckerMemory
    private let tlb: TLB
    private let configCache: ConfigCache
    /// Set by SMMUv3 once the control unit exists.
    weak var control: ControlUnit?

    private struct State {
        /// CMD_SYNCs consumed so far.
        var syncs: UInt64 = 0
        var walks: [WalkKey: WalkRecord] = [:]
        /// The walks seen stale at a CMD_SYNC (what a TLBI can make violations).
        var staleWalks: Set<WalkKey> = []
        var ats: [ATSKey: ATSRecord] = [:]
        var configs: [ConfigKey: ConfigRecord] = [:]
        var pri = PRITracker()
        var summary = CheckSummary()
    }
    private let state = Locked(State())

    /// Bounds of what is tracked (the TLB's capacity for translations).
    static let maxWalks = TLB.defaultCapacity
    static let maxATS = 65536
    static let maxConfigs = 65536

    init(options: CheckOptions, configuration: SMMUConfiguration, memory: any GuestMemory, tlb: TLB,
         configCache: ConfigCache) {
        self.options = options
        rules = options.rules
        self.configuration = configuration
        self.memory = CheckerMemory(memory)
        self.tlb = tlb
        self.configCache = configCache
    }

    var summary: CheckSummary {
        state.withLock { s in
            var summary = s.summary
            summary.untracked += s.pri.untracked
            return summary
        }
    }

    /// The SMMU was reset: what was tracked described the old configuration.
    func reset() {
        state.withLock { s in
            s.walks = [:]
            s.staleWalks = []
            s.ats = [:]
            s.configs = [:]
            s.pri = PRITracker()
        }
    }

    /// Counts the reports and passes those within the per-rule bound on.
    func emit(_ reports: [CheckReport]) {
        guard !reports.isEmpty else { return }
        let pass = state.withLock { s in
            reports.filter { r in
                s.summary.counts[r.rule, default: 0] += 1
                return s.summary.counts[r.rule, default: 0] <= options.reportsPerRule
            }
        }
        for r in pass { options.report(r) }
    }

    private func checks(_ rule: CheckRule) -> Bool { rules.contains(rule) }

    // MARK: - Translations (rules tlbi, atc-inv)

    /// A walk's result went into the TLB.
    func cachedWalk(key: WalkKey, _ walk: CachedWalk) {
        guard checks(.tlbInvalidation) || checks(.tablePageReuse) else { return }
        state.withLock { s in
            if s.walks[key] == nil && s.walks.count >= Self.maxWalks { s.summary.untracked += 1; return }
            s.walks[key] = WalkRecord(walk: walk)
        }
    }

    /// A translation was served from the TLB entry `key`.
    func tlbHit(key: WalkKey, address: InputAddress) {
        guard checks(.tlbInvalidation) else { return }
        let found = state.withLock { s -> CachedWalk? in
            guard let r = s.walks[key], r.violation != nil, !r.reported else { return nil }
            return r.walk
        }
        guard var walk = found else { return }
        // Compare at the address used, which may lie anywhere in the block.
        walk.inputs.address = address
        let now = Staleness.of(walk, memory: memory)
        guard now.isStale else { return }
        let report = state.withLock { s -> CheckReport? in
            guard var r = s.walks[key], let v = r.violation, !r.reported else { return nil }
            r.reported = true
            s.walks[key] = r
            return CheckReport(rule: .tlbInvalidation, streamID: walk.tags.streamID, substreamID: walk.tags.substreamID,
                               asid: walk.tags.asid, vmid: walk.tags.vmid, address: address.raw,
                               commandIndex: v.commandIndex,
                               observed: "translation served from a TLB entry after a CMD_SYNC although its "
                                + "descriptors had changed with no TLBI covering it: \(now.observed) (at the "
                                + "CMD_SYNC: \(v.observed))")
        }
        if let report { emit([report]) }
    }

    /// An ATS Translation Request returned this translation to an endpoint.
    func atsTranslation(_ walk: CachedWalk) {
        guard checks(.atcInvalidation) else { return }
        let key = ATSKey(streamID: walk.tags.streamID, substreamID: walk.tags.substreamID,
                         base: walk.tags.inputBase, sizeLog2: walk.tags.sizeLog2)
        state.withLock { s in
            if s.ats[key] == nil && s.ats.count >= Self.maxATS { s.summary.untracked += 1; return }
            s.ats[key] = ATSRecord(walk: walk)
        }
    }

    /// A TLBI at CMDQ index `index` was consumed (`invalidation`: what it
    /// covers; the TLB has applied it).
    func tlbInvalidated(_ invalidation: HostInvalidation, index: UInt32) {
        var reports: [CheckReport] = []
        defer { emit(reports) }
        state.withLock { s in
            releaseWalks(&s, invalidation, index: index, &reports)
            if checks(.tlbInvalidation) {
                for k in s.staleWalks {
                    guard var r = s.walks[k], !r.regimeInvalidatedSince else { continue }
                    // Its regime: the same tags, any address.
                    var anywhere = r.walk.tags
                    anywhere.inputBase = 0
                    anywhere.sizeLog2 = 64
                    if invalidation.covers(anywhere) {
                        r.regimeInvalidatedSince = true
                        s.walks[k] = r
                    }
                }
            }
            if checks(.atcInvalidation) {
                for (k, r) in s.ats where r.invalidatedAtSync == nil && invalidation.covers(r.walk.tags) {
                    s.ats[k]!.invalidatedAtSync = s.syncs
                }
            }
        }
    }

    /// The walks this TLBI released (the TLB no longer holds them) leave the
    /// records. Rule table-reuse: if the leaf descriptor a released walk
    /// read now holds a valid descriptor to somewhere else while the walk no
    /// longer reaches it, its table page was unlinked and reused before
    /// this invalidation (a driver frees table pages only after it, 3.21.1).
    private func releaseWalks(_ s: inout State, _ invalidation: HostInvalidation, index: UInt32,
                              _ reports: inout [CheckReport]) {
        for (key, r) in s.walks where invalidation.covers(r.walk.tags) {
            if let hit = tlb.lookup(tag: r.walk.lookupTag, address: r.walk.lookupAddress),
               hit.sizeLog2 == key.sizeLog2, hit.global == key.global, hit.entry.outputBase == r.walk.outputBase {
                continue
            }
            s.walks[key] = nil
            s.staleWalks.remove(key)
            guard checks(.tablePageReuse), let slot = r.walk.leafAddress, let now = memory.read64(at: slot) else { continue }
            let addressBits: UInt64 = 0x0000_FFFF_FFFF_F000
            guard now & 1 != 0, now & addressBits != r.walk.leafDescriptor & addressBits else { continue }
            // Still reached by a walk: changed in place (rule tlbi's business).
            if case .success(let w) = PageTableWalker.walk(address: r.walk.inputs.address, access: r.walk.inputs.access,
                                                          stage1: r.walk.inputs.stage1, stage2: r.walk.inputs.stage2,
                                                          memory: memory),
               w.leafDescriptorAddress == slot { continue }
            reports.append(CheckReport(
                rule: .tablePageReuse, streamID: r.walk.tags.streamID, substreamID: r.walk.tags.substreamID,
                asid: r.walk.tags.asid, vmid: r.walk.tags.vmid, address: r.walk.inputs.address.raw, commandIndex: index,
                observed: "the walk of \(r.walk.inputs.address) read leaf descriptor 0x\(String(r.walk.leafDescriptor, radix: 16)) "
                    + "at \(slot); at the TLBI that releases it the table is no longer reached and that slot holds "
                    + "0x\(String(now, radix: 16)): the table page was reused before its invalidation"))
        }
    }

    /// A CMD_ATC_INV was consumed: it drops what it covers; for the
    /// stream's other translations that a TLBI covered, it shows the
    /// driver has moved on to invalidating the ATC.
    func atcInvalidated(_ invalidation: HostInvalidation) {
        guard checks(.atcInvalidation), case .atc(let sid, _, _, _, _) = invalidation else { return }
        state.withLock { s in
            s.ats = s.ats.filter { !invalidation.covers($0.value.walk.tags, in: .atc) }
            for (k, r) in s.ats where r.walk.tags.streamID == sid && r.invalidatedAtSync != nil && !r.atcInvalidatedSince {
                s.ats[k]!.atcInvalidatedSince = true
            }
        }
    }

    // MARK: - CMD_SYNC

    /// A CMD_SYNC at CMDQ index `index` is being consumed: everything the
    /// driver did before it is visible, and the driver may rely on every
    /// invalidation before it once it completes.
    func commandSync(index: UInt32, pri: PRIQueueSnapshot) {
        var reports: [CheckReport] = []
        let control = self.control?.controlState ?? ControlState()
        state.withLock { s in
            s.syncs &+= 1
            if checks(.tlbInvalidation) { sweepWalks(&s, index: index) }
            if checks(.atcInvalidation) { reports += sweepATS(&s, index: index) }
            if checks(.configInvalidation) || checks(.hitlessUpdate) { sweepConfigs(&s, index: index, control: control) }
            if checks(.pasidReuse) { s.pri.prune(pri) }
        }
        emit(reports)
    }

    /// Rule tlbi: entries the TLB still holds whose tables changed. A
    /// changed entry becomes a violation only once a TLBI of its regime
    /// (its ASID and VMID, any address) was consumed after the change and
    /// this CMD_SYNC found the entry still there: until a TLBI comes, the
    /// invalidation may simply not be queued yet (a driver, or the CPU's
    /// mm for SVA, changes PTEs first and invalidates after, while other
    /// CPUs' CMD_SYNCs complete).
    private func sweepWalks(_ s: inout State, index: UInt32) {
        for (key, r) in s.walks {
            guard let hit = tlb.lookup(tag: r.walk.lookupTag, address: r.walk.lookupAddress),
                  hit.sizeLog2 == key.sizeLog2, hit.global == key.global, hit.entry.outputBase == r.walk.outputBase
            else {
                s.walks[key] = nil
                s.staleWalks.remove(key)
                continue
            }
            guard r.violation == nil else { continue }
            switch Staleness.of(r.walk, memory: memory) {
            case .current:
                guard r.staleSince != nil else { continue }
                var record = r
                record.staleSince = nil
                record.regimeInvalidatedSince = false
                s.walks[key] = record
                s.staleWalks.remove(key)
            case .changed(let what), .removed(let what):
                var record = r
                if record.staleSince == nil {
                    record.staleSince = s.syncs
                    s.staleWalks.insert(key)
                } else if record.regimeInvalidatedSince {
                    record.violation = (index, what + "; a TLBI of its ASID/VMID was consumed after the "
                                        + "change was seen, then this CMD_SYNC, and none covered the entry")
                } else {
                    continue
                }
                s.walks[key] = record
            }
        }
    }

    /// Rule atc-inv: a translation handed to an ATC whose range a TLBI
    /// covered (the driver changed it) and whose tables changed, still not
    /// covered at a CMD_SYNC after the driver sent a CMD_ATC_INV for the
    /// same stream that left it out (Linux orders TLBI, SYNC, ATC_INV,
    /// SYNC: until some ATC_INV of the stream comes, it may not be queued
    /// yet while other CPUs' CMD_SYNCs complete).
    private func sweepATS(_ s: inout State, index: UInt32) -> [CheckReport] {
        var reports: [CheckReport] = []
        for (key, r) in s.ats where r.invalidatedAtSync != nil && r.atcInvalidatedSince {
            let now = Staleness.of(r.walk, memory: memory)
            s.ats[key] = nil
            guard now.isStale else { continue }
            reports.append(CheckReport(rule: .atcInvalidation, streamID: r.walk.tags.streamID,
                                       substreamID: r.walk.tags.substreamID, asid: r.walk.tags.asid,
                                       vmid: r.walk.tags.vmid, address: r.walk.tags.inputBase, commandIndex: index,
                                       observed: "an ATS translation the endpoint may cache was covered by a TLBI, "
                                        + "then a CMD_ATC_INV of the stream left it out and this CMD_SYNC completed: "
                                        + now.observed))
        }
        return reports
    }

    // MARK: - Configuration (rules cfgi, hitless, pasid-reuse)

    /// An STE or CD was read from memory on a configuration-cache miss that
    /// started under the cache's `generation`; `cached`: the model put it
    /// in its cache. A fetch a CFGI overtook (the generation moved) read
    /// what the CFGI replaced: it is not an observation of the new state.
    func configFetched(_ key: ConfigKey, _ observed: ObservedConfig, cached: Bool, generation: UInt64) {
        guard checks(.configInvalidation) || checks(.hitlessUpdate) || checks(.pasidReuse) else { return }
        state.withLock { s in
            // Checked under `state`: configInvalidated (which follows the
            // cache's invalidation) cannot run between this and the record.
            guard configCache.generation == generation else { return }
            guard var r = s.configs[key] else {
                if s.configs.count >= Self.maxConfigs { s.summary.untracked += 1; return }
                var r = ConfigRecord(anchor: observed)
                r.lastAddressSpace = observed.addressSpace
                if cached { r.cached = observed }
                s.configs[key] = r
                return
            }
            r.observe(observed)
            if cached { r.cached = observed }
            if let a = observed.addressSpace, r.lastAddressSpace == nil { r.lastAddressSpace = a }
            s.configs[key] = r
        }
    }

    /// A translation used the cached STE or CD `key`.
    func configHit(_ key: ConfigKey) {
        guard checks(.configInvalidation) else { return }
        let report = state.withLock { s -> CheckReport? in
            guard var r = s.configs[key], let stale = r.staleAtSync, !r.staleReported else { return nil }
            r.staleReported = true
            s.configs[key] = r
            return CheckReport(rule: .configInvalidation, streamID: key.streamID, substreamID: key.substreamID,
                               asid: cachedASID(r.cached), commandIndex: stale.commandIndex,
                               observed: "a cached \(key.kind) was used after a CMD_SYNC although it had changed in "
                                + "memory with no CFGI covering it: \(stale.observed)")
        }
        if let report { emit([report]) }
    }

    private func cachedASID(_ o: ObservedConfig?) -> UInt16? {
        if case .context(let cd)? = o { return cd.asid }
        return nil
    }

    /// At a CMD_SYNC: every tracked STE and CD is read again. A state that
    /// differs from the last one seen at an invalidation is kept for rule
    /// hitless; a cached entry that memory no longer matches becomes stale
    /// for rule cfgi.
    private func sweepConfigs(_ s: inout State, index: UInt32, control: ControlState) {
        for (key, r) in s.configs {
            let now = fetch(key, control: control)
            var record = r
            var changed = record.observe(now, atSync: true)
            if let cached = r.cached {
                if !isCached(key, as: cached) {
                    // Dropped (capacity) or replaced: nothing stale to use.
                    record.cached = nil
                    record.staleSince = nil
                    record.staleAtSync = nil
                    record.otherCFGISinceStale = false
                    changed = true
                } else if cached == now {
                    if record.staleSince != nil || record.staleAtSync != nil {
                        record.staleSince = nil
                        record.staleAtSync = nil
                        record.otherCFGISinceStale = false
                        changed = true
                    }
                } else if record.staleSince == nil {
                    record.staleSince = s.syncs
                    changed = true
                } else if record.otherCFGISinceStale && record.staleAtSync == nil {
                    record.staleAtSync = (index, "cached \(cached.summary); memory now \(now.summary); a CFGI "
                                          + "that left it out was consumed after the change was seen")
                    changed = true
                }
            }
            if changed { s.configs[key] = record }
        }
    }

    /// Whether the configuration cache still holds `value` for `key`.
    private func isCached(_ key: ConfigKey, as value: ObservedConfig) -> Bool {
        switch (key, value) {
        case (.stream(let sid), .stream(let ste)): configCache.stream(sid) == ste
        case (.context(let sid, let ssid), .context(let cd)): configCache.context(sid, ssid) == cd
        default: false
        }
    }

    /// A CFGI covering the STEs in `streams` (nil: all) and their CDs, or
    /// (`contextsOf`) the CDs of one stream (`substreamID` nil: all) was
    /// consumed. The state now is the new anchor: each state seen since the
    /// last one that is neither is a torn update (rule hitless); a CD whose
    /// address space changed while its PASID had page requests outstanding
    /// is rule pasid-reuse.
    func configInvalidated(streams: ClosedRange<UInt32>?, contextsOf: UInt32? = nil, substreamID: UInt32? = nil,
                           index: UInt32, pri: PRIQueueSnapshot) {
        guard checks(.configInvalidation) || checks(.hitlessUpdate) || checks(.pasidReuse) else { return }
        let control = self.control?.controlState ?? ControlState()
        var reports: [CheckReport] = []
        state.withLock { s in
            if checks(.pasidReuse) { s.pri.prune(pri) }
            for (key, r) in s.configs {
                let covered: Bool
                if let sid = contextsOf {
                    guard case .context(let ksid, let kssid) = key else { continue }
                    covered = ksid == sid && (substreamID == nil || substreamID == kssid)
                } else {
                    covered = streams?.contains(key.streamID) ?? true
                }
                guard covered else {
                    // Rule cfgi: a CFGI that leaves out a stale cached entry
                    // (another SSID of its stream; another STE) shows the
                    // driver is past invalidating it.
                    let evidence = contextsOf.map { $0 == key.streamID && key.substreamID != nil }
                        ?? (key.substreamID == nil)
                    if evidence && r.staleSince != nil && !r.otherCFGISinceStale {
                        s.configs[key]!.otherCFGISinceStale = true
                    }
                    continue
                }
                let now = fetch(key, control: control)
                var record = r
                if checks(.hitlessUpdate) {
                    for x in r.transientInterim where x != now && (x.isValid || x == .illegal) {
                        reports.append(CheckReport(
                            rule: .hitlessUpdate, streamID: key.streamID, substreamID: key.substreamID,
                            asid: cachedASID(x), commandIndex: index,
                            observed: "a live \(key.kind) was seen as \(x.summary), which is neither the state at "
                                + "the previous invalidation (\(r.anchor.summary)) nor the state at this one "
                                + "(\(now.summary)): the update was not single-copy atomic in the bits in use"))
                    }
                }
                if checks(.pasidReuse), case .context(let sid, let ssid) = key, let space = now.addressSpace,
                   let before = r.lastAddressSpace, before != space {
                    let (inQueue, unanswered) = s.pri.outstanding(streamID: sid, substreamID: ssid)
                    if inQueue > 0 || !unanswered.isEmpty {
                        var what: [String] = []
                        if inQueue > 0 { what.append("\(inQueue) record(s) still in the PRI queue") }
                        if !unanswered.isEmpty {
                            what.append("group(s) \(unanswered.map(String.init).joined(separator: ",")) not answered by CMD_PRI_RESP")
                        }
                        reports.append(CheckReport(
                            rule: .pasidReuse, streamID: sid, substreamID: ssid, asid: space.asid, commandIndex: index,
                            observed: "the CD of PASID \(ssid) now gives another address space (ASID \(before.asid) -> "
                                + "\(space.asid)) while its page requests are outstanding: " + what.joined(separator: ", ")))
                    }
                }
                if let space = now.addressSpace { record.lastAddressSpace = space }
                record.anchor = now
                record.interim = []
                record.interimSyncs = []
                record.cached = nil
                record.staleSince = nil
                record.otherCFGISinceStale = false
                record.staleAtSync = nil
                record.staleReported = false
                s.configs[key] = record
            }
        }
        emit(reports)
    }

    /// Reads an STE, or a CD through the STE now in memory, without caching.
    private func fetch(_ key: ConfigKey, control: ControlState) -> ObservedConfig {
        guard control.smmuEnabled else { return .absent }
        let sid = key.streamID
        let stream: StreamConfig
        switch StreamTable.lookup(streamID: sid, control: control, configuration: configuration, memory: memory) {
        case .success(let ste): stream = ste
        case .failure(let fault):
            guard case .stream = key else { return .absent }
            return steIsValid(sid, control: control, fault: fault) ? .illegal : .absent
        }
        guard case .context(_, let ssid) = key else { return .stream(stream) }
        guard stream.mode == .translate, stream.stage1 != nil else { return .absent }
        let resolve: (IntermediateAddress) -> PhysicalAddress? = { [memory] ipa in
            guard let s2 = stream.stage2 else { return PhysicalAddress(bypassingStage2: ipa) }
            if case .success(let w) = PageTableWalker.translateIPA(ipa, access: [], stage2: s2.table, memory: memory) {
                return w.outputAddress
            }
            return nil
        }
        switch CDTable.lookup(stream: stream, substreamID: ssid, configuration: configuration, memory: memory,
                              resolve: resolve) {
        case .success(let cd): return .context(cd)
        case .failure: return .absent
        }
    }

    /// Whether a failed STE lookup read an STE with V == 1 (so it was ILLEGAL).
    func steIsValid(_ sid: UInt32, control: ControlState, fault: ConfigFault) -> Bool {
        guard fault.type == .C_BAD_STE,
              case .success(let address) = StreamTable.steAddress(streamID: sid, control: control,
                                                                  configuration: configuration, memory: memory),
              let word0 = memory.read64(at: address) else { return false }
        return word0 & 1 != 0
    }

    /// What a failed lookup observed (for `configFetched`).
    func observedFault(_ key: ConfigKey, _ fault: ConfigFault, control: ControlState) -> ObservedConfig {
        guard case .stream(let sid) = key else { return .absent }
        return steIsValid(sid, control: control, fault: fault) ? .illegal : .absent
    }

    // MARK: - Page requests (rule pasid-reuse)

    func pageRequestQueued(_ request: PageRequest, at pointer: UInt32) {
        guard checks(.pasidReuse) else { return }
        let prune = state.withLock { s in
            s.pri.queued(request, at: pointer)
            return s.pri.needsPrune
        }
        // Taken before `state`: the register lock comes first.
        if prune, let snapshot = control?.priQueueSnapshot() { state.withLock { $0.pri.prune(snapshot) } }
    }

    func pageResponse(_ response: PageResponse) {
        guard checks(.pasidReuse) else { return }
        state.withLock { $0.pri.responded(response) }
    }

    // MARK: - Registers and commands (rule queue)

    /// Called with the register lock held, before the write: returns the
    /// report to emit once the lock is released.
    func registerWrite(_ reg: SMMURegister, offset: UInt32, value: UInt64, before r: ControlRegisters) -> CheckReport? {
        guard checks(.queueProtocol) else { return nil }
        return QueueProtocolCheck.registerWrite(reg, offset: offset, value: value, before: r)
    }

    /// CMD_SYNC with an MSI: the address must be memory (3.21.2, 4.7.3).
    func syncMSI(address: PhysicalAddress, index: UInt32) {
        guard checks(.queueProtocol), address != 0 else { return }
        // An aligned 8-byte read: the C ABI's memory reads are whole words.
        guard memory.read64(at: PhysicalAddress(address.raw & ~7)) == nil else { return }
        emit([CheckReport(rule: .queueProtocol, address: address.raw, commandIndex: index,
                          observed: "CMD_SYNC MSIAddress \(address) is not guest memory (4.7.3: the completion MSI "
                            + "would be lost)")])
    }
}

extension ConfigKey {
    var kind: String {
        switch self { case .stream: "STE"; case .context: "CD" }
    }
}
