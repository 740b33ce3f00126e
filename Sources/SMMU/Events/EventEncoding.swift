/// A 32-byte event queue record as four little-endian 64-bit words,
/// written through `EventRecord.Fields`.
struct EncodedEvent: MutableBitRecord, Sendable, Equatable {
    var w0: UInt64 = 0, w1: UInt64 = 0, w2: UInt64 = 0, w3: UInt64 = 0

    func word(_ i: Int) -> UInt64 {
        switch i {
        case 0: w0
        case 1: w1
        case 2: w2
        default: w3
        }
    }

    mutating func setWord(_ i: Int, _ value: UInt64) {
        switch i {
        case 0: w0 = value
        case 1: w1 = value
        case 2: w2 = value
        default: w3 = value
        }
    }
}

extension EventRecord {
    /// The record in the queue format of IHI 0070 7.3 (bit n of the record
    /// is bit n % 64 of word n / 64). Fields a type does not define stay 0.
    public func encode() -> (UInt64, UInt64, UInt64, UInt64) {
        let e = encoded()
        return (e.w0, e.w1, e.w2, e.w3)
    }

    func encoded() -> EncodedEvent {
        typealias F = EventRecord.Fields
        var e = EncodedEvent()
        e.set(F.type, type)
        e.set(F.streamID, streamID)
        switch type {
        case .F_STREAM_DISABLED, .F_TRANSL_FORBIDDEN:
            break                               // 7.3.7, 7.3.8: no SSV/SubstreamID (QEMU records none either)
        case .C_BAD_SUBSTREAMID:
            e.set(F.substreamID, substreamID ?? 0)   // 7.3.9: SubstreamID always valid, no SSV
        default:
            if let substreamID {
                e.set(F.ssv)
                e.set(F.substreamID, substreamID)
            }
        }
        // "InD == 0 when RnW == 0" (7.3.12-7.3.17); F_UUT reports the incoming attributes.
        let ind = instruction && (read || type == .F_UUT)
        func attributes(_ e: inout EncodedEvent) {
            e.set(F.pnu, privileged)
            e.set(F.ind, ind)
            e.set(F.rnw, read)
        }
        func stageAndClass(_ e: inout EncodedEvent) {
            e.set(F.s2, stage2)
            e.set(F.faultClass, faultClass)
        }
        // `extra` holds the IMPLEMENTATION DEFINED Reason, or a Span.
        let reason = UInt16(truncatingIfNeeded: extra), span = UInt8(truncatingIfNeeded: extra)
        switch type {
        case .F_UUT:                                             // 7.3.2
            e.set(F.reason, reason)
            attributes(&e)
            e.set(F.inputAddr, inputAddress)
        case .C_BAD_STREAMID, .C_BAD_STE, .C_BAD_CD, .C_BAD_SUBSTREAMID, .F_STREAM_DISABLED:
            break
        case .F_STE_FETCH, .F_CD_FETCH, .F_VMS_FETCH:            // 7.3.4, 7.3.10, 7.3.20
            e.set(F.reason, reason)
            e.set(F.fetchAddr, fetchAddress)
        case .F_BAD_ATS_TREQ:                                    // 7.3.6 (layout not in the text we have:
            attributes(&e)                                       //  Span placed as in E_PAGE_REQUEST)
            e.set(F.span, span)
            e.set(F.inputPage, inputAddress)
        case .F_TRANSL_FORBIDDEN:                                // 7.3.8: RnW, InputAddr
            e.set(F.rnw, read)
            e.set(F.inputAddr, inputAddress)
        case .F_WALK_EABT:                                       // 7.3.12: attributes, S2, CLASS, FetchAddr
            attributes(&e)
            stageAndClass(&e)
            e.set(F.inputAddr, inputAddress)
            e.set(F.fetchAddr, fetchAddress)
        case .F_TRANSLATION, .F_ADDR_SIZE, .F_ACCESS, .F_PERMISSION:
            // 7.3.13-7.3.16: STAG, Stall, attributes, S2, CLASS, InputAddr,
            // IPA. TTRnW (extra bit 0) is defined for F_PERMISSION only
            // ("valid when CLASS == TT", 7.3.16; Linux reads EVTQ_1_TT_READ
            // only for EVT_ID_PERMISSION_FAULT).
            if stall {
                e.set(F.stag, stag)
                e.set(F.stall)
            }
            attributes(&e)
            stageAndClass(&e)
            e.set(F.ttRnW, type == .F_PERMISSION && faultClass == .tableWalk && extra & 1 != 0)
            e.set(F.inputAddr, inputAddress)
            if stage2 { e.set(F.ipa, ipa) }
        case .F_TLB_CONFLICT:                                    // 7.3.17
            e.set(F.reason, reason)
            attributes(&e)
            stageAndClass(&e)
            e.set(F.inputAddr, inputAddress)
            if stage2 { e.set(F.ipa, ipa) }
        case .F_CFG_CONFLICT:                                    // 7.3.18: Reason [95:64]
            e.set(F.conflictReason, UInt32(truncatingIfNeeded: extra))
        case .E_PAGE_REQUEST:
            // 7.3.19: Span, the access anticipated (a write when not a read)
            // by privilege, InputAddr[63:12].
            e.set(F.span, span)
            e.set(privileged ? F.pR : F.uR, read)
            e.set(privileged ? F.pW : F.uW, !read)
            e.set(privileged ? F.pX : F.uX, instruction)
            e.set(F.inputPage, inputAddress)
        }
        return e
    }
}
