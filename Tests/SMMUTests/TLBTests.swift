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
                       entry: .init(outputBase: PhysicalAddress(i << 12), permissions: rw, stage2: false), generation: tlb.generation)
        }
        #expect(tlb.count <= 64)
    }
}

/// Replacement may forget any entry (16.2: caching is optional), but a hit
/// must still be the translation inserted for that address and tag, through
/// evictions, removals and slot reuse.
@Test func hitsStayExactThroughEvictionAndInvalidation() {
    let tlb = TLB(capacity: 64)
    let tags = [TLB.Tag(el2: false, vmid: 1, asid: 5), TLB.Tag(el2: false, vmid: 1, asid: 6)]
    func output(_ page: UInt64, _ t: Int) -> PhysicalAddress { 0x1_0000_0000 + page << 16 + UInt64(t) << 12 }
    for i in 0..<2000 as Range<UInt64> {
        let page = (i * 37) % 300, t = Int(i % 2)
        tlb.insert(tag: tags[t], inputAddress: page << 12, sizeLog2: 12,
                   entry: .init(outputBase: output(page, t), permissions: .read, stage2: false),
                   generation: tlb.generation)
        if i % 7 == 0 {
            tlb.invalidate(.va(vmid: 1, asid: 5, address: ((i * 11) % 300) << 12, size: 0x3000, leafOnly: true,
                               el2: false))
        }
        _ = tlb.lookup(tag: tags[Int(i / 3) % 2], address: ((i * 13) % 300) << 12)
    }
    #expect(tlb.count <= 64)
    var hits = 0
    for page in 0..<300 as Range<UInt64> {
        for t in 0..<2 {
            guard let hit = tlb.lookup(tag: tags[t], address: page << 12 | 0x123) else { continue }
            hits += 1
            #expect(hit.entry.outputBase == output(page, t) && hit.sizeLog2 == 12)
        }
    }
    #expect(hits > 0)
}

/// A guest can make fresh ASID/VMID pairs without end (rewriting CDs and
/// STEs, never TLBI_NSNH_ALL): what the TLB remembers about them stays
/// bounded, and VA invalidations stay exact after that record gives up.
struct TLBOwnerBoundTests {
    @Test func ownerRecordIsBoundedAndVAInvalidationStillExact() {
        let tlb = TLB()
        let g = tlb.generation
        let entry = TLB.Entry(outputBase: 0x9000, permissions: .read, stage2: false)
        for vmid in UInt16(0)..<4 {
            for asid in UInt16(0)..<4096 {
                tlb.insert(tag: .init(el2: false, vmid: vmid, asid: asid), inputAddress: UInt64(asid) << 12,
                           sizeLog2: 12, entry: entry, generation: g)
            }
        }
        #expect(tlb.recordedOwners <= TLB.maxRecordedOwners)
        // 4.4.2.4: TLBI_NH_VA drops the entry of that ASID and VMID, and no other.
        let target = TLB.Tag(el2: false, vmid: 3, asid: 4095)
        let neighbour = TLB.Tag(el2: false, vmid: 2, asid: 4095)
        #expect(tlb.lookup(tag: target, address: 4095 << 12) != nil)
        tlb.invalidate(.va(vmid: 3, asid: 4095, address: 4095 << 12, size: 4096, leafOnly: true, el2: false))
        #expect(tlb.lookup(tag: target, address: 4095 << 12) == nil)
        #expect(tlb.lookup(tag: neighbour, address: 4095 << 12) != nil)
    }
}
