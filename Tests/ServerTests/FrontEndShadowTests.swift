import CVSMMU
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

    static func inv(_ kind: Int32, sid: UInt32 = 0, count: UInt32 = 0, asid: UInt16? = nil, vmid: UInt16? = nil,
                    addr: UInt64 = 0, size: UInt64 = 0, ssid: UInt32? = nil) -> vsmmu_invalidation {
        var i = vsmmu_invalidation()
        i.kind = UInt32(kind); i.sid_first = sid; i.sid_count = count; i.addr = addr; i.size = size
        if let asid { i.asid = asid; i.flags |= UInt32(VSMMU_INV_ASID_VALID) }
        if let vmid { i.vmid = vmid; i.flags |= UInt32(VSMMU_INV_VMID_VALID) }
        if let ssid { i.ssid = ssid; i.flags |= UInt32(VSMMU_INV_SSID_VALID) }
        return i
    }

    /// One 4 KiB page at 0x10_0000 for SID 8, ASID 3, VMID 1, handed out by a plain translation.
    static func shadowWithPage(ats: Bool = false) -> FrontEndShadow {
        let s = FrontEndShadow()
        s.beginTranslation()
        s.endTranslation(Entry(sid: 8, asid: 3, vmid: 1, base: 0x10_0000, sizeLog2: 12, ats: ats))
        return s
    }

    @Test func nothingHandedOutNothingSent() {
        let s = FrontEndShadow()
        #expect(!s.mustSend(Self.inv(VSMMU_INV_ALL)))
        #expect(!s.mustSend(Self.inv(VSMMU_INV_ADDRESS, asid: 3, addr: 0x10_0000, size: 0x1000)))
        #expect(!s.mustSend(Self.inv(VSMMU_INV_ATC, sid: 8, addr: 0, size: 0)))
    }

    @Test func addressInvalidationMatchesOverlapAndTags() {
        // Overlapping range, same ASID: sent, and the entry is forgotten.
        var s = Self.shadowWithPage()
        #expect(s.mustSend(Self.inv(VSMMU_INV_ADDRESS, asid: 3, vmid: 1, addr: 0x10_0800, size: 0x10)))
        #expect(!s.mustSend(Self.inv(VSMMU_INV_ADDRESS, asid: 3, vmid: 1, addr: 0x10_0800, size: 0x10)))
        // Adjacent page, other ASID, other VMID: not sent; the entry stays.
        s = Self.shadowWithPage()
        #expect(!s.mustSend(Self.inv(VSMMU_INV_ADDRESS, asid: 3, addr: 0x10_1000, size: 0x1000)))
        #expect(!s.mustSend(Self.inv(VSMMU_INV_ADDRESS, asid: 4, addr: 0x10_0000, size: 0x1000)))
        #expect(!s.mustSend(Self.inv(VSMMU_INV_ADDRESS, asid: 3, vmid: 2, addr: 0x10_0000, size: 0x1000)))
        #expect(s.count == 1)
        // No ASID given (TLBI_NH_VAA): any ASID matches.
        #expect(s.mustSend(Self.inv(VSMMU_INV_ADDRESS, vmid: 1, addr: 0x10_0000, size: 0x1000)))
        // Size 0 is 2^64: the whole space.
        s = Self.shadowWithPage()
        #expect(s.mustSend(Self.inv(VSMMU_INV_ADDRESS, asid: 3, addr: 0, size: 0)))
    }

    @Test func streamASIDAndVMIDScopes() {
        var s = Self.shadowWithPage()
        #expect(!s.mustSend(Self.inv(VSMMU_INV_STREAMS, sid: 9, count: 4)))
        #expect(s.mustSend(Self.inv(VSMMU_INV_STREAMS, sid: 0, count: 9)))
        s = Self.shadowWithPage()
        #expect(!s.mustSend(Self.inv(VSMMU_INV_ASID, asid: 2)))
        #expect(s.mustSend(Self.inv(VSMMU_INV_ASID, asid: 3)))
        s = Self.shadowWithPage()
        #expect(!s.mustSend(Self.inv(VSMMU_INV_VMID, vmid: 2)))
        #expect(s.mustSend(Self.inv(VSMMU_INV_IPA, vmid: 1, addr: 0xdead_0000, size: 0x1000)))
    }

    @Test func atcInvalidationOnlyForATSTranslations() {
        // The page went to the front end's cache, not to an ATC.
        var s = Self.shadowWithPage(ats: false)
        #expect(!s.mustSend(Self.inv(VSMMU_INV_ATC, sid: 8, addr: 0, size: 0)))
        // Handed out by ATS: an overlapping ATC_INV of that stream is sent.
        s = Self.shadowWithPage(ats: true)
        #expect(!s.mustSend(Self.inv(VSMMU_INV_ATC, sid: 9, addr: 0, size: 0)))
        #expect(!s.mustSend(Self.inv(VSMMU_INV_ATC, sid: 8, addr: 0x20_0000, size: 0x1000)))
        #expect(s.mustSend(Self.inv(VSMMU_INV_ATC, sid: 8, addr: 0x10_0000, size: 0x1000, ssid: 5)))
    }

    @Test func tlbiDoesNotEmptyTheATC() {
        // Linux unmaps with a TLBI, then an ATC_INV: the TLBI reaches the
        // front end's cache, and the ATC_INV must still reach the endpoint.
        let s = Self.shadowWithPage(ats: true)
        #expect(s.mustSend(Self.inv(VSMMU_INV_ADDRESS, asid: 3, addr: 0x10_0000, size: 0x1000)))
        #expect(s.mustSend(Self.inv(VSMMU_INV_ATC, sid: 8, addr: 0x10_0000, size: 0x1000)))
        #expect(!s.mustSend(Self.inv(VSMMU_INV_ATC, sid: 8, addr: 0x10_0000, size: 0x1000)))
        // A full TLB flush does not flush ATCs either.
        let t = Self.shadowWithPage(ats: true)
        #expect(t.mustSend(Self.inv(VSMMU_INV_ALL)))
        #expect(t.mustSend(Self.inv(VSMMU_INV_ATC, sid: 8, addr: 0, size: 0)))
    }

    @Test func invalidationDuringATranslationIsAlwaysSent() {
        // The reply being computed may carry a translation made before the
        // invalidation; the front end must see the invalidation to drop it.
        let s = FrontEndShadow()
        s.beginTranslation()
        #expect(s.mustSend(Self.inv(VSMMU_INV_ADDRESS, asid: 7, addr: 0x5000, size: 0x1000)))
        s.endTranslation(Entry(sid: 1, asid: 7, vmid: nil, base: 0x5000, sizeLog2: 12, ats: false))
        #expect(s.mustSend(Self.inv(VSMMU_INV_ADDRESS, asid: 7, addr: 0x5000, size: 0x1000)))
    }

    @Test func pastCapacityEverythingIsSentUntilAFullFlush() {
        let s = FrontEndShadow(capacity: 4)
        for i in 0..<5 as Range<UInt64> {
            s.beginTranslation()
            s.endTranslation(Entry(sid: 1, asid: 1, vmid: nil, base: i << 12, sizeLog2: 12, ats: false))
        }
        #expect(s.mustSend(Self.inv(VSMMU_INV_ADDRESS, asid: 9, addr: 0x9999_0000, size: 0x1000)))
        #expect(s.mustSend(Self.inv(VSMMU_INV_ALL)))
        #expect(!s.mustSend(Self.inv(VSMMU_INV_ADDRESS, asid: 9, addr: 0x9999_0000, size: 0x1000)))
    }

    @Test func forgottenATSTranslationsKeepATCInvalidationsFlowing() {
        // Overflowing the ATC record: a TLB flush does not make it whole again.
        let s = FrontEndShadow(capacity: 2)
        for i in 0..<3 as Range<UInt64> {
            s.beginTranslation()
            s.endTranslation(Entry(sid: 8, asid: 1, vmid: nil, base: i << 12, sizeLog2: 12, ats: true))
        }
        #expect(s.mustSend(Self.inv(VSMMU_INV_ALL)))
        #expect(s.mustSend(Self.inv(VSMMU_INV_ATC, sid: 8, addr: 0x7000, size: 0x1000)))
    }
}
