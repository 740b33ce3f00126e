// The wire format, defined once in CShims/include/vsmmu-protocol.h (the
// QEMU series carries the same file): constants and sizes come from it;
// payloads are encoded and decoded field by field, little-endian (no struct
// punning), and WireLayoutTests holds each coder to the C struct's layout.
import CVSMMU
import SMMU

public enum Wire {
    public static let version = UInt32(VSMMU_VERSION)
    public static let versionMask = UInt32(VSMMU_VERSION_MASK)
    public static let flagReply = UInt32(VSMMU_FLAG_REPLY)
    public static let flagNeedReply = UInt32(VSMMU_FLAG_NEED_REPLY)
    public static let maxPayload = Int(VSMMU_MAX_PAYLOAD)
    public static let headerSize = MemoryLayout<VSMMUMsgHeader>.size
    public static let syncTimeoutMs: Int32 = 5000
    /// The backend's default busy-poll budget (vsmmu --poll-us).
    public static let defaultPollMicroseconds: UInt32 = 50
    /// The most the reader's adaptive poll grows to (vsmmu --poll-max-us).
    public static let defaultPollMaxMicroseconds: UInt32 = 1000
    /// Feature bit: an MMIO_WRITE with NEED_REPLY is answered after the
    /// commands it made pending were processed; the front end services the
    /// backend channel while it waits (docs/protocol.md, "Features").
    public static let featureMMIOWriteSync = UInt64(VSMMU_F_MMIO_WRITE_SYNC)
    /// Feature bit: SET_STATE_REGION (docs/protocol.md, docs/backend.md "Restart").
    public static let featureStateRegion = UInt64(VSMMU_F_STATE_REGION)
    public static let featureInOrderSync = UInt64(VSMMU_F_IN_ORDER_SYNC)
    /// Feature bit: TRANSLATE_AHEAD (docs/protocol.md, "Translation").
    public static let featureTranslateAhead = UInt64(VSMMU_F_TRANSLATE_AHEAD)
    /// The front end's translation cache is a shared region this side fills.
    public static let featureSharedTLB = UInt64(VSMMU_F_SHARED_TLB)
    /// Register writes the front end may post (GET_POSTED_WRITES).
    public static let featurePostedWrites = UInt64(VSMMU_F_POSTED_WRITES)
    public static let postedMax = Int(VSMMU_POSTED_MAX)
    /// The most translations a TRANSLATE_AHEAD reply carries after the first.
    public static let aheadMax = Int(VSMMU_AHEAD_MAX)
    public static let stateRegionSize = Int(VSMMU_STATE_REGION_SIZE)
}

/// Front-end channel requests.
public enum FrontRequest: UInt32, Sendable, CaseIterable {
    case getFeatures = 1, setFeatures, getConfig, setBackendChannel, addMemRegion, remMemRegion
    case mmioRead, mmioWrite, registerEndpoint, translate, pageRequest, reset, setFrontEndChannel
    case setStateRegion, translateAhead, setTLBRegion, getPostedWrites

    /// Exact payload size of the request.
    public var payloadSize: Int {
        switch self {
        case .getFeatures, .getConfig, .setBackendChannel, .reset, .setFrontEndChannel, .setStateRegion,
             .setTLBRegion, .getPostedWrites: 0
        case .setFeatures: MemoryLayout<UInt64>.size
        case .addMemRegion, .remMemRegion: MemoryLayout<VSMMUMemRegion>.size
        case .mmioRead, .mmioWrite: MemoryLayout<VSMMUMmio>.size
        case .translate, .translateAhead: MemoryLayout<VSMMUTranslateReq>.size
        case .pageRequest: MemoryLayout<VSMMUPageReq>.size
        case .registerEndpoint: MemoryLayout<VSMMUEndpointMsg>.size
        }
    }

    /// Descriptors the request carries.
    public var fdCount: Int {
        switch self {
        case .setBackendChannel, .addMemRegion, .setFrontEndChannel, .setStateRegion, .setTLBRegion: 1
        default: 0
        }
    }
}

/// Backend channel requests.
public enum BackRequest: UInt32, Sendable, CaseIterable {
    case irq = 1, msi, invalidate, atcInvalidate, pageResponse, sync, stallResolve

