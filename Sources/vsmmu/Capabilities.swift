import SMMU

/// The --print-capabilities descriptor, in the manner of QEMU's
/// docs/interop/vhost-user.json backend programs.
enum Capabilities {
    static func features(_ c: SMMUConfiguration) -> [String] { c.capabilities }

    static func json(_ c: SMMUConfiguration) -> String {
        let list = features(c).map { "\"\($0)\"" }.joined(separator: ", ")
        return "{\"type\": \"smmuv3\", \"features\": [\(list)]}"
    }
}
