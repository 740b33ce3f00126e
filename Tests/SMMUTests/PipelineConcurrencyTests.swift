import Dispatch
import Synchronization
import Testing
@testable import SMMU

/// Translations from 4 threads while another thread really remaps pages:
/// each round points 8 IOVA pages at physical pages never used before, then
/// issues TLBI_NH_VA for them (with TLBI_NH_ASID and CFGI_CD_ALL now and
/// then) and CMD_SYNC. A CMD_SYNC completes only when the invalidations
/// before it have completed (4.4, 4.7.3), so a translation that starts after
/// it has completed must not return a page the IOVA was mapped to before that
/// round. Each page's physical frames only grow, so "older" is "smaller". If
/// TLBI did nothing, the TLB would keep returning the first frames.
struct PipelineConcurrencyTests {
    @Test(.timeLimit(.minutes(1)))
    func translationsDuringRemapsAndTLBIStorms() throws {
        let d = try LinuxLikeDriver()
        #expect(d.reset())
        let sid: UInt32 = 4, base = d.ram.base
        let t = Stage1Tables(ram: d.ram, arena: base + 0x40_0000)
        let pages = 64, perRound = 8, rounds = 300
        let iova: UInt64 = 0x1000_0000
        // Output pages need no RAM behind them: translation never touches them.
        let frameBase: UInt64 = 0x80_0000_0000
        for p in 0..<pages { t.map(iova + UInt64(p) << 12, to: frameBase + UInt64(p) << 12) }
        let cd = base + 0x30_0000
        d.ram.writeWords(cd, CDWords.linux(asid: 5, ttb0: t.root))
        d.writeSTE(sid: sid, STEWords.stage1(cdPointer: cd))
        #expect(d.submit([DriverCmd.cfgiSTE(sid)]))

        let smmu = d.smmu
        // The frame each page is mapped to as of the last completed CMD_SYNC.
        let published = Shared((0..<pages).map { UInt64($0) })
        let stop = SharedFlag()
        let stale = Shared(0), faults = Shared(0), done = Shared(0)
        let workers = 4
        let group = DispatchGroup(), started = Shared(0)
        for w in 0..<workers {
            DispatchQueue.global().async(group: group) {
                started.update { $0 += 1 }
                var i = w
                while (!stop.isSet || i < 8_000) && i < 5_000_000 {
                    let page = i % pages
                    let floor = published.mutex.withLock { $0[page] }
                    let address = iova + UInt64(page) << 12 | 0x18
                    let out = smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(address), access: .write))
                    if case .translated(let tr) = out {
                        let pa = tr.output(for: InputAddress(address)).raw
                        if pa & 0xFFF != 0x18 || pa < frameBase || (pa - frameBase) >> 12 < floor {
                            stale.update { $0 += 1 }
                        }
                    } else {
                        faults.update { $0 += 1 }
                    }
                    done.update { $0 += 1 }
                    i += workers
                }
            }
        }
        // Start the commands only once every worker runs (bounded wait).
        for _ in 0..<10_000_000 where started.value < workers { }
        var synced = 0
        for round in 0..<rounds {
            var remapped: [(page: Int, frame: UInt64)] = []
            var commands: [[UInt64]] = []
            for i in 0..<perRound {
                let page = (round * perRound + i) % pages
                let frame = UInt64(pages + round * perRound + i)
                t.map(iova + UInt64(page) << 12, to: frameBase + frame << 12)
                remapped.append((page, frame))
                commands.append(DriverCmd.tlbiNHVA(asid: 5, address: iova + UInt64(page) << 12))
            }
            if round % 10 == 0 { commands.append(DriverCmd.tlbiNHASID(5)) }
            if round % 50 == 0 { commands.append(DriverCmd.cfgiCDAll(sid)) }
            guard d.submit(commands) else { continue }
            synced += 1
            published.update { for r in remapped { $0[r.page] = r.frame } }
        }
        stop.set()
        #expect(group.wait(timeout: .now() + 30) == .success)
        #expect(synced == rounds)
        #expect(stale.value == 0)
        #expect(faults.value == 0)
        #expect(done.value > 0)
    }
}
