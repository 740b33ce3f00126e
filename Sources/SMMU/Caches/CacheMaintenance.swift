/// TLB invalidation scopes, one per TLBI command family (IHI 0070 4.4).
public enum TLBScope: Sendable, Hashable {
    /// TLBI_NSNH_ALL: every non-EL2 entry (all VMIDs and ASIDs).
    case allNonHyp
    /// TLBI_EL2_ALL: every EL2 entry.
    case allEL2
    /// TLBI_NH_ALL: every stage-1 entry of one VMID (nil: no stage 2 in use).
    case vmidStage1(vmid: UInt16?)
    /// TLBI_S12_VMALL: every entry of one VMID, both stages.
    case vmidAll(UInt16)
    /// TLBI_NH_ASID / TLBI_EL2_ASID.
    case asid(vmid: UInt16?, asid: UInt16, el2: Bool)
    /// TLBI_NH_VA(A) / TLBI_EL2_VA(A): asid nil for the VAA forms. `size` covers
    /// the whole range (range forms) or one granule of TTL's level.
    case va(vmid: UInt16?, asid: UInt16?, address: UInt64, size: UInt64, leafOnly: Bool, el2: Bool)
    /// TLBI_S2_IPA: stage-2 entries for an IPA range (and any combined entry using them).
    case ipa(vmid: UInt16, address: UInt64, size: UInt64, leafOnly: Bool)
}

/// What command processing asks of the translation caches. The translation
/// side implements it; commands call it, then post the matching
/// HostInvalidation so host-side caches follow.
public protocol CacheMaintenance: AnyObject, Sendable {
    /// CFGI_ALL (nil) or CFGI_STE / CFGI_STE_RANGE: drop cached STEs and
    /// everything derived from them (CDs, TLB entries tagged by those streams).
    func invalidateStreams(_ range: ClosedRange<UInt32>?)
    /// CFGI_CD (one SSID) / CFGI_CD_ALL (nil): drop cached CDs of a stream.
    func invalidateContexts(streamID: UInt32, substreamID: UInt32?)
    func invalidateTLB(_ scope: TLBScope)
    /// PREFETCH_CONFIG: optionally warm the configuration cache (may do nothing).
    func prefetchConfiguration(streamID: UInt32, substreamID: UInt32?)
}
