/// Bit fields of VMSAv8-64 translation table descriptors (Arm ARM, "VMSAv8-64
/// translation table format descriptors"), in the 48-bit output address
/// format: FEAT_LPA / FEAT_LPA2 (52-bit OA) are not implemented, so
/// descriptor bits [15:12] of a 64KB-granule descriptor and bits [9:8] of a
/// DS=1 descriptor are never address bits here.
enum PageTableDescriptor {
    /// Bit 0: the descriptor is valid.
    static let valid: UInt64 = 1 << 0
    /// Bit 1: table (levels 0-2) or page (level 3); 0 is a block (levels 0-2).
    static let tableOrPage: UInt64 = 1 << 1

    // Lower attributes of block and page descriptors.
    /// Stage 1 AP[1]: unprivileged (EL0) access permitted.
    static let ap1: UInt64 = 1 << 6
    /// Stage 1 AP[2]: read-only.
    static let ap2: UInt64 = 1 << 7
    /// Stage 2 S2AP[0]: read permitted.
    static let s2apRead: UInt64 = 1 << 6
    /// Stage 2 S2AP[1]: write permitted.
    static let s2apWrite: UInt64 = 1 << 7
    /// AF, the access flag.
    static let accessFlag: UInt64 = 1 << 10
    /// Stage 1 nG: not global, the translation belongs to the ASID (3.17.1).
    static let notGlobal: UInt64 = 1 << 11
    /// Stage 2 MemAttr[3:2] (bits [5:4]) and, with FWB, MemAttr[2] (bit [4]).
    static let s2MemAttrHigh: UInt64 = 0b11 << 4, s2MemAttr2: UInt64 = 1 << 4

    /// Whether a stage 2 block or page maps Device memory: MemAttr[3:2] ==
    /// 0b00, or with STE.S2FWB == 1, MemAttr[2] == 0 (Arm ARM, stage 2
    /// memory type attributes, FEAT_S2FWB).
    @inline(__always)
    static func stage2Device(_ descriptor: UInt64, forcedWriteBack: Bool) -> Bool {
        descriptor & (forcedWriteBack ? s2MemAttr2 : s2MemAttrHigh) == 0
    }

    // Upper attributes of block and page descriptors.
    /// DBM, dirty bit modifier (FEAT_HAFDBS).
    static let dbm: UInt64 = 1 << 51
    /// Stage 1 PXN (EL1&0 regime only; RES0 in the EL2 regime).
    static let pxn: UInt64 = 1 << 53
    /// Stage 1 UXN, or XN in a single-privilege (EL2) regime.
    static let uxn: UInt64 = 1 << 54
    /// Stage 2 XN[1:0] (FEAT_XNX encoding) occupies bits [54:53].
    static let s2xnShift: UInt64 = 53

    // Hierarchical attributes of stage 1 table descriptors (RES0 at stage 2).
    static let pxnTable: UInt64 = 1 << 59
    /// UXNTable, or XNTable in a single-privilege regime.
    static let uxnTable: UInt64 = 1 << 60
    /// APTable[0]: no unprivileged access at subsequent levels.
    static let apTable0: UInt64 = 1 << 61
    /// APTable[1]: no write access at subsequent levels.
    static let apTable1: UInt64 = 1 << 62
    static let hierarchicalAttributes: UInt64 = pxnTable | uxnTable | apTable0 | apTable1

    /// Largest output address width a descriptor can express (48 bits).
    static let maxOutputBits: UInt8 = 48

    /// Address field of a descriptor: bits [47:lowBit], in the stage's
    /// table space (an IPA at stage 1, a PA at stage 2; the walker types it).
    @inline(__always)
    static func address(_ descriptor: UInt64, lowBit: UInt8) -> UInt64 {
        let top: UInt64 = (1 << UInt64(maxOutputBits)) &- 1
        let low: UInt64 = (1 << UInt64(lowBit)) &- 1
        return descriptor & top & ~low
    }
}
