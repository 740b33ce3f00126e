import Foundation
import Testing
import SMMU
@testable import VSMMUServer

/// The backend in check mode (docs/checker.md): each report as a JSON line
/// in the report file and a summary line when the front end goes away; a
/// report file that cannot be opened is refused at start.
struct CheckModeTests {
    static func tempPath(_ name: String) -> String {
        NSTemporaryDirectory() + "vsmmu-check-\(getpid())-\(name)"
    }

    /// Linux's bring-up draws no report; SMMU_CMDQ_BASE written while the
    /// queue is enabled (6.3.26) draws one, at the register's offset.
    @Test func reportsReachTheFileWithASummaryAtDisconnect() throws {
        let path = Self.tempPath("report.jsonl")
        defer { unlink(path) }
        let f = try LinuxFrontEnd(check: CheckSettings(reportPath: path))
        #expect(try f.reset())
        try f.client.mmioWrite(SMMUReg.CMDQ_BASE, f.cmdq | 4, size: 8, needReply: true)
        f.client.front.shutdownBoth()
        #expect(f.client.waitForServerExit())
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(lines.first?.hasPrefix(#"{"rule":"queue","section":"3.21.2, 4.7.3, 6.3""#) == true)
        #expect(lines.first?.contains(#""address":"0x90""#) == true)
        #expect(lines.last?.hasPrefix(#"{"summary":{"tlbi":0,"cfgi":0,"hitless":0,"pasid-reuse":0,"table-reuse":0,"atc-inv":0,"queue":1}"#) == true)
        #expect(f.client.server.checkSummaryLine?.contains("queue=1") == true)
    }

    /// A backend restarted under the same guest opens the same report
    /// file: it adds to the reports of the one before it (it truncated
    /// them before the fix).
    @Test func aSecondBackendAppendsToTheReportFile() throws {
        let path = Self.tempPath("append.jsonl")
        defer { unlink(path) }
        for _ in 0..<2 {
            let f = try LinuxFrontEnd(check: CheckSettings(reportPath: path))
            #expect(try f.reset())
            try f.client.mmioWrite(SMMUReg.CMDQ_BASE, f.cmdq | 4, size: 8, needReply: true)
            f.client.front.shutdownBoth()
            #expect(f.client.waitForServerExit())
        }
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.filter { $0.hasPrefix(#"{"rule":"queue""#) }.count == 2)
        #expect(lines.filter { $0.hasPrefix(#"{"summary":"#) }.count == 2)
    }

    @Test func unopenableReportFileIsRefused() throws {
        #expect(throws: VSMMUServer.SetupError.self) {
            _ = try VSMMUServer(configuration: .init(), logger: .init(label: "t"),
                                check: CheckSettings(reportPath: "/nonexistent-dir/report.jsonl"))
        }
    }
}
