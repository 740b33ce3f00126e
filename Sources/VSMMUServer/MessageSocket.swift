import CVSMMU
#if canImport(Glibc)
import Glibc
#endif

/// One framed message as received: header, payload and the descriptors that
/// came with it (owned by the receiver: close what you do not keep).
public struct Message: Sendable {
    public var header: MessageHeader
    public var payload: [UInt8]
    public var fds: [Int32]
    public func closeFDs() { for fd in fds { _ = close(fd) } }
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
    public let fd: Int32
    private var sendLock = pthread_mutex_t()

    /// Takes ownership of `fd`: it is closed when the last reference goes,
    /// so a thread still blocked on it never sees the number reused.
    public init(fd: Int32) {
        self.fd = fd
        pthread_mutex_init(&sendLock, nil)
    }
    deinit {
        _ = Glibc.close(fd)
        pthread_mutex_destroy(&sendLock)
    }

    /// Sends one message; returns 0 or -errno.
    @discardableResult
    public func send(request: UInt32, flags: UInt32 = Wire.version, payload: [UInt8] = [], fds: [Int32] = []) -> Int32 {
        var w = WireWriter()
        MessageHeader(request: request, flags: flags, size: UInt32(payload.count)).encode(into: &w)
        w.bytes.append(contentsOf: payload)
        pthread_mutex_lock(&sendLock)
        defer { pthread_mutex_unlock(&sendLock) }
        return w.bytes.withUnsafeBytes { buf in
            fds.withUnsafeBufferPointer { f in
                vsmmu_shim_send(fd, buf.baseAddress, buf.count, f.baseAddress, Int32(f.count))
            }
        }
    }

    /// Sends a reply to `request`.
    @discardableResult
    public func reply(to request: UInt32, payload: [UInt8]) -> Int32 {
        send(request: request, flags: Wire.version | Wire.flagReply, payload: payload)
    }

    /// Receives one message, blocking.
    public func receive() -> Result<Message, ReceiveError> {
        var fds: [Int32] = []
        var header = [UInt8](repeating: 0, count: Wire.headerSize)
        switch fill(&header, fds: &fds, what: "header") {
        case .failure(let e): for f in fds { close(f) }; return .failure(e)
        case .success: break
        }
        let h = MessageHeader(decoding: header)
        guard h.size <= UInt32(Wire.maxPayload) else {
            for f in fds { close(f) }
            return .failure(.framingLost("oversized payload (\(h.size) bytes, request \(h.request))"))
        }
        var payload = [UInt8](repeating: 0, count: Int(h.size))
        if h.size > 0, case .failure(let e) = fill(&payload, fds: &fds, what: "payload") {
            for f in fds { close(f) }
            return .failure(e == .closed ? .framingLost("truncated payload (request \(h.request))") : e)
        }
        return .success(Message(header: h, payload: payload, fds: fds))
    }

    private func fill(_ buffer: inout [UInt8], fds: inout [Int32], what: String) -> Result<Void, ReceiveError> {
        var got = 0
        var received = [Int32](repeating: -1, count: Int(VSMMU_SHIM_MAX_FDS))
        while got < buffer.count {
            var n: Int32 = 0, ctrunc: Int32 = 0
            let r = buffer.withUnsafeMutableBytes { b in
                received.withUnsafeMutableBufferPointer { f in
                    vsmmu_shim_recv(fd, b.baseAddress! + got, b.count - got, f.baseAddress, &n, &ctrunc)
                }
            }
            fds.append(contentsOf: received.prefix(Int(n)))
            if r < 0 { return .failure(.framingLost("receive failed: errno \(-r)")) }
            if r == 0 {
                return .failure(got == 0 && what == "header" ? .closed : .framingLost("truncated \(what)"))
            }
            got += r
        }
        return .success(())
    }

    /// Waits for readability up to `ms`: true if a message (or EOF) is there.
    public func waitReadable(ms: Int32) -> Bool { vsmmu_shim_wait_readable(fd, ms) == 1 }

    /// Wakes any thread blocked on the socket (both directions shut down).
    public func shutdownBoth() { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
}
