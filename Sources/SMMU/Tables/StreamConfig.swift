/// A validated STE, copied out of guest memory (IHI 0070 5.2). Field names
/// follow the spec.
public struct StreamConfig: Sendable, Hashable {
    public enum Mode: Sendable, Hashable {
        /// STE.V=1, Config=0b000: abort, no event.
        case abort
        /// Config=0b100: bypass both stages.
        case bypass
        /// Config=0b1xx with at least one stage translating.
        case translate
    }
    public var mode: Mode
    /// Stage 1 present (Config[0]).
    public var stage1: Stage1Config?
    /// Stage 2 present (Config[1]).
    public var stage2: Stage2Config?
    /// STE.EATS in effect: off, full ATS, or split-stage (nested) ATS.
    public var eats: STE.EATS = .off
    /// STE.STRW: EL2 only when the SMMU has HYP and stage 2 is off.
    public var strw: STE.STRW = .el1
    /// STE.PPAR: PRG responses carry a PASID.
    public var ppar = false
    /// STE.MEV: merge events (may be ignored).
    public var mev = false
    /// STE.S1STALLD: stage-1 stalls disabled.
    public var s1StallDisabled = false
    /// The StreamWorld (IHI 0070 3.3.3, 5.2 STRW): from STE.STRW and
    /// SMMU_CR2.E2H for a stage-1-only STE, NS-EL1 otherwise.
    public var streamWorld: StreamWorld = .el1
    /// VMID tagging this stream's TLB entries (STE.S2VMID): set when the
    /// StreamWorld is NS-EL1, a stage translates and the SMMU implements
    /// stage 2 (also for stage-1-only STEs); nil when S2VMID is IGNORED.
    public var vmidTag: UInt16?
    public init(mode: Mode) { self.mode = mode }

    public enum StreamWorld: Sendable, Hashable {
        /// NS-EL1: ASID and VMID tagged, two VA halves (TTB0/TTB1).
        case el1
        /// NS-EL2 (STRW=0b10, CR2.E2H=0): no ASID, TTB0 only, CD.EPDx IGNORED.
        case el2
        /// NS-EL2-E2H (STRW=0b10, CR2.E2H=1): ASID tagged, two VA halves.
        case el2E2H
    }
}

public struct Stage1Config: Sendable, Hashable {
    /// S1ContextPtr: address of the CD or CD table, an IPA (used as the PA
    /// when stage 2 does not translate, 5.2).
    public var contextPointer: IntermediateAddress
    /// S1Fmt: a linear table, or 2-level with 4 KiB or 64 KiB leaves.
    public var format: STE.S1Fmt
    /// S1CDMax: log2 of the number of CDs; 0 means a single CD, no substreams.
    public var cdMaxBits: UInt8
    /// S1DSS: what a transaction without SSID gets (terminate, bypass stage 1, substream 0).
    public var defaultSubstream: STE.S1DSS
    public init(contextPointer: IntermediateAddress, format: STE.S1Fmt, cdMaxBits: UInt8, defaultSubstream: STE.S1DSS) {
        self.contextPointer = contextPointer; self.format = format
        self.cdMaxBits = cdMaxBits; self.defaultSubstream = defaultSubstream
    }
}

public struct Stage2Config: Sendable, Hashable {
    public var vmid: UInt16
    public var table: Stage2TableConfig
    /// S2R: record faults.
    public var recordFaults: Bool
    /// S2S: stall faults.
    public var stallFaults: Bool
    /// S2PTW in effect: protected table walk (stage-1 walks and CD fetches
    /// to Device memory fault). IGNORED (false) unless both stages translate.
    public var protectedTableWalk: Bool { table.protectedTableWalk }
    public init(vmid: UInt16, table: Stage2TableConfig, recordFaults: Bool, stallFaults: Bool) {
        self.vmid = vmid; self.table = table; self.recordFaults = recordFaults
        self.stallFaults = stallFaults
    }
}

/// A validated CD, copied out of guest memory (IHI 0070 5.4).
public struct ContextDescriptor: Sendable, Hashable {
    public var asid: UInt16
    /// TTB0 half (VA[55]=0); nil when EPD0=1 (walks of that half fault).
    public var ttb0: Stage1TableConfig?
    /// TTB1 half (VA[55]=1); nil when EPD1=1.
    public var ttb1: Stage1TableConfig?
    /// R: record faults.
    public var recordFaults: Bool
    /// A: abort (terminate) faulting transactions rather than stall them.
    public var abortOnFault: Bool
    /// S: stall faults.
    public var stallFaults: Bool
    /// WXN / UWXN: writable implies never-execute.
    public var wxn: Bool
    public var uwxn: Bool
    /// CD.PAN: privileged data accesses to user-accessible pages fault.
    public var pan = false
    /// {CD.MAIR1, CD.MAIR0}, indexed by a descriptor's AttrIndx.
    public var mair: UInt64 = 0
    /// ASET: global TLB entries match only lookups with the same ASET (3.17.1).
    public var aset = false
    /// AA64 (only AArch64 tables are supported; AA64=0 is ILLEGAL here).
    public init(asid: UInt16, ttb0: Stage1TableConfig?, ttb1: Stage1TableConfig?,
                recordFaults: Bool, abortOnFault: Bool, stallFaults: Bool, wxn: Bool, uwxn: Bool) {
        self.asid = asid; self.ttb0 = ttb0; self.ttb1 = ttb1; self.recordFaults = recordFaults
        self.abortOnFault = abortOnFault; self.stallFaults = stallFaults; self.wxn = wxn; self.uwxn = uwxn
    }
}
