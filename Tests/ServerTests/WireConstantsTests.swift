import Foundation
import Testing
import CVSMMU
import VSMMUServer

/// The wire format is defined once, in CShims/include/vsmmu-protocol.h.
/// vsmmu.h (the C ABI) includes it for the constants it shares and must not
/// define them again; the QEMU series must carry the file verbatim.
/// (Wire.swift takes its constants from it; WireLayoutTests checks the
/// coders against its structs.)
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

    static let protocolHeader = "CShims/include/vsmmu-protocol.h"

    @Test func abiHeaderDefinesNoWireConstantAgain() throws {
        let abi = try Self.defines("CShims/include/vsmmu.h")
        let wire = try Self.defines(Self.protocolHeader)
        // Every family vsmmu.h's "Constants" paragraph names is in the wire header.
        for prefix in Self.sharedPrefixes where prefix != "VSMMU_PRI_" {
            #expect(wire.keys.contains { $0.hasPrefix(prefix) }, "no \(prefix)* in vsmmu-protocol.h")
        }
        for name in abi.keys.sorted() {
            #expect(wire[name] == nil, "\(name) is defined in vsmmu.h and again in vsmmu-protocol.h")
        }
        for name in Self.abiOnly { #expect(abi[name] != nil && wire[name] == nil, "\(name)") }
        // VSMMU_PRI_* (ABI names) equal the wire's outcomes.
        #expect(UInt64(VSMMU_PRI_QUEUED) == wire["VSMMU_PR_QUEUED"])
        #expect(UInt64(VSMMU_PRI_ANSWERED) == wire["VSMMU_PR_ANSWERED"])
        #expect(UInt64(VSMMU_PRI_DROPPED) == wire["VSMMU_PR_DROPPED"])
        #expect(VSMMU_IRQ_SYNC == VSMMU_IRQ_CMD_SYNC)
    }

    @Test func parsedValuesMatchTheCompiledHeader() throws {
        // The parser reads what the C compiler reads.
        let wire = try Self.defines(Self.protocolHeader)
        #expect(wire["VSMMU_PERM_PEXEC"] == UInt64(VSMMU_PERM_PEXEC))
        #expect(wire["VSMMU_TR_ATS"] == UInt64(VSMMU_TR_ATS))
        #expect(wire["VSMMU_IRQ_GERROR"] == UInt64(VSMMU_IRQ_GERROR))
        #expect(wire["VSMMU_PR_DROPPED"] == UInt64(VSMMU_PR_DROPPED))
        #expect(wire["VSMMU_MMIO_SIZE"] == UInt64(VSMMU_MMIO_SIZE))
        #expect(wire["VSMMU_INV_IPA"] == UInt64(VSMMU_INV_IPA))
        #expect(wire["VSMMU_ATC_INV_GLOBAL"] == UInt64(VSMMU_ATC_INV_GLOBAL))
    }

    /// The '+' lines of include/hw/arm/vsmmu-protocol.h as the series adds it.
    static func frontEndHeaderLines() throws -> [Substring] {
        let dir = root + "/qemu-patches"
        var lines: [Substring] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: dir).sorted() where name.hasSuffix(".patch") {
            var inFile = false, inHunk = false
            for line in try String(contentsOfFile: dir + "/" + name, encoding: .utf8)
                .split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("diff --git ") { inFile = line.hasSuffix("/include/hw/arm/vsmmu-protocol.h"); inHunk = false }
                else if inFile, line.hasPrefix("@@ ") { inHunk = true }
                else if inFile, inHunk, line.hasPrefix("+") { lines.append(line.dropFirst()) }
            }
        }
        return lines
    }

    @Test func frontEndCarriesTheSharedHeaderVerbatim() throws {
        let series = try Self.frontEndHeaderLines()
        let shared = try String(contentsOfFile: Self.root + "/" + Self.protocolHeader, encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false)
        #expect(!series.isEmpty, "include/hw/arm/vsmmu-protocol.h not found in qemu-patches/")
        // The file ends with a newline: its last split piece is empty.
        #expect(series == Array(shared.dropLast()), "qemu-patches/ and CShims/include/vsmmu-protocol.h differ")
    }
}
