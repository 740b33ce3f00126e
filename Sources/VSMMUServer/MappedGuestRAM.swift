import SMMU
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// Guest RAM regions mmap'd from the front end's descriptors, served to the
/// model through a RegionGuestMemory (which bounds every access).
final class MappedGuestRAM: @unchecked Sendable {
    let memory = RegionGuestMemory()

    /// One mmap: `base`/`length` are what munmap needs (the mapping starts
    /// at the page holding mmap_offset).
    struct Mapping: @unchecked Sendable {
        var guestAddress: UInt64
        var size: UInt64
        var base: UnsafeMutableRawPointer
        var length: Int
    }
    private let lock = Monitor()
    private var mappings: [UInt64: Mapping] = [:]

    /// Maps `fd` (which the caller still owns) and adds the region.
    func add(_ r: WireMemRegion, fd: FileDescriptor) -> Result<Void, Errno> {
        let page = UInt64(sysconf(Int32(_SC_PAGESIZE)))
        let delta = r.mmapOffset % page
        guard r.size > 0, r.size <= UInt64(Int.max) - delta,
              r.guestAddr &+ r.size == 0 || r.guestAddr &+ r.size > r.guestAddr,
              r.mmapOffset <= UInt64(Int64.max) else { return .failure(.invalidArgument) }
        let length = Int(r.size + delta)
        let p = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd.rawValue, off_t(r.mmapOffset - delta))
        guard let p, p != MAP_FAILED else { return .failure(Errno(rawValue: errno)) }
        let mapping = Mapping(guestAddress: r.guestAddr, size: r.size, base: p, length: length)
        do {
            try memory.add(.init(guestAddress: PhysicalAddress(r.guestAddr), size: r.size, host: p + Int(delta)))
        } catch {
            munmap(p, length)
            return .failure(error == .empty || error == .wraps ? .invalidArgument : .fileExists)
        }
        lock.withLock { mappings[r.guestAddr] = mapping }
        return .success(())
    }

    /// Removes the region added with exactly this address and size; the
    /// caller unmaps it once no walk can still be using it.
    struct NoSuchRegion: Error {}
    func remove(_ r: WireMemRegion) -> Result<Mapping, NoSuchRegion> {
        let found: Mapping? = lock.withLock {
            guard let m = mappings[r.guestAddr], m.size == r.size else { return nil }
            mappings[r.guestAddr] = nil
            return m
        }
        guard let found else { return .failure(NoSuchRegion()) }
        _ = try? memory.remove(guestAddress: PhysicalAddress(r.guestAddr))
        return .success(found)
    }

    /// Removes every region (disconnect); the caller unmaps them.
    func removeAll() -> [Mapping] {
        _ = memory.removeAll()
        return lock.withLock {
            let all = Array(mappings.values)
            mappings = [:]
            return all
        }
    }

    static func unmap(_ m: Mapping) { munmap(m.base, m.length) }
}
