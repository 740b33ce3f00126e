/// Guest physical memory as the SMMU sees it: reads copy bytes out, writes copy
/// bytes in, and any access to an address that no RAM backs fails cleanly
/// (the caller turns that into the architected external abort). Every
/// access is at a `PhysicalAddress`: an IPA reaches memory only through a
/// stage-2 walk or the explicit `PhysicalAddress(bypassingStage2:)`.
///
/// The guest may rewrite its tables at any time, so callers copy a descriptor
/// out once and validate the copy, never the memory behind it.
public protocol GuestMemory: AnyObject, Sendable {
    /// Copies `buffer.count` bytes from guest physical `address`. False on abort.
    func read(at address: PhysicalAddress, into buffer: UnsafeMutableRawBufferPointer) -> Bool
    /// Copies `buffer` to guest physical `address`. False on abort.
    func write(at address: PhysicalAddress, from buffer: UnsafeRawBufferPointer) -> Bool
    /// Atomic 64-bit compare-and-swap of a naturally aligned word (for HTTU
    /// updates of access flag and dirty state). Nil on abort; otherwise the
    /// value that was there (the swap happened iff it equals `expected`).
    func compareExchange64(at address: PhysicalAddress, expected: UInt64, desired: UInt64) -> UInt64?
}

extension GuestMemory {
    /// Little-endian 64-bit load; nil on abort.
    @inlinable public func read64(at address: PhysicalAddress) -> UInt64? {
        var value: UInt64 = 0
        let ok = withUnsafeMutableBytes(of: &value) { read(at: address, into: $0) }
        return ok ? UInt64(littleEndian: value) : nil
    }

    /// Little-endian 32-bit load; nil on abort.
    @inlinable public func read32(at address: PhysicalAddress) -> UInt32? {
        var value: UInt32 = 0
        let ok = withUnsafeMutableBytes(of: &value) { read(at: address, into: $0) }
        return ok ? UInt32(littleEndian: value) : nil
    }

    @inlinable @discardableResult
    public func write64(at address: PhysicalAddress, _ value: UInt64) -> Bool {
        var le = value.littleEndian
        return withUnsafeBytes(of: &le) { write(at: address, from: $0) }
    }

    @inlinable @discardableResult
    public func write32(at address: PhysicalAddress, _ value: UInt32) -> Bool {
        var le = value.littleEndian
        return withUnsafeBytes(of: &le) { write(at: address, from: $0) }
    }

    /// Copies `count` consecutive little-endian 64-bit words out (a descriptor
    /// such as an STE, a CD or a queue entry). Nil on abort.
    public func readWords(at address: PhysicalAddress, count: Int) -> [UInt64]? {
        var words = [UInt64](repeating: 0, count: count)
        let ok = words.withUnsafeMutableBytes { read(at: address, into: $0) }
        guard ok else { return nil }
        for i in 0..<count { words[i] = UInt64(littleEndian: words[i]) }
        return words
    }

    /// Writes consecutive little-endian 64-bit words (a queue record).
    @discardableResult
    public func writeWords(at address: PhysicalAddress, _ words: [UInt64]) -> Bool {
        let le = words.map { $0.littleEndian }
        return le.withUnsafeBytes { write(at: address, from: $0) }
    }
}
