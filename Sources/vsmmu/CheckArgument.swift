import ArgumentParser
import SMMU

/// `--check` and `--check=RULES` (a value is optional, which the argument
/// parser's options cannot express, so they are taken out of the arguments
/// the features did not recognise).
enum CheckArgument {
    static func extract(_ arguments: [String]) throws -> (rules: Set<CheckRule>?, rest: [String]) {
        var rules: Set<CheckRule>?
        var rest: [String] = []
        for arg in arguments {
            if arg == "--check" {
                rules = Set(CheckRule.allCases)
            } else if arg.hasPrefix("--check=") {
                do { rules = try CheckRule.parse(String(arg.dropFirst("--check=".count))) } catch {
                    throw ValidationError("\(error)")
                }
            } else {
                rest.append(arg)
            }
        }
        return (rules, rest)
    }
}
