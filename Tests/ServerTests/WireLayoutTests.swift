import CVSMMU
import Testing
import VSMMUServer

/// The wire format has one definition, CShims/include/vsmmu-protocol.h (the
/// QEMU series carries the same file). Wire.swift encodes field by field;
/// this holds every coder to the C struct's layout: a C struct filled with
/// distinct values, as raw bytes on this little-endian host, must equal what
/// the Swift coder writes for the same values, and decode back to them.
@Suite("Wire layout against vsmmu-protocol.h")
struct WireLayoutTests {
    static func bytes<T>(of value: T) -> [UInt8] {
        withUnsafeBytes(of: value) { Array($0) }
    }

    static func encoded(_ encode: (inout WireWriter) -> Void) -> [UInt8] {
        var w = WireWriter()
        encode(&w)
        return w.bytes
    }

    @Test func hostIsLittleEndian() {
        // The raw-bytes comparison below means the wire's byte order only here.
        #expect(UInt16(1).littleEndian == 1)
    }

    @Test func header() {
        var c = VSMMUMsgHeader()
        c.request = 0x1122_3344; c.flags = 0x5566_7788; c.size = 0x99AA_BBCC
        let s = MessageHeader(request: 0x1122_3344, flags: 0x5566_7788, size: 0x99AA_BBCC)
        #expect(Self.encoded(s.encode) == Self.bytes(of: c))
        #expect(MessageHeader(decoding: Self.bytes(of: c)) == s)
        #expect(Wire.headerSize == MemoryLayout<VSMMUMsgHeader>.size)
    }

    @Test func config() {
        var c = VSMMUConfig()
        c.idr = (0x0101_0101, 0x0202_0202, 0x0303_0303, 0x0404_0404, 0x0505_0505, 0x0606_0606)
        c.iidr = 0x0707_0707; c.aidr = 0x0808_0808; c.caps = 0x0909_0909
        c.ssid_bits = 0x0A; c.sid_bits = 0x0B; c.oas_bits = 0x0C
        var s = WireConfig()
        s.idr = [0x0101_0101, 0x0202_0202, 0x0303_0303, 0x0404_0404, 0x0505_0505, 0x0606_0606]
        s.iidr = 0x0707_0707; s.aidr = 0x0808_0808; s.caps = 0x0909_0909
        s.ssidBits = 0x0A; s.sidBits = 0x0B; s.oasBits = 0x0C
        #expect(Self.encoded(s.encode) == Self.bytes(of: c))
        var r = WireReader(Self.bytes(of: c))
        #expect(WireConfig(&r) == s)
    }

    @Test func memRegionAndMMIO() {
        var m = VSMMUMemRegion(); m.guest_addr = 0x1111; m.size = 0x2222; m.mmap_offset = 0x3333
        let sm = WireMemRegion(guestAddr: 0x1111, size: 0x2222, mmapOffset: 0x3333)
        #expect(Self.encoded(sm.encode) == Self.bytes(of: m))
        var o = VSMMUMmio(); o.offset = 0x4444; o.size = 8; o.value = 0x5555_6666_7777_8888
        let so = WireMMIO(offset: 0x4444, size: 8, value: 0x5555_6666_7777_8888)
        #expect(Self.encoded(so.encode) == Self.bytes(of: o))
        var r = WireReader(Self.bytes(of: o))
        #expect(WireMMIO(&r) == so)
    }

    @Test func endpointAndTranslateRequest() {
        var e = VSMMUEndpointMsg(); e.sid = 0x0102; e.flags = 3; e.pasid_bits = 20
        let se = WireEndpoint(sid: 0x0102, flags: 3, pasidBits: 20)
        #expect(Self.encoded(se.encode) == Self.bytes(of: e))
        var t = VSMMUTranslateReq(); t.sid = 0x10; t.ssid = 0x1234; t.flags = 0x1F; t.iova = 0xDEAD_B000
        let st = WireTranslateRequest(sid: 0x10, ssid: 0x1234, flags: 0x1F, iova: 0xDEAD_B000)
        #expect(Self.encoded(st.encode) == Self.bytes(of: t))
        var r = WireReader(Self.bytes(of: t))
        #expect(WireTranslateRequest(&r) == st)
    }

