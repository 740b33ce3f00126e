import Testing
@testable import SMMU

/// The feature table is the one list of SMMUConfiguration's features: every
/// field has exactly one entry, and values round-trip through their text.
@Suite("Feature table")
struct SMMUFeatureTests {
    static func fields(_ c: SMMUConfiguration) -> [String: String] {
        Dictionary(uniqueKeysWithValues: Mirror(reflecting: c).children.map { ($0.label!, "\($0.value)") })
    }

    /// A value other than the default, as the feature's text.
    static func otherValue(_ f: SMMUFeature) -> String {
        let d = f.text(in: SMMUConfiguration())
        switch f.value {
        case .flag: return d == "on" ? "off" : "on"
        case .number: return d == "7" ? "8" : "7"
        case .choice(let names, _, _): return names.first { $0 != d }!
        }
    }

    @Test func everyFieldHasExactlyOneFeature() throws {
        let defaults = Self.fields(SMMUConfiguration())
        var covered: [String: String] = [:]
        for f in SMMUFeature.all {
            var c = SMMUConfiguration()
            try f.set(Self.otherValue(f), in: &c)
            let changed = Self.fields(c).filter { defaults[$0.key] != $0.value }.map(\.key)
            #expect(changed.count == 1, "\(f.name) changes \(changed)")
            for field in changed {
                #expect(covered[field] == nil, "\(field) is set by \(covered[field] ?? "") and \(f.name)")
                covered[field] = f.name
            }
            #expect(f.text(in: c) == Self.otherValue(f))
        }
        #expect(Set(covered.keys) == Set(defaults.keys), "fields without a feature: \(Set(defaults.keys).subtracting(covered.keys))")
        #expect(Set(SMMUFeature.all.map(\.name)).count == SMMUFeature.all.count)
    }

    @Test func badValuesAreRejected() {
        var c = SMMUConfiguration()
        #expect(throws: SMMUFeature.ValueError.self) { try SMMUFeature.named("ats")!.set("maybe", in: &c) }
        #expect(throws: SMMUFeature.ValueError.self) { try SMMUFeature.named("oas")!.set("256", in: &c) }
        #expect(throws: SMMUFeature.ValueError.self) { try SMMUFeature.named("httu")!.set("dirty", in: &c) }
        #expect(c == SMMUConfiguration())
    }

    /// docs/backend.md: --no-ats also turns PRI off; nested is off when either stage is.
    @Test func requirementsTurnDependentsOff() throws {
        var c = SMMUConfiguration()
        try SMMUFeature.named("ats")!.set("off", in: &c)
        try SMMUFeature.named("stage2")!.set("off", in: &c)
        SMMUFeature.applyRequirements(to: &c)
        #expect(!c.pri && !c.nested && c.stage1)
        #expect((try? c.validate()) != nil)
    }

    /// The capability names of docs/backend.md (--print-capabilities).
    @Test func capabilityNames() {
        #expect(SMMUConfiguration().capabilities == [
            "stage1", "stage2", "nested", "substreams", "2lvl-strtab", "2lvl-cdtab", "ats", "pri", "msi", "sev",
            "stall", "hyp", "ril", "httu-af", "httu-dirty", "granule-4k", "granule-16k", "granule-64k",
            "asid16", "vmid16", "coherent",
        ])
        var c = SMMUConfiguration()
        c.substreamIDBits = 0; c.stallModel = .terminateOnly; c.httu = .accessFlag; c.broadcastTLBMaintenance = true
        let caps = c.capabilities
        #expect(!caps.contains("substreams") && !caps.contains("stall") && !caps.contains("httu-dirty"))
        #expect(caps.contains("httu-af") && caps.contains("btm"))
    }
}
