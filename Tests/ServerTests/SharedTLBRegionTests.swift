import CVSMMU
import Foundation
import SMMU
import SystemPackage
import Testing
@testable import VSMMUServer
#if canImport(Glibc)
import Glibc
#endif

/// The shared translation cache as a front end sees it (vsmmu-protocol.h,
/// VSMMUTlbRegion): the test maps the region itself and reads it by the
/// header's rules (the seqlock, `vsmmu_tlb_slot`, the log, reader slots),
/// never through the backend's own bookkeeping.
@Suite("Shared translation cache region")
struct SharedTLBRegionTests {
    /// A region as QEMU makes one, the backend's view of it, and the test's mapping.
    final class Fixture: @unchecked Sendable {
        let cache: SharedTranslationCache
        let view: UnsafeMutableRawPointer
        init() throws {
            let fd = vsmmu_shim_sealed_memfd("vsmmu-test-tlb", UInt64(SharedTranslationCache.size))
            #expect(fd >= 0)
            let mine = dup(fd)
            cache = try SharedTranslationCache(fd: FileDescriptor(rawValue: fd))
            view = mmap(nil, SharedTranslationCache.size, PROT_READ | PROT_WRITE, MAP_SHARED, mine, 0)!
            close(mine)
        }
        deinit { munmap(view, SharedTranslationCache.size) }

        func field(_ k: KeyPath<VSMMUTlbRegion, UInt64>) -> UInt64 {
            vsmmu_shim_load_acquire64(view + MemoryLayout<VSMMUTlbRegion>.offset(of: k)!)
        }
        var region: UnsafeMutablePointer<VSMMUTlbRegion> { view.assumingMemoryBound(to: VSMMUTlbRegion.self) }

        func lookup(sid: UInt32, ssidKey: UInt32 = 0, iova: UInt64) -> VSMMUTlbEntry? {
            SharedTLBRegionTests.lookup(view, sid: sid, ssidKey: ssidKey, iova: iova)
        }

        func setReader(_ i: Int, _ value: UInt64) {
            vsmmu_shim_store_release64(view + MemoryLayout<VSMMUTlbRegion>.offset(of: \.reader)!
                                       + i * MemoryLayout<VSMMUTlbReader>.stride, value)
        }
    }

    static func field(_ view: UnsafeRawPointer, _ k: KeyPath<VSMMUTlbRegion, UInt64>) -> UInt64 {
        vsmmu_shim_load_acquire64(view + MemoryLayout<VSMMUTlbRegion>.offset(of: k)!)
    }

    /// The front end's lookup in the region at `view`: the entry holding
    /// `iova`, read under its seqlock.
    static func lookup(_ view: UnsafeRawPointer, sid: UInt32, ssidKey: UInt32 = 0, iova: UInt64) -> VSMMUTlbEntry? {
        var sizes = field(view, \.sizes)
        let entries = view + MemoryLayout<VSMMUTlbRegion>.offset(of: \.entry)!
        while sizes != 0 {
            let log2 = UInt8(sizes.trailingZeroBitCount)
            sizes &= sizes - 1
            let slot = Int(vsmmu_tlb_slot(sid, ssidKey, iova, UInt32(log2)))
            let p = entries + slot * MemoryLayout<VSMMUTlbEntry>.stride
            let seq = vsmmu_shim_load_acquire32(p)
            if seq & 1 != 0 { continue }
            let e = p.load(as: VSMMUTlbEntry.self)
            vsmmu_shim_fence_seq_cst()
            guard vsmmu_shim_load_acquire32(p) == seq else { continue }
            let mask: UInt64 = log2 >= 64 ? .max : (1 << log2) - 1
            if e.size_log2 == log2, e.sid == sid, e.ssid_key == ssidKey, e.iova_base == iova & ~mask { return e }
        }
        return nil
    }

    static func tags(sid: UInt32 = 8, asid: UInt16? = 3, vmid: UInt16? = 1, base: UInt64, log2: UInt8 = 12)
        -> CachedTranslationTags {
        CachedTranslationTags(streamID: sid, asid: asid, vmid: vmid, inputBase: base, sizeLog2: log2)
    }

