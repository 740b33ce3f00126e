import Synchronization

/// Guest memory made of host-mapped regions (guest RAM mmap'd from file
/// descriptors by the backend, or plain allocations in tests and in C
/// programs). Every access is bounded against the region list: an address
/// outside all regions, or an access straddling a region's end, aborts.
public final class RegionGuestMemory: GuestMemory, @unchecked Sendable {
    public struct Region: @unchecked Sendable {
        public var guestAddress: PhysicalAddress
        public var size: UInt64
        /// Host address of the region's first byte (the mapping outlives the region).
        public var host: UnsafeMutableRawPointer
        public init(guestAddress: PhysicalAddress, size: UInt64, host: UnsafeMutableRawPointer) {
            self.guestAddress = guestAddress; self.size = size; self.host = host
        }
        @inlinable func contains(_ address: PhysicalAddress, _ length: UInt64) -> Bool {
            address >= guestAddress && length <= size && address - guestAddress <= size - length
        }
    }

    public enum RegionError: Error, Equatable, CustomStringConvertible {
        case empty, wraps, overlaps(existing: PhysicalAddress), notFound(PhysicalAddress)
        public var description: String {
            switch self {
            case .empty: "region has size 0"
            case .wraps: "region wraps the 64-bit address space"
            case .overlaps(let base): "region overlaps the region at \(base)"
            case .notFound(let base): "no region at \(base)"
            }
        }
    }

    // Regions change rarely (memory hot-plug, reconnect); reads are hot, so
    // readers take a snapshot of an immutable array under a short lock.
    private let regions = Locked<[Region]>([])

    public init() {}

    public func snapshot() -> [Region] { regions.withLock { $0 } }

    public func add(_ region: Region) throws(RegionError) {
        guard region.size > 0 else { throw .empty }
        // Ending exactly at 2^64 is allowed; going past it is not.
        guard region.guestAddress.adding(region.size) != nil || region.guestAddress.raw &+ region.size == 0
        else { throw .wraps }
        try regions.withLock { (list: inout [Region]) throws(RegionError) in
            for r in list where region.guestAddress.raw < r.guestAddress.raw &+ r.size
                && r.guestAddress.raw < region.guestAddress.raw &+ region.size {
                throw .overlaps(existing: r.guestAddress)
            }
            list.append(region)
            list.sort { $0.guestAddress < $1.guestAddress }
        }
    }

    @discardableResult
    public func remove(guestAddress: PhysicalAddress) throws(RegionError) -> Region {
        try regions.withLock { (list: inout [Region]) throws(RegionError) in
            guard let i = list.firstIndex(where: { $0.guestAddress == guestAddress }) else {
                throw .notFound(guestAddress)
            }
            return list.remove(at: i)
        }
    }

    public func removeAll() -> [Region] { regions.withLock { let old = $0; $0 = []; return old } }

    /// Host pointer for `length` bytes at `address`, if one region holds them all.
    public func hostPointer(for address: PhysicalAddress, length: Int) -> UnsafeMutableRawPointer? {
        let len = UInt64(length)
        return regions.withLock { list in
            for r in list where r.contains(address, len) {
                return r.host + Int(address - r.guestAddress)
            }
            return nil
        }
    }

    public func read(at address: PhysicalAddress, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        guard let p = hostPointer(for: address, length: buffer.count) else { return false }
        if buffer.count > 0 { buffer.baseAddress!.copyMemory(from: p, byteCount: buffer.count) }
        return true
    }

    public func write(at address: PhysicalAddress, from buffer: UnsafeRawBufferPointer) -> Bool {
        guard let p = hostPointer(for: address, length: buffer.count) else { return false }
        if buffer.count > 0 { p.copyMemory(from: buffer.baseAddress!, byteCount: buffer.count) }
        return true
    }

    public func compareExchange64(at address: PhysicalAddress, expected: UInt64, desired: UInt64) -> UInt64? {
        guard address.isAligned(log2: 3), let p = hostPointer(for: address, length: 8) else { return nil }
        let atomic = UnsafeMutablePointer<UInt64>(OpaquePointer(p))
        return atomicCompareExchange64(atomic, expected: expected.littleEndian, desired: desired.littleEndian)
            .map { UInt64(littleEndian: $0) }
    }
}

/// Sequentially consistent CAS on shared memory (the guest's page tables are
/// shared with vCPUs running concurrently).
@inline(__always)
func atomicCompareExchange64(_ p: UnsafeMutablePointer<UInt64>, expected: UInt64, desired: UInt64) -> UInt64? {
    let atomic = UnsafeMutableRawPointer(p).assumingMemoryBound(to: Atomic<UInt64>.self)
    return atomic.pointee.compareExchange(expected: expected, desired: desired, ordering: .sequentiallyConsistent).original
}
