import CVSMMU
import SMMU
import SystemPackage
import Testing
@testable import VSMMUServer
#if canImport(Glibc)
import Glibc
#endif

/// The front end's side of a VSMMUTlbRegion (vsmmu-protocol.h): a sealed
/// memfd of exactly `sizeof(VSMMUTlbRegion)` bytes, mapped shared, read only
/// by the header's rules (entries through their seqlock, found at the slot
/// `vsmmu_tlb_slot()` names for each size in `sizes`). Writes only what the
/// header gives the front end: `notify` and the reader slots.
final class TLBRegionView: @unchecked Sendable {
    static let size = MemoryLayout<VSMMUTlbRegion>.size
    let fd: Int32
    let base: UnsafeMutableRawPointer

    /// A new region as a front end makes it: zero-filled, sealed against resizing.
    init() throws {
        fd = vsmmu_shim_sealed_memfd("vsmmu-test-tlb", UInt64(Self.size))
        guard fd >= 0 else { throw TestFailure("sealed memfd: errno \(errno)") }
        guard let p = mmap(nil, Self.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED else {
            close(fd)
            throw TestFailure("mmap: errno \(errno)")
        }
        base = p
    }

    deinit { munmap(base, Self.size); close(fd) }

    /// A descriptor of the same file for SharedTranslationCache (which closes it).
    func descriptor() -> FileDescriptor { FileDescriptor(rawValue: dup(fd)) }

    private static func offset(_ field: PartialKeyPath<VSMMUTlbRegion>) -> Int {
        MemoryLayout<VSMMUTlbRegion>.offset(of: field)!
    }

    var generation: UInt64 { vsmmu_shim_load_acquire64(base + Self.offset(\VSMMUTlbRegion.generation)) }
    var epoch: UInt64 { vsmmu_shim_load_acquire64(base + Self.offset(\VSMMUTlbRegion.epoch)) }
    var sizes: UInt64 { vsmmu_shim_load_acquire64(base + Self.offset(\VSMMUTlbRegion.sizes)) }
    var notify: UInt32 {
        get { vsmmu_shim_load_acquire32(base + Self.offset(\VSMMUTlbRegion.notify)) }
        set { vsmmu_shim_store_release32(base + Self.offset(\VSMMUTlbRegion.notify), newValue) }
    }

    private func readerPointer(_ i: Int) -> UnsafeMutableRawPointer {
        base + Self.offset(\VSMMUTlbRegion.reader) + i * MemoryLayout<VSMMUTlbReader>.stride
    }

    /// A front-end thread entering (1 + the epoch it read) or leaving (0)
    /// its slot: the store, then a full barrier.
    func setReader(_ i: Int, _ active: UInt64) {
        vsmmu_shim_store_release64(readerPointer(i), active)
        vsmmu_shim_fence_seq_cst()
    }

    func reader(_ i: Int) -> UInt64 { vsmmu_shim_load_acquire64(readerPointer(i)) }

    struct Entry: Equatable {
        var seq: UInt32, sid: UInt32, ssidKey: UInt32, sizeLog2: UInt8, perm: UInt8
        var iovaBase: UInt64, paBase: UInt64
        /// The same translation, whatever the sequence number.
        func sameFields(_ o: Entry) -> Bool {
            sid == o.sid && ssidKey == o.ssidKey && sizeLog2 == o.sizeLog2 && perm == o.perm
                && iovaBase == o.iovaBase && paBase == o.paBase
        }
    }

    func entryPointer(_ slot: Int) -> UnsafeMutableRawPointer {
        base + Self.offset(\VSMMUTlbRegion.entry) + slot * MemoryLayout<VSMMUTlbEntry>.stride
    }

    /// The entry in `slot` under its seqlock: seq (acquire), the fields,
    /// seq again; nil unless both reads are the same even value.
    func read(slot: Int) -> Entry? {
        let e = entryPointer(slot)
        func at(_ f: PartialKeyPath<VSMMUTlbEntry>) -> UnsafeMutableRawPointer { e + MemoryLayout<VSMMUTlbEntry>.offset(of: f)! }
        let seq = vsmmu_shim_load_acquire32(at(\VSMMUTlbEntry.seq))
        guard seq & 1 == 0 else { return nil }
        let sid = vsmmu_shim_load_acquire32(at(\VSMMUTlbEntry.sid))
        let key = vsmmu_shim_load_acquire32(at(\VSMMUTlbEntry.ssid_key))
        // size_log2, perm, reserved: one little-endian word.
        let word = vsmmu_shim_load_acquire32(at(\VSMMUTlbEntry.size_log2))
        let iova = vsmmu_shim_load_acquire64(at(\VSMMUTlbEntry.iova_base))
        let pa = vsmmu_shim_load_acquire64(at(\VSMMUTlbEntry.pa_base))
        vsmmu_shim_fence_seq_cst()   // the fields before seq again
        guard vsmmu_shim_load_acquire32(at(\VSMMUTlbEntry.seq)) == seq else { return nil }
        return Entry(seq: seq, sid: sid, ssidKey: key, sizeLog2: UInt8(truncatingIfNeeded: word),
                     perm: UInt8(truncatingIfNeeded: word >> 8), iovaBase: iova, paBase: pa)
    }

    /// A front end's lookup: each size in `sizes`, the slot
    /// `vsmmu_tlb_slot()` names, the entry's key checked.
    func lookup(sid: UInt32, ssidKey: UInt32 = 0, iova: UInt64) -> Entry? {
        var s = sizes
        while s != 0 {
            let log2 = UInt8(s.trailingZeroBitCount)
            s &= s - 1
            guard log2 >= 12, log2 <= UInt8(VSMMU_TLB_MAX_LOG2) else { continue }
            let slot = Int(vsmmu_tlb_slot(sid, ssidKey, iova, UInt32(log2)))
            guard let e = read(slot: slot) else { continue }
            let mask = (UInt64(1) << log2) - 1
            if e.sizeLog2 == log2, e.sid == sid, e.ssidKey == ssidKey, e.iovaBase == iova & ~mask { return e }
        }
        return nil
    }

    /// Log record `index`: its generation word and its VSMMUInval bytes.
    func record(_ index: Int) -> (generation: UInt64, inv: [UInt8], decoded: VSMMUInval) {
        let r = base + Self.offset(\VSMMUTlbRegion.log) + index * MemoryLayout<VSMMUTlbLogRecord>.stride
        let g = vsmmu_shim_load_acquire64(r)
        let p = r + MemoryLayout<VSMMUTlbLogRecord>.offset(of: \VSMMUTlbLogRecord.inv)!
        let bytes = Array(UnsafeRawBufferPointer(start: p, count: MemoryLayout<VSMMUInval>.size))
        return (g, bytes, p.loadUnaligned(as: VSMMUInval.self))
    }
}

/// SharedTranslationCache, the backend's half of VSMMU_F_SHARED_TLB, on a
/// real sealed memfd read back the way a front end reads it
/// (vsmmu-protocol.h; docs/protocol.md, "The shared translation cache").
@Suite("Shared translation cache")
struct SharedTranslationCacheTests {
    typealias Block = SharedTranslationCache.Block
    static let ssv = UInt32(VSMMU_TLB_SSV)
    static let ms: UInt64 = 1_000_000

