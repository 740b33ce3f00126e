import Testing
@testable import SMMU

/// Drives an SMMUv3 the way Linux's arm-smmu-v3 driver does: queues in RAM,
/// CR0 enabled step by step with CR0ACK, commands pushed at CMDQ_PROD, CMD_SYNC
/// completed by an MSI that overwrites the sync command's own first word.
final class LinuxLikeDriver {
    private(set) var smmu: SMMUv3
    let ram: TestRAM
    let host: DriverHost
    // Layout of the driver's structures in guest RAM.
    /// Queue sizes: what the driver wants, capped by IDR1 at `reset`.
    static let wantedCmdqLog2: UInt64 = 8, wantedEventqLog2: UInt64 = 7, wantedPriqLog2: UInt64 = 6
    let cmdq: UInt64
    private(set) var cmdqLog2 = wantedCmdqLog2
    let eventq: UInt64
    private(set) var eventqLog2 = wantedEventqLog2
    let priq: UInt64
    private(set) var priqLog2 = wantedPriqLog2
    let strtab: UInt64, strtabLog2: UInt64 = 8
    private(set) var cmdProd: UInt64 = 0
    var cr0: UInt64 = 0
    /// What the driver learnt from the ID registers (set by `reset`).
    private(set) var probed: LinuxProbe
    /// CMD_SYNC completes by an MSI into the sync slot (Linux's MSIPOLL:
    /// IDR0.MSI and IDR0.COHACC), else Linux uses SIG_SEV and polls CONS.
    var msiPoll: Bool { probed.msi && probed.coherent }

    /// Check mode's reports (docs/checker.md); on by default, so every
    /// Linux-shaped test here is also a no-false-alarm test of the checker.
    let checkReports = Shared<[CheckReport]>([])
    /// A driver that does what Linux does must draw no report: with
    /// `check` on, any report left at the end fails the test, unless the
    /// test takes them (`takeCheckReports`) to look at them itself.
    private let failOnReports: Bool

    func takeCheckReports() -> [CheckReport] { checkReports.mutex.withLock { r in defer { r = [] }; return r } }

    deinit {
        let left = checkReports.value
        if failOnReports && !left.isEmpty {
            Issue.record("check mode reported a Linux-shaped sequence: \(left.map(\.summaryLine))")
        }
    }

    /// `wrapMemory` lets a test put its own GuestMemory (e.g. HookedMemory)
    /// between the SMMU and the RAM; the driver itself writes RAM directly.
    /// `check`: check mode (off where a test looks at every invalidation
    /// the host is sent: check mode adds an invalidate-all at each CMD_SYNC).
    init(configuration: SMMUConfiguration = .init(),
         wrapMemory: ((RegionGuestMemory) -> any GuestMemory)? = nil, check: Bool = true) throws {
        ram = TestRAM()
        host = DriverHost()
        host.ram = ram
        let reports = checkReports
        failOnReports = check
        smmu = try SMMUv3(configuration: configuration, memory: wrapMemory?(ram.memory) ?? ram.memory, host: host,
                          checking: check ? CheckOptions { r in reports.update { $0.append(r) } } : nil)
        cmdq = ram.base + 0x10_0000
        eventq = ram.base + 0x11_0000
        priq = ram.base + 0x12_0000
        strtab = ram.base + 0x20_0000
        probed = LinuxProbe(idr0: 0, idr1: 0, idr5: 0)
        host.smmu = smmu
        probed = probe()
    }

    /// The backend died and a new one took over its durable image
    /// (docs/backend.md, "Restart"): the driver carries on against a new
    /// model over the same RAM and host, which adopts `image`. The new model
    /// is durable too, its images going to `sink`.
    @discardableResult
    func replaceModel(adopting image: DurableState, sink: (@Sendable (DurableState) -> Void)? = nil) throws
        -> MMIOWriteEffect {
        let next = try SMMUv3(configuration: smmu.configuration, memory: smmu.memory, host: host)
        host.smmu = next
        smmu = next
        let effect = next.adopt(image)
        if let sink { next.makeDurable(sink) }
        return effect
    }

    /// arm_smmu_device_hw_probe, reduced: the fields of IDR0, IDR1 and IDR5.
    func probe() -> LinuxProbe {
        LinuxProbe(idr0: read32(Reg.IDR0), idr1: read32(Reg.IDR1), idr5: read32(Reg.IDR5))
    }

