/// The level-1 descriptors of 2-level Stream and CD tables: one 64-bit
/// word each, read as a one-word record.
enum L1STD {
    /// Field positions (IHI 0070 5.1).
    enum Fields {
        /// 5.1 Span, bits [4:0].
        static let span = BitField<UInt8>(4, 0)
        /// 5.1 L2Ptr, bits [55:6]: address bits [55:6], a PA.
        static let l2Ptr = AddressField<PhysicalAddress>(55, 6, address: 55, 6)
    }
}

enum L1CD {
    /// Field positions (IHI 0070 5.3).
    enum Fields {
        /// 5.3 V, bit [0].
        static let v = BitField<Bool>(0)
        /// 5.3 L2Ptr, bits [55:12]: address bits [55:12], an IPA like
        /// STE.S1ContextPtr (5.2).
        static let l2Ptr = AddressField<IntermediateAddress>(55, 12, address: 55, 12)
    }
}
