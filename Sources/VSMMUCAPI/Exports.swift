import CVSMMU
import SMMU

// The functions of vsmmu.h, implemented over SMMUv3. The compiler checks
// each signature against the header (@c @implementation).

/// What a vsmmu_t points at.
final class ModelHandle {
    let model: SMMUv3
    init(model: SMMUv3) { self.model = model }
}

@inline(__always)
private func handle(_ p: OpaquePointer?) -> ModelHandle? {
    guard let p else { return nil }
    return Unmanaged<ModelHandle>.fromOpaque(UnsafeRawPointer(p)).takeUnretainedValue()
}

private func copyError(_ message: String, to err: UnsafeMutablePointer<CChar>?, length: Int) {
    guard let err, length > 0 else { return }
    let bytes = Array(message.utf8.prefix(length - 1))
    for (i, b) in bytes.enumerated() { err[i] = CChar(bitPattern: b) }
    err[bytes.count] = 0
}

@c @implementation
public func vsmmu_config_default(_ cfg: UnsafeMutablePointer<vsmmu_config>?) {
    cfg?.pointee = SMMUConfiguration().cConfig
}

@c @implementation
public func vsmmu_create(_ cfg: UnsafePointer<vsmmu_config>?, _ cb: UnsafePointer<vsmmu_callbacks>?,
                         _ err: UnsafeMutablePointer<CChar>?, _ errlen: Int) -> OpaquePointer? {
    guard let cb, cb.pointee.mem_read != nil else {
        copyError("vsmmu_create: callbacks with mem_read are required", to: err, length: errlen)
        return nil
    }
    let configuration = cfg.map { SMMUConfiguration($0.pointee) } ?? SMMUConfiguration()
    do {
        let model = try SMMUv3(configuration: configuration, memory: CallbackGuestMemory(cb.pointee),
                               host: CallbackHostSignals(cb.pointee))
        return OpaquePointer(Unmanaged.passRetained(ModelHandle(model: model)).toOpaque())
    } catch {
        copyError("vsmmu_create: \(error)", to: err, length: errlen)
        return nil
    }
}

@c @implementation
public func vsmmu_destroy(_ smmu: OpaquePointer?) {
    guard let smmu else { return }
    Unmanaged<ModelHandle>.fromOpaque(UnsafeRawPointer(smmu)).release()
}

@c @implementation
public func vsmmu_mmio_read(_ smmu: OpaquePointer?, _ offset: UInt64, _ size: UInt32) -> UInt64 {
    handle(smmu)?.model.read(offset: offset, size: Int(size)) ?? 0
}

@c @implementation
public func vsmmu_mmio_write(_ smmu: OpaquePointer?, _ offset: UInt64, _ size: UInt32, _ value: UInt64) -> Bool {
    handle(smmu)?.model.write(offset: offset, size: Int(size), value: value).contains(.commandsPending) ?? false
}

@c @implementation
public func vsmmu_process_commands(_ smmu: OpaquePointer?) {
    handle(smmu)?.model.processCommands()
}

@c @implementation
public func vsmmu_translate(_ smmu: OpaquePointer?, _ req: UnsafePointer<vsmmu_translate_request>?,
                            _ res: UnsafeMutablePointer<vsmmu_translate_result>?) {
    guard let res else { return }
    guard let h = handle(smmu), let req else {
        res.pointee = vsmmu_translate_result(.fault(TranslationFault(event: nil, type: nil)))
        return
    }
    res.pointee = vsmmu_translate_result(h.model.translate(TranslationRequest(req.pointee)))
}

@c @implementation
public func vsmmu_page_request(_ smmu: OpaquePointer?, _ req: UnsafePointer<vsmmu_pri_request>?,
                               _ resp: UnsafeMutablePointer<vsmmu_page_response>?) -> Int32 {
    guard let h = handle(smmu), let req else { return Int32(VSMMU_PRI_DROPPED) }
    switch h.model.pageRequest(PageRequest(req.pointee)) {
    case .queued:
        return Int32(VSMMU_PRI_QUEUED)
    case .autoResponded(let r):
        resp?.pointee = vsmmu_page_response(r)
        return Int32(VSMMU_PRI_ANSWERED)
    case .dropped:
        return Int32(VSMMU_PRI_DROPPED)
    }
}

@c @implementation
public func vsmmu_register_endpoint(_ smmu: OpaquePointer?, _ sid: UInt32, _ flags: UInt32, _ pasidBits: UInt8) {
    handle(smmu)?.model.registerEndpoint(Endpoint(
        streamID: sid, ats: flags & UInt32(VSMMU_EP_ATS) != 0, pri: flags & UInt32(VSMMU_EP_PRI) != 0,
        pasidBits: pasidBits))
}

@c @implementation
public func vsmmu_reset(_ smmu: OpaquePointer?) {
    handle(smmu)?.model.reset()
}