    static func make() throws -> (SharedTranslationCache, TLBRegionView) {
        let view = try TLBRegionView()
        let cache = try SharedTranslationCache(fd: view.descriptor())
        return (cache, view)
    }

    static func block(sid: UInt32 = 5, ssid: UInt32? = nil, asid: UInt16? = 7, vmid: UInt16? = 1,
                      iova: UInt64, pa: UInt64, log2: UInt8 = 12, perm: UInt8 = 0b11) -> Block {
        Block(streamID: sid, ssidKey: ssid.map { ssv | $0 } ?? 0, iovaBase: iova, paBase: pa, sizeLog2: log2,
              perm: perm, tags: CachedTranslationTags(streamID: sid, substreamID: ssid, asid: asid, vmid: vmid,
                                                       inputBase: iova, sizeLog2: log2))
    }

    static func present(_ v: TLBRegionView, _ b: Block) -> Bool {
        v.lookup(sid: b.streamID, ssidKey: b.ssidKey, iova: b.iovaBase) != nil
    }

    static func invalidate(_ c: SharedTranslationCache, _ inv: HostInvalidation) {
        c.invalidate(inv, record: WireInvalidate(inv)!)
    }

    static func bytes(_ inv: HostInvalidation) -> [UInt8] {
        var w = WireWriter(); WireInvalidate(inv)!.encode(into: &w); return w.bytes
    }

