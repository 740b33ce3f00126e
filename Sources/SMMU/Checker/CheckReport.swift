/// One violation the checker found: the rule, where (stream, substream,
/// address space, address, command-queue index) and what it observed.
public struct CheckReport: Sendable, Equatable {
    public var rule: CheckRule
    public var streamID: UInt32?
    public var substreamID: UInt32?
    public var asid: UInt16?
    public var vmid: UInt16?
    /// An input address (IOVA, VA) or, for register rules, the register offset.
    public var address: UInt64?
    /// CMDQ_CONS of the command at which the violation became certain (for a
    /// use of stale state: the CMD_SYNC after which it was stale).
    public var commandIndex: UInt32?
    /// What was seen, in words.
    public var observed: String

    public init(rule: CheckRule, streamID: UInt32? = nil, substreamID: UInt32? = nil, asid: UInt16? = nil,
                vmid: UInt16? = nil, address: UInt64? = nil, commandIndex: UInt32? = nil, observed: String) {
        self.rule = rule; self.streamID = streamID; self.substreamID = substreamID; self.asid = asid
        self.vmid = vmid; self.address = address; self.commandIndex = commandIndex; self.observed = observed
    }

    /// One JSON object on one line (the `--check-report` format, docs/checker.md).
    public var jsonLine: String {
        var fields = ["\"rule\":\(Self.quote(rule.rawValue))", "\"section\":\(Self.quote(rule.section))",
                      "\"title\":\(Self.quote(rule.title))"]
        if let streamID { fields.append("\"sid\":\(streamID)") }
        if let substreamID { fields.append("\"ssid\":\(substreamID)") }
        if let asid { fields.append("\"asid\":\(asid)") }
        if let vmid { fields.append("\"vmid\":\(vmid)") }
        if let address { fields.append("\"address\":\(Self.quote(Self.hex(address)))") }
        if let commandIndex { fields.append("\"cmdq_index\":\(commandIndex)") }
        fields.append("\"observed\":\(Self.quote(observed))")
        return "{" + fields.joined(separator: ",") + "}"
    }

    /// The same on one human-readable line (for logs).
    public var summaryLine: String {
        var parts = ["check \(rule.rawValue) (\(rule.title), IHI 0070 \(rule.section)):"]
        if let streamID { parts.append("sid=\(streamID)") }
        if let substreamID { parts.append("ssid=\(substreamID)") }
        if let asid { parts.append("asid=\(asid)") }
        if let vmid { parts.append("vmid=\(vmid)") }
        if let address { parts.append("address=\(Self.hex(address))") }
        if let commandIndex { parts.append("cmdq_index=\(commandIndex)") }
        parts.append("- \(observed)")
        return parts.joined(separator: " ")
    }

    static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += "\\u" + String(repeating: "0", count: 4 - String(u.value, radix: 16).count) + String(u.value, radix: 16) }
                else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}
