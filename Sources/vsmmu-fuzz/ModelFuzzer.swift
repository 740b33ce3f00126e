import SMMU
#if canImport(Glibc)
import Glibc
#endif

/// The model as a hostile guest sees it: each input is a program of guest
/// operations (MMIO reads and writes, guest-memory writes, which is how
/// commands, STEs, CDs and page tables reach the model, transactions of
/// every kind, page requests, command-queue passes) run against a model
/// just reset, after a preamble that enables the SMMU with its queues and a
/// linear stream table in guest memory, so that inputs start deep. The
/// offsets are the architecture's (IHI 0070 6.2), as a guest driver's.
/// The model runs in check mode (docs/checker.md), so the driver checker
/// meets the same input.
///
/// Operation encoding (`op` byte, then little-endian fields):
///   0 MMIO write32: offset u16 (x4, page 0 or 1), value u32
///   1 MMIO write64: offset u16 (x8), value u64
///   2 MMIO read32:  offset u16 (x4)
///   3 RAM write64:  offset u24 (x8, within `ramSize`), value u64
///   4 translate:    streamID u8, SSID u24 (bit 23: none), kind u8, address u64
///   5 page request: streamID u8, SSID u24 (bit 23: none), flags u8, index u16, address u64
///   6 command pass: run the command queue
///   7 command:      two u64 words written at CMDQ_PROD, PROD moved on
///   8 reset
struct ModelFuzzer {
    static let ramBase: UInt64 = 0x4000_0000
    static let ramSize = 1 << 20
    static let strtab = ramBase + 0x1_0000, cmdq = ramBase + 0x2_0000
    static let eventq = ramBase + 0x3_0000, priq = ramBase + 0x4_0000
    static let cmdqLog2: UInt64 = 8
    /// Operations per input: bounded work.
    static let maxOps = 512

    /// One model for the whole run, reset before each input (SMMUv3.reset:
    /// registers, queues, caches; RAM zeroed): a fresh model per input
    /// costs its 64K-entry TLB each time. State that survived a reset would
    /// make a found input fail to replay alone: that is a finding too.
    private final class Machine: @unchecked Sendable {
        let ram = UnsafeMutableRawPointer.allocate(byteCount: ramSize, alignment: 1 << 16)
        let memory = RegionGuestMemory()
        let smmu: SMMUv3

        init() {
            memset(ram, 0, ramSize)
            try! memory.add(.init(guestAddress: PhysicalAddress(ramBase), size: UInt64(ramSize), host: ram))
            var configuration = SMMUConfiguration()
            configuration.substreamIDBits = 20
            // In check mode (reports dropped): the checker reads the same
            // hostile tables and queues, and its paths are fuzzed too.
            smmu = try! SMMUv3(configuration: configuration, memory: memory, host: MemoryOnlyHost(memory),
                               checking: CheckOptions { _ in })
            for sid: UInt32 in 0..<8 {
                smmu.registerEndpoint(Endpoint(streamID: sid, ats: true, pri: true, pasidBits: 20))
            }
        }
    }

    private static let machine = Machine()

    /// One input against the reset model; returns when the program is done.
    static func run(_ input: UnsafeRawBufferPointer) {
        let m = machine
        memset(m.ram, 0, ramSize)
        m.smmu.reset()
        let smmu = m.smmu, memory = m.memory
        var prod: UInt64 = 0
        func w32(_ o: UInt64, _ v: UInt64) {
            if smmu.write(offset: o, size: 4, value: v).contains(.commandsPending) { smmu.processCommands() }
        }
        func w64(_ o: UInt64, _ v: UInt64) {
            if smmu.write(offset: o, size: 8, value: v).contains(.commandsPending) { smmu.processCommands() }
        }
        // Preamble: linear stream table of 256 STEs, queues, SMMUEN, as Linux does.
        w64(0x80, strtab); w32(0x88, 8)
        w64(0x90, cmdq | cmdqLog2)
        w64(0xA0, eventq | 6)
        w64(0xC0, priq | 6)
        w32(0x20, 0b1111); w32(0x20, 0b1111)

        var reader = InputReader(input)
        var ops = 0
        while ops < maxOps, let op = reader.u8() {
            ops += 1
            switch op % 9 {
            case 0:
                guard let o = reader.u16(), let v = reader.u32() else { return }
                w32(UInt64(o) * 4 % SMMUv3.mmioSize, UInt64(v))
            case 1:
                guard let o = reader.u16(), let v = reader.u64() else { return }
                w64(UInt64(o) * 8 % SMMUv3.mmioSize, v)
            case 2:
                guard let o = reader.u16() else { return }
                _ = smmu.read(offset: UInt64(o) * 4 % SMMUv3.mmioSize, size: 4)
            case 3:
                guard let o = reader.u24(), let v = reader.u64() else { return }
                _ = memory.write64(at: PhysicalAddress(ramBase + UInt64(o) * 8 % UInt64(ramSize)), v)
            case 4:
                guard let sid = reader.u8(), let ssid = reader.u24(), let k = reader.u8(),
                      let a = reader.u64() else { return }
                let kinds: [TranslationRequest.Kind] = [.untranslated, .translationRequest, .translated]
                let request = TranslationRequest(
                    streamID: UInt32(sid), substreamID: ssid & 0x80_0000 != 0 ? nil : ssid & 0xF_FFFF,
                    address: InputAddress(a), access: AccessType(rawValue: k & 0x7),
                    kind: kinds[Int(k >> 3) % 3])
                _ = smmu.translate(request)
            case 5:
                guard let sid = reader.u8(), let ssid = reader.u24(), let f = reader.u8(),
                      let index = reader.u16(), let a = reader.u64() else { return }
                _ = smmu.pageRequest(PageRequest(
                    streamID: UInt32(sid), substreamID: ssid & 0x80_0000 != 0 ? nil : ssid & 0xF_FFFF,
                    address: InputAddress(a), read: f & 1 != 0, write: f & 2 != 0, execute: f & 4 != 0,
                    privileged: f & 8 != 0, last: f & 16 != 0, prgIndex: index & 0x1FF))
            case 6:
                smmu.processCommands()
            case 7:
                guard let c0 = reader.u64(), let c1 = reader.u64() else { return }
                let slot = cmdq + (prod & ((1 << cmdqLog2) - 1)) * 16
                _ = memory.write64(at: PhysicalAddress(slot), c0)
                _ = memory.write64(at: PhysicalAddress(slot + 8), c1)
                prod = (prod + 1) & ((2 << cmdqLog2) - 1)
                w32(0x98, prod)
            default:
                smmu.reset()
            }
        }
    }
}

/// Little-endian fields from the input; nil at its end.
struct InputReader {
    private let bytes: UnsafeRawBufferPointer
    private var at = 0
    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    private mutating func take(_ n: Int) -> UInt64? {
        guard at + n <= bytes.count else { return nil }
        var v: UInt64 = 0
        for i in 0..<n { v |= UInt64(bytes[at + i]) << (8 * UInt64(i)) }
        at += n
        return v
    }
    mutating func u8() -> UInt8? { take(1).map { UInt8($0) } }
    mutating func u16() -> UInt16? { take(2).map { UInt16($0) } }
    mutating func u24() -> UInt32? { take(3).map { UInt32($0) } }
    mutating func u32() -> UInt32? { take(4).map { UInt32($0) } }
    mutating func u64() -> UInt64? { take(8) }
}
