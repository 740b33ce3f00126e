/// The two stages of the walk: locating the leaf descriptor (shared), then
/// each stage's leaf checks in the architecture's priority order: Address
/// size, Access flag, Permission (Arm ARM fault prioritization), followed
/// by the HTTU update when one is needed.
extension PageTableWalker {
    private typealias D = PageTableDescriptor

    /// Where one stage's walk found its block or page descriptor.
    struct WalkLeaf<TableAddress: SMMUAddress> {
        /// The copy of the descriptor every check is made on.
        var descriptor: UInt64
        /// Physical address it was read from (where an HTTU update goes
        /// without nesting).
        var descriptorAddress: PhysicalAddress
        /// Its address in the stage's table space: an IPA at stage 1 (where
        /// a nested HTTU update goes, through stage 2), the PA at stage 2.
        var tableAddress: TableAddress
        var level: Int8
        /// log2 of the block or page size.
        var shift: UInt8
        /// OR of the hierarchical attributes of the stage-1 tables walked.
        var tableAttributes: UInt64
    }

    /// Who reports a fault: stage 1 (S2 = 0, CLASS = IN, except F_WALK_EABT,
    /// which is CLASS = TT, 7.3.12) or stage 2 for a given class and IPA.
    struct FaultSite {
        var stage2: Bool
        var faultClass: FaultClass
        var ipa: IntermediateAddress

        static let stage1 = FaultSite(stage2: false, faultClass: .input, ipa: 0)

        func fault(_ type: EventType, level: Int8, fetchAddress: PhysicalAddress = 0) -> WalkFault {
            let cls: FaultClass = (type == .F_WALK_EABT && !stage2) ? .tableWalk : faultClass
            return WalkFault(type: type, stage2: stage2, faultClass: cls, ipa: ipa,
                             fetchAddress: fetchAddress, level: level)
        }
    }

    /// Walks the tables of one stage from `base` down to the block or page
    /// that maps `input` (the bits of the stage's input address, already
    /// reduced to its input size). `tables` says where a descriptor is read:
    /// under nesting a stage-1 descriptor address is an IPA translated by
    /// stage 2 first, and a stage-2 fault there is returned as is (S2 = 1,
    /// CLASS = TT, IPA = the stage-1 descriptor address).
    static func findLeaf<Tables: TableSpace>(input: UInt64, geometry: WalkGeometry, base: Tables.Address,
                                             outputSizeBits: UInt8, site: FaultSite, tables: Tables,
                                             memory: any GuestMemory) -> Result<WalkLeaf<Tables.Address>, WalkFault> {
        var table = geometry.alignedBase(base)
        // The decoder rejects an out-of-range TTB (C_BAD_CD / C_BAD_STE, 3.4.3);
        // this is the walker's own guard.
        guard table.fits(bits: min(outputSizeBits, D.maxOutputBits)) else {
            return .failure(site.fault(.F_ADDR_SIZE, level: geometry.startLevel))
        }
        var attributes: UInt64 = 0
        var level = geometry.startLevel
        // At most 4 iterations: the level only grows.
        while level <= 3 {
            let shift = geometry.shift(at: level)
            let indexMask = (UInt64(1) << UInt64(geometry.indexBits(at: level))) &- 1
            let index = (input >> UInt64(shift)) & indexMask
            // The table is aligned to its size, so this sets bits it has clear.
            let descriptorAddress = table &+ index << 3
            let descriptorPA: PhysicalAddress
            switch tables.location(ofDescriptorAt: descriptorAddress, memory: memory) {
            case .failure(let fault): return .failure(fault)
            case .success(let pa): descriptorPA = pa
            }
            guard let descriptor = memory.read64(at: descriptorPA) else {
                return .failure(site.fault(.F_WALK_EABT, level: level, fetchAddress: descriptorPA))
            }
            guard descriptor & D.valid != 0 else { return .failure(site.fault(.F_TRANSLATION, level: level)) }
            let isTableOrPage = descriptor & D.tableOrPage != 0
            if level < 3 && isTableOrPage {
                let next = Tables.Address(D.address(descriptor, lowBit: geometry.granuleBits))
                guard next.fits(bits: outputSizeBits) else {
                    return .failure(site.fault(.F_ADDR_SIZE, level: level))
                }
                if !site.stage2 { attributes |= descriptor & D.hierarchicalAttributes }
                table = next
                level += 1
                continue
            }
            // A block where the granule allows none, or a level-3 descriptor
            // with bits[1:0] == 01 (reserved), is invalid.
            guard level < 3 ? geometry.blockAllowed(at: level) : isTableOrPage else {
                return .failure(site.fault(.F_TRANSLATION, level: level))
            }
            return .success(WalkLeaf(descriptor: descriptor, descriptorAddress: descriptorPA,
                                     tableAddress: descriptorAddress, level: level, shift: shift,
                                     tableAttributes: attributes))
        }
        return .failure(site.fault(.F_TRANSLATION, level: 3))
    }

