import Testing
@testable import SMMU

/// A Linux-shaped stage-1 domain end to end through the façade: the STE and
/// CD that arm-smmu-v3 writes, a 4-level 4 KiB table, DMA translation, a
/// fault recorded as F_TRANSLATION, and TLBI + CMD_SYNC making an unmap take
/// effect. Expected values are computed from the descriptor formats.
struct LinuxStage1Tests {
    let sid: UInt32 = 8
    let asid: UInt16 = 1

    /// STE word 0/1 for stage 1 with one CD (5.2): V, Config=0b101, S1Fmt=0,
    /// S1ContextPtr, S1CDMax=0; word 1 S1CIR/S1COR=WBRA(1), S1CSH=ISH(3).
    func stage1STE(cd: UInt64) -> [UInt64] {
        [1 | 0b101 << 1 | (cd & 0x000F_FFFF_FFFF_FFC0), 1 << 2 | 1 << 4 | 3 << 6]
    }

    /// CD (5.4) as Linux builds it for a 48-bit, 4 KiB-granule domain:
    /// T0SZ=16, TG0=4K, IR0/OR0=WBWA, SH0=ISH, EPD1, V, IPS=48 bits (0b101),
    /// AA64, R, A, ASET, ASID; TTB0.
    func linuxCD(ttb0: UInt64) -> [UInt64] {
        let w0: UInt64 = 16 | 0 << 6 | 1 << 8 | 1 << 10 | 3 << 12 | 1 << 30 | 1 << 31
            | 0b101 << 32 | 1 << 41 | 1 << 45 | 1 << 46 | 1 << 47 | UInt64(asid) << 48
        return [w0, ttb0 & 0x000F_FFFF_FFFF_FFF0, 0, 0x0404_FF44, 0, 0, 0, 0]
    }

    func setUp() throws -> (LinuxLikeDriver, pgd: UInt64, l3: UInt64) {
        let d = try LinuxLikeDriver()
        #expect(d.reset())
        let base = d.ram.base
        let cd = base + 0x30_0000
        let pgd = base + 0x31_0000, l1 = base + 0x31_1000, l2 = base + 0x31_2000, l3 = base + 0x31_3000
        let iova: UInt64 = 0x1234_5000
        d.ram.write64(pgd + PT4K.index(iova, level: 0) * 8, PT4K.tableDescriptor(l1))
        d.ram.write64(l1 + PT4K.index(iova, level: 1) * 8, PT4K.tableDescriptor(l2))
        d.ram.write64(l2 + PT4K.index(iova, level: 2) * 8, PT4K.tableDescriptor(l3))
        d.ram.write64(l3 + PT4K.index(iova, level: 3) * 8,
                      PT4K.pageDescriptor(base + 0x80_0000,
                                          PT4K.af | PT4K.innerShareable | PT4K.apEL0 | PT4K.uxn | PT4K.nG))
        d.ram.writeWords(cd, linuxCD(ttb0: pgd))
        d.writeSTE(sid: sid, stage1STE(cd: cd))
        #expect(d.submit([DriverCmd.cfgiSTE(sid)]))
        return (d, pgd, l3)
    }

