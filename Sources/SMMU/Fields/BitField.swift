/// A field [hi:lo] of a record of little-endian 64-bit words, numbered as
/// IHI 0070 numbers its structures: bit n of the record is bit n % 64 of
/// word n / 64. A field is at most 64 bits wide and may straddle two words.
///
/// `Value` is what reading the field gives (`BitRecord` subscripts): `Bool`
/// for a one-bit field, an unsigned integer, or an enum over one, which
/// reads nil for an encoding it does not define (the caller then applies
/// the spec's rule for it: ILLEGAL, or "behaves as" another value).
/// Declared once per structure (`STE.Fields`, `CD.Fields`, ...) and used to
/// decode, to encode and by the tests' builders.
struct BitField<Value>: Sendable, Hashable {
    let hi: Int
    let lo: Int

    init(_ hi: Int, _ lo: Int) {
        assert(lo >= 0 && hi >= lo && hi - lo < 64, "a field is [hi:lo], at most 64 bits wide")
        self.hi = hi
        self.lo = lo
    }

    var width: Int { hi - lo + 1 }
    /// `width` ones, at bit 0.
    var mask: UInt64 { width == 64 ? ~0 : (1 << UInt64(width)) &- 1 }
}

extension BitField where Value == Bool {
    /// A one-bit field.
    init(_ bit: Int) { self.init(bit, bit) }
}

/// An address of kind `Address` held in record bits [hi:lo] that stand for
/// address bits [addressHi:addressLo] (the same width); address bits
/// outside that range read as zero and are dropped when written. For
/// example STE.S2TTB, a PA, is record bits [243:196], address bits [51:4]
/// (5.2): `AddressField<PhysicalAddress>(243, 196, address: 51, 4)`.
struct AddressField<Address: SMMUAddress>: Sendable, Hashable {
    let bits: BitField<UInt64>
    let addressLo: Int

    init(_ hi: Int, _ lo: Int, address addressHi: Int, _ addressLo: Int) {
        assert(hi - lo == addressHi - addressLo, "record and address ranges have the same width")
        bits = BitField(hi, lo)
        self.addressLo = addressLo
    }

    var addressHi: Int { addressLo + bits.width - 1 }
    /// The address bits the field can hold, in place.
    var addressMask: UInt64 { bits.mask << UInt64(addressLo) }
}
