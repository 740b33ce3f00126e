/// The tags a host-side cache keeps with one translation it was handed (a
/// `Translation`, or what a TRANSLATE reply carries): all that decides
/// whether an invalidation covers it.
public struct CachedTranslationTags: Sendable, Hashable {
    public var streamID: UInt32
    public var substreamID: UInt32?
    /// nil where the translation has no stage 1 (stage-2 only, bypass).
    public var asid: UInt16?
    /// nil where it has no VMID (EL2 regimes, no stage 2 implemented, bypass).
    public var vmid: UInt16?
    /// Raw input-address bits, compared with the raw ranges of `HostInvalidation`.
    public var inputBase: UInt64
    /// 64 for a bypass translation (the whole input space).
    public var sizeLog2: UInt8
    /// No translation took place (STE bypass, SMMUEN=0 with GBPA bypass).
    public var bypass: Bool
    /// A global stage-1 translation (nG == 0): no ASID, but stage 1 took
    /// place, so VA invalidations of every ASID cover it (3.17.1, 4.4.2.4).
    public var global: Bool

    public init(streamID: UInt32, substreamID: UInt32? = nil, asid: UInt16?, vmid: UInt16?,
                inputBase: UInt64, sizeLog2: UInt8, bypass: Bool = false, global: Bool = false) {
        self.streamID = streamID; self.substreamID = substreamID; self.asid = asid; self.vmid = vmid
        self.inputBase = inputBase; self.sizeLog2 = sizeLog2; self.bypass = bypass; self.global = global
    }

    public init(_ t: Translation) {
        self.init(streamID: t.streamID, substreamID: t.substreamID, asid: t.asid, vmid: t.vmid,
                  inputBase: t.inputBase.raw, sizeLog2: t.sizeLog2, bypass: t.bypass, global: t.global)
    }

    /// The block's base without a TBI tag: VA[63:56] replaced by copies of
    /// VA[55] (3.4.1). A translation is only ever handed out for a canonical
    /// address or, with TBI, a tagged one, so a non-canonical base is tagged.
    public var untaggedBase: UInt64 {
        let low = inputBase & 0x00FF_FFFF_FFFF_FFFF
        return (inputBase >> 55) & 1 == 1 ? low | 0xFF00_0000_0000_0000 : low
    }

    /// Filled through a TBI-tagged address: a cache that compares raw
    /// addresses cannot match it to an (untagged) VA invalidation.
    public var tagged: Bool { sizeLog2 < 56 && untaggedBase != inputBase }

    /// Whether the block overlaps [address, address + size); size 0 is 2^64.
    public func overlaps(address: UInt64, size: UInt64) -> Bool {
        let blockLast = sizeLog2 >= 64 ? UInt64.max : inputBase &+ ((UInt64(1) << sizeLog2) &- 1)
        let rangeLast = size == 0 || address &+ (size &- 1) < address ? UInt64.max : address &+ (size &- 1)
        return inputBase <= rangeLast && address <= blockLast
    }
}

/// The two kinds of host-side cache: a front end's translation cache (kept
/// by StreamID, SubstreamID and block; INVALIDATE) and an endpoint's ATC
/// (filled by ATS Translation Requests; ATC_INV only).
public enum HostCache: Sendable, Hashable {
    case translations, atc
}

extension HostInvalidation {
    /// The one rule for which cached translations an invalidation hits, for
    /// every host-side cache (the backend's record of the front end, QEMU's
    /// translation cache). For entries the model's TLB also holds it drops
    /// exactly what the TLB drops, except where this enum has lost the TLBI's
    /// scope: `.all` (TLBI_NSNH_ALL, TLBI_EL2_ALL), `.vmid` (TLBI_NH_ALL also
    /// hits the VMID's stage-2-only entries), and, with no stage 2
    /// implemented, `.asid`/`.address` without a VMID hit both NS-EL1 and EL2
    /// entries. `.streams` hits a stream's entries, which the TLB does not
    /// keep by stream. A missing tag is a value: an entry without an ASID
    /// (stage 2 only) is not hit by ASID or VA invalidations unless it is a
    /// global stage-1 entry, which every VA invalidation of its VMID hits, one without a
    /// VMID only by invalidations without a VMID. Bypass entries change only
    /// with the STE (`.streams`) or SMMUEN/GBPA (`.all`).
    public func covers(_ e: CachedTranslationTags, in cache: HostCache = .translations) -> Bool {
        switch (self, cache) {
        case (.atc(let sid, let ssid, let address, let size, let global), .atc):
            // PCIe ATS: without a PASID, entries of every PASID go too. With
            // Global (4.5.1) the endpoint's global entries go as well; the
            // tags do not say which entries are global, so every PASID's go.
            return e.streamID == sid && (ssid == nil || global || e.substreamID == ssid)
                && e.overlaps(address: address, size: size)
        case (.atc, .translations), (_, .atc):
            // TLB and configuration maintenance never reaches an ATC (3.9.1).
            return false
        case (.all, .translations):
            return true
        case (.streams(let first, let count), .translations):
            return e.streamID &- first < count
        case (.asid(let vmid, let asid), .translations):
            return !e.bypass && e.asid == asid && e.vmid == vmid
        case (.vmid(let vmid), .translations), (.ipa(let vmid, _, _), .translations):
            // IPA: a combined entry does not remember the IPA it went
            // through, so every entry of the VMID goes (as in the model's TLB).
            return !e.bypass && e.vmid == vmid
        case (.address(let vmid, let asid, let address, let size), .translations):
            // A global entry belongs to every ASID (4.4.2.4, 4.4.2.8).
            // With TBI the tag does not take part in translation (3.4.1): the
            // TLB keys the block without it, and so does this rule.
            var untagged = e
            untagged.inputBase = e.untaggedBase
            return !e.bypass && (e.asid != nil || e.global) && e.vmid == vmid
                && (asid == nil || e.global || e.asid == asid)
                && untagged.overlaps(address: address, size: size)
        }
    }
}
