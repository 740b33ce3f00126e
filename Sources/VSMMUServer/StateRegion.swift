import CVSMMU
import SMMU
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// The front end's state region (SET_STATE_REGION), where the model's
/// durable image is kept so that a backend killed at any instant leaves it
/// consistent for the next one (docs/backend.md, "Restart").
///
/// Layout (the backend's own; the front end only creates, seals and keeps
/// the memfd): a 4 KiB header — magic, the active slot, a commit count —
/// and two slots, each a length, a checksum (`checksum`) and an image. A commit
/// writes the slot that is not active and then, with a release store,
/// makes it the active one: a kill before that store leaves the previous
/// image active and whole, a kill after it leaves the new one.
///
/// One writer: the process holds a POSIX write lock on the region for as
/// long as it uses it (released by the kernel when the process dies), and
/// within the process one session at a time may hold it.
final class StateRegion: @unchecked Sendable {
    static let size = Wire.stateRegionSize
    private static let magic: UInt64 = 0x3152_5355_4D4D_5356   // "VSMMUSR1"
    private static let headerSize = 0x1000
    private static let slotSize = (size - headerSize) / 2
    private static let slotHeader = 16
    static var capacity: Int { slotSize - slotHeader }

    private let fd: FileDescriptor
    private let base: UnsafeMutableRawPointer
    private let identity: FileIdentity
    private var scratch = ByteWriter()
    /// The image in the active slot, as this process last wrote it.
    private var lastCommitted: [UInt8] = []

    enum Failure: Error, CustomStringConvertible {
        case notSealed, tooSmall(Int), busy, inUseHere, system(String, Errno), notARegion, corrupt(String)
        case image(DurableState.Invalid)

        var errno: Int32 {
            switch self {
            case .notSealed, .tooSmall, .notARegion: EINVAL
            case .busy, .inUseHere: EBUSY
            case .system(_, let e): e.rawValue
            case .corrupt, .image: EPROTO
            }
        }

        var description: String {
            switch self {
            case .notSealed: "the state region must be a memfd sealed against shrinking"
            case .tooSmall(let n): "the state region has \(n) bytes, at least \(StateRegion.size) are needed"
            case .busy: "the state region is held by another backend process (is the old one still running?)"
            case .inUseHere: "the state region is in use by another session of this backend"
            case .system(let call, let e): "\(call) of the state region: \(e)"
            case .notARegion: "the state region holds something else (a wrong descriptor?)"
            case .corrupt(let why): "the state region is corrupt: \(why)"
            case .image(let e): "\(e)"
            }
        }
    }

    private struct FileIdentity: Hashable { var device: UInt64, inode: UInt64 }
    private static let inUse = Locked(Set<FileIdentity>())

    /// Maps and locks `fd` (taken over: closed when the region is).
    init(fd: FileDescriptor) throws(Failure) {
        var st = stat()
        guard fstat(fd.rawValue, &st) == 0 else {
            let e = Errno(rawValue: Glibc.errno); try? fd.close(); throw .system("fstat", e)
        }
        // Sealed against shrinking: a front end cannot make the mapping SIGBUS.
        guard vsmmu_shim_sealed_against_shrinking(fd.rawValue) == 1 else { try? fd.close(); throw .notSealed }
        guard Int(st.st_size) >= Self.size else { try? fd.close(); throw .tooSmall(Int(st.st_size)) }
        let identity = FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
        guard Self.inUse.withLock({ $0.insert(identity).inserted }) else { try? fd.close(); throw .inUseHere }
        guard vsmmu_shim_lock_file(fd.rawValue) == 0 else {
            let e = Errno(rawValue: Glibc.errno)
            Self.inUse.withLock { _ = $0.remove(identity) }
            try? fd.close()
            throw e == .resourceTemporarilyUnavailable || e == .permissionDenied ? .busy : .system("fcntl F_SETLK", e)
        }
        guard let p = mmap(nil, Self.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.rawValue, 0), p != MAP_FAILED else {
            let e = Errno(rawValue: Glibc.errno)
            Self.inUse.withLock { _ = $0.remove(identity) }
            try? fd.close()
            throw .system("mmap", e)
        }
        self.fd = fd; base = p; self.identity = identity
        scratch.bytes.reserveCapacity(Self.capacity)
    }

