/// Little-endian writer, for the wire messages and the durable state image.
public struct ByteWriter: Sendable {
    public var bytes: [UInt8] = []
    public init() { bytes.reserveCapacity(64) }
    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    public mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    public mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    public mutating func i32(_ v: Int32) { u32(UInt32(bitPattern: v)) }
    public mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }
    public mutating func zeros(_ n: Int) { bytes.append(contentsOf: repeatElement(0, count: n)) }
    /// `values` one after another, as `u64` each would (one copy on a
    /// little-endian host: the durable image is mostly its registers).
    public mutating func u64s(_ values: [UInt64]) {
        #if _endian(little)
        values.withUnsafeBytes { bytes.append(contentsOf: $0) }
        #else
        for v in values { u64(v) }
        #endif
    }
}

/// Little-endian reader; reads past the end yield zeros and set `overrun`
/// (wire callers check the size first; the durable-state decoder checks
/// `overrun` at the end).
public struct ByteReader: Sendable {
    public let bytes: [UInt8]
    public private(set) var at = 0
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public var overrun: Bool { at > bytes.count }
    public var remaining: Int { max(0, bytes.count - at) }
    mutating func take(_ n: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in 0..<n where at + i < bytes.count { v |= UInt64(bytes[at + i]) << (8 * UInt64(i)) }
        at += n
        return v
    }
    public mutating func u8() -> UInt8 { UInt8(truncatingIfNeeded: take(1)) }
    public mutating func u16() -> UInt16 { UInt16(truncatingIfNeeded: take(2)) }
    public mutating func u32() -> UInt32 { UInt32(truncatingIfNeeded: take(4)) }
    public mutating func u64() -> UInt64 { take(8) }
    public mutating func i32() -> Int32 { Int32(bitPattern: u32()) }
    public mutating func i64() -> Int64 { Int64(bitPattern: u64()) }
    public mutating func skip(_ n: Int) { at += n }
}
