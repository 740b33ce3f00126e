import CVSMMU
import SMMU

// The wire encodings of the model's types (docs/protocol.md), one step each
// way: a request payload becomes the model's request, the model's answer or
// signal becomes a payload. Constants are the protocol's, not vsmmu.h's.
// Addresses are raw on the wire and typed in the model; they convert here
// (and in BackendLink's MSI and MappedGuestRAM's regions).

extension WireTranslateRequest {
    public static let ssv = UInt32(VSMMU_TR_SSV), write = UInt32(VSMMU_TR_WRITE)
    public static let exec = UInt32(VSMMU_TR_EXEC), priv = UInt32(VSMMU_TR_PRIV)
    public static let ats = UInt32(VSMMU_TR_ATS)

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
    public static let ok = Int32(VSMMU_XLATE_OK), fault = Int32(VSMMU_XLATE_FAULT)
    public static let stalled = Int32(VSMMU_XLATE_STALLED)
    public static let tagASID = UInt16(VSMMU_TAG_ASID), tagVMID = UInt16(VSMMU_TAG_VMID)
    public static let tagBypass = UInt16(VSMMU_TAG_BYPASS), tagGlobal = UInt16(VSMMU_TAG_GLOBAL)
    public static let permRead = UInt32(VSMMU_PERM_READ), permWrite = UInt32(VSMMU_PERM_WRITE)
    public static let permExec = UInt32(VSMMU_PERM_EXEC), permPRead = UInt32(VSMMU_PERM_PREAD)
    public static let permPWrite = UInt32(VSMMU_PERM_PWRITE), permPExec = UInt32(VSMMU_PERM_PEXEC)

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
    public static let ssv = UInt32(VSMMU_PR_SSV), read = UInt32(VSMMU_PR_READ)
    public static let write = UInt32(VSMMU_PR_WRITE), exec = UInt32(VSMMU_PR_EXEC)
    public static let priv = UInt32(VSMMU_PR_PRIV), last = UInt32(VSMMU_PR_LAST)

    var model: PageRequest {
        func has(_ bit: UInt32) -> Bool { flags & bit != 0 }
        return PageRequest(streamID: sid, substreamID: has(Self.ssv) ? ssid : nil, address: InputAddress(addr),
                           read: has(Self.read), write: has(Self.write), execute: has(Self.exec),
                           privileged: has(Self.priv), last: has(Self.last), prgIndex: prgIndex & 0x1FF)
    }

    /// `vsmmu_page_rep.outcome`.
    static func outcome(_ o: PageRequestOutcome) -> Int32 {
        switch o {
        case .queued: Int32(VSMMU_PR_QUEUED)
        case .autoResponded: Int32(VSMMU_PR_ANSWERED)
        case .dropped: Int32(VSMMU_PR_DROPPED)
        }
    }
}

extension WireEndpoint {
    var model: Endpoint {
        Endpoint(streamID: sid, ats: flags & Self.ats != 0, pri: flags & Self.pri != 0, pasidBits: pasidBits)
    }
}

extension WireInvalidate {
    public static let all = UInt32(VSMMU_INV_ALL), streams = UInt32(VSMMU_INV_STREAMS)
    public static let asidKind = UInt32(VSMMU_INV_ASID), vmidKind = UInt32(VSMMU_INV_VMID)
    public static let address = UInt32(VSMMU_INV_ADDRESS), ipa = UInt32(VSMMU_INV_IPA)
    public static let asidValid = UInt32(VSMMU_INV_ASID_VALID), vmidValid = UInt32(VSMMU_INV_VMID_VALID)

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
    public static let ssidValid = UInt32(VSMMU_SSID_VALID)
    /// CMD_ATC_INV.Global with a SubstreamID (4.5.1): global ATC entries
    /// of the endpoint go too.
    public static let global = UInt32(VSMMU_ATC_INV_GLOBAL)

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
    public static let ssidValid = UInt32(VSMMU_SSID_VALID)

    init(_ r: PageResponse) {
        self.init()
        sid = r.streamID
        if let s = r.substreamID { ssid = s; flags = Self.ssidValid }
        prgIndex = r.prgIndex; code = r.code.rawValue
    }
}
