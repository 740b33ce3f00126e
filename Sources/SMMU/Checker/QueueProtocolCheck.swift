/// Rule `queue`: register writes software must not make (IHI 0070 3.21.2,
/// and the register descriptions of 6.3), judged against the register
/// file as it was before the write. Pure: it reports, the model then
/// behaves as it always does.
enum QueueProtocolCheck {
    static func registerWrite(_ reg: SMMURegister, offset: UInt32, value: UInt64, before r: ControlRegisters)
        -> CheckReport? {
        let cr0 = r.cr0
        func report(_ what: String) -> CheckReport {
            CheckReport(rule: .queueProtocol, address: UInt64(offset), observed: what)
        }
        if let g = guardedByEnable[reg] {
            guard cr0 & g.enable != 0 else { return nil }
            return report("SMMU_\(reg) written while \(g.name) == 1 (\(g.section): a guarded register, IGNORED from "
                          + "SMMUv3.2, CONSTRAINED UNPREDICTABLE before)")
        }
        switch reg {
        case .CMDQ_PROD where cr0 & RegBits.CMDQEN != 0 && !r.globalErrorActive(RegBits.CMDQ_ERR):
            let g = r.geometry(.CMDQ_BASE)
            let cons = UInt32(truncatingIfNeeded: r[.CMDQ_CONS]), old = UInt32(truncatingIfNeeded: r[.CMDQ_PROD])
            let new = UInt32(truncatingIfNeeded: value)
            let after = g.count(prod: new, cons: cons), before = g.count(prod: old, cons: cons)
            if after > g.entries {
                return report("CMDQ_PROD \(hex(new)) is \(after) entries past CMDQ_CONS \(hex(cons)) in a queue of "
                    + "\(g.entries) (3.21.2: PROD not incremented and wrapped consistently)")
            }
            if after < before {
                return report("CMDQ_PROD moved back from \(hex(old)) to \(hex(new)) with CMDQ_CONS \(hex(cons)) "
                    + "(3.21.2: PROD not incremented and wrapped consistently)")
            }
        case .EVENTQ_CONS where cr0 & RegBits.EVTQEN != 0:
            return consumed("EVENTQ", r.geometry(.EVENTQ_BASE), prod: r[.EVENTQ_PROD], old: r[.EVENTQ_CONS],
                            new: value, report)
        case .PRIQ_CONS where cr0 & RegBits.PRIQEN != 0:
            return consumed("PRIQ", r.geometry(.PRIQ_BASE), prod: r[.PRIQ_PROD], old: r[.PRIQ_CONS],
                            new: value, report)
        case .GERRORN:
            let active = r[.GERROR] ^ r[.GERRORN]
            let toggled = (r[.GERRORN] ^ value) & r.layout[.GERRORN].writable
            if toggled & ~active != 0 {
                return report("GERRORN toggles \(hex(toggled & ~active)), errors that are not active "
                    + "(6.3.20: CONSTRAINED UNPREDICTABLE whether errors are activated)")
            }
        default:
            break
        }
        return nil
    }

    /// An output queue's CONS may only move forward, up to PROD (3.21.2).
    private static func consumed(_ name: String, _ g: QueueGeometry, prod: UInt64, old: UInt64, new: UInt64,
                                 _ report: (String) -> CheckReport) -> CheckReport? {
        let p = UInt32(truncatingIfNeeded: prod), o = UInt32(truncatingIfNeeded: old), n = UInt32(truncatingIfNeeded: new)
        // Entries left after the write must not exceed those before it.
        if g.count(prod: p, cons: n) > g.count(prod: p, cons: o) {
            return report("\(name)_CONS moved from \(hex(o & g.pointerMask)) to \(hex(n & g.pointerMask)) with "
                + "\(name)_PROD \(hex(p & g.pointerMask)): backwards or past PROD (3.21.2: queue contents UNKNOWN)")
        }
        return nil
    }

    /// Queue and stream-table registers software must write only while
    /// their enable (in CR0ACK) is 0, with the section that says so.
    private static let guardedByEnable: [SMMURegister: (enable: UInt64, name: String, section: String)] = [
        .CMDQ_BASE: (RegBits.CMDQEN, "CMDQEN", "6.3.26"),
        .CMDQ_CONS: (RegBits.CMDQEN, "CMDQEN", "6.3.28"),
        .EVENTQ_BASE: (RegBits.EVTQEN, "EVENTQEN", "6.3.29"),
        .EVENTQ_PROD: (RegBits.EVTQEN, "EVENTQEN", "6.3.95"),
        .PRIQ_BASE: (RegBits.PRIQEN, "PRIQEN", "6.3.33"),
        .PRIQ_PROD: (RegBits.PRIQEN, "PRIQEN", "6.3.97"),
        .STRTAB_BASE: (RegBits.SMMUEN, "SMMUEN", "6.3.24"),
        .STRTAB_BASE_CFG: (RegBits.SMMUEN, "SMMUEN", "6.3.25"),
    ]

    static func hex<T: BinaryInteger>(_ v: T) -> String { "0x" + String(v, radix: 16) }
}
