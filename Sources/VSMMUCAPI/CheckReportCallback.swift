import CVSMMU
import SMMU

/// Check mode through the C interface: each report to the caller's
/// `check_report` callback as a vsmmu_check_report (vsmmu.h).
struct CheckReportCallback: @unchecked Sendable {
    let report: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<vsmmu_check_report>?) -> Void
    let opaque: UnsafeMutableRawPointer?

    init?(_ callbacks: vsmmu_callbacks) {
        guard let f = callbacks.check_report else { return nil }
        report = f
        opaque = callbacks.opaque
    }

    var options: CheckOptions {
        CheckOptions { [self] r in deliver(r) }
    }

    func deliver(_ r: CheckReport) {
        var c = vsmmu_check_report()
        var valid: UInt32 = 0
        if let v = r.streamID { c.sid = v; valid |= UInt32(VSMMU_CHECK_SID) }
        if let v = r.substreamID { c.ssid = v; valid |= UInt32(VSMMU_CHECK_SSID) }
        if let v = r.asid { c.asid = v; valid |= UInt32(VSMMU_CHECK_ASID) }
        if let v = r.vmid { c.vmid = v; valid |= UInt32(VSMMU_CHECK_VMID) }
        if let v = r.address { c.address = v; valid |= UInt32(VSMMU_CHECK_ADDRESS) }
        if let v = r.commandIndex { c.cmdq_index = v; valid |= UInt32(VSMMU_CHECK_CMDQ_INDEX) }
        c.valid = valid
        r.rule.rawValue.withCString { rule in
            r.rule.section.withCString { section in
                r.observed.withCString { observed in
                    r.jsonLine.withCString { json in
                        c.rule = rule; c.section = section; c.observed = observed; c.json = json
                        report(opaque, &c)
                    }
                }
            }
        }
    }
}
