import ArgumentParser
import SMMU

/// The model's features on the command line, derived from `SMMUFeature.all`:
/// `--NAME` / `--no-NAME` for flags, `--NAME VALUE` or `--NAME=VALUE` for any
/// feature, and `--feature NAME=VALUE`. Flags whose required features are off
/// are turned off (`--no-ats` also turns PRI off).
enum FeatureArguments {
    static func configuration(from arguments: [String]) throws -> SMMUConfiguration {
        var c = SMMUConfiguration()
        var rest = arguments[...]
        // Bounded: every iteration consumes at least one argument.
        while let arg = rest.popFirst() {
            guard arg.hasPrefix("--") else { throw ValidationError("unexpected argument '\(arg)'") }
            var word = String(arg.dropFirst(2))
            var value: String?
            if let eq = word.firstIndex(of: "=") {
                value = String(word[word.index(after: eq)...])
                word = String(word[..<eq])
            }
            if word == "feature" {
                guard let spec = value ?? rest.popFirst(), let eq = spec.firstIndex(of: "=") else {
                    throw ValidationError("--feature needs NAME=VALUE")
                }
                word = String(spec[..<eq])
                value = String(spec[spec.index(after: eq)...])
            }
            if value == nil, word.hasPrefix("no-"), let f = SMMUFeature.named(String(word.dropFirst(3))),
               case .flag = f.value {
                try set(f, "off", &c)
                continue
            }
            guard let f = SMMUFeature.named(word) else { throw ValidationError("unknown option '\(arg)'") }
            if case .flag = f.value, value == nil {
                try set(f, "on", &c)
                continue
            }
            guard let v = value ?? rest.popFirst() else { throw ValidationError("--\(f.name) needs \(f.expected)") }
            try set(f, v, &c)
        }
        SMMUFeature.applyRequirements(to: &c)
        return c
    }

    private static func set(_ f: SMMUFeature, _ v: String, _ c: inout SMMUConfiguration) throws {
        do { try f.set(v, in: &c) } catch { throw ValidationError("\(error)") }
    }

    /// The `--help` text for the features, one line each, with the defaults.
    static var help: String {
        let defaults = SMMUConfiguration()
        return SMMUFeature.all.map { f in
            let spelling: String
            switch f.value {
            case .flag: spelling = "--[no-]\(f.name)"
            case .number: spelling = "--\(f.name) N"
            case .choice(let names, _, _): spelling = "--\(f.name) \(names.joined(separator: "|"))"
            }
            return "  \(spelling): \(f.help) Default: \(f.text(in: defaults))."
        }.joined(separator: "\n")
    }
}
