@testable import VSMMUServer
import Testing

/// The reader's busy-poll budget (AdaptivePoll): grows while requests come
/// just after the spin gave up, shrinks back while the front end is idle,
/// and stays within its bounds; a base of 0 never spins.
@Suite("Adaptive poll")
struct AdaptivePollTests {
    @Test func aRequestCaughtSpinningLeavesTheBudget() {
        var p = AdaptivePoll(baseNs: 50_000, maxNs: 1_000_000)
        p.record(caught: true, waitedNs: 10_000)
        #expect(p.budgetNs == 50_000)
    }

    @Test func nearMissesDoubleItUpToTheMaximum() {
        var p = AdaptivePoll(baseNs: 50_000, maxNs: 1_000_000)
        for expected: UInt64 in [100_000, 200_000, 400_000, 800_000, 1_000_000, 1_000_000] {
            p.record(caught: false, waitedNs: 300_000)
            #expect(p.budgetNs == expected)
        }
    }

    @Test func longWaitsHalveItDownToTheBase() {
        var p = AdaptivePoll(baseNs: 50_000, maxNs: 1_000_000)
        for _ in 0..<5 { p.record(caught: false, waitedNs: 900_000) }
        #expect(p.budgetNs == 1_000_000)
        for expected: UInt64 in [500_000, 250_000, 125_000, 62_500, 50_000, 50_000] {
            p.record(caught: false, waitedNs: 5_000_000)
            #expect(p.budgetNs == expected)
        }
    }

    @Test func aBaseOfZeroNeverSpins() {
        var p = AdaptivePoll(baseNs: 0, maxNs: 1_000_000)
        p.record(caught: false, waitedNs: 10_000)
        #expect(p.budgetNs == 0)
    }

    @Test func aMaximumBelowTheBaseIsTheBase() {
        var p = AdaptivePoll(baseNs: 50_000, maxNs: 0)
        p.record(caught: false, waitedNs: 10_000)
        #expect(p.budgetNs == 50_000)
    }
}
