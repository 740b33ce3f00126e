/// The 16-byte command (IHI 0070 chapter 4): the encodings of its
/// enumerated parameters and, in `Fields`, where each parameter lives. The
/// chapter's command figures are images in the Markdown edition; the
/// positions are theirs as Linux's CMDQ_* macros spell them, and the TLBI
/// range fields are the table of 4.4.1.1.
extension Command {
    /// CMD_SYNC ComplSignal (4.7.3). 0b11 is Reserved: CERROR_ILL (reads nil).
    enum CS: UInt8 {
        case sigNone = 0b00, sigIRQ = 0b01, sigSEV = 0b10
    }

    /// CMD_PRI_RESP Resp (4.5.2). 0b11 is Reserved: ILLEGAL (reads nil).
    enum Resp: UInt8 {
        case responseFailure = 0b00, invalidRequest = 0b01, success = 0b10
        /// The PCIe PRG Response Code it sends.
        var code: PageResponseCode {
            switch self {
            case .responseFailure: .failure
            case .invalidRequest: .invalidRequest
            case .success: .success
            }
        }
    }

    /// TLBI TG (4.4.1.1): the granule of the entries to invalidate; every
    /// encoding is defined.
    enum TG: UInt8 {
        /// Any granule: no range invalidation, no TTL hint.
        case any = 0b00
        case size4K = 0b01, size16K = 0b10, size64K = 0b11
        /// log2 of the granule size; nil for `.any`.
        var granuleShift: UInt64? {
            switch self {
            case .any: nil
            case .size4K: 12
            case .size16K: 14
            case .size64K: 16
            }
        }
    }

    /// Field positions, command bit numbering (bit n is bit n % 64 of word n / 64).
    enum Fields {
        /// 4.1.1 Opcode, bits [7:0]; an opcode not implemented reads nil (CERROR_ILL).
        static let opcode = BitField<CommandOpcode>(7, 0)
        /// 4.5.1 CMD_ATC_INV Global, bit [9].
        static let global = BitField<Bool>(9)
        /// 4.1.6 SSec, bit [10].
        static let ssec = BitField<Bool>(10)
        /// 4.1.6 SSV, bit [11].
        static let ssv = BitField<Bool>(11)
        /// 4.1.6 SubstreamID, bits [31:12].
        static let substreamID = BitField<UInt32>(31, 12)
        /// StreamID, bits [63:32].
        static let streamID = BitField<UInt32>(63, 32)
        /// 4.4 VMID, bits [47:32].
        static let vmid = BitField<UInt16>(47, 32)
        /// 4.4 ASID, bits [63:48].
        static let asid = BitField<UInt16>(63, 48)
        /// 4.4.1.1 NUM, bits [16:12].
        static let num = BitField<UInt8>(16, 12)
        /// 4.4.1.1 SCALE, bits [24:20] (bits [25:20] with SMMU_IDR5.DS == 1; DS is 0 here).
        static let scale = BitField<UInt8>(24, 20)
        /// 4.3.1 CMD_CFGI_STE, 4.4 CMD_TLBI_* Leaf, bit [64].
        static let leaf = BitField<Bool>(64)
        /// 4.3.2 CMD_CFGI_STE_RANGE Range, bits [68:64].
        static let range = BitField<UInt8>(68, 64)
        /// 4.5.1 CMD_ATC_INV Size, bits [69:64].
        static let size = BitField<UInt8>(69, 64)
        /// 4.5.2 CMD_PRI_RESP PRGIndex, bits [72:64].
        static let prgIndex = BitField<UInt16>(72, 64)
        /// 4.7.1 CMD_RESUME STAG, bits [79:64].
        static let stag = BitField<UInt16>(79, 64)
        /// 4.4.1.1 TTL, bits [73:72].
        static let ttl = BitField<UInt8>(73, 72)
        /// 4.4.1.1 TG, bits [75:74].
        static let tg = BitField<TG>(75, 74)
        /// 4.5.2 CMD_PRI_RESP Resp, bits [77:76].
        static let resp = BitField<Resp>(77, 76)
        /// 4.4, 4.5.1 Address (a VA, or the ATC span: input addresses), bits
        /// [127:76]: address bits [63:12] (4.1.6).
        static let address = AddressField<InputAddress>(127, 76, address: 63, 12)
        /// 4.4.3.1 CMD_TLBI_S2_IPA Address, bits [115:76]: IPA bits [51:12]
        /// (bits [55:52] are RES0 up to SMMUv3.3 and not read).
        static let ipa = AddressField<IntermediateAddress>(115, 76, address: 51, 12)
        /// 4.7.1 CMD_RESUME Action (Ac), bit [12]: 1 retry, 0 terminate.
        static let action = BitField<Bool>(12)
        /// 4.7.1 CMD_RESUME Abort (Ab), bit [13].
        static let abort = BitField<Bool>(13)
        /// 4.7.3 CMD_SYNC CS, bits [13:12].
        static let cs = BitField<CS>(13, 12)
        /// 4.7.3 CMD_SYNC MSH, bits [23:22].
        static let msh = BitField<UInt8>(23, 22)
        /// 4.7.3 CMD_SYNC MSIAttr, bits [27:24].
        static let msiAttr = BitField<UInt8>(27, 24)
        /// 4.7.3 CMD_SYNC MSIData, bits [63:32].
        static let msiData = BitField<UInt32>(63, 32)
        /// 4.7.3 CMD_SYNC MSIAddress, bits [115:66]: address bits [51:2]
        /// (bits [55:52] are RES0 up to SMMUv3.3 and not read), a PA.
        static let msiAddress = AddressField<PhysicalAddress>(115, 66, address: 51, 2)
    }
}
