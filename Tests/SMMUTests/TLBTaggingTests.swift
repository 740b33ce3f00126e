import Testing
@testable import SMMU

/// How TLB entries are tagged, seen through invalidation (IHI 0070 3.17.1,
/// 4.4.2.4, 4.4.2.8, 3.4.1). Each test maps a page, fills the TLB through a
/// translation, remaps the page, issues a TLBI + CMD_SYNC whose scope the spec
/// says covers the entry, and requires the new page: an entry that survived
/// the TLBI still returns the old one.
struct TLBTaggingTests {
    static let va: UInt64 = 0x1000_0000
    static let oldPage: UInt64 = 0x80_0000_0000, newPage: UInt64 = 0x80_0001_0000

    /// One stage-1 stream (SID 3) with a Linux-shaped CD for `asid`.
    final class Remap {
        let d: LinuxLikeDriver
        let t: Stage1Tables
        let global: Bool
        let sid: UInt32 = 3

        /// `tbi`: CD.TBI0 (5.4). `el2E2H`: STE.STRW = EL2 with SMMU_CR2.E2H = 1,
        /// the EL2-E2H StreamWorld, which has ASIDs (3.17).
        init(asid: UInt16, global: Bool, tbi: Bool = false, el2E2H: Bool = false) throws {
            d = try LinuxLikeDriver()
            if el2E2H { d.write32(Reg.CR2, 1) }   // CR2.E2H [0]
            self.global = global
            t = Stage1Tables(ram: d.ram, arena: d.ram.base + 0x40_0000)
            map(TLBTaggingTests.oldPage)
            var cd = CDWords.linux(asid: asid, ttb0: t.root)
            if tbi { cd.set(CD.Fields.tbi0) }
            let cdAddress = d.ram.base + 0x30_0000
            d.ram.writeWords(cdAddress, cd)
            var ste = STEWords.stage1(cdPointer: cdAddress)
            if el2E2H { ste.set(STE.Fields.strw, .el2) }
            #expect(d.reset())
            d.writeSTE(sid: sid, ste)
            #expect(d.submit([DriverCmd.cfgiSTE(sid)]))
        }

        /// Points `va` at `pa`; nG = 0 makes the translation global (3.17.1).
        func map(_ pa: UInt64) {
            t.map(TLBTaggingTests.va, to: pa,
                  attrs: PT4K.af | PT4K.innerShareable | PT4K.apEL0 | PT4K.uxn | (global ? 0 : PT4K.nG))
        }

        func output(_ address: UInt64) -> UInt64? {
            guard case .translated(let tr) = d.smmu.translate(TranslationRequest(streamID: sid, address: InputAddress(address),
                                                                                 access: .write)) else { return nil }
            return tr.output(for: InputAddress(address)).physical?.raw
        }
    }

    /// 4.4.2.4: CMD_TLBI_NH_VA invalidates entries by VMID, ASID and VA "as
    /// well as global entries by VMID and VA regardless of the ASID used
    /// during allocation".
    @Test func nhVAFromAnotherASIDRemovesAGlobalEntry() throws {
        let r = try Remap(asid: 5, global: true)
        #expect(r.output(Self.va | 0x18) == Self.oldPage | 0x18)
        r.map(Self.newPage)
        #expect(r.d.submit([DriverCmd.tlbiNHVA(asid: 6, address: Self.va)]))
        #expect(r.output(Self.va | 0x18) == Self.newPage | 0x18)
    }

    /// 4.4.2.8: with SMMU_CR2.E2H == 1, CMD_TLBI_EL2_VA invalidates EL2-E2H
    /// entries "if ASID matches (or global) and VA matches".
    @Test func el2VAFromAnotherASIDRemovesAGlobalEL2E2HEntry() throws {
        let r = try Remap(asid: 5, global: true, el2E2H: true)
        #expect(r.output(Self.va | 0x18) == Self.oldPage | 0x18)
        r.map(Self.newPage)
        // CMD_TLBI_EL2_VA 0x22: ASID [63:48]; Address [127:76], Leaf [64].
        #expect(r.d.submit([[0x22 | 6 << 48, Self.va | 1]]))
        #expect(r.output(Self.va | 0x18) == Self.newPage | 0x18)
    }

    /// The same commands still remove non-global entries of their own ASID.
    @Test func nhVAAndEL2VARemoveNonGlobalEntriesOfTheirASID() throws {
        let r = try Remap(asid: 5, global: false)
        #expect(r.output(Self.va) == Self.oldPage)
        r.map(Self.newPage)
        #expect(r.d.submit([DriverCmd.tlbiNHVA(asid: 5, address: Self.va)]))
        #expect(r.output(Self.va) == Self.newPage)

        let e = try Remap(asid: 5, global: false, el2E2H: true)
        #expect(e.output(Self.va) == Self.oldPage)
        e.map(Self.newPage)
        #expect(e.d.submit([[0x22 | 5 << 48, Self.va | 1]]))
        #expect(e.output(Self.va) == Self.newPage)
    }

    /// 3.4.1: with TBI, VA[63:56] do not take part in translation, so a page
    /// reached through a tagged pointer is the page of the untagged VA, and
    /// TLBI_NH_VA of the untagged VA (4.4.2.4) must remove it.
    @Test func untaggedNHVARemovesAnEntryFilledThroughATaggedAddress() throws {
        for global in [false, true] {
            let r = try Remap(asid: 5, global: global, tbi: true)
            let tagged = 0x5A00_0000_0000_0000 | Self.va | 0x18
            #expect(r.output(tagged) == Self.oldPage | 0x18)
            r.map(Self.newPage)
            #expect(r.d.submit([DriverCmd.tlbiNHVA(asid: 5, address: Self.va)]))
            #expect(r.output(tagged) == Self.newPage | 0x18, "global \(global)")
            #expect(r.output(0xA500_0000_0000_0000 | Self.va | 0x18) == Self.newPage | 0x18)
        }
    }
}