    static func block(sid: UInt32 = 8, asid: UInt16? = 3, iova: UInt64, pa: UInt64, log2: UInt8 = 12)
        -> SharedTranslationCache.Block {
        .init(streamID: sid, ssidKey: 0, iovaBase: iova, paBase: pa, sizeLog2: log2, perm: 3,
              tags: tags(sid: sid, asid: asid, base: iova, log2: log2))
    }

    static func record(_ inv: HostInvalidation) -> WireInvalidate { WireInvalidate(inv)! }

    @Test func refusesUnsealedAndWrongSize() throws {
        let plain = vsmmu_shim_memfd("vsmmu-test-tlb", UInt64(SharedTranslationCache.size))
        #expect(throws: SharedTranslationCache.Failure.self) { try SharedTranslationCache(fd: FileDescriptor(rawValue: plain)) }
        let small = vsmmu_shim_sealed_memfd("vsmmu-test-tlb", 4096)
        do {
            _ = try SharedTranslationCache(fd: FileDescriptor(rawValue: small))
            Issue.record("a 4 KiB region was accepted")
        } catch {
            #expect(error.errno == EINVAL)
        }
    }

    @Test func publishedBlockIsFoundByTheFrontEndsRule() throws {
        let f = try Fixture()
        #expect(f.lookup(sid: 8, iova: 0x10_0000) == nil)
        #expect(f.cache.publish([Self.block(iova: 0x10_0000, pa: 0x4010_0000)], madeAt: 0) == 1)
        let e = try #require(f.lookup(sid: 8, iova: 0x10_0abc))
        #expect(e.pa_base == 0x4010_0000 && e.size_log2 == 12 && e.perm == 3 && e.seq & 1 == 0)
        #expect(f.field(\.sizes) & (1 << 12) != 0)
        // Another StreamID, and the next page, are not this entry.
        #expect(f.lookup(sid: 9, iova: 0x10_0000) == nil)
        #expect(f.lookup(sid: 8, iova: 0x10_1000) == nil)
    }

    @Test func invalidationDropsOnlyWhatItCoversAndIsLogged() throws {
        let f = try Fixture()
        f.cache.publish([Self.block(iova: 0x10_0000, pa: 0x4010_0000), Self.block(iova: 0x10_1000, pa: 0x4011_0000),
                         Self.block(asid: 4, iova: 0x20_0000, pa: 0x4020_0000)], madeAt: 0)
        let page = HostInvalidation.address(vmid: 1, asid: 3, address: 0x10_0000, size: 0x1000)
        f.cache.invalidate(page, record: Self.record(page))
        #expect(f.lookup(sid: 8, iova: 0x10_0000) == nil)
        #expect(f.lookup(sid: 8, iova: 0x10_1000) != nil)
        #expect(f.lookup(sid: 8, iova: 0x20_0000) != nil)
        #expect(f.field(\.generation) == 1)
        // The log record for generation 1, in the INVALIDATE message's bytes.
        let rec = f.view + MemoryLayout<VSMMUTlbRegion>.offset(of: \.log)! + 1 * MemoryLayout<VSMMUTlbLogRecord>.stride
        #expect(vsmmu_shim_load_acquire64(rec) == 1)
        var w = WireWriter(); Self.record(page).encode(into: &w)
        let bytes = [UInt8](UnsafeRawBufferPointer(start: rec + MemoryLayout<VSMMUTlbLogRecord>.offset(of: \.inv)!,
                                                   count: MemoryLayout<VSMMUInval>.size))
        #expect(bytes == w.bytes)
        // An ASID invalidation drops that ASID's entries only.
        let asid4 = HostInvalidation.asid(vmid: 1, asid: 4)
        f.cache.invalidate(asid4, record: Self.record(asid4))
        #expect(f.lookup(sid: 8, iova: 0x20_0000) == nil)
        #expect(f.lookup(sid: 8, iova: 0x10_1000) != nil)
        #expect(f.field(\.generation) == 2)
    }

