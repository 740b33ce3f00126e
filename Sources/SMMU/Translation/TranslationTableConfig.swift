/// Translation granule, named by its size; raw value is log2(bytes).
public enum Granule: UInt8, Sendable, Hashable, CaseIterable {
    case size4K = 12, size16K = 14, size64K = 16
    public var bits: UInt8 { rawValue }
    /// Bits resolved per table level (descriptor index width).
    public var strideBits: UInt8 { rawValue - 3 }
}

/// One stage's translation regime, as decoded from a CD half (stage 1) or an
/// STE (stage 2), already validated by the decoder. The walker consumes this
/// and knows nothing of STEs and CDs.
///
/// `TableAddress` is the address space the stage's tables are in, which is
/// also that of its output: IPA space for stage 1 (`Stage1TableConfig`:
/// "translation table walks performed from TTB0 or TTB1 are always performed
/// in IPA space if stage 2 translations are enabled", and in PA space, at the
/// same address, if not, 5.4), PA space for stage 2 (`Stage2TableConfig`).
public struct TranslationTableConfig<TableAddress: SMMUAddress>: Sendable, Hashable {
    public var granule: Granule
    /// Input address size in bits (64 - TxSZ).
    public var inputSizeBits: UInt8
    /// Table base address (TTBx / S2TTB), aligned as the spec requires.
    public var tableBase: TableAddress
    /// Stage 2 only: the initial lookup level from S2SL0 (and concatenation
    /// follows from inputSizeBits). Nil for stage 1, where it follows from
    /// the granule and the input size.
    public var startLevel: Int8?
    /// Effective output address size in bits: min(IPS or S2PS, SMMU_IDR5.OAS).
    public var outputSizeBits: UInt8
    /// Hardware update of the access flag (CD.HA / STE.S2HA, with IDR0.HTTU).
    public var hardwareAccessFlag: Bool
    /// Hardware update of dirty state (CD.HD / STE.S2HD, with IDR0.HTTU=2).
    public var hardwareDirty: Bool
    /// Access-flag faults disabled (CD.AFFD / STE.S2AFFD): AF=0 is treated as 1.
    public var accessFlagFaultDisabled: Bool
    /// Top-byte-ignore (CD.TBIx).
    public var topByteIgnore: Bool
    /// Hierarchical attributes disabled (CD.HADx, with IDR3.HAD): APTable,
    /// PXNTable and UXNTable of the stage-1 tables walked are IGNORED.
    public var hierarchicalAttributesDisabled: Bool
    /// Stage 2 only: STE.S2PTW in effect (both stages translate, 5.2): a
    /// stage-1 table walk or CD fetch to a Device page is a stage-2
    /// Permission fault.
    public var protectedTableWalk = false
    /// Stage 2 only: STE.S2FWB, which changes how the descriptor's MemAttr
    /// encodes Device (FEAT_S2FWB).
    public var forcedWriteBack = false
    public init(granule: Granule, inputSizeBits: UInt8, tableBase: TableAddress, startLevel: Int8? = nil,
                outputSizeBits: UInt8, hardwareAccessFlag: Bool = false, hardwareDirty: Bool = false,
                accessFlagFaultDisabled: Bool = false, topByteIgnore: Bool = false,
                hierarchicalAttributesDisabled: Bool = false) {
        self.granule = granule; self.inputSizeBits = inputSizeBits; self.tableBase = tableBase
        self.startLevel = startLevel; self.outputSizeBits = outputSizeBits
        self.hardwareAccessFlag = hardwareAccessFlag; self.hardwareDirty = hardwareDirty
        self.accessFlagFaultDisabled = accessFlagFaultDisabled; self.topByteIgnore = topByteIgnore
        self.hierarchicalAttributesDisabled = hierarchicalAttributesDisabled
    }
}

/// A CD half (TTB0 or TTB1): tables at IPAs, output IPAs.
public typealias Stage1TableConfig = TranslationTableConfig<IntermediateAddress>
/// An STE's stage 2 (S2TTB): tables at PAs, output PAs.
public typealias Stage2TableConfig = TranslationTableConfig<PhysicalAddress>
