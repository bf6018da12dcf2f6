import Synchronization

/// Counts what a scan did on the wire; read by the progress line and the summary.
public final class CallCounters: Sendable {
    private let _calls = Atomic<Int>(0)
    private let _retries = Atomic<Int>(0)
    private let _throttled = Atomic<Int>(0)
    private let _failures = Atomic<Int>(0)

    public init() {}

    public func recordCall() { _calls.wrappingAdd(1, ordering: .relaxed) }
    public func recordRetry(throttled: Bool) {
        _retries.wrappingAdd(1, ordering: .relaxed)
        if throttled { _throttled.wrappingAdd(1, ordering: .relaxed) }
    }
    public func recordFailure() { _failures.wrappingAdd(1, ordering: .relaxed) }

    /// HTTP exchanges attempted, retries included.
    public var calls: Int { _calls.load(ordering: .relaxed) }
    public var retries: Int { _retries.load(ordering: .relaxed) }
    public var throttled: Int { _throttled.load(ordering: .relaxed) }
    /// Operations that failed after their last attempt.
    public var failures: Int { _failures.load(ordering: .relaxed) }
}
