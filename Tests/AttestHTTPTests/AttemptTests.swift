import AttestCore
import AttestHTTP
import Foundation
import Logging
import Synchronization
import Testing

/// The attempt loop's decisions, without I/O.
@Suite("Attempt state machine")
struct AttemptStateMachineTests {
    let policy = RetryPolicy(
        maxAttempts: 4, maxConnectionAttempts: 2, baseDelay: .milliseconds(100), maxDelay: .seconds(1),
        maxRetryAfter: .seconds(30), maxCallDuration: .seconds(60), maxClockCorrections: 2)

    func machine() -> AttemptStateMachine { AttemptStateMachine(policy: policy, random: { $0.upperBound }) }

    @Test func aSuccessFinishesAtOnce() {
        var m = machine()
        #expect(m.start() == .send(attempt: 1))
        #expect(m.answered(.done, elapsed: .zero) == .finish)
    }

    @Test func retriesBackOffExponentiallyThenStopAtMaxAttempts() {
        var m = machine()
        _ = m.start()
        #expect(m.answered(.retry(throttled: true, retryAfter: nil), elapsed: .zero) == .wait(.milliseconds(100), thenAttempt: 2))
        #expect(m.answered(.retry(throttled: true, retryAfter: nil), elapsed: .zero) == .wait(.milliseconds(200), thenAttempt: 3))
        #expect(m.answered(.retry(throttled: false, retryAfter: nil), elapsed: .zero) == .wait(.milliseconds(400), thenAttempt: 4))
        #expect(m.answered(.retry(throttled: false, retryAfter: nil), elapsed: .zero) == .giveUp(.attemptsExhausted))
        #expect(m.waited == .milliseconds(700))
    }

    @Test func retryAfterIsAFloorCappedByMaxRetryAfter() {
        var m = machine()
        _ = m.start()
        #expect(m.answered(.retry(throttled: true, retryAfter: .seconds(5)), elapsed: .zero) == .wait(.seconds(5), thenAttempt: 2))
        #expect(
            m.answered(.retry(throttled: true, retryAfter: .seconds(86_400)), elapsed: .seconds(5)) == .wait(.seconds(30), thenAttempt: 3))
    }

    @Test func aWaitThatWouldPassTheCallDeadlineIsNotStarted() {
        var m = machine()
        _ = m.start()
        #expect(m.answered(.retry(throttled: true, retryAfter: .seconds(30)), elapsed: .seconds(1)) == .wait(.seconds(30), thenAttempt: 2))
        // 31 s spent; another 30 s wait would end past the 60 s a call may take.
        #expect(
            m.answered(.retry(throttled: true, retryAfter: .seconds(30)), elapsed: .seconds(31))
                == .giveUp(.callDeadline(waited: .seconds(30))))
    }

    @Test func connectionFailuresGiveUpSoonerThanThrottling() {
        var m = machine()
        _ = m.start()
        #expect(
            m.failed(TransportError(.connect, host: "h", detail: "refused"), elapsed: .zero) == .wait(.milliseconds(100), thenAttempt: 2))
        #expect(m.failed(TransportError(.timeout, host: "h", detail: "slow"), elapsed: .zero) == .giveUp(.connectionAttemptsExhausted))
        var dropped = machine()
        _ = dropped.start()
        // A dropped connection is not a failed connect: it counts against attempts only.
        for n in 2...4 {
            #expect(
                dropped.failed(TransportError(.connectionClosed, host: "h", detail: "reset"), elapsed: .zero)
                    == .wait(.milliseconds(100 << (n - 2)), thenAttempt: n))
        }
        #expect(
            dropped.failed(TransportError(.connectionClosed, host: "h", detail: "reset"), elapsed: .zero) == .giveUp(.attemptsExhausted))
    }

    @Test func permanentTransportErrorsAreNotRetried() {
        for kind in [TransportError.Kind.invalidURL, .responseTooLarge, .tls, .refused] {
            var m = machine()
            _ = m.start()
            #expect(m.failed(TransportError(kind, host: "h", detail: "x"), elapsed: .zero) == .giveUp(.permanentTransportError))
        }
    }

    @Test func aCorrectedClockResendsAtOnceAtMostTwice() {
        var m = machine()
        _ = m.start()
        #expect(m.answered(.resend, elapsed: .zero) == .send(attempt: 2))
        #expect(m.answered(.resend, elapsed: .zero) == .send(attempt: 3))
        #expect(m.answered(.resend, elapsed: .zero) == .giveUp(.clockCorrectionsExhausted))
        #expect(m.waited == .zero)
    }
}

/// Answers from a script, recording what was sent.
final class ScriptedTransport: HTTPTransport {
    enum Step: Sendable {
        case respond(Int)
        case fail(TransportError.Kind)
    }
    private let state: Mutex<(steps: [Step], sent: [HTTPRequest])>

