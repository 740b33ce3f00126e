import Testing
@testable import SMMU

/// Check mode (docs/checker.md): for each rule a driver sequence that breaks
/// it, reported once with the stream, substream, address space and address
/// involved, and the sequence Linux uses instead, reported not at all.
/// The rules are IHI 0070's: 3.21.1 (TLB invalidation), 3.21.3 and 3.21.3.1
/// (configuration invalidation, updates of live structures), chapter 8
/// (Stop Marker, 8.2), 3.9.1 and 4.5.1 (ATC invalidation after TLB
/// invalidation), 3.21.2 and 6.3 (queues and guarded registers).
struct CheckerTests {
    let sid = PASIDTests.sid, va = PASIDTests.va

    /// PASIDTests' linear machine (PASID 1 -> ASID 11, PASID 2 -> ASID 12,
    /// one CD table at base + 0x30_0000) with check mode on.
    func machine(eats: STE.EATS = .off) throws -> (PASIDTests.TwoPASIDs, cd: (UInt32) -> UInt64) {
        let d = try LinuxLikeDriver(check: true)
        #expect(d.reset())
        if eats != .off { d.registerEndpoint(sid) }
        let table = d.ram.base + 0x30_0000
        let m = PASIDTests.twoPASIDs(d, ste: STEWords.stage1(cdPointer: table, cdMax: 4, eats: eats),
                                     cdOf: { table + UInt64($0) * 64 }, pasids: (1, 2))
        return (m, { table + UInt64($0) * 64 })
    }

    func dma(_ d: LinuxLikeDriver, ssid: UInt32, _ address: UInt64) -> UInt64? {
        PASIDTests.outputAddress(d, ssid: ssid, address)
    }

    // MARK: tlbi (3.21.1)

    /// A PTE cleared, then a TLBI of the wrong page of the same ASID: after
    /// the CMD_SYNC the stale entry still translates, which is the report.
    /// Before any TLBI of the ASID a use is not yet a violation (the
    /// driver, or the CPU's mm, may not have queued it yet while another
    /// CPU's CMD_SYNC completes).
    @Test func staleTLBEntryUsedAfterTLBIOfAnotherPageIsReported() throws {
        let (m, _) = try machine()
        let d = m.d
        let pa = m.pa[1]!
        #expect(dma(d, ssid: 1, va | 0x678) == pa | 0x678)
        m.tables[1]!.unmap(va)
        #expect(d.submit([]))
        #expect(dma(d, ssid: 1, va | 0x678) == pa | 0x678)
        #expect(d.takeCheckReports().isEmpty)

        #expect(d.submit([DriverCmd.tlbiNHVA(asid: 11, address: va + 0x1000)]))
        #expect(d.takeCheckReports().isEmpty)
        #expect(dma(d, ssid: 1, va | 0x678) == pa | 0x678)
        let reports = d.takeCheckReports()
        #expect(reports.count == 1)
        let r = try #require(reports.first)
        #expect(r.rule == .tlbInvalidation)
        #expect(r.streamID == sid && r.substreamID == 1 && r.asid == 11)
        #expect(r.address == va | 0x678)
        #expect(r.observed.contains("F_TRANSLATION"))
        // Reported once, not at every use.
        #expect(dma(d, ssid: 1, va | 0x678) == pa | 0x678)
        #expect(d.takeCheckReports().isEmpty)
    }

    /// A page remapped to another page without a TLBI, found at a CMD_SYNC
    /// after a TLBI of another page of the ASID: reported with both addresses.
    @Test func remappedPageWithoutTLBIIsReported() throws {
        let (m, _) = try machine()
        let d = m.d
        let pa = m.pa[1]!, other = m.pa[2]!
        #expect(dma(d, ssid: 1, va) == pa)
        m.tables[1]!.map(va, to: other)
        #expect(d.submit([DriverCmd.tlbiNHVA(asid: 11, address: va + 0x2000)]))
        #expect(d.submit([DriverCmd.tlbiNHVA(asid: 11, address: va + 0x3000)]))
        #expect(dma(d, ssid: 1, va) == pa)
        let reports = d.takeCheckReports()
        #expect(reports.map(\.rule) == [.tlbInvalidation])
        #expect(reports.first?.observed.contains(String(other, radix: 16)) == true)
    }

