/// The features of one SMMU instance. The ID registers (IDR0-IDR5) are
/// derived from this value and nothing else. Defaults: everything on.
public struct SMMUConfiguration: Sendable, Equatable {
    public var stage1 = true
    public var stage2 = true
    /// Both stages at once (STE.Config = 0b111). Needs stage1 and stage2.
    public var nested = true
    /// SubstreamID width, 0-20 (0: no substreams, no PASID).
    public var substreamIDBits: UInt8 = 20
    /// StreamID width, 0-32.
    public var streamIDBits: UInt8 = 16
    public var twoLevelStreamTable = true
    public var twoLevelCDTables = true
    public var ats = true
    /// IDR0.ATSRECERR (SMMUv3.3): SMMU_CR2.REC_CFG_ATS can ask for
    /// configuration errors met by ATS traffic to be recorded (3.9.1.2).
    /// Off by default: this model otherwise reports SMMUv3.2.
    public var atsRecordConfigErrors = false
    public var pri = true
    public var msi = true
    public var sev = true
    /// Stall model: .both (stall and terminate), .stallOnly (forced), .terminateOnly.
    public var stallModel: StallModel = .both
    /// EL2 translation regime (TLBI_EL2_*, STE.STRW = EL2).
    public var hyp = true
    /// Range invalidation (TLBI with TG/SCALE/NUM/TTL).
    public var rangeInvalidation = true
    /// Hardware access-flag and dirty-state updates.
    public var httu: HTTU = .accessAndDirty
    /// Output address size in bits: 32, 36, 40, 42, 44, 48 or 52.
    public var outputAddressBits: UInt8 = 48
    public var granule4K = true
    public var granule16K = true
    public var granule64K = true
    public var asid16 = true
    public var vmid16 = true
    /// log2 of the queue sizes in entries (max the guest may program).
    public var commandQueueLog2: UInt8 = 19
    public var eventQueueLog2: UInt8 = 19
    public var priQueueLog2: UInt8 = 19
    /// Coherent table walks and queue accesses (IDR0.COHACC).
    public var coherent = true
    /// Broadcast TLB maintenance (IDR0.BTM): off, a virtual device sees none.
    public var broadcastTLBMaintenance = false

    public enum StallModel: UInt8, Sendable { case both = 0b00, terminateOnly = 0b01, stallOnly = 0b10 }
    public enum HTTU: UInt8, Sendable { case none = 0, accessFlag = 1, accessAndDirty = 2 }

    public init() {}

    public enum Invalid: Error, Equatable, CustomStringConvertible {
        case noStage, nestedNeedsBothStages, substreamIDBits(UInt8), streamIDBits(UInt8)
        case outputAddressBits(UInt8), noGranule, queueLog2(String, UInt8), priNeedsATS
        public var description: String {
            switch self {
            case .noStage: "at least one of stage 1 and stage 2 is required"
            case .nestedNeedsBothStages: "nested translation needs stage 1 and stage 2"
            case .substreamIDBits(let n): "SSID width \(n) is outside 0-20"
            case .streamIDBits(let n): "StreamID width \(n) is outside 0-32"
            case .outputAddressBits(let n): "OAS \(n) is not one of 32, 36, 40, 42, 44, 48, 52"
            case .noGranule: "at least one translation granule is required"
            case .queueLog2(let q, let n): "\(q) queue size 2^\(n) is outside 2^1-2^19"
            case .priNeedsATS: "PRI needs ATS"
            }
        }
    }

    /// Rejects combinations the architecture does not allow.
    public func validate() throws(Invalid) {
        guard stage1 || stage2 else { throw .noStage }
        if nested && !(stage1 && stage2) { throw .nestedNeedsBothStages }
        guard substreamIDBits <= 20 else { throw .substreamIDBits(substreamIDBits) }
        guard streamIDBits <= 32 else { throw .streamIDBits(streamIDBits) }
        guard [32, 36, 40, 42, 44, 48, 52].contains(outputAddressBits) else {
            throw .outputAddressBits(outputAddressBits)
        }
        guard granule4K || granule16K || granule64K else { throw .noGranule }
        for (name, v) in [("command", commandQueueLog2), ("event", eventQueueLog2), ("PRI", priQueueLog2)]
        where v < 1 || v > 19 { throw .queueLog2(name, v) }
        if pri && !ats { throw .priNeedsATS }
    }
}
