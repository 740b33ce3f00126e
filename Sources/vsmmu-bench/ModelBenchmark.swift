import SMMU
#if canImport(Glibc)
import Glibc
#endif

// Model microbenchmarks: translate with a TLB hit, a cold 4-level stage-1
// walk, a cold nested walk, and commands processed per second. The baseline,
// measured in the same run, is the irreducible work of a 4-level walk: four
// 8-byte loads from guest memory through the same GuestMemory. Then a
// scaling table: cold walks and a second pass over 1K ... 1M distinct pages,
// with the worst single call, to show the per-operation cost stays flat when
// the working set outgrows the TLB (SMMUv3.tlbCapacity entries).

/// A guest with one stage-1 stream (SID 1) and one nested stream (SID 2,
/// identity stage 2 of 1 GiB blocks), both mapping `pages` 4 KiB pages,
/// up to 1M (4 GiB of IOVA). Page p maps to frame p % `frames`, so the
/// tables are all there is: 2048 L3 tables (8 MiB) for 1M pages.
private struct BenchGuest {
    static let ramBase: UInt64 = 0x4000_0000
    static let iovaBase: UInt64 = 0x1000_0000
    static let frames = 4096
    let memory = RegionGuestMemory()
    let smmu: SMMUv3
    let pages: Int
    let cmdq: UInt64 = ramBase + 0x10_0000, cmdqLog2: UInt64 = 10
    var cmdProd: UInt64 = 0

    /// `check`: the model in check mode (docs/checker.md), reports dropped.
    init(pages: Int, check: Bool = false) throws {
        self.pages = pages
        let size = 64 << 20
        let host = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 1 << 16)
        memset(host, 0, size)
        try memory.add(.init(guestAddress: PhysicalAddress(Self.ramBase), size: UInt64(size), host: host))
        smmu = try SMMUv3(memory: memory, host: MemoryOnlyHost(memory), checking: check ? CheckOptions { _ in } : nil)
        let b = Self.ramBase
        let strtab = b + 0x20_0000, eventq = b + 0x11_0000
        w64(0x80, strtab | 1 << 62); w32(0x88, 6)
        w64(0x90, cmdq | cmdqLog2); w32(0x98, 0); w32(0x9C, 0)
        w64(0xA0, eventq | 7); w32(0x100A8, 0); w32(0x100AC, 0)
        for cr0: UInt64 in [0b1000, 0b1100, 0b1101] { w32(0x20, cr0) }

        // Stage-1 tables: PGD -> L1 -> one L2 per GiB -> one L3 per 2 MiB
        // (4 KiB granule, 48-bit VA). Pages are non-global (nG), as Linux maps them.
        let pgd = b + 0x30_0000, l1 = b + 0x30_1000, l2s = b + 0x30_2000, l3s = b + 0x200_0000
        precondition(pages <= 1 << 20 && Self.frames <= 4096)
        put(pgd + idx(Self.iovaBase, 0) * 8, l1 | 3)
        for p in 0..<pages {
            let va = Self.iovaBase + UInt64(p) << 12
            let l2 = l2s + (va >> 30) << 12, l3 = l3s + UInt64(p / 512) << 12
            if p == 0 || va & 0x3FFF_FFFF == 0 { put(l1 + idx(va, 1) * 8, l2 | 3) }
            if p % 512 == 0 { put(l2 + idx(va, 2) * 8, l3 | 3) }
            let frame = b + 0x100_0000 + UInt64(p % Self.frames) << 12
            put(l3 + idx(va, 3) * 8, frame | 1 << 11 | 1 << 10 | 3 << 8 | 1 << 6 | 3)
        }
        // CDs (5.4): T0SZ=16, TG0=4K, EPD1, V, IPS=48-bit, AA64, R, A, ASET, ASID.
        func cd(_ asid: UInt64) -> [UInt64] {
            [16 | 1 << 8 | 1 << 10 | 3 << 12 | 1 << 30 | 1 << 31 | 0b101 << 32 | 1 << 41 | 1 << 45 | 1 << 46
                | 1 << 47 | asid << 48, pgd, 0, 0, 0, 0, 0, 0]
        }
        let cd1 = b + 0x32_0000, cd2 = b + 0x32_0040
        words(cd1, cd(1)); words(cd2, cd(2))
        // SID 1: stage 1 only (Config 0b101).
        words(strtab + 64, [1 | 0b101 << 1 | cd1, 1 << 2 | 1 << 4 | 3 << 6, 0, 0, 0, 0, 0, 0])
        // SID 2: nested (0b111); stage 2: VMID 1, S2T0SZ=32, S2SL0=1 (level 1),
        // S2TG=4K, S2PS=48-bit, S2AA64, S2R; level-1 table of four 1 GiB blocks, identity.
        let s2 = b + 0x33_0000
        for i in 0..<4 as Range<UInt64> {
            put(s2 + i * 8, i << 30 | 1 << 10 | 3 << 8 | 3 << 6 | 0xF << 2 | 1)
        }
        let s2word: UInt64 = 1 | 32 << 32 | 1 << 38 | 1 << 40 | 1 << 42 | 3 << 44 | 0 << 46 | 0b101 << 48
            | 1 << 51 | 1 << 58
        words(strtab + 128, [1 | 0b111 << 1 | cd2, 1 << 2 | 1 << 4 | 3 << 6, s2word, s2, 0, 0, 0, 0])
    }

    func w32(_ o: UInt64, _ v: UInt64) { _ = smmu.write(offset: o, size: 4, value: v) }
    func w64(_ o: UInt64, _ v: UInt64) { _ = smmu.write(offset: o, size: 8, value: v) }
    // The guest's side: tables are built at raw guest physical addresses.
    func put(_ a: UInt64, _ v: UInt64) { _ = memory.write64(at: PhysicalAddress(a), v) }
    func words(_ a: UInt64, _ w: [UInt64]) { _ = memory.writeWords(at: PhysicalAddress(a), w) }
    func idx(_ va: UInt64, _ level: UInt64) -> UInt64 { (va >> (39 - 9 * level)) & 0x1FF }

    /// Pushes commands + CMD_SYNC (CS=SEV) and runs the queue.
    mutating func submit(_ commands: [[UInt64]]) {
        let mask: UInt64 = (1 << cmdqLog2) - 1, wrap = (mask << 1) | 1
        for c in commands + [[0x46 | 2 << 12, 0]] {
            words(cmdq + (cmdProd & mask) * 16, c)
            cmdProd = (cmdProd + 1) & wrap
        }
        if smmu.write(offset: 0x98, size: 4, value: cmdProd).contains(.commandsPending) { smmu.processCommands() }
    }

    mutating func invalidateTLB() { submit([[0x30, 0]]) }   // TLBI_NSNH_ALL
}

