/// Stage-1 regime: the two halves of a CD plus the permission controls.
public struct Stage1Regime: Sendable, Hashable {
    /// nil = EPD0: walks of that half fault with F_TRANSLATION.
    public var ttb0: Stage1TableConfig?
    /// nil = EPD1.
    public var ttb1: Stage1TableConfig?
    /// CD.WXN: writable memory is execute-never.
    public var wxn: Bool
    /// CD.UWXN: IGNORED for VMSAv8-64 CDs (5.4), where EL0-writable memory is
    /// always privileged-execute-never; kept so the decoder can pass it.
    public var uwxn: Bool
    /// EL2 (or EL2-E2H=0) regime: one VA range (TTB0 only), single privilege
    /// (AP[1] ignored, only XN bit 54).
    public var el2: Bool
    /// CD.PAN: privileged data accesses to unprivileged-accessible memory fault.
    public var pan: Bool

    public init(ttb0: Stage1TableConfig?, ttb1: Stage1TableConfig? = nil, wxn: Bool = false,
                uwxn: Bool = false, el2: Bool = false, pan: Bool = false) {
        self.ttb0 = ttb0; self.ttb1 = ttb1; self.wxn = wxn; self.uwxn = uwxn; self.el2 = el2; self.pan = pan
    }
}

public struct WalkResult: Sendable, Hashable {
    /// PA for the input address.
    public var outputAddress: PhysicalAddress
    /// log2 size of the smallest of the stage-1/stage-2 blocks that mapped it
    /// (what a TLB may cache). The contiguous hint is ignored (permitted by
    /// the architecture), so this is never larger than one descriptor's block.
    public var blockSizeLog2: UInt8
    /// Effective combined permissions now (a DBM page that is still clean is
    /// not writable here).
    public var permissions: Permissions
    public var stage1BlockLog2: UInt8?
    public var stage2BlockLog2: UInt8?
    /// The IPA stage 2 translated (stage 1's output, or the input address
    /// with stage 1 absent); nil without stage 2. Split-stage ATS returns it.
    public var intermediateAddress: IntermediateAddress?
    /// The stage-1 leaf is global (nG == 0) in a regime with ASIDs (3.17.1).
    public var global = false
    /// The leaf descriptor (stage 1's, or stage 2's without stage 1) as read
    /// before any hardware update, and the PA it was read from (nil with
    /// neither stage): what check mode watches for table-page reuse.
    public var leafDescriptorAddress: PhysicalAddress?
    public var leafDescriptor: UInt64 = 0

    public init(outputAddress: PhysicalAddress, blockSizeLog2: UInt8, permissions: Permissions,
                stage1BlockLog2: UInt8? = nil, stage2BlockLog2: UInt8? = nil,
                intermediateAddress: IntermediateAddress? = nil) {
        self.outputAddress = outputAddress; self.blockSizeLog2 = blockSizeLog2; self.permissions = permissions
        self.stage1BlockLog2 = stage1BlockLog2; self.stage2BlockLog2 = stage2BlockLog2
        self.intermediateAddress = intermediateAddress
    }
}

public struct WalkFault: Error, Sendable, Hashable {
    /// .F_TRANSLATION, .F_ADDR_SIZE, .F_ACCESS, .F_PERMISSION or .F_WALK_EABT.
    public var type: EventType
    /// The fault happened in stage 2 (event S2).
    public var stage2: Bool
    /// Event CLASS: stage-1 faults are .input, except F_WALK_EABT on a stage-1
    /// descriptor, which is .tableWalk (7.3.12); stage-2 faults are .tableWalk
    /// while translating a stage-1 descriptor address, .input for the final
    /// IPA, and whatever the caller asked of translateIPA (.cd).
    public var faultClass: FaultClass
    /// Stage-2 faults: the IPA that faulted (for .tableWalk, the stage-1
    /// descriptor address, 7.3.13).
    public var ipa: IntermediateAddress
    /// F_WALK_EABT: physical address of the descriptor access that aborted.
    public var fetchAddress: PhysicalAddress
    /// Lookup level where it faulted.
    public var level: Int8
    /// F_PERMISSION with .tableWalk: the stage-2 fault was caused by a write
    /// to a stage-1 descriptor (HTTU update), i.e. the event's TTRnW = 0.
    public var descriptorWrite: Bool

    public init(type: EventType, stage2: Bool, faultClass: FaultClass, ipa: IntermediateAddress = 0,
                fetchAddress: PhysicalAddress = 0, level: Int8 = 0, descriptorWrite: Bool = false) {
        self.type = type; self.stage2 = stage2; self.faultClass = faultClass; self.ipa = ipa
        self.fetchAddress = fetchAddress; self.level = level; self.descriptorWrite = descriptorWrite
    }
}

