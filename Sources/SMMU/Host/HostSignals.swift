/// Everything the model asks of the world outside guest memory. The backend
/// implements it by messages to the front end; tests and C programs implement
/// it directly.
///
/// Ordering contract: `invalidate` may return before the invalidation has
/// taken effect; `synchronize` returns only once every earlier invalidation
/// (host translation caches and endpoint ATCs) has completed. CMD_SYNC calls
/// `synchronize` before it completes, so nothing stale survives a SYNC.
public protocol HostSignals: AnyObject, Sendable {
    /// An edge on one of the SMMU's wired interrupt lines.
    func raiseInterrupt(_ line: SMMUInterruptLine)
    /// A 32-bit MSI write of `data` to the PA `address` (event/PRI/GERROR
    /// MSIs, and CMD_SYNC's completion write, which Linux points at the sync
    /// slot in RAM). The model reaches it through `deliverMSI` (whose default
    /// calls it).
    func writeMSI(address: PhysicalAddress, data: UInt32)
    /// Posts an invalidation of host-side translation caches or of an endpoint's ATC.
    func invalidate(_ invalidation: HostInvalidation)
    /// Waits until every invalidation posted before the call has completed.
    /// False if an ATC invalidation failed or timed out (CERROR_ATC_INV_SYNC).
    func synchronize() -> Bool
    /// Delivers a PRI page-group response (CMD_PRI_RESP, or an automatic one
    /// while the PRI queue overflows) to the endpoint.
    func deliverPageResponse(_ response: PageResponse)
    /// A stalled transaction was resumed (retry) or terminated (CMD_RESUME,
    /// CMD_STALL_TERM; also an MMIO write clearing CR0.SMMUEN, and reset).
    func resolveStall(streamID: UInt32, stag: UInt16, retry: Bool)

    // Added later, with defaults below so that existing conformers still build.

    /// A WFE wake-up event to the PEs (only with IDR0.SEV = 1): a CMD_SYNC with
    /// CS = SIG_SEV completed, or the command queue stopped being full
    /// (IHI 0070 4.7.3, 4.1.2). Sent after CMDQ_CONS moved. Default: nothing.
    func sendEvent()
    /// The MSI write of `writeMSI`, reporting how it completed: false if it was
    /// terminated with abort, which the model records as the source's
    /// GERROR.MSI_*_ABT_ERR (6.3.19). The model calls this, never `writeMSI`
    /// directly. Default: `writeMSI`, then true.
    func deliverMSI(address: PhysicalAddress, data: UInt32) -> Bool
}

extension HostSignals {
    public func sendEvent() {}
    public func deliverMSI(address: PhysicalAddress, data: UInt32) -> Bool {
        writeMSI(address: address, data: data)
        return true
    }
}

public enum SMMUInterruptLine: UInt8, Sendable, CaseIterable {
    case eventQueue = 0, priQueue = 1, commandSync = 2, globalError = 3
}

/// What a host-side cache must drop. Addresses are input addresses (IOVA or
/// IPA) and `size` is in bytes; a consumer may drop more than asked, never less.
public enum HostInvalidation: Sendable, Equatable {
    /// Everything (CFGI_ALL, TLBI_NSNH_ALL, TLBI_EL2_ALL, SMMUEN changes).
    case all
    /// Every translation for these StreamIDs (CFGI_STE, CFGI_STE_RANGE, CFGI_CD*).
    case streams(first: UInt32, count: UInt32)
    /// Translations tagged with this ASID (VMID nil for EL2/no stage 2).
    case asid(vmid: UInt16?, asid: UInt16)
    /// Translations tagged with this VMID (TLBI_S12_VMALL).
    case vmid(UInt16)
    /// A range of input addresses; asid nil = all ASIDs (TLBI_NH_VAA/EL2_VAA).
    case address(vmid: UInt16?, asid: UInt16?, address: UInt64, size: UInt64)
    /// A range of IPAs under a VMID (TLBI_S2_IPA): drop any stage-2 derived entry.
    case ipa(vmid: UInt16, address: UInt64, size: UInt64)
    /// CMD_ATC_INV: the endpoint's ATC, for one SSID or all (nil). `global`:
    /// the Global Invalidate flag of the request, only with a PASID (4.5.1).
    case atc(streamID: UInt32, substreamID: UInt32?, address: UInt64, size: UInt64, global: Bool = false)
}

/// PRI response codes (PCIe PRG Response Message).
public enum PageResponseCode: UInt8, Sendable {
    case success = 0, invalidRequest = 1, failure = 0xF
}

public struct PageResponse: Sendable, Equatable {
    public var streamID: UInt32
    public var substreamID: UInt32?
    public var prgIndex: UInt16
    public var code: PageResponseCode
    public init(streamID: UInt32, substreamID: UInt32?, prgIndex: UInt16, code: PageResponseCode) {
        self.streamID = streamID; self.substreamID = substreamID
        self.prgIndex = prgIndex; self.code = code
    }
}
