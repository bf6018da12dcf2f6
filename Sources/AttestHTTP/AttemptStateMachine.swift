/// How a provider judged one answer, for the attempt loop.
public enum AttemptVerdict: Sendable, Equatable {
    /// The call is done (its answer decoded, or its error final).
    case done
    /// Worth another attempt after a backoff delay; the server's `Retry-After` is a floor.
    case retry(throttled: Bool, retryAfter: Duration?)
    /// The request's clock was wrong and has been corrected: prepare (re-sign) and send again now.
    case resend
}

/// Why the attempt loop stopped trying.
public enum AttemptGiveUp: Sendable, Equatable {
    /// The provider said the answer is final.
    case final
    /// ``RetryPolicy/maxAttempts`` attempts were made.
    case attemptsExhausted
    /// ``RetryPolicy/maxConnectionAttempts`` connections failed or timed out.
    case connectionAttemptsExhausted
    /// The transport error is not worth another attempt (an invalid URL, an oversized body).
    case permanentTransportError
    /// Another wait would take the call past ``RetryPolicy/maxCallDuration``.
    case callDeadline(waited: Duration)
    /// The clock was corrected ``RetryPolicy/maxClockCorrections`` times and the server still refuses it.
    case clockCorrectionsExhausted
}

/// The decisions of the attempt loop, without I/O: which attempt to send, how long to wait, when
/// to give up. ``AttemptLoop`` drives it with a transport; every path is unit-tested on its own.
///
/// Every attempt is prepared anew (signed or authorised again), so no attempt is ever replayed
/// with an old signature or an expired token.
public struct AttemptStateMachine: Sendable {
    public enum Action: Sendable, Equatable {
        /// Prepare attempt `n` (counting from 1) and send it.
        case send(attempt: Int)
        /// Sleep, then prepare and send attempt `n`.
        case wait(Duration, thenAttempt: Int)
        /// Stop: the last answer stands.
        case finish
        /// Stop: the last answer or error is what the call fails with.
        case giveUp(AttemptGiveUp)
    }

    public let policy: RetryPolicy
    public private(set) var attempt = 0
    public private(set) var connectionFailures = 0
    public private(set) var clockCorrections = 0
    /// Time spent waiting between attempts so far.
    public private(set) var waited: Duration = .zero
    let random: @Sendable (ClosedRange<Double>) -> Double

    public init(policy: RetryPolicy, random: @escaping @Sendable (ClosedRange<Double>) -> Double = { Double.random(in: $0) }) {
        self.policy = policy
        self.random = random
    }

    /// The first action: send attempt 1.
    public mutating func start() -> Action {
        attempt = 1
        return .send(attempt: 1)
    }

    /// An answer came back and the provider judged it. `elapsed` is the time since ``start()``.
    public mutating func answered(_ verdict: AttemptVerdict, elapsed: Duration) -> Action {
        switch verdict {
        case .done:
            return .finish
        case .resend:
            guard clockCorrections < policy.maxClockCorrections else { return .giveUp(.clockCorrectionsExhausted) }
            clockCorrections += 1
            attempt += 1
            return .send(attempt: attempt)
        case .retry(_, let retryAfter):
            guard attempt < policy.maxAttempts else { return .giveUp(.attemptsExhausted) }
            return backOff(retryAfter: retryAfter, elapsed: elapsed)
        }
    }

    /// Nothing usable came back. `elapsed` is the time since ``start()``.
    public mutating func failed(_ error: TransportError, elapsed: Duration) -> Action {
        guard error.isTransient else { return .giveUp(.permanentTransportError) }
        if error.kind == .connect || error.kind == .timeout { connectionFailures += 1 }
        guard connectionFailures < policy.maxConnectionAttempts else { return .giveUp(.connectionAttemptsExhausted) }
        guard attempt < policy.maxAttempts else { return .giveUp(.attemptsExhausted) }
        return backOff(retryAfter: nil, elapsed: elapsed)
    }

    private mutating func backOff(retryAfter: Duration?, elapsed: Duration) -> Action {
        let delay = policy.delay(afterAttempt: attempt, retryAfter: retryAfter, random: random)
        // The time spent is at least the waits (a sleep that returned early does not shorten it).
        if max(elapsed, waited) + delay > policy.maxCallDuration { return .giveUp(.callDeadline(waited: waited)) }
        waited += delay
        attempt += 1
        return .wait(delay, thenAttempt: attempt)
    }
}
