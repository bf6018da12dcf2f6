import Synchronization

/// Client-side rate limiting for one key (an account, region and service), as the AWS SDKs'
/// `adaptive` retry mode does it: no limit until the key is throttled; then a token bucket at
/// half the rate the key was being called at, which grows by a tenth with every success and
/// halves again with every throttle, and turns itself off once it is back above the rate that
/// was throttled. I/O-free: every method takes the time (seconds on a monotonic clock) and
/// returns what to do, so it is tested without waiting.
public struct PacingBucket: Sendable, Equatable {
    /// Requests per second while pacing; meaningful only when ``isPacing``.
    public private(set) var rate: Double = 0
    public private(set) var isPacing = false
    /// The send rate when the key was last throttled: pacing ends once the rate is back above it.
    public private(set) var throttledAt: Double = 0
    var tokens: Double = 0
    var lastRefill: Double?
    // The measured send rate: sends in the current one-second window, and the last full window's rate.
    var windowStart: Double?
    var windowSends = 0
    var measured: Double = 0

    public static let minimumRate = 0.5
    public static let decrease = 0.5
    public static let increase = 1.1

    public init() {}

    /// Takes a token for a send at `now`; returns how many seconds to wait first (0: send now).
    public mutating func reserve(now: Double) -> Double {
        count(now)
        guard isPacing else { return 0 }
        refill(now)
        tokens -= 1
        return tokens >= 0 ? 0 : -tokens / rate
    }

    /// The key was throttled at `now`: start pacing, or slow down.
    public mutating func throttled(now: Double) {
        count(now, sent: false)
        let current = isPacing ? rate : max(measured, Double(windowSends))
        throttledAt = max(current, Self.minimumRate)
        refill(now)
        rate = max(Self.minimumRate, current * Self.decrease)
        tokens = min(tokens, 0)
        isPacing = true
    }

    /// A call of the key succeeded at `now`: speed up, and stop pacing above the throttled rate.
    public mutating func succeeded(now: Double) {
        guard isPacing else { return }
        refill(now)
        rate *= Self.increase
        if rate > throttledAt {
            isPacing = false
            tokens = 0
        }
    }

    mutating func refill(_ now: Double) {
        if let last = lastRefill, now > last { tokens = min(max(1, rate), tokens + (now - last) * rate) }
        lastRefill = now
    }

    mutating func count(_ now: Double, sent: Bool = true) {
        if let start = windowStart, now - start < 1 {
            if sent { windowSends += 1 }
            return
        }
        if let start = windowStart { measured = Double(windowSends) / max(1, now - start) }
        windowStart = now
        windowSends = sent ? 1 : 0
    }
}

/// The pacing buckets of a session, by key (`account/region/service`), shared by every call.
public final class AdaptivePacer: Sendable {
    private let buckets = Mutex<[String: PacingBucket]>([:])
    private let clock = ContinuousClock()
    private let origin: ContinuousClock.Instant
    let sleep: @Sendable (Duration) async throws -> Void

    public init(sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }) {
        self.sleep = sleep
        self.origin = ContinuousClock().now
    }

    var now: Double {
        let d = clock.now - origin
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// Waits for `key`'s turn; returns how long it waited (zero when the key is not paced).
    @discardableResult
    public func acquire(_ key: String) async throws -> Duration {
        let now = self.now
        let wait = buckets.withLock { $0[key, default: PacingBucket()].reserve(now: now) }
        guard wait > 0 else { return .zero }
        let delay = Duration.milliseconds(Int64((wait * 1000).rounded(.up)))
        try await sleep(delay)
        return delay
    }

    /// Records how a call of `key` ended: throttled, or answered (success or another error).
    public func record(_ key: String, throttled: Bool) {
        let now = self.now
        buckets.withLock {
            if throttled {
                $0[key, default: PacingBucket()].throttled(now: now)
            } else if $0[key]?.isPacing == true {
                $0[key]?.succeeded(now: now)
            }
        }
    }

    /// The bucket of `key`, for reports and tests.
    public func bucket(_ key: String) -> PacingBucket? { buckets.withLock { $0[key] } }
}
