import Testing
@testable import SMMU

@Suite struct RegisterFileTests {
    @Test func idRegistersOfDefaultConfiguration() {
        let h = ControlHarness()
        // IDR0 (6.3.1), every field by hand: S2P|S1P, TTF=AArch64 (0b10<<2), COHACC,
        // HTTU=0b10 (<<6), HYP, ATS, ASID16, MSI, SEV, PRI, VMID16, CD2L,
        // TTENDIAN=LE (0b10<<21), STALL_MODEL=0, TERM_MODEL, ST_LEVEL=0b01 (<<27).
        let idr0: UInt64 = 0x1 | 0x2 | 0x8 | 0x10 | 0x80 | 0x200 | 0x400 | 0x1000 | 0x2000 | 0x4000
            | 0x1_0000 | 0x4_0000 | 0x8_0000 | 0x40_0000 | 0x400_0000 | 0x800_0000
        #expect(h.read(Off.IDR0) == idr0)
        // IDR1: SIDSIZE 16, SSIDSIZE 20 (<<6), PRIQS/EVENTQS/CMDQS 19 (<<11, <<16, <<21), PRESET/REL 0.
        #expect(h.read(Off.IDR1) == 16 | 20 << 6 | 19 << 11 | 19 << 16 | 19 << 21)
        #expect(h.read(Off.IDR2) == 0)
        // IDR3 (6.3.4): PPS is bit [5] ("PPS, bit [5]"; bits [1:0] are RES0),
        // XNX bit [4] (mandatory with stage 2 from v3.1), HAD bit [2], RIL bit [10]
        // (QEMU FIELD(IDR3, HAD, 2, 1), FIELD(IDR3, RIL, 10, 1); Linux IDR3_RIL (1 << 10)).
        // With AIDR = v3.2, FWB bit [8] = 1 and BBML bits [12:11] = 0b01 or 0b10
        // are mandatory (6.3.4: "FWB is 1 in an implementation of SMMUv3.2 or
        // later", "BBML is 0b01 or 0b10 in an implementation of SMMUv3.2").
        #expect(h.read(Off.IDR3) == 0x434 | 1 << 8 | 0b10 << 11)
        // IDR5: OAS 48 bits = 0b101, GRAN4K/16K/64K (bits 4-6), STALL_MAX 256 (<<16).
        #expect(h.read(Off.IDR5) == 0b101 | 0x70 | 256 << 16)
        #expect(h.read(Off.AIDR) == 0x02)
    }

    @Test func idRegistersFollowConfiguration() {
        var c = SMMUConfiguration()
        c.stage2 = false; c.nested = false; c.hyp = false; c.pri = false; c.ats = false; c.msi = false
        c.stallModel = .terminateOnly; c.twoLevelStreamTable = false; c.substreamIDBits = 0
        c.rangeInvalidation = false; c.outputAddressBits = 40; c.granule16K = false
        c.commandQueueLog2 = 8; c.eventQueueLog2 = 7; c.streamIDBits = 8
        let h = ControlHarness(c)
        let idr0 = h.read(Off.IDR0)
        #expect(idr0 & 0x3 == 0x2)              // S1P only
        #expect(idr0 & (1 << 9) == 0)           // HYP
        #expect(idr0 & (1 << 10) == 0)          // ATS
        #expect(idr0 & (1 << 13) == 0)          // MSI
        #expect(idr0 & (1 << 16) == 0)          // PRI
        #expect(idr0 & (1 << 18) == 0)          // VMID16 needs stage 2
        #expect(idr0 & (1 << 19) == 0)          // CD2L needs substreams
        #expect((idr0 >> 24) & 0b11 == 0b01)    // STALL_MODEL terminate only
        #expect((idr0 >> 27) & 0b11 == 0)       // ST_LEVEL linear only
        #expect(h.read(Off.IDR1) == 8 | 0 << 6 | 0 << 11 | 7 << 16 | 8 << 21)
        #expect(h.read(Off.IDR3) == 0x4)        // HAD only
        #expect(h.read(Off.IDR5) == 0b010 | 0x10 | 0x40)  // OAS 40, no stall
        #expect(h.read(Off.AIDR) == 0x01)
    }

