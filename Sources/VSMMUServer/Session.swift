import CVSMMU
import Logging
import SMMU
import VSMMUCAPI
#if canImport(Glibc)
import Glibc
#endif

/// One front end's connection: the reader loop that answers every request at
/// once, the command worker, guest RAM and the backend channel. The model is
/// created through the C ABI (vsmmu.h) like any C host would.
final class Session: @unchecked Sendable {
    let socket: MessageSocket
    let configuration: SMMUConfiguration
    let log: RateLimitedLogger
    let ram = MappedGuestRAM()
    let link: BackendLink
    private var model: OpaquePointer?
    private var worker: CommandWorker?
    private var acknowledgedFeatures: UInt64 = 0
    static let offeredFeatures: UInt64 = Wire.featureMMIOWriteSync

    init(socket: MessageSocket, configuration: SMMUConfiguration, log: RateLimitedLogger, syncTimeoutMs: Int32) {
        self.socket = socket
        self.configuration = configuration
        self.log = log
        self.link = BackendLink(ram: ram, log: log, syncTimeoutMs: syncTimeoutMs)
    }

    // MARK: Model through the C ABI

    private func createModel() -> Bool {
        var callbacks = vsmmu_callbacks()
        callbacks.size = UInt32(MemoryLayout<vsmmu_callbacks>.size)
        callbacks.opaque = Unmanaged.passUnretained(self).toOpaque()
        callbacks.mem_read = { o, addr, buf, len in
            guard let buf else { return false }
            return Session.from(o).ram.memory.read(at: addr, into: UnsafeMutableRawBufferPointer(start: buf, count: len))
        }
        callbacks.mem_write = { o, addr, buf, len in
            guard let buf else { return false }
            return Session.from(o).ram.memory.write(at: addr, from: UnsafeRawBufferPointer(start: buf, count: len))
        }
        callbacks.mem_cmpxchg64 = { o, addr, expected, desired, old in
            guard let v = Session.from(o).ram.memory.compareExchange64(at: addr, expected: expected, desired: desired)
            else { return false }
            old?.pointee = v
            return true
        }
        callbacks.raise_irq = { o, line in Session.from(o).link.raiseIRQ(line) }
        callbacks.msi_write = { o, addr, data in Session.from(o).link.writeMSI(address: addr, data: data) }
        callbacks.invalidate = { o, inv in if let inv { Session.from(o).link.invalidate(inv.pointee) } }
        callbacks.synchronize = { o in Session.from(o).link.synchronize() }
        callbacks.page_response = { o, r in if let r { Session.from(o).link.pageResponse(r.pointee) } }
        callbacks.stall_resolve = { o, sid, stag, retry in Session.from(o).link.stallResolve(sid: sid, stag: stag, retry: retry) }

        var cfg = configuration.cConfig
        var err = [CChar](repeating: 0, count: 256)
        model = vsmmu_create(&cfg, &callbacks, &err, err.count)
        guard let model else {
            log.logger.error("cannot create the SMMU model: \(String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))")
            return false
        }
        worker = CommandWorker { vsmmu_process_commands(model) }
        return true
    }

    private static func from(_ opaque: UnsafeMutableRawPointer?) -> Session {
        Unmanaged<Session>.fromOpaque(opaque!).takeUnretainedValue()
    }

    // MARK: Reader loop

