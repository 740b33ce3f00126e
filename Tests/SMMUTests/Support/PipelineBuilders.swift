#if canImport(Glibc)
import Glibc
#endif
import Synchronization
@testable import SMMU

/// STE words (IHI 0070 5.2) written through `STE.Fields`, as a Linux-like
/// driver fills them: CD fetches WBRA (S1CIR = S1COR = 1) and inner
/// shareable (S1CSH = 3); stage-2 walks WBWA inner shareable, 4 KiB granule,
/// S2PS 48 bits, AArch64. Eight words, so any field can be set afterwards.
enum STEWords {
    private typealias F = STE.Fields

    /// V = 1, `config` and `eats` and nothing else: an abort or bypass STE
    /// (whose other fields are IGNORED).
    static func plain(_ config: STE.Config, eats: STE.EATS = .off) -> [UInt64] {
        var w = [UInt64](repeating: 0, count: 8)
        w.set(F.v)
        w.set(F.config, config)
        w.set(F.eats, eats)
        return w
    }

    static func stage1(cdPointer: UInt64, s1fmt: STE.S1Fmt = .linear, cdMax: UInt8 = 0,
                       s1dss: STE.S1DSS = .terminate, eats: STE.EATS = .off, s1stalld: Bool = false,
                       ppar: Bool = false) -> [UInt64] {
        var w = [UInt64](repeating: 0, count: 8)
        w.set(F.v)
        w.set(F.config, .stage1)
        w.set(F.s1Fmt, s1fmt)
        w.set(F.s1ContextPtr, IntermediateAddress(cdPointer))
        w.set(F.s1CDMax, cdMax)
        w.set(F.s1DSS, s1dss)
        w.set(F.s1CIR, 1)
        w.set(F.s1COR, 1)
        w.set(F.s1CSH, 3)
        w.set(F.ppar, ppar)
        w.set(F.s1STALLD, s1stalld)
        w.set(F.eats, eats)
        return w
    }

    /// The stage-2 fields: 4 KiB granule, PS = 48 bits, AA64, R.
    static func addStage2(_ w: inout [UInt64], vmid: UInt16, t0sz: UInt8, sl0: UInt8, ttb: UInt64,
                          record: Bool = true) {
        w.set(F.s2VMID, vmid)
        w.set(F.s2T0SZ, t0sz)
        w.set(F.s2SL0, sl0)
        w.set(F.s2IR0, 1)
        w.set(F.s2OR0, 1)
        w.set(F.s2SH0, 3)
        w.set(F.s2TG, .size4K)
        w.set(F.s2PS, .bits48)
        w.set(F.s2AA64)
        w.set(F.s2R, record)
        w.set(F.s2TTB, PhysicalAddress(ttb))
    }

    /// Config = 0b110: stage 2 only.
    static func stage2Only(vmid: UInt16, t0sz: UInt8, sl0: UInt8, ttb: UInt64, eats: STE.EATS = .off) -> [UInt64] {
        var w = [UInt64](repeating: 0, count: 8)
        w.set(F.v)
        w.set(F.config, .stage2)
        w.set(F.eats, eats)
        addStage2(&w, vmid: vmid, t0sz: t0sz, sl0: sl0, ttb: ttb)
        return w
    }

    /// Config = 0b111: nested; S1ContextPtr is an IPA.
    static func nested(cdPointer: UInt64, vmid: UInt16, t0sz: UInt8, sl0: UInt8, ttb: UInt64,
                       cdMax: UInt8 = 0, s1dss: STE.S1DSS = .terminate, eats: STE.EATS = .off,
                       s2ptw: Bool = false, s2fwb: Bool = false) -> [UInt64] {
        var w = stage1(cdPointer: cdPointer, cdMax: cdMax, s1dss: s1dss, eats: eats)
        w.set(F.config, .nested)
        addStage2(&w, vmid: vmid, t0sz: t0sz, sl0: sl0, ttb: ttb)
        w.set(F.s2FWB, s2fwb)
        w.set(F.s2PTW, s2ptw)
        return w
    }
}

/// CD words (IHI 0070 5.4) written through `CD.Fields`.
enum CDWords {
    private typealias F = CD.Fields
    /// MAIR0 of the Linux-shaped CDs: Attr0 0x44 (Normal non-cacheable),
    /// Attr1 0xFF (Normal write-back), Attr2 and Attr3 0x04 (Device-nGnRE).
    static let linuxMAIR0: UInt32 = 0x0404_FF44

