import CVSMMU
import SMMU

extension SMMUConfiguration {
    /// The model configuration a C caller asked for (fields map one to one).
    public init(_ c: vsmmu_config) {
        self.init()
        stage1 = c.stage1; stage2 = c.stage2; nested = c.nested
        substreamIDBits = c.ssid_bits; streamIDBits = c.sid_bits
        twoLevelStreamTable = c.two_level_strtab; twoLevelCDTables = c.two_level_cdtab
        ats = c.ats; pri = c.pri; msi = c.msi; sev = c.sev
        stallModel = StallModel(rawValue: c.stall_model) ?? .both
        hyp = c.hyp; rangeInvalidation = c.range_invalidation
        httu = HTTU(rawValue: c.httu) ?? .none
        outputAddressBits = c.oas_bits
        granule4K = c.granule_4k; granule16K = c.granule_16k; granule64K = c.granule_64k
        asid16 = c.asid16; vmid16 = c.vmid16
        commandQueueLog2 = c.cmdq_log2; eventQueueLog2 = c.evtq_log2; priQueueLog2 = c.priq_log2
        coherent = c.coherent; broadcastTLBMaintenance = c.btm
    }

    /// The C mirror of this configuration (size: this library's sizeof).
    public var cConfig: vsmmu_config {
        var c = vsmmu_config()
        c.size = UInt32(MemoryLayout<vsmmu_config>.size)
        c.stage1 = stage1; c.stage2 = stage2; c.nested = nested
        c.ssid_bits = substreamIDBits; c.sid_bits = streamIDBits
        c.two_level_strtab = twoLevelStreamTable; c.two_level_cdtab = twoLevelCDTables
        c.ats = ats; c.pri = pri; c.msi = msi; c.sev = sev
        c.stall_model = stallModel.rawValue
        c.hyp = hyp; c.range_invalidation = rangeInvalidation
        c.httu = httu.rawValue
        c.oas_bits = outputAddressBits
        c.granule_4k = granule4K; c.granule_16k = granule16K; c.granule_64k = granule64K
        c.asid16 = asid16; c.vmid16 = vmid16
        c.cmdq_log2 = commandQueueLog2; c.evtq_log2 = eventQueueLog2; c.priq_log2 = priQueueLog2
        c.coherent = coherent; c.btm = broadcastTLBMaintenance
        return c
    }
}
