/// The 32-byte event record (IHI 0070 7.3): where each field lives. Which
/// fields a record carries depends on its type (`EventRecord.encoded()`);
/// some positions are shared by fields of different types (Reason and STAG
/// at [79:64], S2 and pR at [103]).
extension EventRecord {
    /// Field positions, event record bit numbering (bit n is bit n % 64 of word n / 64).
    enum Fields {
        /// 7.3 event type, bits [7:0].
        static let type = BitField<EventType>(7, 0)
        /// 7.3 SSV, bit [11].
        static let ssv = BitField<Bool>(11)
        /// 7.3 SubstreamID, bits [31:12].
        static let substreamID = BitField<UInt32>(31, 12)
        /// 7.3 StreamID, bits [63:32].
        static let streamID = BitField<UInt32>(63, 32)
        /// 7.3.2 F_UUT (and the F_*_FETCH, F_TLB_CONFLICT records) Reason,
        /// bits [79:64], IMPLEMENTATION DEFINED.
        static let reason = BitField<UInt16>(79, 64)
        /// 7.3.18 F_CFG_CONFLICT Reason, bits [95:64].
        static let conflictReason = BitField<UInt32>(95, 64)
        /// 7.3.13-7.3.16 STAG, bits [79:64].
        static let stag = BitField<UInt16>(79, 64)
        /// 7.3.13-7.3.16 Stall, bit [95].
        static let stall = BitField<Bool>(95)
        /// 7.3 PnU, bit [97].
        static let pnu = BitField<Bool>(97)
        /// 7.3 InD, bit [98].
        static let ind = BitField<Bool>(98)
        /// 7.3 RnW, bit [99].
        static let rnw = BitField<Bool>(99)
        /// 7.3.12-7.3.17 S2, bit [103].
        static let s2 = BitField<Bool>(103)
        /// 7.3.12-7.3.17 CLASS, bits [105:104].
        static let faultClass = BitField<FaultClass>(105, 104)
        /// 7.3.16 F_PERMISSION TTRnW, bit [108] (valid when CLASS == TT).
        static let ttRnW = BitField<Bool>(108)
        /// 7.3.19 E_PAGE_REQUEST (and 7.3.6 F_BAD_ATS_TREQ) Span, bits [115:108].
        static let span = BitField<UInt8>(115, 108)
        /// 7.3.19 E_PAGE_REQUEST uX, bit [97].
        static let uX = BitField<Bool>(97)
        /// 7.3.19 E_PAGE_REQUEST uW, bit [98].
        static let uW = BitField<Bool>(98)
        /// 7.3.19 E_PAGE_REQUEST uR, bit [99].
        static let uR = BitField<Bool>(99)
        /// 7.3.19 E_PAGE_REQUEST pX, bit [101].
        static let pX = BitField<Bool>(101)
        /// 7.3.19 E_PAGE_REQUEST pW, bit [102].
        static let pW = BitField<Bool>(102)
        /// 7.3.19 E_PAGE_REQUEST pR, bit [103].
        static let pR = BitField<Bool>(103)
        /// 7.3 InputAddr[63:0], bits [191:128].
        static let inputAddr = AddressField<InputAddress>(191, 128, address: 63, 0)
        /// 7.3.19 E_PAGE_REQUEST (and 7.3.6 F_BAD_ATS_TREQ) InputAddr[63:12], bits [191:140].
        static let inputPage = AddressField<InputAddress>(191, 140, address: 63, 12)
        /// 7.3.4, 7.3.10, 7.3.12, 7.3.20 FetchAddr[55:3], bits [247:195].
        static let fetchAddr = AddressField<PhysicalAddress>(247, 195, address: 55, 3)
        /// 7.3.13-7.3.17 IPA[55:12], bits [247:204].
        static let ipa = AddressField<IntermediateAddress>(247, 204, address: 55, 12)
    }
}
