/// The 16-byte PRI queue record (IHI 0070 chapter 8): where each field
/// lives. The chapter's figure is an image in the Markdown edition; its
/// text names the fields and their widths, and the positions are Linux's
/// PRIQ_* macros.
extension PageRequest {
    /// Field positions, PRI record bit numbering (bit n is bit n % 64 of word n / 64).
    enum Fields {
        /// 8 StreamID[31:0], bits [31:0].
        static let streamID = BitField<UInt32>(31, 0)
        /// 8 SubstreamID[19:0], bits [51:32].
        static let substreamID = BitField<UInt32>(51, 32)
        /// 8 Priv, bit [58].
        static let priv = BitField<Bool>(58)
        /// 8 X (eXecute), bit [59].
        static let x = BitField<Bool>(59)
        /// 8 R (Read), bit [60].
        static let r = BitField<Bool>(60)
        /// 8 W (Write), bit [61].
        static let w = BitField<Bool>(61)
        /// 8 Last, bit [62].
        static let last = BitField<Bool>(62)
        /// 8 SSV, bit [63].
        static let ssv = BitField<Bool>(63)
        /// 8 PRGIndex[8:0], bits [72:64].
        static let prgIndex = BitField<UInt16>(72, 64)
        /// 8 Page address[63:12], bits [127:76].
        static let pageAddress = AddressField<InputAddress>(127, 76, address: 63, 12)
    }
}
