import Testing
@testable import SMMU

/// `HostInvalidation.covers`, the one rule every host-side cache applies
/// (the backend's record of the front end, QEMU's translation cache), against
/// the model's own TLB: translations are cached, their page tables rewritten
/// without maintenance, one command is issued, and a translation that still
/// returns the old output is one the TLB kept. The rule must cover everything
/// the TLB drops (else a front end keeps a stale translation), and cover
/// nothing more except where `HostInvalidation` has lost the command's scope
/// (listed per case as `broader`).
@Suite("Invalidation coverage")
struct InvalidationCoverageTests {
    /// One cached translation of the fixture.
    struct Probe {
        var name: String
        var request: TranslationRequest
        /// The leaf descriptor's address, and what replaces it.
        var leaf: UInt64
        var remapped: UInt64
    }

    static let va0: UInt64 = 0x1234_5000, va1: UInt64 = 0x1234_6000
    static let pageAttrs = PT4K.af | PT4K.innerShareable | PT4K.apEL0 | PT4K.uxn

    /// Streams, all at the same input addresses va0 and va1, so that only the
    /// tags tell them apart (stage 2 is implemented: NS-EL1 streams carry a VMID):
    /// s1a SID 1 ASID 2 VMID 5, s1b SID 2 ASID 3 VMID 5, s1c SID 6 ASID 2 VMID 6
    /// (stage 1 only), s2 SID 3 VMID 7 (stage 2 only, no ASID), el2 SID 4 ASID 2
    /// (STRW = EL2, no VMID).
    static func build() throws -> (LinuxLikeDriver, [Probe]) {
        // Check mode adds an invalidate-all at every CMD_SYNC, which would
        // hide what each command alone sends to the host.
        let d = try LinuxLikeDriver(check: false)
        #expect(d.reset())
        var next = d.ram.base + 0x40_0000
        func page() -> UInt64 { defer { next += 0x1000 }; return next }
        var probes: [Probe] = []
        var out: UInt64 = 0x9_0000_0000
        func output() -> UInt64 { defer { out += 0x1000 }; return out }

        func stage1(_ name: String, sid: UInt32, asid: UInt16, vmid: UInt16, el2: Bool = false) {
            let cd = page(), l0 = page(), l1 = page(), l2 = page(), l3 = page()
            d.ram.write64(l0 + PT4K.index(va0, level: 0) * 8, PT4K.tableDescriptor(l1))
            d.ram.write64(l1 + PT4K.index(va0, level: 1) * 8, PT4K.tableDescriptor(l2))
            d.ram.write64(l2 + PT4K.index(va0, level: 2) * 8, PT4K.tableDescriptor(l3))
            for (i, va) in [va0, va1].enumerated() {
                let leaf = l3 + PT4K.index(va, level: 3) * 8
                d.ram.write64(leaf, PT4K.pageDescriptor(output(), pageAttrs))
                probes.append(Probe(name: "\(name)-\(i)", request: TranslationRequest(streamID: sid, address: InputAddress(va)),
                                    leaf: leaf, remapped: PT4K.pageDescriptor(output(), pageAttrs)))
            }
            d.ram.writeWords(cd, CDWords.linux(asid: asid, ttb0: l0))
            var ste = STEWords.stage1(cdPointer: cd)
            if el2 { ste.set(STE.Fields.strw, .el2) }
            ste.set(STE.Fields.s2VMID, vmid)    // S2VMID tags NS-EL1 streams
            d.writeSTE(sid: sid, ste)
        }
        func stage2(_ name: String, sid: UInt32, vmid: UInt16) {
            // T0SZ 24 starting at level 1: two concatenated tables, 8 KiB aligned.
            next = (next + 0x1FFF) & ~0x1FFF
            let root = page(); _ = page()
            let l2 = page(), l3 = page()
            d.ram.write64(root + ((va0 >> 30) & 0x3FF) * 8, S2PT.table(l2))
            d.ram.write64(l2 + ((va0 >> 21) & 0x1FF) * 8, S2PT.table(l3))
            for (i, ipa) in [va0, va1].enumerated() {
                let leaf = l3 + ((ipa >> 12) & 0x1FF) * 8
                d.ram.write64(leaf, S2PT.page(output()))
                probes.append(Probe(name: "\(name)-\(i)", request: TranslationRequest(streamID: sid, address: InputAddress(ipa)),
                                    leaf: leaf, remapped: S2PT.page(output())))
            }
            d.writeSTE(sid: sid, STEWords.stage2Only(vmid: vmid, t0sz: 24, sl0: 1, ttb: root))
        }
        stage1("s1a", sid: 1, asid: 2, vmid: 5)
        stage1("s1b", sid: 2, asid: 3, vmid: 5)
        stage1("s1c", sid: 6, asid: 2, vmid: 6)
        stage2("s2", sid: 3, vmid: 7)
        stage1("el2", sid: 4, asid: 2, vmid: 0, el2: true)
        #expect(d.submit([1, 2, 3, 4, 6].map { DriverCmd.cfgiSTE($0) }))
        return (d, probes)
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var label: String
        var command: [UInt64]
        /// Probes the rule covers although the TLB keeps them.
        var broader: [String] = []
        var testDescription: String { label }
    }

    static let allButEL2 = ["s1a-0", "s1a-1", "s1b-0", "s1b-1", "s1c-0", "s1c-1", "s2-0", "s2-1"]

