import Testing
@testable import SMMU

/// Stall model through the façade (IHI 0070 3.12.2, 4.7.1 CMD_RESUME, 4.7.2
/// CMD_STALL_TERM, 7.3.13 event Stall/STAG): a CD with S = 1 under an STE
/// with S1STALLD = 0, as Linux sets it up for a stall-capable master.
struct StallTests {
    let sid: UInt32 = 12

    func machine() throws -> LinuxLikeDriver {
        let d = try LinuxLikeDriver()
        #expect(d.reset())
        let base = d.ram.base
        let t = Stage1Tables(ram: d.ram, arena: base + 0x40_0000)
        t.map(0x1234_5000, to: base + 0x100_0000)
        let cd = base + 0x30_0000
        d.ram.writeWords(cd, CDWords.linux(asid: 3, ttb0: t.root, stall: true))
        d.writeSTE(sid: sid, STEWords.stage1(cdPointer: cd))
        #expect(d.submit([DriverCmd.cfgiSTE(sid)]))
        _ = d.drainEvents()
        return d
    }

    /// A faulting write stalls; the event has Stall [95] = 1, STAG [79:64],
    /// RnW [99] = 0 for a write, InputAddr [191:128].
    func stall(_ d: LinuxLikeDriver, _ address: UInt64) -> UInt16? {
        let out = d.smmu.translate(TranslationRequest(streamID: sid, address: address, access: .write))
        guard case .fault(let f) = out, f.stalled else { Issue.record("expected a stall, got \(out)"); return nil }
        let events = d.drainEvents()
        #expect(events.count == 1)
        guard let e = events.first else { return nil }
        #expect(e[0] & 0xFF == 0x10)
        #expect(e[0] >> 32 == UInt64(sid))
        #expect(e[1] & (1 << 31) != 0)
        #expect(UInt16(e[1] & 0xFFFF) == f.stag)
        #expect(e[1] & (1 << 35) == 0)
        #expect(e[2] == address)
        return f.stag
    }

    @Test func resumeRetryReachesHost() throws {
        let d = try machine()
        guard let stag = stall(d, 0x7000_0000) else { return }
        #expect(d.submit([DriverCmd.resume(sid: sid, stag: stag, retry: true)]))
        #expect(d.host.log.withLock { $0.stalls.map { "\($0.0)/\($0.1)/\($0.2)" } } == ["\(sid)/\(stag)/true"])
        // The STAG is free again: resuming it twice is a no-op (4.7.1).
        #expect(d.submit([DriverCmd.resume(sid: sid, stag: stag, retry: true)]))
        #expect(d.host.log.withLock { $0.stalls.count } == 1)
    }

    @Test func resumeWithAnotherStreamIDIsIgnored() throws {
        let d = try machine()
        guard let stag = stall(d, 0x7000_0000) else { return }
        #expect(d.submit([DriverCmd.resume(sid: sid + 1, stag: stag, retry: true)]))
        #expect(d.host.log.withLock { $0.stalls.isEmpty })
        #expect(d.submit([DriverCmd.resume(sid: sid, stag: stag, retry: false)]))
        #expect(d.host.log.withLock { $0.stalls.map { "\($0.0)/\($0.1)/\($0.2)" } } == ["\(sid)/\(stag)/false"])
    }

    @Test func stallTermTerminatesEveryStallOfTheStream() throws {
        let d = try machine()
        guard let a = stall(d, 0x7000_0000), let b = stall(d, 0x7000_1000) else { return }
        #expect(a != b)
        #expect(d.submit([DriverCmd.stallTerm(sid: sid)]))
        let resolved = d.host.log.withLock { $0.stalls }
        #expect(Set(resolved.map { $0.1 }) == [a, b])
        #expect(resolved.allSatisfy { $0.0 == sid && !$0.2 })
        // Mapped addresses still translate without stalling.
        guard case .translated = d.smmu.translate(TranslationRequest(streamID: sid, address: 0x1234_5000)) else {
            Issue.record("mapped address should translate"); return
        }
    }
}
