import Testing
@testable import SMMU

/// PRI through the façade (IHI 0070 chapter 8, 4.5.2) with the queue
/// Linux-like software programs (PRIQ of 2^6 entries).
struct PipelinePRITests {
    let sid: UInt32 = 5

    func machine() throws -> LinuxLikeDriver {
        let d = try LinuxLikeDriver()
        #expect(d.reset())
        return d
    }

    /// 8.0 record: w0 StreamID [31:0], SubstreamID [51:32], Priv [58], X [59],
    /// R [60], W [61], Last [62], SSV [63]; w1 PRGIndex [8:0], Page address
    /// [63:12] (positions cross-checked with Linux's PRIQ_0_*/PRIQ_1_*).
    @Test func pageRequestRecordAtPRIQProdFollowsTheFormat() throws {
        let d = try machine()
        let r = PageRequest(streamID: sid, substreamID: 0x12345, address: 0xDEAD_B123, read: true, write: true,
                            execute: true, privileged: true, last: true, prgIndex: 0x1AB)
        #expect(d.smmu.pageRequest(r) == .queued)
        #expect(d.read32(Reg.PRIQ_PROD) == 1)
        let w = d.ram.memory.readWords(at: PhysicalAddress(d.priq), count: 2)!
        let flags: UInt64 = 1 << 58 | 1 << 59 | 1 << 60 | 1 << 61 | 1 << 62 | 1 << 63
        let expected0: UInt64 = UInt64(sid) | 0x12345 << 32 | flags
        #expect(w[0] == expected0)
        #expect(w[1] == 0xDEAD_B000 | 0x1AB)
        #expect(d.host.log.withLock { $0.interrupts.contains(.priQueue) })
    }

    /// 7.3.19: E_PAGE_REQUEST is a "speculative page request hint from a
    /// client device"; a PCIe Page Request Message is a PRI queue entry
    /// (chapter 8), never that event, whether or not the PRI queue takes it.
    @Test func pageRequestIsNeverAnEventQueuePageRequestHint_7_3_19() throws {
        let d = try machine()
        let r = PageRequest(streamID: sid, substreamID: 7, address: 0x1234_5000, read: true, write: false,
                            last: true, prgIndex: 3)
        #expect(d.smmu.pageRequest(r) == .queued)
        #expect(d.read32(Reg.PRIQ_PROD) == 1)
        // With the PRI queue off the request is auto-responded (8.2), still no event.
        d.cr0 &= ~CR0.PRIQEN
        d.write32(Reg.CR0, d.cr0)
        #expect(d.smmu.pageRequest(r) != .queued)
        #expect(d.drainEvents().isEmpty)
    }

    /// 8.0 SSV: "When SSV == 0, the X and Priv bits are both 0."
    @Test func requestWithoutPASIDHasNoExecOrPriv() throws {
        let d = try machine()
        let r = PageRequest(streamID: sid, address: 0x8000, read: true, write: false,
                            execute: true, privileged: true, last: true, prgIndex: 1)
        #expect(d.smmu.pageRequest(r) == .queued)
        let expected: [UInt64] = [UInt64(sid) | 1 << 60 | 1 << 62, 0x8000 | 1]
        #expect(d.drainPRI() == [expected])
    }

