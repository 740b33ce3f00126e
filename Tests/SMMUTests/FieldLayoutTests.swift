import Testing
@testable import SMMU

/// The model's field layouts against the text of IHI 0070 (the Markdown
/// edition, wuyongzheng/arm-md-specs): each quote below is copied from the
/// spec, and the declaration must give the range it names. Written from the
/// spec, not from the declarations, so a wrong position fails here.
@Suite struct FieldLayoutTests {
    /// A declared field, whatever its value type.
    struct Declared: Equatable, CustomStringConvertible {
        var hi: Int, lo: Int
        init<Value>(_ f: BitField<Value>) { hi = f.hi; lo = f.lo }
        init(hi: Int, lo: Int) { self.hi = hi; self.lo = lo }
        var description: String { hi == lo ? "[\(hi)]" : "[\(hi):\(lo)]" }
    }

    /// The ranges written "[hi:lo]" or "[n]" in a quote, in order.
    static func ranges(_ quote: String) -> [Declared] {
        var out: [Declared] = []
        var rest = Substring(quote)
        while let open = rest.firstIndex(of: "["), let close = rest[open...].firstIndex(of: "]") {
            let inside = rest[rest.index(after: open)..<close].split(separator: ":").compactMap { Int($0) }
            if inside.count == 2 { out.append(Declared(hi: inside[0], lo: inside[1])) }
            if inside.count == 1 { out.append(Declared(hi: inside[0], lo: inside[0])) }
            rest = rest[rest.index(after: close)...]
        }
        return out
    }

    /// "NAME, bits [hi:lo]" / "NAME, bit [n]": the one range of a heading.
    static func heading(_ quote: String) -> Declared? { ranges(quote).first }

    /// A field as Linux's arm-smmu-v3.h defines it, for the records whose
    /// figures the Markdown edition has only as images: "CMDQ_TLBI_1_TTL
    /// GENMASK_ULL(9, 8)" or "CMDQ_0_SSV (1UL << 11)", the digit after the
    /// prefix naming the 64-bit word.
    static func linux(_ definition: String) -> Declared? {
        let parts = definition.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, let word = parts[0].split(separator: "_").compactMap({ Int($0) }).first else { return nil }
        let digits = parts[1].split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        if parts[1].hasPrefix("GENMASK"), digits.count == 2 {
            return Declared(hi: 64 * word + digits[0], lo: 64 * word + digits[1])
        }
        if parts[1].hasPrefix("(1UL <<"), digits.count == 2 {   // "1", then the shift
            return Declared(hi: 64 * word + digits[1], lo: 64 * word + digits[1])
        }
        return nil
    }

    /// An address field against a quote naming the record bits, then the
    /// address bits: "Bits[243:196] represent the address ..., bits[51:4]".
    static func matches<A>(_ a: AddressField<A>, _ quote: String) -> Bool {
        ranges(quote) == [Declared(a.bits), Declared(hi: a.addressHi, lo: a.addressLo)]
    }