    func read32(_ offset: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: smmu.read(offset: offset, size: 4)) }
    func write32(_ offset: UInt64, _ value: UInt64) { _ = smmu.write(offset: offset, size: 4, value: value) }
    func write64(_ offset: UInt64, _ value: UInt64) { _ = smmu.write(offset: offset, size: 8, value: value) }

    /// Sets CR0 bits one at a time, each acknowledged in CR0ACK (arm_smmu_write_reg_sync).
    func enable(_ bit: UInt64) -> Bool {
        cr0 |= bit
        write32(Reg.CR0, cr0)
        return UInt64(read32(Reg.CR0ACK)) == cr0
    }

    /// Clears one CR0 bit (a test's deviation from Linux, e.g. ATSCHK off).
    func disable(_ bit: UInt64) -> Bool {
        cr0 &= ~bit
        write32(Reg.CR0, cr0)
        return UInt64(read32(Reg.CR0ACK)) == cr0
    }

    /// arm_smmu_device_reset, reduced: queues, stream table, invalidate all,
    /// enable, each CR0 step acknowledged. Queues are sized to what the
    /// driver wants capped by IDR1 (arm_smmu_init_one_queue); the PRI queue
    /// and ATSCHK only with IDR0.PRI / IDR0.ATS.
    func reset(enableSMMU: Bool = true) -> Bool {
        probed = probe()
        cmdqLog2 = min(Self.wantedCmdqLog2, UInt64(probed.cmdqLog2))
        eventqLog2 = min(Self.wantedEventqLog2, UInt64(probed.evtqLog2))
        priqLog2 = min(Self.wantedPriqLog2, UInt64(probed.priqLog2))
        write32(Reg.CR0, 0)
        cr0 = 0
        guard read32(Reg.CR0ACK) == 0 else { return false }
        write64(Reg.STRTAB_BASE, strtab | 1 << 62)                  // RA
        write32(Reg.STRTAB_BASE_CFG, strtabLog2)                     // linear, LOG2SIZE
        write64(Reg.CMDQ_BASE, cmdq | cmdqLog2 | 1 << 62)
        write32(Reg.CMDQ_PROD, 0); write32(Reg.CMDQ_CONS, 0)
        cmdProd = 0
        write64(Reg.EVENTQ_BASE, eventq | eventqLog2 | 1 << 62)
        write32(Reg.EVENTQ_PROD, 0); write32(Reg.EVENTQ_CONS, 0)
        if probed.pri {
            write64(Reg.PRIQ_BASE, priq | priqLog2 | 1 << 62)
            write32(Reg.PRIQ_PROD, 0); write32(Reg.PRIQ_CONS, 0)
        }
        guard enable(CR0.CMDQEN) else { return false }
        var invalidateAll = [DriverCmd.cfgiAll]
        if probed.hyp { invalidateAll.append(DriverCmd.tlbiEL2All) }
        invalidateAll.append(DriverCmd.tlbiNSNHAll)
        guard submit(invalidateAll) else { return false }
        guard enable(CR0.EVTQEN) else { return false }
        if probed.pri { guard enable(CR0.PRIQEN) else { return false } }
        if probed.ats { guard enable(CR0.ATSCHK) else { return false } }
        let irqs: UInt64 = probed.pri ? 0b111 : 0b101                // GERROR, (PRIQ), EVENTQ IRQEN
        write32(Reg.IRQ_CTRL, irqs)
        guard UInt64(read32(Reg.IRQ_CTRLACK)) == irqs else { return false }
        return enableSMMU ? enable(CR0.SMMUEN) : true
    }

    /// Pushes commands followed by CMD_SYNC and returns whether the sync
    /// completed as Linux sees it. With MSIPOLL: CS=IRQ, MSI of data 0 to the
    /// sync command's own slot, and Linux waits for that word to become 0;
    /// otherwise CS=SEV and Linux polls CMDQ_CONS.
    @discardableResult
    func submit(_ commands: [[UInt64]]) -> Bool {
        let mask: UInt64 = (1 << cmdqLog2) - 1
        var all = commands
        let syncIndex = cmdProd + UInt64(all.count)
        let syncSlot = cmdq + (syncIndex & mask) * 16
        all.append(msiPoll ? DriverCmd.sync(cs: .sigIRQ, msiData: 0, msiAddress: syncSlot) : DriverCmd.sync(cs: .sigSEV))
        for c in all {
            ram.writeWords(cmdq + (cmdProd & mask) * 16, c)
            cmdProd = (cmdProd + 1) & ((mask << 1) | 1)          // index + wrap bit
        }
        let effect = smmu.write(offset: Reg.CMDQ_PROD, size: 4, value: cmdProd)
        if effect.contains(.commandsPending) { smmu.processCommands() }
        let consumed = UInt64(read32(Reg.CMDQ_CONS)) & ((mask << 1) | 1) == cmdProd
        return msiPoll ? ram.read32(syncSlot) == 0 && consumed : consumed
    }

    func writeSTE(sid: UInt32, _ words: [UInt64]) {
        ram.writeWords(strtab + UInt64(sid) * 64, words + [UInt64](repeating: 0, count: 8 - words.count))
    }

    /// The event records currently between EVENTQ_CONS and EVENTQ_PROD (consumed).
    /// StreamID `sid` through a stage-1 CD with S = 1 (stall) under an STE
    /// with S1STALLD = 0, as Linux sets up a stall-capable master: one page
    /// 0x1234_5000 -> RAM base + 16 MiB.
    func setUpStallingStream(sid: UInt32) -> Bool {
        let base = ram.base
        let t = Stage1Tables(ram: ram, arena: base + 0x40_0000)
        t.map(0x1234_5000, to: base + 0x100_0000)
        let cd = base + 0x30_0000
        ram.writeWords(cd, CDWords.linux(asid: 3, ttb0: t.root, stall: true))
        writeSTE(sid: sid, STEWords.stage1(cdPointer: cd))
        return submit([DriverCmd.cfgiSTE(sid)])
    }

    func drainEvents() -> [[UInt64]] {
        let mask: UInt64 = (1 << eventqLog2) - 1
        let wrapMask = (mask << 1) | 1
        var cons = UInt64(read32(Reg.EVENTQ_CONS)) & wrapMask
        let prod = UInt64(read32(Reg.EVENTQ_PROD)) & wrapMask
        var events: [[UInt64]] = []
        var guardCount = 0
        while cons != prod && guardCount < 1 << eventqLog2 {
            events.append(ram.memory.readWords(at: PhysicalAddress(eventq + (cons & mask) * 32), count: 4)!)
            cons = (cons + 1) & wrapMask
            guardCount += 1
        }
        write32(Reg.EVENTQ_CONS, cons)
        return events
    }
}

