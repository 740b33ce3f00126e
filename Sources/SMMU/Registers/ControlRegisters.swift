/// The register values and the queue bookkeeping that go with them: the
/// state behind ControlUnit's lock. Register semantics are driven by the
/// `RegisterLayout` table; `afterWrite` adds the side effects of 6.3.
struct ControlRegisters: Sendable {
    let layout: RegisterLayout
    let configuration: SMMUConfiguration
    private(set) var values: [UInt64]
    /// The next event/PRI record raises the queue interrupt (cleared when one
    /// is raised, re-armed when software consumes the queue).
    var eventIRQArmed = true
    var priIRQArmed = true
    /// Stalled transactions and their held event records (StallRecords.swift).
    var stalls = StallTable()
    /// Effects decided but maybe not yet delivered (durable models only).
    var outbox = Outbox()

    init(layout: RegisterLayout, configuration: SMMUConfiguration) {
        self.layout = layout
        self.configuration = configuration
        values = layout.descriptors.map(\.reset)
    }

    subscript(_ r: SMMURegister) -> UInt64 {
        get { values[r.rawValue] }
        set { values[r.rawValue] = newValue }
    }

    mutating func reset() {
        values = layout.descriptors.map(\.reset)
        eventIRQArmed = true; priIRQArmed = true
    }

    /// Takes over an image that `DurableState(decoding:configuration:)`
    /// validated against this configuration.
    mutating func adopt(_ s: DurableState) {
        values = s.registers; eventIRQArmed = s.eventIRQArmed; priIRQArmed = s.priIRQArmed
        stalls = s.stalls; outbox = s.outbox
    }

    // MARK: MMIO

    /// A 32-bit read of one slot; unimplemented slots read as zero.
    func read32(_ offset: UInt32) -> UInt32 {
        guard let (reg, half) = layout.slots[offset] else { return 0 }
        return UInt32(truncatingIfNeeded: self[reg] >> UInt64(half * 32))
    }

    /// A 32-bit write of one slot: masked by the table, ignored while the
    /// register's guard is set, then the register's side effects.
    mutating func write32(_ offset: UInt32, _ value: UInt32, _ out: inout PendingSignals) {
        guard let (reg, half) = layout.slots[offset] else { return }
        let d = layout[reg]
        if let g = d.ignoredWhile, self[g.register] & g.mask != 0 { return }
        // 6.3.14.1: a GBPA write without Update is IGNORED (the only choice from v3.2),
        // and so is one while an update is in progress (never: updates complete at once).
        if reg == .GBPA && UInt64(value) & RegBits.GBPA_UPDATE == 0 { return }
        let shift = UInt64(half * 32)
        let mask = d.writable & (0xFFFF_FFFF << shift)
        let old = self[reg]
        self[reg] = (old & ~mask) | ((UInt64(value) << shift) & mask)
        afterWrite(reg, old: old, &out)
    }

    private mutating func afterWrite(_ reg: SMMURegister, old: UInt64, _ out: inout PendingSignals) {
        switch reg {
        case .CR0:
            // 6.3.10: changes take effect at once, so CR0ACK mirrors CR0.
            let previous = self[.CR0ACK]
            self[.CR0ACK] = self[.CR0]
            let changed = previous ^ self[.CR0]
            if changed & RegBits.SMMUEN != 0 { out.invalidateAll = true }
            // 6.3.9.6: SMMUEN 1 -> 0 marks every stalled transaction for
            // termination and returns its STAG (held records go with it).
            if changed & previous & RegBits.SMMUEN != 0 { out.terminatedStalls = stalls.releaseAll(streamID: nil) }
            if changed & RegBits.EVTQEN != 0 { eventIRQArmed = true }
            if changed & RegBits.PRIQEN != 0 { priIRQArmed = true }
            if commandsPending { out.effect.insert(.commandsPending) }
        case .GBPA:
            // 6.3.14.1: the update completes immediately; Update reads back 0.
            if (old ^ self[.GBPA]) & RegBits.GBPA_ABORT != 0 { out.invalidateAll = true }
        case .IRQ_CTRL:
            self[.IRQ_CTRLACK] = self[.IRQ_CTRL]
        case .GERRORN:
            // Acknowledging CMDQ_ERR lets the command queue run again (7.1).
            if commandsPending { out.effect.insert(.commandsPending) }
        case .CMDQ_PROD:
            if commandsPending { out.effect.insert(.commandsPending) }
        case .EVENTQ_CONS:
            out.add(queueConsumed(.EVENTQ_BASE, .EVENTQ_PROD, .EVENTQ_CONS, line: .eventQueue))
        case .PRIQ_CONS:
            out.add(queueConsumed(.PRIQ_BASE, .PRIQ_PROD, .PRIQ_CONS, line: .priQueue))
        default:
            break
        }
    }

    /// Software moved CONS: if entries remain, interrupt again (an entry
    /// written while the handler was running must not be stranded); else
    /// re-arm for the next record.
    private mutating func queueConsumed(_ base: SMMURegister, _ prod: SMMURegister, _ cons: SMMURegister,
                                        line: SMMUInterruptLine) -> InterruptSignal? {
        let g = geometry(base)
        let empty = g.isEmpty(prod: UInt32(truncatingIfNeeded: self[prod]), cons: UInt32(truncatingIfNeeded: self[cons]))
        if line == .eventQueue { eventIRQArmed = empty } else { priIRQArmed = empty }
        // PRIQ_IRQ_CFG2.LO == 1: only messages with L == 1 interrupt (6.3.36).
        if line == .priQueue && self[.PRIQ_IRQ_CFG2] & RegBits.PRIQ_LO != 0 { return nil }
        return empty ? nil : queueInterrupt(line)
    }

