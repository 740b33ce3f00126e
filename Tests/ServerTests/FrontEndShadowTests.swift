import SMMU
import Testing
@testable import VSMMUServer

/// The backend's record of what the front end may cache decides which
/// invalidations are sent. Each case follows the protocol's rule for what a
/// front end must drop (docs/protocol.md, INVALIDATE and ATC_INV); a missed
/// match would leave a stale translation in QEMU, so the tests look for both
/// directions: sent when something matches, not sent when nothing does.
@Suite("Front-end shadow")
struct FrontEndShadowTests {
    typealias Entry = FrontEndShadow.Entry

    static func entry(sid: UInt32, ssid: UInt32? = nil, asid: UInt16?, vmid: UInt16?, base: UInt64,
                      sizeLog2: UInt8, ats: Bool) -> Entry {
        Entry(tags: CachedTranslationTags(streamID: sid, substreamID: ssid, asid: asid, vmid: vmid,
                                          inputBase: base, sizeLog2: sizeLog2), ats: ats)
    }

    /// One 4 KiB page at 0x10_0000 for SID 8, ASID 3, VMID 1, handed out by a plain translation.
    static func shadowWithPage(ats: Bool = false) -> FrontEndShadow {
        let s = FrontEndShadow()
        s.beginTranslation()
        s.endTranslation(Self.entry(sid: 8, asid: 3, vmid: 1, base: 0x10_0000, sizeLog2: 12, ats: ats))
        return s
    }

    @Test func nothingHandedOutNothingSent() {
        let s = FrontEndShadow()
        #expect(!s.mustSend(.all))
        #expect(!s.mustSend(.address(vmid: nil, asid: 3, address: 0x10_0000, size: 0x1000)))
        #expect(!s.mustSend(.atc(streamID: 8, substreamID: nil, address: 0, size: 0)))
    }

    @Test func addressInvalidationMatchesOverlapAndTags() {
        // Overlapping range, same ASID: sent, and the entry is forgotten.
        var s = Self.shadowWithPage()
        #expect(s.mustSend(.address(vmid: 1, asid: 3, address: 0x10_0800, size: 0x10)))
        #expect(!s.mustSend(.address(vmid: 1, asid: 3, address: 0x10_0800, size: 0x10)))
        // Adjacent page, other ASID, other VMID: not sent; the entry stays.
        s = Self.shadowWithPage()
        #expect(!s.mustSend(.address(vmid: 1, asid: 3, address: 0x10_1000, size: 0x1000)))
        #expect(!s.mustSend(.address(vmid: 1, asid: 4, address: 0x10_0000, size: 0x1000)))
        #expect(!s.mustSend(.address(vmid: 2, asid: 3, address: 0x10_0000, size: 0x1000)))
        #expect(s.count == 1)
        // No ASID given (TLBI_NH_VAA): any ASID matches.
        #expect(s.mustSend(.address(vmid: 1, asid: nil, address: 0x10_0000, size: 0x1000)))
        // Size 0 is 2^64: the whole space.
        s = Self.shadowWithPage()
        #expect(s.mustSend(.address(vmid: 1, asid: 3, address: 0, size: 0)))
    }

    @Test func streamASIDAndVMIDScopes() {
        var s = Self.shadowWithPage()
        #expect(!s.mustSend(.streams(first: 9, count: 4)))
        #expect(s.mustSend(.streams(first: 0, count: 9)))
        s = Self.shadowWithPage()
        #expect(!s.mustSend(.asid(vmid: 1, asid: 2)))
        #expect(s.mustSend(.asid(vmid: 1, asid: 3)))
        s = Self.shadowWithPage()
        #expect(!s.mustSend(.vmid(2)))
        #expect(s.mustSend(.ipa(vmid: 1, address: 0xdead_0000, size: 0x1000)))
    }

    @Test func atcInvalidationOnlyForATSTranslations() {
        // The page went to the front end's cache, not to an ATC.
        var s = Self.shadowWithPage(ats: false)
        #expect(!s.mustSend(.atc(streamID: 8, substreamID: nil, address: 0, size: 0)))
        // Handed out by ATS: an overlapping ATC_INV of that stream is sent.
        s = Self.shadowWithPage(ats: true)
        #expect(!s.mustSend(.atc(streamID: 9, substreamID: nil, address: 0, size: 0)))
        #expect(!s.mustSend(.atc(streamID: 8, substreamID: nil, address: 0x20_0000, size: 0x1000)))
        #expect(s.mustSend(.atc(streamID: 8, substreamID: nil, address: 0x10_0000, size: 0x1000)))
    }