    /// {HD, HA} = 0b10 is reserved and behaves as HTTU disabled (CD.HA, 5.4;
    /// STE.S2HA likewise), so dirty state is managed only together with AF.
    @inline(__always)
    static func dirtyStateManaged<A>(_ config: TranslationTableConfig<A>) -> Bool {
        config.hardwareDirty && config.hardwareAccessFlag
    }

    // MARK: Stage 1

    static func stage1Walk(address: InputAddress, access: AccessType, regime: Stage1Regime,
                           stage2: Stage2TableConfig?,
                           memory: any GuestMemory) -> Result<StageOutput<IntermediateAddress>, WalkFault> {
        let site = FaultSite.stage1
        let va = address.raw
        // VA[55] selects TTB1 (3.4.1); a single-range (EL2) regime has TTB0 only.
        let upper = !regime.el2 && (va >> 55) & 1 == 1
        guard let config = upper ? regime.ttb1 : regime.ttb0,
              let geometry = WalkGeometry.stage1(config) else {
            return .failure(site.fault(.F_TRANSLATION, level: 0))
        }
        // VA[AddrTop:N] must all equal VA[55] (AddrTop = 55 with TBI, else 63).
        let n = UInt64(geometry.inputSizeBits)
        let width: UInt64 = (config.topByteIgnore ? 56 : 64) - n
        let ones = (UInt64(1) << width) &- 1
        guard (va >> n) & ones == (upper ? ones : 0) else {
            return .failure(site.fault(.F_TRANSLATION, level: geometry.startLevel))
        }
        let input = va & ((UInt64(1) << n) &- 1)
        var fallback = site.fault(.F_ACCESS, level: geometry.startLevel)
        for _ in 0..<maxUpdateAttempts {
            let leaf: WalkLeaf<IntermediateAddress>, output: IntermediateAddress
            var set: UInt64, clear: UInt64 = 0
            switch leafOutput(input: input, geometry: geometry, config: config, site: site,
                              tables: Stage1TableSpace(stage2: stage2), memory: memory) {
            case .failure(let fault): return .failure(fault)
            case .success(let r): (leaf, output, set) = r
            }
            let descriptor = leaf.descriptor
            let readOnly = descriptor & D.ap2 != 0
            // CD.HADx == 1: the tables' APTable/PXNTable/UXNTable are IGNORED (5.4 HAD0).
            let tableAttributes = config.hierarchicalAttributesDisabled ? 0 : leaf.tableAttributes
            var permissions = WalkPermissions.stage1(descriptor: descriptor, tableAttributes: tableAttributes,
                                                     readOnly: readOnly, regime: regime)
            if !permissions.allows(access) {
                // Writable-clean (DBM = 1, AP[2] = 1) with CD.HD: the write
                // makes it dirty by clearing AP[2], if nothing else forbids it.
                let dirtied = WalkPermissions.stage1(descriptor: descriptor, tableAttributes: tableAttributes,
                                                     readOnly: false, regime: regime)
                guard access.contains(.write), readOnly, dirtyStateManaged(config), descriptor & D.dbm != 0,
                      dirtied.allows(access) else {
                    return .failure(site.fault(.F_PERMISSION, level: leaf.level))
                }
                permissions = dirtied
                clear = D.ap2
            }
            // 3.17.1: nG has no effect in a regime without ASIDs (EL2).
            // The output is aligned to the block: the offset fills its low bits.
            let out = StageOutput(outputAddress: output &+ address.offset(inBlockLog2: leaf.shift),
                                  blockLog2: leaf.shift, permissions: permissions,
                                  global: !regime.el2 && descriptor & D.notGlobal == 0,
                                  leafAddress: leaf.descriptorAddress, leafDescriptor: descriptor)
            if set == 0 && clear == 0 { return .success(out) }

            // HTTU. Under nesting the update is a write through stage 2 to the
            // descriptor's IPA, which stage 2 must permit (7.3.16, TTRnW = 0).
            var updateAddress = leaf.descriptorAddress
            if let stage2 {
                switch stage2Walk(ipa: leaf.tableAddress, access: .write, config: stage2,
                                  faultClass: .tableWalk, memory: memory) {
                case .failure(var fault):
                    fault.descriptorWrite = true
                    return .failure(fault)
                case .success(let s2): updateAddress = s2.outputAddress
                }
            }
            guard let old = memory.compareExchange64(at: updateAddress, expected: descriptor,
                                                     desired: (descriptor | set) & ~clear) else {
                return .failure(site.fault(.F_WALK_EABT, level: leaf.level, fetchAddress: updateAddress))
            }
            if old == descriptor { return .success(out) }
            // Lost a race with a writer of the descriptor: walk again.
            fallback = site.fault(set != 0 ? .F_ACCESS : .F_PERMISSION, level: leaf.level)
        }
        return .failure(fallback)
    }