    @Test func resetValues() {
        let h = ControlHarness()
        for off in [Off.CR0, Off.CR0ACK, Off.CR1, Off.CR2, Off.STATUSR, Off.IRQ_CTRL, Off.IRQ_CTRLACK,
                    Off.GERROR, Off.GERRORN, Off.CMDQ_PROD, Off.CMDQ_CONS, Off.EVENTQ_PROD, Off.EVENTQ_CONS,
                    Off.PRIQ_PROD, Off.PRIQ_CONS, Off.STRTAB_BASE_CFG] {
            #expect(h.read(off) == 0, "offset \(off)")
        }
        for off in [Off.STRTAB_BASE, Off.CMDQ_BASE, Off.EVENTQ_BASE, Off.PRIQ_BASE, Off.GERROR_IRQ_CFG0] {
            #expect(h.read(off, 8) == 0)
        }
        // GBPA: Update 0, ABORT 0 (bypass), SHCFG = 0b01 use incoming.
        #expect(h.read(Off.GBPA) == 0x1000)
        #expect(h.unit.controlState == ControlState())
    }

    @Test func readOnlyAndRes0Bits() {
        let h = ControlHarness()
        let idr0 = h.read(Off.IDR0)
        h.write(Off.IDR0, 0); h.write(Off.IDR1, 0xFFFF_FFFF)
        #expect(h.read(Off.IDR0) == idr0)
        h.write(Off.GERROR, 0x1FD)
        #expect(h.read(Off.GERROR) == 0)
        h.write(Off.CR0ACK, 0x1F)
        #expect(h.read(Off.CR0ACK) == 0)
        h.write(Off.CR0, 0xFFFF_FFFF)           // VMW and above RES0
        #expect(h.read(Off.CR0) == 0x1F)
        h.write(Off.CR0, 0)
        h.write(Off.CR2, 0xFFFF_FFFF)           // PTM RES0: IDR0.BTM == 0 by default (6.3.12)
        #expect(h.read(Off.CR2) == 0x3)
        h.write(Off.GERRORN, 0xFFFF_FFFF)        // bit 1 and above 8 RES0
        #expect(h.read(Off.GERRORN) == 0x1FD)
        h.write(Off.STRTAB_BASE_CFG, 0xFFFF_FFFF)
        #expect(h.read(Off.STRTAB_BASE_CFG) == 0x3_07FF)
    }

    @Test func sixtyFourBitRegistersSplitIntoHalves() {
        let h = ControlHarness()
        // STRTAB_BASE: RA [62], ADDR [51:6]; everything else RES0.
        h.write(Off.STRTAB_BASE, 0xFFFF_FFFF_FFFF_FFFF, 8)
        #expect(h.read(Off.STRTAB_BASE, 8) == 0x400F_FFFF_FFFF_FFC0)
        #expect(h.read(Off.STRTAB_BASE) == 0xFFFF_FFC0)
        #expect(h.read(Off.STRTAB_BASE + 4) == 0x400F_FFFF)
        h.write(Off.STRTAB_BASE, 0x1234_5640)
        h.write(Off.STRTAB_BASE + 4, 0x0000_0009)
        #expect(h.read(Off.STRTAB_BASE, 8) == 0x9_1234_5640)
        #expect(h.unit.controlState.streamTableBase == 0x9_1234_5640)
        // Misaligned or odd-sized accesses: RAZ/WI.
        #expect(h.read(Off.STRTAB_BASE + 4, 8) == 0)
        #expect(h.read(Off.STRTAB_BASE, 2) == 0)
        h.write(Off.STRTAB_BASE + 2, 0xFFFF_FFFF)
        #expect(h.read(Off.STRTAB_BASE, 8) == 0x9_1234_5640)
        // Two 32-bit registers read as one 64-bit access.
        #expect(h.read(Off.IDR0, 8) == h.read(Off.IDR0) | h.read(Off.IDR1) << 32)
    }

