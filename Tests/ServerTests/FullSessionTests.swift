import CVSMMU
import SMMU
import Testing
import VSMMUServer
#if canImport(Glibc)
import Glibc
#endif

/// Whole sessions over the socket as Linux and QEMU drive them. They need
/// the model's register file and queues, so they run once those are merged.
@Suite("Full session", .serialized, .enabled(if: ModelProbe.registerFileImplemented))
struct FullSessionTests {
    static let asid: UInt16 = 7

    /// A 4-level, 4 KiB-granule stage-1 table mapping one page `iova` -> `pa`
    /// (VMSAv8-64 descriptors: table = next | 0b11; page = pa | AF | SH=ISH | AP[1]=EL0 | 0b11).
    static func mapPage(_ f: LinuxFrontEnd, iova: UInt64, pa: UInt64) -> UInt64 {
        let tables = (0..<4).map { f.ram.base + 0x31_0000 + UInt64($0) * 0x1000 }
        for level in 0..<3 {
            let index = (iova >> UInt64(39 - 9 * level)) & 0x1FF
            f.ram.write64(tables[level] + index * 8, tables[level + 1] | 0b11)
        }
        let index = (iova >> 12) & 0x1FF
        // AF, SH inner, AP[1]=1 (EL0), nG (io-pgtable-arm sets it on stage-1 leaves).
        f.ram.write64(tables[3] + index * 8, pa | 1 << 11 | 1 << 10 | 3 << 8 | 1 << 6 | 0b11)
        return tables[0]
    }

    /// Stage-1 STE (5.2): V, Config=0b101, S1ContextPtr; word 1 S1CIR/S1COR=WBRA, S1CSH=ISH.
    static func stage1STE(cd: UInt64) -> [UInt64] {
        [1 | 0b101 << 1 | (cd & 0x000F_FFFF_FFFF_FFC0), 1 << 2 | 1 << 4 | 3 << 6]
    }

    /// CD (5.4): T0SZ=16, TG0=4K, IR0/OR0=WBRA, SH0=ISH, EPD1, V, IPS=48 bits,
    /// AA64, R, A, ASET, ASID; TTB0; MAIR attr 0 = normal WB.
    static func cd(ttb0: UInt64) -> [UInt64] {
        let w0: UInt64 = 16 | 1 << 8 | 1 << 10 | 3 << 12 | 1 << 30 | 1 << 31 | 0b101 << 32
            | 1 << 41 | 1 << 45 | 1 << 46 | 1 << 47 | UInt64(asid) << 48
        return [w0, ttb0 & 0x000F_FFFF_FFFF_FFF0, 0, 0xFF, 0, 0, 0, 0]
    }