    static func nowNs() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    // MARK: The region

    /// A front end could make the mapping SIGBUS by shrinking an unsealed file.
    @Test func anUnsealedMemfdIsRefused() throws {
        let fd = vsmmu_shim_memfd("vsmmu-test-tlb-unsealed", UInt64(TLBRegionView.size))
        try #require(fd >= 0)
        do {
            _ = try SharedTranslationCache(fd: FileDescriptor(rawValue: fd))
            Issue.record("an unsealed region was accepted")
        } catch {
            #expect(error.errno == EINVAL)
            guard case .notSealed = error else { Issue.record("\(error)"); return }
        }
    }

    @Test(arguments: [TLBRegionView.size - 32, TLBRegionView.size + 4096])
    func aRegionOfTheWrongSizeIsRefused(size: Int) throws {
        let fd = vsmmu_shim_sealed_memfd("vsmmu-test-tlb-size", UInt64(size))
        try #require(fd >= 0)
        do {
            _ = try SharedTranslationCache(fd: FileDescriptor(rawValue: fd))
            Issue.record("a region of \(size) bytes was accepted")
        } catch {
            #expect(error.errno == EINVAL)
            guard case .wrongSize(let n) = error else { Issue.record("\(error)"); return }
            #expect(n == size)
        }
    }

    /// "The backend maps it and empties its own parts": the entries, the
    /// log and its header words, and nothing the front end writes.
    @Test func theBackendEmptiesItsPartsAndLeavesTheFrontEndsAlone() throws {
        let view = try TLBRegionView()
        memset(view.base, 0xAB, TLBRegionView.size)
        view.notify = 1
        view.setReader(2, 77)
        let cache = try SharedTranslationCache(fd: view.descriptor())
        #expect(view.generation == 0 && view.epoch == 0 && view.sizes == 0)
        #expect(cache.generation == 0)
        let entries = UnsafeRawBufferPointer(start: view.entryPointer(0),
                                             count: Int(VSMMU_TLB_ENTRIES) * MemoryLayout<VSMMUTlbEntry>.stride)
        #expect(entries.allSatisfy { $0 == 0 })
        for i in 0..<Int(VSMMU_TLB_LOG) {
            let r = view.record(i)
            #expect(r.generation == 0 && r.inv.allSatisfy { $0 == 0 })
        }
        #expect(view.notify == 1 && view.reader(2) == 77 && view.reader(3) == 0xABAB_ABAB_ABAB_ABAB)
        #expect(cache.frontEndWantsMessages)
        view.notify = 0
        #expect(!cache.frontEndWantsMessages)
    }

    // MARK: Publishing

    @Test func aPublishedBlockIsFoundAtItsSlotWithItsFields() throws {
        let (cache, view) = try Self.make()
        let b = Self.block(sid: 5, ssid: 3, iova: 0x1234_5000, pa: 0x8765_4000, perm: 0b10_1011)
        #expect(cache.publish([b], madeAt: cache.generation) == 1)
        #expect(view.sizes == 1 << 12)
        let slot = Int(vsmmu_tlb_slot(5, Self.ssv | 3, 0x1234_5ABC, 12))
        let e = try #require(view.read(slot: slot))
        #expect(e.seq & 1 == 0 && e.seq != 0, "written under its seqlock: moved, and even")
        #expect(e.sid == 5 && e.ssidKey == Self.ssv | 3)
        #expect(e.iovaBase == 0x1234_5000 && e.paBase == 0x8765_4000)
        #expect(e.sizeLog2 == 12 && e.perm == 0b10_1011)
        #expect(view.lookup(sid: 5, ssidKey: Self.ssv | 3, iova: 0x1234_5FFF) == e)
        // Keyed by StreamID, ssid_key and block.
        #expect(view.lookup(sid: 5, ssidKey: 3, iova: 0x1234_5000) == nil)
        #expect(view.lookup(sid: 5, ssidKey: 0, iova: 0x1234_5000) == nil)
        #expect(view.lookup(sid: 6, ssidKey: Self.ssv | 3, iova: 0x1234_5000) == nil)
        #expect(view.lookup(sid: 5, ssidKey: Self.ssv | 3, iova: 0x1234_6000) == nil)

        // A 2 MiB block adds its size bit; a lookup anywhere in it finds it.
        let big = Self.block(sid: 5, iova: 0x4000_0000, pa: 0x8000_0000, log2: 21, perm: 0b01)
        #expect(cache.publish([big], madeAt: cache.generation) == 1)
        #expect(view.sizes == 1 << 12 | 1 << 21)
        let hit = try #require(view.lookup(sid: 5, iova: 0x401F_F123))
        #expect(hit.iovaBase == 0x4000_0000 && hit.paBase == 0x8000_0000 && hit.sizeLog2 == 21 && hit.perm == 0b01)

        // Rewritten in place: a reader that saw the old one sees seq move.
        var again = b
        again.paBase = 0x9999_9000
        #expect(cache.publish([again], madeAt: cache.generation) == 1)
        let e2 = try #require(view.read(slot: slot))
        #expect(e2.seq != e.seq && e2.seq & 1 == 0 && e2.paBase == 0x9999_9000)
        #expect(cache.count == 2)
    }

