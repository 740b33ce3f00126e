/// The part of an SMMU's state that is not in guest memory and not a cache:
/// the register file with its queue pointers and error state, the interrupt
/// arming, the stall table with its held event records, and the effects
/// decided but possibly not yet delivered to the host (the outbox). A new
/// model that adopts it carries on where the old one stopped; caches are
/// rebuilt from guest memory (docs/backend.md, "Restart").
///
/// The host is given a new image after every change, under the lock the
/// change was made under, so an image is never older than anything the
/// model has let the host or the guest observe.
public struct DurableState: Sendable, Equatable {
    var registers: [UInt64]
    var eventIRQArmed: Bool
    var priIRQArmed: Bool
    var stalls: StallTable
    var outbox: Outbox

    /// Changes whenever the image's layout does. Images of format 1 (the
    /// stall table listed every slot) are read too, so that an upgrade under
    /// a running guest adopts its predecessor's state; others are refused.
    public static let formatVersion: UInt32 = 2
    static let readableVersions: ClosedRange<UInt32> = 1...2
    private static let magic: UInt32 = 0x5344_5356   // "VSDS"

    init(_ r: ControlRegisters) {
        registers = r.values; eventIRQArmed = r.eventIRQArmed; priIRQArmed = r.priIRQArmed
        stalls = r.stalls; outbox = r.outbox
    }

    public func encode(into w: inout ByteWriter) {
        w.u32(Self.magic); w.u32(Self.formatVersion)
        w.u32(UInt32(registers.count))
        w.u64s(registers)
        w.u32((eventIRQArmed ? 1 : 0) | (priIRQArmed ? 2 : 0))
        stalls.encode(into: &w)
        outbox.encode(into: &w)
    }

    /// CMDQ_CONS in the image (for logs).
    public var commandQueueConsumer: UInt64 { registers[SMMURegister.CMDQ_CONS.rawValue] }

    public var encoded: [UInt8] {
        var w = ByteWriter(); encode(into: &w); return w.bytes
    }

    public enum Invalid: Error, Equatable, CustomStringConvertible {
        case notAnImage, version(UInt32), registerCount(Int), malformed(String)
        /// The image's ID registers differ from this configuration's: the
        /// guest has read another SMMU's.
        case otherConfiguration(register: String, image: UInt64, expected: UInt64)
        public var description: String {
            switch self {
            case .notAnImage: "not a vsmmu state image"
            case .version(let v): "state image format \(v), this backend reads \(DurableState.readableVersions.lowerBound)-\(DurableState.readableVersions.upperBound)"
            case .registerCount(let n): "state image has \(n) registers"
            case .malformed(let what): "state image malformed: \(what)"
            case .otherConfiguration(let reg, let image, let expected):
                "state image is of another SMMU configuration: \(reg) = 0x\(String(image, radix: 16)), this backend's is 0x\(String(expected, radix: 16))"
            }
        }
    }

    /// Decodes and validates an image against `configuration`: every field
    /// in range, the ID registers equal to this configuration's (what the
    /// guest already read), no bytes left over.
    public init(decoding bytes: [UInt8], configuration: SMMUConfiguration) throws(Invalid) {
        var r = ByteReader(bytes)
        guard r.u32() == Self.magic else { throw .notAnImage }
        let version = r.u32()
        guard Self.readableVersions.contains(version) else { throw .version(version) }
        let n = Int(r.u32())
        guard n == SMMURegister.allCases.count, r.remaining >= n * 8 else { throw .registerCount(n) }
        registers = (0..<n).map { _ in r.u64() }
        let flags = r.u32()
        guard flags & ~3 == 0 else { throw .malformed("interrupt flags 0x\(String(flags, radix: 16))") }
        eventIRQArmed = flags & 1 != 0; priIRQArmed = flags & 2 != 0
        guard let stalls = StallTable(decoding: &r, capacity: Int(IDRegisters.stallMax), format: version) else {
            throw .malformed("stall table")
        }
        self.stalls = stalls
        guard let outbox = Outbox(decoding: &r) else { throw .malformed("outbox") }
        self.outbox = outbox
        guard !r.overrun, r.remaining == 0 else { throw .malformed("length") }
        let layout = RegisterLayout(ids: IDRegisters(configuration))
        for reg in [SMMURegister.IDR0, .IDR1, .IDR2, .IDR3, .IDR4, .IDR5, .IIDR, .AIDR] {
            let expected = layout[reg].reset
            guard registers[reg.rawValue] == expected else {
                throw .otherConfiguration(register: "\(reg)", image: registers[reg.rawValue], expected: expected)
            }
        }
    }
}