    /// arm_smmu_device_hw_probe + arm_smmu_device_reset against several
    /// configurations. The driver learns its features from IDR0/IDR1 (6.3.1,
    /// 6.3.2), enables CR0 step by step and waits for each step in CR0ACK
    /// (6.3.10), sizes its command queue from IDR1.CMDQS and completes every
    /// CMD_SYNC the way Linux does: by the MSI into the sync slot when it has
    /// MSIs and coherency, else by polling CONS (4.7.3).
    @Test(arguments: BringUpConfiguration.allCases)
    func bringUpAcknowledgesEveryStepAndCompletesSyncs(_ variant: BringUpConfiguration) throws {
        let c = variant.configuration
        let d = try LinuxLikeDriver(configuration: c)
        #expect(d.probe() == LinuxProbe(expectedFor: c))
        #expect(d.reset())
        var prods = [d.cmdProd]
        // Only the fields Linux set, each acknowledged (reserved fields are not reflected).
        let cr0 = CR0.SMMUEN | CR0.CMDQEN | CR0.EVTQEN | (c.pri ? CR0.PRIQEN : 0) | (c.ats ? CR0.ATSCHK : 0)
        #expect(UInt64(d.read32(Reg.CR0ACK)) == cr0 && UInt64(d.read32(Reg.CR0)) == cr0)
        #expect(d.cmdqLog2 == min(LinuxLikeDriver.wantedCmdqLog2, UInt64(c.commandQueueLog2)))
        // Fill the queue exactly, three times around: the driver's wrap
        // arithmetic only matches the SMMU's if IDR1.CMDQS told the truth.
        let batch = (1 << Int(d.cmdqLog2)) - 1
        for _ in 0..<3 {
            #expect(d.submit(Array(repeating: DriverCmd.tlbiNSNHAll, count: batch)))
            prods.append(d.cmdProd)
        }
        #expect(d.read32(Reg.GERROR) == 0)
        let log = d.host.log.withLock { $0 }
        let syncInterrupts = log.interrupts.filter { $0 == .commandSync }.count
        if d.msiPoll {
            // 3.18: when the MSI is observable, CONS already shows the SYNC consumed.
            #expect(log.msis.count == prods.count)
            #expect(log.consAtMSI.map(UInt64.init) == prods)
            #expect(syncInterrupts == prods.count)      // SIG_IRQ: the wired line fires too
        } else {
            #expect(log.msis.isEmpty && syncInterrupts == 0)
        }
    }

    @Test func translatesThroughFourLevelTable() throws {
        let (d, _, _) = try setUp()
        let out = d.smmu.translate(TranslationRequest(streamID: sid, address: 0x1234_5678, access: .write))
        guard case .translated(let t) = out else { Issue.record("expected a translation, got \(out)"); return }
        #expect(t.output(for: 0x1234_5678) == .physical(PhysicalAddress(d.ram.base + 0x80_0678)))
        #expect(t.sizeLog2 == 12)
        #expect(t.permissions.allows(.write))
        #expect(t.asid == asid)
    }

    @Test func unmappedAddressRecordsTranslationFault() throws {
        let (d, _, _) = try setUp()
        _ = d.drainEvents()
        let out = d.smmu.translate(TranslationRequest(streamID: sid, address: 0x2000_0000, access: []))
        guard case .fault(let f) = out else { Issue.record("expected a fault"); return }
        #expect(f.type == .F_TRANSLATION)
        let events = d.drainEvents()
        #expect(events.count == 1)
        if let e = events.first {
            #expect(e[0] & 0xFF == 0x10)               // F_TRANSLATION
            #expect(e[0] >> 32 == UInt64(sid))         // StreamID
            #expect(e[2] == 0x2000_0000)               // InputAddr, bytes 16-23
        }
        #expect(d.host.log.withLock { $0.interrupts.contains(.eventQueue) })
    }

    @Test func unmapTakesEffectAfterTLBIAndSync() throws {
        let (d, _, l3) = try setUp()
        let iova: UInt64 = 0x1234_5000
        guard case .translated = d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(iova))) else {
            Issue.record("mapping should translate"); return
        }
        d.ram.write64(l3 + PT4K.index(iova, level: 3) * 8, 0)    // unmap
        #expect(d.submit([DriverCmd.tlbiNHVA(asid: asid, address: iova)]))
        guard case .fault(let f) = d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(iova))) else {
            Issue.record("stale translation used after TLBI + SYNC"); return
        }
        #expect(f.type == .F_TRANSLATION)
        // The host's caches were told before the sync completed.
        let log = d.host.log.withLock { $0 }
        #expect(log.invalidations.contains { if case .address(_, let a, let addr, _) = $0 { a == asid && addr == iova } else { false } })
        #expect(log.syncs >= 1)
    }
}
