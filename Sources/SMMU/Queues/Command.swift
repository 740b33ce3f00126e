/// Command opcodes (IHI 0070 4.1.1; Linux's CMDQ_OP_*).
enum CommandOpcode: UInt8, Sendable {
    case PREFETCH_CONFIG = 0x01, PREFETCH_ADDR = 0x02
    case CFGI_STE = 0x03, CFGI_STE_RANGE = 0x04, CFGI_CD = 0x05, CFGI_CD_ALL = 0x06, CFGI_VMS_PIDM = 0x07
    case TLBI_NH_ALL = 0x10, TLBI_NH_ASID = 0x11, TLBI_NH_VA = 0x12, TLBI_NH_VAA = 0x13
    case TLBI_EL3_ALL = 0x18, TLBI_EL3_VA = 0x1A
    case TLBI_EL2_ALL = 0x20, TLBI_EL2_ASID = 0x21, TLBI_EL2_VA = 0x22, TLBI_EL2_VAA = 0x23
    case TLBI_S12_VMALL = 0x28, TLBI_S2_IPA = 0x2A, TLBI_NSNH_ALL = 0x30
    case ATC_INV = 0x40, PRI_RESP = 0x41, RESUME = 0x44, STALL_TERM = 0x45, CMD_SYNC = 0x46
}

/// Command queue error codes, CMDQ_CONS.ERR (IHI 0070 7.1).
enum CommandError: UInt8, Sendable, Error {
    case CERROR_NONE = 0, CERROR_ILL = 1, CERROR_ABT = 2, CERROR_ATC_INV_SYNC = 3
}

/// CMD_SYNC completion signal, CS (4.7.3).
enum SyncCompletion: Sendable, Equatable { case none, irq(msiAddress: PhysicalAddress, msiData: UInt32), sev }

/// One decoded command: the 16 bytes copied out of guest memory once and
/// turned into this value, which is all execution looks at. Invalidation
/// addresses are raw bits, as in `TLBScope` and `HostInvalidation`: the
/// case says which kind they are (input addresses, or IPAs for TLBI_S2_IPA).
enum Command: Sendable, Equatable {
    case prefetchConfig(streamID: UInt32, substreamID: UInt32?)
    case prefetchAddress
    case cfgiStreams(ClosedRange<UInt32>?)                  // CFGI_STE, CFGI_STE_RANGE, CFGI_ALL (nil)
    case cfgiContexts(streamID: UInt32, substreamID: UInt32?) // CFGI_CD (SSID), CFGI_CD_ALL (nil)
    case tlbi(TLBScope)
    case atcInvalidate(streamID: UInt32, substreamID: UInt32?, address: UInt64, size: UInt64, global: Bool)
    case priResponse(PageResponse)
    case resume(streamID: UInt32, stag: UInt16, retry: Bool)
    case stallTerminate(streamID: UInt32)
    case sync(SyncCompletion)
}

/// What decoding needs to know beyond the 16 bytes.
struct CommandContext: Sendable {
    var configuration: SMMUConfiguration
    /// CR2.E2H (for TLBI_EL2_VA: the ASID only matters with E2H == 1).
    var e2h: Bool
}

/// A command as copied out of the queue: two little-endian words, read
/// through `Command.Fields`.
struct CommandWords: BitRecord, Sendable {
    var w0: UInt64, w1: UInt64
    func word(_ i: Int) -> UInt64 { i == 0 ? w0 : w1 }
}

enum CommandDecoder {
    /// Decodes one command, or the CERROR_ILL it raises (4.1.3).
    private typealias F = Command.Fields

