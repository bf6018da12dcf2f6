import AttestCore
public import Logging
import Synchronization

/// What a provider makes of one answer: the decoded value, or an error with the loop's verdict.
public enum AttemptOutcome<Value: Sendable>: Sendable {
    case success(Value)
    /// An error answer; `verdict` says whether to try again (``AttemptVerdict/done`` fails with it).
    case failure(any Error, AttemptVerdict)
}

/// Sends one call through a transport with the provider's two parts: `prepare` builds (signs,
/// authorises) the request of an attempt, `interpret` decodes or judges the answer. Which
/// attempt to send, how long to wait and when to stop is ``AttemptStateMachine``'s decision.
///
/// Transport failures are judged here, the same for every provider: transient ones are retried
/// (connection failures and timeouts fewer times, since each can cost a connect timeout), the
/// rest end the call.
public struct AttemptLoop: Sendable {
    public let transport: any HTTPTransport
    public let policy: RetryPolicy
    public let counters: CallCounters
    let logger: Logger
    let sleep: @Sendable (Duration) async throws -> Void

    public init(
        transport: any HTTPTransport, policy: RetryPolicy, counters: CallCounters, logger: Logger,
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.transport = transport
        self.policy = policy
        self.counters = counters
        self.logger = logger
        self.sleep = sleep
    }

    /// Runs the attempts of one call named `operation` (for logs) and returns its value, or
    /// throws the last error when the state machine gives up.
    ///
    /// With the policy's ``RetryPolicy/pacer``, each attempt first waits its turn under
    /// `pacingKey` (default: `label`), and each answer tells the pacer whether it was throttled.
    public func run<Value: Sendable>(
        operation: String,
        label: String? = nil,
        pacingKey: String? = nil,
        prepare: (_ attempt: Int) async throws -> HTTPRequest,
        interpret: (HTTPResponse) -> AttemptOutcome<Value>
    ) async throws -> Value {
        let pacer = policy.pacer
        let key = pacingKey ?? label
        var machine = AttemptStateMachine(policy: policy)
        let clock = ContinuousClock()
        let start = clock.now
        var action = machine.start()
        var lastError: (any Error)?
        while true {
            switch action {
            case .finish:
                // Only reached after a success, which returns directly.
                throw lastError ?? CancellationError()
            case .giveUp(let reason):
                counters.recordFailure()
                if case .callDeadline(let waited) = reason {
                    logger.debug("call deadline reached", metadata: ["operation": "\(operation)", "waited_seconds": "\(waited.seconds)"])
                    throw CallDeadlineError(
                        operation: operation, waited: waited, attempts: machine.attempt, limit: policy.maxCallDuration,
                        last: lastError.map { SecretScrubber.shared.scrub(String(describing: $0)) } ?? "no answer")
                }
                throw lastError ?? CancellationError()
            case .wait(let delay, let next):
                try await sleep(delay)
                action = .send(attempt: next)
                continue
            case .send(let attempt):
                try Task.checkCancellation()
                if let pacer, let key, try await pacer.acquire(key) > .zero { counters.recordPacing(label: label) }
                let request = try await prepare(attempt)
                counters.recordCall(label: label)
                let response: HTTPResponse
                do {
                    response = try await transport.send(request)
                } catch let error as TransportError {
                    lastError = error
                    action = machine.failed(error, elapsed: clock.now - start)
                    if case .wait = action {
                        counters.recordRetry(throttled: false, label: label)
                        logger.debug(
                            "retrying after transport error",
                            metadata: ["operation": "\(operation)", "attempt": "\(attempt)", "error": "\(error.kind.rawValue)"])
                    }
                    continue
                }
                let outcome = interpret(response)
                if let pacer, let key {
                    if case .failure(_, .retry(throttled: true, _)) = outcome {
                        pacer.record(key, throttled: true)
                    } else {
                        pacer.record(key, throttled: false)
                    }
                }
                switch outcome {
                case .success(let value):
                    return value
                case .failure(let error, let verdict):
                    lastError = error
                    action = machine.answered(verdict, elapsed: clock.now - start)
                    switch (verdict, action) {
                    case (.retry(let throttled, _), .wait):
                        counters.recordRetry(throttled: throttled, label: label)
                        logger.debug(
                            "retrying", metadata: ["operation": "\(operation)", "attempt": "\(attempt)", "status": "\(response.status)"])
                    case (.resend, .send):
                        logger.notice("clock corrected; signing again", metadata: ["operation": "\(operation)"])
                    case (.done, _):
                        action = .giveUp(.final)
                    default:
                        break
                    }
                }
            }
        }
    }
}

/// A call that was still being refused when its time ran out (``RetryPolicy/maxCallDuration``).
public struct CallDeadlineError: Error, CustomStringConvertible, Sendable {
    public var operation: String
    /// Time spent waiting between attempts.
    public var waited: Duration
    public var attempts: Int
    /// How long a call may take.
    public var limit: Duration
    /// What the last attempt got.
    public var last: String

    public var description: String {
        "\(operation) gave up after \(attempts) attempt(s) and \(Int(waited.seconds.rounded())) s of waiting, within the \(Int(limit.seconds)) s a call may take; last answer: \(last)"
    }
}

/// The error code and message of failures every provider's calls share (no answer, a call
/// deadline, a cancelled scan), for a caller's `describe`; nil for the provider's own errors.
public func sharedCallErrorDescription(_ error: any Error) -> (code: String, message: String)? {
    switch error {
    case let e as TransportError: (e.kind == .timeout ? "Timeout" : e.kind == .tls ? "TLSError" : "Unreachable", e.description)
    case let e as CallDeadlineError: ("Timeout", e.description)
    case is CancellationError: ("Cancelled", "the scan was cancelled")
    default: nil
    }
}

extension AttemptLoop {
    /// Runs a call that carries a bearer token: every attempt asks `tokens` for the token of
    /// `scope`, first forgetting the one the server refused on the attempt before (`refused` says
    /// which outcomes mean that), so a token that expired mid-scan is replaced, not retried.
    public func run<Value: Sendable>(
        operation: String, label: String? = nil, tokens: any BearerTokenProvider, scope: String,
        request: (BearerToken) -> HTTPRequest,
        interpret: (HTTPResponse) -> AttemptOutcome<Value>,
        refused: (AttemptOutcome<Value>) -> Bool
    ) async throws -> Value {
        // The token of the attempt in flight, and whether the server refused it.
        let attemptToken = Mutex<(used: BearerToken?, refused: Bool)>((nil, false))
        return try await run(operation: operation, label: label) { _ in
            let stale = attemptToken.withLock { $0.refused ? $0.used : nil }
            if let stale { await tokens.invalidate(scope: scope, refused: stale) }
            let token = try await tokens.token(scope: scope)
            attemptToken.withLock { $0 = (token, false) }
            return request(token)
        } interpret: { response in
            let outcome = interpret(response)
            if refused(outcome) { attemptToken.withLock { $0.refused = true } }
            return outcome
        }
    }
}
