@testable import SMMU

/// Drives an SMMUv3 the way Linux's arm-smmu-v3 driver does: queues in RAM,
/// CR0 enabled step by step with CR0ACK, commands pushed at CMDQ_PROD, CMD_SYNC
/// completed by an MSI that overwrites the sync command's own first word.
final class LinuxLikeDriver {
    let smmu: SMMUv3
    let ram: TestRAM
    let host: DriverHost
    // Layout of the driver's structures in guest RAM.
    let cmdq: UInt64, cmdqLog2: UInt64 = 8
    let eventq: UInt64, eventqLog2: UInt64 = 7
    let priq: UInt64, priqLog2: UInt64 = 6
    let strtab: UInt64, strtabLog2: UInt64 = 8
    private(set) var cmdProd: UInt64 = 0
    var cr0: UInt64 = 0

    /// `wrapMemory` lets a test put its own GuestMemory (e.g. HookedMemory)
    /// between the SMMU and the RAM; the driver itself writes RAM directly.
    init(configuration: SMMUConfiguration = .init(),
         wrapMemory: ((RegionGuestMemory) -> any GuestMemory)? = nil) throws {
        ram = TestRAM()
        host = DriverHost()
        host.ram = ram
        smmu = try SMMUv3(configuration: configuration, memory: wrapMemory?(ram.memory) ?? ram.memory, host: host)
        cmdq = ram.base + 0x10_0000
        eventq = ram.base + 0x11_0000
        priq = ram.base + 0x12_0000
        strtab = ram.base + 0x20_0000
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

    /// arm_smmu_device_reset, reduced: queues, stream table, invalidate all, enable.
    func reset(enableSMMU: Bool = true) -> Bool {
        write64(Reg.STRTAB_BASE, strtab | 1 << 62)                  // RA
        write32(Reg.STRTAB_BASE_CFG, strtabLog2)                     // linear, LOG2SIZE
        write64(Reg.CMDQ_BASE, cmdq | cmdqLog2 | 1 << 62)
        write32(Reg.CMDQ_PROD, 0); write32(Reg.CMDQ_CONS, 0)
        write64(Reg.EVENTQ_BASE, eventq | eventqLog2 | 1 << 62)
        write32(Reg.EVENTQ_PROD, 0); write32(Reg.EVENTQ_CONS, 0)
        write64(Reg.PRIQ_BASE, priq | priqLog2 | 1 << 62)
        write32(Reg.PRIQ_PROD, 0); write32(Reg.PRIQ_CONS, 0)
        guard enable(CR0.CMDQEN) else { return false }
        guard submit([DriverCmd.cfgiAll, DriverCmd.tlbiNSNHAll]) else { return false }
        guard enable(CR0.EVTQEN), enable(CR0.PRIQEN) else { return false }
        write32(Reg.IRQ_CTRL, 0b111)                                 // GERROR, PRIQ, EVENTQ IRQEN
        guard read32(Reg.IRQ_CTRLACK) == 0b111 else { return false }
        return enableSMMU ? enable(CR0.SMMUEN) : true
    }

    /// Pushes commands followed by CMD_SYNC (CS=IRQ, MSI to the sync slot,
    /// MSIData 0) and returns whether the sync completed as Linux sees it.
    @discardableResult
    func submit(_ commands: [[UInt64]]) -> Bool {
        let mask: UInt64 = (1 << cmdqLog2) - 1
        var all = commands
        let syncIndex = cmdProd + UInt64(all.count)
        let syncSlot = cmdq + (syncIndex & mask) * 16
        all.append(DriverCmd.sync(cs: 1, msiData: 0, msiAddress: syncSlot))
        for c in all {
            ram.writeWords(cmdq + (cmdProd & mask) * 16, c)
            cmdProd = (cmdProd + 1) & ((mask << 1) | 1)          // index + wrap bit
        }
        let effect = smmu.write(offset: Reg.CMDQ_PROD, size: 4, value: cmdProd)
        if effect.contains(.commandsPending) { smmu.processCommands() }
        // Linux waits for the first word of the sync command to become 0.
        return ram.read32(syncSlot) == 0 && UInt64(read32(Reg.CMDQ_CONS)) & ((mask << 1) | 1) == cmdProd
    }

    func writeSTE(sid: UInt32, _ words: [UInt64]) {
        ram.writeWords(strtab + UInt64(sid) * 64, words + [UInt64](repeating: 0, count: 8 - words.count))
    }

    /// The event records currently between EVENTQ_CONS and EVENTQ_PROD (consumed).
    func drainEvents() -> [[UInt64]] {
        let mask: UInt64 = (1 << eventqLog2) - 1
        let wrapMask = (mask << 1) | 1
        var cons = UInt64(read32(Reg.EVENTQ_CONS)) & wrapMask
        let prod = UInt64(read32(Reg.EVENTQ_PROD)) & wrapMask
        var events: [[UInt64]] = []
        var guardCount = 0
        while cons != prod && guardCount < 1 << eventqLog2 {
            events.append(ram.memory.readWords(at: eventq + (cons & mask) * 32, count: 4)!)
            cons = (cons + 1) & wrapMask
            guardCount += 1
        }
        write32(Reg.EVENTQ_CONS, cons)
        return events
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