    // MARK: fit

    static func reply(iova: UInt64, pa: UInt64, log2: UInt8) -> WireTranslateReply {
        var r = WireTranslateReply()
        r.status = WireTranslateReply.ok; r.iovaBase = iova; r.paBase = pa; r.sizeLog2 = log2
        r.perm = WireTranslateReply.permRead
        return r
    }

    /// `fit`'s rule, by brute force: the largest 2^n (n from 12, at most the
    /// reply's size and VSMMU_TLB_MAX_LOG2) whose aligned block around
    /// `iova` lies inside the reply's block and in which `iova` and its
    /// output address have the same offset.
    static func reference(_ iova: UInt64, _ rep: WireTranslateReply) -> (iova: UInt64, pa: UInt64, log2: UInt8)? {
        guard rep.sizeLog2 >= 12, rep.sizeLog2 <= 64 else { return nil }
        let repSize: UInt64? = rep.sizeLog2 == 64 ? nil : UInt64(1) << rep.sizeLog2   // nil: 2^64
        guard iova >= rep.iovaBase || repSize == nil else { return nil }
        let off = iova &- rep.iovaBase
        if let repSize, off >= repSize { return nil }
        let pa = rep.paBase &+ off
        for n in stride(from: min(Int(rep.sizeLog2), Int(VSMMU_TLB_MAX_LOG2)), through: 12, by: -1) {
            let size = UInt64(1) << n
            let start = iova / size * size, paStart = pa / size * size
            guard iova - start == pa - paStart else { continue }
            guard start >= rep.iovaBase || repSize == nil else { continue }
            if let repSize { guard (start - rep.iovaBase) + size <= repSize else { continue } }
            return (start, paStart, UInt8(n))
        }
        return nil
    }

    @Test func fitReducesABlockWhoseOffsetsDisagree() throws {
        // A 2 MiB block whose output is 1 MiB off 2 MiB alignment: only 1 MiB
        // blocks have matching offsets.
        let rep = Self.reply(iova: 0x20_0000, pa: 0x4010_0000, log2: 21)
        let a = try #require(SharedTranslationCache.fit(0x21_2345, rep))
        #expect(a.iova == 0x20_0000 && a.pa == 0x4010_0000 && a.log2 == 20)
        let b = try #require(SharedTranslationCache.fit(0x3F_F000, rep))
        #expect(b.iova == 0x30_0000 && b.pa == 0x4020_0000 && b.log2 == 20)
        // Off by 0x3000: only pages agree.
        let pages = Self.reply(iova: 0x20_0000, pa: 0x4000_3000, log2: 21)
        let c = try #require(SharedTranslationCache.fit(0x21_2345, pages))
        #expect(c.iova == 0x21_2000 && c.pa == 0x4001_5000 && c.log2 == 12)
        // Aligned alike: the whole block.
        let whole = try #require(SharedTranslationCache.fit(0x21_2345, Self.reply(iova: 0x20_0000, pa: 0x4020_0000, log2: 21)))
        #expect(whole.iova == 0x20_0000 && whole.pa == 0x4020_0000 && whole.log2 == 21)

        // Everywhere in the block, for several misalignments, as the rule says.
        for paOffset: UInt64 in [0, 0x1000, 0x3000, 0x8000, 0x4_0000, 0x10_0000, 0x18_0000] {
            let r = Self.reply(iova: 0x20_0000, pa: 0x4000_0000 + paOffset, log2: 21)
            for iova in stride(from: UInt64(0x20_0000), to: 0x40_0000, by: 0x1_1000) {
                let got = SharedTranslationCache.fit(iova, r), want = Self.reference(iova, r)
                #expect(got?.iova == want?.iova && got?.pa == want?.pa && got?.log2 == want?.log2,
                        "iova 0x\(String(iova, radix: 16)), pa offset 0x\(String(paOffset, radix: 16))")
                // Whatever it is, it is a block a front end can use.
                if let got {
                    let m = (UInt64(1) << got.log2) - 1
                    #expect(got.iova & m == 0 && got.pa & m == 0 && got.iova <= iova && iova - got.iova <= m)
                    #expect(got.pa &+ (iova - got.iova) == r.paBase &+ (iova - r.iovaBase))
                }
            }
        }
    }

