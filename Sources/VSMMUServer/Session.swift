import Logging
import SMMU
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// One front end's connection: the reader loop that answers every request at
/// once, the command worker, guest RAM and the backend channel. The model
/// reads guest RAM directly and signals the host through the backend link.
package final class Session: @unchecked Sendable {
    /// The front-end channel requests arrive on (SET_FRONTEND_CHANNEL moves
    /// it); the sockets it replaced stay open until the session ends.
    private(set) var socket: MessageSocket
    private var replacedSockets: [MessageSocket] = []
    /// Told of each new front-end channel (the server shuts it down to stop).
    private let channelChanged: (MessageSocket) -> Void
    let configuration: SMMUConfiguration
    let log: RateLimitedLogger
    let ram = MappedGuestRAM()
    let link: BackendLink
    private var worker: CommandWorker?
    private var acknowledgedFeatures: UInt64 = 0
    static let offeredFeatures: UInt64 = Wire.featureMMIOWriteSync | Wire.featureStateRegion
        | Wire.featureInOrderSync | Wire.featureTranslateAhead | Wire.featureSharedTLB | Wire.featurePostedWrites
    /// Where the model's durable image goes (SET_STATE_REGION).
    private var stateRegion: StateRegion?
    /// SET_STATE_REGION must come before the model is used.
    private var modelUsed = false

    let checkReporter: CheckReporter?
    /// Busy-poll budget of a wait for the front end (VSMMUServer.pollNs),
    /// and its adaptive upper bound for the reader's wait for a request.
    let pollNs: UInt64
    private var readerPoll: AdaptivePoll

    /// `package`: the wire fuzzer (Sources/vsmmu-fuzz) runs sessions too.
    package convenience init(socket: MessageSocket, configuration: SMMUConfiguration, log: RateLimitedLogger,
                             syncTimeoutMs: Int32) {
        self.init(socket: socket, configuration: configuration, log: log, syncTimeoutMs: syncTimeoutMs,
                  checkReporter: nil)
    }

    init(socket: MessageSocket, configuration: SMMUConfiguration, log: RateLimitedLogger, syncTimeoutMs: Int32,
         pollNs: UInt64 = 0, pollMaxNs: UInt64 = 0, syncIRQCoalesceNs: UInt64 = 0, checkReporter: CheckReporter? = nil,
         channelChanged: @escaping (MessageSocket) -> Void = { _ in }) {
        self.socket = socket
        self.pollNs = pollNs
        readerPoll = AdaptivePoll(baseNs: pollNs, maxNs: pollMaxNs)
        self.checkReporter = checkReporter
        self.channelChanged = channelChanged
        self.configuration = configuration
        self.log = log
        self.link = BackendLink(ram: ram, log: log, syncTimeoutMs: syncTimeoutMs, pollNs: pollNs,
                                syncIRQCoalesceNs: syncIRQCoalesceNs)
    }

    private func createModel() -> SMMUv3? {
        do {
            let model = try SMMUv3(configuration: configuration, memory: ram.memory, host: link,
                                   checking: checkReporter?.options)
            worker = CommandWorker { model.processCommands() }
            return model
        } catch {
            log.logger.error("cannot create the SMMU model: \(error)")
            return nil
        }
    }

    // MARK: Reader loop

    /// Serves the connection until the front end goes away, then tears down:
    /// backend channel closed, worker stopped, model destroyed, RAM unmapped.
    package func run() {
        guard let model = createModel() else { return }
        defer {
            logFetches(model.configurationFetches)
            if let summary = model.checkSummary { checkReporter?.sessionEnded(summary) }
            teardown()
        }
        // Bounded by the connection: every iteration consumes one message.
        while true {
            // A vCPU that waits for a reply usually sends its next request
            // within microseconds, a guest in a map/unmap loop within a few
            // hundred: catch it without a scheduler wake-up.
            let start = RateLimitedLogger.nowNanoseconds()
            let caught = socket.spinUntilReadable(ns: readerPoll.budgetNs)
            let received = socket.receive()
            readerPoll.record(caught: caught, waitedNs: RateLimitedLogger.nowNanoseconds() &- start)
            switch received {
            case .failure(.closed):
                log.logger.info("front end disconnected")
                return
            case .failure(let e):
                log.logger.error("closing front-end connection: \(e)")
                return
            case .success(let message):
                handle(message, model)
            }
        }
    }

    /// One line per connection: which table formats the guest's driver used
    /// (the SVA guest case looks for its 2-level CD table here).
    private func logFetches(_ f: ConfigurationFetches) {
        log.logger.info("configuration read from guest memory: STEs=\(f.streamTableEntries) CDs.single=\(f.singleCDs) CDs.linear=\(f.linearTableCDs) CDs.2level4K=\(f.twoLevel4KTableCDs) CDs.2level64K=\(f.twoLevel64KTableCDs) CDs.2levelLaterLeaf=\(f.laterLeafCDs)")
    }

    private func teardown() {
        link.close()
        worker?.stop()
        worker = nil
        for m in ram.removeAll() { MappedGuestRAM.unmap(m) }
    }

    private func status(_ request: UInt32, _ value: Int32) {
        var w = WireWriter(); w.i64(Int64(value))
        socket.reply(to: request, payload: w.bytes)
    }

    private func protocolError(_ m: Message, hasReply: Bool, errno code: Int32, _ why: String) {
        m.closeFDs()
        log.log(.warning, kind: "protocol", "protocol error on request \(m.header.request): \(why)")
        if hasReply { status(m.header.request, -code) }
    }

    private func handle(_ m: Message, _ model: SMMUv3) {
        let h = m.header
        guard let request = FrontRequest(rawValue: h.request) else {
            return protocolError(m, hasReply: true, errno: ENOSYS, "unknown request")
        }
        let hasReply = request != .mmioWrite || h.needsReply
        guard h.versionOK else {
            return protocolError(m, hasReply: hasReply, errno: EINVAL, "version \(h.flags & Wire.versionMask)")
        }
        guard !h.isReply else { return protocolError(m, hasReply: hasReply, errno: EINVAL, "reply flag on a request") }
        guard m.payload.count == request.payloadSize else {
            return protocolError(m, hasReply: hasReply, errno: EINVAL,
                                 "payload of \(m.payload.count) bytes, expected \(request.payloadSize)")
        }
        guard m.fds.count == request.fdCount else {
            return protocolError(m, hasReply: hasReply, errno: EINVAL,
                                 "\(m.fds.count) descriptors, expected \(request.fdCount)")
        }
        var r = WireReader(m.payload)
        switch request {
        case .mmioRead, .mmioWrite, .translate, .pageRequest, .reset: modelUsed = true
        case .translateAhead where acknowledgedFeatures & Wire.featureTranslateAhead != 0: modelUsed = true
        default: break
        }
        switch request {
        case .getFeatures:
            var w = WireWriter(); w.u64(Session.offeredFeatures)
            socket.reply(to: h.request, payload: w.bytes)
        case .setFeatures:
            let f = r.u64()
            if f & ~Session.offeredFeatures != 0 {
                return protocolError(m, hasReply: true, errno: EINVAL, "feature bits 0x\(String(f, radix: 16)) not offered")
            }
            // A reply carries the shared cache's generation only in TRANSLATE_AHEAD's format.
            if f & Wire.featureSharedTLB != 0 && f & Wire.featureTranslateAhead == 0 {
                return protocolError(m, hasReply: true, errno: EINVAL, "VSMMU_F_SHARED_TLB without VSMMU_F_TRANSLATE_AHEAD")
            }
            // A posted write's completion reaches the guest in order only
            // through the in-order backend channel.
            if f & Wire.featurePostedWrites != 0 && f & Wire.featureInOrderSync == 0 {
                return protocolError(m, hasReply: true, errno: EINVAL, "VSMMU_F_POSTED_WRITES without VSMMU_F_IN_ORDER_SYNC")
            }
            // From SET_TLB_REGION on, the region is the front end's cache and
            // INVALIDATE goes only on request: taking the feature back would
            // leave a cache of the front end's own that no invalidation reaches.
            guard link.sharedCache == nil || f & Wire.featureSharedTLB != 0 else {
                log.log(.warning, kind: "set-features", "SET_FEATURES without VSMMU_F_SHARED_TLB after SET_TLB_REGION: refused")
                return status(h.request, -EBUSY)
            }
            // How CMD_SYNC completes (VSMMU_F_IN_ORDER_SYNC) must not
            // change under commands the model is running.
            guard !modelUsed || f == acknowledgedFeatures else {
                log.log(.warning, kind: "set-features", "SET_FEATURES after the SMMU was used: refused")
                return status(h.request, -EBUSY)
            }
            acknowledgedFeatures = f
            link.completesInOrder = f & Wire.featureInOrderSync != 0
            status(h.request, 0)
        case .getConfig:
            var w = WireWriter(); wireConfig(model).encode(into: &w)
            socket.reply(to: h.request, payload: w.bytes)
        case .setBackendChannel:
            link.setChannel(m.fds[0])
            status(h.request, 0)
        case .setFrontEndChannel:
            guard Session.isStreamSocket(m.fds[0]) else {
                return protocolError(m, hasReply: true, errno: EINVAL, "SET_FRONTEND_CHANNEL needs a stream socket")
            }
            // The reply is the new channel's first message: a front end
            // reads only its own end from here on.
            replacedSockets.append(socket)
            socket = MessageSocket(m.fds[0])
            channelChanged(socket)
            status(h.request, 0)
        case .addMemRegion:
            let region = WireMemRegion(&r)
            let result = ram.add(region, fd: m.fds[0])
            try? m.fds[0].close()   // the mapping keeps the file
            if case .failure(let e) = result {
                log.log(.warning, kind: "mem-region",
                        "ADD_MEM_REGION 0x\(String(region.guestAddr, radix: 16)) size 0x\(String(region.size, radix: 16)) failed: \(e)")
                status(h.request, -e.rawValue)
            } else {
                status(h.request, 0)
            }
        case .remMemRegion:
            let region = WireMemRegion(&r)
            switch ram.remove(region) {
            case .success(let mapping):
                worker?.whenIdle { MappedGuestRAM.unmap(mapping) }
                status(h.request, 0)
            case .failure:
                log.log(.warning, kind: "mem-region", "REM_MEM_REGION 0x\(String(region.guestAddr, radix: 16)): no such region")
                status(h.request, -ENOENT)
            }
        case .mmioRead:
            let a = WireMMIO(&r)
            guard Session.validMMIO(a) else {
                return protocolError(m, hasReply: true, errno: EINVAL, "MMIO read of \(a.size) bytes at 0x\(String(a.offset, radix: 16))")
            }
            var w = WireWriter(); w.u64(model.read(offset: a.offset, size: Int(a.size)))
            socket.reply(to: h.request, payload: w.bytes)
        case .mmioWrite:
            let a = WireMMIO(&r)
            guard Session.validMMIO(a) else {
                return protocolError(m, hasReply: hasReply, errno: EINVAL, "MMIO write of \(a.size) bytes at 0x\(String(a.offset, radix: 16))")
            }
            if model.write(offset: a.offset, size: Int(a.size), value: a.value).contains(.commandsPending) {
                let synchronous = h.needsReply ? acknowledgedFeatures & Wire.featureMMIOWriteSync != 0
                    : acknowledgedFeatures & Wire.featurePostedWrites != 0
                if synchronous {
                    // With a reply, the front end services the backend
                    // channel until it comes, so SYNC round trips complete;
                    // a posted write's commands run before the next request
                    // (its main loop serves the channel meanwhile). If the
                    // worker is mid-pass, the model returns at once and the
                    // worker's pass goes round again.
                    model.processCommands()
                } else {
                    worker?.kick()
                }
            }
            if hasReply { status(h.request, 0) }
        case .registerEndpoint:
            let e = WireEndpoint(&r)
            guard e.flags & ~(WireEndpoint.ats | WireEndpoint.pri) == 0, e.pasidBits <= 20 else {
                return protocolError(m, hasReply: true, errno: EINVAL, "endpoint flags 0x\(String(e.flags, radix: 16)) pasid_bits \(e.pasidBits)")
            }
            model.registerEndpoint(e.model)
            link.registerEndpoint(e.sid)
            status(h.request, 0)
        case .translate, .translateAhead:
            let ahead = request == .translateAhead
            guard !ahead || acknowledgedFeatures & Wire.featureTranslateAhead != 0 else {
                return protocolError(m, hasReply: true, errno: EINVAL,
                                     "TRANSLATE_AHEAD without VSMMU_F_TRANSLATE_AHEAD acknowledged")
            }
            let wireRequest = WireTranslateRequest(&r)
            let request = wireRequest.model
            // Read before the translation is made: what is logged after it
            // may have raced it (an ATS answer goes to an ATC, not the cache).
            let cache = request.ats ? nil : link.sharedCache
            let madeAt = cache?.generation ?? 0
            // Everything the reply hands out is tracked, and an invalidation
            // while it is computed is sent whatever it covers.
            link.shadow.beginTranslation(address: request.address.raw)
            let outcome = model.translate(request)
            var handedOut: [Translation] = []
            if case .translated(let tr) = outcome {
                handedOut = [tr]
                if ahead { handedOut += model.translations(after: tr, of: request, limit: Wire.aheadMax) }
            }
            link.shadow.endTranslation(handedOut.map {
                FrontEndShadow.Entry(tags: CachedTranslationTags($0), ats: request.ats)
            }, address: request.address.raw)
            cache?.publish(SharedTranslationCache.blocks(handedOut, for: wireRequest), madeAt: madeAt)
            var w = WireWriter()
            if ahead {
                WireTranslateAheadReply(first: WireTranslateReply(outcome),
                                        ahead: handedOut.dropFirst().map { WireTranslateReply(.translated($0)) },
                                        tlbGeneration: UInt32(truncatingIfNeeded: madeAt))
                    .encode(into: &w)
            } else {
                WireTranslateReply(outcome).encode(into: &w)
            }
            socket.reply(to: h.request, payload: w.bytes)
        case .pageRequest:
            let outcome = model.pageRequest(WirePageRequest(&r).model)
            var w = WireWriter(); w.i32(WirePageRequest.outcome(outcome)); w.u32(0)
            socket.reply(to: h.request, payload: w.bytes)
        case .reset:
            model.reset()
            status(h.request, 0)
        case .setStateRegion:
            setStateRegion(m.fds[0], model)
        case .setTLBRegion:
            setTLBRegion(m.fds[0])
        case .getPostedWrites:
            guard acknowledgedFeatures & Wire.featurePostedWrites != 0 else {
                return protocolError(m, hasReply: true, errno: EINVAL,
                                     "GET_POSTED_WRITES without VSMMU_F_POSTED_WRITES acknowledged")
            }
            var w = WireWriter(); WirePostedWrites(offsets: model.postableWriteOffsets).encode(into: &w)
            socket.reply(to: h.request, payload: w.bytes)
        }
    }

    /// SET_TLB_REGION: from here on the front end's translation cache is
    /// the shared region, filled and invalidated by this session.
    private func setTLBRegion(_ fd: FileDescriptor) {
        let code = FrontRequest.setTLBRegion.rawValue
        guard acknowledgedFeatures & Wire.featureSharedTLB != 0 else {
            try? fd.close()
            log.log(.warning, kind: "protocol", "SET_TLB_REGION without VSMMU_F_SHARED_TLB acknowledged")
            return status(code, -EINVAL)
        }
        guard link.sharedCache == nil else {
            try? fd.close()
            log.log(.warning, kind: "tlb-region", "SET_TLB_REGION: this session already has one")
            return status(code, -EALREADY)
        }
        do {
            link.sharedCache = try SharedTranslationCache(fd: fd)
            status(code, 0)
        } catch {
            log.log(.warning, kind: "tlb-region", "SET_TLB_REGION refused: \(error)")
            status(code, -error.errno)
        }
    }

    /// SET_STATE_REGION: adopt the image a killed backend left, or start
    /// one; from then on every change is committed to the region before
    /// anything it causes can be seen (docs/backend.md, "Restart").
    private func setStateRegion(_ fd: FileDescriptor, _ model: SMMUv3) {
        let code = FrontRequest.setStateRegion.rawValue
        guard stateRegion == nil else {
            try? fd.close()
            log.log(.warning, kind: "state-region", "SET_STATE_REGION: this session already has one")
            return status(code, -EALREADY)
        }
        guard !modelUsed else {
            try? fd.close()
            log.log(.warning, kind: "state-region", "SET_STATE_REGION after the SMMU was used: refused")
            return status(code, -EBUSY)
        }
        let region: StateRegion, image: DurableState?
        do {
            region = try StateRegion(fd: fd)
            image = try region.load(configuration: configuration)
        } catch {
            log.logger.error("cannot use the state region: \(error)")
            return status(code, -error.errno)
        }
        // Adopt first, then record: until the first commit the region still
        // holds the old image, so a kill in between only repeats the adoption.
        let pending = image.map { model.adopt($0) } ?? []
        model.makeDurable { region.commit($0) }
        stateRegion = region
        // An adopted SMMU is in use (its commands may run at once): the
        // features are latched from here on.
        if image != nil { modelUsed = true }
        if let image {
            let commits = region.commits
            log.logger.info("adopted the SMMU state from the state region (commit \(commits), CMDQ_CONS 0x\(String(image.commandQueueConsumer, radix: 16)))")
        }
        if pending.contains(.commandsPending) { worker?.kick() }
        if image != nil { link.pulseAfterAdoption() }
        status(code, image == nil ? 0 : 1)
    }

    static func isStreamSocket(_ fd: FileDescriptor) -> Bool {
        var type: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(fd.rawValue, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == Int32(SOCK_STREAM.rawValue)
    }

    static func validMMIO(_ a: WireMMIO) -> Bool {
        (a.size == 4 || a.size == 8) && a.offset < SMMUv3.mmioSize && a.offset + UInt64(a.size) <= SMMUv3.mmioSize
    }

    /// GET_CONFIG: the ID registers as the guest reads them, and the
    /// capabilities the front end needs for firmware tables.
    private func wireConfig(_ model: SMMUv3) -> WireConfig {
        var c = WireConfig()
        c.idr = (0..<6).map { UInt32(truncatingIfNeeded: model.read(offset: UInt64($0) * 4, size: 4)) }
        c.iidr = UInt32(truncatingIfNeeded: model.read(offset: 0x18, size: 4))
        c.aidr = UInt32(truncatingIfNeeded: model.read(offset: 0x1C, size: 4))
        c.caps = Session.capabilities(configuration)
        c.ssidBits = configuration.substreamIDBits
        c.sidBits = configuration.streamIDBits
        c.oasBits = configuration.outputAddressBits
        return c
    }

    /// The enabled features' capabilities that have a bit on the wire.
    static func capabilities(_ c: SMMUConfiguration) -> UInt32 {
        c.capabilities.reduce(0) { $0 | (WireConfig.capabilityBits[$1] ?? 0) }
    }
}
