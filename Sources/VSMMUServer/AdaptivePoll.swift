/// How long the reader busy-polls for the next request before it sleeps,
/// adapted the way QEMU adapts an AioContext's polling time: a request that
/// came after the spin gave up, but within `maxNs`, doubles the budget (a
/// longer spin would have caught it without a wake-up); a wait longer than
/// `maxNs` halves it again, down to `baseNs`. So a guest that kicks every
/// few hundred microseconds is caught spinning, and an idle one costs at
/// most `baseNs` of a core per request. `baseNs` 0 never spins.
struct AdaptivePoll: Sendable, Equatable {
    let baseNs: UInt64
    let maxNs: UInt64
    private(set) var budgetNs: UInt64

    init(baseNs: UInt64, maxNs: UInt64) {
        self.baseNs = baseNs
        self.maxNs = max(baseNs, maxNs)
        budgetNs = baseNs
    }

    /// One wait: `caught` when the spin saw the request, else the whole
    /// wait, spin included.
    mutating func record(caught: Bool, waitedNs: UInt64) {
        guard !caught, baseNs > 0 else { return }
        if waitedNs <= maxNs {
            budgetNs = min(maxNs, budgetNs &* 2)
        } else {
            budgetNs = max(baseNs, budgetNs / 2)
        }
    }
}
