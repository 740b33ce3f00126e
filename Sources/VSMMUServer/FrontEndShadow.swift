import CVSMMU
import Synchronization

/// What the front end may hold: every translation this backend handed out
/// (to its translation cache, or through ATS to an endpoint's ATC) and not
/// yet invalidated. An invalidation that matches none of them cannot change
/// anything on the other side, so it needs no message, and a CMD_SYNC after
/// it needs no SYNC round trip. Linux sends a TLBI and an ATC_INV with a
/// CMD_SYNC each on every strict unmap, most of them for addresses no device
/// ever used; each round trip goes through QEMU's main loop.
///
/// Conservative by construction: matching follows the protocol's rules for
/// what a front end must drop; an invalidation that arrives while a
/// translation is being computed is always sent (the reply may carry a
/// translation made before the invalidation); past `capacity` entries the
/// shadow stops tracking and sends everything: for the translation cache
/// until the next full flush, for ATCs from then on.
final class FrontEndShadow: @unchecked Sendable {
    struct Entry: Hashable {
        var sid: UInt32
        var asid: UInt16?
        var vmid: UInt16?
        var base: UInt64
        var sizeLog2: UInt8
        /// Handed out by an ATS Translation Request (so also in an ATC).
        var ats: Bool
    }

    /// The front end's translation cache and the endpoints' ATCs are
    /// separate caches with separate invalidations (INVALIDATE, ATC_INV): a
    /// TLBI does not empty an ATC, so an ATS translation is tracked in both.
    private struct State {
        var cached: Set<Entry> = []
        var atc: Set<Entry> = []
        /// Past capacity: send every invalidation of that cache. A full TLB
        /// flush ends it for the translation cache; nothing empties every
        /// ATC at once, so for ATCs it lasts.
        var cachedOverflowed = false
        var atcOverflowed = false
        var inFlight = 0
    }

    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int = 4096) { self.capacity = capacity }

    /// Brackets the computation of a translation that will be sent.
    func beginTranslation() { state.withLock { $0.inFlight += 1 } }

    /// Ends it; `entry` is what the reply hands out (nil for a fault).
    func endTranslation(_ entry: Entry?) {
        state.withLock { s in
            s.inFlight -= 1
            guard let entry else { return }
            if !s.cachedOverflowed {
                if s.cached.count >= capacity { s.cachedOverflowed = true; s.cached = [] }
                else { s.cached.insert(entry) }
            }
            if entry.ats && !s.atcOverflowed {
                if s.atc.count >= capacity { s.atcOverflowed = true; s.atc = [] }
                else { s.atc.insert(entry) }
            }
        }
    }

    /// Whether `inv` must be sent; forgets the entries it invalidates.
    func mustSend(_ inv: vsmmu_invalidation) -> Bool {
        state.withLock { s in
            let atc = inv.kind == UInt32(VSMMU_INV_ATC)
            if inv.kind == UInt32(VSMMU_INV_ALL) {
                // Everything in the translation cache; ATCs keep theirs.
                let needed = s.cachedOverflowed || s.inFlight > 0 || !s.cached.isEmpty
                s.cached = []
                s.cachedOverflowed = false
                return needed
            }
            if s.inFlight > 0 || (atc ? s.atcOverflowed : s.cachedOverflowed) { return true }
            let before = atc ? s.atc.count : s.cached.count
            if atc {
                s.atc = s.atc.filter { !Self.matches(inv, $0) }
            } else {
                s.cached = s.cached.filter { !Self.matches(inv, $0) }
            }
            return (atc ? s.atc.count : s.cached.count) != before
        }
    }

    func reset() { state.withLock { $0 = State() } }

    var count: Int { state.withLock { $0.cached.count } }

    /// The protocol's rule (docs/protocol.md, backend channel) for whether a
    /// front end must drop `e` on `inv`.
    static func matches(_ inv: vsmmu_invalidation, _ e: Entry) -> Bool {
        let asidValid = inv.flags & UInt32(VSMMU_INV_ASID_VALID) != 0
        let vmidValid = inv.flags & UInt32(VSMMU_INV_VMID_VALID) != 0
        switch inv.kind {
        case UInt32(VSMMU_INV_STREAMS):
            return e.sid >= inv.sid_first && UInt64(e.sid) - UInt64(inv.sid_first) < UInt64(inv.sid_count)
        case UInt32(VSMMU_INV_ASID):
            return e.asid == inv.asid && (!vmidValid || e.vmid == inv.vmid)
        case UInt32(VSMMU_INV_VMID), UInt32(VSMMU_INV_IPA):
            // An IPA invalidation drops anything derived from the VMID's
            // stage 2: the IPA a translation went through is not known here.
            return e.vmid == inv.vmid
        case UInt32(VSMMU_INV_ADDRESS):
            return (!asidValid || e.asid == inv.asid) && (!vmidValid || e.vmid == inv.vmid)
                && overlaps(e, inv.addr, inv.size)
        case UInt32(VSMMU_INV_ATC):
            let ssidValid = inv.flags & UInt32(VSMMU_INV_SSID_VALID) != 0
            _ = ssidValid   // entries are not kept per SSID: any SSID of the stream matches
            return e.ats && e.sid == inv.sid_first && overlaps(e, inv.addr, inv.size)
        default:
            return true
        }
    }

    /// Whether block `e` overlaps [address, address + size); size 0 is 2^64.
    static func overlaps(_ e: Entry, _ address: UInt64, _ size: UInt64) -> Bool {
        let blockLast = e.sizeLog2 >= 64 ? UInt64.max : e.base &+ ((UInt64(1) << e.sizeLog2) &- 1)
        let rangeLast = size == 0 || address &+ (size &- 1) < address ? UInt64.max : address &+ (size &- 1)
        return e.base <= rangeLast && address <= blockLast
    }
}
