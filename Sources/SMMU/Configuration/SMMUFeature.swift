/// The features of `SMMUConfiguration`, listed once: the command line
/// (`--NAME`, `--no-NAME`, `--NAME VALUE`, `--feature NAME=VALUE`), the
/// capabilities the backend advertises (`--print-capabilities`, and through
/// them the protocol's GET_CONFIG caps) and the C configuration are derived
/// from this table.
public struct SMMUFeature: Sendable {
    public typealias Flag = WritableKeyPath<SMMUConfiguration, Bool> & Sendable
    public typealias Number = WritableKeyPath<SMMUConfiguration, UInt8> & Sendable

    public enum Value: Sendable {
        /// On or off.
        case flag(Flag)
        /// A width or a log2 size (checked by `SMMUConfiguration.validate`).
        case number(Number)
        /// One of a few named settings.
        case choice([String], get: @Sendable (SMMUConfiguration) -> String,
                    set: @Sendable (inout SMMUConfiguration, String) -> Void)
    }

    /// A capability name the backend advertises while `present` holds.
    public struct Capability: Sendable {
        public let name: String
        public let present: @Sendable (SMMUConfiguration) -> Bool
    }

    /// Command-line spelling (kebab case) and the name of `--feature NAME=VALUE`.
    public let name: String
    public let help: String
    public let value: Value
    public let capabilities: [Capability]
    /// Features this one needs: off when any of them is off.
    public let requires: [String]

    init(_ name: String, _ value: Value, _ help: String, capabilities: [Capability] = [], requires: [String] = []) {
        self.name = name; self.value = value; self.help = help
        self.capabilities = capabilities; self.requires = requires
    }

    /// A flag advertised under `capability` while it is on.
    static func flag(_ name: String, _ key: Flag, _ help: String, capability: String? = nil,
                     requires: [String] = []) -> SMMUFeature {
        SMMUFeature(name, .flag(key), help, capabilities: [Capability(name: capability ?? name) { $0[keyPath: key] }],
                    requires: requires)
    }

    public static let all: [SMMUFeature] = [
        .flag("stage1", \.stage1, "Stage-1 translation (IDR0.S1P)."),
        .flag("stage2", \.stage2, "Stage-2 translation (IDR0.S2P)."),
        .flag("nested", \.nested, "Nested translation (both stages at once).", requires: ["stage1", "stage2"]),
        SMMUFeature("ssid-bits", .number(\.substreamIDBits),
                    "SubstreamID (PASID) width in bits, 0-20 (IDR1.SSIDSIZE); 0: no substreams.",
                    capabilities: [Capability(name: "substreams") { $0.substreamIDBits > 0 }]),
        SMMUFeature("sid-bits", .number(\.streamIDBits), "StreamID width in bits, 0-32 (IDR1.SIDSIZE)."),
        .flag("two-level-strtab", \.twoLevelStreamTable, "2-level stream tables (IDR0.ST_LEVEL).",
              capability: "2lvl-strtab"),
        .flag("two-level-cdtab", \.twoLevelCDTables, "2-level CD tables (IDR0.CD2L).", capability: "2lvl-cdtab"),
        .flag("ats", \.ats, "PCIe ATS (IDR0.ATS); the front end advertises ats-supported."),
        .flag("pri", \.pri, "PCIe PRI and the PRI queue (IDR0.PRI).", requires: ["ats"]),
        .flag("ats-record-errors", \.atsRecordConfigErrors,
              "Configuration errors of ATS requests recordable through CR2.REC_CFG_ATS (IDR0.ATSRECERR, SMMUv3.3).",
              requires: ["ats"]),
        .flag("msi", \.msi, "MSIs (IDR0.MSI): CMD_SYNC completion written to guest RAM."),
        .flag("sev", \.sev, "Send-event on CMD_SYNC (IDR0.SEV)."),
        SMMUFeature("stall-model", .choice(["both", "terminate", "stall"], get: { c in
            switch c.stallModel { case .both: "both"; case .terminateOnly: "terminate"; case .stallOnly: "stall" }
        }, set: { c, v in
            c.stallModel = v == "terminate" ? .terminateOnly : v == "stall" ? .stallOnly : .both
        }), "Stall model (IDR0.STALL_MODEL): both, terminate or stall (forced).",
                    capabilities: [Capability(name: "stall") { $0.stallModel != .terminateOnly }]),
        .flag("hyp", \.hyp, "EL2 translation regime and TLBI_EL2_* (IDR0.HYP)."),
        .flag("ril", \.rangeInvalidation, "Range invalidation (IDR3.RIL)."),
        SMMUFeature("httu", .choice(["none", "af", "af+dirty"], get: { c in
            switch c.httu { case .none: "none"; case .accessFlag: "af"; case .accessAndDirty: "af+dirty" }
        }, set: { c, v in
            c.httu = v == "none" ? .none : v == "af" ? .accessFlag : .accessAndDirty
        }), "Hardware table updates (IDR0.HTTU): none, af or af+dirty.",
                    capabilities: [Capability(name: "httu-af") { $0.httu != .none },
                                   Capability(name: "httu-dirty") { $0.httu == .accessAndDirty }]),
        SMMUFeature("oas", .number(\.outputAddressBits),
                    "Output address size in bits: 32, 36, 40, 42, 44, 48 or 52 (IDR5.OAS)."),
        .flag("granule4k", \.granule4K, "4 KiB translation granule (IDR5.GRAN4K).", capability: "granule-4k"),
        .flag("granule16k", \.granule16K, "16 KiB translation granule (IDR5.GRAN16K).", capability: "granule-16k"),
        .flag("granule64k", \.granule64K, "64 KiB translation granule (IDR5.GRAN64K).", capability: "granule-64k"),
        .flag("asid16", \.asid16, "16-bit ASIDs (IDR0.ASID16)."),
        .flag("vmid16", \.vmid16, "16-bit VMIDs (IDR0.VMID16)."),
        .flag("coherent", \.coherent, "Coherent table walks and queue accesses (IDR0.COHACC)."),
        .flag("btm", \.broadcastTLBMaintenance, "Broadcast TLB maintenance (IDR0.BTM)."),
        SMMUFeature("cmdq-log2", .number(\.commandQueueLog2), "log2 of the largest command queue, 1-19 (IDR1.CMDQS)."),
        SMMUFeature("evtq-log2", .number(\.eventQueueLog2), "log2 of the largest event queue, 1-19 (IDR1.EVENTQS)."),
        SMMUFeature("priq-log2", .number(\.priQueueLog2), "log2 of the largest PRI queue, 1-19 (IDR1.PRIQS)."),
    ]