    @Test func fitRefusesAnAddressTheReplyDoesNotCover() {
        let rep = Self.reply(iova: 0x20_0000, pa: 0x4000_0000, log2: 21)
        #expect(SharedTranslationCache.fit(0x40_0000, rep) == nil)
        #expect(SharedTranslationCache.fit(0x1F_FFFF, rep) == nil)
        #expect(SharedTranslationCache.fit(0, rep) == nil)
        #expect(SharedTranslationCache.fit(0x20_0000, Self.reply(iova: 0x20_0000, pa: 0, log2: 11)) == nil)
    }

    /// An entry holds at most 2^VSMMU_TLB_MAX_LOG2: bypass (2^64) is split in two.
    @Test func fitOfBypassIsHalfTheSpace() throws {
        let rep = Self.reply(iova: 0, pa: 0, log2: 64)
        let low = try #require(SharedTranslationCache.fit(0x1234_5678_9000, rep))
        #expect(low.iova == 0 && low.pa == 0 && low.log2 == 63)
        let high = try #require(SharedTranslationCache.fit(0x8000_0000_0000_1000, rep))
        #expect(high.iova == 1 << 63 && high.pa == 1 << 63 && high.log2 == 63)
    }

    // MARK: Invalidation

    @Test func anInvalidationDropsExactlyWhatItCoversAndIsLogged() throws {
        let (cache, view) = try Self.make()
        let a = Self.block(asid: 7, iova: 0x10_0000, pa: 0x50_0000)
        let neighbour = Self.block(asid: 7, iova: 0x10_1000, pa: 0x50_1000)
        let otherASID = Self.block(asid: 8, iova: 0x20_0000, pa: 0x60_0000)
        let sameASID = Self.block(asid: 7, iova: 0x30_0000, pa: 0x70_0000)
        let all = [a, neighbour, otherASID, sameASID]
        #expect(cache.publish(all, madeAt: 0) == 4)
        #expect(all.allSatisfy { Self.present(view, $0) })

        let page = HostInvalidation.address(vmid: 1, asid: 7, address: 0x10_0000, size: 0x1000)
        Self.invalidate(cache, page)
        #expect(!Self.present(view, a))
        #expect(Self.present(view, neighbour) && Self.present(view, otherASID) && Self.present(view, sameASID))
        // The dropped slot reads as empty.
        let slotA = Int(vsmmu_tlb_slot(a.streamID, a.ssidKey, a.iovaBase, 12))
        #expect(view.read(slot: slotA)?.sizeLog2 == 0)
        #expect(cache.generation == 1 && view.generation == 1)
        var r = view.record(1 % Int(VSMMU_TLB_LOG))
        #expect(r.generation == 1)
        #expect(r.inv == Self.bytes(page))
        #expect(r.decoded.kind == UInt32(VSMMU_INV_ADDRESS))
        #expect(r.decoded.flags == UInt32(VSMMU_INV_ASID_VALID | VSMMU_INV_VMID_VALID))
        #expect(r.decoded.asid == 7 && r.decoded.vmid == 1 && r.decoded.addr == 0x10_0000 && r.decoded.size == 0x1000)

        let asid = HostInvalidation.asid(vmid: 1, asid: 7)
        Self.invalidate(cache, asid)
        #expect(!Self.present(view, neighbour) && !Self.present(view, sameASID))
        #expect(Self.present(view, otherASID))
        #expect(cache.count == 1)
        #expect(cache.generation == 2 && view.generation == 2)
        r = view.record(2)
        #expect(r.generation == 2 && r.inv == Self.bytes(asid))
        #expect(r.decoded.kind == UInt32(VSMMU_INV_ASID) && r.decoded.asid == 7)
        // The earlier record stays.
        #expect(view.record(1).generation == 1 && view.record(1).inv == Self.bytes(page))
    }