    @Test func publishLeavesOutWhatRacedAnInvalidation() throws {
        let f = try Fixture()
        let madeAt = f.cache.generation
        let page = HostInvalidation.address(vmid: 1, asid: 3, address: 0x10_0000, size: 0x1000)
        f.cache.invalidate(page, record: Self.record(page))
        // Made before the invalidation: the covered block stays out, the other goes in.
        #expect(f.cache.publish([Self.block(iova: 0x10_0000, pa: 0x4010_0000),
                                 Self.block(iova: 0x30_0000, pa: 0x4030_0000)], madeAt: madeAt) == 1)
        #expect(f.lookup(sid: 8, iova: 0x10_0000) == nil)
        #expect(f.lookup(sid: 8, iova: 0x30_0000) != nil)
        // Made after it: in.
        #expect(f.cache.publish([Self.block(iova: 0x10_0000, pa: 0x4010_0000)], madeAt: f.cache.generation) == 1)
        // More invalidations since than the log holds: nothing can be told, nothing goes in.
        let early = f.cache.generation
        let other = HostInvalidation.asid(vmid: 1, asid: 99)
        for _ in 0...Int(VSMMU_TLB_LOG) { f.cache.invalidate(other, record: Self.record(other)) }
        #expect(f.cache.publish([Self.block(iova: 0x40_0000, pa: 0x4040_0000)], madeAt: early) == 0)
    }

    @Test func fitMatchesOffsetsAndCoverage() {
        var rep = WireTranslateReply()
        rep.iovaBase = 0x20_0000; rep.paBase = 0x4030_0000; rep.sizeLog2 = 21   // PA only 1 MiB aligned
        let b = SharedTranslationCache.fit(0x21_2345, rep)
        #expect(b?.log2 == 20 && b?.iova == 0x20_0000 && b?.pa == 0x4030_0000)
        #expect(SharedTranslationCache.fit(0x40_0000, rep) == nil)   // outside the block
        var bypass = WireTranslateReply(); bypass.sizeLog2 = 64
        #expect(SharedTranslationCache.fit(0x1234_5000, bypass)?.log2 == 63)
    }

    @Test func readersAreWaitedForOnlyIfTheyEnteredBefore() throws {
        let f = try Fixture()
        #expect(f.cache.awaitReaders(timeoutNs: 1_000_000))   // nothing changed
        let inv = HostInvalidation.all
        f.cache.invalidate(inv, record: Self.record(inv))
        let epoch = f.field(\.epoch)
        f.setReader(5, epoch + 1)                   // entered before the next epoch
        #expect(!f.cache.awaitReaders(timeoutNs: 20_000_000))
        f.setReader(5, f.field(\.epoch) + 2)        // entered after it
        f.cache.invalidate(inv, record: Self.record(inv))
        #expect(f.cache.awaitReaders(timeoutNs: 20_000_000))
        // A reader that leaves while the backend waits releases it.
        f.setReader(5, 0)
        f.cache.invalidate(inv, record: Self.record(inv))
        f.setReader(7, f.field(\.epoch) + 1)
        let leaver = Thread { usleep(10_000); f.setReader(7, 0) }
        let start = Date()
        leaver.start()
        #expect(f.cache.awaitReaders(timeoutNs: 2_000_000_000))
        #expect(Date().timeIntervalSince(start) >= 0.009)
    }

    @Test func concurrentReaderNeverSeesATornEntry() throws {
        let f = try Fixture()
        let pas: Set<UInt64> = [0x4010_0000, 0x4020_0000]
        let done = Locked(false)
        let writer = Thread {
            for i in 0..<20_000 {
                f.cache.publish([Self.block(iova: 0x10_0000, pa: i % 2 == 0 ? 0x4010_0000 : 0x4020_0000)],
                                madeAt: f.cache.generation)
                if i % 3 == 0 {
                    let inv = HostInvalidation.address(vmid: 1, asid: 3, address: 0x10_0000, size: 0x1000)
                    f.cache.invalidate(inv, record: Self.record(inv))
                }
            }
            done.withLock { $0 = true }
        }
        writer.start()
        var seen = 0
        while !done.withLock({ $0 }) {
            if let e = f.lookup(sid: 8, iova: 0x10_0000) {
                #expect(pas.contains(e.pa_base) && e.perm == 3 && e.size_log2 == 12)
                seen += 1
            }
        }
        #expect(seen > 0)
    }
}
