/// The register state the translation path reads on every transaction,
/// published by the register file as one immutable snapshot (so a
/// translation never takes the register lock and never sees a torn update).
public struct ControlState: Sendable, Hashable {
    /// CR0.SMMUEN (as acknowledged in CR0ACK).
    public var smmuEnabled = false
    /// GBPA.ABORT: with SMMUEN=0, abort (true) or bypass (false) every transaction.
    public var globalBypassAbort = false
    /// CR0.ATSCHK: ATS-translated transactions are checked against the STE.
    public var atsCheck = false
    /// STRTAB_BASE.ADDR (bits [51:6]), a PA.
    public var streamTableBase: PhysicalAddress = 0
    /// STRTAB_BASE_CFG.LOG2SIZE, FMT (0 linear, 1 2-level) and SPLIT.
    public var streamTableLog2Size: UInt8 = 0
    public var streamTableTwoLevel = false
    public var streamTableSplit: UInt8 = 0
    /// CR2.RECINVSID: record C_BAD_STREAMID for out-of-range StreamIDs.
    public var recordInvalidStreamID = false
    /// CR2.REC_CFG_ATS (with IDR0.ATSRECERR): record configuration errors
    /// of ATS Translation Requests and Translated transactions.
    public var recordConfigErrorsATS = false
    /// CR2.E2H and CR2.PTM.
    public var e2h = false
    /// CR0.PRIQEN and CR0.EVTQEN (as acknowledged).
    public var eventQueueEnabled = false
    public var priQueueEnabled = false
    public init() {}
}

/// What the translation path asks of the register/queue side.
public protocol EventSink: AnyObject, Sendable {
    /// Current register snapshot.
    var controlState: ControlState { get }
    /// Queues an event in the event queue (subject to EVTQEN, overflow, MEV);
    /// raises the event-queue interrupt or MSI. Returns whether it was queued.
    @discardableResult func record(_ event: EventRecord) -> Bool
}
