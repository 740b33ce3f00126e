import Foundation
import Testing
import SMMU
@testable import VSMMUServer

/// QEMU's translation cache decides which entries an INVALIDATE hits with
/// its own C copy of the rule (`vsmmu_inval_hits` in the series' hw/arm/vsmmu-translate.c).
/// The one definition is `HostInvalidation.covers`, which the model's TLB
/// and the backend's FrontEndShadow already share (InvalidationCoverageTests).
/// This compiles the C function exactly as the series carries it, feeds it
/// every combination of entry tags and invalidation scope as the wire
/// encodes them, and requires the same answer as `covers`.
@Suite("Front end's invalidation rule")
struct FrontEndInvalidationRuleTests {
    static var root: String { CABITests.packageRoot }

    /// The '+' lines of the file `path` as the series adds it.
    static func seriesFile(_ path: String) throws -> [Substring] {
        let dir = root + "/qemu-patches"
        var lines: [Substring] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: dir).sorted() where name.hasSuffix(".patch") {
            var inFile = false, inHunk = false
            for line in try String(contentsOfFile: dir + "/" + name, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("diff --git ") { inFile = line.hasSuffix("/" + path); inHunk = false }
                else if inFile, line.hasPrefix("@@ ") { inHunk = true }
                else if inFile, inHunk, line.hasPrefix("+") { lines.append(line.dropFirst()) }
            }
        }
        return lines
    }

    /// A top-level C definition starting at the line that begins with
    /// `start`, through its closing brace in column 0. Prototypes (whose
    /// declaration ends with ';' before any '{') are skipped.
    static func definition(_ start: String, in lines: [Substring]) -> String? {
        for i in lines.indices where lines[i].hasPrefix(start) {
            guard let open = lines[i...].firstIndex(where: { $0.hasSuffix(";") || $0.hasSuffix("{") }),
                  lines[open].hasSuffix("{"),
                  let end = lines[open...].firstIndex(where: { $0 == "}" || $0.hasPrefix("} ") })
            else { continue }
            return lines[i...end].joined(separator: "\n")
        }
        return nil
    }

    /// A C program around the series' own definitions: reads one case per
    /// line (entry, then invalidation), prints 1 or 0 per case.
    static func harness() throws -> String {
        let header = try seriesFile("include/hw/arm/vsmmu-protocol.h")
            .filter { !$0.hasPrefix("QEMU_BUILD_BUG_ON") }
        // the translation half of the device, and the types it shares
        let device = try seriesFile("hw/arm/vsmmu-internal.h") + seriesFile("hw/arm/vsmmu-translate.c")
        let pieces = ["typedef struct VSMMUCacheEntry {", "static uint64_t vsmmu_block_mask(",
                      "bool vsmmu_inval_hits("]
        let defs = try pieces.map { p -> String in
            guard let d = definition(p, in: device) else { throw HarnessError.missing(p) }
            return d
        }
        return """
        #include <stdbool.h>
        #include <stdint.h>
        #include <stdio.h>
        \(header.joined(separator: "\n"))
        \(defs.joined(separator: "\n\n"))

        int main(void)
        {
            unsigned long long v[16];

            while (scanf("%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
                         &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8],
                         &v[9], &v[10], &v[11], &v[12]) == 13) {
                VSMMUCacheEntry e = { .sid = v[0], .index = v[1] >> v[2], .size_log2 = v[2],
                                      .asid = v[3], .vmid = v[4], .tags = v[5] };
                VSMMUInval inv = { .kind = v[6], .flags = v[7], .sid_first = v[8],
                                   .sid_count = v[9], .asid = v[10], .vmid = v[11],
                                   .addr = v[12] >> 32 << 12, .size = (v[12] & 0xffffffff) << 12 };
                /* the range vsmmu_invalidate() hands the rule */
                uint64_t first = 0, last = UINT64_MAX;

                if (inv.kind == VSMMU_INV_ADDRESS && inv.size) {
                    first = inv.addr;
                    last = inv.addr + inv.size - 1;
                    if (last < first) {
                        last = UINT64_MAX;
                    }
                }
                printf("%d\\n", vsmmu_inval_hits(&inv, &e, first, last));
            }
            return 0;
        }
        """
    }

    enum HarnessError: Error { case missing(String), compile(String) }

    static func compile() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vsmmu-inval-rule-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let src = dir.appendingPathComponent("rule.c"), exe = dir.appendingPathComponent("rule")
        try harness().write(to: src, atomically: true, encoding: .utf8)
        let cc = Process()
        cc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        cc.arguments = ["cc", "-std=gnu11", "-Wall", "-Werror", "-Wno-unused-function", "-o", exe.path, src.path]
        let err = Pipe(); cc.standardError = err
        try cc.run(); cc.waitUntilExit()
        guard cc.terminationStatus == 0 else {
            throw HarnessError.compile(String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
        }
        return exe
    }

    /// Entries as a TRANSLATE reply tags them: every ASID/VMID presence,
    /// global and bypass, at two block sizes.
    static let entries: [CachedTranslationTags] = {
        var out: [CachedTranslationTags] = []
        for asid in [nil, UInt16(1), 2] as [UInt16?] {
            for vmid in [nil, UInt16(7), 8] as [UInt16?] {
                for (base, log2) in [(UInt64(0x40_0000), UInt8(12)), (0x4000_0000, 21)] {
                    for global in [false, true] where !(global && asid != nil) {
                        out.append(CachedTranslationTags(streamID: 0x10, asid: asid, vmid: vmid,
                                                         inputBase: base, sizeLog2: log2, global: global))
                    }
                }
            }
        }
        out.append(CachedTranslationTags(streamID: 0x11, asid: nil, vmid: nil, inputBase: 0,
                                         sizeLog2: 63, bypass: true))
        return out
    }()

    /// Every scope the backend sends as INVALIDATE.
    static let invalidations: [HostInvalidation] = {
        var out: [HostInvalidation] = [.all, .streams(first: 0x10, count: 1), .streams(first: 0x11, count: 4),
                                       .streams(first: 0x20, count: 2)]
        for vmid in [nil, UInt16(7), 8] as [UInt16?] {
            for asid in [UInt16(1), 2] { out.append(.asid(vmid: vmid, asid: asid)) }
            if let vmid { out.append(.vmid(vmid)); out.append(.ipa(vmid: vmid, address: 0x40_0000, size: 0x1000)) }
            for asid in [nil, UInt16(1), 2] as [UInt16?] {
                for (addr, size) in [(UInt64(0x40_0000), UInt64(0x1000)), (0x40_1000, 0x1000),
                                     (0x4010_0000, 0x1000), (0, 0)] {
                    out.append(.address(vmid: vmid, asid: asid, address: addr, size: size))
                }
            }
        }
        return out
    }()

    @Test func qemuRuleAgreesWithCovers() throws {
        let exe = try Self.compile()
        var input = "", expected: [Bool] = [], labels: [String] = []
        for e in Self.entries {
            var tags: UInt64 = 0
            if e.asid != nil { tags |= UInt64(WireTranslateReply.tagASID) }
            if e.vmid != nil { tags |= UInt64(WireTranslateReply.tagVMID) }
            if e.bypass { tags |= UInt64(WireTranslateReply.tagBypass) }
            if e.global { tags |= UInt64(WireTranslateReply.tagGlobal) }
            for inv in Self.invalidations {
                let w = try #require(WireInvalidate(inv))
                // Address and size travel in pages so that one number holds both.
                let packed = (w.addr >> 12) << 32 | (w.size >> 12)
                input += "\(e.streamID) \(e.inputBase) \(e.sizeLog2) \(e.asid ?? 0) \(e.vmid ?? 0) \(tags) "
                    + "\(w.kind) \(w.flags) \(w.sidFirst) \(w.sidCount) \(w.asid) \(w.vmid) \(packed)\n"
                expected.append(inv.covers(e))
                labels.append("\(inv) on \(e)")
            }
        }
        let run = Process()
        run.executableURL = exe
        let stdin = Pipe(), stdout = Pipe()
        run.standardInput = stdin; run.standardOutput = stdout
        try run.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let out = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        run.waitUntilExit()
        let got = out.split(separator: "\n").map { $0 == "1" }
        #expect(got.count == expected.count)
        var disagreements = 0
        for (i, (g, w)) in zip(got, expected).enumerated() where g != w {
            disagreements += 1
            if disagreements <= 10 { Issue.record("QEMU says \(g), covers says \(w): \(labels[i])") }
        }
        #expect(disagreements == 0, "\(disagreements) of \(expected.count) cases disagree")
        #expect(expected.contains(true) && expected.contains(false))
    }
}
