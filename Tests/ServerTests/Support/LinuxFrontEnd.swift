import CVSMMU
import SMMU
import Synchronization
import VSMMUServer
#if canImport(Glibc)
import Glibc
#endif

/// Register offsets, CR0 bits and command encodings (IHI 0070 6.2, 6.3.9, chapter 4).
enum SMMUReg {
    static let IDR0: UInt64 = 0x0, IDR1: UInt64 = 0x4, CR0: UInt64 = 0x20, CR0ACK: UInt64 = 0x24
    static let IRQ_CTRL: UInt64 = 0x50, IRQ_CTRLACK: UInt64 = 0x54
    static let STRTAB_BASE: UInt64 = 0x80, STRTAB_BASE_CFG: UInt64 = 0x88
    static let CMDQ_BASE: UInt64 = 0x90, CMDQ_PROD: UInt64 = 0x98, CMDQ_CONS: UInt64 = 0x9C
    static let EVENTQ_BASE: UInt64 = 0xA0, EVENTQ_PROD: UInt64 = 0x100A8, EVENTQ_CONS: UInt64 = 0x100AC
    static let PRIQ_BASE: UInt64 = 0xC0, PRIQ_PROD: UInt64 = 0x100C8, PRIQ_CONS: UInt64 = 0x100CC
    static let SMMUEN: UInt64 = 1 << 0, PRIQEN: UInt64 = 1 << 1, EVTQEN: UInt64 = 1 << 2, CMDQEN: UInt64 = 1 << 3
}

enum SMMUCmd {
    /// CMD_SYNC (0x46): CS [13:12] (1 = SIG_IRQ), MSH [23:22], MSIAttr [27:24], MSIData [63:32]; MSIAddress [51:2].
    static func sync(msiAddress: UInt64, data: UInt32 = 0) -> [UInt64] {
        [0x46 | 1 << 12 | 3 << 22 | 0xF << 24 | UInt64(data) << 32, msiAddress & 0x000F_FFFF_FFFF_FFFC]
    }
    static let cfgiAll: [UInt64] = [0x04, 31]       // CFGI_STE_RANGE, Range 31
    static let tlbiNSNHAll: [UInt64] = [0x30, 0]
    /// CMD_ATC_INV (0x40): StreamID [63:32]; Size [5:0] of dword 1 (52: everything).
    static func atcInvAll(_ sid: UInt32) -> [UInt64] { [0x40 | UInt64(sid) << 32, 52] }
    static func cfgiSTE(_ sid: UInt32) -> [UInt64] { [0x03 | UInt64(sid) << 32, 1] }
    /// TLBI_NH_VA (0x12): ASID [63:48]; Leaf bit 0, Address [63:12].
    static func tlbiNHVA(asid: UInt16, address: UInt64) -> [UInt64] {
        [0x12 | UInt64(asid) << 48, (address & ~0xFFF) | 1]
    }
}

/// The front end's side of the backend channel: records every message and
/// answers SYNC (at once, or when released).
final class BackendResponder: @unchecked Sendable {
    let socket: MessageSocket
    private let state = Locked<(log: [Message], autoAnswer: Bool, heldSyncs: Int, stop: Bool, holdMSIs: Bool)>(
        ([], true, 0, false, false))
    private let finished = Flag()

    /// With `start: false` nothing reads the channel: the test does, on its
    /// own thread (a front end that services the channel while it waits).
    init(socket: MessageSocket, ram: SharedRAM? = nil, start: Bool = true) {
        self.socket = socket
        self.ram = ram
        if start { startDetachedThread { [self] in self.loop() } }
    }

    var autoAnswer: Bool {
        get { state.withLock { $0.autoAnswer } }
        set { state.withLock { $0.autoAnswer = newValue } }
    }
    var log: [Message] { state.withLock { $0.log } }
    /// MSI messages are logged but not written to RAM (the test applies them).
    var holdMSIs: Bool {
        get { state.withLock { $0.holdMSIs } }
        set { state.withLock { $0.holdMSIs = newValue } }
    }
    /// Where MSI messages go (a front end writes them to guest RAM).
    let ram: SharedRAM?
    var heldSyncs: Int { state.withLock { $0.heldSyncs } }

