import SMMU
import Testing
@testable import VSMMUServer

/// FrontEndShadow's index looks at the entries near an invalidation only;
/// it must drop exactly what the shared rule (`HostInvalidation.covers`)
/// drops from the whole set, for every kind of entry and invalidation.
@Suite("Front-end shadow index")
struct ShadowEntriesTests {
    typealias Entry = FrontEndShadow.Entry

    /// A small deterministic generator (xorshift64*), so a failure repeats.
    struct Mix { var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state >> 12; state ^= state << 25; state ^= state >> 27
            return state &* 0x2545_F491_4F6C_DD1D
        }
        mutating func pick<T>(_ a: [T]) -> T { a[Int(next() % UInt64(a.count))] }
    }

    /// Entries clustered the way DMA mappings are (pages near each other,
    /// IOVAs near the top of a 32-bit space), with blocks, bypass entries,
    /// TBI-tagged bases and global ones among them.
    static func randomEntry(_ m: inout Mix) -> Entry {
        let sizeLog2 = m.pick([12, 12, 12, 14, 16, 21, 30, 64] as [UInt8])
        let bypass = sizeLog2 == 64
        var base = sizeLog2 == 64 ? 0 : (0xFFF0_0000 + (m.next() % 0x40_0000)) & ~((UInt64(1) << sizeLog2) - 1)
        if !bypass && m.next() % 8 == 0 { base |= 0x5A00_0000_0000_0000 }   // a TBI tag
        return Entry(tags: CachedTranslationTags(streamID: UInt32(m.next() % 3), substreamID: m.pick([nil, 0, 1]),
                                                 asid: bypass ? nil : m.pick([nil, 1, 2]), vmid: m.pick([nil, 1]),
                                                 inputBase: base, sizeLog2: sizeLog2, bypass: bypass,
                                                 global: !bypass && m.next() % 6 == 0),
                     ats: m.next() % 2 == 0)
    }

    static func randomInvalidation(_ m: inout Mix) -> HostInvalidation {
        let address = (0xFFF0_0000 + (m.next() % 0x40_0000)) & ~0xFFF
        let size = m.pick([0x1000, 0x3000, 0x1_0000, 0x20_0000, 0x1_0000_0000, 0, UInt64.max - 0xFFF] as [UInt64])
        switch m.next() % 8 {
        case 0: return .all
        case 1: return .streams(first: UInt32(m.next() % 3), count: 1)
        case 2: return .asid(vmid: m.pick([nil, 1]), asid: m.pick([1, 2]))
        case 3: return m.next() % 2 == 0 ? .vmid(1) : .ipa(vmid: 1, address: address, size: size)
        case 4: return .atc(streamID: UInt32(m.next() % 3), substreamID: m.pick([nil, 0, 1]), address: address,
                            size: size, global: m.next() % 2 == 0)
        default: return .address(vmid: m.pick([nil, 1]), asid: m.pick([nil, 1, 2]), address: address, size: size)
        }
    }

    @Test(arguments: [HostCache.translations, .atc])
    func dropsWhatTheRuleDropsFromTheWholeSet(_ cache: HostCache) {
        var m = Mix(state: cache == .atc ? 7 : 1)
        for _ in 0..<200 {
            var index = ShadowEntries()
            var all = Set<Entry>()
            for _ in 0..<Int(m.next() % 80) {
                let e = Self.randomEntry(&m)
                index.insert(e); all.insert(e)
            }
            #expect(index.count == all.count)
            for _ in 0..<10 {
                let inv = Self.randomInvalidation(&m)
                let kept = all.filter { !inv.covers($0.tags, in: cache) }
                let dropped: Bool
                // FrontEndShadow empties the translation cache's index itself
                // for `.all`; an ATC is never emptied by it (the rule).
                let flush = inv == .all && cache == .translations
                if flush { dropped = !index.isEmpty; index.removeAll() }
                else { dropped = index.remove(coveredBy: inv, in: cache) }
                #expect(dropped == (kept.count != all.count), "\(inv)")
                all = kept
                #expect(index.count == all.count, "\(inv)")
                // What is left is what the rule leaves: nothing it covers is
                // reported by the next identical invalidation.
                if !flush {
                    let again = index.remove(coveredBy: inv, in: cache)
                    #expect(!again, "\(inv)")
                }
            }
        }
    }
}
