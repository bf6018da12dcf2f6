public import Foundation

/// How often and how long to wait before trying a request again.
///
/// Delays grow exponentially from ``baseDelay`` up to ``maxDelay`` with full jitter (a uniform
/// random delay between zero and the exponential bound), so that many concurrent callers that
/// were throttled together do not come back together. A server's `Retry-After` is a floor.
public struct RetryPolicy: Sendable {
    public var maxAttempts: Int
    /// Attempts when the connection itself fails: each can cost a whole connect timeout, so an
    /// unreachable region gives up sooner than a throttled one.
    public var maxConnectionAttempts: Int
    public var baseDelay: Duration
    public var maxDelay: Duration
    /// The longest `Retry-After` waited; a longer one is cut to this so one throttled call cannot stall a scan.
    public var maxRetryAfter: Duration
    /// The longest one call may take, its attempts and the waits between them together: a wait
    /// that would end past it is not started, and the call fails with what it last got.
    public var maxCallDuration: Duration
    /// How many times a call is re-signed after correcting the clock from the server's `Date`.
    public var maxClockCorrections: Int
    /// Client-side rate limiting per key once a key is throttled (``AdaptivePacer``); nil: none.
    public var pacer: AdaptivePacer?

    public init(
        maxAttempts: Int = 8, maxConnectionAttempts: Int = 3, baseDelay: Duration = .milliseconds(200),
        maxDelay: Duration = .seconds(20), maxRetryAfter: Duration = .seconds(120),
        maxCallDuration: Duration = .seconds(180), maxClockCorrections: Int = 2
    ) {
        self.maxAttempts = max(1, maxAttempts)
        self.maxConnectionAttempts = max(1, min(maxConnectionAttempts, maxAttempts))
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxRetryAfter = maxRetryAfter
        self.maxCallDuration = maxCallDuration
        self.maxClockCorrections = max(0, maxClockCorrections)
    }

    /// The delay before attempt `attempt + 1`, where `attempt` counts from 1.
    public func delay(
        afterAttempt attempt: Int, retryAfter: Duration? = nil,
        random: (ClosedRange<Double>) -> Double = { Double.random(in: $0) }
    ) -> Duration {
        let attempt = max(1, attempt)
        let exponent = min(attempt - 1, 30)
        let bound = min(baseDelay.seconds * pow(2, Double(exponent)), maxDelay.seconds)
        var seconds = random(0...bound)
        if let retryAfter { seconds = max(seconds, min(retryAfter.seconds, maxRetryAfter.seconds)) }
        return .milliseconds(Int64(seconds * 1000))
    }

    /// Parses `Retry-After` as delta-seconds or as an HTTP date.
    public static func parseRetryAfter(_ value: String?, now: Date = Date()) -> Duration? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        // Capped before converting: a hostile server's 1e300 must not trap the conversion.
        if let seconds = Double(value), seconds >= 0, seconds.isFinite { return .milliseconds(Int64(min(seconds, 1e9) * 1000)) }
        if let date = HTTPDate.parse(value) {
            return .milliseconds(Int64(min(max(0, date.timeIntervalSince(now)), 1e9) * 1000))
        }
        return nil
    }

    /// HTTP statuses that mean "try again later" whatever the provider.
    public static func isRetryableStatus(_ status: Int) -> Bool {
        status == 429 || status == 500 || status == 502 || status == 503 || status == 504
    }
}

extension Duration {
    public var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}

/// RFC 7231 dates, as found in `Date` and `Retry-After`.
public enum HTTPDate {
    public static func parse(_ text: String) -> Date? {
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            let f = DateFormatter()
            f.locale = Locale(identifier: "en_US_POSIX")
            f.timeZone = TimeZone(identifier: "GMT")
            f.dateFormat = format
            if let d = f.date(from: text) { return d }
        }
        return nil
    }

    public static func format(_ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return f.string(from: date)
    }
}