/// The VMSAv8-64 translation table walker (Arm ARM; SMMUv3 3.4 for address
/// sizes). It knows nothing of STEs and CDs: it consumes decoded
/// TranslationTableConfigs and reads descriptors from guest memory, once
/// each, validating the copy. Every loop is bounded by the level count
/// (at most 4 levels per stage) or by `maxUpdateAttempts`, so a hostile
/// table (a self-referencing one, one rewritten concurrently) can neither
/// crash nor hang the walk.
enum PageTableWalker {
    /// Full translation: stage 1 only (stage2 nil), stage 2 only (stage1
    /// nil), or nested (both: every stage-1 table address and the final
    /// stage-1 output are IPAs translated by stage 2). Checks permissions for
    /// `access`, manages AF/dirty (HTTU via memory.compareExchange64, retry
    /// bounded on CAS failure). With neither stage, the address is returned
    /// unchanged (size 2^64 is not representable: blockSizeLog2 = 63).
    /// Stage 1 yields an IPA, which is the PA when stage 2 is absent (3.4).
    static func walk(address: InputAddress, access: AccessType, stage1: Stage1Regime?,
                     stage2: Stage2TableConfig?, memory: any GuestMemory) -> Result<WalkResult, WalkFault> {
        let access = WalkPermissions.normalized(access)
        guard let stage1 else {
            guard let stage2 else {
                return .success(WalkResult(outputAddress: PhysicalAddress(bypassingTranslation: address),
                                           blockSizeLog2: 63, permissions: .all))
            }
            let ipa = IntermediateAddress(bypassingStage1: address)
            return stage2Walk(ipa: ipa, access: access, config: stage2, faultClass: .input, memory: memory)
                .map {
                    var r = WalkResult(outputAddress: $0.outputAddress, blockSizeLog2: $0.blockLog2,
                                       permissions: $0.permissions, stage2BlockLog2: $0.blockLog2,
                                       intermediateAddress: ipa)
                    r.leafDescriptorAddress = $0.leafAddress
                    r.leafDescriptor = $0.leafDescriptor
                    return r
                }
        }
        let s1: StageOutput<IntermediateAddress>
        switch stage1Walk(address: address, access: access, regime: stage1, stage2: stage2, memory: memory) {
        case .failure(let fault): return .failure(fault)
        case .success(let out): s1 = out
        }
        guard let stage2 else {
            var result = WalkResult(outputAddress: PhysicalAddress(bypassingStage2: s1.outputAddress),
                                    blockSizeLog2: s1.blockLog2, permissions: s1.permissions,
                                    stage1BlockLog2: s1.blockLog2)
            result.global = s1.global
            result.leafDescriptorAddress = s1.leafAddress
            result.leafDescriptor = s1.leafDescriptor
            return .success(result)
        }
        // The stage-1 output is an IPA; a stage-2 fault on it is CLASS == IN.
        switch stage2Walk(ipa: s1.outputAddress, access: access, config: stage2, faultClass: .input, memory: memory) {
        case .failure(let fault): return .failure(fault)
        case .success(let s2):
            var result = WalkResult(outputAddress: s2.outputAddress, blockSizeLog2: min(s1.blockLog2, s2.blockLog2),
                                    permissions: s1.permissions.intersection(s2.permissions),
                                    stage1BlockLog2: s1.blockLog2, stage2BlockLog2: s2.blockLog2,
                                    intermediateAddress: s1.outputAddress)
            result.global = s1.global
            result.leafDescriptorAddress = s1.leafAddress
            result.leafDescriptor = s1.leafDescriptor
            return .success(result)
        }
    }

    /// Stage-2 translation of one IPA (used by the integrator for CD fetches
    /// under nesting: faults carry `faultClass`, .cd by default).
    static func translateIPA(_ ipa: IntermediateAddress, access: AccessType, stage2: Stage2TableConfig,
                             memory: any GuestMemory, faultClass: FaultClass = .cd) -> Result<WalkResult, WalkFault> {
        stage2Walk(ipa: ipa, access: WalkPermissions.normalized(access), config: stage2,
                   faultClass: faultClass, memory: memory)
            .map { WalkResult(outputAddress: $0.outputAddress, blockSizeLog2: $0.blockLog2,
                              permissions: $0.permissions, stage2BlockLog2: $0.blockLog2) }
    }

    /// How many times a walk is retried when an HTTU compare-and-swap loses a
    /// race with a concurrent writer of the descriptor. Past that, the access
    /// faults as if hardware update were off (the guest is hammering its own
    /// descriptor; it gets no livelock out of us).
    static let maxUpdateAttempts = 4
}

/// The result of one stage for one address: an IPA out of stage 1, a PA
/// out of stage 2.
struct StageOutput<Address: SMMUAddress>: Sendable, Hashable {
    var outputAddress: Address
    var blockLog2: UInt8
    var permissions: Permissions
    /// Stage 1: the leaf is global (see WalkResult.global).
    var global = false
    /// The leaf descriptor as read, and the PA it was read from.
    var leafAddress: PhysicalAddress = 0
    var leafDescriptor: UInt64 = 0
}
