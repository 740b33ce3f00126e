import Testing
@testable import SMMU

@Test func configurationDefaultsAreValid() throws {
    try SMMUConfiguration().validate()
}

@Test func regionMemoryBoundsAccesses() throws {
    let buf = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 4096)
    defer { buf.deallocate() }
    let mem = RegionGuestMemory()
    try mem.add(.init(guestAddress: 0x4000_0000, size: 4096, host: buf))
    #expect(mem.write64(at: 0x4000_0ff8, 0x1122_3344_5566_7788))
    #expect(mem.read64(at: 0x4000_0ff8) == 0x1122_3344_5566_7788)
    #expect(mem.read64(at: 0x4000_0ffc) == nil)   // straddles the end
    #expect(mem.read64(at: 0x3fff_fff8) == nil)   // below the region
    #expect(mem.compareExchange64(at: 0x4000_0ff8, expected: 0x1122_3344_5566_7788, desired: 5) == 0x1122_3344_5566_7788)
    #expect(mem.read64(at: 0x4000_0ff8) == 5)
    #expect(throws: RegionGuestMemory.RegionError.overlaps(existing: 0x4000_0000)) {
        try mem.add(.init(guestAddress: 0x4000_0800, size: 4096, host: buf))
    }
}
