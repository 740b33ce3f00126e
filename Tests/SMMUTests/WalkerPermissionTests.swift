import Testing
@testable import SMMU

/// Stage-1 access permissions (Arm ARM VMSAv8-64 "Memory access control":
/// AP[2:1], UXN/PXN, hierarchical APTable/UXNTable/PXNTable, WXN; CD.PAN and
/// the single-privilege EL2 regime, SMMUv3 5.4). One 1GB block at level 1
/// (4KB granule, 39-bit input, L1 index 0) or, for hierarchical tests, a
/// table at L1 index 0 leading to a 2MB block at L2 index 0.
@Suite struct WalkerPermissionTests {
    static let base = ram0 + 0x10000
    static let cfg = Stage1TableConfig.s1(.size4K, bits: 39, base: base)
    static let user: AccessType = []
    static let priv: AccessType = [.privileged]

    /// Result of an access to VA 0x1234 through a block with `attributes`
    /// (and, with `table`, through a table descriptor carrying those bits).
    func access(_ attributes: UInt64, table: UInt64? = nil, _ access: AccessType,
                regime: (inout Stage1Regime) -> Void = { _ in }) -> Result<WalkResult, WalkFault> {
        let ram = WalkerRAM()
        if let table {
            ram[Self.base] = Desc.table(ram0 + 0x11000, table)
            ram[ram0 + 0x11000] = Desc.block(0x8000_0000, attributes)
        } else {
            ram[Self.base] = Desc.block(0x8000_0000, attributes)
        }
        return s1Walk(0x1234, Self.cfg, ram, access: access, regime: regime)
    }

    func allowed(_ attributes: UInt64, table: UInt64? = nil, _ a: AccessType,
                 regime: (inout Stage1Regime) -> Void = { _ in }) -> Bool {
        switch access(attributes, table: table, a, regime: regime) {
        case .success: return true
        case .failure(let f):
            // Every denial here is a stage-1 Permission fault, CLASS == IN.
            #expect(f.type == .F_PERMISSION && !f.stage2 && f.faultClass == .input)
            return false
        }
    }

    // AP[2:1] data access permissions, EL1&0 regime:
    // 00 priv RW / user none, 01 RW / RW, 10 priv RO / none, 11 RO / RO.
    @Test func accessPermissionMatrix() {
        let af = Desc.af, w = AccessType.write
        #expect(allowed(af | Desc.ap00, Self.priv))
        #expect(allowed(af | Desc.ap00, Self.priv.union(w)))
        #expect(!allowed(af | Desc.ap00, Self.user))
        #expect(!allowed(af | Desc.ap00, w))
        #expect(allowed(af | Desc.ap01, Self.user))
        #expect(allowed(af | Desc.ap01, w))
        #expect(allowed(af | Desc.ap01, Self.priv.union(w)))
        #expect(allowed(af | Desc.ap10, Self.priv))
        #expect(!allowed(af | Desc.ap10, Self.priv.union(w)))
        #expect(!allowed(af | Desc.ap10, Self.user))
        #expect(allowed(af | Desc.ap11, Self.user))
        #expect(allowed(af | Desc.ap11, Self.priv))
        #expect(!allowed(af | Desc.ap11, w))
        #expect(!allowed(af | Desc.ap11, Self.priv.union(w)))
    }