    @Test func pageOneQueuePointers() {
        let h = ControlHarness()
        h.write(Off.EVENTQ_PROD, 5); h.write(Off.EVENTQ_CONS, 3)
        h.write(Off.PRIQ_PROD, 7); h.write(Off.PRIQ_CONS, 6)
        #expect(h.read(0x100A8) == 5 && h.read(0x100AC) == 3)
        #expect(h.read(0x100C8) == 7 && h.read(0x100CC) == 6)
        #expect(h.read(0xA8) == 0 && h.read(0xCC) == 0)    // page 0 offsets are reserved
        #expect(h.read(0x20000) == 0)                      // outside the region
    }

    @Test func cr0IsAcknowledgedImmediately() {
        let h = ControlHarness()
        for value: UInt64 in [0x8, 0xC, 0xE, 0x1E, 0x1F, 0x0] {
            h.write(Off.CR0, value)
            #expect(h.read(Off.CR0ACK) == value)
        }
        h.write(Off.IRQ_CTRL, 0x7)
        #expect(h.read(Off.IRQ_CTRLACK) == 0x7)
    }

    @Test func smmuEnablePublishesStateAndInvalidatesHost() {
        let h = ControlHarness()
        h.write(Off.CR2, 0x3)   // E2H, RECINVSID
        h.write(Off.STRTAB_BASE_CFG, 1 << 16 | 8 << 6 | 16)
        h.write(Off.CR0, 0x1 | 0x4 | 0x10)
        let s = h.unit.controlState
        #expect(s.smmuEnabled && s.atsCheck && s.eventQueueEnabled && !s.priQueueEnabled)
        #expect(s.recordInvalidStreamID && s.e2h)
        #expect(s.streamTableTwoLevel && s.streamTableSplit == 8 && s.streamTableLog2Size == 16)
        #expect(h.host.invalidations == [.all])
        #expect(h.caches.all == [.streams(nil)])
    }

    @Test func gbpaUpdateHandshake() {
        let h = ControlHarness()
        h.write(Off.GBPA, 1 << 20)                      // no Update: IGNORED (6.3.14.1)
        #expect(h.read(Off.GBPA) == 0x1000)
        #expect(!h.unit.controlState.globalBypassAbort)
        h.write(Off.GBPA, 1 << 31 | 1 << 20 | 0x1000)   // Update + ABORT
        #expect(h.read(Off.GBPA) == 1 << 20 | 0x1000)   // Update cleared: applied
        #expect(h.unit.controlState.globalBypassAbort)
        #expect(h.host.invalidations == [.all])
    }

    @Test func registersIgnoreWritesWhileTheirUnitIsEnabled() {
        let h = ControlHarness()
        h.write(Off.STRTAB_BASE, 0x1000, 8)
        h.write(Off.CR0, 0x1)                        // SMMUEN
        h.write(Off.STRTAB_BASE, 0x2000, 8)
        h.write(Off.STRTAB_BASE_CFG, 5)
        h.write(Off.CR2, 0x2)
        #expect(h.read(Off.STRTAB_BASE, 8) == 0x1000)
        #expect(h.read(Off.STRTAB_BASE_CFG) == 0 && h.read(Off.CR2) == 0)
        h.write(Off.CMDQ_BASE, ControlHarness.cmdq | 4, 8)
        h.write(Off.CR0, 0x1 | 0x8)                  // CMDQEN
        h.write(Off.CMDQ_BASE, 0x5000 | 2, 8)
        h.write(Off.CMDQ_CONS, 3)                     // CONS belongs to the SMMU while enabled
        #expect(h.read(Off.CMDQ_BASE, 8) == ControlHarness.cmdq | 4)
        #expect(h.read(Off.CMDQ_CONS) == 0)
        h.write(Off.CR0, 0)
        h.write(Off.STRTAB_BASE, 0x2000, 8)
        #expect(h.read(Off.STRTAB_BASE, 8) == 0x2000)
        // IRQ configuration is fixed while the interrupt is enabled.
        h.write(Off.IRQ_CTRL, 0x4)
        h.write(Off.EVENTQ_IRQ_CFG0, 0x1234, 8)
        #expect(h.read(Off.EVENTQ_IRQ_CFG0, 8) == 0)
    }