    /// The steps both stages share once a walk reaches its leaf: the output
    /// address must fit the output size, and an access flag of 0 is either
    /// set by hardware (HA / S2HA; AFFD is then IGNORED, 5.4) or an Access
    /// fault unless AFFD / S2AFFD disable it. Returns the leaf, its output
    /// address and the descriptor bits an HTTU update must set.
    static func leafOutput<Tables: TableSpace>(
        input: UInt64, geometry: WalkGeometry, config: TranslationTableConfig<Tables.Address>, site: FaultSite,
        tables: Tables, memory: any GuestMemory
    ) -> Result<(WalkLeaf<Tables.Address>, Tables.Address, UInt64), WalkFault> {
        let leaf: WalkLeaf<Tables.Address>
        switch findLeaf(input: input, geometry: geometry, base: config.tableBase,
                        outputSizeBits: config.outputSizeBits, site: site, tables: tables, memory: memory) {
        case .failure(let fault): return .failure(fault)
        case .success(let l): leaf = l
        }
        let output = Tables.Address(D.address(leaf.descriptor, lowBit: leaf.shift))
        guard output.fits(bits: config.outputSizeBits) else {
            return .failure(site.fault(.F_ADDR_SIZE, level: leaf.level))
        }
        var set: UInt64 = 0
        if leaf.descriptor & D.accessFlag == 0 {
            if config.hardwareAccessFlag { set |= D.accessFlag }
            else if !config.accessFlagFaultDisabled {
                return .failure(site.fault(.F_ACCESS, level: leaf.level))
            }
        }
        return .success((leaf, output, set))
    }

    // MARK: Stage 2

