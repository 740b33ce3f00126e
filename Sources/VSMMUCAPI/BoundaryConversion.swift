import CVSMMU
import SMMU

// Conversions between the model's Swift types and the C structs of vsmmu.h.
// Addresses are typed in Swift (InputAddress, IntermediateAddress,
// PhysicalAddress) and raw uint64_t in C: they convert here and in the
// callbacks, nowhere else.

extension vsmmu_invalidation {
    public init(_ inv: HostInvalidation) {
        self.init()
        func tags(vmid: UInt16?, asid: UInt16?) -> UInt32 {
            (asid != nil ? UInt32(VSMMU_INV_ASID_VALID) : 0) | (vmid != nil ? UInt32(VSMMU_INV_VMID_VALID) : 0)
        }
        switch inv {
        case .all:
            kind = UInt32(VSMMU_INV_ALL)
        case .streams(let first, let count):
            kind = UInt32(VSMMU_INV_STREAMS); sid_first = first; sid_count = count
        case .asid(let vmid, let asid):
            kind = UInt32(VSMMU_INV_ASID); flags = tags(vmid: vmid, asid: asid)
            self.asid = asid; self.vmid = vmid ?? 0
        case .vmid(let vmid):
            kind = UInt32(VSMMU_INV_VMID); flags = UInt32(VSMMU_INV_VMID_VALID); self.vmid = vmid
        case .address(let vmid, let asid, let address, let size):
            kind = UInt32(VSMMU_INV_ADDRESS); flags = tags(vmid: vmid, asid: asid)
            self.asid = asid ?? 0; self.vmid = vmid ?? 0; addr = address; self.size = size
        case .ipa(let vmid, let address, let size):
            kind = UInt32(VSMMU_INV_IPA); flags = UInt32(VSMMU_INV_VMID_VALID)
            self.vmid = vmid; addr = address; self.size = size
        case .atc(let streamID, let substreamID, let address, let size, let global):
            kind = UInt32(VSMMU_INV_ATC); sid_first = streamID; sid_count = 1
            if let substreamID {
                flags = UInt32(VSMMU_INV_SSID_VALID) | (global ? UInt32(VSMMU_INV_GLOBAL) : 0)
                ssid = substreamID
            }
            addr = address; self.size = size
        }
    }
}

extension vsmmu_page_response {
    public init(_ r: PageResponse) {
        self.init()
        sid = r.streamID
        if let s = r.substreamID { ssid = s; flags = UInt32(VSMMU_PRESP_SSV) }
        prg_index = r.prgIndex
        code = r.code.rawValue
    }
}

extension TranslationRequest {
    public init(_ c: vsmmu_translate_request) {
        var access: AccessType = []
        if c.flags & UInt32(VSMMU_TR_WRITE) != 0 { access.insert(.write) }
        if c.flags & UInt32(VSMMU_TR_EXEC) != 0 { access.insert(.instruction) }
        if c.flags & UInt32(VSMMU_TR_PRIV) != 0 { access.insert(.privileged) }
        self.init(streamID: c.sid,
                  substreamID: c.flags & UInt32(VSMMU_TR_SSV) != 0 ? c.ssid : nil,
                  address: InputAddress(c.iova), access: access,
                  ats: c.flags & UInt32(VSMMU_TR_ATS) != 0)
    }
}

extension vsmmu_translate_result {
    public init(_ outcome: TranslationOutcome) {
        self.init()
        switch outcome {
        case .translated(let t):
            status = Int32(VSMMU_XLATE_OK)
            perm = UInt32(t.permissions.rawValue)
            iova_base = t.inputBase.raw
            // A PA, or the IPA of a split-stage ATS answer.
            pa_base = t.outputBase.raw
            size_log2 = t.sizeLog2
            var tagBits: UInt32 = 0
            if let a = t.asid { asid = a; tagBits |= UInt32(VSMMU_TAG_ASID) }
            if let v = t.vmid { vmid = v; tagBits |= UInt32(VSMMU_TAG_VMID) }
            if t.bypass { tagBits |= UInt32(VSMMU_TAG_BYPASS) }
            if t.global { tagBits |= UInt32(VSMMU_TAG_GLOBAL) }
            tags = UInt16(tagBits)
        case .fault(let f):
            status = Int32(f.stalled ? VSMMU_XLATE_STALLED : VSMMU_XLATE_FAULT)
            event = f.type?.rawValue ?? f.event?.type.rawValue ?? 0
            stag = f.stag
        }
    }
}

extension PageRequest {
    public init(_ c: vsmmu_pri_request) {
        func has(_ bit: UInt32) -> Bool { c.flags & bit != 0 }
        self.init(streamID: c.sid, substreamID: has(VSMMU_PR_SSV) ? c.ssid : nil, address: InputAddress(c.addr),
                  read: has(VSMMU_PR_READ), write: has(VSMMU_PR_WRITE), execute: has(VSMMU_PR_EXEC),
                  privileged: has(VSMMU_PR_PRIV), last: has(VSMMU_PR_LAST), prgIndex: c.prg_index & 0x1FF)
    }
}