    @Test func resetRestoresResetValues() {
        let h = ControlHarness()
        h.enableCommandQueue()
        h.write(Off.GBPA, 1 << 31 | 1 << 20)
        h.write(Off.IRQ_CTRL, 7)
        h.unit.reset()
        #expect(h.read(Off.CR0) == 0 && h.read(Off.CR0ACK) == 0 && h.read(Off.IRQ_CTRLACK) == 0)
        #expect(h.read(Off.GBPA) == 0x1000 && h.read(Off.CMDQ_BASE, 8) == 0)
        #expect(h.unit.controlState == ControlState())
    }
}

extension RegisterFileTests {
    /// RES0 fields of absent features (6.3.9 CR0, 6.3.12 CR2, 6.3.1 IDR0):
    /// PRIQEN "When SMMU_IDR0.PRI == 1 ... Otherwise, Reserved, RES0", ATSCHK
    /// likewise with IDR0.ATS; CR2.PTM with IDR0.BTM, CR2.E2H with IDR0.Hyp;
    /// IDR0.Hyp is "RES0 when S1P == 0 or S2P == 0". Reserved fields are not
    /// reflected in CR0ACK.
    @Test func res0FieldsOfAbsentFeatures() {
        var c = SMMUConfiguration()
        c.pri = false; c.ats = false; c.stage2 = false; c.nested = false   // hyp stays true
        let h = ControlHarness(c)
        #expect(h.read(Off.IDR0) & (1 << 9) == 0)          // Hyp: no S2P
        h.write(Off.CR0, 0x1F)
        #expect(h.read(Off.CR0) == 0xD && h.read(Off.CR0ACK) == 0xD)
        #expect(!h.unit.controlState.priQueueEnabled && !h.unit.controlState.atsCheck)
        h.write(Off.CR0, 0)
        h.write(Off.CR2, 0x7)
        #expect(h.read(Off.CR2) == 0x2)                    // RECINVSID only
        #expect(!h.unit.controlState.e2h)

        var b = SMMUConfiguration(); b.broadcastTLBMaintenance = true
        let hb = ControlHarness(b)
        #expect(hb.read(Off.IDR0) & (1 << 5) != 0 && hb.read(Off.IDR0) & (1 << 9) != 0)
        hb.write(Off.CR2, 0x7)
        #expect(hb.read(Off.CR2) == 0x7)
        hb.write(Off.CR0, 0x1F)
        #expect(hb.read(Off.CR0ACK) == 0x1F)
    }

    /// 6.3.24: "The alignment of ADDR is affected by the literal value of the
    /// respective SMMU_STRTAB_BASE_CFG.LOG2SIZE field and is not limited by
    /// SIDSIZE." LOG2SIZE 10 with SIDSIZE 8: a linear table aligned to
    /// 2^(10+6) = 64 KiB, although only 2^8 STEs are reachable.
    @Test func streamTableBaseAlignsToTheLiteralLOG2SIZE_6_3_24() throws {
        var c = SMMUConfiguration(); c.streamIDBits = 8
        let ram = TestRAM(), host = DriverHost()
        host.ram = ram
        let smmu = try SMMUv3(configuration: c, memory: ram.memory, host: host)
        let table = ram.base + 0x20_0000                  // 64 KiB aligned
        let sid: UInt32 = 5
        // STE 5 at the 64 KiB-aligned table: V, Config = 0b100 (bypass).
        ram.writeWords(table + UInt64(sid) * 64, STEWords.plain(.bypass))
        _ = smmu.write(offset: Off.STRTAB_BASE, size: 8, value: table + 0x4000)   // 16 KiB aligned only
        _ = smmu.write(offset: Off.STRTAB_BASE_CFG, size: 4, value: 10)           // linear, LOG2SIZE 10
        _ = smmu.write(offset: Off.CR0, size: 4, value: 0x1)
        let out = smmu.translate(TranslationRequest(streamID: sid, address: 0x1234_5000))
        guard case .translated(let t) = out else { Issue.record("expected bypass, got \(out)"); return }
        #expect(t.bypass && t.output(for: 0x1234_5000) == .physical(0x1234_5000))
        // StreamIDs beyond SIDSIZE are still out of range.
        guard case .fault = smmu.translate(TranslationRequest(streamID: 0x100, address: 0)) else {
            Issue.record("StreamID 0x100 is beyond SIDSIZE 8"); return
        }
    }
}