    public var payloadSize: Int {
        switch self {
        case .irq: MemoryLayout<UInt32>.size
        case .msi: MemoryLayout<VSMMUMsi>.size
        case .invalidate: MemoryLayout<VSMMUInval>.size
        case .atcInvalidate: MemoryLayout<VSMMUAtcInv>.size
        case .pageResponse: MemoryLayout<VSMMUPageResp>.size
        case .sync: 0
        case .stallResolve: MemoryLayout<VSMMUStall>.size
        }
    }
}

public struct MessageHeader: Sendable, Equatable {
    public var request: UInt32
    public var flags: UInt32
    public var size: UInt32
    public init(request: UInt32, flags: UInt32 = Wire.version, size: UInt32) {
        self.request = request; self.flags = flags; self.size = size
    }
    public var isReply: Bool { flags & Wire.flagReply != 0 }
    public var needsReply: Bool { flags & Wire.flagNeedReply != 0 }
    public var versionOK: Bool { flags & Wire.versionMask == Wire.version }

    public func encode(into w: inout WireWriter) { w.u32(request); w.u32(flags); w.u32(size) }
    public init(decoding bytes: [UInt8]) {
        var r = WireReader(bytes)
        request = r.u32(); flags = r.u32(); size = r.u32()
    }
}

/// The wire's byte order is the model's (Sources/SMMU/Support/ByteCoding.swift).
public typealias WireWriter = ByteWriter
public typealias WireReader = ByteReader

// MARK: Payloads

public struct WireConfig: Sendable, Equatable {
    public var idr: [UInt32] = Array(repeating: 0, count: 6)
    public var iidr: UInt32 = 0, aidr: UInt32 = 0
    public var caps: UInt32 = 0
    public var ssidBits: UInt8 = 0, sidBits: UInt8 = 0, oasBits: UInt8 = 0
    public static let size = MemoryLayout<VSMMUConfig>.size
    public static let capStage1 = UInt32(VSMMU_CAP_STAGE1), capStage2 = UInt32(VSMMU_CAP_STAGE2)
    public static let capATS = UInt32(VSMMU_CAP_ATS), capPRI = UInt32(VSMMU_CAP_PRI)
    public static let capMSI = UInt32(VSMMU_CAP_MSI), capSEV = UInt32(VSMMU_CAP_SEV)
    public static let capStall = UInt32(VSMMU_CAP_STALL), capHyp = UInt32(VSMMU_CAP_HYP)
    public static let capNested = UInt32(VSMMU_CAP_NESTED)
    /// VSMMU_CAP_* by capability name (SMMUConfiguration.capabilities).
    public static let capabilityBits: [String: UInt32] = [
        "stage1": capStage1, "stage2": capStage2, "ats": capATS, "pri": capPRI, "msi": capMSI,
        "sev": capSEV, "stall": capStall, "hyp": capHyp, "nested": capNested,
    ]
    public init() {}
    public func encode(into w: inout WireWriter) {
        for i in 0..<6 { w.u32(i < idr.count ? idr[i] : 0) }
        w.u32(iidr); w.u32(aidr); w.u32(caps)
        w.u8(ssidBits); w.u8(sidBits); w.u8(oasBits); w.u8(0)
    }
    public init(_ r: inout WireReader) {
        idr = (0..<6).map { _ in r.u32() }
        iidr = r.u32(); aidr = r.u32(); caps = r.u32()
        ssidBits = r.u8(); sidBits = r.u8(); oasBits = r.u8(); r.skip(1)
    }
}

public struct WireMemRegion: Sendable, Equatable {
    public var guestAddr: UInt64, size: UInt64, mmapOffset: UInt64
    public init(guestAddr: UInt64, size: UInt64, mmapOffset: UInt64 = 0) {
        self.guestAddr = guestAddr; self.size = size; self.mmapOffset = mmapOffset
    }
    public init(_ r: inout WireReader) { guestAddr = r.u64(); size = r.u64(); mmapOffset = r.u64() }
    public func encode(into w: inout WireWriter) { w.u64(guestAddr); w.u64(size); w.u64(mmapOffset) }
}

public struct WireMMIO: Sendable, Equatable {
    public var offset: UInt64, size: UInt32, value: UInt64
    public init(offset: UInt64, size: UInt32, value: UInt64 = 0) {
        self.offset = offset; self.size = size; self.value = value
    }
    public init(_ r: inout WireReader) { offset = r.u64(); size = r.u32(); r.skip(4); value = r.u64() }
    public func encode(into w: inout WireWriter) { w.u64(offset); w.u32(size); w.u32(0); w.u64(value) }
}