    static func decode(_ c: CommandWords, _ ctx: CommandContext) -> Result<Command, CommandError> {
        let cfg = ctx.configuration
        guard let op = c[F.opcode] else { return .failure(.CERROR_ILL) }
        // 4.1.6: SSec == 1 on the Non-secure queue is ILLEGAL wherever the field exists.
        switch op {
        case .PREFETCH_CONFIG, .PREFETCH_ADDR, .CFGI_STE, .CFGI_STE_RANGE, .CFGI_CD, .CFGI_CD_ALL,
             .RESUME, .STALL_TERM:
            if c[F.ssec] { return .failure(.CERROR_ILL) }
        default: break
        }
        let ssidSupported = cfg.substreamIDBits > 0
        let streamID = c[F.streamID], vmid = c[F.vmid], asid = c[F.asid]
        func ssid(_ valid: Bool) -> UInt32? { valid && ssidSupported ? c[F.substreamID] : nil }
        let stage1Only = !cfg.stage2
        switch op {
        // 4.2 prefetch
        case .PREFETCH_CONFIG:
            return .success(.prefetchConfig(streamID: streamID, substreamID: ssid(c[F.ssv])))
        case .PREFETCH_ADDR:
            return .success(.prefetchAddress)
        // 4.3 configuration invalidation
        case .CFGI_STE:
            return .success(.cfgiStreams(streamID...streamID))
        case .CFGI_STE_RANGE:
            // 4.3.2: 2^(Range+1) STEs from StreamID aligned down; Range == 31 is CFGI_ALL.
            let range = c[F.range]
            if range == 31 { return .success(.cfgiStreams(nil)) }
            let count = UInt64(1) << UInt64(range + 1)
            let first = UInt64(streamID) & ~(count - 1)
            return .success(.cfgiStreams(UInt32(first)...UInt32(first + count - 1)))
        case .CFGI_CD:
            guard cfg.stage1 else { return .failure(.CERROR_ILL) }   // 4.3.3: no stage 1
            return .success(.cfgiContexts(streamID: streamID, substreamID: ssidSupported ? c[F.substreamID] : 0))
        case .CFGI_CD_ALL:
            guard cfg.stage1 else { return .failure(.CERROR_ILL) }   // 4.3.4: no stage 1
            return .success(.cfgiContexts(streamID: streamID, substreamID: nil))
        case .CFGI_VMS_PIDM:
            return .failure(.CERROR_ILL)   // no VMS (IDR3.MPAM == 0)
        // 4.4.2 stage 1 (CERROR_ILL on a stage-2-only SMMU)
        case .TLBI_NH_ALL:
            guard cfg.stage1 else { return .failure(.CERROR_ILL) }
            return .success(.tlbi(.vmidStage1(vmid: stage1Only ? nil : vmid)))
        case .TLBI_NH_ASID:
            guard cfg.stage1 else { return .failure(.CERROR_ILL) }
            return .success(.tlbi(.asid(vmid: stage1Only ? nil : vmid, asid: asid, el2: false)))
        case .TLBI_NH_VA, .TLBI_NH_VAA:
            guard cfg.stage1 else { return .failure(.CERROR_ILL) }
            guard let size = rangeSize(c, cfg) else { return .failure(.CERROR_ILL) }
            let address = c[F.address].raw
            return .success(.tlbi(.va(vmid: stage1Only ? nil : vmid, asid: op == .TLBI_NH_VA ? asid : nil,
                                      address: address, size: clampedSize(address, size), leafOnly: c[F.leaf],
                                      el2: false)))
        case .TLBI_EL3_ALL, .TLBI_EL3_VA:
            return .failure(.CERROR_ILL)   // Secure Command queue only (4.4.2.5)
        case .TLBI_EL2_ALL:
            guard cfg.hypervisorContexts else { return .failure(.CERROR_ILL) }   // IDR0.Hyp (4.4.2)
            return .success(.tlbi(.allEL2))
        case .TLBI_EL2_ASID:
            guard cfg.hypervisorContexts else { return .failure(.CERROR_ILL) }   // IDR0.Hyp (4.4.2)
            return .success(.tlbi(.asid(vmid: nil, asid: asid, el2: true)))
        case .TLBI_EL2_VA, .TLBI_EL2_VAA:
            guard cfg.hypervisorContexts else { return .failure(.CERROR_ILL) }   // IDR0.Hyp (4.4.2)
            guard let size = rangeSize(c, cfg) else { return .failure(.CERROR_ILL) }
            // 4.4.2.8: with E2H == 0 the ASID parameter is ignored.
            let address = c[F.address].raw
            return .success(.tlbi(.va(vmid: nil, asid: op == .TLBI_EL2_VA && ctx.e2h ? asid : nil,
                                      address: address, size: clampedSize(address, size), leafOnly: c[F.leaf],
                                      el2: true)))
        // 4.4.3 stage 2 (CERROR_ILL without stage 2)
        case .TLBI_S12_VMALL:
            guard cfg.stage2 else { return .failure(.CERROR_ILL) }
            return .success(.tlbi(.vmidAll(vmid)))
        case .TLBI_S2_IPA:
            guard cfg.stage2 else { return .failure(.CERROR_ILL) }
            guard let size = rangeSize(c, cfg) else { return .failure(.CERROR_ILL) }
            let ipa = c[F.ipa].raw
            return .success(.tlbi(.ipa(vmid: vmid, address: ipa, size: clampedSize(ipa, size), leafOnly: c[F.leaf])))
        case .TLBI_NSNH_ALL:
            return .success(.tlbi(.allNonHyp))
        // 4.5 ATS and PRI
        case .ATC_INV:
            guard cfg.ats else { return .failure(.CERROR_ILL) }
            // 4.5.1: span 4096 * 2^Size, address aligned to it; Size >= 52 covers everything.
            let sizeField = c[F.size]
            let address: UInt64, size: UInt64
            if sizeField >= 52 {
                address = 0; size = 0   // 0 stands for 2^64 (as on the wire, docs/protocol.md)
            } else {
                size = UInt64(4096) << UInt64(sizeField)
                address = c[F.address].raw & ~(size - 1)
            }
            // 4.5.1: Global sets the request's Global Invalidate flag with
            // SSV == 1 and is IGNORED with SSV == 0.
            let substreamID = ssid(c[F.ssv])
            return .success(.atcInvalidate(streamID: streamID, substreamID: substreamID, address: address, size: size,
                                           global: substreamID != nil && c[F.global]))
        case .PRI_RESP:
            guard cfg.pri else { return .failure(.CERROR_ILL) }
            // 4.5.2: Resp 0b11 is Reserved (nil), ILLEGAL.
            guard let resp = c[F.resp] else { return .failure(.CERROR_ILL) }
            return .success(.priResponse(PageResponse(streamID: streamID, substreamID: ssid(c[F.ssv]),
                                                      prgIndex: c[F.prgIndex], code: resp.code)))
        // 4.7 stall
        case .RESUME:
            guard cfg.stallModel != .terminateOnly else { return .failure(.CERROR_ILL) }
            // Ac: 1 retry, 0 terminate; Ab is ignored: TERM_MODEL == 1.
            return .success(.resume(streamID: streamID, stag: c[F.stag], retry: c[F.action]))
        case .STALL_TERM:
            guard cfg.stallModel != .terminateOnly else { return .failure(.CERROR_ILL) }
            return .success(.stallTerminate(streamID: streamID))
        case .CMD_SYNC:
            // 4.7.3: CS 0b11 is Reserved (nil): CERROR_ILL.
            switch c[F.cs] {
            case .sigNone: return .success(.sync(.none))
            case .sigIRQ: return .success(.sync(.irq(msiAddress: c[F.msiAddress], msiData: c[F.msiData])))
            case .sigSEV: return .success(.sync(.sev))
            case nil: return .failure(.CERROR_ILL)
            }
        }
    }

