import Testing
@testable import SMMU

/// A durable model (docs/backend.md, "Restart"): the images it gives its
/// host after every change let a new model carry on as if the old one had
/// never stopped. A backend can be killed between any two images; these
/// tests adopt every image a Linux-shaped sequence produced and check that
/// what the guest then sees is what the architecture promises.
struct DurabilityTests {
    let sid: UInt32 = 12

    /// A Linux-like bring-up on a durable model; the images it gave so far.
    func durableMachine(_ configuration: SMMUConfiguration = .init()) throws
        -> (LinuxLikeDriver, Shared<[DurableState]>) {
        let images = Shared<[DurableState]>([])
        let d = try LinuxLikeDriver(configuration: configuration, check: false)
        d.smmu.makeDurable { s in images.update { $0.append(s) } }
        #expect(d.reset())
        #expect(d.setUpStallingStream(sid: sid))
        return (d, images)
    }

    func roundTrip(_ s: DurableState, _ c: SMMUConfiguration = .init()) throws -> DurableState {
        try DurableState(decoding: s.encoded, configuration: c)
    }

    func cons(_ s: DurableState) -> UInt64 { s.registers[SMMURegister.CMDQ_CONS.rawValue] }

    // MARK: the image

    @Test func imageRoundTripsWithStallsAndHeldRecords() throws {
        let (d, _) = try durableMachine()
        // Event queue off: the stall record is held in the table (7.2.1).
        #expect(d.disable(CR0.EVTQEN))
        let out = d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(0x7000_0000), access: .write))
        guard case .fault(let f) = out, f.stalled else { Issue.record("expected a stall, got \(out)"); return }
        let s = d.smmu.durableState
        #expect(s.stalls.count == 1 && s.stalls.hasHeldRecords)
        #expect(try roundTrip(s) == s)
    }

    @Test func adoptedModelReadsEveryRegisterAsTheOldOne() throws {
        let (d, images) = try durableMachine()
        _ = d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(0x7000_0000), access: []))
        let old = d.smmu
        let before = stride(from: UInt64(0), to: SMMUv3.mmioSize, by: 4).map { old.read(offset: $0, size: 4) }
        #expect(images.value.last == old.durableState)
        try d.replaceModel(adopting: roundTrip(images.value.last!))
        let after = stride(from: UInt64(0), to: SMMUv3.mmioSize, by: 4).map { d.smmu.read(offset: $0, size: 4) }
        #expect(before == after)
        // ...and the adopter's host caches were told to start empty.
        #expect(d.host.log.withLock { $0.invalidations.last } == .all)
    }

    // MARK: a kill between any two images

    /// The backend is killed at every image of a batch of commands and its
    /// CMD_SYNC, before or after the SYNC's MSI reached RAM: the adopter
    /// finishes the batch, the SYNC completes as Linux polls for it (its
    /// slot's first word 0, CONS at PROD), and no command is lost.
    @Test func killAtEveryImageOfACommandBatch() throws {
        let (d, images) = try durableMachine()
        let first = images.value.count
        let batch = (0..<6).map { DriverCmd.tlbiNHVA(asid: 3, address: 0x1234_5000 + UInt64($0) << 12) }
        let syncIndex = d.cmdProd + UInt64(batch.count)
        let slot = d.cmdq + (syncIndex & ((1 << d.cmdqLog2) - 1)) * 16
        #expect(d.submit(batch))
        let prod = d.cmdProd
        let run = Array(images.value[first...])
        #expect(run.count >= batch.count + 2)
        let syncCommand = DriverCmd.sync(cs: .sigIRQ, msiData: 0, msiAddress: slot)
        for (k, image) in run.enumerated() {
            // The MSI can have reached RAM only once CONS passed the SYNC,
            // and has once the image no longer holds it as undelivered.
            let consumed = cons(image) & 0xFFFFF > syncIndex & 0xFFFFF
            let undelivered = image.outbox.effects.contains {
                if case .signal(.msi(_, _, .commandSync)) = $0 { true } else { false }
            }
            for msiWritten in !consumed ? [false] : undelivered ? [false, true] : [true] {
                d.ram.writeWords(slot, msiWritten ? [syncCommand[0] & ~0xFFFF_FFFF, syncCommand[1]] : syncCommand)
                let syncsBefore = d.host.log.withLock { $0.syncs }
                if try d.replaceModel(adopting: roundTrip(image)).contains(.commandsPending) {
                    d.smmu.processCommands()
                }
                let consNow = UInt64(d.read32(Reg.CMDQ_CONS))
                // The guest wrote PROD before the image was taken, or its
                // write is retried by the front end after the restart.
                if consNow != prod {
                    #expect(d.smmu.write(offset: Reg.CMDQ_PROD, size: 4, value: prod).contains(.commandsPending),
                            "image \(k): PROD write")
                    d.smmu.processCommands()
                }
                #expect(UInt64(d.read32(Reg.CMDQ_CONS)) == prod, "image \(k) msi \(msiWritten)")
                #expect(d.ram.read32(slot) == 0, "image \(k) msi \(msiWritten): SYNC not completed")
                // A SYNC already consumed in the image is not executed again.
                let executedSync = d.host.log.withLock { $0.syncs } - syncsBefore
                #expect(executedSync == (consumed ? 0 : 1), "image \(k)")
            }
        }
    }

    /// The image in which CONS first passes a CMD_SYNC also holds the
    /// SYNC's completion MSI: a backend killed after recording the
    /// consumption and before the MSI left still completes the SYNC.
    @Test func consumedSyncAndItsCompletionAreOneImage() throws {
        let (d, images) = try durableMachine()
        let first = images.value.count
        let syncIndex = d.cmdProd
        #expect(d.submit([]))
        let run = images.value[first...]
        guard let passed = run.first(where: { cons($0) & 0xFFFFF > syncIndex & 0xFFFFF }) else {
            Issue.record("no image shows the SYNC consumed"); return
        }
        let msis = passed.outbox.effects.compactMap { e -> UInt64? in
            if case .signal(.msi(let a, _, .commandSync)) = e { return a.rawValue } else { return nil }
        }
        #expect(msis.count == 1)
        #expect(run.last!.outbox.isEmpty, "delivered effects stay in the image")
        let delivered = d.host.log.withLock { $0.msis.count }
        try d.replaceModel(adopting: roundTrip(passed))
        #expect(d.host.log.withLock { $0.msis.count } == delivered + 1)
        #expect(d.smmu.durableState.outbox.isEmpty)
    }

    /// CMD_RESUME: the STAG's release and its resolution are one image, so
    /// the held transaction is resumed even if the backend died between
    /// consuming the command and telling the host (4.7.1).
    @Test func resumeConsumedIsResumedByTheAdopter() throws {
        let (d, images) = try durableMachine()
        let out = d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(0x7000_0000), access: .write))
        guard case .fault(let f) = out, f.stalled else { Issue.record("expected a stall, got \(out)"); return }
        _ = d.drainEvents()
        #expect(images.value.last!.stalls.count == 1)
        let first = images.value.count
        let resumeIndex = d.cmdProd
        #expect(d.submit([DriverCmd.resume(sid: sid, stag: f.stag, retry: true)]))
        guard let passed = images.value[first...].first(where: { cons($0) & 0xFFFFF > resumeIndex & 0xFFFFF }) else {
            Issue.record("no image shows the RESUME consumed"); return
        }
        #expect(passed.stalls.count == 0)
        #expect(passed.outbox.effects.contains(.stallResolved(streamID: sid, stag: f.stag, retry: true)))
        d.host.log.withLock { $0.stalls = [] }
        try d.replaceModel(adopting: roundTrip(passed))
        #expect(d.host.log.withLock { $0.stalls.map { "\($0.0)/\($0.1)/\($0.2)" } } == ["\(sid)/\(f.stag)/true"])
    }

    /// A stall outstanding in the image is still outstanding for the
    /// adopter: the guest's CMD_RESUME reaches the held transaction.
    @Test func stallOutstandingAtTheKillIsResumedThroughTheAdopter() throws {
        let (d, images) = try durableMachine()
        let out = d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(0x7000_0000), access: .write))
        guard case .fault(let f) = out, f.stalled else { Issue.record("expected a stall, got \(out)"); return }
        _ = d.drainEvents()
        try d.replaceModel(adopting: roundTrip(images.value.last!))
        d.host.log.withLock { $0.stalls = [] }
        #expect(d.submit([DriverCmd.resume(sid: sid, stag: f.stag, retry: false)]))
        #expect(d.host.log.withLock { $0.stalls.map { "\($0.0)/\($0.1)/\($0.2)" } } == ["\(sid)/\(f.stag)/false"])
    }

    /// An event's record, its PROD update and its interrupt are one image.
    @Test func eventInterruptIsRaisedByTheAdopter() throws {
        let (d, images) = try durableMachine()
        let first = images.value.count
        let prod0 = images.value.last!.registers[SMMURegister.EVENTQ_PROD.rawValue]
        _ = d.smmu.translate(TranslationRequest(streamID: sid + 1, address: InputAddress(0x7000_0000), access: []))
        guard let recorded = images.value[first...].first(where: {
            $0.registers[SMMURegister.EVENTQ_PROD.rawValue] != prod0
        }) else { Issue.record("no event recorded"); return }
        #expect(recorded.outbox.effects.contains(.signal(.wired(.eventQueue))))
        d.host.log.withLock { $0.interrupts = [] }
        try d.replaceModel(adopting: roundTrip(recorded))
        #expect(d.host.log.withLock { $0.interrupts } == [.eventQueue])
        #expect(d.drainEvents().count == 1)
    }

    @Test func nonDurableModelKeepsNoOutbox() throws {
        let d = try LinuxLikeDriver(check: false)
        #expect(d.reset())
        _ = d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(0x7000_0000), access: []))
        #expect(d.smmu.durableState.outbox.isEmpty)
    }

    // MARK: hostile images (the region is shared with the front end)

    /// An upgrade under a running guest hands the new backend its
    /// predecessor's image: a format 1 image (every stall slot listed, a
    /// freed slot keeping its old owner) is adopted with its allocations
    /// and held records.
    @Test func formatOneImageIsAdopted() throws {
        let (d, _) = try durableMachine()
        let state = d.smmu.durableState
        var v2 = ByteWriter(); state.stalls.encode(into: &v2)
        let good = state.encoded
        let stallsAt = 16 + SMMURegister.allCases.count * 8
        let capacity = Int(IDRegisters.stallMax)
        let record = EncodedEvent(w0: 0x31, w1: 0x1234, w2: 0x7000_0000, w3: 0)
        var v1 = ByteWriter()
        v1.u32(UInt32(capacity)); v1.u32(3)
        for i in 0..<capacity {
            v1.u8(i == 1 ? 1 : 0); v1.u32(i == 1 ? 12 : i == 2 ? 77 : 0)
        }
        v1.u32(1); v1.u16(1)
        v1.u64(record.w0); v1.u64(record.w1); v1.u64(record.w2); v1.u64(record.w3)
        var image = Array(good[..<stallsAt]) + v1.bytes + Array(good[(stallsAt + v2.bytes.count)...])
        image[4] = 1
        let adopted = try DurableState(decoding: image, configuration: .init())
        #expect(adopted.registers == state.registers)
        #expect(adopted.outbox == state.outbox)
        #expect(adopted.stalls.count == 1)
        #expect(adopted.stalls.isHeld(1) && adopted.stalls.oldestHeld == record)
        var stalls = adopted.stalls
        let freedSlot = stalls.release(streamID: 77, stag: 2)
        let allocatedSlot = stalls.release(streamID: 12, stag: 1)
        #expect(!freedSlot && allocatedSlot)
        // written back in format 2, it reads the same
        let again = try DurableState(decoding: adopted.encoded, configuration: .init())
        #expect(again == adopted)
        var bad = image; bad[stallsAt + 8] = 2   // slot 0's "used" byte
        #expect(throws: DurableState.Invalid.malformed("stall table")) {
            try DurableState(decoding: bad, configuration: .init())
        }
    }

    @Test func decoderRefusesWhatIsNotAnImageOfThisSMMU() throws {
        let (d, _) = try durableMachine()
        let good = d.smmu.durableState.encoded
        #expect(throws: DurableState.Invalid.notAnImage) { try DurableState(decoding: [], configuration: .init()) }
        var v = good; v[4] = 9
        #expect(throws: DurableState.Invalid.version(9)) { try DurableState(decoding: v, configuration: .init()) }
        for n in stride(from: 0, to: good.count, by: 7) {
            #expect(throws: DurableState.Invalid.self) { try DurableState(decoding: Array(good[..<n]), configuration: .init()) }
        }
        #expect(throws: DurableState.Invalid.malformed("length")) {
            try DurableState(decoding: good + [0], configuration: .init())
        }
        // an outbox counter at its end would trap at the next effect
        var stalls = ByteWriter(); d.smmu.durableState.stalls.encode(into: &stalls)
        var wrapping = good
        let nextIDAt = 16 + SMMURegister.allCases.count * 8 + stalls.bytes.count
        for i in 0..<8 { wrapping[nextIDAt + i] = 0xFF }
        #expect(throws: DurableState.Invalid.malformed("outbox")) {
            try DurableState(decoding: wrapping, configuration: .init())
        }
        var other = SMMUConfiguration(); other.pri = false
        #expect {
            try DurableState(decoding: good, configuration: other)
        } throws: { e in
            if case DurableState.Invalid.otherConfiguration(register: "IDR0", _, _) = e { return true }
            return false
        }
    }

    /// Corrupted images decode to an error or to an image within range:
    /// never a crash, and an adopted one leaves a model that still answers.
    @Test func corruptedImagesNeverCrashTheAdopter() throws {
        let (d, _) = try durableMachine()
        let _ = d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(0x7000_0000), access: .write))
        let good = d.smmu.durableState.encoded
        var rng = SplitMix64(seed: 0x5EED)
        var adopted = 0
        for _ in 0..<2000 {
            var bytes = good
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next())
            }
            guard let image = try? DurableState(decoding: bytes, configuration: .init()) else { continue }
            let m = try SMMUv3(memory: d.smmu.memory, host: DriverHost())
            m.adopt(image)
            _ = m.read(offset: Reg.CMDQ_CONS, size: 4)
            m.processCommands()
            adopted += 1
        }
        #expect(adopted > 0)
    }
}

/// A small deterministic generator for the corruption test.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
