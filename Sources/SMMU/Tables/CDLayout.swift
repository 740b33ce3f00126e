/// The Context Descriptor (IHI 0070 5.4): the encodings of its enumerated
/// fields and, in `Fields`, where every field the model reads lives (read
/// by the decoder, written by the tests' builders).
enum CD {
    /// 5.4 TG0 (as TCR_ELx.TG0). 0b11 is Reserved (reads nil; ILLEGAL).
    enum TG0: UInt8 {
        case size4K = 0b00, size64K = 0b01, size16K = 0b10
        var granule: Granule {
            switch self {
            case .size4K: .size4K
            case .size64K: .size64K
            case .size16K: .size16K
            }
        }
    }

    /// 5.4 TG1, encoded unlike TG0 (as TCR_ELx.TG1). 0b00 is Reserved
    /// (reads nil; ILLEGAL).
    enum TG1: UInt8 {
        case size16K = 0b01, size4K = 0b10, size64K = 0b11
        var granule: Granule {
            switch self {
            case .size4K: .size4K
            case .size64K: .size64K
            case .size16K: .size16K
            }
        }
    }

    /// 5.4 IPS: every 3-bit encoding is defined.
    typealias IPS = PhysicalAddressSize

    /// Field positions, CD bit numbering (5.4).
    enum Fields {
        /// 5.4 T0SZ, bits [5:0].
        static let t0sz = BitField<UInt8>(5, 0)
        /// 5.4 TG0, bits [7:6].
        static let tg0 = BitField<TG0>(7, 6)
        /// 5.4 IR0, bits [9:8] (walk inner cacheability; not modelled).
        static let ir0 = BitField<UInt8>(9, 8)
        /// 5.4 OR0, bits [11:10] (walk outer cacheability; not modelled).
        static let or0 = BitField<UInt8>(11, 10)
        /// 5.4 SH0, bits [13:12] (walk shareability; not modelled).
        static let sh0 = BitField<UInt8>(13, 12)
        /// 5.4 EPD0, bit [14].
        static let epd0 = BitField<Bool>(14)
        /// 5.4 ENDI, bit [15].
        static let endi = BitField<Bool>(15)
        /// 5.4 T1SZ, bits [21:16].
        static let t1sz = BitField<UInt8>(21, 16)
        /// 5.4 TG1, bits [23:22].
        static let tg1 = BitField<TG1>(23, 22)
        /// 5.4 EPD1, bit [30].
        static let epd1 = BitField<Bool>(30)
        /// 5.4 V, bit [31].
        static let v = BitField<Bool>(31)
        /// 5.4 IPS, bits [34:32].
        static let ips = BitField<IPS>(34, 32)
        /// 5.4 AFFD, bit [35].
        static let affd = BitField<Bool>(35)
        /// 5.4 WXN, bit [36].
        static let wxn = BitField<Bool>(36)
        /// 5.4 UWXN, bit [37] (IGNORED for VMSAv8-64).
        static let uwxn = BitField<Bool>(37)
        /// 5.4 TBI0, bit [38].
        static let tbi0 = BitField<Bool>(38)
        /// 5.4 TBI1, bit [39].
        static let tbi1 = BitField<Bool>(39)
        /// 5.4 PAN, bit [40].
        static let pan = BitField<Bool>(40)
        /// 5.4 AA64, bit [41].
        static let aa64 = BitField<Bool>(41)
        /// 5.4 HD, bit [42].
        static let hd = BitField<Bool>(42)
        /// 5.4 HA, bit [43].
        static let ha = BitField<Bool>(43)
        /// 5.4 S, bit [44].
        static let s = BitField<Bool>(44)
        /// 5.4 R, bit [45].
        static let r = BitField<Bool>(45)
        /// 5.4 A, bit [46].
        static let a = BitField<Bool>(46)
        /// 5.4 ASET, bit [47].
        static let aset = BitField<Bool>(47)
        /// 5.4 ASID, bits [63:48].
        static let asid = BitField<UInt16>(63, 48)
        /// 5.4 HAD0, bit [65] (IDR5.D128 == 0; with D128 == 1 the bit is DisCH0).
        static let had0 = BitField<Bool>(65)
        /// 5.4 TTB0: for VMSAv8-64 in SMMUv3.1 and later, bits [115:68] are
        /// address bits [51:4] (bits [119:116] RES0), an IPA: its walks are
        /// "performed in IPA space if stage 2 translations are enabled" (5.4).
        static let ttb0 = AddressField<IntermediateAddress>(115, 68, address: 51, 4)
        /// 5.4 HAD1, bit [129] (IDR5.D128 == 0; with D128 == 1 the bit is DisCH1).
        static let had1 = BitField<Bool>(129)
        /// 5.4 TTB1: for VMSAv8-64 in SMMUv3.1 and later, bits [179:132] are
        /// address bits [51:4] (bits [183:180] RES0), an IPA like TTB0.
        static let ttb1 = AddressField<IntermediateAddress>(179, 132, address: 51, 4)
        /// 5.4 MAIR0, bits [223:192].
        static let mair0 = BitField<UInt32>(223, 192)
        /// 5.4 MAIR1, bits [255:224].
        static let mair1 = BitField<UInt32>(255, 224)
    }
}
