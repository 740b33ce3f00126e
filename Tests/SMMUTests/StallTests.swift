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
        #expect(d.setUpStallingStream(sid: sid))
        _ = d.drainEvents()
        return d
    }

    /// A faulting write stalls; the event has Stall [95] = 1, STAG [79:64],
    /// RnW [99] = 0 for a write, InputAddr [191:128].
    func stall(_ d: LinuxLikeDriver, _ address: UInt64) -> UInt16? {
        let out = d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(address), access: .write))
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

    /// A faulting write that must stall; its record is not drained.
    func stallQuietly(_ d: LinuxLikeDriver, _ address: UInt64) -> TranslationFault? {
        let out = d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(address), access: .write))
        guard case .fault(let f) = out, f.stalled else { Issue.record("expected a stall at \(address), got \(out)"); return nil }
        return f
    }

    func eventqProd(_ d: LinuxLikeDriver) -> UInt64 { UInt64(d.read32(Reg.EVENTQ_PROD)) }

    /// 7.4: "a fault record from a stalled transaction is not discarded and an
    /// event is reported for the stalled transaction when the queue is next
    /// writable. In addition, as stall fault records are not discarded, stall
    /// fault records do not cause an overflow condition."
    @Test func stallRecordWaitsForRoomInAFullEventQueue_7_4() throws {
        let d = try machine()
        let entries = 1 << Int(d.eventqLog2)
        for i in 0..<entries { _ = stallQuietly(d, 0x7000_0000 + UInt64(i) << 12) }
        let full = eventqProd(d)
        #expect(full & 0xFF == 0x80)                           // 128 entries: index 0, wrap 1
        guard let late = stallQuietly(d, 0x7800_0000) else { return }
        #expect(eventqProd(d) == full, "no record written and OVFLG untouched")
        #expect(d.host.log.withLock { $0.stalls.isEmpty })     // still stalled, not terminated
        // Software consumes the queue: the held record is written next.
        #expect(d.drainEvents().count == entries)
        let next = d.drainEvents()
        #expect(next.count == 1)
        if let e = next.first {
            #expect(e[0] & 0xFF == 0x10 && e[1] & (1 << 31) != 0)   // F_TRANSLATION, Stall
            #expect(UInt16(e[1] & 0xFFFF) == late.stag && e[2] == 0x7800_0000)
        }
        #expect(eventqProd(d) & (1 << 31) == 0)
        // The transaction stayed stalled: its STAG resumes it.
        #expect(d.submit([DriverCmd.resume(sid: sid, stag: late.stag, retry: true)]))
        #expect(d.host.log.withLock { $0.stalls.map(\.1) } == [late.stag])
    }

    /// 7.2.1: "If the stalled transaction is affected by a configuration or
    /// translation invalidation and CMD_SYNC, the transaction must be retried
    /// ... or the generation of a new fault"; 4.7.2.1: after the CMD_SYNC "a
    /// stall record (STALL == 1) is not written after this point". A record
    /// held for a full queue must not come out after CFGI_STE + CMD_SYNC: the
    /// transaction is retried instead.
    @Test func heldStallRecordIsRetriedNotWrittenAfterInvalidationAndSync_7_2_1() throws {
        let d = try machine()
        let entries = 1 << Int(d.eventqLog2)
        for i in 0..<entries { _ = stallQuietly(d, 0x7000_0000 + UInt64(i) << 12) }
        guard let late = stallQuietly(d, 0x7800_0000) else { return }
        #expect(d.host.log.withLock { $0.stalls.isEmpty })
        #expect(d.submit([DriverCmd.cfgiSTE(sid)]))
        // Retried at the CMD_SYNC, its STAG freed.
        #expect(d.host.log.withLock { $0.stalls.map { [UInt64($0.1), $0.2 ? 1 : 0] } } == [[UInt64(late.stag), 1]])
        // Software consumes the queue: only the records written before.
        #expect(d.drainEvents().count == entries)
        #expect(d.drainEvents().isEmpty)
        // The STAG is gone: a RESUME of it is a no-op (4.7.1).
        #expect(d.submit([DriverCmd.resume(sid: sid, stag: late.stag, retry: true)]))
        #expect(d.host.log.withLock { $0.stalls.count } == 1)
    }

    /// 7.2.1: "Events caused by stalled transactions are not discarded" when
    /// the queue is unwritable because EVENTQEN == 0; the record is written
    /// once the queue is enabled (6.3.95: no overflow either).
    @Test func stallRecordWaitsForTheEventQueueToBeEnabled_7_2_1() throws {
        let d = try machine()
        d.cr0 &= ~CR0.EVTQEN
        d.write32(Reg.CR0, d.cr0)
        guard let f = stallQuietly(d, 0x7000_0000) else { return }
        #expect(eventqProd(d) == 0)
        #expect(d.host.log.withLock { $0.stalls.isEmpty })
        #expect(d.enable(CR0.EVTQEN))
        let events = d.drainEvents()
        #expect(events.count == 1)
        #expect(events.first.map { UInt16($0[1] & 0xFFFF) == f.stag && $0[1] & (1 << 31) != 0 } == true)
    }

    /// Held records are bounded by IDR5.STALL_MAX: each holds a STAG. Past
    /// that the transaction cannot stall and terminates (3.12.2). A stall
    /// terminated before its record was written never records it (4.7.2:
    /// "Pending stall fault event records are prevented from being recorded",
    /// and the STAG is returned to the pool).
    @Test func heldStallRecordsAreBoundedBySTALL_MAX() throws {
        let d = try machine()
        d.cr0 &= ~CR0.EVTQEN
        d.write32(Reg.CR0, d.cr0)
        let stallMax = Int(d.read32(Reg.IDR5) >> 16)
        #expect(stallMax == 256)
        var stags = Set<UInt16>()
        for i in 0..<stallMax {
            if let f = stallQuietly(d, 0x7000_0000 + UInt64(i) << 12) { stags.insert(f.stag) }
        }
        #expect(stags.count == stallMax)
        let out = d.smmu.translate(TranslationRequest(streamID: sid, address: 0x7F00_0000, access: .write))
        guard case .fault(let f) = out else { Issue.record("expected a fault"); return }
        #expect(!f.stalled)
        #expect(d.submit([DriverCmd.stallTerm(sid: sid)]))
        #expect(Set(d.host.log.withLock { $0.stalls.map(\.1) }) == stags)
        #expect(d.enable(CR0.EVTQEN))
        #expect(d.drainEvents().isEmpty)
    }

    /// 6.3.9.6: completion of SMMUEN 1 -> 0 ensures "All stalled transactions
    /// ... have been marked to be terminated with an abort", their STAGs
    /// returned to the pool.
    @Test func clearingSMMUENTerminatesEveryStall_6_3_9_6() throws {
        let d = try machine()
        guard let a = stall(d, 0x7000_0000), let b = stall(d, 0x7000_1000) else { return }
        d.cr0 &= ~CR0.SMMUEN
        d.write32(Reg.CR0, d.cr0)
        #expect(UInt64(d.read32(Reg.CR0ACK)) == d.cr0)
        let resolved = d.host.log.withLock { $0.stalls }
        #expect(Set(resolved.map(\.1)) == [a, b])
        #expect(resolved.allSatisfy { $0.0 == sid && !$0.2 })
        // The STAGs are gone: a RESUME of one is a no-op (4.7.1).
        #expect(d.submit([DriverCmd.resume(sid: sid, stag: a, retry: true)]))
        #expect(d.host.log.withLock { $0.stalls.count } == 2)
    }
}