    /// Serves the connection until the front end goes away, then tears down:
    /// backend channel closed, worker stopped, model destroyed, RAM unmapped.
    func run() {
        guard createModel(), let model else { return }
        defer { teardown(model) }
        // Bounded by the connection: every iteration consumes one message.
        while true {
            switch socket.receive() {
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

    private func teardown(_ model: OpaquePointer) {
        link.close()
        worker?.stop()
        worker = nil
        vsmmu_destroy(model)
        self.model = nil
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

    private func handle(_ m: Message, _ model: OpaquePointer) {
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
        case .getFeatures:
            var w = WireWriter(); w.u64(Session.offeredFeatures)
            socket.reply(to: h.request, payload: w.bytes)
        case .setFeatures:
            let f = r.u64()
            if f & ~Session.offeredFeatures != 0 {
                return protocolError(m, hasReply: true, errno: EINVAL, "feature bits 0x\(String(f, radix: 16)) not offered")
            }
            acknowledgedFeatures = f
            status(h.request, 0)
        case .getConfig:
            var w = WireWriter(); wireConfig(model).encode(into: &w)
            socket.reply(to: h.request, payload: w.bytes)
        case .setBackendChannel:
            link.setChannel(fd: m.fds[0])
            status(h.request, 0)
        case .addMemRegion:
            let region = WireMemRegion(&r)
            let rc = ram.add(region, fd: m.fds[0])
            _ = close(m.fds[0])
            if rc != 0 {
                log.log(.warning, kind: "mem-region",
                        "ADD_MEM_REGION 0x\(String(region.guestAddr, radix: 16)) size 0x\(String(region.size, radix: 16)) failed: errno \(-rc)")
            }
            status(h.request, rc)
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
            var w = WireWriter(); w.u64(vsmmu_mmio_read(model, a.offset, a.size))
            socket.reply(to: h.request, payload: w.bytes)
        case .mmioWrite:
            let a = WireMMIO(&r)
            guard Session.validMMIO(a) else {
                return protocolError(m, hasReply: hasReply, errno: EINVAL, "MMIO write of \(a.size) bytes at 0x\(String(a.offset, radix: 16))")
            }
            if vsmmu_mmio_write(model, a.offset, a.size, a.value) {
                if h.needsReply && acknowledgedFeatures & Wire.featureMMIOWriteSync != 0 {
                    // The front end services the backend channel until this
                    // reply, so SYNC round trips complete; if the worker is
                    // mid-pass, the model returns at once and the worker's
                    // pass goes round again.
                    vsmmu_process_commands(model)
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
            vsmmu_register_endpoint(model, e.sid, e.flags, e.pasidBits)
            link.registerEndpoint(e.sid)
            status(h.request, 0)
        case .translate:
            let t = WireTranslateRequest(&r)
            var req = vsmmu_translate_request(sid: t.sid, ssid: t.ssid, flags: t.flags, iova: t.iova)
            var res = vsmmu_translate_result()
            link.shadow.beginTranslation()
            vsmmu_translate(model, &req, &res)
            link.shadow.endTranslation(res.status == VSMMU_XLATE_OK ? FrontEndShadow.Entry(
                sid: t.sid,
                asid: res.tags & UInt16(VSMMU_TAG_ASID) != 0 ? res.asid : nil,
                vmid: res.tags & UInt16(VSMMU_TAG_VMID) != 0 ? res.vmid : nil,
                base: res.iova_base, sizeLog2: res.size_log2,
                ats: t.flags & UInt32(VSMMU_TR_ATS) != 0) : nil)
            var rep = WireTranslateReply()
            rep.status = res.status; rep.perm = res.perm; rep.iovaBase = res.iova_base; rep.paBase = res.pa_base
            rep.sizeLog2 = res.size_log2; rep.event = res.event; rep.asid = res.asid; rep.vmid = res.vmid; rep.tags = res.tags
            var w = WireWriter(); rep.encode(into: &w)
            socket.reply(to: h.request, payload: w.bytes)
        case .pageRequest:
            let p = WirePageRequest(&r)
            var req = vsmmu_pri_request(sid: p.sid, ssid: p.ssid, flags: p.flags, prg_index: p.prgIndex, addr: p.addr)
            // No *resp: an automatic response goes out as PAGE_RESPONSE.
            let outcome = vsmmu_page_request(model, &req, nil)
            var w = WireWriter(); w.i32(outcome); w.u32(0)
            socket.reply(to: h.request, payload: w.bytes)
        case .reset:
            vsmmu_reset(model)
            status(h.request, 0)
        }
    }

    static func validMMIO(_ a: WireMMIO) -> Bool {
        (a.size == 4 || a.size == 8) && a.offset < UInt64(VSMMU_MMIO_SIZE) && a.offset + UInt64(a.size) <= UInt64(VSMMU_MMIO_SIZE)
    }

    /// GET_CONFIG: the ID registers as the guest reads them, and the
    /// capabilities the front end needs for firmware tables.
    private func wireConfig(_ model: OpaquePointer) -> WireConfig {
        var c = WireConfig()
        c.idr = (0..<6).map { UInt32(truncatingIfNeeded: vsmmu_mmio_read(model, UInt64($0) * 4, 4)) }
        c.iidr = UInt32(truncatingIfNeeded: vsmmu_mmio_read(model, 0x18, 4))
        c.aidr = UInt32(truncatingIfNeeded: vsmmu_mmio_read(model, 0x1C, 4))
        c.caps = Session.capabilities(configuration)
        c.ssidBits = configuration.substreamIDBits
        c.sidBits = configuration.streamIDBits
        c.oasBits = configuration.outputAddressBits
        return c
    }

    static func capabilities(_ c: SMMUConfiguration) -> UInt32 {
        var caps: UInt32 = 0
        if c.stage1 { caps |= WireConfig.capStage1 }
        if c.stage2 { caps |= WireConfig.capStage2 }
        if c.ats { caps |= WireConfig.capATS }
        if c.pri { caps |= WireConfig.capPRI }
        if c.msi { caps |= WireConfig.capMSI }
        if c.sev { caps |= WireConfig.capSEV }
        if c.stallModel != .terminateOnly { caps |= WireConfig.capStall }
        if c.hyp { caps |= WireConfig.capHyp }
        if c.nested { caps |= WireConfig.capNested }
        return caps
    }
}
