
/// Configuration cache: validated STEs by StreamID and CDs by
/// (StreamID, SubstreamID). Stale until CFGI_*, as the architecture allows.
/// Like the TLB, a fetch that raced with an invalidation is not cached.
final class ConfigCache: @unchecked Sendable {
    private struct CDKey: Hashable { var streamID: UInt32; var substreamID: UInt32 }
    private struct Storage {
        var streams: [UInt32: StreamConfig] = [:]
        var contexts: [CDKey: ContextDescriptor] = [:]
        var generation: UInt64 = 0
    }
    let capacity: Int
    private let storage = Locked(Storage())

    init(capacity: Int = 4096) { self.capacity = max(capacity, 16) }

    var generation: UInt64 { storage.withLock { $0.generation } }

    func stream(_ sid: UInt32) -> StreamConfig? { storage.withLock { $0.streams[sid] } }

    func context(_ sid: UInt32, _ ssid: UInt32) -> ContextDescriptor? {
        storage.withLock { $0.contexts[CDKey(streamID: sid, substreamID: ssid)] }
    }

    /// False (nothing cached) if an invalidation came since `generation`.
    @discardableResult
    func insert(stream: StreamConfig, for sid: UInt32, generation: UInt64) -> Bool {
        storage.withLock { s in
            guard s.generation == generation else { return false }
            if s.streams.count >= capacity { s.streams.removeAll(keepingCapacity: true) }
            s.streams[sid] = stream
            return true
        }
    }

    @discardableResult
    func insert(context: ContextDescriptor, for sid: UInt32, _ ssid: UInt32, generation: UInt64) -> Bool {
        storage.withLock { s in
            guard s.generation == generation else { return false }
            if s.contexts.count >= capacity { s.contexts.removeAll(keepingCapacity: true) }
            s.contexts[CDKey(streamID: sid, substreamID: ssid)] = context
            return true
        }
    }

    /// CFGI_STE / CFGI_STE_RANGE / CFGI_ALL (nil): STEs and the CDs under them.
    func invalidateStreams(_ range: ClosedRange<UInt32>?) {
        storage.withLock { s in
            s.generation &+= 1
            guard let range else {
                s.streams.removeAll(keepingCapacity: true)
                s.contexts.removeAll(keepingCapacity: true)
                return
            }
            s.streams = s.streams.filter { !range.contains($0.key) }
            s.contexts = s.contexts.filter { !range.contains($0.key.streamID) }
        }
    }

    /// CFGI_CD (one SSID) / CFGI_CD_ALL (nil).
    func invalidateContexts(streamID: UInt32, substreamID: UInt32?) {
        storage.withLock { s in
            s.generation &+= 1
            s.contexts = s.contexts.filter {
                !($0.key.streamID == streamID && (substreamID == nil || $0.key.substreamID == substreamID))
            }
        }
    }
}
