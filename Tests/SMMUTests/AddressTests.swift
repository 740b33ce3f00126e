import Testing
@testable import SMMU

/// The address kinds (Memory/Addresses.swift): the arithmetic and alignment
/// they offer, overflow at 2^64 included.
@Suite struct AddressTests {
    @Test func aWrapperIsAWord() {
        // Free at run time: the layout of the UInt64 inside.
        #expect(MemoryLayout<PhysicalAddress>.size == 8 && MemoryLayout<PhysicalAddress>.alignment == 8)
        #expect(MemoryLayout<IntermediateAddress>.stride == 8 && MemoryLayout<InputAddress>.stride == 8)
        #expect(MemoryLayout<PhysicalAddress?>.size == 9)   // as UInt64?
    }

    @Test func rawBitsDescriptionAndOrder() {
        let pa = PhysicalAddress(0x8000_1234)
        #expect(pa.raw == 0x8000_1234 && pa.rawValue == 0x8000_1234)
        #expect(PhysicalAddress(rawValue: 0x10) == 0x10)
        #expect("\(pa)" == "0x80001234" && "\(IntermediateAddress(0))" == "0x0")
        #expect([PhysicalAddress(3), 1, 2].sorted() == [1, 2, 3])
        #expect(Set<InputAddress>([5, 5, 6]).count == 2)
    }

    @Test func offsetsAndOverflowAt2To64() {
        let top = PhysicalAddress(UInt64.max)
        // `+` for sums that cannot overflow.
        #expect(PhysicalAddress(0x1000) + 0x20 == 0x1020)
        // `&+` wraps modulo 2^64.
        #expect(top &+ 1 == 0)
        #expect(PhysicalAddress(0xFFFF_FFFF_FFFF_F000) &+ 0x2000 == 0x1000)
        // `adding` refuses to pass 2^64 - 1, and reaches it exactly.
        #expect(top.adding(1) == nil)
        #expect(PhysicalAddress(UInt64.max - 7).adding(7) == top)
        #expect(PhysicalAddress(1 << 63).adding(1 << 63) == nil)
        #expect(IntermediateAddress(0x1000).adding(0) == 0x1000)
        // The distance between two addresses of one kind.
        #expect(PhysicalAddress(0x5000) - PhysicalAddress(0x4000) == 0x1000)
        #expect(top - PhysicalAddress(0) == UInt64.max)
    }

    @Test func alignmentBlockOffsetsAndSizes() {
        let a = InputAddress(0xFFFF_8000_1234_5678)
        #expect(a.alignedDown(log2: 0) == a)
        #expect(a.alignedDown(log2: 12) == 0xFFFF_8000_1234_5000)
        #expect(a.alignedDown(log2: 63) == InputAddress(1 << 63))
        #expect(a.alignedDown(log2: 64) == 0 && a.alignedDown(log2: 255) == 0)
        #expect(a.offset(inBlockLog2: 12) == 0x678)
        #expect(a.offset(inBlockLog2: 0) == 0)
        #expect(a.offset(inBlockLog2: 64) == a.raw)   // the whole address space is one block
        #expect(a.alignedDown(log2: 21) &+ a.offset(inBlockLog2: 21) == a)
        #expect(PhysicalAddress(0x1008).isAligned(log2: 3) && !PhysicalAddress(0x1004).isAligned(log2: 3))
        #expect(PhysicalAddress(UInt64.max).isAligned(log2: 0) && PhysicalAddress(0).isAligned(log2: 64))
        // Address size checks (3.4): bits [63:n] zero.
        #expect(PhysicalAddress((1 << 48) - 1).fits(bits: 48) && !PhysicalAddress(1 << 48).fits(bits: 48))
        #expect(PhysicalAddress(UInt64.max).fits(bits: 64) && PhysicalAddress(0).fits(bits: 0))
        #expect(!PhysicalAddress(1).fits(bits: 0))
    }

    /// The spelled-out conversions of 3.4 keep the bits; nothing else converts.
    @Test func conversionsKeepTheBits() {
        let input = InputAddress(0x80_4000_1234)
        #expect(IntermediateAddress(bypassingStage1: input).raw == input.raw)
        #expect(PhysicalAddress(bypassingTranslation: input).raw == input.raw)
        #expect(PhysicalAddress(bypassingStage2: IntermediateAddress(0x9000)) == 0x9000)
    }
}