    /// What arm-smmu-v3 writes for a 48-bit VA, 4 KiB granule domain: T0SZ
    /// 16, TG0 4K, IR0/OR0 WBWA, SH0 ISH, EPD1, V, IPS 48 bits, AA64, S
    /// (stall), R (record), A, ASET, ASID, TTB0, MAIR0.
    static func linux(asid: UInt16, ttb0: UInt64, stall: Bool = false, record: Bool = true) -> [UInt64] {
        var w = [UInt64](repeating: 0, count: 8)
        w.set(F.t0sz, 16)
        w.set(F.tg0, .size4K)
        w.set(F.ir0, 1)
        w.set(F.or0, 1)
        w.set(F.sh0, 3)
        w.set(F.epd1)
        w.set(F.v)
        w.set(F.ips, .bits48)
        w.set(F.aa64)
        w.set(F.s, stall)
        w.set(F.r, record)
        w.set(F.a)
        w.set(F.aset)
        w.set(F.asid, asid)
        w.set(F.ttb0, IntermediateAddress(ttb0))
        w.set(F.mair0, linuxMAIR0)
        return w
    }

    /// Linux's CD for a PASID whose mm is gone (arm_smmu_make_sva_cd with no
    /// mm): valid, both halves disabled (EPD0 = EPD1 = 1), S = R = 0: every
    /// access faults and no event is recorded.
    static func quiet(asid: UInt16) -> [UInt64] {
        var w = [UInt64](repeating: 0, count: 8)
        w.set(F.epd0)
        w.set(F.epd1)
        w.set(F.v)
        w.set(F.ips, .bits48)
        w.set(F.aa64)
        w.set(F.a)
        w.set(F.aset)
        w.set(F.asid, asid)
        w.set(F.mair0, linuxMAIR0)
        return w
    }
}

/// Stage-1 4 KiB-granule, 4-level tables (start level 0, 48-bit VA) built
/// in test RAM from the VMSAv8-64 descriptor formats, tables allocated from
/// a bump pointer.
final class Stage1Tables {
    let ram: TestRAM
    private var next: UInt64
    let root: UInt64

    init(ram: TestRAM, arena: UInt64) {
        self.ram = ram
        next = arena
        root = arena
        next += 0x1000
    }

    private func allocate() -> UInt64 {
        let p = next
        next += 0x1000
        return p
    }

    /// Maps the 4 KiB page at `va` to `pa` (user RW, AF, ISH, UXN, nG like a
    /// Linux DMA mapping: io-pgtable marks stage-1 entries non-global, so each
    /// ASID is its own address space, 3.17.1).
    func map(_ va: UInt64, to pa: UInt64,
             attrs: UInt64 = PT4K.af | PT4K.innerShareable | PT4K.apEL0 | PT4K.uxn | PT4K.nG) {
        var table = root
        for level in 0..<3 {
            let slot = table + PT4K.index(va, level: level) * 8
            let d = ram.read64(slot)
            if d & 0b11 == 0b11 {
                table = d & 0x0000_FFFF_FFFF_F000
            } else {
                let t = allocate()
                ram.write64(slot, PT4K.tableDescriptor(t))
                table = t
            }
        }
        ram.write64(table + PT4K.index(va, level: 3) * 8, PT4K.pageDescriptor(pa, attrs))
    }

    func unmap(_ va: UInt64) {
        var table = root
        for level in 0..<3 {
            let d = ram.read64(table + PT4K.index(va, level: level) * 8)
            guard d & 0b11 == 0b11 else { return }
            table = d & 0x0000_FFFF_FFFF_F000
        }
        ram.write64(table + PT4K.index(va, level: 3) * 8, 0)
    }
}

/// Stage-2 4 KiB descriptors (VMSAv8-64): page = PA | AF [10] | SH [9:8] |
/// S2AP [7:6] (bit 6 read, bit 7 write) | MemAttr [5:2] | 0b11.
enum S2PT {
    static let readWrite: UInt64 = 3 << 6
    static let normal: UInt64 = 0xF << 2
    /// MemAttr [5:2] = 0b0001: Device-nGnRE (FWB == 0: MemAttr[3:2] == 0b00 is Device).
    static let device: UInt64 = 0x1 << 2
    static func page(_ pa: UInt64, ap: UInt64 = readWrite, memAttr: UInt64 = normal) -> UInt64 {
        pa | 1 << 10 | 3 << 8 | ap | memAttr | 0b11
    }
    static func table(_ next: UInt64) -> UInt64 { next | 0b11 }
}

/// A guest memory that forwards to test RAM and can run a hook right after
/// a read of a chosen address has copied its data out: a deterministic way
/// to let "another CPU" act between two steps of a translation.
final class HookedMemory: GuestMemory, @unchecked Sendable {
    let inner: RegionGuestMemory
    struct Hook: @unchecked Sendable { var address: UInt64; var action: () -> Void }
    private let hook = Locked<Hook?>(nil)

    init(_ inner: RegionGuestMemory) { self.inner = inner }

    /// Runs `action` once, after the next read that covers `address`.
    func onceAfterRead(of address: UInt64, _ action: @escaping @Sendable () -> Void) {
        hook.withLock { $0 = Hook(address: address, action: action) }
    }

