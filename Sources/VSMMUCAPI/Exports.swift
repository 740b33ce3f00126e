import CVSMMU
import SMMU

// The functions of vsmmu.h, implemented over SMMUv3. The compiler checks
// each signature against the header (@c @implementation).

/// What a vsmmu_t points at.
final class ModelHandle {
    let model: SMMUv3
    let host: CallbackHostSignals
    init(model: SMMUv3, host: CallbackHostSignals) { self.model = model; self.host = host }
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

// MARK: Versioning (vsmmu.h, "Versioning")

enum ABI {
    static let version = UInt32(VSMMU_ABI_VERSION)
    static let configSize = MemoryLayout<vsmmu_config>.size
    /// VSMMU_CONFIG_SIZE_MIN: ABI 1's struct, frozen (appending fields
    /// grows sizeof, never this).
    static let configMinimum = 32
    static let callbacksSize = MemoryLayout<vsmmu_callbacks>.size
    /// VSMMU_CALLBACKS_SIZE_MIN: the callbacks up to stall_resolve.
    static let callbacksMinimum = MemoryLayout<vsmmu_callbacks>.offset(of: \vsmmu_callbacks.send_event)!

    /// A struct whose first field is its uint32_t size: the first `size`
    /// bytes over `defaults`, or why the size is not acceptable. Reads no
    /// byte past `size`.
    struct BadSize: Error { let message: String }

    static func read<T>(_ p: UnsafePointer<T>, name: String, minimum: Int, defaults: T) -> Result<T, BadSize> {
        let size = Int(UnsafeRawPointer(p).loadUnaligned(as: UInt32.self))
        let maximum = MemoryLayout<T>.size
        guard size >= minimum, size <= maximum else {
            let why = size < minimum ? "smaller than the minimum \(minimum)"
                : "larger than this library's \(maximum) (ABI \(version)): built against a newer vsmmu.h?"
            return .failure(BadSize(message: "\(name).size \(size) is \(why)"))
        }
        var value = defaults
        withUnsafeMutableBytes(of: &value) { dst in
            dst.copyMemory(from: UnsafeRawBufferPointer(start: UnsafeRawPointer(p), count: size))
        }
        return .success(value)
    }
}

@c @implementation
public func vsmmu_abi_version() -> UInt32 { ABI.version }

@c @implementation
public func vsmmu_config_init(_ cfg: UnsafeMutablePointer<vsmmu_config>?, _ size: Int) -> Bool {
    guard let cfg, size >= ABI.configMinimum, size <= ABI.configSize else { return false }
    var c = SMMUConfiguration().cConfig
    c.size = UInt32(size)
    withUnsafeBytes(of: &c) { src in
        UnsafeMutableRawPointer(cfg).copyMemory(from: src.baseAddress!, byteCount: size)
    }
    return true
}

@c @implementation
public func vsmmu_create(_ cfg: UnsafePointer<vsmmu_config>?, _ cb: UnsafePointer<vsmmu_callbacks>?,
                         _ err: UnsafeMutablePointer<CChar>?, _ errlen: Int) -> OpaquePointer? {
    func fail(_ why: String) -> OpaquePointer? {
        copyError("vsmmu_create: \(why)", to: err, length: errlen)
        return nil
    }
    guard let cb else { return fail("callbacks with mem_read are required") }
    let callbacks: vsmmu_callbacks
    switch ABI.read(cb, name: "vsmmu_callbacks", minimum: ABI.callbacksMinimum, defaults: vsmmu_callbacks()) {
    case .success(let c): callbacks = c
    case .failure(let bad): return fail(bad.message)
    }
    guard callbacks.mem_read != nil else { return fail("callbacks with mem_read are required") }
    var configuration = SMMUConfiguration()
    if let cfg {
        switch ABI.read(cfg, name: "vsmmu_config", minimum: ABI.configMinimum, defaults: SMMUConfiguration().cConfig) {
        case .success(let c):
            let size = Int(c.size)   // checked by ABI.read
            if let why = CConfigField.invalidField(in: UnsafeRawBufferPointer(start: UnsafeRawPointer(cfg), count: size)) {
                return fail(why)
            }
            configuration = SMMUConfiguration(c)
        case .failure(let bad): return fail(bad.message)
        }
    }
    let host = CallbackHostSignals(callbacks)
    do {
        let model = try SMMUv3(configuration: configuration, memory: CallbackGuestMemory(callbacks), host: host,
                               checking: CheckReportCallback(callbacks)?.options)
        return OpaquePointer(Unmanaged.passRetained(ModelHandle(model: model, host: host)).toOpaque())
    } catch {
        return fail("\(error)")
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
public func vsmmu_translate_ahead(_ smmu: OpaquePointer?, _ req: UnsafePointer<vsmmu_translate_request>?,
                                  _ res: UnsafeMutablePointer<vsmmu_translate_result>?,
                                  _ ahead: UnsafeMutablePointer<vsmmu_translate_result>?, _ max: Int) -> Int {
    guard let res else { return 0 }
    guard let h = handle(smmu), let req else {
        res.pointee = vsmmu_translate_result(.fault(TranslationFault(event: nil, type: nil)))
        return 0
    }
    let request = TranslationRequest(req.pointee)
    let outcome = h.model.translate(request)
    res.pointee = vsmmu_translate_result(outcome)
    guard let ahead, max > 0, case .translated(let first) = outcome else { return 0 }
    let blocks = h.model.translations(after: first, of: request, limit: max)
    for (i, t) in blocks.enumerated() { ahead[i] = vsmmu_translate_result(.translated(t)) }
    return blocks.count
}

@c @implementation
public func vsmmu_page_request(_ smmu: OpaquePointer?, _ req: UnsafePointer<vsmmu_pri_request>?,
                               _ resp: UnsafeMutablePointer<vsmmu_page_response>?) -> Int32 {
    guard let h = handle(smmu), let req else { return Int32(VSMMU_PRI_DROPPED) }
    // Delivered once: in *resp if given, else through page_response.
    switch h.model.pageRequest(PageRequest(req.pointee), deliverResponse: resp == nil) {
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
    guard let h = handle(smmu) else { return }
    h.host.register(streamID: sid)
    h.model.registerEndpoint(Endpoint(
        streamID: sid, ats: flags & UInt32(VSMMU_EP_ATS) != 0, pri: flags & UInt32(VSMMU_EP_PRI) != 0,
        pasidBits: pasidBits))
}

@c @implementation
public func vsmmu_reset(_ smmu: OpaquePointer?) {
    handle(smmu)?.model.reset()
}
