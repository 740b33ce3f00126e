import Testing
@testable import SMMU

/// The address kinds (Memory/Addresses.swift): the arithmetic and alignment
/// they offer, overflow at 2^64 included, and a nested walk whose
/// intermediate addresses come out as IPAs while every memory access is at
/// a PA.
@Suite struct AddressTests {
    @Test func aWrapperIsAWord() {
        // Free at run time: the layout of the UInt64 inside.
        #expect(MemoryLayout<PhysicalAddress>.size == 8 && MemoryLayout<PhysicalAddress>.alignment == 8)
        #expect(MemoryLayout<IntermediateAddress>.stride == 8 && MemoryLayout<InputAddress>.stride == 8)
        #expect(MemoryLayout<PhysicalAddress?>.size == 9)   // as UInt64?
    }

    @Test func rawBitsDescriptionAndOrder() {
        let pa = PhysicalAddress(0x8000_1234)
        #expect(pa.raw == 0x8000_1234 && pa.rawValue == 0x8000_1234)
        #expect(PhysicalAddress(rawValue: 0x10) == 0x10)
        #expect("\(pa)" == "0x80001234" && "\(IntermediateAddress(0))" == "0x0")
        #expect([PhysicalAddress(3), 1, 2].sorted() == [1, 2, 3])
        #expect(Set<InputAddress>([5, 5, 6]).count == 2)
    }

    @Test func offsetsAndOverflowAt2To64() {
        let top = PhysicalAddress(UInt64.max)
        // `+` for sums that cannot overflow.
        #expect(PhysicalAddress(0x1000) + 0x20 == 0x1020)
        // `&+` wraps modulo 2^64.
        #expect(top &+ 1 == 0)
        #expect(PhysicalAddress(0xFFFF_FFFF_FFFF_F000) &+ 0x2000 == 0x1000)
        // `adding` refuses to pass 2^64 - 1, and reaches it exactly.
        #expect(top.adding(1) == nil)
        #expect(PhysicalAddress(UInt64.max - 7).adding(7) == top)
        #expect(PhysicalAddress(1 << 63).adding(1 << 63) == nil)
        #expect(IntermediateAddress(0x1000).adding(0) == 0x1000)
        // The distance between two addresses of one kind.
        #expect(PhysicalAddress(0x5000) - PhysicalAddress(0x4000) == 0x1000)
        #expect(top - PhysicalAddress(0) == UInt64.max)
    }

    @Test func alignmentBlockOffsetsAndSizes() {
        let a = InputAddress(0xFFFF_8000_1234_5678)
        #expect(a.alignedDown(log2: 0) == a)
        #expect(a.alignedDown(log2: 12) == 0xFFFF_8000_1234_5000)
        #expect(a.alignedDown(log2: 63) == InputAddress(1 << 63))
        #expect(a.alignedDown(log2: 64) == 0 && a.alignedDown(log2: 255) == 0)
        #expect(a.offset(inBlockLog2: 12) == 0x678)
        #expect(a.offset(inBlockLog2: 0) == 0)
        #expect(a.offset(inBlockLog2: 64) == a.raw)   // the whole address space is one block
        #expect(a.alignedDown(log2: 21) &+ a.offset(inBlockLog2: 21) == a)
        #expect(PhysicalAddress(0x1008).isAligned(log2: 3) && !PhysicalAddress(0x1004).isAligned(log2: 3))
        #expect(PhysicalAddress(UInt64.max).isAligned(log2: 0) && PhysicalAddress(0).isAligned(log2: 64))
        // Address size checks (3.4): bits [63:n] zero.
        #expect(PhysicalAddress((1 << 48) - 1).fits(bits: 48) && !PhysicalAddress(1 << 48).fits(bits: 48))
        #expect(PhysicalAddress(UInt64.max).fits(bits: 64) && PhysicalAddress(0).fits(bits: 0))
        #expect(!PhysicalAddress(1).fits(bits: 0))
    }

    /// The spelled-out conversions of 3.4 keep the bits; nothing else converts.
    @Test func conversionsKeepTheBits() {
        let input = InputAddress(0x80_4000_1234)
        #expect(IntermediateAddress(bypassingStage1: input).raw == input.raw)
        #expect(PhysicalAddress(bypassingTranslation: input).raw == input.raw)
        #expect(PhysicalAddress(bypassingStage2: IntermediateAddress(0x9000)) == 0x9000)
        let split = TranslationOutput.intermediate(0x4000_5000)
        #expect(split.physical == nil && split.raw == 0x4000_5000)
        #expect(TranslationOutput.physical(0x8000).physical == 0x8000)
    }

    /// Each layout field reads as the kind the spec gives it.
    @Test func addressFieldsReadTheirKind() {
        var ste = [UInt64](repeating: 0, count: 8)
        ste.set(STE.Fields.s1ContextPtr, IntermediateAddress(0x4010_0040))
        ste.set(STE.Fields.s2TTB, PhysicalAddress(0x4020_0000))
        #expect(type(of: ste[STE.Fields.s1ContextPtr]) == IntermediateAddress.self)
        #expect(type(of: ste[STE.Fields.s2TTB]) == PhysicalAddress.self)
        #expect(ste[STE.Fields.s1ContextPtr] == 0x4010_0040 && ste[STE.Fields.s2TTB] == 0x4020_0000)
        let cd = [UInt64](repeating: 0, count: 8)
        #expect(type(of: cd[CD.Fields.ttb0]) == IntermediateAddress.self)
        let l1 = [UInt64(0)]
        #expect(type(of: l1[L1STD.Fields.l2Ptr]) == PhysicalAddress.self)
        #expect(type(of: l1[L1CD.Fields.l2Ptr]) == IntermediateAddress.self)
        let command: [UInt64] = [0, 0]
        #expect(type(of: command[Command.Fields.msiAddress]) == PhysicalAddress.self)
        #expect(type(of: command[Command.Fields.ipa]) == IntermediateAddress.self)
        #expect(type(of: command[Command.Fields.address]) == InputAddress.self)
    }

