import Testing
@testable import SMMU

/// Access flag and dirty state (Arm ARM "Hardware management of the Access
/// flag and dirty state"; SMMUv3 CD.HA/HD/AFFD 5.4, F_ACCESS 7.3.15).
/// One 4KB page: 39-bit input, VA 0x1_40C0_7123 -> L1 idx 5, L2 idx 6, L3 idx 7.
@Suite struct WalkerHTTUTests {
    static let l3Entry = ram0 + 0x12000 + 7 * 8
    static let va: UInt64 = 0x1_40C0_7123

    func ram(leaf: UInt64) -> WalkerRAM {
        let ram = WalkerRAM()
        ram[ram0 + 0x10000 + 5 * 8] = Desc.table(ram0 + 0x11000)
        ram[ram0 + 0x11000 + 6 * 8] = Desc.table(ram0 + 0x12000)
        ram[Self.l3Entry] = leaf
        return ram
    }
    func cfg(ha: Bool = false, hd: Bool = false, affd: Bool = false) -> Stage1TableConfig {
        .s1(.size4K, bits: 39, base: ram0 + 0x10000, ha: ha, hd: hd, affd: affd)
    }

    // AF == 0 without HA: F_ACCESS (stage 1, CLASS == IN) at the leaf level,
    // and the descriptor is left alone.
    @Test func accessFlagFault() {
        let leaf = Desc.page(0x5555_5000, Desc.ap01)
        let ram = ram(leaf: leaf)
        let f = s1Walk(Self.va, cfg(), ram).fault
        #expect(f?.type == .F_ACCESS)
        #expect(f?.level == 3)
        #expect(f?.stage2 == false)
        #expect(f?.faultClass == .input)
        #expect(ram[Self.l3Entry] == leaf)
    }

    // CD.AFFD == 1: AF is treated as 1, no fault, and nothing is written.
    @Test func accessFlagFaultDisabled() {
        let leaf = Desc.page(0x5555_5000, Desc.ap01)
        let ram = ram(leaf: leaf)
        #expect(s1Walk(Self.va, cfg(affd: true), ram).value?.outputAddress == 0x5555_5123)
        #expect(ram[Self.l3Entry] == leaf)
        #expect(ram.casAttempts == 0)
    }

    // CD.HA == 1: the SMMU sets AF in the descriptor (atomically) instead of
    // faulting; once set, no further update is made.
    @Test func hardwareAccessFlagUpdate() {
        let leaf = Desc.page(0x5555_5000, Desc.ap01)
        let ram = ram(leaf: leaf)
        #expect(s1Walk(Self.va, cfg(ha: true), ram).value?.outputAddress == 0x5555_5123)
        #expect(ram[Self.l3Entry] == leaf | (1 << 10))
        #expect(ram.casAttempts == 1)
        _ = s1Walk(Self.va, cfg(ha: true), ram)
        #expect(ram.casAttempts == 1)
    }

    // Writable-clean page (DBM = 1, AP[2] = 1) with CD.HD: a read leaves it
    // clean and reports it read-only; a write clears AP[2] (makes it dirty)
    // and reports it writable.
    @Test func dirtyStateUpdate() {
        let leaf = Desc.page(0x5555_5000, Desc.ap11 | Desc.af | Desc.dbm)
        let ram = ram(leaf: leaf)
        let read = s1Walk(Self.va, cfg(ha: true, hd: true), ram).value
        #expect(read?.permissions.contains(.write) == false)
        #expect(ram[Self.l3Entry] == leaf)
        let write = s1Walk(Self.va, cfg(ha: true, hd: true), ram, access: .write).value
        #expect(write?.outputAddress == 0x5555_5123)
        #expect(write?.permissions.contains(.write) == true)
        #expect(ram[Self.l3Entry] == leaf & ~(1 << 7))
    }

    // AF == 0 and a write to a writable-clean page: one update sets AF and clears AP[2].
    @Test func accessAndDirtyInOneUpdate() {
        let leaf = Desc.page(0x5555_5000, Desc.ap11 | Desc.dbm)
        let ram = ram(leaf: leaf)
        #expect(s1Walk(Self.va, cfg(ha: true, hd: true), ram, access: .write).value != nil)
        #expect(ram[Self.l3Entry] == (leaf | (1 << 10)) & ~(1 << 7))
        #expect(ram.casAttempts == 1)
    }

