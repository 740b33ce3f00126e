import Testing
@testable import SMMU

/// TLB semantics from IHI 0070 4.4 (TLB invalidation commands): entries are
/// tagged by VMID/ASID/regime, an address invalidation hits any block that
/// overlaps the range, and nothing else is disturbed.
struct TLBTests {
    let s1 = TLB.Tag(el2: false, vmid: 1, asid: 5)
    let otherASID = TLB.Tag(el2: false, vmid: 1, asid: 6)
    let otherVMID = TLB.Tag(el2: false, vmid: 2, asid: 5)
    let el2 = TLB.Tag(el2: true, vmid: nil, asid: 5)
    let rw: Permissions = [.read, .write]

    func filled() -> TLB {
        let tlb = TLB()
        let g = tlb.generation
        // A 2 MiB block at IOVA 0x4020_0000 -> PA 0x8000_0000, and 4 KiB pages.
        tlb.insert(tag: s1, inputAddress: 0x4020_0000, sizeLog2: 21,
                   entry: .init(outputBase: 0x8000_0000, permissions: rw, stage2: false), generation: g)
        tlb.insert(tag: otherASID, inputAddress: 0x1000, sizeLog2: 12,
                   entry: .init(outputBase: 0x9000, permissions: .read, stage2: false), generation: g)
        tlb.insert(tag: otherVMID, inputAddress: 0x1000, sizeLog2: 12,
                   entry: .init(outputBase: 0xA000, permissions: .read, stage2: false), generation: g)
        tlb.insert(tag: el2, inputAddress: 0x1000, sizeLog2: 12,
                   entry: .init(outputBase: 0xB000, permissions: .read, stage2: false), generation: g)
        return tlb
    }

    @Test func lookupFindsBlockByAnyAddressInside() {
        let tlb = filled()
        let hit = tlb.lookup(tag: s1, address: 0x403F_F123)
        #expect(hit?.entry.outputBase == 0x8000_0000)
        #expect(hit?.sizeLog2 == 21)
        #expect(tlb.lookup(tag: s1, address: 0x4040_0000) == nil)   // just past the block
        #expect(tlb.lookup(tag: otherASID, address: 0x4020_0000) == nil) // other ASID
    }

    @Test func vaInvalidationHitsOverlappingBlockOnly() {
        let tlb = filled()
        // TLBI_NH_VA of one 4 KiB page inside the 2 MiB block drops the block.
        tlb.invalidate(.va(vmid: 1, asid: 5, address: 0x4030_0000, size: 0x1000, leafOnly: true, el2: false))
        #expect(tlb.lookup(tag: s1, address: 0x4020_0000) == nil)
        #expect(tlb.lookup(tag: otherASID, address: 0x1000) != nil)
        #expect(tlb.lookup(tag: el2, address: 0x1000) != nil)
    }

    @Test func vaaInvalidationHitsEveryASIDOfTheVMID() {
        let tlb = filled()
        tlb.invalidate(.va(vmid: 1, asid: nil, address: 0x1000, size: 0x1000, leafOnly: false, el2: false))
        #expect(tlb.lookup(tag: otherASID, address: 0x1000) == nil)
        #expect(tlb.lookup(tag: otherVMID, address: 0x1000) != nil)
        #expect(tlb.lookup(tag: s1, address: 0x4020_0000) != nil)   // does not overlap
    }

    @Test func asidAndVMIDScopes() {
        var tlb = filled()
        tlb.invalidate(.asid(vmid: 1, asid: 6, el2: false))
        #expect(tlb.lookup(tag: otherASID, address: 0x1000) == nil)
        #expect(tlb.lookup(tag: s1, address: 0x4020_0000) != nil)
        #expect(tlb.lookup(tag: el2, address: 0x1000) != nil)

        tlb = filled()
        tlb.invalidate(.vmidAll(1))
        #expect(tlb.lookup(tag: s1, address: 0x4020_0000) == nil)
        #expect(tlb.lookup(tag: otherASID, address: 0x1000) == nil)
        #expect(tlb.lookup(tag: otherVMID, address: 0x1000) != nil)

        tlb = filled()
        tlb.invalidate(.allNonHyp)
        #expect(tlb.count == 1)
        #expect(tlb.lookup(tag: el2, address: 0x1000) != nil)
        tlb.invalidate(.allEL2)
        #expect(tlb.count == 0)
    }

    @Test func walkThatRacedWithInvalidationIsNotCached() {
        let tlb = TLB()
        let before = tlb.generation
        tlb.invalidate(.allNonHyp)           // a TLBI lands while the walk runs
        tlb.insert(tag: s1, inputAddress: 0x1000, sizeLog2: 12,
                   entry: .init(outputBase: 0x2000, permissions: rw, stage2: false), generation: before)
        #expect(tlb.lookup(tag: s1, address: 0x1000) == nil)
    }

    @Test func capacityIsBounded() {
        let tlb = TLB(capacity: 64)
        for i in 0..<1000 as Range<UInt64> {
            tlb.insert(tag: s1, inputAddress: i << 12, sizeLog2: 12,
                       entry: .init(outputBase: i << 12, permissions: rw, stage2: false), generation: tlb.generation)
        }
        #expect(tlb.count <= 64)
    }
}
