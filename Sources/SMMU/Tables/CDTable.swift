/// Locating a CD by SubstreamID through STE.S1ContextPtr: a single CD, a
/// linear CD table or a 2-level CD table of L1CDs (IHI 0070 3.3.2, 5.2
/// S1Fmt/S1CDMax/S1DSS, 5.3 L1CD).
enum CDTable {
    /// Size of a CD in bytes.
    static let cdSize: UInt64 = 64

    /// What a transaction's SubstreamID (or its absence) selects.
    enum SubstreamSelection: Sendable, Hashable {
        /// Translate stage 1 with the CD of this SubstreamID.
        case context(UInt32)
        /// No stage 1: the STE has none, or S1DSS=0b01 for a transaction without SubstreamID.
        case bypassStage1
    }

    /// Applies the STE's substream rules (5.2 S1Fmt, S1CDMax, S1DSS) to a
    /// transaction: a SubstreamID where stage 1 is off or substreams are
    /// disabled is C_BAD_SUBSTREAMID; S1DSS decides for a transaction without
    /// one; SubstreamID 0 is F_STREAM_DISABLED under S1DSS=0b10.
    static func selectSubstream(stream: StreamConfig, substreamID: UInt32?) -> Result<SubstreamSelection, ConfigFault> {
        guard let s1 = stream.stage1 else {
            return substreamID == nil ? .success(.bypassStage1) : .failure(.badSubstreamID)
        }
        if s1.cdMaxBits == 0 {
            // One CD, no substreams (S1DSS IGNORED).
            return substreamID == nil ? .success(.context(0)) : .failure(.badSubstreamID)
        }
        if let ssid = substreamID {
            if UInt64(ssid) >> UInt64(s1.cdMaxBits) != 0 { return .failure(.badSubstreamID) }
            if ssid == 0 && s1.defaultSubstream == .substream0 { return .failure(.streamDisabled) }
            return .success(.context(ssid))
        }
        switch s1.defaultSubstream {
        case .bypass: return .success(.bypassStage1)
        case .substream0: return .success(.context(0))
        case .terminate: return .failure(.streamDisabled)
        }
    }

    /// Finds and decodes the CD for `substreamID` (0 when the transaction has
    /// none and S1DSS selects substream 0) of a stream with stage 1.
    ///
    /// `resolve` is called for every L1CD and CD address, an IPA, before it
    /// is read: under nesting it translates it by stage 2, otherwise it
    /// gives the same address as the PA. If it returns nil the result is
    /// `ConfigFault.stage2Fault(ipa:)` and the caller records its own
    /// stage-2 fault (CLASS=CD).
    static func lookup(stream: StreamConfig, substreamID: UInt32, configuration: SMMUConfiguration,
                       memory: any GuestMemory,
                       resolve: (IntermediateAddress) -> PhysicalAddress?) -> Result<ContextDescriptor, ConfigFault> {
        // Without stage 1 no CD is reachable (a caller bug; reported as a bad STE).
        guard let s1 = stream.stage1 else { return .failure(.badSTE) }
        let cdMax = UInt64(min(s1.cdMaxBits, 20))
        let ssid = UInt64(substreamID)
        // SubstreamIDs >= 2^S1CDMax (any non-zero one when S1CDMax=0) are out of range.
        guard ssid >> cdMax == 0 else { return .failure(.badSubstreamID) }
        let pointer = s1.contextPointer

        let cdAddress: IntermediateAddress
        switch s1.format {
        case .twoLevel4K, .twoLevel64K:
            // 2-level: L2 leaves of 64 CDs (4 KiB, S1Fmt=1) or 1024 CDs (64 KiB, S1Fmt=2).
            let leafBits: UInt64 = s1.format == .twoLevel4K ? 6 : 10
            let l1Index = cdMax > leafBits ? ssid >> leafBits : 0
            // L1 table aligned to MAX(64 bytes, its size).
            let l1Log2 = max(6, (cdMax > leafBits ? cdMax - leafBits : 0) + 3)
            let l1Address = StreamTable.alignDown(pointer, log2: l1Log2) &+ l1Index &* 8
            let l1cd: [UInt64]
            switch fetch(l1Address, count: 1, configuration: configuration, memory: memory, resolve: resolve) {
            case .success(let words): l1cd = words
            case .failure(let f): return .failure(f)
            }
            // L1CD.V=0: C_BAD_SUBSTREAMID (5.3.1).
            guard l1cd[L1CD.Fields.v] else { return .failure(.badSubstreamID) }
            // L2Ptr[11:0] are taken as zero; with 64 KiB leaves L2Ptr[15:12] are
            // RES0, treated as zero too. Beyond the OAS/IAS: C_BAD_SUBSTREAMID (3.4.3).
            let l2 = StreamTable.alignDown(l1cd[L1CD.Fields.l2Ptr], log2: leafBits + 6)
            guard l2.fits(bits: configuration.outputAddressBits) else { return .failure(.badSubstreamID) }
            cdAddress = l2 &+ (ssid & ((UInt64(1) << leafBits) - 1)) &* cdSize
        case .linear:
            // Single CD, or a linear table aligned to its size (S1ContextPtr[S1CDMax+5:6] RES0, taken as 0).
            cdAddress = StreamTable.alignDown(pointer, log2: cdMax + 6) &+ ssid &* cdSize
        }

        let words: [UInt64]
        switch fetch(cdAddress, count: 8, configuration: configuration, memory: memory, resolve: resolve) {
        case .success(let w): words = w
        case .failure(let f): return .failure(f)
        }
        guard let cd = CDDecoder.decode(words, stream: stream, configuration: configuration) else {
            return .failure(.badCD)
        }
        return .success(cd)
    }

    /// Resolves (stage 2) and reads `count` words of an L1CD or CD; the
    /// F_CD_FETCH address is the physical one.
    private static func fetch(_ address: IntermediateAddress, count: Int, configuration: SMMUConfiguration,
                              memory: any GuestMemory,
                              resolve: (IntermediateAddress) -> PhysicalAddress?) -> Result<[UInt64], ConfigFault> {
        guard let pa = resolve(address) else { return .failure(.stage2Fault(ipa: address)) }
        guard let words = StreamTable.fetch(pa, count: count, configuration: configuration, memory: memory) else {
            return .failure(.cdFetch(at: pa))
        }
        return .success(words)
    }
}
