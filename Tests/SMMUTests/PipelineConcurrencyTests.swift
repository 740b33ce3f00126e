import Dispatch
import Synchronization
import Testing
@testable import SMMU

/// Concurrency smoke: translations from 4 threads while another thread runs
/// TLBI storms + CMD_SYNC through the command queue. The mappings never
/// change, so every translation must return the mapped PA (TLBIs may only
/// cost walks, 3.17), and everything finishes in bounded time.
struct PipelineConcurrencyTests {
    @Test(.timeLimit(.minutes(1)))
    func translationsDuringTLBIStorms() throws {
        let d = try LinuxLikeDriver()
        #expect(d.reset())
        let sid: UInt32 = 4, base = d.ram.base
        let t = Stage1Tables(ram: d.ram, arena: base + 0x40_0000)
        let pages = 64
        for i in 0..<pages { t.map(0x1000_0000 + UInt64(i) << 12, to: base + 0x100_0000 + UInt64(i) << 12) }
        let cd = base + 0x30_0000
        d.ram.writeWords(cd, CDWords.linux(asid: 5, ttb0: t.root))
        d.writeSTE(sid: sid, STEWords.stage1(cdPointer: cd))
        #expect(d.submit([DriverCmd.cfgiSTE(sid)]))

        let smmu = d.smmu
        let stop = SharedFlag()
        let wrong = Shared(0), done = Shared(0)
        let workers = 4
        let group = DispatchGroup(), started = Shared(0)
        for w in 0..<workers {
            DispatchQueue.global().async(group: group) {
                started.update { $0 += 1 }
                var i = w
                while (!stop.isSet || i < 8_000) && i < 5_000_000 {
                    let page = UInt64(i % pages)
                    let address = 0x1000_0000 + page << 12 | 0x18
                    let out = smmu.translate(TranslationRequest(streamID: sid, address: address, access: .write))
                    var ok = false
                    if case .translated(let tr) = out { ok = tr.output(for: address) == base + 0x100_0000 + page << 12 | 0x18 }
                    if !ok { wrong.update { $0 += 1 } }
                    done.update { $0 += 1 }
                    i += 4
                }
            }
        }
        // Start the commands only once every worker runs (bounded wait).
        for _ in 0..<10_000_000 where started.value < workers { }
        var synced = 0
        for round in 0..<300 {
            var storm: [[UInt64]] = []
            for i in 0..<8 { storm.append(DriverCmd.tlbiNHVA(asid: 5, address: 0x1000_0000 + UInt64((round * 8 + i) % pages) << 12)) }
            if round % 10 == 0 { storm.append(DriverCmd.tlbiNHASID(5)) }
            if round % 50 == 0 { storm.append(DriverCmd.cfgiCDAll(sid)) }
            if d.submit(storm) { synced += 1 }
        }
        stop.set()
        #expect(group.wait(timeout: .now() + 30) == .success)
        #expect(synced == 300)
        #expect(wrong.value == 0)
        #expect(done.value > 0)
    }
}
