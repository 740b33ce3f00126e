/// A 32-byte event queue record as four little-endian 64-bit words.
struct EncodedEvent: Sendable, Equatable {
    var w0: UInt64 = 0, w1: UInt64 = 0, w2: UInt64 = 0, w3: UInt64 = 0
}

extension EventRecord {
    /// The record in the queue format of IHI 0070 7.3 (bit n of the record
    /// is bit n % 64 of word n / 64). Fields a type does not define stay 0.
    public func encode() -> (UInt64, UInt64, UInt64, UInt64) {
        let e = encoded()
        return (e.w0, e.w1, e.w2, e.w3)
    }

    func encoded() -> EncodedEvent {
        var e = EncodedEvent()
        // Word 0, common: type [7:0], SSV [11], SubstreamID [31:12], StreamID [63:32].
        e.w0 = UInt64(type.rawValue) | UInt64(streamID) << 32
        let ssid = UInt64((substreamID ?? 0) & 0xF_FFFF)
        switch type {
        case .F_STREAM_DISABLED, .F_TRANSL_FORBIDDEN:
            break                               // 7.3.7, 7.3.8: no SSV/SubstreamID (QEMU records none either)
        case .C_BAD_SUBSTREAMID:
            e.w0 |= ssid << 12                  // 7.3.9: SubstreamID always valid, no SSV
        default:
            if substreamID != nil { e.w0 |= 1 << 11 | ssid << 12 }
        }
        // Word 1 attribute bits: PnU [97], InD [98], RnW [99], S2 [103], CLASS [105:104]
        // (Linux EVTQ_1_PnU/InD/RnW = bits 33/34/35, EVTQ_1_S2 = 39, EVTQ_1_CLASS = [41:40]).
        // "InD == 0 when RnW == 0" (7.3.12-7.3.17); F_UUT reports the incoming attributes.
        let ind = instruction && (read || type == .F_UUT)
        let attributes = (privileged ? 1 << 33 : 0) | (ind ? 1 << 34 : 0) | (read ? 1 << 35 : 0) as UInt64
        let stageAndClass = (stage2 ? 1 << 39 : 0) | UInt64(faultClass.rawValue) << 40
        let fetchAddress = address2 & 0x00FF_FFFF_FFFF_FFF8      // FetchAddr [55:3] at [247:195]
        let ipa = address2 & 0x00FF_FFFF_FFFF_F000               // IPA [55:12] at [247:204]
        let reason = extra & 0xFFFF                              // IMPLEMENTATION DEFINED Reason [79:64]
        switch type {
        case .F_UUT:                                             // 7.3.2
            e.w1 = reason | attributes
            e.w2 = inputAddress
        case .C_BAD_STREAMID, .C_BAD_STE, .C_BAD_CD, .C_BAD_SUBSTREAMID, .F_STREAM_DISABLED:
            break
        case .F_STE_FETCH, .F_CD_FETCH, .F_VMS_FETCH:            // 7.3.4, 7.3.10, 7.3.20
            e.w1 = reason
            e.w3 = fetchAddress
        case .F_BAD_ATS_TREQ:                                    // 7.3.6 (layout not in the text we have:
            e.w1 = attributes | (extra & 0xFF) << 44             //  Span placed as in E_PAGE_REQUEST)
            e.w2 = inputAddress & ~0xFFF
        case .F_TRANSL_FORBIDDEN:                                // 7.3.8: RnW [99], InputAddr
            e.w1 = read ? 1 << 35 : 0
            e.w2 = inputAddress
        case .F_WALK_EABT:                                       // 7.3.12: attributes, S2, CLASS, FetchAddr
            e.w1 = attributes | stageAndClass
            e.w2 = inputAddress
            e.w3 = fetchAddress
        case .F_TRANSLATION, .F_ADDR_SIZE, .F_ACCESS, .F_PERMISSION:
            // 7.3.13-7.3.16: STAG [79:64], Stall [95], attributes, S2, CLASS,
            // InputAddr [191:128], IPA [247:204]. TTRnW [108] (extra bit 0) is
            // defined for F_PERMISSION only ("valid when CLASS == TT", 7.3.16;
            // Linux reads EVTQ_1_TT_READ only for EVT_ID_PERMISSION_FAULT).
            e.w1 = UInt64(stall ? stag : 0) | (stall ? 1 << 31 : 0) | attributes | stageAndClass
                | (type == .F_PERMISSION && faultClass == .tableWalk && extra & 1 != 0 ? 1 << 44 : 0)
            e.w2 = inputAddress
            e.w3 = stage2 ? ipa : 0
        case .F_TLB_CONFLICT:                                    // 7.3.17
            e.w1 = reason | attributes | stageAndClass
            e.w2 = inputAddress
            e.w3 = stage2 ? ipa : 0
        case .F_CFG_CONFLICT:                                    // 7.3.18: Reason [95:64]
            e.w1 = extra & 0xFFFF_FFFF
        case .E_PAGE_REQUEST:
            // 7.3.19: Span [115:108], pR [103], pW [102], pX [101], uR [99],
            // uW [98], uX [97], InputAddr[63:12] at [191:140].
            let r: UInt64 = read ? 1 : 0, w: UInt64 = read ? 0 : 1, x: UInt64 = instruction ? 1 : 0
            let flags = privileged ? (r << 39 | w << 38 | x << 37) : (r << 35 | w << 34 | x << 33)
            e.w1 = (extra & 0xFF) << 44 | flags
            e.w2 = inputAddress & ~0xFFF
        }
        return e
    }
}