    @Test func translateReply() {
        var c = VSMMUTranslateRep()
        c.status = 2; c.perm = 0x3F; c.iova_base = 0x1000; c.pa_base = 0x4000_0000
        c.size_log2 = 21; c.event = 0x10; c.asid = 0x0A0B; c.vmid = 0x0C0D; c.tags = 0x000F
        var s = WireTranslateReply()
        s.status = 2; s.perm = 0x3F; s.iovaBase = 0x1000; s.paBase = 0x4000_0000
        s.sizeLog2 = 21; s.event = 0x10; s.asid = 0x0A0B; s.vmid = 0x0C0D; s.tags = 0x000F
        #expect(Self.encoded(s.encode) == Self.bytes(of: c))
        var r = WireReader(Self.bytes(of: c))
        #expect(WireTranslateReply(&r) == s)
    }

    /// GET_POSTED_WRITES' reply: count, then that many offsets, the rest zero.
    @Test func postedWritesReply() {
        var c = VSMMUPostedWrites()
        c.count = 2
        withUnsafeMutablePointer(to: &c.offset) {
            $0.withMemoryRebound(to: UInt32.self, capacity: Int(VSMMU_POSTED_MAX)) { p in
                p[0] = 0x98; p[1] = 0x100AC
            }
        }
        let s = WirePostedWrites(offsets: [0x98, 0x100AC])
        #expect(Self.encoded(s.encode) == Self.bytes(of: c))
        var r = WireReader(Self.bytes(of: c))
        #expect(WirePostedWrites(&r) == s)
        // A count beyond the array reads as all of it.
        c.count = 200
        var big = WireReader(Self.bytes(of: c))
        #expect(WirePostedWrites(&big).offsets.count == Wire.postedMax)
    }

    /// TRANSLATE_AHEAD's reply: count, then that many replies, the rest zero.
    @Test func translateAheadReply() {
        func pair(_ i: UInt64) -> (VSMMUTranslateRep, WireTranslateReply) {
            var c = VSMMUTranslateRep(), s = WireTranslateReply()
            c.perm = 0x3; c.iova_base = 0x1000 * i; c.pa_base = 0x4000_0000 + 0x1000 * i; c.size_log2 = 12
            c.asid = 7; c.tags = 1
            s.perm = 0x3; s.iovaBase = 0x1000 * i; s.paBase = 0x4000_0000 + 0x1000 * i; s.sizeLog2 = 12
            s.asid = 7; s.tags = 1
            return (c, s)
        }
        var c = VSMMUTranslateAheadRep()
        c.rep = pair(1).0
        c.count = 2
        c.tlb_generation = 0xA5A5_0001
        withUnsafeMutablePointer(to: &c.ahead) {
            $0.withMemoryRebound(to: VSMMUTranslateRep.self, capacity: Int(VSMMU_AHEAD_MAX)) { p in
                p[0] = pair(2).0; p[1] = pair(3).0
            }
        }
        let s = WireTranslateAheadReply(first: pair(1).1, ahead: [pair(2).1, pair(3).1],
                                        tlbGeneration: 0xA5A5_0001)
        #expect(Self.encoded(s.encode) == Self.bytes(of: c))
        var r = WireReader(Self.bytes(of: c))
        #expect(WireTranslateAheadReply(&r) == s)
        #expect(WireTranslateAheadReply.size == 8 + WireTranslateReply.size * (1 + Wire.aheadMax))
    }

    @Test func pageRequestAndResponse() {
        var c = VSMMUPageReq(); c.sid = 7; c.ssid = 0x4321; c.flags = 0x23; c.prg_index = 0x1FF; c.addr = 0x7000
        let s = WirePageRequest(sid: 7, ssid: 0x4321, flags: 0x23, prgIndex: 0x1FF, addr: 0x7000)
        #expect(Self.encoded(s.encode) == Self.bytes(of: c))
        var p = VSMMUPageResp(); p.sid = 8; p.ssid = 9; p.flags = 1; p.prg_index = 0x155; p.code = 0xF
        var sp = WirePageResponse(); sp.sid = 8; sp.ssid = 9; sp.flags = 1; sp.prgIndex = 0x155; sp.code = 0xF
        #expect(Self.encoded(sp.encode) == Self.bytes(of: p))
        var r = WireReader(Self.bytes(of: p))
        #expect(WirePageResponse(&r) == sp)
    }