public struct WireEndpoint: Sendable, Equatable {
    public var sid: UInt32, flags: UInt32, pasidBits: UInt8
    public static let ats = UInt32(VSMMU_EP_ATS), pri = UInt32(VSMMU_EP_PRI)
    public init(sid: UInt32, flags: UInt32, pasidBits: UInt8) {
        self.sid = sid; self.flags = flags; self.pasidBits = pasidBits
    }
    public init(_ r: inout WireReader) { sid = r.u32(); flags = r.u32(); pasidBits = r.u8(); r.skip(7) }
    public func encode(into w: inout WireWriter) { w.u32(sid); w.u32(flags); w.u8(pasidBits); w.zeros(7) }
}

public struct WireTranslateRequest: Sendable, Equatable {
    public var sid: UInt32, ssid: UInt32, flags: UInt32, iova: UInt64
    public init(sid: UInt32, ssid: UInt32 = 0, flags: UInt32 = 0, iova: UInt64) {
        self.sid = sid; self.ssid = ssid; self.flags = flags; self.iova = iova
    }
    public init(_ r: inout WireReader) { sid = r.u32(); ssid = r.u32(); flags = r.u32(); r.skip(4); iova = r.u64() }
    public func encode(into w: inout WireWriter) { w.u32(sid); w.u32(ssid); w.u32(flags); w.u32(0); w.u64(iova) }
}

public struct WireTranslateReply: Sendable, Equatable {
    public var status: Int32 = 0, perm: UInt32 = 0
    public var iovaBase: UInt64 = 0, paBase: UInt64 = 0
    public var sizeLog2: UInt8 = 0, event: UInt8 = 0
    public var asid: UInt16 = 0, vmid: UInt16 = 0, tags: UInt16 = 0
    public static let size = MemoryLayout<VSMMUTranslateRep>.size
    public init() {}
    public init(_ r: inout WireReader) {
        status = r.i32(); perm = r.u32(); iovaBase = r.u64(); paBase = r.u64()
        sizeLog2 = r.u8(); event = r.u8(); asid = r.u16(); vmid = r.u16(); tags = r.u16()
    }
    public func encode(into w: inout WireWriter) {
        w.i32(status); w.u32(perm); w.u64(iovaBase); w.u64(paBase)
        w.u8(sizeLog2); w.u8(event); w.u16(asid); w.u16(vmid); w.u16(tags)
    }
}

/// GET_POSTED_WRITES' reply: the register offsets whose writes a front end
/// may post (unused slots are zero).
public struct WirePostedWrites: Sendable, Equatable {
    public var offsets: [UInt64]
    public static let size = MemoryLayout<VSMMUPostedWrites>.size
    public init(offsets: [UInt64]) {
        precondition(offsets.count <= Wire.postedMax)
        self.offsets = offsets
    }
    /// Decodes a reply; `count` beyond `Wire.postedMax` reads as the maximum.
    public init(_ r: inout WireReader) {
        let count = min(Int(r.u32()), Wire.postedMax)
        let all = (0..<Wire.postedMax).map { _ in UInt64(r.u32()) }
        offsets = Array(all.prefix(count))
    }
    public func encode(into w: inout WireWriter) {
        w.u32(UInt32(offsets.count))
        for o in offsets { w.u32(UInt32(o)) }
        w.zeros((Wire.postedMax - offsets.count) * 4)
    }
}

/// TRANSLATE_AHEAD's reply: the translation asked for and up to
/// `Wire.aheadMax` more (unused slots are zero).
public struct WireTranslateAheadReply: Sendable, Equatable {
    public var first: WireTranslateReply
    public var ahead: [WireTranslateReply]
    /// With VSMMU_F_SHARED_TLB, the shared cache's generation (bits 31:0)
    /// before the translation was made.
    public var tlbGeneration: UInt32
    public static let size = MemoryLayout<VSMMUTranslateAheadRep>.size
    public init(first: WireTranslateReply, ahead: [WireTranslateReply] = [], tlbGeneration: UInt32 = 0) {
        precondition(ahead.count <= Wire.aheadMax)
        self.first = first; self.ahead = ahead; self.tlbGeneration = tlbGeneration
    }
    /// Decodes a reply; `count` beyond `Wire.aheadMax` reads as the maximum.
    public init(_ r: inout WireReader) {
        first = WireTranslateReply(&r)
        let count = min(Int(r.u32()), Wire.aheadMax)
        tlbGeneration = r.u32()
        var ahead: [WireTranslateReply] = []
        for i in 0..<Wire.aheadMax {
            let rep = WireTranslateReply(&r)
            if i < count { ahead.append(rep) }
        }
        self.ahead = ahead
    }
    public func encode(into w: inout WireWriter) {
        first.encode(into: &w)
        w.u32(UInt32(ahead.count)); w.u32(tlbGeneration)
        for rep in ahead { rep.encode(into: &w) }
        w.zeros((Wire.aheadMax - ahead.count) * WireTranslateReply.size)
    }
}

