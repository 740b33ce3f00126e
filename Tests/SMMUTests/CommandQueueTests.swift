import Testing
import Synchronization
import Foundation
@testable import SMMU

@Suite struct CommandQueueTests {
    /// Runs `commands` on a fresh unit with SMMUEN set; returns the harness.
    func run(_ commands: [(UInt64, UInt64)], _ c: SMMUConfiguration = .init(), cr2: UInt64 = 0) -> ControlHarness {
        let h = ControlHarness(c)
        h.write(Off.CR2, cr2)
        h.enableCommandQueue()
        h.write(Off.CR0, 0x1 | 0x8)
        h.host.clear(); h.caches.clear()
        h.submit(commands)
        return h
    }

    func consumedAll(_ h: ControlHarness, _ n: UInt64) -> Bool {
        h.read(Off.CMDQ_CONS) == n && h.read(Off.GERROR) == 0
    }

    @Test func configurationInvalidation() {
        let h = run([Cmd.cfgiSTE(0x42), Cmd.cfgiSTERange(0x23, range: 4), Cmd.cfgiAll,
                     Cmd.cfgiCD(7, ssid: 0x1234), Cmd.cfgiCDAll(9), (Cmd.op(0x01, sid: 5, ssid: 3, ssv: true), 0),
                     (Cmd.op(0x02, sid: 5), 0x1000)])
        #expect(consumedAll(h, 7))
        // CFGI_STE_RANGE Range 4: 2^5 STEs from 0x23 aligned down = 0x20...0x3F (4.3.2).
        #expect(h.caches.all == [.streams(0x42...0x42), .streams(0x20...0x3F), .streams(nil),
                                 .contexts(streamID: 7, substreamID: 0x1234), .contexts(streamID: 9, substreamID: nil),
                                 .prefetch(streamID: 5, substreamID: 3)])
        #expect(h.host.invalidations == [.streams(first: 0x42, count: 1), .streams(first: 0x20, count: 32), .all,
                                         .streams(first: 7, count: 1), .streams(first: 9, count: 1)])
    }

    @Test func stageOneTLBInvalidation() {
        let va: UInt64 = 0xFFFF_8000_1234_5000
        let h = run([
            Cmd.tlbi(0x10, vmid: 3),                                   // NH_ALL
            Cmd.tlbi(0x11, vmid: 3, asid: 0x1234),                     // NH_ASID
            Cmd.tlbi(0x12, vmid: 3, asid: 7, address: va, leaf: true), // NH_VA, no range
            Cmd.tlbi(0x13, vmid: 3, address: va),                      // NH_VAA
            // NH_VA range: TG 4K, NUM 3, SCALE 2 -> (3+1) * 2^2 * 4 KiB = 64 KiB (4.4.1.1).
            Cmd.tlbi(0x12, vmid: 3, asid: 7, num: 3, scale: 2, address: 0x40_0000, ttl: 3, tg: 1),
            // TG 64K, TTL 2, NUM 0, SCALE 0: one 64 KiB granule.
            Cmd.tlbi(0x13, vmid: 3, address: 0x50_0000, ttl: 2, tg: 3),
            Cmd.tlbi(0x30),                                            // NSNH_ALL
        ])
        #expect(consumedAll(h, 7))
        #expect(h.caches.all == [
            .tlb(.vmidStage1(vmid: 3)),
            .tlb(.asid(vmid: 3, asid: 0x1234, el2: false)),
            .tlb(.va(vmid: 3, asid: 7, address: va, size: 4096, leafOnly: true, el2: false)),
            .tlb(.va(vmid: 3, asid: nil, address: va, size: 4096, leafOnly: false, el2: false)),
            .tlb(.va(vmid: 3, asid: 7, address: 0x40_0000, size: 0x1_0000, leafOnly: false, el2: false)),
            .tlb(.va(vmid: 3, asid: nil, address: 0x50_0000, size: 0x1_0000, leafOnly: false, el2: false)),
            .tlb(.allNonHyp),
        ])
        #expect(h.host.invalidations == [
            .vmid(3), .asid(vmid: 3, asid: 0x1234),
            .address(vmid: 3, asid: 7, address: va, size: 4096),
            .address(vmid: 3, asid: nil, address: va, size: 4096),
            .address(vmid: 3, asid: 7, address: 0x40_0000, size: 0x1_0000),
            .address(vmid: 3, asid: nil, address: 0x50_0000, size: 0x1_0000),
            .all,
        ])
    }

    /// 4.4.1.1: with SMMU_IDR5.DS == 0, TG == 0b10 (16KB) with TTL == 0b01 is
    /// Reserved and "hardware treats as TTL == 0b00"; CERROR_ILL is only for
    /// the NUM == SCALE == 0 case (see illegalCommands). With a non-zero NUM or
    /// SCALE it is a range invalidation of (NUM+1) * 2^SCALE 16KB granules:
    /// 2 and 4 granules here.
    @Test func sixteenKTTL1WithoutDSIsARangeInvalidation() {
        let h = run([
            Cmd.tlbi(0x12, vmid: 3, asid: 7, num: 1, address: 0x40_0000, ttl: 1, tg: 2),
            Cmd.tlbi(0x13, vmid: 3, scale: 2, address: 0x80_0000, ttl: 1, tg: 2),
        ])
        #expect(consumedAll(h, 2))
        #expect(h.caches.all == [
            .tlb(.va(vmid: 3, asid: 7, address: 0x40_0000, size: 0x8000, leafOnly: false, el2: false)),
            .tlb(.va(vmid: 3, asid: nil, address: 0x80_0000, size: 0x1_0000, leafOnly: false, el2: false)),
        ])
    }

    @Test func rangeDoesNotWrapPastTheTopOfTheAddressSpace() {
        // TG 64K, NUM 31, SCALE 31: far more than the 64 KiB left above 0xFFFF_FFFF_FFFF_0000.
        let h = run([Cmd.tlbi(0x13, num: 31, scale: 31, address: 0xFFFF_FFFF_FFFF_0000, tg: 3)])
        #expect(h.caches.all == [.tlb(.va(vmid: 0, asid: nil, address: 0xFFFF_FFFF_FFFF_0000, size: 0x1_0000,
                                          leafOnly: false, el2: false))])
    }

    @Test func el2AndStageTwoInvalidation() {
        let h = run([
            Cmd.tlbi(0x20),                                        // EL2_ALL
            Cmd.tlbi(0x21, asid: 9),                               // EL2_ASID
            Cmd.tlbi(0x22, asid: 9, address: 0x7000),              // EL2_VA, E2H == 0: ASID ignored
            Cmd.tlbi(0x23, address: 0x8000, leaf: true),           // EL2_VAA
            Cmd.tlbi(0x28, vmid: 0x55),                            // S12_VMALL
            Cmd.tlbi(0x2A, vmid: 0x55, address: 0x12_3456_7000 | 0xFFF0_0000_0000_0000, leaf: true), // S2_IPA [51:12]
        ])
        #expect(consumedAll(h, 6))
        #expect(h.caches.all == [
            .tlb(.allEL2), .tlb(.asid(vmid: nil, asid: 9, el2: true)),
            .tlb(.va(vmid: nil, asid: nil, address: 0x7000, size: 4096, leafOnly: false, el2: true)),
            .tlb(.va(vmid: nil, asid: nil, address: 0x8000, size: 4096, leafOnly: true, el2: true)),
            .tlb(.vmidAll(0x55)),
            .tlb(.ipa(vmid: 0x55, address: 0x12_3456_7000, size: 4096, leafOnly: true)),
        ])
        #expect(h.host.invalidations == [
            .all, .asid(vmid: nil, asid: 9), .address(vmid: nil, asid: nil, address: 0x7000, size: 4096),
            .address(vmid: nil, asid: nil, address: 0x8000, size: 4096), .vmid(0x55),
            .ipa(vmid: 0x55, address: 0x12_3456_7000, size: 4096),
        ])
        // With CR2.E2H == 1 the EL2_VA ASID counts.
        let e = run([Cmd.tlbi(0x22, asid: 9, address: 0x7000)], cr2: 1)
        #expect(e.caches.all == [.tlb(.va(vmid: nil, asid: 9, address: 0x7000, size: 4096, leafOnly: false, el2: true))])
    }

    @Test func atsPriAndStallCommands() {
        let h = ControlHarness()
        h.enableCommandQueue()
        h.write(Off.CR0, 0x1 | 0x8)
        let stag = h.unit.stall(EventRecord(type: .F_TRANSLATION, streamID: 0x10))?.stag
        let other = h.unit.stall(EventRecord(type: .F_TRANSLATION, streamID: 0x11))?.stag
        let third = h.unit.stall(EventRecord(type: .F_TRANSLATION, streamID: 0x11))?.stag
        #expect(stag != nil && other != nil && third != nil)
        h.host.clear()
        h.submit([
            // ATC_INV SID 0x10, SSID 5, SSV, Size 2 (16 KiB): address aligned down (4.5.1).
            (Cmd.op(0x40, sid: 0x10, ssid: 5, ssv: true), 0x1_2345_7000 | 2),
            (Cmd.op(0x40, sid: 0x10), 52),                         // Size 52: everything
            // PRI_RESP SID 0x10, SSID 5, PRGIndex 0x1AB, Resp 0b10 Success (4.5.2).
            (Cmd.op(0x41, sid: 0x10, ssid: 5, ssv: true), 0x1AB | 2 << 12),
            (Cmd.op(0x41, sid: 0x10), 0x3 | 0 << 12),              // Resp 0b00 Failure
            (Cmd.op(0x41, sid: 0x10), 0x4 | 1 << 12),              // Resp 0b01 InvalidRequest
            // RESUME with a STAG of another stream: no-op (4.7.1).
            (Cmd.op(0x44, sid: 0x10) | 1 << 12, UInt64(other!)),
            (Cmd.op(0x44, sid: 0x10) | 1 << 12, UInt64(stag!)),    // retry
            (Cmd.op(0x45, sid: 0x11), 0),                           // STALL_TERM
            (Cmd.op(0x44, sid: 0x10) | 1 << 12, UInt64(stag!)),    // already resumed: no-op
        ])
        #expect(consumedAll(h, 9))
        #expect(h.host.invalidations == [.atc(streamID: 0x10, substreamID: 5, address: 0x1_2345_4000, size: 0x4000),
                                         .atc(streamID: 0x10, substreamID: nil, address: 0, size: 0)])
        #expect(h.host.responses == [
            PageResponse(streamID: 0x10, substreamID: 5, prgIndex: 0x1AB, code: .success),
            PageResponse(streamID: 0x10, substreamID: nil, prgIndex: 3, code: .failure),
            PageResponse(streamID: 0x10, substreamID: nil, prgIndex: 4, code: .invalidRequest),
        ])
        let stalls = h.host.stalls
        #expect(stalls.count == 3)
        #expect(stalls.first.map { $0.streamID == 0x10 && $0.stag == stag! && $0.retry } == true)
        #expect(Set(stalls.dropFirst().map(\.stag)) == [other!, third!])
        #expect(stalls.dropFirst().allSatisfy { $0.streamID == 0x11 && !$0.retry })
    }

    @Test func atsAndPriCommandsIgnoredWhileSMMUDisabled() {
        let h = ControlHarness()
        h.enableCommandQueue()
        h.submit([(Cmd.op(0x40, sid: 1), 0), (Cmd.op(0x41, sid: 1), 2 << 12)])
        #expect(consumedAll(h, 2))
        #expect(h.host.invalidations.isEmpty && h.host.responses.isEmpty)
    }

    @Test func stallTableIsBounded() {
        let h = ControlHarness()
        h.write(Off.CR0, 0x1)
        let e = EventRecord(type: .F_TRANSLATION, streamID: 1)
        var tags = Set<UInt16>()
        for _ in 0..<256 { if let t = h.unit.stall(e)?.stag { tags.insert(t) } }
        #expect(tags.count == 256)
        #expect(h.unit.stall(e) == nil)
        var c = SMMUConfiguration(); c.stallModel = .terminateOnly
        let t = ControlHarness(c)
        t.write(Off.CR0, 0x1)
        #expect(t.unit.stall(e) == nil)
        // 6.3.9.6: with SMMUEN == 0 nothing can stall.
        #expect(ControlHarness().unit.stall(e) == nil)
    }

    @Test(arguments: [
        (UInt64(0x00), UInt64(0)),                 // Reserved opcode
        (UInt64(0x47), UInt64(0)),                 // Reserved opcode
        (UInt64(0x18), UInt64(0)),                 // TLBI_EL3_ALL on the Non-secure queue
        (UInt64(0x1A), UInt64(0)),                 // TLBI_EL3_VA
        (UInt64(0x07), UInt64(0)),                 // CFGI_VMS_PIDM: no VMS
        (UInt64(0x03) | 1 << 10, UInt64(0)),       // CFGI_STE with SSec == 1 (4.1.6)
        (UInt64(0x41), UInt64(3 << 12)),           // PRI_RESP Resp 0b11
        (UInt64(0x46) | 3 << 12, UInt64(0)),       // CMD_SYNC CS 0b11
        (UInt64(0x12), UInt64(1 << 10)),           // TG 4K with NUM = SCALE = TTL = 0 (4.4.1.1)
        // TG 16K, TTL 1 without DS is treated as TTL 0 (4.4.1.1), so with
        // NUM = SCALE = 0 it is the Reserved combination.
        (UInt64(0x12), UInt64(2 << 10 | 1 << 8)),
    ])
    func illegalCommands(_ w0: UInt64, _ w1: UInt64) {
        let h = run([Cmd.tlbi(0x30), (w0, w1), Cmd.tlbi(0x30)])
        // 4.1.3/7.1: CONS stops at the bad command with ERR = CERROR_ILL; GERROR.CMDQ_ERR active.
        #expect(h.read(Off.CMDQ_CONS) == 1 | 1 << 24)
        #expect(h.read(Off.GERROR) & 1 == 1)
        #expect(h.caches.all == [.tlb(.allNonHyp)])
    }

    @Test func featureDependentCommandsAreIllegalWithoutTheFeature() {
        var c = SMMUConfiguration()
        c.hyp = false; c.pri = false; c.ats = false; c.stallModel = .terminateOnly
        for cmd: (UInt64, UInt64) in [Cmd.tlbi(0x20), Cmd.tlbi(0x21), Cmd.tlbi(0x22), Cmd.tlbi(0x23),
                                      (0x40, 0), (0x41, 2 << 12), (0x44, 0), (0x45, 0)] {
            let h = run([cmd], c)
            #expect(h.read(Off.CMDQ_CONS) == 1 << 24, "opcode \(cmd.0 & 0xFF)")
        }
        var s1 = SMMUConfiguration(); s1.stage2 = false; s1.nested = false
        for cmd in [Cmd.tlbi(0x28), Cmd.tlbi(0x2A)] {
            #expect(run([cmd], s1).read(Off.CMDQ_CONS) == 1 << 24)
        }
        var s2 = SMMUConfiguration(); s2.stage1 = false; s2.nested = false
        // 4.3.3, 4.3.4: CFGI_CD and CFGI_CD_ALL raise CERROR_ILL when stage 1 is not implemented.
        for cmd in [Cmd.tlbi(0x10), Cmd.tlbi(0x11), Cmd.tlbi(0x12), Cmd.tlbi(0x13),
                    Cmd.cfgiCD(1, ssid: 0), Cmd.cfgiCDAll(1)] {
            #expect(run([cmd], s2).read(Off.CMDQ_CONS) == 1 << 24)
        }
    }

    @Test func errorStopsTheQueueUntilAcknowledged() {
        let h = ControlHarness()
        h.enableCommandQueue()
        h.write(Off.IRQ_CTRL, 0x1)                     // GERROR_IRQEN, no MSI address: wired
        h.submit([Cmd.tlbi(0x30), (0x00, 0), Cmd.tlbi(0x30)])
        #expect(h.read(Off.CMDQ_CONS) == 1 | 1 << 24)
        #expect(h.host.interrupts == [.globalError])
        // More commands do not move the queue while CMDQ_ERR is active.
        h.submit([Cmd.tlbi(0x30)])
        h.unit.processCommands()
        #expect(h.read(Off.CMDQ_CONS) & 0xFFFFF == 1)
        // Software fixes the command, then acknowledges by toggling GERRORN.CMDQ_ERR.
        h.setRAM64(ControlHarness.cmdq + 16, Cmd.tlbi(0x30).0)
        let effect = h.write(Off.GERRORN, h.read(Off.GERROR))
        #expect(effect.contains(.commandsPending))
        h.unit.processCommands()
        #expect(h.read(Off.CMDQ_CONS) == 4 | 1 << 24)  // ERR keeps its last value
        #expect(h.caches.all.count == 4)
    }

    @Test func fetchAbortIsCERROR_ABT() {
        let h = ControlHarness()
        h.write(Off.CMDQ_BASE, 0x1_0000_0000 | 4, 8)   // no RAM there
        h.write(Off.CR0, 0x8)
        h.write(Off.CMDQ_PROD, 1)
        h.unit.processCommands()
        #expect(h.read(Off.CMDQ_CONS) == 2 << 24)
        #expect(h.read(Off.GERROR) == 1)
    }

    @Test func wrapAroundConsumption() {
        let h = ControlHarness()
        h.enableCommandQueue(log2: 2)                   // 4 entries
        for round in 0..<3 {
            h.submit([Cmd.tlbi(0x30), Cmd.tlbi(0x30), Cmd.tlbi(0x30)], log2: 2)
            #expect(h.read(Off.CMDQ_CONS) == h.read(Off.CMDQ_PROD), "round \(round)")
        }
        // 9 commands: pointer 9 mod 8 = 1 (index 1, wrap 0).
        #expect(h.read(Off.CMDQ_CONS) == 1)
        #expect(h.caches.all.count == 9)
    }

    @Test func cmdSyncCompletion() {
        // CS = IRQ with MSI: MSIData written to MSIAddr (4.7.3), after synchronize.
        let msi = ControlHarness.msiTarget
        var sync = Cmd.sync(cs: 1, msiData: 0xCAFE_F00D, msiAddress: msi)
        sync.1 |= 0xFFF0_0000_0000_0003   // word 1 bits outside MSIAddress[51:2] are not part of the address
        let h = run([Cmd.tlbi(0x30), sync])
        #expect(consumedAll(h, 2))
        #expect(h.host.syncs == 1)
        #expect(h.host.msis.count == 1)
        #expect(h.host.msis.first.map { $0.address == msi && $0.data == 0xCAFE_F00D } == true)
        // CS = SEV and CS = none: no signal, CONS moves.
        for cs: UInt64 in [0, 2] {
            let s = run([Cmd.sync(cs: cs, msiData: 1, msiAddress: msi)])
            #expect(consumedAll(s, 1) && s.host.syncs == 1 && s.host.msis.isEmpty && s.host.interrupts.isEmpty)
        }
        // CS = IRQ without an MSI address, or without IDR0.MSI: the wired CMD_SYNC interrupt.
        let w = run([Cmd.sync(cs: 1)])
        #expect(w.host.interrupts == [.commandSync] && w.host.msis.isEmpty)
        var noMSI = SMMUConfiguration(); noMSI.msi = false
        let n = run([Cmd.sync(cs: 1, msiData: 1, msiAddress: msi)], noMSI)
        #expect(n.host.interrupts == [.commandSync] && n.host.msis.isEmpty)
    }

    @Test func failedSynchronizeIsCERROR_ATC_INV_SYNC() {
        let h = ControlHarness()
        h.enableCommandQueue()
        h.host.syncResult.withLock { $0 = false }
        h.submit([Cmd.sync(cs: 1, msiData: 1, msiAddress: ControlHarness.msiTarget)])
        #expect(h.read(Off.CMDQ_CONS) == 3 << 24)
        #expect(h.host.msis.isEmpty)
    }

    @Test func registerReadsDoNotWaitForSynchronize() async throws {
        let h = ControlHarness()
        h.enableCommandQueue()
        let entered = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        h.host.onSync.withLock { $0 = { entered.signal(); release.wait() } }
        let slot = ControlHarness.cmdq
        let sync = Cmd.sync(cs: 0)
        h.setRAM64(slot, sync.0); h.setRAM64(slot + 8, sync.1)
        h.write(Off.CMDQ_PROD, 1)
        let worker = Thread { h.unit.processCommands() }
        worker.start()
        entered.wait()
        // processCommands is blocked in synchronize(): MMIO still answers, and
        // a second processCommands returns at once without consuming.
        #expect(h.read(Off.CMDQ_CONS) == 0)
        h.write(Off.IRQ_CTRL, 1)
        #expect(h.read(Off.IRQ_CTRLACK) == 1)
        h.unit.processCommands()
        #expect(h.host.syncs == 0)
        release.signal()
        for _ in 0..<2000 where h.read(Off.CMDQ_CONS) != 1 { try await Task.sleep(for: .milliseconds(1)) }
        #expect(h.read(Off.CMDQ_CONS) == 1)
        #expect(h.host.syncs == 1)
    }

    /// 4.5.1: "setting the Global (G) parameter to 1 when SSV == 1 sets the
    /// Global Invalidate flag in the Invalidation Request. The Global parameter
    /// is IGNORED when SSV == 0." G is bit 9 of word 0 (Linux CMDQ_ATC_0_GLOBAL).
    @Test func atcInvalidateCarriesGlobalWithSSV_4_5_1() {
        let h = run([(Cmd.op(0x40, sid: 3, ssid: 9, ssv: true) | 1 << 9, 52),
                     (Cmd.op(0x40, sid: 3) | 1 << 9, 52),
                     (Cmd.op(0x40, sid: 3, ssid: 9, ssv: true), 52)])
        #expect(consumedAll(h, 3))
        #expect(h.host.invalidations == [
            .atc(streamID: 3, substreamID: 9, address: 0, size: 0, global: true),
            .atc(streamID: 3, substreamID: nil, address: 0, size: 0, global: false),
            .atc(streamID: 3, substreamID: 9, address: 0, size: 0, global: false),
        ])
    }
}