    /// PCIe ATS: an invalidation with a PASID reaches only that PASID's
    /// entries; one without a PASID reaches every entry of the range.
    @Test func atcInvalidationWithAPASIDOnlyForThatPASID() {
        let s = FrontEndShadow()
        s.beginTranslation()
        s.endTranslation(Self.entry(sid: 8, ssid: 5, asid: 3, vmid: 1, base: 0x10_0000, sizeLog2: 12, ats: true))
        #expect(!s.mustSend(.atc(streamID: 8, substreamID: 6, address: 0x10_0000, size: 0x1000)))
        #expect(s.mustSend(.atc(streamID: 8, substreamID: 5, address: 0x10_0000, size: 0x1000)))
        #expect(!s.mustSend(.atc(streamID: 8, substreamID: 5, address: 0x10_0000, size: 0x1000)))
    }

    /// 4.5.1: ATC_INV.Global with a SubstreamID also drops the endpoint's
    /// global entries, which the shadow cannot tell apart: every PASID's go,
    /// and the wire message carries the flag (docs/protocol.md, flags bit 1).
    @Test func atcInvalidationGlobalReachesEveryPASID() {
        let s = FrontEndShadow()
        s.beginTranslation()
        s.endTranslation(Self.entry(sid: 8, ssid: 5, asid: 3, vmid: 1, base: 0x10_0000, sizeLog2: 12, ats: true))
        #expect(s.mustSend(.atc(streamID: 8, substreamID: 6, address: 0x10_0000, size: 0x1000, global: true)))
        var w = WireWriter()
        WireATCInvalidate(streamID: 8, substreamID: 6, address: 0x10_0000, size: 0x1000, global: true).encode(into: &w)
        var r = WireReader(w.bytes)
        #expect(WireATCInvalidate(&r).flags == 0b11)
    }

    /// Tags that are absent are values (HostInvalidation.covers): a
    /// stage-2-only translation (no ASID) is not hit by a VA invalidation,
    /// and a VMID-tagged one not by an invalidation without a VMID.
    @Test func missingTagsAreNotWildcards() {
        let s = FrontEndShadow()
        s.beginTranslation()
        s.endTranslation(Self.entry(sid: 3, asid: nil, vmid: 7, base: 0x4000_0000, sizeLog2: 12, ats: false))
        #expect(!s.mustSend(.address(vmid: 7, asid: nil, address: 0x4000_0000, size: 0x1000)))
        #expect(!s.mustSend(.vmid(8)))
        #expect(s.mustSend(.ipa(vmid: 7, address: 0, size: 0x1000)))
        let t = Self.shadowWithPage()
        #expect(!t.mustSend(.address(vmid: nil, asid: 3, address: 0x10_0000, size: 0x1000)))
        #expect(!t.mustSend(.asid(vmid: nil, asid: 3)))
        #expect(t.mustSend(.asid(vmid: 1, asid: 3)))
    }

    @Test func tlbiDoesNotEmptyTheATC() {
        // Linux unmaps with a TLBI, then an ATC_INV: the TLBI reaches the
        // front end's cache, and the ATC_INV must still reach the endpoint.
        let s = Self.shadowWithPage(ats: true)
        #expect(s.mustSend(.address(vmid: 1, asid: 3, address: 0x10_0000, size: 0x1000)))
        #expect(s.mustSend(.atc(streamID: 8, substreamID: nil, address: 0x10_0000, size: 0x1000)))
        #expect(!s.mustSend(.atc(streamID: 8, substreamID: nil, address: 0x10_0000, size: 0x1000)))
        // A full TLB flush does not flush ATCs either.
        let t = Self.shadowWithPage(ats: true)
        #expect(t.mustSend(.all))
        #expect(t.mustSend(.atc(streamID: 8, substreamID: nil, address: 0, size: 0)))
    }

    @Test func invalidationDuringATranslationIsAlwaysSent() {
        // The reply being computed may carry a translation made before the
        // invalidation; the front end must see the invalidation to drop it.
        let s = FrontEndShadow()
        s.beginTranslation()
        #expect(s.mustSend(.address(vmid: nil, asid: 7, address: 0x5000, size: 0x1000)))
        s.endTranslation(Self.entry(sid: 1, asid: 7, vmid: nil, base: 0x5000, sizeLog2: 12, ats: false))
        #expect(s.mustSend(.address(vmid: nil, asid: 7, address: 0x5000, size: 0x1000)))
    }