    // MARK: A nested walk

    /// Stage 2 (4KB, 32-bit IPA, start level 1, four 1 GiB entries at PA
    /// `s2Root`): IPA [0, 1G) is the block at PA 0x4000_0000 (RAM), IPA
    /// [1G, 2G) the block at PA 0x8000_0000 (no RAM). So IPA x < 1G is PA
    /// 0x4000_0000 + x: IPAs and PAs differ, and reading an IPA as if it were
    /// a PA would find other memory.
    /// Stage 1 (4KB, 39-bit VA, TTB0 = IPA 0x1_0000), VA 0x1_40C0_7123:
    /// L1[5] -> table IPA 0x1_1000, L2[6] -> table IPA 0x1_2000, L3[7] ->
    /// page IPA 0x20_5000. L1[4] -> table IPA 4 GiB (beyond stage 2's 32
    /// bits), L1[3] -> table IPA 1 GiB (stage 2 puts it where no RAM is).
    static let s2Root = ram0 + 0x30_0000
    static let va: UInt64 = 0x1_40C0_7123

    /// Guest memory that logs the PA of every read (test setup excepted).
    final class ReadLog: GuestMemory, @unchecked Sendable {
        let ram = WalkerRAM()
        var reads: [PhysicalAddress] = []
        func read(at address: PhysicalAddress, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
            reads.append(address)
            return ram.read(at: address, into: buffer)
        }
        func write(at address: PhysicalAddress, from buffer: UnsafeRawBufferPointer) -> Bool {
            ram.write(at: address, from: buffer)
        }
        func compareExchange64(at address: PhysicalAddress, expected: UInt64, desired: UInt64) -> UInt64? {
            ram.compareExchange64(at: address, expected: expected, desired: desired)
        }
    }

    func nested() -> (ReadLog, Stage1Regime, Stage2TableConfig) {
        let memory = ReadLog(), ram = memory.ram
        ram[Self.s2Root + 0] = Desc.s2block(0x4000_0000)
        ram[Self.s2Root + 8] = Desc.s2block(0x8000_0000)
        // Stage-1 tables, written at the PAs of their IPAs; descriptors hold IPAs.
        ram[ram0 + 0x1_0000 + 5 * 8] = Desc.table(0x1_1000)
        ram[ram0 + 0x1_0000 + 4 * 8] = Desc.table(0x1_0000_0000)
        ram[ram0 + 0x1_0000 + 3 * 8] = Desc.table(0x4000_0000)
        ram[ram0 + 0x1_1000 + 6 * 8] = Desc.table(0x1_2000)
        ram[ram0 + 0x1_2000 + 7 * 8] = Desc.page(0x20_5000)
        let stage1 = Stage1Regime(ttb0: .s1(.size4K, bits: 39, base: 0x1_0000))
        let stage2 = Stage2TableConfig.s2(.size4K, bits: 32, level: 1, base: Self.s2Root)
        return (memory, stage1, stage2)
    }

    @Test func nestedWalkYieldsAnIPAAndReadsOnlyPAs() throws {
        let (memory, stage1, stage2) = nested()
        let r = try #require(PageTableWalker.walk(address: InputAddress(Self.va), access: [], stage1: stage1,
                                                  stage2: stage2, memory: memory).value)
        let ipa: IntermediateAddress? = r.intermediateAddress
        let pa: PhysicalAddress = r.outputAddress
        #expect(ipa == 0x20_5123)
        #expect(pa == 0x4020_5123)
        // Each stage-1 descriptor is read at the PA stage 2 gives its IPA,
        // after the stage-2 read that translated it; the output IPA last.
        let s2 = PhysicalAddress(Self.s2Root)
        #expect(memory.reads == [s2, 0x4001_0028, s2, 0x4001_1030, s2, 0x4001_2038, s2])
    }

    @Test func nestedWalkFaultsCarryAnIPAOrAPA() {
        let (memory, stage1, stage2) = nested()
        // L1[4]'s table IPA is beyond stage 2's input size: a stage-2
        // Translation fault on the table walk, IPA = the descriptor's IPA.
        let beyond = PageTableWalker.walk(address: InputAddress(4 << 30), access: [], stage1: stage1,
                                          stage2: stage2, memory: memory).fault
        #expect(beyond?.type == .F_TRANSLATION && beyond?.stage2 == true && beyond?.faultClass == .tableWalk)
        #expect(beyond?.ipa == IntermediateAddress(1 << 32))
        // L1[3]'s table IPA 0x4000_0000 is stage 2's PA 0x8000_0000, where no
        // RAM is: an external abort at that PA (read as a PA, the IPA would
        // have found RAM and a zero descriptor instead).
        memory.reads = []
        let abort = PageTableWalker.walk(address: InputAddress(3 << 30), access: [], stage1: stage1,
                                         stage2: stage2, memory: memory).fault
        #expect(abort?.type == .F_WALK_EABT && abort?.fetchAddress == 0x8000_0000)
        #expect(memory.reads.last == 0x8000_0000)
        #expect(!memory.reads.contains(0x4000_0000))
    }
}
