#if canImport(Glibc)
import Glibc
#endif
import Synchronization
@testable import SMMU

/// A guest-memory buffer at a fixed guest physical base, for tests.
final class TestRAM: @unchecked Sendable {
    let base: UInt64
    let size: Int
    let buffer: UnsafeMutableRawPointer
    let memory = RegionGuestMemory()

    init(base: UInt64 = 0x4000_0000, size: Int = 32 << 20) {
        self.base = base; self.size = size
        buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 1 << 16)
        memset(buffer, 0, size)
        try! memory.add(.init(guestAddress: PhysicalAddress(base), size: UInt64(size), host: buffer))
    }
    deinit { buffer.deallocate() }

    // The guest's view: raw guest physical addresses, as a driver has them.
    func write64(_ address: UInt64, _ value: UInt64) { precondition(memory.write64(at: PhysicalAddress(address), value)) }
    func read64(_ address: UInt64) -> UInt64 { memory.read64(at: PhysicalAddress(address))! }
    func read32(_ address: UInt64) -> UInt32 { memory.read32(at: PhysicalAddress(address))! }
    func writeWords(_ address: UInt64, _ words: [UInt64]) {
        precondition(memory.writeWords(at: PhysicalAddress(address), words))
    }
}

/// Host signals that record everything, write MSIs that land in RAM into
/// RAM (as the backend does), and complete every synchronize at once.
final class DriverHost: HostSignals, @unchecked Sendable {
    struct Log {
        var interrupts: [SMMUInterruptLine] = []
        var msis: [(UInt64, UInt32)] = []
        var invalidations: [HostInvalidation] = []
        var syncs = 0
        var responses: [PageResponse] = []
        var stalls: [(UInt32, UInt16, Bool)] = []
        /// CMDQ_CONS as read when each MSI was written (what a driver that
        /// polls the MSI word and then trusts CONS sees).
        var consAtMSI: [UInt32] = []
    }
    let log = Locked(Log())
    weak var ram: TestRAM?
    weak var smmu: SMMUv3?
    var syncResult = true

    func raiseInterrupt(_ line: SMMUInterruptLine) { log.withLock { $0.interrupts.append(line) } }
    func writeMSI(address: PhysicalAddress, data: UInt32) {
        // Read before logging; no model lock may be held across this call.
        let cons = smmu.map { UInt32(truncatingIfNeeded: $0.read(offset: Reg.CMDQ_CONS, size: 4)) }
        log.withLock { $0.msis.append((address.raw, data)); if let cons { $0.consAtMSI.append(cons) } }
        _ = ram?.memory.write32(at: address, data)
    }
    func invalidate(_ invalidation: HostInvalidation) { log.withLock { $0.invalidations.append(invalidation) } }
    func synchronize() -> Bool { log.withLock { $0.syncs += 1 }; return syncResult }
    func deliverPageResponse(_ response: PageResponse) { log.withLock { $0.responses.append(response) } }
    func resolveStall(streamID: UInt32, stag: UInt16, retry: Bool) {
        log.withLock { $0.stalls.append((streamID, stag, retry)) }
    }
}

/// Register offsets (IHI 0070 6.2, the register map).
enum Reg {
    static let IDR0: UInt64 = 0x0, IDR1: UInt64 = 0x4, IDR5: UInt64 = 0x14
    static let CR0: UInt64 = 0x20, CR0ACK: UInt64 = 0x24, CR1: UInt64 = 0x28, CR2: UInt64 = 0x2C
    static let GBPA: UInt64 = 0x44, IRQ_CTRL: UInt64 = 0x50, IRQ_CTRLACK: UInt64 = 0x54
    static let GERROR: UInt64 = 0x60, GERRORN: UInt64 = 0x64
    static let STRTAB_BASE: UInt64 = 0x80, STRTAB_BASE_CFG: UInt64 = 0x88
    static let CMDQ_BASE: UInt64 = 0x90, CMDQ_PROD: UInt64 = 0x98, CMDQ_CONS: UInt64 = 0x9C
    static let EVENTQ_BASE: UInt64 = 0xA0, EVENTQ_IRQ_CFG0: UInt64 = 0xB0
    static let EVENTQ_PROD: UInt64 = 0x100A8, EVENTQ_CONS: UInt64 = 0x100AC
    static let PRIQ_BASE: UInt64 = 0xC0, PRIQ_PROD: UInt64 = 0x100C8, PRIQ_CONS: UInt64 = 0x100CC
}

/// CR0 bits (6.3.9).
enum CR0 {
    static let SMMUEN: UInt64 = 1 << 0, PRIQEN: UInt64 = 1 << 1, EVTQEN: UInt64 = 1 << 2
    static let CMDQEN: UInt64 = 1 << 3, ATSCHK: UInt64 = 1 << 4
}

/// Commands as a Linux-like driver writes them (chapter 4), through
/// `Command.Fields`.
enum DriverCmd {
    typealias F = Command.Fields

    /// A command: the opcode and whatever `build` sets.
    static func command(_ op: CommandOpcode, _ build: (inout [UInt64]) -> Void = { _ in }) -> [UInt64] {
        var w: [UInt64] = [0, 0]
        w.set(F.opcode, op)
        build(&w)
        return w
    }

    /// CMD_SYNC with Linux's MSH = inner shareable and MSIAttr = 0xF (Normal WB).
    static func sync(cs: Command.CS, msiData: UInt32 = 0, msiAddress: UInt64 = 0) -> [UInt64] {
        command(.CMD_SYNC) {
            $0.set(F.cs, cs)
            $0.set(F.msh, 3)
            $0.set(F.msiAttr, 0xF)
            $0.set(F.msiData, msiData)
            $0.set(F.msiAddress, PhysicalAddress(msiAddress))
        }
    }
    /// CMD_CFGI_STE_RANGE with Range = 31: CFGI_ALL (4.3.6).
    static let cfgiAll = command(.CFGI_STE_RANGE) { $0.set(F.range, 31) }
    static let tlbiNSNHAll = command(.TLBI_NSNH_ALL)
    static let tlbiEL2All = command(.TLBI_EL2_ALL)
    static func cfgiSTE(_ sid: UInt32) -> [UInt64] {
        command(.CFGI_STE) { $0.set(F.streamID, sid); $0.set(F.leaf) }
    }
    static func cfgiCD(_ sid: UInt32, ssid: UInt32) -> [UInt64] {
        command(.CFGI_CD) { $0.set(F.streamID, sid); $0.set(F.substreamID, ssid); $0.set(F.leaf) }
    }
    static func tlbiNHVA(asid: UInt16, vmid: UInt16 = 0, address: UInt64, leaf: Bool = true) -> [UInt64] {
        command(.TLBI_NH_VA) {
            $0.set(F.vmid, vmid)
            $0.set(F.asid, asid)
            $0.set(F.leaf, leaf)
            $0.set(F.address, InputAddress(address))
        }
    }
}
