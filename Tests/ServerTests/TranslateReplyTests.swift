import SMMU
import Testing
@testable import VSMMUServer

/// What a TRANSLATE reply tells the front end (docs/protocol.md, "Translations").
@Suite("TRANSLATE replies")
struct TranslateReplyTests {
    /// The front end holds a stalled transaction until STALL_RESOLVE names
    /// its StreamID and STAG, so the reply must carry the STAG (in perm).
    @Test(arguments: [UInt16(0), 1, 0x7F, 0xFFFF])
    func stalledReplyCarriesItsSTAG(stag: UInt16) {
        let fault = TranslationFault(event: nil, type: .F_TRANSLATION, stalled: true, stag: stag)
        let rep = WireTranslateReply(.fault(fault))
        #expect(rep.status == WireTranslateReply.stalled)
        #expect(rep.perm == UInt32(stag))
        #expect(rep.event == EventType.F_TRANSLATION.rawValue)
    }

    /// A terminated fault grants nothing: perm stays 0.
    @Test func faultReplyGrantsNothing() {
        let rep = WireTranslateReply(.fault(TranslationFault(event: nil, type: .F_PERMISSION, stag: 9)))
        #expect(rep.status == WireTranslateReply.fault)
        #expect(rep.perm == 0)
    }
}
