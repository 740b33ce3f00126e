import CVSMMU
import SMMU
import Testing
import VSMMUServer
#if canImport(Glibc)
import Glibc
#endif

/// VSMMU_F_MMIO_WRITE_SYNC (docs/protocol.md, "Features"): with it, an
/// MMIO_WRITE with NEED_REPLY is answered after the commands it made pending
/// ran, while the front end services the backend channel; without it (or
/// for a posted write) command processing stays on the worker and never
/// needs the front end's help to answer a request.
@Suite("MMIO write sync", .serialized, .enabled(if: ModelProbe.registerFileImplemented))
struct SyncWriteTests {
    /// A bypass STE for StreamID 8 and one translation held by the front
    /// end, so that invalidating everything needs a SYNC round trip.
    static func holdTranslation(_ f: LinuxFrontEnd) throws {
        #expect(try f.reset())
        f.writeSTE(sid: 8, [1 | 0b100 << 1])
        #expect(try f.submitAndWait([SMMUCmd.cfgiSTE(8)]))
        #expect(try f.client.translate(sid: 8, iova: 0x4000).status == 0)
    }

    @Test func replyComesAfterInvalidateSyncAndMSI() throws {
        let f = try LinuxFrontEnd(features: Wire.featureMMIOWriteSync, respond: false)
        f.needReply = true
        let c = f.client
        try SyncWriteTests.holdTranslation(f)
        let channel = f.backend.socket

        let slot = f.enqueue([SMMUCmd.tlbiNSNHAll])
        #expect(f.ram.read32(slot) != 0)
        var w = WireWriter(); WireMMIO(offset: SMMUReg.CMDQ_PROD, size: 4, value: f.cmdProd).encode(into: &w)
        c.send(FrontRequest.mmioWrite.rawValue, flags: Wire.version | Wire.flagNeedReply, payload: w.bytes)

        // One thread, as QEMU's vCPU: answer the backend channel until the reply.
        var seen: [UInt32] = []
        var reply: Message?
        let end = monotonicMs() + 3000
        while reply == nil && monotonicMs() < end {
            if channel.waitReadable(ms: 1), case .success(let m) = channel.receive() {
                seen.append(m.header.request)
                if m.header.request == BackRequest.sync.rawValue {
                    var s = WireWriter(); s.i64(0)
                    _ = channel.reply(to: BackRequest.sync.rawValue, payload: s.bytes)
                }
            }
            if c.front.waitReadable(ms: 0) { reply = try c.receive() }
        }
        // Read before anything else can run: the MSI is already in RAM.
        let syncWord = f.ram.read32(slot)
        #expect(reply?.header.request == FrontRequest.mmioWrite.rawValue)
        #expect(reply.map { $0.header.isReply } == true)
        #expect(reply.flatMap { TestClient.status($0) } == 0)
        #expect(syncWord == 0)
        let inv = seen.firstIndex(of: BackRequest.invalidate.rawValue)
        let sync = seen.firstIndex(of: BackRequest.sync.rawValue)
        #expect(inv != nil && sync != nil && inv! < sync!)
        #expect(try c.mmioRead(SMMUReg.CMDQ_CONS) & 0x1FF == f.cmdProd)
    }

    /// The old rule: the write is answered (or posted) without the front
    /// end's help, and the command worker waits for the withheld SYNC.
    func workerProcesses(features: UInt64, needReply: Bool) throws {
        let f = try LinuxFrontEnd(features: features)
        try SyncWriteTests.holdTranslation(f)
        f.backend.autoAnswer = false
        let slot = f.enqueue([SMMUCmd.tlbiNSNHAll])
        let start = monotonicMs()
        try f.client.mmioWrite(SMMUReg.CMDQ_PROD, f.cmdProd, needReply: needReply)
        #expect(try f.client.mmioRead(SMMUReg.CR0) == f.cr0)
        #expect(monotonicMs() - start < 1000)
        #expect(f.backend.wait { _ in f.backend.heldSyncs == 1 })
        #expect(f.ram.read32(slot) != 0)
        f.backend.autoAnswer = true
        f.backend.releaseSyncs()
        #expect(f.waitForSync(slot))
    }

    @Test func withoutTheFeatureNeedReplyDoesNotWaitForCommands() throws {
        try workerProcesses(features: 0, needReply: true)
    }

    @Test func withTheFeatureAPostedWriteStaysOnTheWorker() throws {
        try workerProcesses(features: Wire.featureMMIOWriteSync, needReply: false)
    }
}