    // Without HD, DBM has no effect: writing a read-only page is a Permission fault.
    // With HD, the hierarchical write limit (APTable[1]) and AP[1] still apply.
    @Test func dirtyStateNeedsHDAndOtherwisePermittedWrite() {
        let clean = Desc.page(0x5555_5000, Desc.ap11 | Desc.af | Desc.dbm)
        let ram1 = ram(leaf: clean)
        #expect(s1Walk(Self.va, cfg(ha: true), ram1, access: .write).fault?.type == .F_PERMISSION)
        #expect(ram1[Self.l3Entry] == clean)

        // {HD, HA} = 0b10 is reserved and behaves as 0b00 (CD.HA, 5.4).
        #expect(s1Walk(Self.va, cfg(hd: true), ram1, access: .write).fault?.type == .F_PERMISSION)
        #expect(ram1[Self.l3Entry] == clean)

        let ram2 = ram(leaf: clean)
        ram2[ram0 + 0x11000 + 6 * 8] = Desc.table(ram0 + 0x12000, Desc.apTableNoWrite)
        #expect(s1Walk(Self.va, cfg(ha: true, hd: true), ram2, access: .write).fault?.type == .F_PERMISSION)
        #expect(ram2[Self.l3Entry] == clean)

        // AP = 10 (privileged read-only) + DBM: an unprivileged write is not
        // permitted even when dirty.
        let privClean = Desc.page(0x5555_5000, Desc.ap10 | Desc.af | Desc.dbm)
        let ram3 = ram(leaf: privClean)
        #expect(s1Walk(Self.va, cfg(ha: true, hd: true), ram3, access: .write).fault?.type == .F_PERMISSION)
        #expect(s1Walk(Self.va, cfg(ha: true, hd: true), ram3, access: [.write, .privileged]).value != nil)
        #expect(ram3[Self.l3Entry] == privClean & ~(1 << 7))
    }

    // A CAS that loses a race (the guest rewrote the descriptor, here setting
    // software bit 56) makes the walk start again on the new value.
    @Test func updateRetriesAfterLostRace() {
        let leaf = Desc.page(0x5555_5000, Desc.ap01)
        let ram = ram(leaf: leaf)
        var raced = false
        ram.beforeCAS = { [unowned ram] address in
            if !raced { raced = true; ram[address] = ram[address] | (1 << 56) }
        }
        #expect(s1Walk(Self.va, cfg(ha: true), ram).value?.outputAddress == 0x5555_5123)
        #expect(ram[Self.l3Entry] == leaf | (1 << 56) | (1 << 10))
        #expect(ram.casAttempts == 2)
        #expect(ram.reads == 6)   // two full 3-level walks
    }

    // A descriptor rewritten before every CAS cannot livelock the walker: it
    // gives up after PageTableWalker.maxUpdateAttempts with the fault the
    // access would have had without hardware update.
    @Test func updateRetriesAreBounded() {
        let ram = ram(leaf: Desc.page(0x5555_5000, Desc.ap01))
        ram.beforeCAS = { [unowned ram] address in ram[address] = ram[address] ^ (1 << 56) }
        #expect(s1Walk(Self.va, cfg(ha: true), ram).fault?.type == .F_ACCESS)
        #expect(ram.casAttempts == PageTableWalker.maxUpdateAttempts)
    }

    // An aborted update (F_WALK_EABT says "fetching (or updating)", 7.3.12)
    // reports the descriptor's PA.
    @Test func abortedUpdateIsWalkExternalAbort() {
        let ram = ram(leaf: Desc.page(0x5555_5000, Desc.ap01))
        ram.casAborts = true
        let f = s1Walk(Self.va, cfg(ha: true), ram).fault
        #expect(f?.type == .F_WALK_EABT)
        #expect(f?.fetchAddress == PhysicalAddress(Self.l3Entry))
        #expect(f?.faultClass == .tableWalk)
    }
}
