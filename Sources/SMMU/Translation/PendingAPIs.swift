// TEMPORARY: the APIs the walker and table branches provide, declared here so
// main compiles until they are merged. Deleted at merge.
public struct Stage1Regime: Sendable, Hashable {
    public var ttb0: TranslationTableConfig?
    public var ttb1: TranslationTableConfig?
    public var wxn: Bool
    public var uwxn: Bool
    public var el2: Bool
    public init(ttb0: TranslationTableConfig?, ttb1: TranslationTableConfig?, wxn: Bool, uwxn: Bool, el2: Bool) {
        self.ttb0 = ttb0; self.ttb1 = ttb1; self.wxn = wxn; self.uwxn = uwxn; self.el2 = el2
    }
}
public struct WalkResult: Sendable, Hashable {
    public var outputAddress: UInt64
    public var blockSizeLog2: UInt8
    public var permissions: Permissions
    public var stage1BlockLog2: UInt8?
    public var stage2BlockLog2: UInt8?
}
public struct WalkFault: Error, Sendable, Hashable {
    public var type: EventType
    public var stage2: Bool
    public var faultClass: FaultClass
    public var ipa: UInt64
    public var fetchAddress: UInt64
    public var level: Int8
}
enum PageTableWalker {
    static func walk(address: UInt64, access: AccessType, stage1: Stage1Regime?, stage2: TranslationTableConfig?,
                     memory: any GuestMemory) -> Result<WalkResult, WalkFault> {
        .failure(WalkFault(type: .F_TRANSLATION, stage2: false, faultClass: .input, ipa: 0, fetchAddress: 0, level: 0))
    }
    static func translateIPA(_ ipa: UInt64, access: AccessType, stage2: TranslationTableConfig,
                             memory: any GuestMemory) -> Result<WalkResult, WalkFault> {
        .failure(WalkFault(type: .F_TRANSLATION, stage2: true, faultClass: .cd, ipa: ipa, fetchAddress: 0, level: 0))
    }
}