    /// 4.4.1.1: byte span of an address-based TLBI. TG == 0 (or no RIL): one
    /// smallest granule, matching any entry that contains the address. Nil:
    /// a Reserved encoding (CERROR_ILL).
    static func rangeSize(_ c: CommandWords, _ cfg: SMMUConfiguration) -> UInt64? {
        guard cfg.rangeInvalidation else { return 4096 }   // TG/TTL/NUM/SCALE are RES0
        let ttl = c[F.ttl], num = UInt64(c[F.num]), scale = UInt64(c[F.scale])
        // TG == 0b00: no range, no TTL (every TG encoding is defined).
        guard let tg = c[F.tg], let granuleShift = tg.granuleShift else { return 4096 }
        // 16K with TTL == 0b01 is Reserved without DS (IDR5.DS == 0 here)
        // and treated as TTL == 0b00; only with NUM == SCALE == 0 does that
        // make the Reserved combination.
        let effectiveTTL = tg == .size16K && ttl == 0b01 ? 0 : ttl
        if num == 0 && scale == 0 && effectiveTTL == 0 { return nil }
        let shift = scale + granuleShift
        guard shift < 64 else { return UInt64.max }
        let (size, overflow) = (num + 1).multipliedReportingOverflow(by: UInt64(1) << shift)
        return overflow ? UInt64.max : size
    }

    /// The range does not wrap past the top of the address space (4.4.1.1).
    static func clampedSize(_ address: UInt64, _ size: UInt64) -> UInt64 {
        let room = (~address) &+ 1   // 2^64 - address (0 when address == 0 means 2^64)
        return room != 0 && size > room ? room : size
    }
}