private func nanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// CPU time of this thread: a call's worst case without the time another
/// process held the core (this machine's cores are shared).
private func threadCPUNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// Median ns per operation over `rounds` rounds of `perRound` operations.
private func perOp(rounds: Int, perRound: Int, setUp: () -> Void = {}, _ op: (Int) -> Void) -> Double {
    var samples: [Double] = []
    for _ in 0..<rounds {
        setUp()
        let t0 = nanoseconds()
        for i in 0..<perRound { op(i) }
        samples.append(Double(nanoseconds() &- t0) / Double(perRound))
    }
    samples.sort()
    return samples[samples.count / 2]
}

func runModelBenchmark(iterations: Int) throws {
    let pages = 4096
    var guest = try BenchGuest(pages: scalingSizes.last!)
    let smmu = guest.smmu
    let rounds = max(5, iterations / pages)
    func request(_ sid: UInt32, _ i: Int) -> TranslationRequest {
        TranslationRequest(streamID: sid, address: InputAddress(BenchGuest.iovaBase + UInt64(i) << 12), access: .write)
    }
    for sid: UInt32 in [1, 2] {
        guard case .translated(let t) = smmu.translate(request(sid, 7)),
              t.output(for: InputAddress(BenchGuest.iovaBase + 7 << 12))
                == .physical(PhysicalAddress(BenchGuest.ramBase + 0x100_0000 + 7 << 12)) else {
            print("vsmmu-bench: the benchmark guest does not translate SID \(sid); model broken?")
            exit(1)
        }
    }

    var sink: UInt64 = 0
    let baseline = perOp(rounds: rounds, perRound: pages) { i in
        let a = PhysicalAddress(BenchGuest.ramBase + 0x30_0000 + UInt64(i & 511) * 8)
        for level in 0..<4 as Range<UInt64> { sink &+= guest.memory.read64(at: a + level * 0x1000) ?? 0 }
    }
    let hit = perOp(rounds: rounds, perRound: pages) { i in
        if case .translated(let t) = smmu.translate(request(1, i)) { sink &+= t.outputBase.raw }
    }
    let cold = perOp(rounds: rounds, perRound: pages, setUp: { guest.invalidateTLB() }) { i in
        if case .translated(let t) = smmu.translate(request(1, i)) { sink &+= t.outputBase.raw }
    }
    let nested = perOp(rounds: rounds, perRound: pages, setUp: { guest.invalidateTLB() }) { i in
        if case .translated(let t) = smmu.translate(request(2, i)) { sink &+= t.outputBase.raw }
    }
    // Commands: batches of 63 TLBI_NH_VA + CMD_SYNC, as Linux's strict unmap path issues them.
    let batch = (0..<63).map { i in [0x12 | 1 << 48, (BenchGuest.iovaBase + UInt64(i) << 12) | 1] as [UInt64] }
    let perCommand = perOp(rounds: max(20, iterations / 1000), perRound: 16) { _ in guest.submit(batch) } / 64
    let copy16 = perOp(rounds: rounds, perRound: pages) { i in
        sink &+= guest.memory.readWords(at: PhysicalAddress(guest.cmdq + UInt64(i & 1023) * 16), count: 2)?[0] ?? 0
    }

    // The same hit and command costs in check mode, against the above: a
    // hit looks its record up, each CMD_SYNC walks every cached translation
    // again (here the `pages` the hit pass left in the TLB).
    var checked = try BenchGuest(pages: pages, check: true)
    let checkedSMMU = checked.smmu
    let checkedHit = perOp(rounds: rounds, perRound: pages) { i in
        if case .translated(let t) = checkedSMMU.translate(request(1, i)) { sink &+= t.outputBase.raw }
    }
    let checkedCommand = perOp(rounds: max(20, iterations / 1000), perRound: 16) { _ in checked.submit(batch) } / 64

    func fmt(_ v: Double) -> String {
        let s = String(Int((v * 10).rounded()))
        let padded = s.count < 2 ? "0" + s : s
        return String(padded.dropLast()) + "." + String(padded.suffix(1))
    }
    func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s + " " : s + String(repeating: " ", count: w - s.count) }
    print("vsmmu-bench model: \(pages) pages, median of \(rounds) rounds, ns per operation")
    print(pad("operation", 34) + pad("ns/op", 12) + pad("baseline", 30) + "ratio")
    let rows: [(String, Double, String, Double)] = [
        ("4 guest-memory loads (baseline)", baseline, "itself", baseline),
        ("translate, TLB hit", hit, "4 loads", baseline),
        ("translate, cold 4-level stage 1", cold, "4 loads", baseline),
        ("translate, cold nested walk", nested, "4 loads", baseline),
        ("command (TLBI_NH_VA, SYNC/64)", perCommand, "16-byte command copy", copy16),
        ("translate, TLB hit, --check", checkedHit, "TLB hit", hit),
        ("command, --check, \(pages) cached", checkedCommand, "command", perCommand),
    ]
    for (name, v, base, b) in rows {
        print(pad(name, 34) + pad(fmt(v), 12) + pad(base, 30) + fmt(v / b) + "x")
    }
    print("commands per second: \(Int(1e9 / perCommand))   (checksum \(sink & 0xF))")

    // Scaling: for each working set, flush, a pass of cold walks over n
    // distinct pages, then a second pass over the same pages: hits while n
    // fits the TLB, walks plus replacement beyond. Median of `reps`
    // rounds; then one more round with every call timed, for the worst.
    func pass(_ n: Int) {
        for i in 0..<n { if case .translated(let t) = smmu.translate(request(1, i)) { sink &+= t.outputBase.raw } }
    }
    func median(_ v: [Double]) -> Double { v.sorted()[v.count / 2] }
    let capacity = SMMUv3.tlbCapacity
    print("")
    print("scaling: n distinct 4 KiB pages, stage 1, TLB of \(capacity) entries; ns per translate and ratio to")
    print("the 4-load baseline above (\(fmt(baseline)) ns); single calls: 99.9th percentile (ns), worst in")
    print("wall time and worst in thread CPU time (µs, without time the shared core spent on others)")
    print(pad("pages", 8) + pad("cold ns", 10) + pad("ratio", 8) + pad("2nd ns", 10) + pad("ratio", 8)
          + pad("2nd pass", 10) + pad("99.9% ns", 10) + pad("worst µs", 10) + pad("CPU µs", 9) + "ratio")
    for n in scalingSizes {
        let reps = max(3, min(64, (1 << 18) / n))
        var colds: [Double] = [], seconds: [Double] = []
        for _ in 0..<reps {
            guest.invalidateTLB()
            var t0 = nanoseconds()
            pass(n)
            colds.append(Double(nanoseconds() &- t0) / Double(n))
            t0 = nanoseconds()
            pass(n)
            seconds.append(Double(nanoseconds() &- t0) / Double(n))
        }
        guest.invalidateTLB()
        var calls: [UInt64] = []
        calls.reserveCapacity(2 * n)
        var worstCPU: UInt64 = 0
        for _ in 0..<2 {
            for i in 0..<n {
                // The slower CPU-time clock outside, so wall times stay exact.
                let c0 = threadCPUNanoseconds(), t0 = nanoseconds()
                if case .translated(let t) = smmu.translate(request(1, i)) { sink &+= t.outputBase.raw }
                let t1 = nanoseconds(), c1 = threadCPUNanoseconds()
                calls.append(t1 &- t0)
                worstCPU = max(worstCPU, c1 &- c0)
            }
        }
        calls.sort()
        let worst = Double(calls.last!), p999 = Double(calls[calls.count * 999 / 1000]), cpu = Double(worstCPU)
        let cold = median(colds), second = median(seconds)
        let label = n >= 1 << 20 ? "\(n >> 20)M" : "\(n >> 10)K"
        print(pad(label, 8) + pad(fmt(cold), 10) + pad(fmt(cold / baseline) + "x", 8) + pad(fmt(second), 10)
              + pad(fmt(second / baseline) + "x", 8) + pad(n <= capacity ? "hits" : "misses", 10)
              + pad(fmt(p999), 10) + pad(fmt(worst / 1000), 10) + pad(fmt(cpu / 1000), 9) + fmt(cpu / baseline) + "x")
    }
    print("(checksum \(sink & 0xF))")
}

private let scalingSizes = [1 << 10, 1 << 12, 1 << 14, 1 << 16, 1 << 18, 1 << 20]
