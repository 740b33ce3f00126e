/// SMMU_IDR0-5, IIDR and AIDR (IHI 0070 6.3.1-6.3.8), derived from the
/// configuration and nothing else.
struct IDRegisters: Sendable, Equatable {
    var idr0: UInt32 = 0, idr1: UInt32 = 0, idr2: UInt32 = 0, idr3: UInt32 = 0
    var idr4: UInt32 = 0, idr5: UInt32 = 0, iidr: UInt32 = 0, aidr: UInt32 = 0

    /// Stall tags the model hands out at most (also IDR5.STALL_MAX).
    static let stallMax: UInt32 = 256

    init(_ c: SMMUConfiguration) {
        func bit(_ on: Bool, _ n: UInt32) -> UInt32 { on ? 1 << n : 0 }
        // 6.3.1 IDR0
        var r: UInt32 = 0
        r |= bit(c.stage2, 0)                      // S2P
        r |= bit(c.stage1, 1)                      // S1P
        r |= 0b10 << 2                             // TTF: AArch64 only
        r |= bit(c.coherent, 4)                    // COHACC
        r |= bit(c.broadcastTLBMaintenance, 5)     // BTM
        r |= UInt32(c.httu.rawValue) << 6          // HTTU
        r |= bit(c.hypervisorContexts, 9)          // Hyp: RES0 when S1P == 0 or S2P == 0
        r |= bit(c.ats, 10)                        // ATS (NS1ATS = 0: stage-1-only ATS supported)
        r |= bit(c.asid16, 12)                     // ASID16
        r |= bit(c.msi, 13)                        // MSI
        r |= bit(c.sev, 14)                        // SEV (ATOS = 0)
        r |= bit(c.pri, 16)                        // PRI (VMW = 0)
        r |= bit(c.vmid16 && c.stage2, 18)         // VMID16
        r |= bit(c.twoLevelCDTables && c.substreamIDBits > 0, 19) // CD2L (VATOS = 0)
        r |= 0b10 << 21                            // TTENDIAN: little-endian only
        r |= bit(c.ats && c.atsRecordConfigErrors, 23) // ATSRECERR (RES0 without ATS)
        r |= UInt32(c.stallModel.rawValue) << 24   // STALL_MODEL
        r |= 1 << 26                               // TERM_MODEL: terminate always aborts
        r |= bit(c.twoLevelStreamTable, 27)        // ST_LEVEL = 0b01: 2-level supported
        idr0 = r
        // 6.3.2 IDR1: TABLES_PRESET = QUEUES_PRESET = REL = 0, no attribute overrides.
        idr1 = UInt32(c.streamIDBits & 0x3F)
            | UInt32(c.substreamIDBits & 0x1F) << 6
            | UInt32(c.pri ? c.priQueueLog2 & 0x1F : 0) << 11
            | UInt32(c.eventQueueLog2 & 0x1F) << 16
            | UInt32(c.commandQueueLog2 & 0x1F) << 21
        // 6.3.4 IDR3: PPS (bit 5) so overflow auto-responses carry the request's
        // PASID without an STE.PPAR check (8.1); HAD (bit 2, 0 when S1P == 0);
        // RIL (bit 10); XNX (bit 4) with stage 2: the walker decodes stage-2
        // XN[1:0] in the FEAT_XNX encoding (mandatory with S2P from SMMUv3.1).
        // With RIL the SMMU claims v3.2 (AIDR below), which makes FWB (bit 8)
        // and BBML (bits [12:11], level 2) mandatory: S2FWB only changes memory
        // attributes, which are not modelled, and the TLB never reports a
        // conflict when a block is split or merged without break-before-make.
        let v32 = c.rangeInvalidation
        idr3 = bit(c.pri && c.substreamIDBits > 0, 5) | bit(c.stage1, 2) | bit(c.stage2, 4)
            | bit(v32, 8) | bit(c.rangeInvalidation, 10) | (v32 ? 0b10 << 11 : 0)
        // 6.3.6 IDR5: OAS [2:0], GRAN4K/16K/64K [6:4], VAX = 0 (48-bit VA), STALL_MAX [31:16].
        let oas: UInt32 = switch c.outputAddressBits {
        case 32: 0; case 36: 1; case 40: 2; case 42: 3; case 44: 4; case 48: 5; default: 6
        }
        idr5 = oas | bit(c.granule4K, 4) | bit(c.granule16K, 5) | bit(c.granule64K, 6)
            | (c.stallModel == .terminateOnly ? 0 : Self.stallMax << 16)
        // 6.3.7 IIDR: no implementer code (no errata workarounds should match).
        iidr = 0
        // 6.3.8 AIDR: SMMUv3.2 when range invalidation (mandatory from 3.2) is on, else 3.1.
        aidr = c.rangeInvalidation ? 0x02 : 0x01
    }
}

extension IDRegisters {
    // The features whose absence makes register fields RES0 (6.3.9, 6.3.12).
    var pri: Bool { idr0 & (1 << 16) != 0 }
    var ats: Bool { idr0 & (1 << 10) != 0 }
    var btm: Bool { idr0 & (1 << 5) != 0 }
    var hyp: Bool { idr0 & (1 << 9) != 0 }
    var msi: Bool { idr0 & (1 << 13) != 0 }
}

extension SMMUConfiguration {
    /// IDR0.Hyp as advertised: hypervisor stage 1 contexts need both stages
    /// (6.3.1: "RES0 when S1P == 0 or S2P == 0"), whatever `hyp` says.
    var hypervisorContexts: Bool { hyp && stage1 && stage2 }
}