    @Test func steFieldsAreWhere5_2PutsThem() {
        typealias F = STE.Fields
        let headings: [(String, Declared)] = [
            ("V, bit [0]", .init(F.v)), ("Config, bits [3:1]", .init(F.config)),
            ("S1Fmt, bits [5:4]", .init(F.s1Fmt)), ("S1CDMax, bits [63:59]", .init(F.s1CDMax)),
            ("S1DSS, bits [65:64]", .init(F.s1DSS)), ("S1CIR, bits [67:66]", .init(F.s1CIR)),
            ("S1COR, bits [69:68]", .init(F.s1COR)), ("S1CSH, bits [71:70]", .init(F.s1CSH)),
            ("PPAR, bit [82]", .init(F.ppar)), ("MEV, bit [83]", .init(F.mev)), ("S2FWB, bit [89]", .init(F.s2FWB)),
            ("S1STALLD, bit [91]", .init(F.s1STALLD)), ("EATS, bits [93:92]", .init(F.eats)),
            ("STRW, bits [95:94]", .init(F.strw)), ("SHCFG, bits [109:108]", .init(F.shcfg)),
            ("S2VMID, bits [143:128]", .init(F.s2VMID)), ("S2T0SZ, bits [165:160]", .init(F.s2T0SZ)),
            ("S2SL0, bits [167:166]", .init(F.s2SL0)), ("S2IR0, bits [169:168]", .init(F.s2IR0)),
            ("S2OR0, bits [171:170]", .init(F.s2OR0)), ("S2SH0, bits [173:172]", .init(F.s2SH0)),
            ("S2TG, bits [175:174]", .init(F.s2TG)), ("S2PS, bits [178:176]", .init(F.s2PS)),
            ("S2AA64, bit [179]", .init(F.s2AA64)), ("S2ENDI, bit [180]", .init(F.s2ENDI)),
            ("S2AFFD, bit [181]", .init(F.s2AFFD)), ("S2PTW, bit [182]", .init(F.s2PTW)),
            ("S2HD, bit [183]", .init(F.s2HD)), ("S2HA, bit [184]", .init(F.s2HA)), ("S2S, bit [185]", .init(F.s2S)),
            ("S2R, bit [186]", .init(F.s2R)),
        ]
        for (quote, declared) in headings { #expect(Self.heading(quote) == declared, "\(quote)") }
        // The pointer's own bits, in place ("Bits above and below the range of
        // the field are implied as zero in CD address calculations").
        #expect(Self.heading("S1ContextPtr, bits [55:6]") == Declared(F.s1ContextPtr.bits))
        #expect(F.s1ContextPtr.addressLo == 6 && F.s1ContextPtr.addressHi == 55)
        #expect(Self.matches(F.s2TTB,
                             "Bits[243:196] represent the address of Stage 2 Translation Table base, bits[51:4]."))
        // Encodings, from the field tables.
        #expect(STE.Config.bypass.rawValue == 0b100 && STE.Config.stage1.rawValue == 0b101)
        #expect(STE.Config.stage2.rawValue == 0b110 && STE.Config.nested.rawValue == 0b111)
        #expect(STE.EATS.full.rawValue == 0b01 && STE.EATS.splitStage.rawValue == 0b10)
        #expect(STE.STRW.el2.rawValue == 0b10)              // "0b10 | 0 | NS-EL2"
        #expect(STE.S1DSS.bypass.rawValue == 0b01 && STE.S1DSS.substream0.rawValue == 0b10)
        #expect(STE.S1Fmt.twoLevel4K.rawValue == 0b01 && STE.S1Fmt.twoLevel64K.rawValue == 0b10)
        #expect(STE.S2TG.size64K.rawValue == 0b01 && STE.S2TG.size16K.rawValue == 0b10)
        #expect(STE.S2PS.bits48.rawValue == 0b101 && STE.S2PS.bits52.rawValue == 0b110)
    }

    @Test func cdFieldsAreWhere5_4PutsThem() {
        typealias F = CD.Fields
        let headings: [(String, Declared)] = [
            ("T0SZ, bits [5:0]", .init(F.t0sz)), ("TG0, bits [7:6]", .init(F.tg0)), ("IR0, bits [9:8]", .init(F.ir0)),
            ("OR0, bits [11:10]", .init(F.or0)), ("SH0, bits [13:12]", .init(F.sh0)), ("EPD0, bit [14]", .init(F.epd0)),
            ("ENDI, bit [15]", .init(F.endi)), ("T1SZ, bits [21:16]", .init(F.t1sz)), ("TG1, bits [23:22]", .init(F.tg1)),
            ("EPD1, bit [30]", .init(F.epd1)), ("V, bit [31]", .init(F.v)), ("IPS, bits [34:32]", .init(F.ips)),
            ("AFFD, bit [35]", .init(F.affd)), ("WXN, bit [36]", .init(F.wxn)), ("UWXN, bit [37]", .init(F.uwxn)),
            ("TBI0, bit [38]", .init(F.tbi0)), ("TBI1, bit [39]", .init(F.tbi1)), ("PAN, bit [40]", .init(F.pan)),
            ("AA64, bit [41]", .init(F.aa64)), ("HD, bit [42]", .init(F.hd)), ("HA, bit [43]", .init(F.ha)),
            ("S, bit [44]", .init(F.s)), ("R, bit [45]", .init(F.r)), ("A, bit [46]", .init(F.a)),
            ("ASET, bit [47]", .init(F.aset)), ("ASID, bits [63:48]", .init(F.asid)), ("HAD0, bit [65]", .init(F.had0)),
            ("HAD1, bit [129]", .init(F.had1)), ("MAIR0, bits [223:192]", .init(F.mair0)),
            ("MAIR1, bits [255:224]", .init(F.mair1)),
        ]
        for (quote, declared) in headings { #expect(Self.heading(quote) == declared, "\(quote)") }
        #expect(Self.matches(F.ttb0, "Bits[115:68] represent the address of the TT0 base, bits[51:4]."))
        #expect(Self.matches(F.ttb1, "Bits[179:132] represent the address of the TT1 base, bits[51:4]."))
        // TG0: "0b00 4KB, 0b01 64KB, 0b10 16KB"; TG1: "0b01 16KB, 0b10 4KB, 0b11 64KB".
        #expect(CD.TG0.size4K.rawValue == 0b00 && CD.TG0.size64K.rawValue == 0b01 && CD.TG0.size16K.rawValue == 0b10)
        #expect(CD.TG1.size16K.rawValue == 0b01 && CD.TG1.size4K.rawValue == 0b10 && CD.TG1.size64K.rawValue == 0b11)
        #expect(CD.IPS.bits32.rawValue == 0b000 && CD.IPS.bits44.rawValue == 0b100 && CD.IPS.bits52.rawValue == 0b110)
    }

    @Test func commandFieldsAreWhereChapter4PutsThem() {
        typealias F = Command.Fields
        // 4.4.1.1, the table of range and level-hint fields.
        #expect(Self.ranges("| [16:12] | NUM    | Range invalidation granule multiplier") == [Declared(F.num)])
        #expect(Self.ranges("| [75:74] | TG     | Translation Granule") == [Declared(F.tg)])
        #expect(Self.ranges("| [73:72] | TTL    | Translation Table Level") == [Declared(F.ttl)])
        #expect(Self.ranges("If SMMU_IDR5.DS == 0, this field is 5 bits wide, bits [24:20].") == [Declared(F.scale)])
        #expect(Command.TG.size4K.rawValue == 0b01 && Command.TG.size16K.rawValue == 0b10
                && Command.TG.size64K.rawValue == 0b11)   // "0b01 : ... 4KB", "0b10 : ... 16KB", "0b11 : ... 64KB"
        // 4.1.6: "Virtual address fields are Address[63:12]"; IPA fields are
        // Address[55:12] and MSIAddr [55:2], bits [55:52] RES0 up to SMMUv3.3
        // (not read here, so the fields end at 51).
        #expect(F.address.addressHi == 63 && F.address.addressLo == 12)
        #expect(F.ipa.addressHi == 51 && F.ipa.addressLo == 12)
        #expect(F.msiAddress.addressHi == 51 && F.msiAddress.addressLo == 2)
        // 4.5.2 Resp: "0b00 : ResponseFailure", "0b01 : InvalidRequest", "0b10 : Success".
        #expect(Command.Resp.responseFailure.rawValue == 0b00 && Command.Resp.invalidRequest.rawValue == 0b01
                && Command.Resp.success.rawValue == 0b10)
        // The figures, as Linux 6.12 spells them.
        let linux: [(String, Declared)] = [
            ("CMDQ_0_OP GENMASK_ULL(7, 0)", .init(F.opcode)), ("CMDQ_0_SSV (1UL << 11)", .init(F.ssv)),
            ("CMDQ_CFGI_0_SSID GENMASK_ULL(31, 12)", .init(F.substreamID)),
            ("CMDQ_CFGI_0_SID GENMASK_ULL(63, 32)", .init(F.streamID)),
            ("CMDQ_CFGI_1_LEAF (1UL << 0)", .init(F.leaf)), ("CMDQ_CFGI_1_RANGE GENMASK_ULL(4, 0)", .init(F.range)),
            ("CMDQ_TLBI_0_NUM GENMASK_ULL(16, 12)", .init(F.num)), ("CMDQ_TLBI_0_SCALE GENMASK_ULL(24, 20)", .init(F.scale)),
            ("CMDQ_TLBI_0_VMID GENMASK_ULL(47, 32)", .init(F.vmid)), ("CMDQ_TLBI_0_ASID GENMASK_ULL(63, 48)", .init(F.asid)),
            ("CMDQ_TLBI_1_TTL GENMASK_ULL(9, 8)", .init(F.ttl)), ("CMDQ_TLBI_1_TG GENMASK_ULL(11, 10)", .init(F.tg)),
            ("CMDQ_TLBI_1_VA_MASK GENMASK_ULL(63, 12)", .init(F.address.bits)),
            ("CMDQ_TLBI_1_IPA_MASK GENMASK_ULL(51, 12)", .init(F.ipa.bits)),
            ("CMDQ_ATC_0_GLOBAL (1UL << 9)", .init(F.global)), ("CMDQ_ATC_1_SIZE GENMASK_ULL(5, 0)", .init(F.size)),
            ("CMDQ_PRI_1_GRPID GENMASK_ULL(8, 0)", .init(F.prgIndex)), ("CMDQ_PRI_1_RESP GENMASK_ULL(13, 12)", .init(F.resp)),
            ("CMDQ_RESUME_1_STAG GENMASK_ULL(15, 0)", .init(F.stag)),
            ("CMDQ_SYNC_0_CS GENMASK_ULL(13, 12)", .init(F.cs)), ("CMDQ_SYNC_0_MSH GENMASK_ULL(23, 22)", .init(F.msh)),
            ("CMDQ_SYNC_0_MSIATTR GENMASK_ULL(27, 24)", .init(F.msiAttr)),
            ("CMDQ_SYNC_0_MSIDATA GENMASK_ULL(63, 32)", .init(F.msiData)),
            ("CMDQ_SYNC_1_MSIADDR_MASK GENMASK_ULL(51, 2)", .init(F.msiAddress.bits)),
        ]
        for (definition, declared) in linux { #expect(Self.linux(definition) == declared, "\(definition)") }
        // CMDQ_RESUME_0_RESP GENMASK_ULL(13, 12) with RETRY = 1, ABORT = 2: Ac is bit 12, Ab bit 13.
        #expect(Declared(F.action) == Declared(hi: 12, lo: 12) && Declared(F.abort) == Declared(hi: 13, lo: 13))
        #expect(Command.CS.sigIRQ.rawValue == 1 && Command.CS.sigSEV.rawValue == 2)   // CMDQ_SYNC_0_CS_IRQ/SEV
    }

    /// "NAME hi lo" or "NAME n", as the figures' text runs in the Markdown
    /// edition (a field's name, then the bit numbers at its ends).
    static func figure(_ quote: String) -> Declared? {
        let numbers = quote.split(separator: " ").dropFirst().compactMap { Int($0) }
        switch numbers.count {
        case 1: return Declared(hi: numbers[0], lo: numbers[0])
        case 2: return Declared(hi: numbers[0], lo: numbers[1])
        default: return nil
        }
    }

    @Test func eventRecordFieldsAreWhere7_3PutsThem() {
        typealias F = EventRecord.Fields
        // 7.3.19 E_PAGE_REQUEST, the figure's text: "... InputAddr[63:12]
        // 191 160 InputAddr[63:12] 159 140 ... Span 115 108 RES0 107 104 pR
        // 103 pW 102 pX 101100 uR 99 uW 98 uX 97 96 RES0 RES0 95 64 StreamID
        // 63 32 SubstreamID 31 12 SSV 11 RES0 10 8 0x24 7 0".
        let figure: [(String, Declared)] = [
            ("Span 115 108", .init(F.span)), ("pR 103", .init(F.pR)), ("pW 102", .init(F.pW)), ("pX 101", .init(F.pX)),
            ("uR 99", .init(F.uR)), ("uW 98", .init(F.uW)), ("uX 97", .init(F.uX)),
            ("StreamID 63 32", .init(F.streamID)), ("SubstreamID 31 12", .init(F.substreamID)), ("SSV 11", .init(F.ssv)),
            ("0x24 7 0", .init(F.type)), ("InputAddr[63:12] 191 140", .init(F.inputPage.bits)),
            // 7.3.2 F_UUT: "127 100 99 98 97 | RES0 RnW InD PnU", "95 80 Reason (IMPLEMENTATION DEFINED) 79 | 64".
            ("RnW 99", .init(F.rnw)), ("InD 98", .init(F.ind)), ("PnU 97", .init(F.pnu)), ("Reason 79 64", .init(F.reason)),
            // 7.3.4 F_STE_FETCH: "255 248 247 ... FetchAddr[55:3] ... 194 192 RES0".
            ("FetchAddr[55:3] 247 195", .init(F.fetchAddr.bits)),
        ]
        for (quote, declared) in figure { #expect(Self.figure(quote) == declared, "\(quote)") }
        #expect(Self.ranges("InputAddr[63:12]") == [Declared(hi: F.inputPage.addressHi, lo: F.inputPage.addressLo)])
        #expect(Self.ranges("FetchAddr[55:3]") == [Declared(hi: F.fetchAddr.addressHi, lo: F.fetchAddr.addressLo)])
        // 7.3.13 "IPA bits [55:OAS] are RES0 if OAS is smaller than 56": IPA is address bits [55:12].
        #expect(F.ipa.addressHi == 55 && F.ipa.addressLo == 12)
        // The fault records' figures are images here; Linux 6.12's EVTQ_*.
        let linux: [(String, Declared)] = [
            ("EVTQ_0_ID GENMASK_ULL(7, 0)", .init(F.type)), ("EVTQ_0_SSV (1UL << 11)", .init(F.ssv)),
            ("EVTQ_0_SSID GENMASK_ULL(31, 12)", .init(F.substreamID)), ("EVTQ_0_SID GENMASK_ULL(63, 32)", .init(F.streamID)),
            ("EVTQ_1_STAG GENMASK_ULL(15, 0)", .init(F.stag)), ("EVTQ_1_STALL (1UL << 31)", .init(F.stall)),
            ("EVTQ_1_PnU (1UL << 33)", .init(F.pnu)), ("EVTQ_1_InD (1UL << 34)", .init(F.ind)),
            ("EVTQ_1_RnW (1UL << 35)", .init(F.rnw)), ("EVTQ_1_S2 (1UL << 39)", .init(F.s2)),
            ("EVTQ_1_CLASS GENMASK_ULL(41, 40)", .init(F.faultClass)), ("EVTQ_1_TT_READ (1UL << 44)", .init(F.ttRnW)),
            ("EVTQ_2_ADDR GENMASK_ULL(63, 0)", .init(F.inputAddr.bits)),
        ]
        for (definition, declared) in linux { #expect(Self.linux(definition) == declared, "\(definition)") }
        // EVTQ_3_IPA GENMASK_ULL(51, 12), EVTQ_3_FETCH_ADDR GENMASK_ULL(51, 3): the same low ends.
        #expect(F.ipa.bits.lo == 192 + 12 && F.fetchAddr.bits.lo == 192 + 3)
        #expect(FaultClass.tableWalk.rawValue == 0x01)                  // EVTQ_1_CLASS_TT
        #expect(EventType.E_PAGE_REQUEST.rawValue == 0x24 && EventType.F_UUT.rawValue == 0x01)
    }

    @Test func priRecordFieldsAreWhereChapter8PutsThem() {
        typealias F = PageRequest.Fields
        // Chapter 8's text gives the fields and their widths ("StreamID[31:0]",
        // "SubstreamID[19:0]", "Page address[63:12]", "PRGIndex[8:0]"); its
        // figure is an image here, so the positions are Linux 6.12's PRIQ_*.
        #expect(Self.ranges("StreamID[31:0]").first?.hi == F.streamID.width - 1)
        #expect(Self.ranges("SubstreamID[19:0]").first?.hi == F.substreamID.width - 1)
        #expect(Self.ranges("PRGIndex[8:0]").first?.hi == F.prgIndex.width - 1)
        #expect(Self.ranges("Page address[63:12]") == [Declared(hi: F.pageAddress.addressHi, lo: F.pageAddress.addressLo)])
        let linux: [(String, Declared)] = [
            ("PRIQ_0_SID GENMASK_ULL(31, 0)", .init(F.streamID)), ("PRIQ_0_SSID GENMASK_ULL(51, 32)", .init(F.substreamID)),
            ("PRIQ_0_PERM_PRIV (1UL << 58)", .init(F.priv)), ("PRIQ_0_PERM_EXEC (1UL << 59)", .init(F.x)),
            ("PRIQ_0_PERM_READ (1UL << 60)", .init(F.r)), ("PRIQ_0_PERM_WRITE (1UL << 61)", .init(F.w)),
            ("PRIQ_0_PRG_LAST (1UL << 62)", .init(F.last)), ("PRIQ_0_SSID_V (1UL << 63)", .init(F.ssv)),
            ("PRIQ_1_PRG_IDX GENMASK_ULL(8, 0)", .init(F.prgIndex)),
            ("PRIQ_1_ADDR_MASK GENMASK_ULL(63, 12)", .init(F.pageAddress.bits)),
        ]
        for (definition, declared) in linux { #expect(Self.linux(definition) == declared, "\(definition)") }
    }

    @Test func levelOneDescriptorsAreWhere5_1And5_3PutThem() {
        #expect(Self.heading("Span, bits [4:0]") == Declared(L1STD.Fields.span))
        #expect(Self.ranges("L2Ptr, bits [55:6]") == [Declared(L1STD.Fields.l2Ptr.bits)])
        #expect(L1STD.Fields.l2Ptr.addressLo == 6)
        #expect(Self.heading("V, bit [0]") == Declared(L1CD.Fields.v))
        #expect(Self.ranges("L2Ptr, bits [55:12]") == [Declared(L1CD.Fields.l2Ptr.bits)])
        #expect(L1CD.Fields.l2Ptr.addressLo == 12)
    }
}