/// The features Linux's arm_smmu_device_hw_probe reads from IDR0, IDR1 and
/// IDR5, with the bit positions of IHI 0070 6.3.1, 6.3.2, 6.3.6.
struct LinuxProbe: Equatable, CustomStringConvertible {
    var s1p = false, s2p = false, ttf: UInt32 = 0, coherent = false, btm = false, httu: UInt32 = 0
    var hyp = false, ats = false, asid16 = false, msi = false, sev = false, pri = false
    var vmid16 = false, cd2l = false, stallModel: UInt32 = 0, twoLevelStreamTable = false
    var sidBits: UInt32 = 0, ssidBits: UInt32 = 0, priqLog2: UInt32 = 0, evtqLog2: UInt32 = 0, cmdqLog2: UInt32 = 0
    var stallMax: UInt32 = 0

    init(idr0: UInt32, idr1: UInt32, idr5: UInt32) {
        func bit(_ n: UInt32) -> Bool { idr0 >> n & 1 != 0 }
        s2p = bit(0); s1p = bit(1); ttf = idr0 >> 2 & 0b11; coherent = bit(4); btm = bit(5)
        httu = idr0 >> 6 & 0b11; hyp = bit(9); ats = bit(10); asid16 = bit(12); msi = bit(13)
        sev = bit(14); pri = bit(16); vmid16 = bit(18); cd2l = bit(19)
        stallModel = idr0 >> 24 & 0b11; twoLevelStreamTable = idr0 >> 27 & 0b11 == 0b01
        sidBits = idr1 & 0x3F; ssidBits = idr1 >> 6 & 0x1F; priqLog2 = idr1 >> 11 & 0x1F
        evtqLog2 = idr1 >> 16 & 0x1F; cmdqLog2 = idr1 >> 21 & 0x1F
        stallMax = idr5 >> 16
    }