@Suite struct RegisterQueueGeometryTests {
    @Test func wrapArithmetic() {
        // 8 entries: index [2:0], wrap bit 3.
        let g = QueueGeometry(baseRegister: 0x8000_0000 | 3, maxLog2: 19, entrySize: 16)
        #expect(g.entries == 8 && g.pointerMask == 0xF)
        #expect(g.isEmpty(prod: 0, cons: 0) && g.isEmpty(prod: 0x9, cons: 0x9))
        #expect(g.isFull(prod: 0x8, cons: 0x0) && g.isFull(prod: 0x3, cons: 0xB))
        #expect(!g.isFull(prod: 0x7, cons: 0x0))
        #expect(g.next(0x7) == 0x8 && g.next(0xF) == 0x0)
        #expect(g.count(prod: 0x2, cons: 0xE) == 4)
        #expect(g.address(of: 0xB) == PhysicalAddress(0x8000_0000 + 3 * 16))
    }

    @Test func sizeIsCappedAndBaseAligned() {
        // LOG2SIZE 25 with IDR1.CMDQS 4: 16 entries; base aligned to 256 bytes.
        let g = QueueGeometry(baseRegister: 0x8000_0120 | 25, maxLog2: 4, entrySize: 16)
        #expect(g.log2Size == 4 && g.base == 0x8000_0100)
        // Tiny queue: alignment at least 32 bytes; RES0 bits above 51 dropped.
        let t = QueueGeometry(baseRegister: 0xFFF0_0000_8000_0060, maxLog2: 19, entrySize: 16)
        #expect(t.log2Size == 0 && t.base == 0x8000_0060)
    }
}

/// IDR0.ATSRECERR, bit [23] and CR2.REC_CFG_ATS, bit [3] (IHI 0070 6.3.1,
/// 6.3.12): REC_CFG_ATS is RES0 unless ATSRECERR == 1, which is RES0
/// without ATS.
@Suite struct ATSRecordConfigErrorRegisterTests {
    @Test func atsRecErrAdvertisedOnlyWhenConfigured_6_3_1() {
        #expect(ControlHarness().read(Off.IDR0) & 1 << 23 == 0)
        var c = SMMUConfiguration()
        c.atsRecordConfigErrors = true
        #expect(ControlHarness(c).read(Off.IDR0) & 1 << 23 != 0)
        c.ats = false; c.pri = false
        #expect(ControlHarness(c).read(Off.IDR0) & 1 << 23 == 0)
    }

    @Test func recCfgATSWritableOnlyWithATSRecErr_6_3_12() {
        let plain = ControlHarness()
        plain.write(Off.CR2, 0xF)
        // E2H and RECINVSID; PTM is RES0 without IDR0.BTM (off by default).
        #expect(plain.read(Off.CR2) == 0x3)
        #expect(!plain.unit.controlState.recordConfigErrorsATS)
        var c = SMMUConfiguration()
        c.atsRecordConfigErrors = true
        let h = ControlHarness(c)
        h.write(Off.CR2, 0xF)
        #expect(h.read(Off.CR2) == 0xB)
        #expect(h.unit.controlState.recordConfigErrorsATS)
    }
}
