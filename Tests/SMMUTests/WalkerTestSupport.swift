import Testing
@testable import SMMU

/// Guest RAM for walker tests: one zeroed region at `WalkerRAM.base`, with
/// counters of descriptor reads and CAS attempts, and an optional hook that
/// lets a test rewrite a descriptor just before a CAS (a racing guest).
final class WalkerRAM: GuestMemory, @unchecked Sendable {
    static let base: UInt64 = 0x4000_0000
    static let size = 4 << 20
    let inner = RegionGuestMemory()
    private let buffer: UnsafeMutableRawPointer
    var reads = 0
    var casAttempts = 0
    /// Called before each compareExchange64 with its address (raw, like the subscript).
    var beforeCAS: ((UInt64) -> Void)?
    /// Makes every compareExchange64 abort (nil), like an update to memory
    /// that does not support atomics.
    var casAborts = false

    init() {
        buffer = UnsafeMutableRawPointer.allocate(byteCount: Self.size, alignment: 1 << 16)
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: Self.size)
        try! inner.add(.init(guestAddress: PhysicalAddress(Self.base), size: UInt64(Self.size), host: buffer))
    }
    deinit { _ = inner.removeAll(); buffer.deallocate() }

    func read(at address: PhysicalAddress, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        reads += 1
        return inner.read(at: address, into: buffer)
    }
    func write(at address: PhysicalAddress, from buffer: UnsafeRawBufferPointer) -> Bool {
        inner.write(at: address, from: buffer)
    }
    func compareExchange64(at address: PhysicalAddress, expected: UInt64, desired: UInt64) -> UInt64? {
        casAttempts += 1
        beforeCAS?(address.raw)
        if casAborts { return nil }
        return inner.compareExchange64(at: address, expected: expected, desired: desired)
    }

    /// Stores a descriptor (test setup; not counted). Test tables are built
    /// at raw guest addresses, as a guest builds them.
    subscript(address: UInt64) -> UInt64 {
        get { inner.read64(at: PhysicalAddress(address))! }
        set { precondition(inner.write64(at: PhysicalAddress(address), newValue)) }
    }
}

/// Descriptor encodings from the Arm ARM (VMSAv8-64, 4KB/16KB/64KB granule,
/// 48-bit OA), written out so that the tests do not depend on the walker's
/// own constants.
enum Desc {
    /// Table descriptor: bits[1:0] = 0b11, next-level table address.
    static func table(_ address: UInt64, _ attributes: UInt64 = 0) -> UInt64 { address | 0b11 | attributes }
    /// Stage 1 page (level 3, bits[1:0] = 0b11) with AF = 1 and AP[2:1] = 0b01
    /// (read/write at any privilege), unless `attributes` says otherwise.
    static func page(_ address: UInt64, _ attributes: UInt64 = ap01 | af) -> UInt64 { address | 0b11 | attributes }
    /// Stage 1 block (levels 1-2, bits[1:0] = 0b01).
    static func block(_ address: UInt64, _ attributes: UInt64 = ap01 | af) -> UInt64 { address | 0b01 | attributes }
    /// Stage 2 page / block with S2AP = 0b11 (read/write) and AF = 1.
    static func s2page(_ address: UInt64, _ attributes: UInt64 = s2rw | af) -> UInt64 { address | 0b11 | attributes }
    static func s2block(_ address: UInt64, _ attributes: UInt64 = s2rw | af) -> UInt64 { address | 0b01 | attributes }

    static let af: UInt64 = 1 << 10
    /// AP[2:1] in bits [7:6].
    static let ap00: UInt64 = 0b00 << 6   // privileged RW, unprivileged none
    static let ap01: UInt64 = 0b01 << 6   // RW at any privilege
    static let ap10: UInt64 = 0b10 << 6   // privileged RO, unprivileged none
    static let ap11: UInt64 = 0b11 << 6   // RO at any privilege
    /// S2AP[1:0] in bits [7:6]: bit 6 read, bit 7 write.
    static let s2r: UInt64 = 0b01 << 6
    static let s2w: UInt64 = 0b10 << 6
    static let s2rw: UInt64 = 0b11 << 6
    static let dbm: UInt64 = 1 << 51
    static let pxn: UInt64 = 1 << 53
    static let uxn: UInt64 = 1 << 54
    static let pxnTable: UInt64 = 1 << 59
    static let uxnTable: UInt64 = 1 << 60
    static let apTableNoEL0: UInt64 = 1 << 61
    static let apTableNoWrite: UInt64 = 1 << 62
}

extension Stage1TableConfig {
    /// Stage 1 half: the walk's start level follows from the granule and size.
    /// `base` is TTB0, an IPA (the PA itself without stage 2).
    static func s1(_ granule: Granule, bits: UInt8, base: UInt64, oas: UInt8 = 48, ha: Bool = false,
                   hd: Bool = false, affd: Bool = false, tbi: Bool = false) -> Stage1TableConfig {
        Stage1TableConfig(granule: granule, inputSizeBits: bits, tableBase: IntermediateAddress(base),
                          outputSizeBits: oas, hardwareAccessFlag: ha, hardwareDirty: hd,
                          accessFlagFaultDisabled: affd, topByteIgnore: tbi)
    }
}

extension Stage2TableConfig {
    /// Stage 2 with an explicit start level (from S2SL0); `base` is S2TTB, a PA.
    static func s2(_ granule: Granule, bits: UInt8, level: Int8, base: UInt64, oas: UInt8 = 48, ha: Bool = false,
                   hd: Bool = false, affd: Bool = false) -> Stage2TableConfig {
        Stage2TableConfig(granule: granule, inputSizeBits: bits, tableBase: PhysicalAddress(base), startLevel: level,
                          outputSizeBits: oas, hardwareAccessFlag: ha, hardwareDirty: hd,
                          accessFlagFaultDisabled: affd)
    }
}

/// Stage 1 only, TTB0 only, EL1&0 regime.
func s1Walk(_ va: UInt64, _ config: Stage1TableConfig, _ ram: WalkerRAM, access: AccessType = [],
            regime: (inout Stage1Regime) -> Void = { _ in }) -> Result<WalkResult, WalkFault> {
    var r = Stage1Regime(ttb0: config)
    regime(&r)
    return PageTableWalker.walk(address: InputAddress(va), access: access, stage1: r, stage2: nil, memory: ram)
}

extension Result where Failure == WalkFault {
    var value: Success? { if case .success(let v) = self { v } else { nil } }
    var fault: WalkFault? { if case .failure(let f) = self { f } else { nil } }
}

let ram0 = WalkerRAM.base
