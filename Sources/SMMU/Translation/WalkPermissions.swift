/// Access permissions of leaf descriptors (Arm ARM, "Memory access control"
/// for VMSAv8-64; SMMUv3 CD.WXN/UWXN/PAN, 5.4).
enum WalkPermissions {
    private typealias D = PageTableDescriptor

    /// Stage 1 permissions of a block/page `descriptor` under the
    /// hierarchical limits in `tableAttributes` (the OR of the APTable,
    /// UXNTable, PXNTable bits of the tables walked through). `readOnly` is the
    /// effective AP[2] (the caller passes false to ask "what if the dirty
    /// state were set").
    static func stage1(descriptor: UInt64, tableAttributes: UInt64, readOnly: Bool,
                       regime: Stage1Regime) -> Permissions {
        var writable = !readOnly && tableAttributes & D.apTable1 == 0
        if regime.el2 {
            // One privilege level: AP[1] and APTable[0], PXN and PXNTable are
            // ignored; transactions of either privilege see the same rights.
            let xn = descriptor & D.uxn != 0 || tableAttributes & D.uxnTable != 0
                || (regime.wxn && writable)
            var p: Permissions = [.read, .privilegedRead]
            if writable { p.formUnion([.write, .privilegedWrite]) }
            if !xn { p.formUnion([.execute, .privilegedExecute]) }
            return p
        }
        let unprivileged = descriptor & D.ap1 != 0 && tableAttributes & D.apTable0 == 0
        var privilegedRead = true
        let unprivilegedWrite = unprivileged && writable
        // PAN: no privileged data access to what unprivileged code may access.
        if regime.pan && unprivileged { privilegedRead = false; writable = false }
        // UXN, plus WXN for what EL0 may write.
        let uxn = descriptor & D.uxn != 0 || tableAttributes & D.uxnTable != 0
            || (regime.wxn && unprivilegedWrite)
        // PXN, plus WXN, plus the VMSAv8-64 rule that EL0-writable memory is
        // never privileged-executable (which is why CD.UWXN is IGNORED for
        // VMSAv8-64 CDs, 5.4).
        let pxn = descriptor & D.pxn != 0 || tableAttributes & D.pxnTable != 0
            || unprivilegedWrite || (regime.wxn && writable)
        var p: Permissions = []
        if privilegedRead { p.insert(.privilegedRead) }
        if writable { p.insert(.privilegedWrite) }
        if unprivileged { p.insert(.read) }
        if unprivilegedWrite { p.insert(.write) }
        if !uxn { p.insert(.execute) }
        if !pxn { p.insert(.privilegedExecute) }
        return p
    }

    /// Stage 2 permissions: S2AP[0] read, S2AP[1] write (for any privilege),
    /// XN[1:0] in the FEAT_XNX encoding: 00 executable, 01 not at EL1
    /// (privileged), 10 never, 11 not at EL0 (unprivileged). `writable` is the
    /// effective S2AP[1].
    static func stage2(descriptor: UInt64, writable: Bool) -> Permissions {
        var p: Permissions = []
        if descriptor & D.s2apRead != 0 { p.formUnion([.read, .privilegedRead]) }
        if writable { p.formUnion([.write, .privilegedWrite]) }
        switch (descriptor >> D.s2xnShift) & 3 {
        case 0b00: p.formUnion([.execute, .privilegedExecute])
        case 0b01: p.insert(.execute)
        case 0b11: p.insert(.privilegedExecute)
        default: break
        }
        return p
    }

    /// The SMMU treats every write as Data (13.1.2), so an instruction write
    /// is checked as a data write.
    @inline(__always)
    static func normalized(_ access: AccessType) -> AccessType {
        access.contains(.write) ? access.subtracting(.instruction) : access
    }
}
