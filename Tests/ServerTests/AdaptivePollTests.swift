@testable import VSMMUServer
import Testing

/// The reader's busy-poll budget (AdaptivePoll): grows while requests come
/// just after the spin gave up, shrinks back while the front end is idle,
/// and stays within its bounds; a base of 0 never spins.
@Suite("Adaptive poll")
struct AdaptivePollTests {
    /// One wait and the budget after it: a request caught while spinning
    /// leaves it; a base of 0 never spins; a maximum below the base is the
    /// base.
    @Test(arguments: [
        (base: UInt64(50_000), max: UInt64(1_000_000), caught: true, expected: UInt64(50_000)),
        (base: 0, max: 1_000_000, caught: false, expected: 0),
        (base: 50_000, max: 0, caught: false, expected: 50_000),
    ])
    func oneWait(_ c: (base: UInt64, max: UInt64, caught: Bool, expected: UInt64)) {
        var p = AdaptivePoll(baseNs: c.base, maxNs: c.max)
        p.record(caught: c.caught, waitedNs: 10_000)
        #expect(p.budgetNs == c.expected)
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
}