    // The reported permissions are what a TLB may cache. AP = 11, no XN:
    // read at both privileges, execute at both. AP = 01: everything but
    // privileged execute (EL0-writable memory is PXN in VMSAv8-64).
    @Test func reportedPermissions() {
        #expect(access(Desc.af | Desc.ap11, Self.user).value?.permissions
                == [.read, .privilegedRead, .execute, .privilegedExecute])
        #expect(access(Desc.af | Desc.ap01, Self.user).value?.permissions
                == [.read, .write, .privilegedRead, .privilegedWrite, .execute])
    }

    // UXN forbids unprivileged instruction fetches, PXN privileged ones;
    // AP = 00 with UXN = 0 is execute-only for unprivileged accesses.
    @Test func executeNever() {
        let ifetch: AccessType = [.instruction], pfetch: AccessType = [.instruction, .privileged]
        #expect(!allowed(Desc.af | Desc.ap11 | Desc.uxn, ifetch))
        #expect(allowed(Desc.af | Desc.ap11 | Desc.uxn, pfetch))
        #expect(!allowed(Desc.af | Desc.ap10 | Desc.pxn, pfetch))
        #expect(allowed(Desc.af | Desc.ap00 | Desc.pxn, ifetch))
        // EL0-writable (AP = 01) is never privileged-executable.
        #expect(!allowed(Desc.af | Desc.ap01, pfetch))
        #expect(allowed(Desc.af | Desc.ap01, ifetch))
    }

    // CD.WXN: instruction fetches from memory writable at that privilege fault.
    @Test func writeExecuteNever() {
        let pfetch: AccessType = [.instruction, .privileged], ifetch: AccessType = [.instruction]
        #expect(allowed(Desc.af | Desc.ap00, pfetch))
        #expect(!allowed(Desc.af | Desc.ap00, pfetch) { $0.wxn = true })
        #expect(allowed(Desc.af | Desc.ap10, pfetch) { $0.wxn = true })
        #expect(!allowed(Desc.af | Desc.ap01, ifetch) { $0.wxn = true })
        #expect(allowed(Desc.af | Desc.ap11, ifetch) { $0.wxn = true })
    }

    // Hierarchical attributes in table descriptors limit every later level:
    // APTable[1] removes write, APTable[0] removes unprivileged access,
    // UXNTable / PXNTable force execute-never.
    @Test func hierarchicalTableLimits() {
        let rw = Desc.af | Desc.ap01
        #expect(allowed(rw, table: 0, .write))
        #expect(!allowed(rw, table: Desc.apTableNoWrite, .write))
        #expect(!allowed(rw, table: Desc.apTableNoWrite, [.write, .privileged]))
        #expect(allowed(rw, table: Desc.apTableNoWrite, Self.user))
        #expect(!allowed(rw, table: Desc.apTableNoEL0, Self.user))
        #expect(allowed(rw, table: Desc.apTableNoEL0, [.privileged, .write]))
        #expect(!allowed(rw, table: Desc.uxnTable, [.instruction]))
        let privRW = Desc.af | Desc.ap00
        #expect(allowed(privRW, table: 0, [.instruction, .privileged]))
        #expect(!allowed(privRW, table: Desc.pxnTable, [.instruction, .privileged]))
    }

    // CD.HADx == 1 (IHI 0070 5.4 HAD0: "the APTable, PXNTable and
    // XNTable/UXNTable fields of table descriptors walked through CD.TTB0
    // become IGNORED"): the same tables no longer limit the leaf.
    @Test func hierarchicalAttributeDisableIgnoresTableLimits() {
        var had = Self.cfg
        had.hierarchicalAttributesDisabled = true
        let ram = WalkerRAM()
        ram[Self.base] = Desc.table(ram0 + 0x11000, Desc.apTableNoWrite | Desc.apTableNoEL0 | Desc.uxnTable)
        ram[ram0 + 0x11000] = Desc.block(0x8000_0000, Desc.af | Desc.ap01)
        #expect(s1Walk(0x1234, had, ram, access: .write).value != nil)
        #expect(s1Walk(0x1234, had, ram, access: [.instruction]).value != nil)
        #expect(s1Walk(0x1234, Self.cfg, ram, access: .write).fault?.type == .F_PERMISSION)
    }

    // Any-EL2 regime: one privilege level, so AP[1] is ignored and both
    // privileges get the same rights; XN is bit 54 and PXN (bit 53) is RES0.
    @Test func el2SinglePrivilegeRegime() {
        let el2: (inout Stage1Regime) -> Void = { $0.el2 = true }
        #expect(allowed(Desc.af | Desc.ap00, Self.user, regime: el2))
        #expect(allowed(Desc.af | Desc.ap00, .write, regime: el2))
        #expect(!allowed(Desc.af | Desc.ap10, .write, regime: el2))
        #expect(!allowed(Desc.af | Desc.ap00 | Desc.uxn, [.instruction, .privileged], regime: el2))
        #expect(allowed(Desc.af | Desc.ap10 | Desc.pxn, [.instruction, .privileged], regime: el2))
        #expect(!allowed(Desc.af | Desc.ap00, [.instruction], regime: { $0.el2 = true; $0.wxn = true }))
        #expect(access(Desc.af | Desc.ap10, Self.user, regime: el2).value?.permissions
                == [.read, .privilegedRead, .execute, .privilegedExecute])
    }

    // CD.PAN: privileged data accesses to memory that unprivileged accesses
    // may reach fault; unprivileged ones and privileged-only memory do not.
    @Test func privilegedAccessNever() {
        let pan: (inout Stage1Regime) -> Void = { $0.pan = true }
        #expect(!allowed(Desc.af | Desc.ap01, Self.priv, regime: pan))
        #expect(!allowed(Desc.af | Desc.ap11, Self.priv, regime: pan))
        #expect(allowed(Desc.af | Desc.ap01, Self.user, regime: pan))
        #expect(allowed(Desc.af | Desc.ap00, Self.priv, regime: pan))
    }

    // SMMUv3 13.1.2: incoming writes are Data even if marked Instruction, so
    // UXN does not stop a write.
    @Test func instructionWriteIsDataWrite() {
        #expect(allowed(Desc.af | Desc.ap01 | Desc.uxn, [.write, .instruction]))
    }
}