/// Effects the model decided under its lock and delivers after releasing
/// it. In a durable model each is entered in the image that records the
/// change causing it and removed once delivered, so an adopting model
/// delivers again what the old one may not have (at least once; why each
/// kind is harmless twice: docs/backend.md).
struct Outbox: Sendable, Equatable {
    enum Effect: Sendable, Equatable {
        case signal(InterruptSignal)
        case invalidateAll
        case stallResolved(streamID: UInt32, stag: UInt16, retry: Bool)
        case pageResponse(PageResponse)
    }

    private(set) var entries: [(id: UInt64, effect: Effect)] = []
    private var nextID: UInt64 = 1
    /// Bounded by the threads delivering at once; far more means a bug.
    static let capacity = 512

    static func == (a: Outbox, b: Outbox) -> Bool {
        a.nextID == b.nextID && a.entries.elementsEqual(b.entries) { $0.id == $1.id && $0.effect == $1.effect }
    }

    var isEmpty: Bool { entries.isEmpty }
    var effects: [Effect] { entries.map(\.effect) }

    /// Enters `effects`; returns the range of ids to remove once delivered.
    mutating func enter(_ effects: [Effect]) -> Range<UInt64> {
        let first = nextID
        for e in effects where entries.count < Self.capacity {
            entries.append((nextID, e)); nextID += 1
        }
        return first..<nextID
    }

    mutating func remove(_ ids: Range<UInt64>) {
        guard !ids.isEmpty else { return }
        entries.removeAll { ids.contains($0.id) }
    }

    mutating func removeAll() -> [Effect] {
        defer { entries.removeAll() }
        return entries.map(\.effect)
    }

    // MARK: image

    func encode(into w: inout ByteWriter) {
        w.u64(nextID); w.u32(UInt32(entries.count))
        for (id, e) in entries {
            w.u64(id)
            switch e {
            case .signal(.wired(let line)):
                w.u8(0); w.u8(line.rawValue); w.zeros(2); w.u32(0); w.u64(0)
            case .signal(.msi(let address, let data, let source)):
                w.u8(1); w.u8(source.rawValue); w.zeros(2); w.u32(data); w.u64(address.rawValue)
            case .invalidateAll:
                w.u8(2); w.zeros(3); w.u32(0); w.u64(0)
            case .stallResolved(let sid, let stag, let retry):
                w.u8(3); w.u8(retry ? 1 : 0); w.u16(stag); w.u32(sid); w.u64(0)
            case .pageResponse(let p):
                w.u8(4); w.u8(p.code.rawValue); w.u16(p.prgIndex); w.u32(p.streamID)
                w.u64(p.substreamID.map { UInt64($0) | 1 << 32 } ?? 0)
            }
        }
    }

    init() {}

    init?(decoding r: inout ByteReader) {
        nextID = r.u64()
        let n = Int(r.u32())
        // Far from wrapping: ids are never reused (a backend does not
        // come near 2^63 effects).
        guard nextID < 1 << 63, n <= Self.capacity, r.remaining >= n * 24 else { return nil }
        var last: UInt64 = 0
        for _ in 0..<n {
            let id = r.u64()
            guard id > last, id < nextID else { return nil }
            last = id
            let kind = r.u8(), a = r.u8(), b = r.u16(), c = r.u32(), d = r.u64()
            let effect: Effect
            switch kind {
            case 0:
                guard let line = SMMUInterruptLine(rawValue: a) else { return nil }
                effect = .signal(.wired(line))
            case 1:
                guard let line = SMMUInterruptLine(rawValue: a) else { return nil }
                effect = .signal(.msi(address: PhysicalAddress(d), data: c, source: line))
            case 2:
                effect = .invalidateAll
            case 3:
                guard a <= 1, Int(b) < Int(IDRegisters.stallMax) else { return nil }
                effect = .stallResolved(streamID: c, stag: b, retry: a == 1)
            case 4:
                guard let code = PageResponseCode(rawValue: a), b <= 0x1FF, d >> 33 == 0 else { return nil }
                let ssid: UInt32? = d & 1 << 32 != 0 ? UInt32(truncatingIfNeeded: d) : nil
                effect = .pageResponse(PageResponse(streamID: c, substreamID: ssid, prgIndex: b, code: code))
            default:
                return nil
            }
            entries.append((id, effect))
        }
    }
}