    @Test func linuxBringUpTranslateFaultSyncAndTLBI() throws {
        let f = try LinuxFrontEnd()
        let c = f.client
        // IDRs as Linux's probe checks them.
        var r = WireReader(try c.request(.getConfig).payload)
        let cfg = WireConfig(&r)
        #expect(cfg.idr[0] & 0b11 != 0)                            // S1P or S2P
        #expect((cfg.idr[0] >> 2) & 0b11 & 0b10 != 0)              // TTF includes AArch64
        #expect(cfg.idr[0] & 1 << 13 != 0)                         // MSI
        #expect((cfg.idr[1] >> 21) & 0x1F > 6)                     // CMDQS
        #expect(cfg.idr[1] >> 28 & 0b111 == 0)                     // REL, QUEUES_PRESET, TABLES_PRESET

        #expect(try f.reset())
        // Bring-up invalidates everything, but the front end holds no
        // translation yet: no message, and the CMD_SYNCs complete without a
        // SYNC round trip (docs/protocol.md, "Round trips").
        #expect(!f.backend.log.contains { $0.header.request == BackRequest.invalidate.rawValue })
        #expect(!f.backend.log.contains { $0.header.request == BackRequest.sync.rawValue })

        // Bypass STE: the identity.
        f.writeSTE(sid: 8, [1 | 0b100 << 1])
        #expect(try f.submitAndWait([SMMUCmd.cfgiSTE(8)]))
        let bypass = try c.translate(sid: 8, iova: 0x1234_5678, flags: 1 << 1)
        #expect(bypass.status == 0)
        let bmask = bypass.sizeLog2 >= 64 ? ~UInt64(0) : (UInt64(1) << bypass.sizeLog2) - 1
        #expect(bypass.paBase | (0x1234_5678 & bmask) == 0x1234_5678)
        #expect(bypass.tags & 1 << 2 != 0)

        // Stage 1: one page.
        let iova: UInt64 = 0x1000_0000, pa = f.ram.base + 0x40_0000
        let pgd = FullSessionTests.mapPage(f, iova: iova, pa: pa)
        let cdAddr = f.ram.base + 0x30_0000
        f.ram.writeWords(cdAddr, FullSessionTests.cd(ttb0: pgd))
        f.writeSTE(sid: 9, FullSessionTests.stage1STE(cd: cdAddr))
        #expect(try f.submitAndWait([SMMUCmd.cfgiSTE(9)]))
        let t = try c.translate(sid: 9, iova: iova + 0x123, flags: 1 << 1)
        #expect(t.status == 0)
        #expect(t.sizeLog2 == 12 && t.iovaBase == iova && t.paBase == pa)
        #expect(t.tags & 1 != 0 && t.asid == FullSessionTests.asid)
        #expect(t.perm & 0b11 == 0b11)

        // Unmapped IOVA: fault, F_TRANSLATION, recorded in the event queue.
        let mask: UInt64 = (1 << f.eventqLog2) - 1
        let prodBefore = try c.mmioRead(SMMUReg.EVENTQ_PROD) & ((mask << 1) | 1)
        let fault = try c.translate(sid: 9, iova: 0x2000_0000)
        #expect(fault.status == 1 && fault.event == 0x10)
        let prod = try c.mmioRead(SMMUReg.EVENTQ_PROD) & ((mask << 1) | 1)
        #expect(prod == (prodBefore + 1) & ((mask << 1) | 1))
        let slot = f.eventq + (prodBefore & mask) * 32
        let record = f.ram.read64(slot)
        #expect(record & 0xFF == 0x10 && record >> 32 == 9)
        #expect(f.ram.read64(slot + 16) & ~0xFFF == 0x2000_0000)   // InputAddr
        #expect(f.backend.wait { log in
            log.contains { $0.header.request == BackRequest.irq.rawValue && $0.payload == [0, 0, 0, 0] }
        })

        // TLBI + SYNC: INVALIDATE on the backend channel, then SYNC, then the MSI in RAM.
        let before = f.backend.log.count
        let syncSlot = try f.submit([SMMUCmd.tlbiNHVA(asid: FullSessionTests.asid, address: iova)])
        #expect(f.waitForSync(syncSlot))
        let after = Array(f.backend.log.dropFirst(before))
        let inv = after.firstIndex { $0.header.request == BackRequest.invalidate.rawValue }
        let sync = after.firstIndex { $0.header.request == BackRequest.sync.rawValue }
        #expect(inv != nil && sync != nil && inv! < sync!)
        if let inv {
            var rr = WireReader(after[inv].payload)
            let m = WireInvalidate(&rr)
            #expect(m.kind == 4 && m.flags & 1 != 0 && m.asid == FullSessionTests.asid)
            #expect(m.addr <= iova && iova < m.addr &+ max(m.size, 1))
        }
        // The MSI went to RAM directly: no MSI message.
        #expect(!f.backend.log.contains { $0.header.request == BackRequest.msi.rawValue })
    }

    /// The deadlock hazard: the command worker waits for a SYNC reply the
    /// front end withholds; TRANSLATE and MMIO_READ are still answered.
    @Test func frontEndRequestsAnsweredWhileSyncIsOutstanding() throws {
        let f = try LinuxFrontEnd()
        let c = f.client
        #expect(try f.reset())
        f.writeSTE(sid: 8, [1 | 0b100 << 1])
        #expect(try f.submitAndWait([SMMUCmd.cfgiSTE(8)]))

        // The front end holds a translation, so invalidating everything
        // needs its acknowledgement: a SYNC it can withhold.
        #expect(try c.translate(sid: 8, iova: 0x4000).status == 0)
        f.backend.autoAnswer = false
        let slot = try f.submit([SMMUCmd.tlbiNSNHAll])
        #expect(f.backend.wait { _ in f.backend.heldSyncs == 1 })
        #expect(f.ram.read32(slot) != 0)                    // not complete yet

        let start = monotonicMs()
        let t = try c.translate(sid: 8, iova: 0x5000)
        let v = try c.mmioRead(SMMUReg.CR0)
        #expect(monotonicMs() - start < 1000)
        #expect(t.status == 0)
        #expect(v == f.cr0)
        #expect(f.ram.read32(slot) != 0)

        f.backend.autoAnswer = true
        f.backend.releaseSyncs()
        #expect(f.waitForSync(slot))
        #expect(try c.mmioRead(SMMUReg.CMDQ_CONS) & 0x1FF == f.cmdProd)
    }
}
