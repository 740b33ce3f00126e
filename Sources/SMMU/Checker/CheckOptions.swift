/// Turns check mode on for one SMMUv3 (docs/checker.md): which rules, and
/// where reports go. The sink is called on the thread that found the
/// violation (a translation or the command queue), with no model lock held.
public struct CheckOptions: Sendable {
    public var rules: Set<CheckRule>
    public var report: @Sendable (CheckReport) -> Void
    /// Reports passed to `report` per rule; later ones are only counted
    /// (a hostile or looping driver cannot fill a disk).
    public var reportsPerRule: Int

    public init(rules: Set<CheckRule> = Set(CheckRule.allCases), reportsPerRule: Int = 1000,
                report: @escaping @Sendable (CheckReport) -> Void) {
        self.rules = rules; self.report = report; self.reportsPerRule = reportsPerRule
    }
}

/// What check mode found so far.
public struct CheckSummary: Sendable, Equatable {
    /// Violations by rule (also those past `reportsPerRule`).
    public var counts: [CheckRule: Int] = [:]
    /// Cached entries not tracked because the checker's own bounds were full
    /// (their violations cannot be seen).
    public var untracked = 0
    public var total: Int { counts.values.reduce(0, +) }
    public init() {}

    /// "tlbi=0 cfgi=2 ..." for every rule checked.
    public func line(rules: Set<CheckRule>) -> String {
        var parts = rules.sorted().map { "\($0.rawValue)=\(counts[$0] ?? 0)" }
        if untracked > 0 { parts.append("untracked=\(untracked)") }
        return parts.joined(separator: " ")
    }
}

/// Guest memory as the checker reads it: reads pass through, nothing is
/// written. A hardware update a re-walk would make is taken as done, so a
/// re-walk sees what the real walk saw without changing the guest's tables.
final class CheckerMemory: GuestMemory, @unchecked Sendable {
    let base: any GuestMemory
    init(_ base: any GuestMemory) { self.base = base }
    func read(at address: PhysicalAddress, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        base.read(at: address, into: buffer)
    }
    func write(at address: PhysicalAddress, from buffer: UnsafeRawBufferPointer) -> Bool { false }
    func compareExchange64(at address: PhysicalAddress, expected: UInt64, desired: UInt64) -> UInt64? {
        base.read64(at: address)
    }
}
