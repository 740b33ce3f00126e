import Testing
@testable import SMMU

/// The probe and reset sequence of Linux 6.12's arm-smmu-v3 driver
/// (arm_smmu_device_hw_probe, arm_smmu_device_reset), register by register.
@Suite struct DriverSequenceTests {
    @Test func linuxProbeAndReset() {
        let h = ControlHarness()
        // Probe: the checks the driver makes before it binds.
        let idr0 = h.read(Off.IDR0), idr1 = h.read(Off.IDR1), idr5 = h.read(Off.IDR5)
        #expect(idr0 & 0x3 != 0)                              // S1P or S2P
        #expect((idr0 >> 2) & 0x3 == 0b10)                    // TTF includes AArch64
        #expect((idr0 >> 21) & 0x3 != 0b11)                   // TTENDIAN not reserved; LE usable
        #expect((idr1 >> 28) & 0x7 == 0)                      // TABLES_PRESET, QUEUES_PRESET, REL
        #expect((idr1 >> 21) & 0x1F > 6)                      // CMDQS big enough
        #expect(idr5 & 0x70 != 0)                             // some granule
        let msi = idr0 & (1 << 13) != 0, hyp = idr0 & (1 << 9) != 0, ats = idr0 & (1 << 10) != 0

        // Reset: disable, then program tables and queues.
        h.write(Off.CR0, 0); #expect(h.read(Off.CR0ACK) == 0)
        h.write(Off.CR1, 0xD75)                               // ISH, WB for tables and queues
        h.write(Off.CR2, 0x6)                                 // PTM | RECINVSID
        h.write(Off.STRTAB_BASE, 1 << 62 | 0x8000_8000, 8)
        h.write(Off.STRTAB_BASE_CFG, 1 << 16 | 8 << 6 | 16)  // 2-level, SPLIT 8, 2^16 StreamIDs
        let cmdqLog2: UInt64 = 8
        h.write(Off.CMDQ_BASE, 1 << 62 | ControlHarness.cmdq | cmdqLog2, 8)
        h.write(Off.CMDQ_PROD, 0); h.write(Off.CMDQ_CONS, 0)

        var cr0: UInt64 = 0x8                                 // CMDQEN
        h.write(Off.CR0, cr0); #expect(h.read(Off.CR0ACK) == cr0)

        // CFGI_ALL + SYNC; TLBI_EL2_ALL (HYP); TLBI_NSNH_ALL + SYNC. With MSI the
        // driver points CMD_SYNC's MSIAddr at the sync command's own slot, data 0.
        func sync(at index: UInt64) -> (UInt64, UInt64) {
            msi ? Cmd.sync(cs: 1, msiAddress: ControlHarness.cmdq + index * 16) : Cmd.sync(cs: 2)
        }
        h.submit([Cmd.cfgiAll, sync(at: 1)], log2: cmdqLog2)
        #expect(h.read(Off.CMDQ_CONS) == 2)
        var next: [(UInt64, UInt64)] = []
        if hyp { next.append(Cmd.tlbi(0x20)) }
        next.append(Cmd.tlbi(0x30))
        next.append(sync(at: 2 + UInt64(next.count)))
        h.submit(next, log2: cmdqLog2)
        #expect(h.read(Off.CMDQ_CONS) == 5 && h.read(Off.GERROR) == 0)
        #expect(h.caches.all == [.streams(nil), .tlb(.allEL2), .tlb(.allNonHyp)])
        #expect(h.host.syncs == 2)
        #expect(h.host.msis.map(\.address) == [ControlHarness.cmdq + 16, ControlHarness.cmdq + 4 * 16])
        #expect(h.host.msis.allSatisfy { $0.data == 0 })

        // Event queue (PROD/CONS in page 1), then PRI queue, each enabled and acknowledged.
        h.write(Off.EVENTQ_BASE, 1 << 62 | ControlHarness.eventq | 7, 8)
        h.write(Off.EVENTQ_PROD, 0); h.write(Off.EVENTQ_CONS, 0)
        cr0 |= 0x4; h.write(Off.CR0, cr0); #expect(h.read(Off.CR0ACK) == cr0)
        h.write(Off.PRIQ_BASE, 1 << 62 | ControlHarness.priq | 7, 8)
        h.write(Off.PRIQ_PROD, 0); h.write(Off.PRIQ_CONS, 0)
        cr0 |= 0x2; h.write(Off.CR0, cr0); #expect(h.read(Off.CR0ACK) == cr0)
        if ats { cr0 |= 0x10; h.write(Off.CR0, cr0); #expect(h.read(Off.CR0ACK) == cr0) }

        // Interrupts: off, MSI configuration, on; each acknowledged.
        h.write(Off.IRQ_CTRL, 0); #expect(h.read(Off.IRQ_CTRLACK) == 0)
        h.write(Off.EVENTQ_IRQ_CFG0, 0x0800_0040, 8); h.write(Off.EVENTQ_IRQ_CFG1, 1); h.write(Off.EVENTQ_IRQ_CFG2, 0x1F)
        h.write(Off.GERROR_IRQ_CFG0, 0x0800_0040, 8); h.write(Off.GERROR_IRQ_CFG1, 2)
        h.write(Off.PRIQ_IRQ_CFG0, 0x0800_0040, 8); h.write(Off.PRIQ_IRQ_CFG1, 3)
        h.write(Off.IRQ_CTRL, 0x7); #expect(h.read(Off.IRQ_CTRLACK) == 0x7)
        #expect(h.read(Off.EVENTQ_IRQ_CFG0, 8) == 0x0800_0040)

        cr0 |= 0x1; h.write(Off.CR0, cr0); #expect(h.read(Off.CR0ACK) == cr0)
        let s = h.unit.controlState
        #expect(s.smmuEnabled && s.atsCheck && s.eventQueueEnabled && s.priQueueEnabled && s.recordInvalidStreamID)
        #expect(s.streamTableBase == 0x8000_8000 && s.streamTableTwoLevel && s.streamTableSplit == 8)
        #expect(s.streamTableLog2Size == 16 && !s.globalBypassAbort)

        // An event now arrives as an MSI with the programmed data.
        #expect(h.unit.record(EventRecord(type: .C_BAD_STREAMID, streamID: 0x1_0000)))
        #expect(h.host.msis.last.map { $0.address == 0x0800_0040 && $0.data == 1 } == true)
    }
}
