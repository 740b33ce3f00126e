import Testing
@testable import SMMU

/// `BitField` and `AddressField` over records of 64-bit words, bit n being
/// bit n % 64 of word n / 64 (the numbering of every IHI 0070 structure).
@Suite struct BitFieldTests {
    private enum Colour: UInt8 { case red = 0b00, green = 0b01, blue = 0b11 }   // 0b10 undefined

    @Test func fieldWithinOneWord() {
        var r = [UInt64](repeating: 0, count: 2)
        let f = BitField<UInt8>(93, 92)
        r.set(f, 0b10)
        #expect(r == [0, 0b10 << 28])
        #expect(r[f] == 0b10)
        // Writing leaves the neighbours alone and truncates to the width.
        r[1] |= 1 << 27 | 1 << 30
        r.set(f, 0xFF)
        #expect(r[1] == 1 << 27 | 0b11 << 28 | 1 << 30)
        #expect(r[f] == 0b11)
    }

    @Test func fieldStraddlingTwoWords() {
        var r = [UInt64](repeating: 0, count: 2)
        let f = BitField<UInt16>(71, 60)   // word 0 bits [63:60], word 1 bits [7:0]
        r.set(f, 0xABC)
        #expect(r == [0xC << 60, 0xAB])
        #expect(r[f] == 0xABC)
        r = [~0, ~0]
        r.set(f, 0)
        #expect(r == [~(0xF << 60), ~0xFF])
        #expect(r.raw(f) == 0)
    }

    @Test func sixtyFourBitFields() {
        var r = [UInt64](repeating: 0, count: 3)
        let aligned = BitField<UInt64>(191, 128)
        r.set(aligned, 0x0123_4567_89AB_CDEF)
        #expect(r == [0, 0, 0x0123_4567_89AB_CDEF])
        #expect(r[aligned] == 0x0123_4567_89AB_CDEF)
        let straddling = BitField<UInt64>(95, 32)
        r.set(straddling, ~0)
        #expect(r == [0xFFFF_FFFF_0000_0000, 0x0000_0000_FFFF_FFFF, 0x0123_4567_89AB_CDEF])
        #expect(r[straddling] == ~0)
        #expect(straddling.mask == ~0 && straddling.width == 64)
    }

    @Test func boolField() {
        var r: [UInt64] = [0]
        let f = BitField<Bool>(63)
        #expect(!r[f])
        r.set(f)
        #expect(r[f] && r == [1 << 63])
        r.set(f, false)
        #expect(r == [0])
    }

    @Test func enumFieldReadsNilForAnUndefinedEncoding() {
        var r: [UInt64] = [0, 0]
        let f = BitField<Colour>(65, 64)
        #expect(r[f] == .red)
        r.set(f, .blue)
        #expect(r == [0, 0b11] && r[f] == .blue)
        // setRaw writes what the enum cannot express; reading it gives nil.
        r.setRaw(f, 0b10)
        #expect(r[f] == nil && r.raw(f) == 0b10)
    }

    @Test func setRawRoundTrips() {
        var r = [UInt64](repeating: 0, count: 4)
        let f = BitField<UInt8>(133, 126)   // straddles words 1 and 2
        for bits: UInt64 in [0, 1, 0x55, 0xAA, 0xFF] {
            r.setRaw(f, bits)
            #expect(r.raw(f) == bits && r[f] == UInt8(bits))
        }
        r.setRaw(f, 0x1FF)                   // wider than the field: truncated
        #expect(r.raw(f) == 0xFF && r[0] == 0 && r[3] == 0)
    }

    @Test func addressFields() {
        var r = [UInt64](repeating: 0, count: 4)
        // STE.S2TTB: bits [243:196] hold address bits [51:4].
        let ttb = AddressField<PhysicalAddress>(243, 196, address: 51, 4)
        r.set(ttb, PhysicalAddress(0x000F_FFFF_FFFF_FFF0 | 0xF | 1 << 60))   // bits outside [51:4] are dropped
        #expect(r[3] == 0x000F_FFFF_FFFF_FFF0)
        #expect(r[ttb] == 0x000F_FFFF_FFFF_FFF0)
        #expect(ttb.addressMask == 0x000F_FFFF_FFFF_FFF0 && ttb.addressHi == 51)
        // E_PAGE_REQUEST's InputAddr[63:12] at [191:140].
        let page = AddressField<InputAddress>(191, 140, address: 63, 12)
        r = [0, 0, 0, 0]
        r.set(page, 0xFFFF_8000_1234_5678)
        #expect(r[2] == 0xFFFF_8000_1234_5000 && r[page] == 0xFFFF_8000_1234_5000)
        // One that straddles words 0 and 1: address bits [31:12] at [79:60].
        let straddling = AddressField<IntermediateAddress>(79, 60, address: 31, 12)
        r = [0, 0, 0, 0]
        r.set(straddling, 0xABCD_E123)
        #expect(r[0] == 0xE << 60 && r[1] == 0xABCD && r[straddling] == 0xABCD_E000)
    }
}