    @Test func invalidations() {
        var c = VSMMUInval()
        c.kind = 4; c.flags = 3; c.sid_first = 0x11; c.sid_count = 0x22; c.asid = 0x33; c.vmid = 0x44
        c.addr = 0x5000; c.size = 0x6000
        var s = WireInvalidate()
        s.kind = 4; s.flags = 3; s.sidFirst = 0x11; s.sidCount = 0x22; s.asid = 0x33; s.vmid = 0x44
        s.addr = 0x5000; s.size = 0x6000
        #expect(Self.encoded(s.encode) == Self.bytes(of: c))
        var a = VSMMUAtcInv(); a.sid = 0x77; a.ssid = 0x88; a.flags = 3; a.addr = 0x9000; a.size = 0xA000
        var sa = WireATCInvalidate(); sa.sid = 0x77; sa.ssid = 0x88; sa.flags = 3; sa.addr = 0x9000; sa.size = 0xA000
        #expect(Self.encoded(sa.encode) == Self.bytes(of: a))
        var r = WireReader(Self.bytes(of: a))
        #expect(WireATCInvalidate(&r) == sa)
    }

    @Test func stallAndMSI() {
        var c = VSMMUStall(); c.sid = 0xFF00; c.stag = 0xBEEF; c.retry = 1
        var s = WireStall(); s.sid = 0xFF00; s.stag = 0xBEEF; s.retry = 1
        #expect(Self.encoded(s.encode) == Self.bytes(of: c))
        var m = VSMMUMsi(); m.addr = 0x0800_0040; m.data = 0x1234_5678
        var sm = WireMSI(); sm.addr = 0x0800_0040; sm.data = 0x1234_5678
        #expect(Self.encoded(sm.encode) == Self.bytes(of: m))
    }

    /// Request codes: Swift enums need literal raw values, so each is held
    /// to the header's enum here; payload sizes come from the header itself.
    @Test func requestCodes() {
        let front: [(FrontRequest, Int)] = [
            (.getFeatures, Int(VSMMU_REQ_GET_FEATURES)), (.setFeatures, Int(VSMMU_REQ_SET_FEATURES)),
            (.getConfig, Int(VSMMU_REQ_GET_CONFIG)), (.setBackendChannel, Int(VSMMU_REQ_SET_BACKEND_CHANNEL)),
            (.addMemRegion, Int(VSMMU_REQ_ADD_MEM_REGION)), (.remMemRegion, Int(VSMMU_REQ_REM_MEM_REGION)),
            (.mmioRead, Int(VSMMU_REQ_MMIO_READ)), (.mmioWrite, Int(VSMMU_REQ_MMIO_WRITE)),
            (.registerEndpoint, Int(VSMMU_REQ_REGISTER_ENDPOINT)), (.translate, Int(VSMMU_REQ_TRANSLATE)),
            (.pageRequest, Int(VSMMU_REQ_PAGE_REQUEST)), (.reset, Int(VSMMU_REQ_RESET)),
            (.setFrontEndChannel, Int(VSMMU_REQ_SET_FRONTEND_CHANNEL)),
            (.setStateRegion, Int(VSMMU_REQ_SET_STATE_REGION)),
            (.translateAhead, Int(VSMMU_REQ_TRANSLATE_AHEAD)),
            (.setTLBRegion, Int(VSMMU_REQ_SET_TLB_REGION)),
            (.getPostedWrites, Int(VSMMU_REQ_GET_POSTED_WRITES)),
        ]
        #expect(front.count == FrontRequest.allCases.count)
        for (r, c) in front { #expect(Int(r.rawValue) == c, "\(r)") }
        let back: [(BackRequest, Int)] = [
            (.irq, Int(VSMMU_BREQ_IRQ)), (.msi, Int(VSMMU_BREQ_MSI)), (.invalidate, Int(VSMMU_BREQ_INVALIDATE)),
            (.atcInvalidate, Int(VSMMU_BREQ_ATC_INV)), (.pageResponse, Int(VSMMU_BREQ_PAGE_RESPONSE)),
            (.sync, Int(VSMMU_BREQ_SYNC)), (.stallResolve, Int(VSMMU_BREQ_STALL_RESOLVE)),
        ]
        #expect(back.count == BackRequest.allCases.count)
        for (r, c) in back { #expect(Int(r.rawValue) == c, "\(r)") }
    }
}
