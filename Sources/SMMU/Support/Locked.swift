import Synchronization
#if canImport(Glibc)
import Glibc
#endif

#if VSMMU_TSAN
/// Under the thread sanitizer (`make test-sanitizers`): the same interface
/// over a pthread mutex. On Linux, Synchronization.Mutex parks on a futex
/// word the sanitizer does not model, so it reports every access a Mutex
/// protects as a race; pthread_mutex_lock it intercepts.
public final class Locked<Value: ~Copyable>: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var value: Value

    public init(_ initialValue: consuming Value) {
        value = initialValue
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    public func withLock<Result: ~Copyable, E: Error>(_ body: (inout Value) throws(E) -> Result) throws(E) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
#else
/// The lock of the model's and the server's shared state: Mutex, except
/// under the thread sanitizer (see the VSMMU_TSAN variant).
public typealias Locked = Mutex
#endif
