import Foundation
import Testing
import CVSMMU
import VSMMUServer

/// vsmmu.h says which of its constants equal the wire protocol's of the same
/// name (docs/protocol.md); this holds both texts to that, so they cannot
/// drift apart. It also checks the wire constants of Wire.swift against the
/// document.
@Suite("Wire constants")
struct WireConstantsTests {
    static var root: String { CABITests.packageRoot }

    /// `#define NAME VALUE` lines whose value is a number, `(1u << n)` or
    /// `(1ull << n)` (suffixes u, l ignored); others are skipped.
    static func defines(_ path: String) throws -> [String: UInt64] {
        try defines(lines: String(contentsOfFile: root + "/" + path, encoding: .utf8).split(separator: "\n"))
    }

    static func defines(lines: [Substring]) -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        for line in lines {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.count >= 3, words[0] == "#define", words[1].hasPrefix("VSMMU_") else { continue }
            // The value: everything up to a comment.
            var value = line.split(separator: "/*", maxSplits: 1)[0]
                .split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst(2).joined()
            value = value.trimmingCharacters(in: .whitespaces)
            if let v = number(value) { out[String(words[1])] = v }
        }
        return out
    }

    static func number(_ s: String) -> UInt64? {
        var t = s
        if t.hasPrefix("(") && t.hasSuffix(")") { t = String(t.dropFirst().dropLast()) }
        if let shift = t.range(of: "<<") {
            guard let a = number(String(t[..<shift.lowerBound])), let b = number(String(t[shift.upperBound...])),
                  b < 64 else { return nil }
            return a << b
        }
        while let last = t.last, "uUlL".contains(last) { t.removeLast() }
        if t.hasPrefix("0x") { return UInt64(t.dropFirst(2), radix: 16) }
        return UInt64(t)
    }

    /// The families vsmmu.h's "Constants" paragraph names, and its exceptions.
    static let sharedPrefixes = ["VSMMU_TR_", "VSMMU_XLATE_", "VSMMU_PERM_", "VSMMU_TAG_", "VSMMU_INV_",
                                 "VSMMU_EP_", "VSMMU_IRQ_", "VSMMU_PR_", "VSMMU_PRI_", "VSMMU_MMIO_SIZE"]
    static let abiOnly: Set<String> = ["VSMMU_INV_ATC", "VSMMU_INV_SSID_VALID", "VSMMU_INV_GLOBAL"]

    @Test func headerConstantsEqualTheWireProtocols() throws {
        let header = try Self.defines("CShims/include/vsmmu.h")
        let wire = try Self.defines("docs/protocol.md")
        let shared = header.keys.filter { name in
            Self.sharedPrefixes.contains { name.hasPrefix($0) } && !Self.abiOnly.contains(name)
        }
        // Every family is there (the parser did not silently skip one).
        for prefix in Self.sharedPrefixes {
            #expect(shared.contains { $0.hasPrefix(prefix) }, "no \(prefix)* constant parsed from vsmmu.h")
        }
        for name in shared.sorted() {
            #expect(wire[name] != nil, "\(name) is in vsmmu.h's wire families but not in docs/protocol.md")
            if let w = wire[name] { #expect(header[name] == w, "\(name): vsmmu.h \(header[name]!), wire \(w)") }
        }
        // The exceptions really are ABI-only, and no name means two things.
        for name in Self.abiOnly { #expect(header[name] != nil && wire[name] == nil, "\(name)") }
        for (name, w) in wire { if let h = header[name] { #expect(h == w, "\(name): vsmmu.h \(h), wire \(w)") } }
    }

    @Test func parsedValuesMatchTheCompiledHeader() throws {
        // The parser reads what the C compiler reads.
        let header = try Self.defines("CShims/include/vsmmu.h")
        #expect(header["VSMMU_PERM_PEXEC"] == UInt64(VSMMU_PERM_PEXEC))
        #expect(header["VSMMU_TR_ATS"] == UInt64(VSMMU_TR_ATS))
        #expect(header["VSMMU_IRQ_GERROR"] == UInt64(VSMMU_IRQ_GERROR))
        #expect(header["VSMMU_PRI_DROPPED"] == UInt64(VSMMU_PRI_DROPPED))
        #expect(header["VSMMU_MMIO_SIZE"] == UInt64(VSMMU_MMIO_SIZE))
        #expect(header["VSMMU_INV_IPA"] == UInt64(VSMMU_INV_IPA))
    }

    /// The `#define`s of the QEMU front end's include/hw/arm/vsmmu-protocol.h,
    /// as its patch in qemu-patches/ adds it.
    static func frontEndDefines() throws -> [String: UInt64] {
        let dir = root + "/qemu-patches"
        var lines: [Substring] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: dir).sorted() where name.hasSuffix(".patch") {
            var inFile = false
            for line in try String(contentsOfFile: dir + "/" + name, encoding: .utf8).split(separator: "\n") {
                if line.hasPrefix("diff --git ") { inFile = line.hasSuffix("/vsmmu-protocol.h") }
                else if inFile, line.hasPrefix("+") { lines.append(line.dropFirst()) }
            }
        }
        return defines(lines: lines)
    }

    @Test func frontEndHeaderMatchesTheDocument() throws {
        let wire = try Self.defines("docs/protocol.md")
        let front = try Self.frontEndDefines()
        #expect(front["VSMMU_PERM_PEXEC"] != nil, "vsmmu-protocol.h not found in qemu-patches/")
        for (name, v) in front.sorted(by: { $0.key < $1.key }) {
            if let w = wire[name] { #expect(v == w, "\(name): vsmmu-protocol.h \(v), docs/protocol.md \(w)") }
        }
    }

    @Test func wireSwiftMatchesTheDocument() throws {
        let wire = try Self.defines("docs/protocol.md")
        #expect(wire["VSMMU_VERSION"] == UInt64(Wire.version))
        #expect(wire["VSMMU_FLAG_REPLY"] == UInt64(Wire.flagReply))
        #expect(wire["VSMMU_FLAG_NEED_REPLY"] == UInt64(Wire.flagNeedReply))
        #expect(wire["VSMMU_MAX_PAYLOAD"] == UInt64(Wire.maxPayload))
        #expect(wire["VSMMU_F_MMIO_WRITE_SYNC"] == Wire.featureMMIOWriteSync)
        #expect(wire["VSMMU_EP_ATS"] == UInt64(WireEndpoint.ats))
        #expect(wire["VSMMU_EP_PRI"] == UInt64(WireEndpoint.pri))
        #expect(wire["VSMMU_TAG_ASID"] == UInt64(WireTranslateReply.tagASID))
        #expect(wire["VSMMU_TAG_VMID"] == UInt64(WireTranslateReply.tagVMID))
        #expect(wire["VSMMU_TAG_BYPASS"] == UInt64(WireTranslateReply.tagBypass))
        #expect(wire["VSMMU_TAG_GLOBAL"] == UInt64(WireTranslateReply.tagGlobal))
        let caps: [(String, UInt32)] = [
            ("VSMMU_CAP_STAGE1", WireConfig.capStage1), ("VSMMU_CAP_STAGE2", WireConfig.capStage2),
            ("VSMMU_CAP_ATS", WireConfig.capATS), ("VSMMU_CAP_PRI", WireConfig.capPRI),
            ("VSMMU_CAP_MSI", WireConfig.capMSI), ("VSMMU_CAP_SEV", WireConfig.capSEV),
            ("VSMMU_CAP_STALL", WireConfig.capStall), ("VSMMU_CAP_HYP", WireConfig.capHyp),
            ("VSMMU_CAP_NESTED", WireConfig.capNested),
        ]
        for (name, value) in caps { #expect(wire[name] == UInt64(value), "\(name)") }
    }
}