    func releaseSyncs() {
        let n = state.withLock { s -> Int in let n = s.heldSyncs; s.heldSyncs = 0; return n }
        for _ in 0..<n { answer() }
    }

    func stop() { state.withLock { $0.stop = true }; socket.shutdownBoth() }

    private func answer() {
        var w = WireWriter(); w.i64(0)
        socket.reply(to: BackRequest.sync.rawValue, payload: w.bytes)
    }

    private func loop() {
        while !state.withLock({ $0.stop }) {
            guard socket.waitReadable(ms: 100) else { continue }
            guard case .success(let m) = socket.receive() else { break }
            if m.header.request == BackRequest.msi.rawValue, m.payload.count == 16,
               state.withLock({ !$0.holdMSIs }) {
                var r = WireReader(m.payload)
                let address = r.u64()
                ram?.storeMSI(address, r.u32())
            }
            let answerNow = state.withLock { s -> Bool in
                s.log.append(m)
                guard m.header.request == BackRequest.sync.rawValue else { return false }
                if s.autoAnswer { return true }
                s.heldSyncs += 1
                return false
            }
            if answerNow { answer() }
        }
        finished.set()
    }

    /// Waits until `predicate` holds for the log.
    func wait(ms: UInt64 = 2000, _ predicate: ([Message]) -> Bool) -> Bool {
        let end = monotonicMs() + ms
        while monotonicMs() < end {
            if predicate(log) { return true }
            usleep(500)
        }
        return predicate(log)
    }
}

/// Drives the SMMU over the socket the way Linux's arm-smmu-v3 does.
final class LinuxFrontEnd {
    private(set) var client: TestClient
    let ram: SharedRAM
    private(set) var backend: BackendResponder
    let cmdq: UInt64, cmdqLog2: UInt64 = 8
    let eventq: UInt64, eventqLog2: UInt64 = 7
    let priq: UInt64, priqLog2: UInt64 = 6
    let strtab: UInt64, strtabLog2: UInt64 = 8
    private(set) var cmdProd: UInt64 = 0
    var cr0: UInt64 = 0
    /// Every register write with NEED_REPLY (a front end using
    /// VSMMU_F_MMIO_WRITE_SYNC does so).
    var needReply = false

    /// `features`: acknowledged with SET_FEATURES before the backend channel
    /// is set; `respond: false` leaves the backend channel to the test.
    /// `check`: the server runs its models in check mode.
    /// `client`: a connection made elsewhere (a `vsmmu` process), else an
    /// in-process server. `stateRegion`: sent last in the handshake (its
    /// status in `stateRegionStatus`).
    init(client: TestClient? = nil, features: UInt64 = 0, respond: Bool = true, check: CheckSettings? = nil,
         stateRegion: Int32? = nil) throws {
        let client = try client ?? TestClient(check: check)
        self.client = client
        ram = SharedRAM(base: 0x4000_0000, size: 8 << 20)
        cmdq = ram.base + 0x10_0000
        eventq = ram.base + 0x11_0000
        priq = ram.base + 0x12_0000
        strtab = ram.base + 0x20_0000
        backend = try Self.handshake(client, ram: ram, features: features, respond: respond)
        if let stateRegion { stateRegionStatus = try client.statusRequest(.setStateRegion, fds: [stateRegion]) }
    }

    /// SET_STATE_REGION's status in the last handshake.
    private(set) var stateRegionStatus: Int64?

    private static func handshake(_ client: TestClient, ram: SharedRAM, features: UInt64, respond: Bool) throws
        -> BackendResponder {
        if features != 0 {
            var w = WireWriter(); w.u64(features)
            guard try client.statusRequest(.setFeatures, payload: w.bytes) == 0 else { throw TestFailure("SET_FEATURES") }
        }
        let backend = BackendResponder(socket: try client.setBackendChannel(), ram: ram, start: respond)
        guard try client.addRegion(ram) == 0 else { throw TestFailure("ADD_MEM_REGION") }
        return backend
    }

