/// Locating an STE by StreamID in the linear or 2-level Stream table
/// (IHI 0070 3.3.1, 5.1 L1STD, 6.3.24 STRTAB_BASE, 6.3.25 STRTAB_BASE_CFG).
enum StreamTable {
    /// Size of an STE in bytes.
    static let steSize: UInt64 = 64
    /// STRTAB_BASE.ADDR: address bits [55:6] (6.3.24).
    private static let baseAddressMask: UInt64 = 0x00FF_FFFF_FFFF_FFC0

    /// Finds and decodes the STE of `streamID`, validating it. An abort STE
    /// (Config=0b000) is a success with mode `.abort` (no event).
    static func lookup(streamID: UInt32, control: ControlState, configuration: SMMUConfiguration,
                       memory: any GuestMemory) -> Result<StreamConfig, ConfigFault> {
        let address: PhysicalAddress
        switch steAddress(streamID: streamID, control: control, configuration: configuration, memory: memory) {
        case .success(let a): address = a
        case .failure(let f): return .failure(f)
        }
        // One copy of the 64 bytes; everything is validated from it.
        guard let words = fetch(address, count: 8, configuration: configuration, memory: memory) else {
            return .failure(.steFetch(at: address))
        }
        guard let stream = STEDecoder.decode(words, configuration: configuration, e2h: control.e2h) else {
            return .failure(.badSTE)
        }
        return .success(stream)
    }

    /// The physical address of the STE of `streamID` (reading the L1STD of a
    /// 2-level table).
    static func steAddress(streamID: UInt32, control: ControlState, configuration: SMMUConfiguration,
                           memory: any GuestMemory) -> Result<PhysicalAddress, ConfigFault> {
        let invalid = ConfigFault.badStreamID(record: control.recordInvalidStreamID)
        let sid = UInt64(streamID)
        // Effective LOG2SIZE = MIN(LOG2SIZE, IDR1.SIDSIZE) for range checks and
        // indexing; the base alignment uses the literal LOG2SIZE (6.3.24).
        let log2Size = UInt64(control.streamTableLog2Size & 0x3F)
        let effective = min(log2Size, UInt64(configuration.streamIDBits))
        guard effective >= 32 || sid >> effective == 0 else { return .failure(invalid) }
        let base = PhysicalAddress(control.streamTableBase.raw & baseAddressMask)

        // FMT is RES0 (linear) without IDR0.ST_LEVEL.
        guard control.streamTableTwoLevel && configuration.twoLevelStreamTable else {
            // Linear: aligned to the table size, ADDR[LOG2SIZE+5:0] = 0.
            return .success(alignDown(base, log2: log2Size + 6) &+ sid &* steSize)
        }

        // 2-level: SPLIT 6, 8 or 10; other values behave as 6.
        let split: UInt64
        switch control.streamTableSplit {
        case 8: split = 8
        case 10: split = 10
        default: split = 6
        }
        // L1 table aligned to MAX(64 bytes, its size = 8 * 2^(LOG2SIZE-SPLIT)).
        let l1Log2 = max(6, log2Size > split ? log2Size - split + 3 : 3)
        let l1Address = alignDown(base, log2: l1Log2) &+ (sid >> split) &* 8
        guard let l1std = fetch(l1Address, count: 1, configuration: configuration, memory: memory) else {
            return .failure(.steFetch(at: l1Address))
        }
        // L1STD.Span: 0, Reserved (12-31) or beyond SPLIT+1 make every
        // StreamID of the descriptor invalid; so does an index past 2^(Span-1).
        let span = UInt64(l1std[L1STD.Fields.span])
        guard span >= 1, span <= 11, span <= split + 1 else { return .failure(invalid) }
        let l2Index = sid & ((UInt64(1) << split) - 1)
        guard l2Index >> (span - 1) == 0 else { return .failure(invalid) }
        // L2Ptr[5+(Span-1):0] are treated as 0: the array is aligned to its size.
        let l2Base = alignDown(l1std[L1STD.Fields.l2Ptr], log2: span + 5)
        return .success(l2Base &+ l2Index &* steSize)
    }

    /// Reads `count` words at a physical address; nil on abort, or when the
    /// address is beyond the OAS (F_STE_FETCH rather than truncation, 3.4.3).
    static func fetch(_ address: PhysicalAddress, count: Int, configuration: SMMUConfiguration,
                      memory: any GuestMemory) -> [UInt64]? {
        guard let last = address.adding(UInt64(count * 8 - 1)),
              last.fits(bits: configuration.outputAddressBits) else { return nil }
        return memory.readWords(at: address, count: count)
    }

    /// The table arithmetic's alignments are sizes computed as `UInt64`.
    static func alignDown<Address: SMMUAddress>(_ address: Address, log2: UInt64) -> Address {
        address.alignedDown(log2: UInt8(min(log2, 64)))
    }
}
