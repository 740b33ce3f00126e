/// A TLB entry's key: its owner (regime, VMID, ASID or global) and block
/// size packed in one word beside the block number, so a lookup hashes two
/// words. Owner bits: [15:0] ASID, [16] has ASID, [32:17] VMID, [33] has
/// VMID, [34] EL2, [35] global, [36] ASET (global only); [47:40] log2 size.
struct TLBKey: Hashable {
    var meta: UInt64
    var page: UInt64

    private static let sizeShift: UInt64 = 40
    private static let ownerMask: UInt64 = (1 << sizeShift) - 1

    init(meta: UInt64, page: UInt64) {
        self.meta = meta; self.page = page
    }

    init(owner: UInt64, sizeLog2: UInt8, page: UInt64) {
        meta = owner | UInt64(sizeLog2) << Self.sizeShift
        self.page = page
    }

    init(owner: UInt64, sizeLog2: UInt8, address: UInt64) {
        self.init(owner: owner, sizeLog2: sizeLog2, page: address >> UInt64(sizeLog2))
    }

    var owner: UInt64 { meta & Self.ownerMask }
    var sizeLog2: UInt8 { UInt8(truncatingIfNeeded: meta >> Self.sizeShift) }
    var base: UInt64 { page << UInt64(sizeLog2) }
    var decodedOwner: TLB.Owner { Self.decode(owner) }

    /// 3.17.1: a global entry records no ASID, but does record the ASET it
    /// was filled through (it only matches lookups with the same ASET);
    /// a non-global one ignores ASET (3.17: ASET does not split ASIDs).
    static func owner(_ tag: TLB.Tag, global: Bool) -> UInt64 {
        var m: UInt64 = tag.el2 ? 1 << 34 : 0
        if let vmid = tag.vmid { m |= UInt64(vmid) << 17 | 1 << 33 }
        if global {
            m |= 1 << 35 | (tag.aset ? 1 << 36 : 0)
        } else if let asid = tag.asid {
            m |= UInt64(asid) | 1 << 16
        }
        return m
    }

    static func decode(_ m: UInt64) -> TLB.Owner {
        TLB.Owner(el2: m & 1 << 34 != 0,
                  vmid: m & 1 << 33 != 0 ? UInt16(truncatingIfNeeded: m >> 17) : nil,
                  asid: m & 1 << 16 != 0 ? UInt16(truncatingIfNeeded: m) : nil,
                  global: m & 1 << 35 != 0)
    }
}

extension TLB {
    /// The address a stage-1 translation is cached under. 3.4.1: with TBI,
    /// VA[63:56] do not take part in translation, so the tag byte is
    /// replaced by copies of VA[55], as in an untagged pointer, and a TLBI of
    /// the untagged VA finds the entry. `singleRange`: the EL2 regime,
    /// TTB0 only.
    static func keyAddress(_ input: InputAddress, context: ContextDescriptor?, singleRange: Bool) -> UInt64 {
        let address = input.raw
        guard let context else { return address }
        let upper = (address >> 55) & 1 == 1
        let half = upper && !singleRange ? context.ttb1 : context.ttb0
        guard half?.topByteIgnore == true else { return address }
        let low = address & 0x00FF_FFFF_FFFF_FFFF
        return upper ? low | 0xFF00_0000_0000_0000 : low
    }
}
