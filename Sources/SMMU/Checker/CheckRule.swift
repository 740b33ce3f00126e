/// The driver rules the checker knows (docs/checker.md), each named by the
/// section of IHI 0070 that states it. `rawValue` is the name used on the
/// command line (`--check=tlbi,cfgi`) and in reports.
public enum CheckRule: String, CaseIterable, Sendable, Hashable, Comparable {
    /// A translation served from a TLB entry whose descriptors changed, after
    /// a CMD_SYNC that no TLBI covering the entry preceded.
    case tlbInvalidation = "tlbi"
    /// A cached STE or CD used after it changed in memory and a CMD_SYNC
    /// completed with no CFGI covering it.
    case configInvalidation = "cfgi"
    /// A valid STE or CD seen between two invalidations of it in a state that
    /// is neither the one before nor the one after.
    case hitlessUpdate = "hitless"
    /// A SubstreamID given another address space while page requests with
    /// that PASID are still in the PRI queue or unanswered.
    case pasidReuse = "pasid-reuse"
    /// A last-level table page a cached walk went through, unlinked and
    /// rewritten as something else before the TLBI that releases the walk.
    case tablePageReuse = "table-reuse"
    /// An ATS translation handed to an endpoint outlives a TLBI of its range
    /// and two CMD_SYNCs with no CMD_ATC_INV covering it.
    case atcInvalidation = "atc-inv"
    /// Queue and register protocol: PROD or CONS moved inconsistently, bases
    /// written while enabled, a CMD_SYNC MSI outside memory, GERRORN toggling
    /// an inactive error.
    case queueProtocol = "queue"

    /// Where IHI 0070 states the rule.
    public var section: String {
        switch self {
        case .tlbInvalidation: "3.21.1, 3.21.1.1"
        case .configInvalidation: "3.21.3"
        case .hitlessUpdate: "3.21.3, 3.21.3.1"
        case .pasidReuse: "8 (Stop Marker), 8.2"
        case .tablePageReuse: "3.21.1"
        case .atcInvalidation: "3.9.1, 4.5.1"
        case .queueProtocol: "3.21.2, 4.7.3, 6.3"
        }
    }

    public var title: String {
        switch self {
        case .tlbInvalidation: "missing TLB invalidation"
        case .configInvalidation: "missing configuration invalidation"
        case .hitlessUpdate: "non-hitless live update"
        case .pasidReuse: "PASID reused with page requests outstanding"
        case .tablePageReuse: "table page reused before its invalidation"
        case .atcInvalidation: "missing ATC invalidation"
        case .queueProtocol: "queue protocol"
        }
    }

    public static func < (a: CheckRule, b: CheckRule) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    public struct UnknownRule: Error, CustomStringConvertible {
        public var name: String
        public var description: String {
            "unknown check rule '\(name)' (known: \(CheckRule.allCases.map(\.rawValue).joined(separator: ", ")))"
        }
    }

    /// "all", or a comma-separated list of rule names.
    public static func parse(_ list: String) throws(UnknownRule) -> Set<CheckRule> {
        var rules: Set<CheckRule> = []
        for name in list.split(separator: ",", omittingEmptySubsequences: true) {
            let n = name.trimmingWhitespace
            if n == "all" { rules.formUnion(allCases); continue }
            guard let r = CheckRule(rawValue: n) else { throw UnknownRule(name: n) }
            rules.insert(r)
        }
        if rules.isEmpty { throw UnknownRule(name: list) }
        return rules
    }
}

private extension Substring {
    var trimmingWhitespace: String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
