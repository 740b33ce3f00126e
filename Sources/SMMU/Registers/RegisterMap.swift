/// The SMMUv3 programming interface, pages 0 and 1 (IHI 0070 6.2, 6.3.*).
/// One row per register: offset, width, reset value, writable bits and the
/// enable under which software writes are ignored. Behaviour beyond masks
/// (acknowledgements, handshakes, queue side effects) lives in
/// `ControlRegisters.afterWrite`.
enum SMMURegister: Int, CaseIterable, Sendable {
    case IDR0, IDR1, IDR2, IDR3, IDR4, IDR5, IIDR, AIDR
    case CR0, CR0ACK, CR1, CR2, STATUSR, GBPA, AGBPA, IRQ_CTRL, IRQ_CTRLACK
    case GERROR, GERRORN, GERROR_IRQ_CFG0, GERROR_IRQ_CFG1, GERROR_IRQ_CFG2
    case STRTAB_BASE, STRTAB_BASE_CFG
    case CMDQ_BASE, CMDQ_PROD, CMDQ_CONS
    case EVENTQ_BASE, EVENTQ_PROD, EVENTQ_CONS, EVENTQ_IRQ_CFG0, EVENTQ_IRQ_CFG1, EVENTQ_IRQ_CFG2
    case PRIQ_BASE, PRIQ_PROD, PRIQ_CONS, PRIQ_IRQ_CFG0, PRIQ_IRQ_CFG1, PRIQ_IRQ_CFG2
}

/// "Writes are IGNORED while these bits of that register are set" (the
/// register-specific rules of 6.3: e.g. STRTAB_BASE while CR0ACK.SMMUEN == 1).
struct WriteGuard: Sendable {
    var register: SMMURegister
    var mask: UInt64
}

struct RegisterDescriptor: Sendable {
    var register: SMMURegister
    var offset: UInt32
    /// 4 or 8 bytes; 8-byte registers are also accessible as two 32-bit halves.
    var width: Int
    var reset: UInt64
    /// Bits a software write may change; everything else is RO or RES0.
    var writable: UInt64
    var ignoredWhile: WriteGuard?
}

/// Bit positions used across the register file (IHI 0070 6.3).
enum RegBits {
    // 6.3.9 CR0 / 6.3.10 CR0ACK
    static let SMMUEN: UInt64 = 1 << 0, PRIQEN: UInt64 = 1 << 1, EVTQEN: UInt64 = 1 << 2
    static let CMDQEN: UInt64 = 1 << 3, ATSCHK: UInt64 = 1 << 4
    // 6.3.12 CR2
    static let E2H: UInt64 = 1 << 0, RECINVSID: UInt64 = 1 << 1, PTM: UInt64 = 1 << 2
    static let REC_CFG_ATS: UInt64 = 1 << 3
    // 6.3.1 IDR0
    static let ATSRECERR: UInt32 = 1 << 23
    // 6.3.14 GBPA
    static let GBPA_UPDATE: UInt64 = 1 << 31, GBPA_ABORT: UInt64 = 1 << 20
    // 6.3.16 IRQ_CTRL
    static let GERROR_IRQEN: UInt64 = 1 << 0, PRIQ_IRQEN: UInt64 = 1 << 1, EVENTQ_IRQEN: UInt64 = 1 << 2
    // 6.3.18 GERROR
    static let CMDQ_ERR: UInt64 = 1 << 0, EVENTQ_ABT_ERR: UInt64 = 1 << 2, PRIQ_ABT_ERR: UInt64 = 1 << 3
    static let MSI_CMDQ_ABT_ERR: UInt64 = 1 << 4, MSI_EVENTQ_ABT_ERR: UInt64 = 1 << 5
    static let MSI_PRIQ_ABT_ERR: UInt64 = 1 << 6, MSI_GERROR_ABT_ERR: UInt64 = 1 << 7, SFM_ERR: UInt64 = 1 << 8
    static let GERROR_ALL: UInt64 = 0x1FD
    // Queue PROD/CONS (6.3.27-6.3.37): WR/RD index with wrap in [19:0].
    static let QUEUE_INDEX: UInt64 = 0xF_FFFF
    static let OVFLG: UInt64 = 1 << 31            // PROD.OVFLG / CONS.OVACKFLG
    static let CMDQ_CONS_ERR_SHIFT: UInt64 = 24   // CMDQ_CONS.ERR [30:24]
    // Queue BASE: ADDR [51:5], LOG2SIZE [4:0]; RA/WA bit 62.
    static let QUEUE_BASE_ADDR: UInt64 = 0x000F_FFFF_FFFF_FFE0
    static let QUEUE_BASE_WRITABLE: UInt64 = QUEUE_BASE_ADDR | 0x1F | (1 << 62)
    // 6.3.36 PRIQ_IRQ_CFG2.LO: interrupt only for messages with L == 1.
    static let PRIQ_LO: UInt64 = 1 << 31
    // IRQ_CFG0.ADDR [51:2]
    static let MSI_ADDR: UInt64 = 0x000F_FFFF_FFFF_FFFC
    // STRTAB_BASE: RA bit 62, ADDR [51:6]; STRTAB_BASE_CFG: LOG2SIZE [5:0], SPLIT [10:6], FMT [17:16]
    static let STRTAB_ADDR: UInt64 = 0x000F_FFFF_FFFF_FFC0
}