    func read(at address: PhysicalAddress, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        let ok = inner.read(at: address, into: buffer)
        let fire = hook.withLock { h -> Hook? in
            guard let x = h, x.address >= address.raw, x.address < address.raw &+ UInt64(buffer.count) else { return nil }
            h = nil
            return x
        }
        fire?.action()
        return ok
    }
    func write(at address: PhysicalAddress, from buffer: UnsafeRawBufferPointer) -> Bool {
        inner.write(at: address, from: buffer)
    }
    func compareExchange64(at address: PhysicalAddress, expected: UInt64, desired: UInt64) -> UInt64? {
        inner.compareExchange64(at: address, expected: expected, desired: desired)
    }
}

extension DriverCmd {
    static func cfgiCDAll(_ sid: UInt32) -> [UInt64] { command(.CFGI_CD_ALL) { $0.set(F.streamID, sid) } }
    static func tlbiNHASID(_ asid: UInt16, vmid: UInt16 = 0) -> [UInt64] {
        command(.TLBI_NH_ASID) { $0.set(F.vmid, vmid); $0.set(F.asid, asid) }
    }
    /// ATC_INV (4.5.1): StreamID, SubstreamID with SSV, Address, Size.
    static func atcInv(sid: UInt32, ssid: UInt32? = nil, address: UInt64, size: UInt8) -> [UInt64] {
        command(.ATC_INV) {
            $0.set(F.streamID, sid)
            if let ssid { $0.set(F.ssv); $0.set(F.substreamID, ssid) }
            $0.set(F.address, InputAddress(address))
            $0.set(F.size, size)
        }
    }
    /// PRI_RESP (4.5.2): StreamID, SubstreamID with SSV, PRGIndex, Resp.
    static func priResp(sid: UInt32, ssid: UInt32? = nil, prgIndex: UInt16, resp: Command.Resp) -> [UInt64] {
        command(.PRI_RESP) {
            $0.set(F.streamID, sid)
            if let ssid { $0.set(F.ssv); $0.set(F.substreamID, ssid) }
            $0.set(F.prgIndex, prgIndex)
            $0.set(F.resp, resp)
        }
    }
    /// RESUME (4.7.1): Ac (retry), StreamID, STAG.
    static func resume(sid: UInt32, stag: UInt16, retry: Bool) -> [UInt64] {
        command(.RESUME) { $0.set(F.action, retry); $0.set(F.streamID, sid); $0.set(F.stag, stag) }
    }
    /// STALL_TERM (4.7.2): StreamID.
    static func stallTerm(sid: UInt32) -> [UInt64] { command(.STALL_TERM) { $0.set(F.streamID, sid) } }
}

extension Reg {
    static let PRIQ_IRQ_CFG0: UInt64 = 0xD0
}

extension LinuxLikeDriver {
    /// The PRI records between PRIQ_CONS and PRIQ_PROD (8.0): 16 bytes each.
    /// Consumes them unless `consume` is false; OVACKFLG is written equal to
    /// OVFLG when `acknowledgeOverflow` (one write, as 8.1 recommends).
    func drainPRI(consume: Bool = true, acknowledgeOverflow: Bool = false) -> [[UInt64]] {
        let mask: UInt64 = (1 << priqLog2) - 1
        let wrapMask = (mask << 1) | 1
        let prodReg = UInt64(read32(Reg.PRIQ_PROD)), consReg = UInt64(read32(Reg.PRIQ_CONS))
        var cons = consReg & wrapMask
        let prod = prodReg & wrapMask
        var records: [[UInt64]] = []
        var n = 0
        while cons != prod && n < 1 << priqLog2 {
            records.append(ram.memory.readWords(at: PhysicalAddress(priq + (cons & mask) * 16), count: 2)!)
            cons = (cons + 1) & wrapMask
            n += 1
        }
        if consume || acknowledgeOverflow {
            let ovf: UInt64 = 1 << 31
            let ack = acknowledgeOverflow ? prodReg & ovf : consReg & ovf
            write32(Reg.PRIQ_CONS, ack | (consume ? cons : consReg & wrapMask))
        }
        return records
    }

    /// Pushes commands and a sync without the success check (for failing syncs).
    func submitExpectingError(_ commands: [[UInt64]]) -> (consumed: Bool, cons: UInt32, gerror: UInt32) {
        let ok = submit(commands)
        return (ok, read32(Reg.CMDQ_CONS), read32(Reg.GERROR))
    }
}

/// Shared state for test threads (Atomic and Mutex are noncopyable, so
/// escaping closures share them through a class).
final class Shared<Value: Sendable>: Sendable {
    let mutex: Locked<Value>
    init(_ value: Value) { mutex = Locked(value) }
    var value: Value { mutex.withLock { $0 } }
    func update(_ body: (inout Value) -> Void) { mutex.withLock { body(&$0) } }
}

final class SharedFlag: Sendable {
    private let atomic = Atomic<Bool>(false)
    var isSet: Bool { atomic.load(ordering: .acquiring) }
    func set() { atomic.store(true, ordering: .releasing) }
}

extension LinuxLikeDriver: @unchecked Sendable {}
