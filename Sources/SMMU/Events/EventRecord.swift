/// Event type codes (IHI 0070, chapter 7.3; Linux's EVT_ID_*).
public enum EventType: UInt8, Sendable, CaseIterable {
    case F_UUT = 0x01
    case C_BAD_STREAMID = 0x02
    case F_STE_FETCH = 0x03
    case C_BAD_STE = 0x04
    case F_BAD_ATS_TREQ = 0x05
    case F_STREAM_DISABLED = 0x06
    case F_TRANSL_FORBIDDEN = 0x07
    case C_BAD_SUBSTREAMID = 0x08
    case F_CD_FETCH = 0x09
    case C_BAD_CD = 0x0A
    case F_WALK_EABT = 0x0B
    case F_TRANSLATION = 0x10
    case F_ADDR_SIZE = 0x11
    case F_ACCESS = 0x12
    case F_PERMISSION = 0x13
    case F_TLB_CONFLICT = 0x20
    case F_CFG_CONFLICT = 0x21
    case E_PAGE_REQUEST = 0x24
    case F_VMS_FETCH = 0x25
}

/// Which part of a translation faulted (event CLASS field).
public enum FaultClass: UInt8, Sendable {
    /// Fetching a CD (stage-2 translation of a CD address).
    case cd = 0b00
    /// A stage-1 translation-table walk (stage-2 translation of a table address).
    case tableWalk = 0b01
    /// The input address itself.
    case input = 0b10
}

/// One event, as the model produces it; `EventRecord.encode()` gives the
/// 32-byte queue record.
public struct EventRecord: Sendable, Hashable {
    public var type: EventType
    public var streamID: UInt32
    public var substreamID: UInt32?
    /// The transaction is stalled and waits for CMD_RESUME / CMD_STALL_TERM.
    public var stall = false
    public var stag: UInt16 = 0
    /// Read (true) or write (false): RnW.
    public var read = true
    /// Instruction fetch: InD.
    public var instruction = false
    /// Privileged: PnU.
    public var privileged = false
    /// The fault was in stage 2 (S2).
    public var stage2 = false
    public var faultClass: FaultClass = .input
    /// The transaction's input address (InputAddr).
    public var inputAddress: InputAddress = 0
    /// The IPA of a stage-2 fault (IPA, 7.3.13-7.3.17).
    public var ipa: IntermediateAddress = 0
    /// Where an F_STE_FETCH, F_CD_FETCH, F_VMS_FETCH or F_WALK_EABT access
    /// aborted (FetchAddr, a PA). It shares the record's bits with `ipa`;
    /// each type writes one of the two.
    public var fetchAddress: PhysicalAddress = 0
    /// Event-specific extra bits (e.g. F_WALK_EABT's reason, F_BAD_ATS_TREQ's span).
    public var extra: UInt64 = 0

    public init(type: EventType, streamID: UInt32, substreamID: UInt32? = nil) {
        self.type = type; self.streamID = streamID; self.substreamID = substreamID
    }
}
