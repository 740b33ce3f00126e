/// A record read through `BitField`s: an STE or CD copied out of guest
/// memory, a command, an event or PRI record being built, a test's image.
protocol BitRecord {
    /// Word `i` (bits [64i+63:64i]) of the record.
    func word(_ i: Int) -> UInt64
}

/// A record written through `BitField`s (encoders and test builders).
protocol MutableBitRecord: BitRecord {
    mutating func setWord(_ i: Int, _ value: UInt64)
}

extension BitRecord {
    /// The field's bits, whatever its type: a reserved encoding included.
    func raw<Value>(_ f: BitField<Value>) -> UInt64 {
        let shift = f.lo % 64
        var value = word(f.lo / 64) >> UInt64(shift)
        if shift + f.width > 64 { value |= word(f.lo / 64 + 1) << UInt64(64 - shift) }
        return value & f.mask
    }

    subscript(_ f: BitField<Bool>) -> Bool { raw(f) != 0 }

    subscript<Value: FixedWidthInteger & UnsignedInteger>(_ f: BitField<Value>) -> Value {
        Value(truncatingIfNeeded: raw(f))
    }

    /// Nil for an encoding `Value` does not define.
    subscript<Value: RawRepresentable>(_ f: BitField<Value>) -> Value?
    where Value.RawValue: FixedWidthInteger & UnsignedInteger {
        Value(rawValue: Value.RawValue(truncatingIfNeeded: raw(f)))
    }

    /// The address, its bits outside the field zero.
    subscript<Address>(_ a: AddressField<Address>) -> Address { Address(raw(a.bits) << UInt64(a.addressLo)) }
}

extension MutableBitRecord {
    /// Writes `bits` (truncated to the field's width) into the field, leaving
    /// the rest of the record alone. Takes any encoding, a reserved one too.
    mutating func setRaw<Value>(_ f: BitField<Value>, _ bits: UInt64) {
        let i = f.lo / 64, shift = UInt64(f.lo % 64)
        let value = bits & f.mask
        setWord(i, (word(i) & ~(f.mask << shift)) | value << shift)
        if Int(shift) + f.width > 64 {
            let spill = UInt64(64) - shift, highMask = f.mask >> spill
            setWord(i + 1, (word(i + 1) & ~highMask) | value >> spill)
        }
    }

    mutating func set(_ f: BitField<Bool>, _ on: Bool = true) { setRaw(f, on ? 1 : 0) }

    mutating func set<Value: FixedWidthInteger & UnsignedInteger>(_ f: BitField<Value>, _ value: Value) {
        setRaw(f, UInt64(truncatingIfNeeded: value))
    }

    mutating func set<Value: RawRepresentable>(_ f: BitField<Value>, _ value: Value)
    where Value.RawValue: FixedWidthInteger & UnsignedInteger {
        setRaw(f, UInt64(truncatingIfNeeded: value.rawValue))
    }

    /// Writes the address bits the field holds; the others are dropped.
    mutating func set<Address>(_ a: AddressField<Address>, _ address: Address) {
        setRaw(a.bits, address.raw >> UInt64(a.addressLo))
    }
}

/// A record as an array of words (test images, records built word by word).
extension Array: BitRecord, MutableBitRecord where Element == UInt64 {
    func word(_ i: Int) -> UInt64 { self[i] }
    mutating func setWord(_ i: Int, _ value: UInt64) { self[i] = value }
}