    /// What an SMMU built from `c` must advertise, stated from the spec's
    /// field definitions (not from the model's IDRegisters).
    init(expectedFor c: SMMUConfiguration) {
        self.init(idr0: 0, idr1: 0, idr5: 0)
        s1p = c.stage1; s2p = c.stage2; ttf = 0b10; coherent = c.coherent; btm = c.broadcastTLBMaintenance
        httu = UInt32(c.httu.rawValue)
        hyp = c.hyp && c.stage1 && c.stage2        // 6.3.1: Hyp is RES0 when S1P == 0 or S2P == 0
        ats = c.ats; asid16 = c.asid16; msi = c.msi; sev = c.sev; pri = c.pri
        vmid16 = c.vmid16 && c.stage2              // 6.3.1: VMID16 is RES0 when S2P == 0
        cd2l = c.twoLevelCDTables && c.substreamIDBits > 0
        stallModel = UInt32(c.stallModel.rawValue); twoLevelStreamTable = c.twoLevelStreamTable
        sidBits = UInt32(c.streamIDBits); ssidBits = UInt32(c.substreamIDBits)
        priqLog2 = c.pri ? UInt32(c.priQueueLog2) : 0   // 6.3.2: PRIQS is RES0 without PRI
        evtqLog2 = UInt32(c.eventQueueLog2); cmdqLog2 = UInt32(c.commandQueueLog2)
        stallMax = c.stallModel == .terminateOnly ? 0 : 256
    }

    var description: String {
        "s1p \(s1p) s2p \(s2p) hyp \(hyp) ats \(ats) pri \(pri) msi \(msi) sev \(sev) coh \(coherent) "
            + "stall \(stallModel)/\(stallMax) sid \(sidBits) ssid \(ssidBits) q \(cmdqLog2)/\(evtqLog2)/\(priqLog2)"
    }
}

/// Builders for stage-1 4 KiB-granule tables (VMSAv8-64 descriptor formats).
enum PT4K {
    static let valid: UInt64 = 1 << 0, table: UInt64 = 1 << 1
    static let af: UInt64 = 1 << 10, apReadOnly: UInt64 = 1 << 7, apEL0: UInt64 = 1 << 6
    static let innerShareable: UInt64 = 3 << 8, uxn: UInt64 = 1 << 54, pxn: UInt64 = 1 << 53
    /// nG [11]: not global, the entry is ASID-tagged (3.17.1).
    static let nG: UInt64 = 1 << 11
    static func index(_ va: UInt64, level: Int) -> UInt64 { (va >> UInt64(39 - 9 * level)) & 0x1FF }
    static func tableDescriptor(_ next: UInt64) -> UInt64 { next | table | valid }
    static func pageDescriptor(_ pa: UInt64, _ attrs: UInt64) -> UInt64 { pa | attrs | table | valid }
}

/// SMMU configurations a Linux-like bring-up is run against, so that what the
/// driver observes depends on the configuration and not on defaults.
enum BringUpConfiguration: String, CaseIterable, Sendable {
    case defaults, noMSI, nonCoherent, minimal, stage2Only, broadcastTLB

    var configuration: SMMUConfiguration {
        var c = SMMUConfiguration()
        switch self {
        case .defaults: break
        case .noMSI: c.msi = false
        case .nonCoherent: c.coherent = false              // MSIs, but no MSI polling (Linux MSIPOLL)
        case .minimal:
            // Stage 1 only (hyp left on: IDR0.Hyp must still read 0), no ATS/PRI/MSI/SEV,
            // no substreams, terminate-only, linear tables, small queues.
            c.stage2 = false; c.nested = false; c.ats = false; c.pri = false; c.msi = false; c.sev = false
            c.substreamIDBits = 0; c.streamIDBits = 8; c.stallModel = .terminateOnly
            c.twoLevelStreamTable = false; c.twoLevelCDTables = false; c.rangeInvalidation = false
            c.commandQueueLog2 = 3; c.eventQueueLog2 = 4
        case .stage2Only:
            c.stage1 = false; c.nested = false; c.commandQueueLog2 = 5; c.priQueueLog2 = 4
        case .broadcastTLB:
            c.broadcastTLBMaintenance = true; c.commandQueueLog2 = 6
        }
        return c
    }
}