    @Test func pastCapacityEverythingIsSentUntilAFullFlush() {
        let s = FrontEndShadow(capacity: 4)
        for i in 0..<5 as Range<UInt64> {
            s.beginTranslation()
            s.endTranslation(Self.entry(sid: 1, asid: 1, vmid: nil, base: i << 12, sizeLog2: 12, ats: false))
        }
        #expect(s.mustSend(.address(vmid: nil, asid: 9, address: 0x9999_0000, size: 0x1000)))
        #expect(s.mustSend(.all))
        #expect(!s.mustSend(.address(vmid: nil, asid: 9, address: 0x9999_0000, size: 0x1000)))
    }

    @Test func forgottenATSTranslationsKeepATCInvalidationsFlowing() {
        // Overflowing the ATC record: a TLB flush does not make it whole again.
        let s = FrontEndShadow(capacity: 2)
        for i in 0..<3 as Range<UInt64> {
            s.beginTranslation()
            s.endTranslation(Self.entry(sid: 8, asid: 1, vmid: nil, base: i << 12, sizeLog2: 12, ats: true))
        }
        #expect(s.mustSend(.all))
        #expect(s.mustSend(.atc(streamID: 8, substreamID: nil, address: 0x7000, size: 0x1000)))
    }
}

/// 3.4.1: with TBI, VA[63:56] take no part in translation, and Linux's
/// TLBI_NH_VA carries the untagged address. The front end files a
/// translation under the raw (tagged) address it asked for and compares raw
/// addresses, so the backend must send what reaches it: a full flush.
@Suite struct TaggedTranslationTests {
    static func tagged(_ base: UInt64) -> FrontEndShadow.Entry {
        FrontEndShadow.Entry(tags: CachedTranslationTags(streamID: 8, asid: 3, vmid: 1, inputBase: base,
                                                         sizeLog2: 12), ats: false)
    }

    @Test func untaggedVAInvalidationOfATaggedTranslationIsSentAsAll() {
        let s = FrontEndShadow()
        s.beginTranslation()
        s.endTranslation(Self.tagged(0x5A00_0000_1000_0000))
        let tlbi = HostInvalidation.address(vmid: 1, asid: 3, address: 0x1000_0000, size: 0x1000)
        #expect(tlbi.covers(Self.tagged(0x5A00_0000_1000_0000).tags))
        #expect(s.message(for: tlbi) == .all)
        // Flushed: nothing left to send.
        #expect(s.message(for: tlbi) == nil)
    }

    /// A tagged reply still being computed when an untagged TLBI by VA
    /// comes: the front end's check of what raced its miss compares raw
    /// addresses as its cache does, so only a full flush reaches it.
    @Test func aTaggedTranslationInFlightTurnsAnUntaggedVAInvalidationIntoAll() {
        let s = FrontEndShadow()
        let tlbi = HostInvalidation.address(vmid: 1, asid: 3, address: 0x1000_0000, size: 0x1000)
        s.beginTranslation(address: 0x5A00_0000_1000_0000)
        #expect(s.message(for: tlbi) == .all)
        s.endTranslation([Self.tagged(0x5A00_0000_1000_0000)], address: 0x5A00_0000_1000_0000)
        // An untagged one in flight: the message stays as it is.
        let u = FrontEndShadow()
        u.beginTranslation(address: 0x1000_0000)
        #expect(u.message(for: tlbi) == tlbi)
        u.endTranslation(nil, address: 0x1000_0000)
    }

    @Test func untaggedTranslationsKeepTheirOwnMessage() {
        let s = FrontEndShadow()
        s.beginTranslation()
        s.endTranslation(Self.tagged(0x1000_0000))
        let tlbi = HostInvalidation.address(vmid: 1, asid: 3, address: 0x1000_0000, size: 0x1000)
        #expect(s.message(for: tlbi) == tlbi)
    }

    @Test func overflowedShadowSendsAllOnceATaggedTranslationWentOut() {
        let s = FrontEndShadow(capacity: 1)
        for base: UInt64 in [0x5A00_0000_1000_0000, 0x2000, 0x3000] {
            s.beginTranslation(); s.endTranslation(Self.tagged(base))
        }
        let tlbi = HostInvalidation.address(vmid: 1, asid: 3, address: 0x7000_0000, size: 0x1000)
        #expect(s.message(for: tlbi) == .all)
    }
}
