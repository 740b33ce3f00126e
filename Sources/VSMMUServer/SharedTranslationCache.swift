import CVSMMU
import SMMU
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// The front end's translation cache, in a region both processes map
/// (VSMMU_F_SHARED_TLB; layout and rules in vsmmu-protocol.h, ordering in
/// docs/protocol.md, "The shared translation cache"). This side is its only
/// writer: it publishes what TRANSLATE replies hand out, drops what an
/// invalidation covers, logs the invalidation for replies still on their
/// way, and before a CMD_SYNC completes waits for every front-end reader
/// that may have seen a dropped entry.
///
/// Nothing the front end wrote is trusted: which slots hold what is kept
/// here (`occupied`), and a reader slot's value can only make a wait end
/// early or run to its deadline.
final class SharedTranslationCache: @unchecked Sendable {
    static let size = MemoryLayout<VSMMUTlbRegion>.size
    static let entries = Int(VSMMU_TLB_ENTRIES), readers = Int(VSMMU_TLB_READERS), logLength = Int(VSMMU_TLB_LOG)
    static let substreamValid = UInt32(VSMMU_TLB_SSV)
    static let maxLog2 = UInt8(VSMMU_TLB_MAX_LOG2)
    static let pageLog2: UInt8 = 12

    /// One block to publish, keyed as the front end looks it up.
    struct Block: Equatable {
        var streamID: UInt32, ssidKey: UInt32
        var iovaBase: UInt64, paBase: UInt64, sizeLog2: UInt8, perm: UInt8
        /// What invalidations are matched against (the whole reported block).
        var tags: CachedTranslationTags
    }

    enum Failure: Error, CustomStringConvertible {
        case notSealed, wrongSize(Int), system(String, Errno)
        var errno: Int32 {
            switch self {
            case .notSealed, .wrongSize: EINVAL
            case .system(_, let e): e.rawValue
            }
        }
        var description: String {
            switch self {
            case .notSealed: "the translation cache region must be a memfd sealed against shrinking"
            case .wrongSize(let n): "the translation cache region has \(n) bytes, \(SharedTranslationCache.size) expected"
            case .system(let call, let e): "\(call) of the translation cache region: \(e)"
            }
        }
    }

    private struct State {
        var generation: UInt64 = 0
        /// The invalidation each log record holds, as this side matches it.
        var log: [HostInvalidation?] = Array(repeating: nil, count: SharedTranslationCache.logLength)
        var occupied: [Int: CachedTranslationTags] = [:]
        var sizes: UInt64 = 0
        var epoch: UInt64 = 0
        /// Something was dropped or logged since the last wait for readers.
        var changedSinceWait = false
    }
    private let state = Locked(State())
    private let base: UnsafeMutableRawPointer

    /// Maps `fd` (closed here: the mapping keeps the file) and empties it.
    init(fd: FileDescriptor) throws(Failure) {
        defer { try? fd.close() }
        var st = stat()
        guard fstat(fd.rawValue, &st) == 0 else { throw .system("fstat", Errno(rawValue: Glibc.errno)) }
        // Sealed against shrinking: a front end cannot make the mapping SIGBUS.
        guard vsmmu_shim_sealed_against_shrinking(fd.rawValue) == 1 else { throw .notSealed }
        guard Int(st.st_size) == Self.size else { throw .wrongSize(Int(st.st_size)) }
        guard let p = mmap(nil, Self.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.rawValue, 0), p != MAP_FAILED else {
            throw .system("mmap", Errno(rawValue: Glibc.errno))
        }
        base = p
        // The backend's parts start empty whatever the front end left there.
        memset(base + MemoryLayout<VSMMUTlbRegion>.offset(of: \.entry)!, 0, Self.entries * MemoryLayout<VSMMUTlbEntry>.size)
        memset(base + MemoryLayout<VSMMUTlbRegion>.offset(of: \.log)!, 0, Self.logLength * MemoryLayout<VSMMUTlbLogRecord>.size)
        for field in [\VSMMUTlbRegion.generation, \.epoch, \.sizes] {
            vsmmu_shim_store_release64(base + MemoryLayout<VSMMUTlbRegion>.offset(of: field)!, 0)
        }
    }

    deinit { munmap(base, Self.size) }

    private func header(_ field: KeyPath<VSMMUTlbRegion, UInt64>) -> UnsafeMutableRawPointer {
        base + MemoryLayout<VSMMUTlbRegion>.offset(of: field)!
    }