    public static func named(_ name: String) -> SMMUFeature? { all.first { $0.name == name } }

    public enum ValueError: Error, Equatable, CustomStringConvertible {
        case badValue(feature: String, value: String, expected: String)
        public var description: String {
            switch self {
            case .badValue(let f, let v, let e): "\(f): '\(v)' is not \(e)"
            }
        }
    }

    /// What `set` accepts, for messages and help.
    public var expected: String {
        switch value {
        case .flag: "on/off (true/false, 1/0)"
        case .number: "a number 0-255"
        case .choice(let names, _, _): names.joined(separator: ", ")
        }
    }

    /// Sets this feature in `c` from its textual value.
    public func set(_ text: String, in c: inout SMMUConfiguration) throws(ValueError) {
        switch value {
        case .flag(let key):
            switch text.lowercased() {
            case "on", "true", "yes", "1": c[keyPath: key] = true
            case "off", "false", "no", "0": c[keyPath: key] = false
            default: throw .badValue(feature: name, value: text, expected: expected)
            }
        case .number(let key):
            guard let n = UInt8(text) else { throw .badValue(feature: name, value: text, expected: expected) }
            c[keyPath: key] = n
        case .choice(let names, _, let set):
            guard names.contains(text) else { throw .badValue(feature: name, value: text, expected: expected) }
            set(&c, text)
        }
    }

    /// The feature's value in `c`, as `set` accepts it.
    public func text(in c: SMMUConfiguration) -> String {
        switch value {
        case .flag(let key): c[keyPath: key] ? "on" : "off"
        case .number(let key): String(c[keyPath: key])
        case .choice(_, let get, _): get(c)
        }
    }

    /// Turns off every flag whose required features are off (nested without
    /// both stages, PRI without ATS).
    public static func applyRequirements(to c: inout SMMUConfiguration) {
        for f in all where !f.requires.isEmpty {
            guard case .flag(let key) = f.value else { continue }
            let missing = f.requires.contains { r in
                guard let req = named(r), case .flag(let rk) = req.value else { return false }
                return !c[keyPath: rk]
            }
            if missing { c[keyPath: key] = false }
        }
    }
}

extension SMMUConfiguration {
    /// The capability names of the enabled features, in table order.
    public var capabilities: [String] {
        SMMUFeature.all.flatMap { f in f.capabilities.filter { $0.present(self) }.map(\.name) }
    }
}