    /// Linux: clear the PTE, TLBI the page, CMD_SYNC. Nothing to report,
    /// also for a use between the PTE write and the TLBI.
    @Test func unmapWithTLBIAndSyncIsClean() throws {
        let (m, _) = try machine()
        let d = m.d
        #expect(dma(d, ssid: 1, va) == m.pa[1]!)
        m.tables[1]!.unmap(va)
        #expect(dma(d, ssid: 1, va) == m.pa[1]!)
        #expect(d.submit([DriverCmd.tlbiNHVA(asid: 11, address: va)]))
        #expect(dma(d, ssid: 1, va) == nil)
        #expect(d.takeCheckReports().isEmpty)
    }

    /// An access flag cleared without a TLBI is allowed (the entry may stay
    /// "young"): not a change.
    @Test func accessFlagClearedIsNotAChange() throws {
        let (m, _) = try machine()
        let d = m.d
        #expect(dma(d, ssid: 1, va) == m.pa[1]!)
        m.tables[1]!.map(va, to: m.pa[1]!, attrs: PT4K.innerShareable | PT4K.apEL0 | PT4K.uxn | PT4K.nG)
        #expect(d.submit([DriverCmd.tlbiNHVA(asid: 11, address: va + 0x1000)]))
        #expect(d.submit([]))
        #expect(dma(d, ssid: 1, va) == m.pa[1]!)
        #expect(d.takeCheckReports().isEmpty)
    }

    // MARK: table-reuse (3.21.1)

    /// The level-2 descriptor that points at `va`'s last-level table, and
    /// that table (Stage1Tables' 4-level, 4 KiB layout).
    func leafTable(_ d: LinuxLikeDriver, _ t: Stage1Tables, _ va: UInt64) -> (parentSlot: UInt64, table: UInt64) {
        var table = t.root
        var slot: UInt64 = 0
        for level in 0..<3 {
            slot = table + PT4K.index(va, level: level) * 8
            table = d.ram.read64(slot) & 0x0000_FFFF_FFFF_F000
        }
        return (slot, table)
    }

