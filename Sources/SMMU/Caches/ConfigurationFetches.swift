import Synchronization

/// How many valid STEs and CDs the SMMU has read and decoded from guest
/// memory (configuration cache misses; failed fetches and the L1CDs
/// themselves are not counted), the CDs by how STE.S1Fmt and S1CDMax locate
/// them (IHI 0070 5.2): evidence of the table formats a guest driver really
/// uses.
public struct ConfigurationFetches: Sendable, Equatable {
    public var streamTableEntries: UInt64 = 0
    /// S1CDMax=0: STE.S1ContextPtr is the one CD.
    public var singleCDs: UInt64 = 0
    /// S1Fmt=0b00: a linear CD table.
    public var linearTableCDs: UInt64 = 0
    /// S1Fmt=0b01 / 0b10: through an L1CD, L2 leaves of 4 KiB / 64 KiB.
    public var twoLevel4KTableCDs: UInt64 = 0
    public var twoLevel64KTableCDs: UInt64 = 0
    /// Of the 2-level ones, those in a leaf other than the first (L1CD index
    /// above 0): the L1 table was really indexed.
    public var laterLeafCDs: UInt64 = 0

    public init() {}
}

/// The counters behind `ConfigurationFetches`, bumped without a lock on the
/// translation path.
final class ConfigurationFetchCounters: Sendable {
    private let stes = Atomic<UInt64>(0)
    private let single = Atomic<UInt64>(0)
    private let linear = Atomic<UInt64>(0)
    private let twoLevel4K = Atomic<UInt64>(0)
    private let twoLevel64K = Atomic<UInt64>(0)
    private let laterLeaf = Atomic<UInt64>(0)

    func countSTE() { stes.add(1, ordering: .relaxed) }

    func countCD(of stage1: Stage1Config, substreamID: UInt32) {
        if stage1.cdMaxBits == 0 {
            single.add(1, ordering: .relaxed)
            return
        }
        // Leaves of 64 CDs (4 KiB) or 1024 CDs (64 KiB), as CDTable.lookup walks them.
        let leafBits: UInt32
        switch stage1.format {
        case .linear:
            linear.add(1, ordering: .relaxed)
            return
        case .twoLevel4K:
            twoLevel4K.add(1, ordering: .relaxed)
            leafBits = 6
        case .twoLevel64K:
            twoLevel64K.add(1, ordering: .relaxed)
            leafBits = 10
        }
        if substreamID >> leafBits != 0 { laterLeaf.add(1, ordering: .relaxed) }
    }

    var snapshot: ConfigurationFetches {
        var f = ConfigurationFetches()
        f.streamTableEntries = stes.load(ordering: .relaxed)
        f.singleCDs = single.load(ordering: .relaxed)
        f.linearTableCDs = linear.load(ordering: .relaxed)
        f.twoLevel4KTableCDs = twoLevel4K.load(ordering: .relaxed)
        f.twoLevel64KTableCDs = twoLevel64K.load(ordering: .relaxed)
        f.laterLeafCDs = laterLeaf.load(ordering: .relaxed)
        return f
    }
}
