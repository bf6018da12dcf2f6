import Synchronization

/// Counts what a scan did on the wire; read by the progress line and the summary.
public final class CallCounters: Sendable {
    private let _calls = Atomic<Int>(0)
    private let _retries = Atomic<Int>(0)
    private let _throttled = Atomic<Int>(0)
    private let _failures = Atomic<Int>(0)
    private let _byLabel = Mutex<[String: LabelCounts]>([:])

    /// What one label (a service) did on the wire.
    public struct LabelCounts: Sendable, Equatable {
        public var calls = 0
        public var retries = 0
        public var throttled = 0
        /// Calls held back by adaptive pacing before they were sent.
        public var paced = 0
    }

    public init() {}

    public func recordCall(label: String? = nil) {
        _calls.wrappingAdd(1, ordering: .relaxed)
        if let label { _byLabel.withLock { $0[label, default: LabelCounts()].calls += 1 } }
    }
    public func recordRetry(throttled: Bool, label: String? = nil) {
        _retries.wrappingAdd(1, ordering: .relaxed)
        if throttled { _throttled.wrappingAdd(1, ordering: .relaxed) }
        if let label {
            _byLabel.withLock {
                $0[label, default: LabelCounts()].retries += 1
                if throttled { $0[label, default: LabelCounts()].throttled += 1 }
            }
        }
    }

    /// A call held back by adaptive pacing.
    public func recordPacing(label: String? = nil) {
        if let label { _byLabel.withLock { $0[label, default: LabelCounts()].paced += 1 } }
    }

    /// Calls, retries and throttled retries per label (per service, for providers that label their calls).
    public var byLabel: [String: LabelCounts] { _byLabel.withLock { $0 } }
    public func recordFailure() { _failures.wrappingAdd(1, ordering: .relaxed) }

    /// HTTP exchanges attempted, retries included.
    public var calls: Int { _calls.load(ordering: .relaxed) }
    public var retries: Int { _retries.load(ordering: .relaxed) }
    public var throttled: Int { _throttled.load(ordering: .relaxed) }
    /// Operations that failed after their last attempt.
    public var failures: Int { _failures.load(ordering: .relaxed) }
}
