import SMMU

// The wire encodings of the model's types (docs/protocol.md), one step each
// way: a request payload becomes the model's request, the model's answer or
// signal becomes a payload. Constants are the protocol's, not vsmmu.h's.
// Addresses are raw on the wire and typed in the model; they convert here
// (and in BackendLink's MSI and MappedGuestRAM's regions).

extension WireTranslateRequest {
    public static let ssv: UInt32 = 1 << 0, write: UInt32 = 1 << 1, exec: UInt32 = 1 << 2
    public static let priv: UInt32 = 1 << 3, ats: UInt32 = 1 << 4

    var model: TranslationRequest {
        var access: AccessType = []
        if flags & Self.write != 0 { access.insert(.write) }
        if flags & Self.exec != 0 { access.insert(.instruction) }
        if flags & Self.priv != 0 { access.insert(.privileged) }
        return TranslationRequest(streamID: sid, substreamID: flags & Self.ssv != 0 ? ssid : nil,
                                  address: InputAddress(iova), access: access, ats: flags & Self.ats != 0)
    }
}

extension WireTranslateReply {
    public static let ok: Int32 = 0, fault: Int32 = 1, stalled: Int32 = 2
    public static let tagASID: UInt16 = 1 << 0, tagVMID: UInt16 = 1 << 1, tagBypass: UInt16 = 1 << 2
    public static let tagGlobal: UInt16 = 1 << 3
    public static let permRead: UInt32 = 1 << 0, permWrite: UInt32 = 1 << 1, permExec: UInt32 = 1 << 2
    public static let permPRead: UInt32 = 1 << 3, permPWrite: UInt32 = 1 << 4, permPExec: UInt32 = 1 << 5

    init(_ outcome: TranslationOutcome) {
        self.init()
        switch outcome {
        case .translated(let t):
            status = Self.ok
            let bits: [(Permissions, UInt32)] = [
                (.read, Self.permRead), (.write, Self.permWrite), (.execute, Self.permExec),
                (.privilegedRead, Self.permPRead), (.privilegedWrite, Self.permPWrite),
                (.privilegedExecute, Self.permPExec),
            ]
            perm = bits.reduce(0) { t.permissions.contains($1.0) ? $0 | $1.1 : $0 }
            // paBase: a PA, or the IPA of a split-stage ATS answer.
            iovaBase = t.inputBase.raw; paBase = t.outputBase.raw; sizeLog2 = t.sizeLog2
            if let a = t.asid { asid = a; tags |= Self.tagASID }
            if let v = t.vmid { vmid = v; tags |= Self.tagVMID }
            if t.bypass { tags |= Self.tagBypass }
            if t.global { tags |= Self.tagGlobal }
        case .fault(let f):
            status = f.stalled ? Self.stalled : Self.fault
            event = f.type?.rawValue ?? f.event?.type.rawValue ?? 0
            // A stalled transaction's STAG travels in perm: the front end
            // waits for STALL_RESOLVE naming it.
            if f.stalled { perm = UInt32(f.stag) }
        }
    }
}

extension WirePageRequest {
    public static let ssv: UInt32 = 1 << 0, read: UInt32 = 1 << 1, write: UInt32 = 1 << 2
    public static let exec: UInt32 = 1 << 3, priv: UInt32 = 1 << 4, last: UInt32 = 1 << 5

    var model: PageRequest {
        func has(_ bit: UInt32) -> Bool { flags & bit != 0 }
        return PageRequest(streamID: sid, substreamID: has(Self.ssv) ? ssid : nil, address: InputAddress(addr),
                           read: has(Self.read), write: has(Self.write), execute: has(Self.exec),
                           privileged: has(Self.priv), last: has(Self.last), prgIndex: prgIndex & 0x1FF)
    }

    /// `vsmmu_page_rep.outcome`.
    static func outcome(_ o: PageRequestOutcome) -> Int32 {
        switch o {
        case .queued: 0
        case .autoResponded: 1
        case .dropped: 2
        }
    }
}

extension WireEndpoint {
    var model: Endpoint {
        Endpoint(streamID: sid, ats: flags & Self.ats != 0, pri: flags & Self.pri != 0, pasidBits: pasidBits)
    }
}

extension WireInvalidate {
    public static let all: UInt32 = 0, streams: UInt32 = 1, asidKind: UInt32 = 2, vmidKind: UInt32 = 3
    public static let address: UInt32 = 4, ipa: UInt32 = 5
    public static let asidValid: UInt32 = 1 << 0, vmidValid: UInt32 = 1 << 1

    /// The INVALIDATE payload of a translation-cache invalidation (nil for
    /// an ATC invalidation, which travels as ATC_INV).
    init?(_ inv: HostInvalidation) {
        self.init()
        func tag(asid: UInt16?, vmid: UInt16?) {
            if let asid { self.asid = asid; flags |= Self.asidValid }
            if let vmid { self.vmid = vmid; flags |= Self.vmidValid }
        }
        switch inv {
        case .all:
            kind = Self.all
        case .streams(let first, let count):
            kind = Self.streams; sidFirst = first; sidCount = count
        case .asid(let vmid, let asid):
            kind = Self.asidKind; tag(asid: asid, vmid: vmid)
        case .vmid(let vmid):
            kind = Self.vmidKind; tag(asid: nil, vmid: vmid)
        case .address(let vmid, let asid, let address, let size):
            kind = Self.address; tag(asid: asid, vmid: vmid); addr = address; self.size = size
        case .ipa(let vmid, let address, let size):
            kind = Self.ipa; tag(asid: nil, vmid: vmid); addr = address; self.size = size
        case .atc:
            return nil
        }
    }
}

extension WireATCInvalidate {
    public static let ssidValid: UInt32 = 1 << 0
    /// CMD_ATC_INV.Global with a SubstreamID (4.5.1): global ATC entries
    /// of the endpoint go too.
    public static let global: UInt32 = 1 << 1

    init(streamID: UInt32, substreamID: UInt32?, address: UInt64, size: UInt64, global: Bool = false) {
        self.init()
        sid = streamID
        if let substreamID {
            ssid = substreamID; flags = Self.ssidValid
            if global { flags |= Self.global }
        }
        addr = address; self.size = size
    }
}

extension WirePageResponse {
    public static let ssidValid: UInt32 = 1 << 0

    init(_ r: PageResponse) {
        self.init()
        sid = r.streamID
        if let s = r.substreamID { ssid = s; flags = Self.ssidValid }
        prgIndex = r.prgIndex; code = r.code.rawValue
    }
}