    /// What a front end does when its backend was replaced: the same
    /// handshake on `client`, then the state region; returns its status.
    func reconnect(_ client: TestClient, stateRegion: Int32, features: UInt64 = 0) throws -> Int64? {
        backend.stop()
        self.client = client
        backend = try Self.handshake(client, ram: ram, features: features, respond: true)
        stateRegionStatus = try client.statusRequest(.setStateRegion, fds: [stateRegion])
        return stateRegionStatus
    }

    deinit { backend.stop() }

    func enable(_ bit: UInt64) throws -> Bool {
        cr0 |= bit
        try client.mmioWrite(SMMUReg.CR0, cr0, needReply: needReply)
        return try client.mmioRead(SMMUReg.CR0ACK) == cr0
    }

    /// arm_smmu_device_reset, reduced.
    func reset() throws -> Bool {
        let c = client
        try c.mmioWrite(SMMUReg.STRTAB_BASE, strtab | 1 << 62, size: 8)
        try c.mmioWrite(SMMUReg.STRTAB_BASE_CFG, strtabLog2)
        try c.mmioWrite(SMMUReg.CMDQ_BASE, cmdq | cmdqLog2 | 1 << 62, size: 8)
        try c.mmioWrite(SMMUReg.CMDQ_PROD, 0); try c.mmioWrite(SMMUReg.CMDQ_CONS, 0)
        try c.mmioWrite(SMMUReg.EVENTQ_BASE, eventq | eventqLog2 | 1 << 62, size: 8)
        try c.mmioWrite(SMMUReg.EVENTQ_PROD, 0); try c.mmioWrite(SMMUReg.EVENTQ_CONS, 0)
        try c.mmioWrite(SMMUReg.PRIQ_BASE, priq | priqLog2 | 1 << 62, size: 8)
        try c.mmioWrite(SMMUReg.PRIQ_PROD, 0); try c.mmioWrite(SMMUReg.PRIQ_CONS, 0)
        guard try enable(SMMUReg.CMDQEN) else { return false }
        guard try submitAndWait([SMMUCmd.cfgiAll, SMMUCmd.tlbiNSNHAll]) else { return false }
        guard try enable(SMMUReg.EVTQEN), try enable(SMMUReg.PRIQEN) else { return false }
        try c.mmioWrite(SMMUReg.IRQ_CTRL, 0b111)
        guard try c.mmioRead(SMMUReg.IRQ_CTRLACK) == 0b111 else { return false }
        return try enable(SMMUReg.SMMUEN)
    }

    /// Writes commands + CMD_SYNC (MSI to its own slot, data 0) and moves
    /// CMDQ_PROD; returns the sync slot's address.
    func submit(_ commands: [[UInt64]]) throws -> UInt64 {
        let slot = enqueue(commands)
        try client.mmioWrite(SMMUReg.CMDQ_PROD, cmdProd, needReply: needReply)
        return slot
    }

    /// Writes commands + CMD_SYNC into the queue without moving CMDQ_PROD;
    /// returns the sync slot's address.
    func enqueue(_ commands: [[UInt64]]) -> UInt64 {
        let mask: UInt64 = (1 << cmdqLog2) - 1
        let syncSlot = cmdq + ((cmdProd + UInt64(commands.count)) & mask) * 16
        for c in commands + [SMMUCmd.sync(msiAddress: syncSlot)] {
            ram.writeWords(cmdq + (cmdProd & mask) * 16, c)
            cmdProd = (cmdProd + 1) & ((mask << 1) | 1)
        }
        return syncSlot
    }

    /// Linux waits for the sync slot's first word to become 0 (polling RAM).
    func waitForSync(_ slot: UInt64, ms: UInt64 = 2000) -> Bool {
        let end = monotonicMs() + ms
        while monotonicMs() < end {
            if ram.read32(slot) == 0 { return true }
            usleep(200)
        }
        return ram.read32(slot) == 0
    }

    func submitAndWait(_ commands: [[UInt64]]) throws -> Bool {
        waitForSync(try submit(commands))
    }

    func writeSTE(sid: UInt32, _ words: [UInt64]) {
        ram.writeWords(strtab + UInt64(sid) * 64, words + [UInt64](repeating: 0, count: 8 - words.count))
    }
}