    static let cases: [Case] = [
        Case(label: "TLBI_NH_ALL VMID 5", command: [0x10 | 5 << 32, 0]),
        Case(label: "TLBI_NH_ALL VMID 7 (.vmid also hits stage-2-only)", command: [0x10 | 7 << 32, 0],
             broader: ["s2-0", "s2-1"]),
        Case(label: "TLBI_NH_ASID 2 VMID 5", command: DriverCmd.tlbiNHASID(2, vmid: 5)),
        Case(label: "TLBI_NH_VA ASID 2 VMID 5 va0", command: DriverCmd.tlbiNHVA(asid: 2, vmid: 5, address: va0)),
        Case(label: "TLBI_NH_VA range of 2 pages", command: [0x12 | 1 << 12 | 5 << 32 | 2 << 48, va0 | 0b01 << 10 | 1]),
        Case(label: "TLBI_NH_VAA VMID 5 va0", command: [0x13 | 5 << 32, va0 | 1]),
        Case(label: "TLBI_NH_VAA VMID 7 va0 (no ASID: not hit)", command: [0x13 | 7 << 32, va0 | 1]),
        Case(label: "TLBI_EL2_ALL (.all)", command: [0x20, 0], broader: allButEL2),
        Case(label: "TLBI_EL2_ASID 2", command: [0x21 | 2 << 48, 0]),
        Case(label: "TLBI_EL2_VA va0 (E2H=0: ASID ignored)", command: [0x22 | 9 << 48, va0 | 1]),
        Case(label: "TLBI_EL2_VAA va1", command: [0x23, va1 | 1]),
        Case(label: "TLBI_S12_VMALL VMID 7", command: [0x28 | 7 << 32, 0]),
        Case(label: "TLBI_S12_VMALL VMID 5", command: [0x28 | 5 << 32, 0]),
        Case(label: "TLBI_S2_IPA VMID 7 va0 (the whole VMID)", command: [0x2A | 7 << 32, va0 | 1]),
        Case(label: "TLBI_NSNH_ALL (.all)", command: [0x30, 0], broader: ["el2-0", "el2-1"]),
        Case(label: "CFGI_STE 1 (.streams: the TLB is not per stream)", command: DriverCmd.cfgiSTE(1),
             broader: ["s1a-0", "s1a-1"]),
        Case(label: "CFGI_CD SID 2", command: DriverCmd.cfgiCD(2, ssid: 0), broader: ["s1b-0", "s1b-1"]),
        Case(label: "CFGI_ALL", command: DriverCmd.cfgiAll),
    ]

    @Test(arguments: cases)
    func ruleAgreesWithTheModelTLB(_ c: Case) throws {
        let (d, probes) = try Self.build()
        var cached: [(Probe, Translation)] = []
        for p in probes {
            guard case .translated(let t) = d.smmu.translate(p.request) else {
                Issue.record("\(p.name) does not translate: \(d.drainEvents())"); return
            }
            cached.append((p, t))
        }
        // Rewritten without maintenance: a TLB hit still gives the old output.
        for p in probes { d.ram.write64(p.leaf, p.remapped) }
        for (p, t) in cached {
            #expect(d.smmu.translate(p.request) == .translated(t), "\(p.name) is not held by the TLB")
        }
        d.host.log.withLock { $0.invalidations = [] }
        #expect(d.submit([c.command]))
        let sent = d.host.log.withLock { $0.invalidations }
        #expect(!sent.isEmpty)
        for (p, t) in cached {
            let dropped = d.smmu.translate(p.request) != .translated(t)
            let covered = sent.contains { $0.covers(CachedTranslationTags(t)) }
            if c.broader.contains(p.name) {
                #expect(covered && !dropped, "\(p.name): expected covered by \(sent) but kept by the TLB")
            } else {
                #expect(covered == dropped, "\(p.name): TLB \(dropped ? "dropped" : "kept") it, rule says \(covered) for \(sent)")
            }
        }
    }

    /// The cases the model's TLB cannot show: bypass translations (not
    /// cached by the model) change only with the STE or SMMUEN/GBPA; ATCs
    /// only with ATC invalidations, by PASID as PCIe ATS has it.
    @Test func bypassAndATCEntries() {
        let bypass = CachedTranslationTags(streamID: 9, asid: nil, vmid: nil, inputBase: 0, sizeLog2: 64, bypass: true)
        #expect(HostInvalidation.all.covers(bypass))
        #expect(HostInvalidation.streams(first: 8, count: 2).covers(bypass))
        #expect(!HostInvalidation.streams(first: 10, count: 2).covers(bypass))
        #expect(!HostInvalidation.address(vmid: nil, asid: nil, address: 0, size: 0).covers(bypass))
        #expect(!HostInvalidation.atc(streamID: 9, substreamID: nil, address: 0, size: 0).covers(bypass))

        let ats = CachedTranslationTags(streamID: 9, substreamID: 4, asid: 1, vmid: 2, inputBase: 0x5000, sizeLog2: 12)
        #expect(!HostInvalidation.all.covers(ats, in: .atc))
        #expect(HostInvalidation.atc(streamID: 9, substreamID: nil, address: 0x5000, size: 0x1000).covers(ats, in: .atc))
        #expect(HostInvalidation.atc(streamID: 9, substreamID: 4, address: 0x5fff, size: 1).covers(ats, in: .atc))
        #expect(!HostInvalidation.atc(streamID: 9, substreamID: 5, address: 0x5000, size: 0x1000).covers(ats, in: .atc))
        #expect(!HostInvalidation.atc(streamID: 9, substreamID: 4, address: 0x6000, size: 0x1000).covers(ats, in: .atc))
        // Size 0 is 2^64.
        #expect(HostInvalidation.atc(streamID: 9, substreamID: nil, address: 0xFFFF_0000, size: 0).covers(ats, in: .atc) == false)
        #expect(HostInvalidation.atc(streamID: 9, substreamID: nil, address: 0, size: 0).covers(ats, in: .atc))
    }
}