    init(_ steps: [Step]) { state = Mutex((steps, [])) }

    var sent: [HTTPRequest] { state.withLock { $0.sent } }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let step: Step = state.withLock { s in
            s.sent.append(request)
            return s.steps.isEmpty ? .respond(500) : s.steps.removeFirst()
        }
        switch step {
        case .respond(let status): return HTTPResponse(status: status, body: Array("status \(status)".utf8))
        case .fail(let kind): throw TransportError(kind, host: "peer", detail: "scripted")
        }
    }
}

struct StatusError: Error, Equatable { var status: Int }

@Suite("Attempt loop")
struct AttemptLoopTests {
    let slept = Sleeps()

    final class Sleeps: Sendable {
        let total = Mutex<[Duration]>([])
    }

    func loop(
        _ transport: ScriptedTransport, counters: CallCounters = CallCounters(),
        policy: RetryPolicy = RetryPolicy(maxAttempts: 5, baseDelay: .milliseconds(1), maxDelay: .milliseconds(2))
    ) -> AttemptLoop {
        let slept = self.slept
        return AttemptLoop(
            transport: transport, policy: policy, counters: counters, logger: Logger(label: "test"),
            sleep: { d in slept.total.withLock { $0.append(d) } })
    }

    /// A provider that succeeds on 200, retries 503, and treats anything else as final.
    func run(_ loop: AttemptLoop, prepared: Prepared) async throws -> String {
        try await loop.run(operation: "Op") { attempt in
            prepared.attempts.withLock { $0.append(attempt) }
            return HTTPRequest(method: "GET", url: "http://peer/", headers: [("Authorization", "signed-for-attempt-\(attempt)")])
        } interpret: { response in
            if response.status == 200 { return .success(response.bodyText) }
            return .failure(
                StatusError(status: response.status), response.status == 503 ? .retry(throttled: false, retryAfter: nil) : .done)
        }
    }

    final class Prepared: Sendable { let attempts = Mutex<[Int]>([]) }

    @Test func everyAttemptIsPreparedAgainAndCounted() async throws {
        let t = ScriptedTransport([.respond(503), .fail(.connectionClosed), .respond(200)])
        let counters = CallCounters()
        let prepared = Prepared()
        let value = try await run(loop(t, counters: counters), prepared: prepared)
        #expect(value == "status 200")
        #expect(prepared.attempts.withLock { $0 } == [1, 2, 3])
        #expect(t.sent.map { $0.header("Authorization") } == ["signed-for-attempt-1", "signed-for-attempt-2", "signed-for-attempt-3"])
        #expect(counters.calls == 3)
        #expect(counters.retries == 2)
        #expect(counters.failures == 0)
        #expect(slept.total.withLock { $0.count } == 2)
    }

    @Test func aFinalAnswerThrowsTheProvidersError() async throws {
        let t = ScriptedTransport([.respond(403)])
        let counters = CallCounters()
        await #expect(throws: StatusError(status: 403)) { _ = try await run(loop(t, counters: counters), prepared: Prepared()) }
        #expect(t.sent.count == 1)
        #expect(counters.failures == 1)
    }

    @Test func exhaustedRetriesThrowTheLastError() async throws {
        let t = ScriptedTransport(Array(repeating: .respond(503), count: 10))
        await #expect(throws: StatusError(status: 503)) { _ = try await run(loop(t), prepared: Prepared()) }
        #expect(t.sent.count == 5)
        let refused = ScriptedTransport(Array(repeating: .fail(.connect), count: 10))
        await #expect(throws: TransportError.self) { _ = try await run(loop(refused), prepared: Prepared()) }
        #expect(refused.sent.count == 3)
    }

    @Test func theCallDeadlineSaysHowLongItWaited() async throws {
        let t = ScriptedTransport(Array(repeating: .respond(503), count: 10))
        let policy = RetryPolicy(maxAttempts: 8, baseDelay: .seconds(40), maxDelay: .seconds(40), maxCallDuration: .seconds(100))
        let error = await #expect(throws: CallDeadlineError.self) {
            _ = try await loop(t, policy: policy).run(operation: "GetThing") { _ in
                HTTPRequest(method: "GET", url: "http://peer/")
            } interpret: { response -> AttemptOutcome<String> in
                .failure(StatusError(status: response.status), .retry(throttled: true, retryAfter: .seconds(40)))
            }
        }
        // Two 40 s waits fit in the 100 s a call may take; a third would not, so it is not started.
        #expect(t.sent.count == 3)
        #expect(slept.total.withLock { $0 } == [.seconds(40), .seconds(40)])
        #expect(
            error?.description.contains("GetThing gave up after 3 attempt(s) and 80 s of waiting, within the 100 s") == true,
            "\(String(describing: error))")
        #expect(error?.description.contains("StatusError(status: 503)") == true)
    }
}
