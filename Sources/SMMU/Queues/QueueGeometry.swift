/// Circular queue arithmetic (IHI 0070 3.5.1): PROD.WR and CONS.RD hold an
/// index of LOG2SIZE bits with a wrap bit just above it. The queue is empty
/// when index and wrap are equal, full when the indexes are equal and the
/// wrap bits differ.
struct QueueGeometry: Sendable, Equatable {
    /// Effective log2 of the entry count (BASE.LOG2SIZE capped by IDR1).
    let log2Size: UInt8
    let entrySize: UInt64
    /// Effective base address, a PA aligned to the queue size (3.5.1: low
    /// ADDR bits are ignored as needed).
    let base: PhysicalAddress

    /// Decodes a CMDQ/EVENTQ/PRIQ_BASE value (ADDR [51:5], LOG2SIZE [4:0]).
    init(baseRegister: UInt64, maxLog2: UInt8, entrySize: UInt64) {
        let requested = UInt8(baseRegister & 0x1F)
        log2Size = min(requested, maxLog2)
        self.entrySize = entrySize
        let bytes = max(entrySize << UInt64(log2Size), 32)
        base = PhysicalAddress(baseRegister & RegBits.QUEUE_BASE_ADDR & ~(bytes - 1))
    }

    var entries: UInt32 { 1 << UInt32(log2Size) }
    /// Index plus wrap bit.
    var pointerMask: UInt32 { (1 << (UInt32(log2Size) + 1)) - 1 }
    var indexMask: UInt32 { entries - 1 }
    var wrapBit: UInt32 { entries }

    func index(_ p: UInt32) -> UInt32 { p & indexMask }
    func wrap(_ p: UInt32) -> UInt32 { p & wrapBit }
    func isEmpty(prod: UInt32, cons: UInt32) -> Bool { (prod & pointerMask) == (cons & pointerMask) }
    func isFull(prod: UInt32, cons: UInt32) -> Bool {
        index(prod) == index(cons) && wrap(prod) != wrap(cons)
    }
    /// The pointer after `p` (index + 1, toggling wrap when the index wraps).
    func next(_ p: UInt32) -> UInt32 { ((p & pointerMask) &+ 1) & pointerMask }
    /// Entries between CONS and PROD.
    func count(prod: UInt32, cons: UInt32) -> UInt32 {
        ((prod & pointerMask) &- (cons & pointerMask)) & pointerMask
    }
    func address(of p: UInt32) -> PhysicalAddress { base &+ UInt64(index(p)) &* entrySize }
}