    /// The last-level table of `va` unlinked and, before the TLBI, its page
    /// reused as another table (the slot now maps elsewhere): reported at
    /// the TLBI that releases the cached walk.
    @Test func tablePageReusedBeforeTheTLBIIsReported() throws {
        let (m, _) = try machine()
        let d = m.d
        #expect(dma(d, ssid: 1, va) == m.pa[1]!)
        let (parent, table) = leafTable(d, m.tables[1]!, va)
        d.ram.write64(parent, 0)
        d.ram.write64(table + PT4K.index(va, level: 3) * 8,
                      PT4K.pageDescriptor(m.pa[2]!, PT4K.af | PT4K.innerShareable | PT4K.apEL0 | PT4K.nG))
        #expect(d.submit([DriverCmd.tlbiNHVA(asid: 11, address: va, leaf: false)]))
        let reports = d.takeCheckReports()
        #expect(reports.map(\.rule) == [.tablePageReuse])
        #expect(reports.first.map { $0.streamID == sid && $0.substreamID == 1 && $0.asid == 11 && $0.address == va }
                == true)
    }

    /// Linux: unlink, TLBI + CMD_SYNC, then free and reuse the page.
    @Test func tablePageReusedAfterTheTLBIIsClean() throws {
        let (m, _) = try machine()
        let d = m.d
        #expect(dma(d, ssid: 1, va) == m.pa[1]!)
        let (parent, table) = leafTable(d, m.tables[1]!, va)
        d.ram.write64(parent, 0)
        #expect(d.submit([DriverCmd.tlbiNHVA(asid: 11, address: va, leaf: false)]))
        d.ram.write64(table + PT4K.index(va, level: 3) * 8,
                      PT4K.pageDescriptor(m.pa[2]!, PT4K.af | PT4K.innerShareable | PT4K.apEL0 | PT4K.nG))
        #expect(d.submit([DriverCmd.tlbiNHVA(asid: 11, address: va, leaf: false)]))
        #expect(dma(d, ssid: 1, va) == nil)
        #expect(d.takeCheckReports().isEmpty)
    }

    // MARK: cfgi (3.21.3)

    /// A live CD pointed at another address space, then a CFGI_CD of the
    /// stream's other PASID and no CFGI_CD of this one: the cached CD used
    /// after that CMD_SYNC is the report. Before the driver invalidates
    /// anything of the stream, a use is not yet one (its CFGI may not be
    /// queued yet while another CPU's CMD_SYNC completes).
    @Test func cachedCDUsedAfterChangeWithoutCFGIIsReported() throws {
        let (m, cd) = try machine()
        let d = m.d
        #expect(dma(d, ssid: 1, va) == m.pa[1]!)
        d.ram.writeWords(cd(1), CDWords.linux(asid: 13, ttb0: m.tables[2]!.root))
        #expect(d.submit([]))
        #expect(dma(d, ssid: 1, va) == m.pa[1]!)
        #expect(d.takeCheckReports().isEmpty)
        #expect(d.submit([DriverCmd.cfgiCD(sid, ssid: 2)]))
        #expect(dma(d, ssid: 1, va) == m.pa[1]!)
        let reports = d.takeCheckReports()
        #expect(reports.map(\.rule) == [.configInvalidation])
        #expect(reports.first.map { $0.streamID == sid && $0.substreamID == 1 && $0.asid == 11 } == true)
        #expect(reports.first?.observed.contains("ASID=13") == true)
        // The late CFGI_CD: the state the driver left through two CMD_SYNCs
        // is not also a torn update.
        #expect(d.submit([DriverCmd.cfgiCD(sid, ssid: 1)]))
        #expect(d.takeCheckReports().isEmpty)
    }

    @Test func cdChangeWithCFGIIsClean() throws {
        let (m, cd) = try machine()
        let d = m.d
        #expect(dma(d, ssid: 1, va) == m.pa[1]!)
        d.ram.writeWords(cd(1), CDWords.linux(asid: 13, ttb0: m.tables[2]!.root))
        #expect(d.submit([DriverCmd.cfgiCD(sid, ssid: 1)]))
        #expect(dma(d, ssid: 1, va) == m.pa[2]!)
        #expect(d.takeCheckReports().isEmpty)
    }

    // MARK: hitless (3.21.3, 3.21.3.1)

    /// ASID (word 0) and TTB0 (word 1) of a live CD written one after the
    /// other with an SMMU fetch in between: the CD was seen with the new
    /// tables under the old ASID, neither configuration.
    @Test func tornLiveCDUpdateIsReported() throws {
        let (m, cd) = try machine()
        let d = m.d
        #expect(dma(d, ssid: 1, va) == m.pa[1]!)
        let new = CDWords.linux(asid: 13, ttb0: m.tables[2]!.root)
        d.ram.write64(cd(1) + 8, new[1])
        #expect(d.submit([]))          // another CPU's CMD_SYNC: the SMMU may fetch now
        d.ram.write64(cd(1), new[0])
        #expect(d.submit([DriverCmd.cfgiCD(sid, ssid: 1)]))
        let reports = d.takeCheckReports()
        #expect(reports.map(\.rule) == [.hitlessUpdate])
        #expect(reports.first.map { $0.streamID == sid && $0.substreamID == 1 } == true)
        #expect(reports.first?.observed.contains("ASID=11") == true)
    }

    /// Linux's update when two 64-bit words must change (arm_smmu_write_entry):
    /// V = 0 first, invalidate, the other words, invalidate, word 0 with V,
    /// invalidate; SMMU fetches in every window.
    @Test func breakBeforeMakeCDUpdateIsClean() throws {
        let (m, cd) = try machine()
        let d = m.d
        #expect(dma(d, ssid: 1, va) == m.pa[1]!)
        var old0 = d.ram.read64(cd(1))
        old0 &= ~(UInt64(1) << 31)          // CD.V, bit 31
        let new = CDWords.linux(asid: 13, ttb0: m.tables[2]!.root)
        d.ram.write64(cd(1), old0)
        #expect(d.submit([]))
        #expect(d.submit([DriverCmd.cfgiCD(sid, ssid: 1)]))
        for i in 1..<8 { d.ram.write64(cd(1) + UInt64(i) * 8, new[i]) }
        #expect(d.submit([]))
        #expect(d.submit([DriverCmd.cfgiCD(sid, ssid: 1)]))
        d.ram.write64(cd(1), new[0])
        #expect(d.submit([DriverCmd.cfgiCD(sid, ssid: 1)]))
        #expect(dma(d, ssid: 1, va) == m.pa[2]!)
        #expect(d.takeCheckReports().isEmpty)
    }

    // MARK: pasid-reuse (chapter 8)

    func pageRequest(_ d: LinuxLikeDriver, ssid: UInt32, last: Bool, prg: UInt16, stop: Bool = false) {
        let r = PageRequest(streamID: sid, substreamID: ssid, address: stop ? 0 : InputAddress(va), read: !stop,
                            write: false, last: last, prgIndex: prg)
        #expect(d.smmu.pageRequest(r) == .queued)
    }

    /// PASID 1 given another address space while its page request is
    /// still in the PRI queue.
    @Test func pasidReusedWithRequestInQueueIsReported() throws {
        let (m, cd) = try machine()
        let d = m.d
        #expect(dma(d, ssid: 1, va) == m.pa[1]!)
        pageRequest(d, ssid: 1, last: true, prg: 5)
        d.ram.writeWords(cd(1), CDWords.linux(asid: 13, ttb0: m.tables[2]!.root))
        #expect(d.submit([DriverCmd.cfgiCD(sid, ssid: 1)]))
        let reports = d.takeCheckReports()
        #expect(reports.map(\.rule) == [.pasidReuse])
        #expect(reports.first.map { $0.streamID == sid && $0.substreamID == 1 && $0.asid == 13 } == true)
        #expect(reports.first?.observed.contains("still in the PRI queue") == true)
    }

    /// Drained but never answered: still outstanding.
    @Test func pasidReusedWithGroupUnansweredIsReported() throws {
        let (m, cd) = try machine()
        let d = m.d
        #expect(dma(d, ssid: 1, va) == m.pa[1]!)
        pageRequest(d, ssid: 1, last: true, prg: 5)
        #expect(d.drainPRI().count == 1)
        d.ram.writeWords(cd(1), CDWords.linux(asid: 13, ttb0: m.tables[2]!.root))
        #expect(d.submit([DriverCmd.cfgiCD(sid, ssid: 1)]))
        let reports = d.takeCheckReports()
        #expect(reports.map(\.rule) == [.pasidReuse])
        #expect(reports.first?.observed.contains("group(s) 5 not answered") == true)
    }

    /// Drained and answered, and an open group closed by the stop marker:
    /// the PASID is free to reuse.
    @Test func pasidReusedAfterDrainResponseAndStopMarkerIsClean() throws {
        let (m, cd) = try machine()
        let d = m.d
        #expect(dma(d, ssid: 1, va) == m.pa[1]!)
        pageRequest(d, ssid: 1, last: true, prg: 5)
        pageRequest(d, ssid: 1, last: false, prg: 6)
        pageRequest(d, ssid: 1, last: true, prg: 0, stop: true)
        #expect(d.drainPRI().count == 3)
        #expect(d.submit([DriverCmd.priResp(sid: sid, ssid: 1, prgIndex: 5, resp: .invalidRequest)]))
        d.ram.writeWords(cd(1), CDWords.linux(asid: 13, ttb0: m.tables[2]!.root))
        #expect(d.submit([DriverCmd.cfgiCD(sid, ssid: 1)]))
        #expect(d.takeCheckReports().isEmpty)
    }

    // MARK: atc-inv (3.9.1, 4.5.1)

    func atsRequest(_ d: LinuxLikeDriver, ssid: UInt32, _ address: UInt64) -> Bool {
        if case .translated = d.smmu.translate(TranslationRequest(streamID: sid, substreamID: ssid,
                                                                  address: InputAddress(address), ats: true)) {
            return true
        }
        return false
    }

    /// The endpoint got a translation by ATS; the page is unmapped and the
    /// TLB invalidated, then the driver invalidates another page of the
    /// endpoint's ATC and not this one. Until an ATC_INV of the stream
    /// comes, later CMD_SYNCs are not yet a violation.
    @Test func unmapWithoutATCInvalidationIsReported() throws {
        let (m, _) = try machine(eats: .full)
        let d = m.d
        #expect(atsRequest(d, ssid: 1, va))
        m.tables[1]!.unmap(va)
        #expect(d.submit([DriverCmd.tlbiNHVA(asid: 11, address: va)]))
        #expect(d.submit([]))
        #expect(d.takeCheckReports().isEmpty)
        #expect(d.submit([DriverCmd.atcInv(sid: sid, ssid: 1, address: va + 0x10_0000, size: 0)]))
        let reports = d.takeCheckReports()
        #expect(reports.map(\.rule) == [.atcInvalidation])
        #expect(reports.first.map { $0.streamID == sid && $0.substreamID == 1 && $0.address == va } == true)
    }

    /// Linux: TLBI + CMD_SYNC, then CMD_ATC_INV + CMD_SYNC.
    @Test func unmapWithATCInvalidationIsClean() throws {
        let (m, _) = try machine(eats: .full)
        let d = m.d
        #expect(atsRequest(d, ssid: 1, va))
        m.tables[1]!.unmap(va)
        #expect(d.submit([DriverCmd.tlbiNHVA(asid: 11, address: va)]))
        #expect(d.submit([DriverCmd.atcInv(sid: sid, ssid: 1, address: va, size: 0)]))
        #expect(d.submit([]))
        #expect(d.takeCheckReports().isEmpty)
    }

    // MARK: queue (3.21.2, 4.7.3, 6.3)

    @Test func registerProtocolViolationsAreReported() throws {
        let d = try LinuxLikeDriver(check: true)
        #expect(d.reset())
        #expect(d.takeCheckReports().isEmpty)

        d.write64(Reg.CMDQ_BASE, d.cmdq | 4)
        d.write32(Reg.GERRORN, 1 << 2)
        d.write32(Reg.STRTAB_BASE_CFG, 4)
        let reports = d.takeCheckReports()
        #expect(reports.map(\.rule) == [.queueProtocol, .queueProtocol, .queueProtocol])
        #expect(reports.map(\.address) == [Reg.CMDQ_BASE, Reg.GERRORN, Reg.STRTAB_BASE_CFG])
        #expect(reports[0].observed.contains("6.3.26"))
        #expect(reports[1].observed.contains("6.3.20"))
    }

    /// PROD more than a queue's worth past CONS.
    @Test func commandQueueProducerPastConsumerIsReported() throws {
        let d = try LinuxLikeDriver(check: true)
        #expect(d.reset())
        let cons = UInt64(d.read32(Reg.CMDQ_CONS))
        let entries = UInt64(1) << UInt64(d.read32(Reg.CMDQ_BASE) & 0x1F)
        // One past "full": the index one beyond CONS with the wrap bit flipped.
        d.write32(Reg.CMDQ_PROD, (cons ^ entries) + 1)
        let reports = d.takeCheckReports()
        #expect(reports.map(\.rule) == [.queueProtocol])
        #expect(reports.first?.observed.contains("past CMDQ_CONS") == true)
    }

    /// A CMD_SYNC whose completion MSI points at no memory.
    @Test func syncMSIOutsideMemoryIsReported() throws {
        let d = try LinuxLikeDriver(check: true)
        #expect(d.reset())
        let slot = d.cmdq + 0x800
        d.ram.writeWords(slot, DriverCmd.sync(cs: .sigIRQ, msiData: 1, msiAddress: 0x1000))
        let prod = UInt64(d.read32(Reg.CMDQ_PROD))
        let cons = UInt64(d.read32(Reg.CMDQ_CONS))
        #expect(prod == cons)
        d.ram.writeWords(d.cmdq + (prod & 0xFF) * 16, DriverCmd.sync(cs: .sigIRQ, msiData: 1, msiAddress: 0x1000))
        if d.smmu.write(offset: Reg.CMDQ_PROD, size: 4, value: prod + 1).contains(.commandsPending) {
            d.smmu.processCommands()
        }
        let reports = d.takeCheckReports()
        #expect(reports.map(\.rule) == [.queueProtocol])
        #expect(reports.first?.address == 0x1000)
    }

    // MARK: the interface

    @Test func rulesParseFromTheCommandLineForm() throws {
        #expect(try CheckRule.parse("all") == Set(CheckRule.allCases))
        #expect(try CheckRule.parse("tlbi,cfgi") == [.tlbInvalidation, .configInvalidation])
        #expect(throws: CheckRule.UnknownRule.self) { try CheckRule.parse("tlbi,bogus") }
    }

    @Test func reportIsOneJSONObjectPerLine() {
        let r = CheckReport(rule: .configInvalidation, streamID: 3, substreamID: 1, asid: 11, address: 0x1000,
                            commandIndex: 7, observed: "a \"quoted\"\nline")
        #expect(r.jsonLine == #"{"rule":"cfgi","section":"3.21.3","title":"missing configuration invalidation","#
                + #""sid":3,"ssid":1,"asid":11,"address":"0x1000","cmdq_index":7,"observed":"a \"quoted\"\nline"}"#)
    }

    /// Only the rules asked for are checked; past the per-rule bound
    /// reports are counted, not passed on.
    @Test func onlyChosenRulesReportAndReportsAreBounded() throws {
        let seen = Shared<[CheckReport]>([])
        let ram = TestRAM()
        let host = DriverHost()
        host.ram = ram
        let smmu = try SMMUv3(memory: ram.memory, host: host,
                              checking: CheckOptions(rules: [.queueProtocol], reportsPerRule: 2) { r in
                                  seen.update { $0.append(r) }
                              })
        for _ in 0..<5 {
            _ = smmu.write(offset: Reg.GERRORN, size: 4, value: 1 << 2)
            _ = smmu.write(offset: Reg.GERRORN, size: 4, value: 0)
        }
        // Each first write toggles an inactive error (reported); the second
        // toggles back what GERROR ^ GERRORN now shows as active.
        #expect(seen.value.count == 2)
        #expect(smmu.checkSummary?.counts[.queueProtocol] == 5)
        #expect(smmu.checkSummary?.line(rules: [.queueProtocol]) == "queue=5")
    }
}
