import CVSMMU
import SMMU

/// Where each feature of `SMMUFeature.all` sits in vsmmu.h's vsmmu_config:
/// the one mapping between the two, so both conversions below are loops
/// over the feature table and a feature cannot be forgotten on one side
/// (ConfigConversionTests checks that every feature and every C field is
/// mapped once).
enum CConfigField {
    case flag(WritableKeyPath<vsmmu_config, Bool>)
    case number(WritableKeyPath<vsmmu_config, UInt8>)
    /// A named choice, stored as the configuration enum's raw value.
    case rawValue(WritableKeyPath<vsmmu_config, UInt8>, get: (SMMUConfiguration) -> UInt8,
                  set: (inout SMMUConfiguration, UInt8) -> Void)

    nonisolated(unsafe) static let byFeature: [String: CConfigField] = [
        "stage1": .flag(\.stage1), "stage2": .flag(\.stage2), "nested": .flag(\.nested),
        "ssid-bits": .number(\.ssid_bits), "sid-bits": .number(\.sid_bits),
        "two-level-strtab": .flag(\.two_level_strtab), "two-level-cdtab": .flag(\.two_level_cdtab),
        "ats": .flag(\.ats), "pri": .flag(\.pri), "ats-record-errors": .flag(\.ats_record_errors),
        "msi": .flag(\.msi), "sev": .flag(\.sev),
        "stall-model": .rawValue(\.stall_model, get: { $0.stallModel.rawValue },
                                 set: { $0.stallModel = .init(rawValue: $1) ?? .both }),
        "hyp": .flag(\.hyp), "ril": .flag(\.range_invalidation),
        "httu": .rawValue(\.httu, get: { $0.httu.rawValue }, set: { $0.httu = .init(rawValue: $1) ?? .none }),
        "oas": .number(\.oas_bits),
        "granule4k": .flag(\.granule_4k), "granule16k": .flag(\.granule_16k), "granule64k": .flag(\.granule_64k),
        "asid16": .flag(\.asid16), "vmid16": .flag(\.vmid16),
        "coherent": .flag(\.coherent), "btm": .flag(\.btm),
        "cmdq-log2": .number(\.cmdq_log2), "evtq-log2": .number(\.evtq_log2), "priq-log2": .number(\.priq_log2),
    ]
}

extension CConfigField {
    /// The first field of `c` whose bytes mean nothing, as a message: a
    /// bool that is neither 0 nor 1 (reading it as a Swift Bool would be
    /// undefined), or a choice with no such setting. Reads the caller's raw
    /// bytes (the first `size` of the struct; fields past it take defaults).
    static func invalidField(in bytes: UnsafeRawBufferPointer) -> String? {
        do {
            for feature in SMMUFeature.all {
                switch byFeature[feature.name] {
                case .flag(let key)?:
                    let offset = MemoryLayout<vsmmu_config>.offset(of: key)!
                    guard offset < bytes.count else { continue }
                    let b = bytes[offset]
                    if b > 1 { return "vsmmu_config field for '\(feature.name)' is \(b), not a bool (0 or 1)" }
                case .rawValue(let key, let get, let set)?:
                    let offset = MemoryLayout<vsmmu_config>.offset(of: key)!
                    guard offset < bytes.count else { continue }
                    let v = bytes[offset]
                    var probe = SMMUConfiguration()
                    set(&probe, v)
                    if get(probe) != v { return "vsmmu_config field for '\(feature.name)' is \(v): no such setting" }
                case .number?, nil:
                    break
                }
            }
            return nil
        }
    }
}

extension SMMUConfiguration {
    /// The model configuration a C caller asked for.
    public init(_ c: vsmmu_config) {
        self.init()
        for feature in SMMUFeature.all {
            switch (feature.value, CConfigField.byFeature[feature.name]) {
            case (.flag(let key), .flag(let field)?): self[keyPath: key] = c[keyPath: field]
            case (.number(let key), .number(let field)?): self[keyPath: key] = c[keyPath: field]
            case (.choice, .rawValue(let field, _, let set)?): set(&self, c[keyPath: field])
            default: preconditionFailure("feature \(feature.name) has no matching vsmmu_config field")
            }
        }
    }

    /// The C mirror of this configuration (size: this library's sizeof).
    public var cConfig: vsmmu_config {
        var c = vsmmu_config()
        c.size = UInt32(MemoryLayout<vsmmu_config>.size)
        for feature in SMMUFeature.all {
            switch (feature.value, CConfigField.byFeature[feature.name]) {
            case (.flag(let key), .flag(let field)?): c[keyPath: field] = self[keyPath: key]
            case (.number(let key), .number(let field)?): c[keyPath: field] = self[keyPath: key]
            case (.choice, .rawValue(let field, let get, _)?): c[keyPath: field] = get(self)
            default: preconditionFailure("feature \(feature.name) has no matching vsmmu_config field")
            }
        }
        return c
    }
}