    private func entry(_ slot: Int) -> UnsafeMutablePointer<VSMMUTlbEntry> {
        (base + MemoryLayout<VSMMUTlbRegion>.offset(of: \.entry)!).assumingMemoryBound(to: VSMMUTlbEntry.self) + slot
    }

    private func record(_ index: Int) -> UnsafeMutablePointer<VSMMUTlbLogRecord> {
        (base + MemoryLayout<VSMMUTlbRegion>.offset(of: \.log)!).assumingMemoryBound(to: VSMMUTlbLogRecord.self) + index
    }

    private func readerSlot(_ index: Int) -> UnsafeRawPointer {
        UnsafeRawPointer(base + MemoryLayout<VSMMUTlbRegion>.offset(of: \.reader)!
                         + index * MemoryLayout<VSMMUTlbReader>.stride)
    }

    /// The front end also wants INVALIDATE messages (its IOMMU notifiers).
    var frontEndWantsMessages: Bool {
        vsmmu_shim_load_acquire32(base + MemoryLayout<VSMMUTlbRegion>.offset(of: \.notify)!) != 0
    }

    /// The invalidations logged so far; a reply made after reading it
    /// carries it (bits 31:0) so the front end can tell what raced it.
    var generation: UInt64 { state.withLock { $0.generation } }

    /// Publishes `blocks`, whose translations were made after `generation`
    /// was `madeAt`, leaving out each one that an invalidation logged since
    /// covers (it may predate that invalidation), or all of them when too
    /// many were logged to tell. Returns how many were published.
    @discardableResult
    func publish(_ blocks: [Block], madeAt: UInt64) -> Int {
        state.withLock { s in
            var published = 0
            for b in blocks where !Self.raced(s, since: madeAt, b.tags) {
                let slot = Int(vsmmu_tlb_slot(b.streamID, b.ssidKey, b.iovaBase, UInt32(b.sizeLog2)))
                if s.sizes & (1 << b.sizeLog2) == 0 {
                    // Before the entry: a reader that finds it probes its size.
                    s.sizes |= 1 << b.sizeLog2
                    vsmmu_shim_store_release64(header(\.sizes), s.sizes)
                }
                write(slot) { e in
                    e.sid = b.streamID; e.ssid_key = b.ssidKey; e.size_log2 = b.sizeLog2; e.perm = b.perm
                    e.iova_base = b.iovaBase; e.pa_base = b.paBase
                }
                s.occupied[slot] = b.tags
                published += 1
            }
            return published
        }
    }

    private static func raced(_ s: State, since madeAt: UInt64, _ tags: CachedTranslationTags) -> Bool {
        guard s.generation != madeAt else { return false }
        guard s.generation &- madeAt <= UInt64(logLength) else { return true }
        var g = madeAt &+ 1
        while g <= s.generation {
            if s.log[Int(g % UInt64(logLength))]?.covers(tags, in: .translations) ?? true { return true }
            g &+= 1
        }
        return false
    }

    /// Drops the entries `inv` covers and logs it as `record` (what an
    /// INVALIDATE message would carry: the front end matches replies in
    /// flight against it with its own rule).
    func invalidate(_ inv: HostInvalidation, record wire: WireInvalidate) {
        state.withLock { s in
            let covered = s.occupied.filter { inv.covers($0.value, in: .translations) }.keys
            for slot in covered {
                write(slot) { $0 = VSMMUTlbEntry() }
                s.occupied[slot] = nil
            }
            s.generation &+= 1
            let index = Int(s.generation % UInt64(Self.logLength))
            s.log[index] = inv
            let r = record(index)
            vsmmu_shim_store_release64(r, 0)
            vsmmu_shim_fence_release()
            var w = WireWriter()
            wire.encode(into: &w)
            w.bytes.withUnsafeBytes { bytes in
                UnsafeMutableRawPointer(r).advanced(by: MemoryLayout<VSMMUTlbLogRecord>.offset(of: \.inv)!)
                    .copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
            }
            vsmmu_shim_store_release64(r, s.generation)
            vsmmu_shim_store_release64(header(\.generation), s.generation)
            s.changedSinceWait = true
        }
    }

