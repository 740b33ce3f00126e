import SMMU

/// The --print-capabilities descriptor, in the manner of QEMU's
/// docs/interop/vhost-user.json backend programs.
enum Capabilities {
    static func features(_ c: SMMUConfiguration) -> [String] {
        var f: [String] = []
        if c.stage1 { f.append("stage1") }
        if c.stage2 { f.append("stage2") }
        if c.nested { f.append("nested") }
        if c.substreamIDBits > 0 { f.append("substreams") }
        if c.twoLevelStreamTable { f.append("2lvl-strtab") }
        if c.twoLevelCDTables { f.append("2lvl-cdtab") }
        if c.ats { f.append("ats") }
        if c.pri { f.append("pri") }
        if c.msi { f.append("msi") }
        if c.sev { f.append("sev") }
        if c.stallModel != .terminateOnly { f.append("stall") }
        if c.hyp { f.append("hyp") }
        if c.rangeInvalidation { f.append("ril") }
        if c.httu != .none { f.append("httu-af") }
        if c.httu == .accessAndDirty { f.append("httu-dirty") }
        if c.granule4K { f.append("granule-4k") }
        if c.granule16K { f.append("granule-16k") }
        if c.granule64K { f.append("granule-64k") }
        if c.asid16 { f.append("asid16") }
        if c.vmid16 { f.append("vmid16") }
        if c.coherent { f.append("coherent") }
        if c.broadcastTLBMaintenance { f.append("btm") }
        return f
    }

    static func json(_ c: SMMUConfiguration) -> String {
        let list = features(c).map { "\"\($0)\"" }.joined(separator: ", ")
        return "{\"type\": \"smmuv3\", \"features\": [\(list)]}"
    }
}