    deinit {
        munmap(base, Self.size)
        try? fd.close()   // drops the POSIX lock
        let identity = self.identity
        Self.inUse.withLock { _ = $0.remove(identity) }
    }

    /// The image the region holds, or nil for a new (zero-filled) region.
    func load(configuration: SMMUConfiguration) throws(Failure) -> DurableState? {
        let magic = base.loadUnaligned(as: UInt64.self)
        if magic == 0 { return nil }
        guard magic == Self.magic else { throw .notARegion }
        let active = Int(vsmmu_shim_load_acquire32(base + 8))
        guard active <= 1 else { throw .corrupt("active slot \(active)") }
        let slot = base + Self.headerSize + active * Self.slotSize
        let length = Int(slot.loadUnaligned(as: UInt32.self))
        guard length <= Self.capacity else { throw .corrupt("image of \(length) bytes") }
        // Checked on a copy: the region is shared memory.
        let bytes = [UInt8](UnsafeRawBufferPointer(start: slot + Self.slotHeader, count: length))
        let stored = slot.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        // A backend before the word-wise checksum wrote the byte-wise one:
        // an upgrade under a running guest adopts its state too.
        let valid = bytes.withUnsafeBytes { stored == Self.checksum($0) || stored == Self.byteWiseChecksum($0) }
        guard valid else { throw .corrupt("checksum of the active image") }
        do {
            return try DurableState(decoding: bytes, configuration: configuration)
        } catch {
            throw .image(error)
        }
    }

    /// Records `state` (the model calls this under its lock: one writer).
    /// An image too large for a slot (never, with the model's bounds) keeps
    /// the previous one and returns false.
    @discardableResult
    func commit(_ state: DurableState) -> Bool {
        scratch.bytes.removeAll(keepingCapacity: true)
        state.encode(into: &scratch)
        guard scratch.bytes.count <= Self.capacity else { return false }
        // Many changes leave the image as it was (a register written with
        // its value): the region holds it already.
        let unchanged = scratch.bytes.withUnsafeBytes { new in
            lastCommitted.withUnsafeBytes { old in
                new.count == old.count && (new.isEmpty || memcmp(new.baseAddress!, old.baseAddress!, new.count) == 0)
            }
        }
        if unchanged { return true }
        let active = Int(vsmmu_shim_load_acquire32(base + 8)) & 1
        let next = base.loadUnaligned(as: UInt64.self) == Self.magic ? 1 - active : 0
        let slot = base + Self.headerSize + next * Self.slotSize
        let sum = scratch.bytes.withUnsafeBytes { image in
            (slot + Self.slotHeader).copyMemory(from: image.baseAddress!, byteCount: image.count)
            return Self.checksum(image)
        }
        slot.storeBytes(of: UInt32(scratch.bytes.count), as: UInt32.self)
        slot.storeBytes(of: sum, toByteOffset: 8, as: UInt64.self)
        let count = base.loadUnaligned(fromByteOffset: 16, as: UInt64.self)
        base.storeBytes(of: count &+ 1, toByteOffset: 16, as: UInt64.self)
        base.storeBytes(of: Self.magic, as: UInt64.self)
        // The slot and the count before the switch (release).
        vsmmu_shim_store_release32(base + 8, UInt32(next))
        swap(&lastCommitted, &scratch.bytes)
        return true
    }

    /// Commits so far (tests; a restart shows the count carrying on).
    var commits: UInt64 { base.loadUnaligned(fromByteOffset: 16, as: UInt64.self) }

    /// FNV-1a's step over little-endian 64-bit words (the tail byte by
    /// byte), each product folded so that high bits reach the low ones: a
    /// multiply alone carries bits upwards only. Catches a region that was
    /// overwritten, not an attack, and costs a fraction of the byte-wise
    /// hash on every commit.
    static func checksum(_ image: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        let words = image.count / 8
        for i in 0..<words {
            h = (h ^ UInt64(littleEndian: image.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))) &* Self.prime
            h ^= h >> 32
        }
        for b in image[(words * 8)...] { h = (h ^ UInt64(b)) &* Self.prime }
        return h
    }

    /// FNV-1a, 64-bit, byte by byte: what backends before `checksum` wrote.
    static func byteWiseChecksum(_ image: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in image { h = (h ^ UInt64(b)) &* Self.prime }
        return h
    }

    private static let prime: UInt64 = 0x0000_0100_0000_01B3
}
