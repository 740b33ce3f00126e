import SMMU

/// What the front end may hold: every translation this backend handed out
/// (to its translation cache, or through ATS to an endpoint's ATC) and not
/// yet invalidated. An invalidation that matches none of them cannot change
/// anything on the other side, so it needs no message, and a CMD_SYNC after
/// it needs no SYNC round trip. Linux sends a TLBI and an ATC_INV with a
/// CMD_SYNC each on every strict unmap, most of them for addresses no device
/// ever used; each round trip goes through QEMU's main loop.
///
/// Conservative by construction: matching is the shared rule for what a
/// host-side cache must drop (`HostInvalidation.covers`); an invalidation that arrives while a
/// translation is being computed is always sent (the reply may carry a
/// translation made before the invalidation); past `capacity` entries the
/// shadow stops tracking and sends everything: for the translation cache
/// until the next full flush, for ATCs from then on.
final class FrontEndShadow: @unchecked Sendable {
    struct Entry: Hashable {
        var tags: CachedTranslationTags
        /// Handed out by an ATS Translation Request (so also in an ATC).
        var ats: Bool
    }

    /// The front end's translation cache and the endpoints' ATCs are
    /// separate caches with separate invalidations (INVALIDATE, ATC_INV): a
    /// TLBI does not empty an ATC, so an ATS translation is tracked in both.
    private struct State {
        var cached = ShadowEntries()
        var atc = ShadowEntries()
        /// Past capacity: send every invalidation of that cache. A full TLB
        /// flush ends it for the translation cache; nothing empties every
        /// ATC at once, so for ATCs it lasts.
        var cachedOverflowed = false
        var atcOverflowed = false
        var inFlight = 0
        /// Of those, computed for a TBI-tagged address.
        var taggedInFlight = 0
        /// A translation filed under a TBI-tagged address went out since the
        /// last full flush (or a translation in flight may be one).
        var taggedSinceFlush = false

        mutating func track(_ entry: Entry, capacity: Int) {
            if entry.tags.tagged { taggedSinceFlush = true }
            if !cachedOverflowed {
                if cached.count >= capacity { cachedOverflowed = true; cached.removeAll() }
                else { cached.insert(entry) }
            }
            if entry.ats && !atcOverflowed {
                if atc.count >= capacity { atcOverflowed = true; atc.removeAll() }
                else { atc.insert(entry) }
            }
        }
    }

    let capacity: Int
    private let state = Locked(State())

    init(capacity: Int = 4096) { self.capacity = capacity }

    /// Brackets the computation of a translation of `address` that will
    /// be sent.
    func beginTranslation(address: UInt64 = 0) {
        state.withLock { s in
            s.inFlight += 1
            if Self.isTagged(address) { s.taggedInFlight += 1 }
        }
    }

    /// Ends it; `entries` is what the reply hands out (none for a fault,
    /// several for a TRANSLATE_AHEAD).
    func endTranslation(_ entries: [Entry], address: UInt64 = 0) {
        state.withLock { s in
            s.inFlight -= 1
            if Self.isTagged(address) { s.taggedInFlight -= 1 }
            for entry in entries { s.track(entry, capacity: capacity) }
        }
    }

    func endTranslation(_ entry: Entry?, address: UInt64 = 0) {
        endTranslation(entry.map { [$0] } ?? [], address: address)
    }

    /// VA[63:56] are not copies of VA[55]: only TBI translates it, and what
    /// it gets is filed under the tagged address.
    static func isTagged(_ address: UInt64) -> Bool {
        CachedTranslationTags(streamID: 0, asid: nil, vmid: nil, inputBase: address, sizeLog2: 12).tagged
    }

    /// Whether `inv` must be sent; forgets the entries it invalidates.
    func mustSend(_ inv: HostInvalidation) -> Bool { message(for: inv) != nil }

    /// What to send for `inv`: nil when it cannot matter, `inv` itself, or
    /// `.all` when it covers a translation the front end filed under a
    /// TBI-tagged address: the front end compares raw addresses
    /// (docs/protocol.md), so only a full flush is sure to reach it.
    /// Forgets the entries the message invalidates.
    func message(for inv: HostInvalidation) -> HostInvalidation? {
        if case .address = inv {
            let taggedHit = state.withLock { s in
                // A tagged reply in flight: the front end's check of what
                // raced it compares raw addresses too, so it would keep it.
                if s.taggedInFlight > 0 { return true }
                // Untracked (overflowed): any tagged translation handed out
                // may be hit.
                guard s.cachedOverflowed else {
                    return s.cached.containsOther { $0.tags.tagged && inv.covers($0.tags) }
                }
                return s.taggedSinceFlush
            }
            if taggedHit { return decide(.all) ? .all : nil }
        }
        return decide(inv) ? inv : nil
    }

    private func decide(_ inv: HostInvalidation) -> Bool {
        state.withLock { s in
            if case .all = inv {
                // Everything in the translation cache; ATCs keep theirs.
                let needed = s.cachedOverflowed || s.inFlight > 0 || !s.cached.isEmpty
                s.cached.removeAll()
                s.cachedOverflowed = false
                s.taggedSinceFlush = false
                return needed
            }
            let atc: Bool
            if case .atc = inv { atc = true } else { atc = false }
            if s.inFlight > 0 || (atc ? s.atcOverflowed : s.cachedOverflowed) { return true }
            return atc ? s.atc.remove(coveredBy: inv, in: .atc)
                : s.cached.remove(coveredBy: inv, in: .translations)
        }
    }

    func reset() { state.withLock { $0 = State() } }

    var count: Int { state.withLock { $0.cached.count } }
}