    /// Record g is at g % VSMMU_TLB_LOG; older ones are overwritten in turn.
    @Test func theLogWrapsByGeneration() throws {
        let (cache, view) = try Self.make()
        func inv(_ g: UInt64) -> HostInvalidation { .address(vmid: nil, asid: 1, address: g << 12, size: 0x1000) }
        for g in 1...70 as ClosedRange<UInt64> { Self.invalidate(cache, inv(g)) }
        #expect(view.generation == 70)
        let n = UInt64(VSMMU_TLB_LOG)
        for index in 0..<n {
            // the latest generation g <= 70 with g % n == index
            let g = index + (70 - index) / n * n
            let r = view.record(Int(index))
            #expect(r.generation == g, "record \(index)")
            #expect(r.inv == Self.bytes(inv(g)), "record \(index)")
        }
    }

    @Test func aBlockAnInvalidationSinceItWasMadeCoversIsLeftOut() throws {
        let (cache, view) = try Self.make()
        let p = Self.block(iova: 0x10_0000, pa: 0x50_0000)
        let q = Self.block(iova: 0x20_0000, pa: 0x60_0000)
        let madeAt = cache.generation
        // p is covered by an invalidation logged while the reply was made; q is not.
        Self.invalidate(cache, .address(vmid: 1, asid: 7, address: 0x10_0000, size: 0x1000))
        #expect(cache.publish([p, q], madeAt: madeAt) == 1)
        #expect(!Self.present(view, p) && Self.present(view, q))
        // Made after the invalidation: nothing raced it.
        #expect(cache.publish([p], madeAt: cache.generation) == 1)
        #expect(Self.present(view, p))

        // VSMMU_TLB_LOG records since: every one can still be checked.
        let r = Self.block(iova: 0x30_0000, pa: 0x70_0000)
        var since = cache.generation
        for _ in 0..<Int(VSMMU_TLB_LOG) { Self.invalidate(cache, .asid(vmid: 1, asid: 8)) }
        #expect(cache.publish([r], madeAt: since) == 1)
        #expect(Self.present(view, r))
        // One more: too many to tell, nothing goes in.
        let s = Self.block(iova: 0x40_0000, pa: 0x80_0000)
        let t = Self.block(sid: 6, asid: 9, iova: 0x50_0000, pa: 0x90_0000)
        since = cache.generation
        for _ in 0...Int(VSMMU_TLB_LOG) { Self.invalidate(cache, .asid(vmid: 1, asid: 8)) }
        #expect(cache.publish([s, t], madeAt: since) == 0)
        #expect(!Self.present(view, s) && !Self.present(view, t))
    }

    // MARK: Waiting for readers

    @Test func withNothingDroppedOrLoggedTheWaitEndsAtOnce() throws {
        let (cache, view) = try Self.make()
        view.setReader(3, 1)   // inside since epoch 0, and never leaving
        #expect(cache.awaitReaders(timeoutNs: 20 * Self.ms))
        #expect(view.epoch == 0)
        // Publishing drops nothing either.
        cache.publish([Self.block(iova: 0x10_0000, pa: 0x50_0000)], madeAt: 0)
        #expect(cache.awaitReaders(timeoutNs: 20 * Self.ms))
        #expect(view.epoch == 0)
    }

    @Test func aReaderThatEnteredBeforeTheLastChangeHoldsTheWait() throws {
        let (cache, view) = try Self.make()
        Self.invalidate(cache, .all)
        let e = view.epoch
        view.setReader(63, e + 1)
        let t0 = Self.nowNs()
        #expect(!cache.awaitReaders(timeoutNs: 20 * Self.ms))
        #expect(Self.nowNs() - t0 >= 19 * Self.ms)
        #expect(view.epoch == e + 1, "the epoch moves before the wait")
        // The reader was never seen to leave: the next CMD_SYNC waits too.
        #expect(!cache.awaitReaders(timeoutNs: 20 * Self.ms))
        view.setReader(63, 0)
        #expect(cache.awaitReaders(timeoutNs: 20 * Self.ms))
        // Done: a stale slot value no longer matters until something changes.
        view.setReader(63, 1)
        #expect(cache.awaitReaders(timeoutNs: 20 * Self.ms))
    }