    static func stage2Walk(ipa: IntermediateAddress, access: AccessType, config: Stage2TableConfig,
                           faultClass: FaultClass,
                           memory: any GuestMemory) -> Result<StageOutput<PhysicalAddress>, WalkFault> {
        let site = FaultSite(stage2: true, faultClass: faultClass, ipa: ipa)
        guard let geometry = WalkGeometry.stage2(config) else {
            return .failure(site.fault(.F_TRANSLATION, level: config.startLevel ?? 0))
        }
        // An IPA outside the S2T0SZ range is a stage-2 Translation fault (3.4).
        guard ipa.fits(bits: geometry.inputSizeBits) else {
            return .failure(site.fault(.F_TRANSLATION, level: geometry.startLevel))
        }
        var fallback = site.fault(.F_ACCESS, level: geometry.startLevel)
        for _ in 0..<maxUpdateAttempts {
            let leaf: WalkLeaf<PhysicalAddress>, output: PhysicalAddress
            var set: UInt64
            switch leafOutput(input: ipa.raw, geometry: geometry, config: config, site: site,
                              tables: Stage2TableSpace(), memory: memory) {
            case .failure(let fault): return .failure(fault)
            case .success(let r): (leaf, output, set) = r
            }
            let descriptor = leaf.descriptor
            // STE.S2PTW (5.2): a stage-1 table walk or CD fetch (CLASS != IN)
            // to a Device page is a stage-2 Permission fault.
            if config.protectedTableWalk && faultClass != .input
                && D.stage2Device(descriptor, forcedWriteBack: config.forcedWriteBack) {
                return .failure(site.fault(.F_PERMISSION, level: leaf.level))
            }
            let writable = descriptor & D.s2apWrite != 0
            var permissions = WalkPermissions.stage2(descriptor: descriptor, writable: writable)
            if !permissions.allows(access) {
                // Writable-clean (DBM = 1, S2AP[1] = 0) with STE.S2HD: set S2AP[1].
                let dirtied = WalkPermissions.stage2(descriptor: descriptor, writable: true)
                guard access.contains(.write), !writable, dirtyStateManaged(config), descriptor & D.dbm != 0,
                      dirtied.allows(access) else {
                    return .failure(site.fault(.F_PERMISSION, level: leaf.level))
                }
                permissions = dirtied
                set |= D.s2apWrite
            }
            let out = StageOutput(outputAddress: output &+ ipa.offset(inBlockLog2: leaf.shift),
                                  blockLog2: leaf.shift, permissions: permissions,
                                  leafAddress: leaf.descriptorAddress, leafDescriptor: descriptor)
            if set == 0 { return .success(out) }
            guard let old = memory.compareExchange64(at: leaf.descriptorAddress, expected: descriptor,
                                                     desired: descriptor | set) else {
                return .failure(site.fault(.F_WALK_EABT, level: leaf.level, fetchAddress: leaf.descriptorAddress))
            }
            if old == descriptor { return .success(out) }
            fallback = site.fault(set & D.accessFlag != 0 ? .F_ACCESS : .F_PERMISSION, level: leaf.level)
        }
        return .failure(fallback)
    }
}

/// Where a stage's translation tables are, which is also where its output
/// points: stage 1's in IPA space, read through stage 2 when it translates
/// and at the same PA when it does not (5.4 TTB0, 3.4); stage 2's in PA
/// space. Generic code over it is specialized (no existential, no closure).
protocol TableSpace {
    associatedtype Address: SMMUAddress
    /// The PA the descriptor at `address` is read from, or the stage-2 fault
    /// translating it there.
    func location(ofDescriptorAt address: Address, memory: any GuestMemory) -> Result<PhysicalAddress, WalkFault>
}

/// Stage 1's tables: IPAs, translated by `stage2` if it is present.
struct Stage1TableSpace: TableSpace {
    var stage2: Stage2TableConfig?

    func location(ofDescriptorAt ipa: IntermediateAddress,
                  memory: any GuestMemory) -> Result<PhysicalAddress, WalkFault> {
        guard let stage2 else { return .success(PhysicalAddress(bypassingStage2: ipa)) }
        switch PageTableWalker.stage2Walk(ipa: ipa, access: [], config: stage2, faultClass: .tableWalk, memory: memory) {
        case .failure(let fault): return .failure(fault)
        case .success(let out): return .success(out.outputAddress)
        }
    }
}

/// Stage 2's tables: PAs, read where they are.
struct Stage2TableSpace: TableSpace {
    func location(ofDescriptorAt pa: PhysicalAddress, memory: any GuestMemory) -> Result<PhysicalAddress, WalkFault> {
        .success(pa)
    }
}
