/// The Stream Table Entry (IHI 0070 5.2): the encodings of its enumerated
/// fields and, in `Fields`, where every field the model reads lives. The
/// decoder reads through these declarations and the tests build STEs with
/// them, so a position is written down once.
public enum STE {
    /// 5.2 Config. 0b001-0b011 are Reserved (they read nil and behave as 0b000).
    enum Config: UInt8 {
        case abort = 0b000, bypass = 0b100, stage1 = 0b101, stage2 = 0b110, nested = 0b111
        var stage1Translates: Bool { rawValue & 0b001 != 0 }
        var stage2Translates: Bool { rawValue & 0b010 != 0 }
    }

    /// 5.2 S1Fmt: what S1ContextPtr points to with substreams. 0b11 is
    /// Reserved (reads nil, behaves as 0b00).
    public enum S1Fmt: UInt8, Sendable {
        /// A linear table of CDs (or a single CD).
        case linear = 0b00
        /// 2-level, 4KB L2 tables of 64 CDs.
        case twoLevel4K = 0b01
        /// 2-level, 64KB L2 tables of 1024 CDs.
        case twoLevel64K = 0b10
    }

    /// 5.2 S1DSS: a transaction without a SubstreamID. 0b11 is Reserved
    /// (reads nil, behaves as 0b00).
    public enum S1DSS: UInt8, Sendable {
        /// Abort, F_STREAM_DISABLED.
        case terminate = 0b00
        /// Bypass stage 1 as though Config == 0b1x0.
        case bypass = 0b01
        /// Use the CD of substream 0, which SubstreamID 0 then may not select.
        case substream0 = 0b10
    }

    /// 5.2 EATS. 0b11 (Full ATS with DPT checks) needs IDR3.DPT, which this
    /// SMMU does not have: Reserved, it reads nil and behaves as 0b00.
    public enum EATS: UInt8, Sendable {
        /// Translation Requests get UR and F_BAD_ATS_TREQ; Translated traffic
        /// is F_TRANSL_FORBIDDEN (with ATSCHK).
        case off = 0b00
        /// Full ATS: requests translate through every enabled stage.
        case full = 0b01
        /// Split-stage ATS: requests get stage 1's IPA (13.6.3).
        case splitStage = 0b10
    }

    /// 5.2 STRW for a Non-secure STE. 0bx1 is Reserved, ILLEGAL (reads nil).
    public enum STRW: UInt8, Sendable {
        /// NS-EL1.
        case el1 = 0b00
        /// NS-EL2, or NS-EL2-E2H with SMMU_CR2.E2H == 1.
        case el2 = 0b10
    }

    /// 5.2 S2TG. 0b11 is Reserved (reads nil; ILLEGAL).
    enum S2TG: UInt8 {
        case size4K = 0b00, size64K = 0b01, size16K = 0b10
        var granule: Granule {
            switch self {
            case .size4K: .size4K
            case .size64K: .size64K
            case .size16K: .size16K
            }
        }
    }

    /// 5.2 S2PS: every 3-bit encoding is defined.
    typealias S2PS = PhysicalAddressSize

    /// Field positions, STE bit numbering (5.2).
    enum Fields {
        /// 5.2 V, bit [0].
        static let v = BitField<Bool>(0)
        /// 5.2 Config, bits [3:1].
        static let config = BitField<Config>(3, 1)
        /// 5.2 S1Fmt, bits [5:4].
        static let s1Fmt = BitField<S1Fmt>(5, 4)
        /// 5.2 S1ContextPtr, bits [55:6]: address bits [55:6], an IPA (the PA
        /// itself when stage 2 does not translate).
        static let s1ContextPtr = AddressField<IntermediateAddress>(55, 6, address: 55, 6)
        /// 5.2 S1CDMax, bits [63:59].
        static let s1CDMax = BitField<UInt8>(63, 59)
        /// 5.2 S1DSS, bits [65:64].
        static let s1DSS = BitField<S1DSS>(65, 64)
        /// 5.2 S1CIR, bits [67:66] (CD fetch inner cacheability; not modelled).
        static let s1CIR = BitField<UInt8>(67, 66)
        /// 5.2 S1COR, bits [69:68] (CD fetch outer cacheability; not modelled).
        static let s1COR = BitField<UInt8>(69, 68)
        /// 5.2 S1CSH, bits [71:70] (CD fetch shareability; not modelled).
        static let s1CSH = BitField<UInt8>(71, 70)
        /// 5.2 PPAR, bit [82].
        static let ppar = BitField<Bool>(82)
        /// 5.2 MEV, bit [83].
        static let mev = BitField<Bool>(83)
        /// 5.2 S2FWB, bit [89].
        static let s2FWB = BitField<Bool>(89)
        /// 5.2 S1STALLD, bit [91].
        static let s1STALLD = BitField<Bool>(91)
        /// 5.2 EATS, bits [93:92].
        static let eats = BitField<EATS>(93, 92)
        /// 5.2 STRW, bits [95:94].
        static let strw = BitField<STRW>(95, 94)
        /// 5.2 SHCFG, bits [109:108] (shareability override; not modelled).
        static let shcfg = BitField<UInt8>(109, 108)
        /// 5.2 S2VMID, bits [143:128].
        static let s2VMID = BitField<UInt16>(143, 128)
        /// 5.2 S2T0SZ, bits [165:160].
        static let s2T0SZ = BitField<UInt8>(165, 160)
        /// 5.2 S2SL0, bits [167:166].
        static let s2SL0 = BitField<UInt8>(167, 166)
        /// 5.2 S2IR0, bits [169:168] (walk inner cacheability; not modelled).
        static let s2IR0 = BitField<UInt8>(169, 168)
        /// 5.2 S2OR0, bits [171:170] (walk outer cacheability; not modelled).
        static let s2OR0 = BitField<UInt8>(171, 170)
        /// 5.2 S2SH0, bits [173:172] (walk shareability; not modelled).
        static let s2SH0 = BitField<UInt8>(173, 172)
        /// 5.2 S2TG, bits [175:174].
        static let s2TG = BitField<S2TG>(175, 174)
        /// 5.2 S2PS, bits [178:176].
        static let s2PS = BitField<S2PS>(178, 176)
        /// 5.2 S2AA64, bit [179].
        static let s2AA64 = BitField<Bool>(179)
        /// 5.2 S2ENDI, bit [180].
        static let s2ENDI = BitField<Bool>(180)
        /// 5.2 S2AFFD, bit [181].
        static let s2AFFD = BitField<Bool>(181)
        /// 5.2 S2PTW, bit [182].
        static let s2PTW = BitField<Bool>(182)
        /// 5.2 S2HD, bit [183].
        static let s2HD = BitField<Bool>(183)
        /// 5.2 S2HA, bit [184].
        static let s2HA = BitField<Bool>(184)
        /// 5.2 S2S, bit [185].
        static let s2S = BitField<Bool>(185)
        /// 5.2 S2R, bit [186].
        static let s2R = BitField<Bool>(186)
        /// 5.2 S2TTB: for VMSAv8-64 in SMMUv3.1 and later, bits [243:196] are
        /// address bits [51:4] (bits [247:244] RES0), a PA.
        static let s2TTB = AddressField<PhysicalAddress>(243, 196, address: 51, 4)
    }
}
