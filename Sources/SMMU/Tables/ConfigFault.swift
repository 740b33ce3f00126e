/// Why a configuration lookup (STE, CD) failed: the event to record.
///
/// `fetchAddress` is the physical address of the failed fetch for
/// F_STE_FETCH / F_CD_FETCH (the event's FetchAddr), 0 otherwise.
/// `record` is false where the architecture records nothing: C_BAD_STREAMID
/// with SMMU_CR2.RECINVSID=0, and a stage-2 fault on a CD fetch (see
/// `stage2Fault`).
public struct ConfigFault: Error, Sendable, Hashable {
    public var type: EventType
    public var fetchAddress: PhysicalAddress
    public var record: Bool
    /// A CD or L1CD address (an IPA under nesting) did not translate at
    /// stage 2: `resolve` returned nil. The caller holds that stage-2 fault
    /// (CLASS=CD) and records it as STE.S2R says; this value is only a
    /// marker: `type` is nominally F_TRANSLATION, `record` is false and
    /// `ipa` is the address that failed.
    public var stage2Fault: Bool = false
    /// The marker's IPA (0 for every other fault).
    public var ipa: IntermediateAddress = 0

    public init(type: EventType, fetchAddress: PhysicalAddress = 0, record: Bool = true, stage2Fault: Bool = false,
                ipa: IntermediateAddress = 0) {
        self.type = type; self.fetchAddress = fetchAddress; self.record = record; self.stage2Fault = stage2Fault
        self.ipa = ipa
    }

    /// StreamID out of range or not reaching an STE (5.1.1, 6.3.25);
    /// recorded only when SMMU_CR2.RECINVSID=1.
    static func badStreamID(record: Bool) -> ConfigFault { .init(type: .C_BAD_STREAMID, record: record) }
    /// External abort (or out-of-range address) fetching an STE or L1STD.
    static func steFetch(at address: PhysicalAddress) -> ConfigFault { .init(type: .F_STE_FETCH, fetchAddress: address) }
    /// STE.V=0 or an ILLEGAL STE (5.2).
    static let badSTE = ConfigFault(type: .C_BAD_STE)
    /// SubstreamID out of range, or L1CD.V=0 (5.2 S1CDMax, 5.3.1).
    static let badSubstreamID = ConfigFault(type: .C_BAD_SUBSTREAMID)
    /// External abort fetching a CD or L1CD.
    static func cdFetch(at address: PhysicalAddress) -> ConfigFault { .init(type: .F_CD_FETCH, fetchAddress: address) }
    /// CD.V=0 or an ILLEGAL CD (5.4).
    static let badCD = ConfigFault(type: .C_BAD_CD)
    /// No SubstreamID where S1DSS demands one, or SubstreamID 0 with S1DSS=0b10 (5.2 S1DSS).
    static let streamDisabled = ConfigFault(type: .F_STREAM_DISABLED)
    /// Marker for a stage-2 fault on a CD/L1CD fetch; see `stage2Fault`.
    static func stage2Fault(ipa: IntermediateAddress) -> ConfigFault {
        .init(type: .F_TRANSLATION, record: false, stage2Fault: true, ipa: ipa)
    }
}