    /// The seqlock write of one entry (only under `state`'s lock).
    private func write(_ slot: Int, _ change: (inout VSMMUTlbEntry) -> Void) {
        let e = entry(slot)
        let seq = vsmmu_shim_load_acquire32(e)
        // Odd while changing: a reader that sees it, or sees it move, misses.
        vsmmu_shim_store_release32(e, seq | 1)
        vsmmu_shim_fence_release()
        var value = e.pointee
        change(&value)
        // Field by field: seq is only ever written atomically.
        e.pointee.sid = value.sid; e.pointee.ssid_key = value.ssid_key
        e.pointee.size_log2 = value.size_log2; e.pointee.perm = value.perm
        e.pointee.iova_base = value.iova_base; e.pointee.pa_base = value.pa_base
        vsmmu_shim_store_release32(e, (seq | 1) &+ 1)
    }

    /// Whether a CMD_SYNC may complete: waits, up to `timeoutNs`, until no
    /// front-end reader that entered before the last change is still
    /// inside (it may hold a dropped entry, or a reply the log would have
    /// told it to discard). False at the deadline.
    func awaitReaders(timeoutNs: UInt64) -> Bool {
        let epoch = state.withLock { s -> UInt64? in
            guard s.changedSinceWait else { return nil }
            s.changedSinceWait = false
            s.epoch &+= 1
            vsmmu_shim_store_release64(header(\.epoch), s.epoch)
            return s.epoch
        }
        guard let epoch else { return true }
        // The store above before the loads below (the reader's side is the
        // mirror image: its slot, a full fence, then the entries).
        vsmmu_shim_fence_seq_cst()
        let deadline = RateLimitedLogger.nowNanoseconds() &+ timeoutNs
        for i in 0..<Self.readers {
            var spins = 0
            // Bounded by the deadline. A lookup takes well under a
            // microsecond, so spin first; a reader that stays longer is
            // waiting on something (a stall, a descheduled thread) and on a
            // small host needs the core this loop would burn.
            while true {
                let active = vsmmu_shim_load_acquire64(readerSlot(i))
                if active == 0 || active > epoch { break }
                spins += 1
                if spins < 256 { continue }
                if RateLimitedLogger.nowNanoseconds() >= deadline {
                    state.withLock { $0.changedSinceWait = true }
                    return false
                }
                if spins < 1024 { sched_yield() } else { usleep(50) }
            }
        }
        return true
    }

    /// The entries published and not dropped (tests).
    var count: Int { state.withLock { $0.occupied.count } }

    /// The largest aligned block around `iova` that lies inside `rep`'s and
    /// has the same offset in input and output (what a front end can
    /// use as one IOMMUTLBEntry), as `vsmmu_fit_block` in QEMU does for its
    /// own cache; nil if `rep` does not cover `iova`.
    static func fit(_ iova: UInt64, _ rep: WireTranslateReply) -> (iova: UInt64, pa: UInt64, log2: UInt8)? {
        guard rep.sizeLog2 >= pageLog2, rep.sizeLog2 <= 64 else { return nil }
        func mask(_ log2: UInt8) -> UInt64 { log2 >= 64 ? .max : (1 << log2) - 1 }
        let repMask = mask(rep.sizeLog2)
        let off = iova &- rep.iovaBase
        guard off <= repMask else { return nil }
        let pa = rep.paBase &+ off
        var log2 = min(rep.sizeLog2, maxLog2)
        while log2 >= pageLog2 {
            let m = mask(log2)
            if iova & m == pa & m, iova & m <= off, m - (iova & m) <= repMask - off {
                return (iova & ~m, pa & ~m, log2)
            }
            log2 -= 1
        }
        return nil
    }

    /// The blocks of a reply's translations, the first around `request`'s
    /// address, the others (TRANSLATE_AHEAD) from where each begins.
    static func blocks(_ handedOut: [Translation], for request: WireTranslateRequest) -> [Block] {
        let ssidKey = request.flags & WireTranslateRequest.ssv != 0 ? substreamValid | request.ssid : 0
        return handedOut.enumerated().compactMap { i, t in
            let rep = WireTranslateReply(.translated(t))
            guard let b = fit(i == 0 ? request.iova : rep.iovaBase, rep) else { return nil }
            return Block(streamID: request.sid, ssidKey: ssidKey, iovaBase: b.iova, paBase: b.pa, sizeLog2: b.log2,
                         perm: UInt8(truncatingIfNeeded: rep.perm), tags: CachedTranslationTags(t))
        }
    }
}