    /// A slot above the new epoch entered after it moved (it saw the
    /// drops); 0 is a reader outside.
    @Test(arguments: [UInt64(2), 0])
    func aReaderThatEnteredAfterOrLeftDoesNot(aboveOld: UInt64) throws {
        let (cache, view) = try Self.make()
        Self.invalidate(cache, .all)
        let e = view.epoch
        view.setReader(10, aboveOld == 0 ? 0 : e + aboveOld)
        view.setReader(11, 0)
        #expect(cache.awaitReaders(timeoutNs: 20 * Self.ms))
        #expect(view.epoch == e + 1)
    }

    /// The wait ends after the reader leaves, not before. The times are
    /// compared with each other, not with a sleep: on a loaded host the
    /// reader may leave before the wait even starts.
    @Test func theWaitEndsWhenTheReaderLeaves() throws {
        let (cache, view) = try Self.make()
        cache.publish([Self.block(iova: 0x10_0000, pa: 0x50_0000)], madeAt: 0)
        Self.invalidate(cache, .asid(vmid: 1, asid: 7))
        view.setReader(0, view.epoch + 1)
        let leftAt = Locked<UInt64>(0)
        startDetachedThread {
            usleep(10_000)
            leftAt.withLock { $0 = Self.nowNs() }
            view.setReader(0, 0)
        }
        #expect(cache.awaitReaders(timeoutNs: 2_000 * Self.ms))
        let doneAt = Self.nowNs()
        let left = leftAt.withLock { $0 }
        #expect(left != 0 && doneAt >= left, "the wait ended before the reader left")
    }

    // MARK: Concurrency

    /// The seqlock: a reader following the header's rule never takes an
    /// entry half rewritten. Two blocks that share a slot (different
    /// StreamID, address, output and permissions) take turns in it, with
    /// invalidations in between.
    @Test func aReaderNeverSeesATornEntry() throws {
        let (cache, view) = try Self.make()
        let a = Self.block(sid: 1, asid: 7, iova: 0x10_0000, pa: 0x1111_1000, perm: 0b01)
        let slot = vsmmu_tlb_slot(1, 0, 0x10_0000, 12)
        var j: UInt64 = 1
        while vsmmu_tlb_slot(2, 0, j << 12, 12) != slot { j += 1 }
        let b = Self.block(sid: 2, asid: 8, iova: j << 12, pa: 0xFFFF_E000_0000_0000 | 0x2222_2000, perm: 0b10_0110)
        func entry(_ x: Block) -> TLBRegionView.Entry {
            .init(seq: 0, sid: x.streamID, ssidKey: x.ssidKey, sizeLog2: x.sizeLog2, perm: x.perm,
                  iovaBase: x.iovaBase, paBase: x.paBase)
        }
        let empty = TLBRegionView.Entry(seq: 0, sid: 0, ssidKey: 0, sizeLog2: 0, perm: 0, iovaBase: 0, paBase: 0)
        let expected = [entry(a), entry(b), empty]

        let stop = Flag(), readerDone = Flag()
        let results = Locked<(reads: Int, seen: [Int], torn: [TLBRegionView.Entry])>((0, [0, 0, 0], []))
        startDetachedThread {
            var reads = 0, seen = [0, 0, 0], torn: [TLBRegionView.Entry] = []
            while !stop.value {
                for _ in 0..<1000 {
                    guard let e = view.read(slot: Int(slot)) else { continue }
                    reads += 1
                    if let k = expected.firstIndex(where: { $0.sameFields(e) }) { seen[k] += 1 } else if torn.count < 5 { torn.append(e) }
                }
            }
            results.withLock { $0 = (reads, seen, torn) }
            readerDone.set()
        }
        let end = Self.nowNs() + 300 * Self.ms
        var i = 0
        while Self.nowNs() < end {
            for _ in 0..<200 {
                i += 1
                cache.publish([i & 1 == 0 ? a : b], madeAt: cache.generation)
                if i % 7 == 0 { Self.invalidate(cache, .all) }
            }
        }
        stop.set()
        while !readerDone.value { usleep(1000) }
        let r = results.withLock { $0 }
        #expect(r.torn.isEmpty, "torn entries: \(r.torn)")
        #expect(r.reads > 0)
        #expect(r.seen[0] + r.seen[1] > 0, "seen: \(r.seen)")
    }
}
