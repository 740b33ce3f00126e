import Testing
@testable import SMMU

/// The probe and reset sequence of Linux 6.12's arm-smmu-v3 driver
/// (arm_smmu_device_hw_probe, arm_smmu_device_reset), register by register,
/// against several configurations: what the driver does next depends on what
/// it probed, and every step is checked against what the configuration must
/// produce.
@Suite struct DriverSequenceTests {
    @Test(arguments: BringUpConfiguration.allCases)
    func linuxProbeAndReset(_ variant: BringUpConfiguration) {
        let c = variant.configuration
        let h = ControlHarness(c)
        // Probe: the features the driver reads, and the checks it makes before it binds.
        let idr0 = UInt32(h.read(Off.IDR0)), idr1 = UInt32(h.read(Off.IDR1)), idr5 = UInt32(h.read(Off.IDR5))
        let p = LinuxProbe(idr0: idr0, idr1: idr1, idr5: idr5)
        #expect(p == LinuxProbe(expectedFor: c), "probed \(p)")
        #expect(p.s1p || p.s2p)
        #expect(p.ttf & 0b10 != 0)                            // TTF includes AArch64
        #expect((idr0 >> 21) & 0x3 != 0b11)                   // TTENDIAN not reserved; LE usable
        #expect((idr1 >> 28) & 0x7 == 0)                      // TABLES_PRESET, QUEUES_PRESET, REL
        #expect(idr5 & 0x70 != 0)                             // some granule
        let msiPoll = p.msi && p.coherent                     // Linux's ARM_SMMU_OPT_MSIPOLL

        // Reset: disable, then program tables and queues.
        h.write(Off.CR0, 0); #expect(h.read(Off.CR0ACK) == 0)
        h.write(Off.CR1, 0xD75)                               // ISH, WB for tables and queues
        h.write(Off.CR2, 0x6)                                 // PTM | RECINVSID
        // 6.3.12: PTM only exists with BTM.
        #expect(h.read(Off.CR2) == (p.btm ? 0x6 : 0x2))
        h.write(Off.STRTAB_BASE, 1 << 62 | 0x8000_8000, 8)
        let twoLevel: UInt64 = p.twoLevelStreamTable ? 1 << 16 | 8 << 6 : 0
        h.write(Off.STRTAB_BASE_CFG, twoLevel | UInt64(p.sidBits))
        let cmdqLog2 = min(8, UInt64(p.cmdqLog2))             // arm_smmu_init_one_queue
        h.write(Off.CMDQ_BASE, 1 << 62 | ControlHarness.cmdq | cmdqLog2, 8)
        h.write(Off.CMDQ_PROD, 0); h.write(Off.CMDQ_CONS, 0)

        var cr0: UInt64 = 0x8                                 // CMDQEN
        h.write(Off.CR0, cr0); #expect(h.read(Off.CR0ACK) == cr0)

        // CFGI_ALL + SYNC; TLBI_EL2_ALL (HYP); TLBI_NSNH_ALL + SYNC. With MSIPOLL
        // the driver points CMD_SYNC's MSIAddr at the sync command's own slot,
        // data 0; otherwise it uses SIG_SEV and polls CONS.
        func sync(at index: UInt64) -> (UInt64, UInt64) {
            msiPoll ? Cmd.sync(cs: 1, msiAddress: ControlHarness.cmdq + index * 16) : Cmd.sync(cs: 2)
        }
        h.submit([Cmd.cfgiAll, sync(at: 1)], log2: cmdqLog2)
        #expect(h.read(Off.CMDQ_CONS) == 2)
        var next: [(UInt64, UInt64)] = []
        if p.hyp { next.append(Cmd.tlbi(0x20)) }
        next.append(Cmd.tlbi(0x30))
        next.append(sync(at: 2 + UInt64(next.count)))
        h.submit(next, log2: cmdqLog2)
        let consumed: UInt64 = p.hyp ? 5 : 4
        #expect(h.read(Off.CMDQ_CONS) == consumed && h.read(Off.GERROR) == 0)
        // TLBI_EL2_ALL is legal only with IDR0.Hyp (4.4.2); an SMMU that
        // advertised Hyp without S2P would have taken it.
        #expect(h.caches.all == [.streams(nil)] + (c.hyp && c.stage1 && c.stage2 ? [.tlb(.allEL2)] : []) + [.tlb(.allNonHyp)])
        #expect(h.host.syncs == 2)
        if msiPoll {
            #expect(h.host.msis.map(\.address) == [ControlHarness.cmdq + 16, ControlHarness.cmdq + (consumed - 1) * 16])
            #expect(h.host.msis.allSatisfy { $0.data == 0 })
        } else {
            #expect(h.host.msis.isEmpty)
        }

        // Event queue (PROD/CONS in page 1), then PRI queue, each enabled and acknowledged.
        h.write(Off.EVENTQ_BASE, 1 << 62 | ControlHarness.eventq | min(7, UInt64(p.evtqLog2)), 8)
        h.write(Off.EVENTQ_PROD, 0); h.write(Off.EVENTQ_CONS, 0)
        cr0 |= 0x4; h.write(Off.CR0, cr0); #expect(h.read(Off.CR0ACK) == cr0)
        if p.pri {
            h.write(Off.PRIQ_BASE, 1 << 62 | ControlHarness.priq | min(7, UInt64(p.priqLog2)), 8)
            h.write(Off.PRIQ_PROD, 0); h.write(Off.PRIQ_CONS, 0)
            cr0 |= 0x2; h.write(Off.CR0, cr0); #expect(h.read(Off.CR0ACK) == cr0)
        }
        if p.ats { cr0 |= 0x10; h.write(Off.CR0, cr0); #expect(h.read(Off.CR0ACK) == cr0) }

        // Interrupts: off, MSI configuration, on; each acknowledged.
        h.write(Off.IRQ_CTRL, 0); #expect(h.read(Off.IRQ_CTRLACK) == 0)
        h.write(Off.EVENTQ_IRQ_CFG0, 0x0800_0040, 8); h.write(Off.EVENTQ_IRQ_CFG1, 1); h.write(Off.EVENTQ_IRQ_CFG2, 0x1F)
        h.write(Off.GERROR_IRQ_CFG0, 0x0800_0040, 8); h.write(Off.GERROR_IRQ_CFG1, 2)
        h.write(Off.PRIQ_IRQ_CFG0, 0x0800_0040, 8); h.write(Off.PRIQ_IRQ_CFG1, 3)
        let irqs: UInt64 = p.pri ? 0x7 : 0x5
        h.write(Off.IRQ_CTRL, irqs); #expect(h.read(Off.IRQ_CTRLACK) == irqs)

        cr0 |= 0x1; h.write(Off.CR0, cr0); #expect(h.read(Off.CR0ACK) == cr0)
        let s = h.unit.controlState
        #expect(s.smmuEnabled && s.eventQueueEnabled && s.recordInvalidStreamID && !s.globalBypassAbort)
        #expect(s.atsCheck == c.ats && s.priQueueEnabled == c.pri)
        #expect(s.streamTableBase == 0x8000_8000 && s.streamTableTwoLevel == c.twoLevelStreamTable)
        #expect(s.streamTableLog2Size == c.streamIDBits)

        // An event now arrives as an MSI with the programmed data, or on the
        // wired line when the SMMU has no MSIs (6.3.16, 3.18.2).
        h.host.clear()
        #expect(h.unit.record(EventRecord(type: .C_BAD_STREAMID, streamID: 0x1_0000)))
        if p.msi {
            #expect(h.host.msis.map { "\($0.address)/\($0.data)" } == ["\(UInt64(0x0800_0040))/1"])
        } else {
            #expect(h.host.msis.isEmpty && h.host.interrupts == [.eventQueue])
        }
    }
}