public struct WirePageRequest: Sendable, Equatable {
    public var sid: UInt32, ssid: UInt32, flags: UInt32, prgIndex: UInt16, addr: UInt64
    public init(sid: UInt32, ssid: UInt32 = 0, flags: UInt32, prgIndex: UInt16, addr: UInt64) {
        self.sid = sid; self.ssid = ssid; self.flags = flags; self.prgIndex = prgIndex; self.addr = addr
    }
    public init(_ r: inout WireReader) {
        sid = r.u32(); ssid = r.u32(); flags = r.u32(); prgIndex = r.u16(); r.skip(2); addr = r.u64()
    }
    public func encode(into w: inout WireWriter) {
        w.u32(sid); w.u32(ssid); w.u32(flags); w.u16(prgIndex); w.u16(0); w.u64(addr)
    }
}

public struct WireInvalidate: Sendable, Equatable {
    public var kind: UInt32 = 0, flags: UInt32 = 0, sidFirst: UInt32 = 0, sidCount: UInt32 = 0
    public var asid: UInt16 = 0, vmid: UInt16 = 0
    public var addr: UInt64 = 0, size: UInt64 = 0
    public init() {}
    public init(_ r: inout WireReader) {
        kind = r.u32(); flags = r.u32(); sidFirst = r.u32(); sidCount = r.u32()
        asid = r.u16(); vmid = r.u16(); r.skip(4); addr = r.u64(); size = r.u64()
    }
    public func encode(into w: inout WireWriter) {
        w.u32(kind); w.u32(flags); w.u32(sidFirst); w.u32(sidCount)
        w.u16(asid); w.u16(vmid); w.u32(0); w.u64(addr); w.u64(size)
    }
}

public struct WireATCInvalidate: Sendable, Equatable {
    public var sid: UInt32 = 0, ssid: UInt32 = 0, flags: UInt32 = 0
    public var addr: UInt64 = 0, size: UInt64 = 0
    public init() {}
    public init(_ r: inout WireReader) {
        sid = r.u32(); ssid = r.u32(); flags = r.u32(); r.skip(4); addr = r.u64(); size = r.u64()
    }
    public func encode(into w: inout WireWriter) {
        w.u32(sid); w.u32(ssid); w.u32(flags); w.u32(0); w.u64(addr); w.u64(size)
    }
}

public struct WirePageResponse: Sendable, Equatable {
    public var sid: UInt32 = 0, ssid: UInt32 = 0, flags: UInt32 = 0, prgIndex: UInt16 = 0, code: UInt8 = 0
    public init() {}
    public init(_ r: inout WireReader) {
        sid = r.u32(); ssid = r.u32(); flags = r.u32(); prgIndex = r.u16(); code = r.u8(); r.skip(1)
    }
    public func encode(into w: inout WireWriter) {
        w.u32(sid); w.u32(ssid); w.u32(flags); w.u16(prgIndex); w.u8(code); w.u8(0)
    }
}

public struct WireStall: Sendable, Equatable {
    public var sid: UInt32 = 0, stag: UInt16 = 0, retry: UInt8 = 0
    public init() {}
    public init(_ r: inout WireReader) { sid = r.u32(); stag = r.u16(); retry = r.u8(); r.skip(1) }
    public func encode(into w: inout WireWriter) { w.u32(sid); w.u16(stag); w.u8(retry); w.u8(0) }
}

public struct WireMSI: Sendable, Equatable {
    public var addr: UInt64 = 0, data: UInt32 = 0
    public init() {}
    public init(_ r: inout WireReader) { addr = r.u64(); data = r.u32(); r.skip(4) }
    public func encode(into w: inout WireWriter) { w.u64(addr); w.u32(data); w.u32(0) }
}