    // MARK: derived state

    var cr0: UInt64 { self[.CR0ACK] }

    func geometry(_ base: SMMURegister) -> QueueGeometry {
        switch base {
        case .CMDQ_BASE:
            QueueGeometry(baseRegister: self[.CMDQ_BASE], maxLog2: configuration.commandQueueLog2, entrySize: 16)
        case .EVENTQ_BASE:
            QueueGeometry(baseRegister: self[.EVENTQ_BASE], maxLog2: configuration.eventQueueLog2, entrySize: 32)
        default:
            QueueGeometry(baseRegister: self[.PRIQ_BASE], maxLog2: configuration.priQueueLog2, entrySize: 16)
        }
    }

    func globalErrorActive(_ bit: UInt64) -> Bool { (self[.GERROR] ^ self[.GERRORN]) & bit != 0 }

    /// CMDQEN set, no CMDQ_ERR outstanding and CONS != PROD (4.1.2).
    var commandsPending: Bool {
        guard cr0 & RegBits.CMDQEN != 0, !globalErrorActive(RegBits.CMDQ_ERR) else { return false }
        let g = geometry(.CMDQ_BASE)
        return !g.isEmpty(prod: UInt32(truncatingIfNeeded: self[.CMDQ_PROD]),
                          cons: UInt32(truncatingIfNeeded: self[.CMDQ_CONS]))
    }

    var controlState: ControlState {
        var s = ControlState()
        let cr0 = self.cr0, cfg = self[.STRTAB_BASE_CFG], cr2 = self[.CR2]
        s.smmuEnabled = cr0 & RegBits.SMMUEN != 0
        s.globalBypassAbort = self[.GBPA] & RegBits.GBPA_ABORT != 0
        s.atsCheck = cr0 & RegBits.ATSCHK != 0
        s.streamTableBase = PhysicalAddress(self[.STRTAB_BASE] & RegBits.STRTAB_ADDR)
        // The literal LOG2SIZE: the base alignment uses it uncapped (6.3.24);
        // StreamTable caps it by SIDSIZE for range checks and indexing.
        s.streamTableLog2Size = UInt8(cfg & 0x3F)
        s.streamTableTwoLevel = (cfg >> 16) & 0b11 == 0b01 && configuration.twoLevelStreamTable
        s.streamTableSplit = UInt8((cfg >> 6) & 0x1F)
        s.recordInvalidStreamID = cr2 & RegBits.RECINVSID != 0
        s.recordConfigErrorsATS = cr2 & RegBits.REC_CFG_ATS != 0
        s.e2h = cr2 & RegBits.E2H != 0 && configuration.hypervisorContexts
        s.eventQueueEnabled = cr0 & RegBits.EVTQEN != 0
        s.priQueueEnabled = cr0 & RegBits.PRIQEN != 0
        return s
    }

    // MARK: interrupts and global errors

    /// The queue's interrupt if IRQ_CTRL enables it (6.3.16): an MSI when
    /// IDR0.MSI and IRQ_CFG0.ADDR != 0, else the wired line.
    func queueInterrupt(_ line: SMMUInterruptLine) -> InterruptSignal? {
        let (enable, cfg0, cfg1): (UInt64, SMMURegister, SMMURegister) = switch line {
        case .eventQueue: (RegBits.EVENTQ_IRQEN, .EVENTQ_IRQ_CFG0, .EVENTQ_IRQ_CFG1)
        case .priQueue: (RegBits.PRIQ_IRQEN, .PRIQ_IRQ_CFG0, .PRIQ_IRQ_CFG1)
        case .globalError: (RegBits.GERROR_IRQEN, .GERROR_IRQ_CFG0, .GERROR_IRQ_CFG1)
        case .commandSync: (0, .GERROR_IRQ_CFG0, .GERROR_IRQ_CFG1)   // not used: CMD_SYNC carries its own
        }
        guard line != .commandSync, self[.IRQ_CTRLACK] & enable != 0 else { return nil }
        let address = PhysicalAddress(self[cfg0] & RegBits.MSI_ADDR)
        if configuration.msi && address != 0 {
            return .msi(address: address, data: UInt32(truncatingIfNeeded: self[cfg1]), source: line)
        }
        return .wired(line)
    }

    /// Activates a GERROR condition (6.3.18): toggles the bit unless it is
    /// already active, and returns the GERROR interrupt to raise if any.
    mutating func raiseGlobalError(_ bit: UInt64) -> InterruptSignal? {
        guard !globalErrorActive(bit) else { return nil }
        self[.GERROR] ^= bit
        return queueInterrupt(.globalError)
    }

    /// Sets CMDQ_CONS.ERR and activates GERROR.CMDQ_ERR (7.1).
    mutating func commandError(_ error: CommandError) -> InterruptSignal? {
        let cons = self[.CMDQ_CONS] & RegBits.QUEUE_INDEX
        self[.CMDQ_CONS] = cons | UInt64(error.rawValue) << RegBits.CMDQ_CONS_ERR_SHIFT
        return raiseGlobalError(RegBits.CMDQ_ERR)
    }
}