extension RegisterDescriptor {
    /// The register table. ID registers come from the configuration alone.
    static func table(ids: IDRegisters) -> [RegisterDescriptor] {
        func r(_ reg: SMMURegister, _ offset: UInt32, _ width: Int = 4, reset: UInt64 = 0,
               writable: UInt64 = 0, ignoredWhile guardBits: WriteGuard? = nil) -> RegisterDescriptor {
            RegisterDescriptor(register: reg, offset: offset, width: width, reset: reset,
                               writable: writable, ignoredWhile: guardBits)
        }
        let smmuOn = WriteGuard(register: .CR0ACK, mask: RegBits.SMMUEN)
        let anyOn = WriteGuard(register: .CR0ACK, mask: RegBits.SMMUEN | RegBits.CMDQEN | RegBits.EVTQEN | RegBits.PRIQEN)
        let cmdqOn = WriteGuard(register: .CR0ACK, mask: RegBits.CMDQEN)
        let evtqOn = WriteGuard(register: .CR0ACK, mask: RegBits.EVTQEN)
        let priqOn = WriteGuard(register: .CR0ACK, mask: RegBits.PRIQEN)
        let gerrIRQ = WriteGuard(register: .IRQ_CTRLACK, mask: RegBits.GERROR_IRQEN)
        let evtIRQ = WriteGuard(register: .IRQ_CTRLACK, mask: RegBits.EVENTQ_IRQEN)
        let priIRQ = WriteGuard(register: .IRQ_CTRLACK, mask: RegBits.PRIQ_IRQEN)
        // CR0.PRIQEN / ATSCHK and CR2.PTM / E2H are RES0 without IDR0.PRI /
        // ATS / BTM / Hyp (6.3.9, 6.3.12); VMW and above: IDR0.VMW == 0.
        let cr0Writable = RegBits.SMMUEN | RegBits.EVTQEN | RegBits.CMDQEN
            | (ids.pri ? RegBits.PRIQEN : 0) | (ids.ats ? RegBits.ATSCHK : 0)
        let cr2Writable = RegBits.RECINVSID | (ids.hyp ? RegBits.E2H : 0) | (ids.btm ? RegBits.PTM : 0)
        let irqCfg2: UInt64 = 0x3F          // SH [5:4], MEMATTR [3:0]
        // 6.3.36: + LO; the register is RES0 without IDR0.MSI and IDR0.PRI.
        let priqIrqCfg2: UInt64 = ids.msi && ids.pri ? 0x3F | RegBits.PRIQ_LO : 0
        // CR2.REC_CFG_ATS is RES0 unless IDR0.ATSRECERR == 1 (6.3.12).
        let cr2 = cr2Writable | (ids.idr0 & RegBits.ATSRECERR != 0 ? RegBits.REC_CFG_ATS : 0)
        return [
            // 6.3.1-6.3.8: identification, RO.
            r(.IDR0, 0x00, reset: UInt64(ids.idr0)), r(.IDR1, 0x04, reset: UInt64(ids.idr1)),
            r(.IDR2, 0x08, reset: UInt64(ids.idr2)), r(.IDR3, 0x0C, reset: UInt64(ids.idr3)),
            r(.IDR4, 0x10, reset: UInt64(ids.idr4)), r(.IDR5, 0x14, reset: UInt64(ids.idr5)),
            r(.IIDR, 0x18, reset: UInt64(ids.iidr)), r(.AIDR, 0x1C, reset: UInt64(ids.aidr)),
            // 6.3.9-6.3.12: control.
            r(.CR0, 0x20, writable: cr0Writable), r(.CR0ACK, 0x24),
            r(.CR1, 0x28, writable: 0xFFF, ignoredWhile: anyOn),
            r(.CR2, 0x2C, writable: cr2, ignoredWhile: smmuOn),
            r(.STATUSR, 0x40),
            // 6.3.14: Update is set by the write and cleared when applied (handled in afterWrite).
            r(.GBPA, 0x44, reset: 0x1000, writable: 0x001F_3F1F), r(.AGBPA, 0x48),
            r(.IRQ_CTRL, 0x50, writable: 0x7), r(.IRQ_CTRLACK, 0x54),
            // 6.3.18-6.3.20: GERROR is RO; GERRORN toggles acknowledge.
            r(.GERROR, 0x60), r(.GERRORN, 0x64, writable: RegBits.GERROR_ALL),
            r(.GERROR_IRQ_CFG0, 0x68, 8, writable: RegBits.MSI_ADDR, ignoredWhile: gerrIRQ),
            r(.GERROR_IRQ_CFG1, 0x70, writable: 0xFFFF_FFFF, ignoredWhile: gerrIRQ),
            r(.GERROR_IRQ_CFG2, 0x74, writable: irqCfg2, ignoredWhile: gerrIRQ),
            // 6.3.23-6.3.24: stream table, fixed while SMMUEN == 1.
            r(.STRTAB_BASE, 0x80, 8, writable: RegBits.STRTAB_ADDR | (1 << 62), ignoredWhile: smmuOn),
            r(.STRTAB_BASE_CFG, 0x88, writable: 0x3_07FF, ignoredWhile: smmuOn),
            // 6.3.25-6.3.27: command queue. CONS is written by software only while disabled.
            r(.CMDQ_BASE, 0x90, 8, writable: RegBits.QUEUE_BASE_WRITABLE, ignoredWhile: cmdqOn),
            r(.CMDQ_PROD, 0x98, writable: RegBits.QUEUE_INDEX),
            r(.CMDQ_CONS, 0x9C, writable: RegBits.QUEUE_INDEX, ignoredWhile: cmdqOn),
            // 6.3.28-6.3.33: event queue; PROD/CONS live in page 1.
            r(.EVENTQ_BASE, 0xA0, 8, writable: RegBits.QUEUE_BASE_WRITABLE, ignoredWhile: evtqOn),
            // 6.3.95, 6.3.97: PROD, OVFLG included, is RW while the queue is disabled.
            r(.EVENTQ_PROD, 0x100A8, writable: RegBits.QUEUE_INDEX | RegBits.OVFLG, ignoredWhile: evtqOn),
            r(.EVENTQ_CONS, 0x100AC, writable: RegBits.QUEUE_INDEX | RegBits.OVFLG),
            r(.EVENTQ_IRQ_CFG0, 0xB0, 8, writable: RegBits.MSI_ADDR, ignoredWhile: evtIRQ),
            r(.EVENTQ_IRQ_CFG1, 0xB8, writable: 0xFFFF_FFFF, ignoredWhile: evtIRQ),
            r(.EVENTQ_IRQ_CFG2, 0xBC, writable: irqCfg2, ignoredWhile: evtIRQ),
            // 6.3.34-6.3.42: PRI queue; PROD/CONS in page 1.
            r(.PRIQ_BASE, 0xC0, 8, writable: RegBits.QUEUE_BASE_WRITABLE, ignoredWhile: priqOn),
            r(.PRIQ_PROD, 0x100C8, writable: RegBits.QUEUE_INDEX | RegBits.OVFLG, ignoredWhile: priqOn),
            r(.PRIQ_CONS, 0x100CC, writable: RegBits.QUEUE_INDEX | RegBits.OVFLG),
            r(.PRIQ_IRQ_CFG0, 0xD0, 8, writable: RegBits.MSI_ADDR, ignoredWhile: priIRQ),
            r(.PRIQ_IRQ_CFG1, 0xD8, writable: 0xFFFF_FFFF, ignoredWhile: priIRQ),
            r(.PRIQ_IRQ_CFG2, 0xDC, writable: priqIrqCfg2, ignoredWhile: priIRQ),
        ]
    }
}

/// The register layout of one instance: descriptors by register, and the
/// 32-bit slots of the MMIO space that reach them.
struct RegisterLayout: Sendable {
    let descriptors: [RegisterDescriptor]   // indexed by SMMURegister.rawValue
    /// 32-bit slot offset -> (register, which half: 0 low, 1 high).
    let slots: [UInt32: (SMMURegister, Int)]

    init(ids: IDRegisters) {
        let table = RegisterDescriptor.table(ids: ids).sorted { $0.register.rawValue < $1.register.rawValue }
        precondition(table.map(\.register) == SMMURegister.allCases, "register table incomplete")
        descriptors = table
        var slots: [UInt32: (SMMURegister, Int)] = [:]
        for d in table {
            slots[d.offset] = (d.register, 0)
            if d.width == 8 { slots[d.offset + 4] = (d.register, 1) }
        }
        self.slots = slots
    }

    subscript(_ r: SMMURegister) -> RegisterDescriptor { descriptors[r.rawValue] }
}