    /// PRI_RESP (4.5.2): Resp 0b10 Success, 0b01 InvalidRequest, 0b00
    /// ResponseFailure; SSV = 1 carries the PASID, SSV = 0 none.
    @Test func priRespReachesTheHost() throws {
        let d = try machine()
        #expect(d.submit([DriverCmd.priResp(sid: sid, ssid: 0x12345, prgIndex: 0x1AB, resp: .success),
                          DriverCmd.priResp(sid: sid, prgIndex: 7, resp: .invalidRequest),
                          DriverCmd.priResp(sid: sid + 1, ssid: 9, prgIndex: 0, resp: .responseFailure)]))
        #expect(d.host.log.withLock { $0.responses } == [
            PageResponse(streamID: sid, substreamID: 0x12345, prgIndex: 0x1AB, code: .success),
            PageResponse(streamID: sid, substreamID: nil, prgIndex: 7, code: .invalidRequest),
            PageResponse(streamID: sid + 1, substreamID: 9, prgIndex: 0, code: .failure),
        ])
    }

    /// 8.1: a message arriving at a full queue toggles PRIQ_PROD.OVFLG; while
    /// the overflow is active nothing is written, L = 1 requests (the one
    /// that caused it included) get an automatic Success response with their
    /// PASID (IDR3.PPS = 1), L = 0 requests and stop markers are discarded
    /// silently; writing OVACKFLG = OVFLG ends it.
    @Test func overflowAutoRespondsLastAndDropsTheRestUntilAcknowledged() throws {
        let d = try machine()
        #expect((d.read32(0x0C) >> 5) & 1 == 1)                      // IDR3.PPS, bit [5] (6.3.4)
        let capacity = 1 << Int(d.priqLog2)
        for i in 0..<capacity {
            let r = PageRequest(streamID: sid, substreamID: 1, address: InputAddress(UInt64(i) << 12), read: true, write: false,
                                last: false, prgIndex: 1)
            #expect(d.smmu.pageRequest(r) == .queued)
        }
        let prodFull = d.read32(Reg.PRIQ_PROD)
        #expect(prodFull & (1 << 31) == 0)
        let last = PageRequest(streamID: sid, substreamID: 2, address: 0x5000, read: true, write: false,
                               last: true, prgIndex: 7)
        let auto = PageResponse(streamID: sid, substreamID: 2, prgIndex: 7, code: .success)
        #expect(d.smmu.pageRequest(last) == .autoResponded(auto))
        let prodOverflow = d.read32(Reg.PRIQ_PROD)
        #expect(prodOverflow == prodFull | 1 << 31)                   // OVFLG toggled, WR unchanged
        let notLast = PageRequest(streamID: sid, substreamID: 2, address: 0x6000, read: true, write: false,
                                  last: false, prgIndex: 8)
        #expect(d.smmu.pageRequest(notLast) == .dropped)
        let stop = PageRequest(streamID: sid, substreamID: 2, address: 0, read: false, write: false,
                               last: true, prgIndex: 0)
        #expect(d.smmu.pageRequest(stop) == .dropped)
        // Queue space freed but overflow not acknowledged: still discarding.
        _ = d.drainPRI()
        #expect(d.smmu.pageRequest(notLast) == .dropped)
        #expect(d.smmu.pageRequest(last) == .autoResponded(auto))
        #expect(d.host.log.withLock { $0.responses } == [auto, auto])
        #expect(d.read32(Reg.PRIQ_PROD) == prodOverflow)

        // Acknowledge: OVACKFLG = OVFLG. Requests are queued again.
        _ = d.drainPRI(acknowledgeOverflow: true)
        #expect(d.smmu.pageRequest(notLast) == .queued)
        #expect(d.smmu.pageRequest(stop) == .queued)
        #expect(d.drainPRI().count == 2)
        #expect(d.host.log.withLock { $0.responses.count } == 2)
    }

    /// 8.2: with PRIQEN == 0 "All incoming PPRs cause an automatic PRG
    /// Response having ResponseCode == 0b1111 ('Response Failure')" without a
    /// PASID prefix, and nothing is written; stop markers get no response.
    @Test func priQueueDisabledAnswersFailureWithoutPASID() throws {
        let d = try machine()
        d.cr0 &= ~CR0.PRIQEN
        d.write32(Reg.CR0, d.cr0)
        #expect(d.read32(Reg.CR0ACK) & UInt32(CR0.PRIQEN) == 0)
        let r = PageRequest(streamID: sid, substreamID: 4, address: 0x9000, read: true, write: false,
                            last: true, prgIndex: 12)
        let failure = PageResponse(streamID: sid, substreamID: nil, prgIndex: 12, code: .failure)
        #expect(d.smmu.pageRequest(r) == .autoResponded(failure))
        let stop = PageRequest(streamID: sid, substreamID: 4, address: 0, read: false, write: false,
                               last: true, prgIndex: 0)
        #expect(d.smmu.pageRequest(stop) == .dropped)
        #expect(d.host.log.withLock { $0.responses } == [failure])
        #expect(d.read32(Reg.PRIQ_PROD) == 0)
    }
}
