import CVSMMU
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// One framed message as received: header, payload and the descriptors that
/// came with it (owned by the receiver: close what you do not keep).
public struct Message: Sendable {
    public var header: MessageHeader
    public var payload: [UInt8]
    public var fds: [FileDescriptor]
    public func closeFDs() { for fd in fds { try? fd.close() } }
}

public enum ReceiveError: Error, Equatable, CustomStringConvertible {
    /// The peer closed the connection between messages.
    case closed
    /// The stream can no longer be framed (truncated header or payload,
    /// oversized payload, socket error): the connection must be closed.
    case framingLost(String)
    public var description: String {
        switch self {
        case .closed: "peer closed the connection"
        case .framingLost(let why): why
        }
    }
}

/// A connected stream socket carrying protocol messages. Sends are
/// serialized (several threads may send on one channel); receives are not:
/// one thread receives on a channel at a time.
public final class MessageSocket: @unchecked Sendable {
    public let descriptor: FileDescriptor
    public var fd: Int32 { descriptor.rawValue }
    private var sendLock = pthread_mutex_t()

    /// Takes ownership of `descriptor`: it is closed when the last reference
    /// goes, so a thread still blocked on it never sees the number reused.
    public init(_ descriptor: FileDescriptor) {
        self.descriptor = descriptor
        pthread_mutex_init(&sendLock, nil)
    }
    public convenience init(fd: Int32) { self.init(FileDescriptor(rawValue: fd)) }
    deinit {
        try? descriptor.close()
        pthread_mutex_destroy(&sendLock)
    }

    /// Sends one message.
    @discardableResult
    public func send(request: UInt32, flags: UInt32 = Wire.version, payload: [UInt8] = [],
                     fds: [FileDescriptor] = []) -> Result<Void, Errno> {
        var w = WireWriter()
        MessageHeader(request: request, flags: flags, size: UInt32(payload.count)).encode(into: &w)
        w.bytes.append(contentsOf: payload)
        return send(bytes: w.bytes, fds: fds)
    }

    /// Sends `bytes` as they are (no framing), the descriptors with the
    /// first of them; completes partial sends.
    @discardableResult
    public func send(bytes: [UInt8], fds: [FileDescriptor] = []) -> Result<Void, Errno> {
        guard fds.count <= Int(VSMMU_SHIM_MAX_FDS) else { return .failure(.invalidArgument) }
        let raw = fds.map(\.rawValue)
        pthread_mutex_lock(&sendLock)
        defer { pthread_mutex_unlock(&sendLock) }
        return bytes.withUnsafeBytes { buf in
            raw.withUnsafeBufferPointer { f in
                var sent = 0
                // The descriptors go with the first sendmsg only.
                while sent < buf.count || (sent == 0 && !raw.isEmpty) {
                    let withFDs = sent == 0
                    let r = SystemCall.waitingWhenBusy(descriptor, for: Int16(POLLOUT)) {
                        vsmmu_shim_sendmsg(fd, buf.baseAddress.map { $0 + sent }, buf.count - sent,
                                           withFDs ? f.baseAddress : nil, withFDs ? Int32(f.count) : 0)
                    }
                    switch r {
                    case .failure(let e): return .failure(e)
                    case .success(let n):
                        // Only an empty send (never made: there is a header) moves nothing.
                        if n == 0 { return buf.count == 0 ? .success(()) : .failure(.ioError) }
                        sent += n
                    }
                }
                return .success(())
            }
        }
    }

    /// Sends a reply to `request`.
    @discardableResult
    public func reply(to request: UInt32, payload: [UInt8]) -> Result<Void, Errno> {
        send(request: request, flags: Wire.version | Wire.flagReply, payload: payload)
    }

    /// Receives one message, blocking.
    public func receive() -> Result<Message, ReceiveError> {
        var fds: [FileDescriptor] = []
        func closeAll() { for f in fds { try? f.close() } }
        var header = [UInt8](repeating: 0, count: Wire.headerSize)
        if case .failure(let e) = fill(&header, fds: &fds, what: "header") { closeAll(); return .failure(e) }
        let h = MessageHeader(decoding: header)
        guard h.size <= UInt32(Wire.maxPayload) else {
            closeAll()
            return .failure(.framingLost("oversized payload (\(h.size) bytes, request \(h.request))"))
        }
        var payload = [UInt8](repeating: 0, count: Int(h.size))
        if h.size > 0, case .failure(let e) = fill(&payload, fds: &fds, what: "payload") {
            closeAll()
            return .failure(e == .closed ? .framingLost("truncated payload (request \(h.request))") : e)
        }
        return .success(Message(header: h, payload: payload, fds: fds))
    }

    private func fill(_ buffer: inout [UInt8], fds: inout [FileDescriptor], what: String) -> Result<Void, ReceiveError> {
        var got = 0
        var received = [Int32](repeating: -1, count: Int(VSMMU_SHIM_MAX_FDS))
        while got < buffer.count {
            var n: Int32 = 0, ctrunc: Int32 = 0
            let r = buffer.withUnsafeMutableBytes { b in
                received.withUnsafeMutableBufferPointer { f in
                    SystemCall.waitingWhenBusy(descriptor, for: Int16(POLLIN)) {
                        vsmmu_shim_recvmsg(fd, b.baseAddress! + got, b.count - got, f.baseAddress, &n, &ctrunc)
                    }
                }
            }
            fds.append(contentsOf: received.prefix(Int(n)).map(FileDescriptor.init(rawValue:)))
            switch r {
            case .failure(let e):
                return .failure(.framingLost("receive failed: \(e)"))
            case .success(0):
                return .failure(got == 0 && what == "header" ? .closed : .framingLost("truncated \(what)"))
            case .success(let count):
                got += count
            }
        }
        return .success(())
    }

    /// Waits for readability up to `ms`: true if a message (or EOF) is there.
    public func waitReadable(ms: Int32) -> Bool {
        (try? SystemCall.poll(descriptor, events: Int16(POLLIN), ms: ms).get()) ?? false
    }

    /// Busy-polls up to `ns` for a message (SystemCall.spinUntilReadable).
    public func spinUntilReadable(ns: UInt64) -> Bool { SystemCall.spinUntilReadable(descriptor, ns: ns) }

    /// Wakes any thread blocked on the socket (both directions shut down).
    public func shutdownBoth() { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
}
