import AttestCore
import AttestHTTP
import AttestReplay
import AttestSigV4
import Foundation
import Synchronization
import Testing

@testable import AttestAWS

/// Answers from a script, one response per call, recording what it was sent.
final class ScriptedTransport: HTTPTransport {
    enum Step: Sendable {
        case respond(HTTPResponse)
        case fail(TransportError)
    }
    private let state: Mutex<(steps: [Step], sent: [HTTPRequest])>

    init(_ steps: [Step]) { state = Mutex((steps, [])) }

    var sent: [HTTPRequest] { state.withLock { $0.sent } }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let step: Step = state.withLock { s in
            s.sent.append(request)
            return s.steps.isEmpty ? .respond(HTTPResponse(status: 500)) : s.steps.removeFirst()
        }
        switch step {
        case .respond(let r): return r
        case .fail(let e): throw e
        }
    }
}

let identityXML = """
    <GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/t</Arn><Account>123456789012</Account></GetCallerIdentityResult></GetCallerIdentityResponse>
    """

@Suite("Retries, throttling and clock skew")
struct RetryAndSkewTests {
    let creds = StaticCredentialProvider(AWSCredentials(accessKeyId: "AKIDTEST", secretAccessKey: "test-secret-key", source: "t"))
    let fast = RetryPolicy(maxAttempts: 4, baseDelay: .milliseconds(1), maxDelay: .milliseconds(5))
    let endpoints = AWSEndpointResolver(environment: ["AWS_ENDPOINT_URL": "http://127.0.0.1:1"])
    let op = AWSOperation(name: "GetCallerIdentity", region: "us-east-1")

    func client(_ t: any HTTPTransport, clock: ClockOffset = ClockOffset()) -> AWSClient {
        AWSClient(transport: t, credentials: creds, endpoints: endpoints, retryPolicy: fast, clock: clock)
    }

    @Test func delaysAreJitteredExponentialWithRetryAfterAsAFloor() {
        let p = RetryPolicy(maxAttempts: 8, baseDelay: .milliseconds(100), maxDelay: .seconds(2), maxRetryAfter: .seconds(30))
        #expect(p.delay(afterAttempt: 1, random: { $0.upperBound }) == .milliseconds(100))
        #expect(p.delay(afterAttempt: 4, random: { $0.upperBound }) == .milliseconds(800))
        #expect(p.delay(afterAttempt: 20, random: { $0.upperBound }) == .seconds(2))
        #expect(p.delay(afterAttempt: 3, random: { $0.lowerBound }) == .zero)
        #expect(p.delay(afterAttempt: 1, retryAfter: .seconds(5), random: { $0.lowerBound }) == .seconds(5))
        #expect(p.delay(afterAttempt: 1, retryAfter: .seconds(500), random: { $0.lowerBound }) == .seconds(30))
        #expect(RetryPolicy.parseRetryAfter("3") == .seconds(3))
        let now = Date(timeIntervalSince1970: 1_000_000)
        #expect(RetryPolicy.parseRetryAfter(HTTPDate.format(now.addingTimeInterval(10)), now: now) == .seconds(10))
        #expect(RetryPolicy.parseRetryAfter("soon") == nil)
    }

    @Test func throttlingAndDropsAreRetriedAndEveryAttemptIsSignedAfresh() async throws {
        let t = ScriptedTransport([
            .respond(HTTPResponse(status: 429, headers: [("Retry-After", "0")])),
            .respond(
                HTTPResponse(
                    status: 400,
                    body: Array("<ErrorResponse><Error><Code>Throttling</Code><Message>slow</Message></Error></ErrorResponse>".utf8))),
            .fail(TransportError(.connectionClosed, host: "h", detail: "reset")),
            .respond(HTTPResponse(status: 200, body: Array(identityXML.utf8))),
        ])
        let c = client(t)
        let answer = try await c.send(op, service: .sts)
        #expect(answer.value["Account"] == "123456789012")
        #expect(t.sent.count == 4)
        #expect(c.counters.retries == 3)
        #expect(c.counters.throttled == 2)
        #expect(t.sent.allSatisfy { $0.header("Authorization")?.hasPrefix("AWS4-HMAC-SHA256 Credential=AKIDTEST/") == true })
    }

    @Test func aThrottledAccountRegionAndServiceIsPacedOnItsOwn() async throws {
        let throttle = HTTPResponse(
            status: 400, body: Array("<ErrorResponse><Error><Code>Throttling</Code><Message>slow</Message></Error></ErrorResponse>".utf8))
        let ok = HTTPResponse(status: 200, body: Array(identityXML.utf8))
        let t = ScriptedTransport([.respond(throttle), .respond(ok), .respond(ok), .respond(ok)])
        let pacer = AdaptivePacer(sleep: { _ in })
        var policy = fast
        policy.pacer = pacer
        let member = AWSClient(transport: t, credentials: creds, endpoints: endpoints, retryPolicy: policy).with(
            pacingScope: "444455556666")
        _ = try await member.send(op, service: .sts)
        #expect(pacer.bucket("444455556666/us-east-1/sts")?.isPacing == true)
        // At 0.5 calls a second, the calls sent right after wait their turn (the test's sleep returns at once).
        _ = try await member.send(op, service: .sts)
        _ = try await member.send(op, service: .sts)
        #expect(member.counters.byLabel["sts"]?.paced ?? 0 >= 1, "calls after the throttle waited their turn")
        // Another region of the account, and another account, are not held back.
        #expect(pacer.bucket("444455556666/eu-west-1/sts") == nil)
        #expect(pacer.bucket("111122223333/us-east-1/sts") == nil)
    }

    @Test func permanentErrorsAreNotRetriedAndRetriesEnd() async throws {
        let denied = ScriptedTransport([
            .respond(
                HTTPResponse(
                    status: 403,
                    body: Array(
                        "<ErrorResponse><Error><Code>AccessDenied</Code><Message>no</Message></Error></ErrorResponse>".utf8)))
        ])
        await #expect(throws: AWSServiceError(code: "AccessDenied", message: "no", status: 403)) {
            _ = try await client(denied).send(op, service: .sts)
        }
        #expect(denied.sent.count == 1)

        let busy = ScriptedTransport(Array(repeating: .respond(HTTPResponse(status: 503)), count: 10))
        await #expect(throws: AWSServiceError.self) { _ = try await client(busy).send(op, service: .sts) }
        #expect(busy.sent.count == fast.maxAttempts)
    }

    /// A real HTTP peer with AWS's rule: a request more than five minutes off is refused with
    /// RequestTimeTooSkewed and the server's Date. The client, 20 minutes behind, must correct
    /// itself and re-sign.
    @Test func clockSkewIsCorrectedFromTheServersDate() async throws {
        try await LoopbackServer.with({ request in
            let f = DateFormatter()
            f.locale = Locale(identifier: "en_US_POSIX")
            f.timeZone = TimeZone(identifier: "UTC")
            f.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
            let signed = request.header("X-Amz-Date").flatMap(f.date(from:)) ?? .distantPast
            if abs(signed.timeIntervalSinceNow) > 300 {
                return LoopbackResponse(
                    status: 403, headers: [("Date", HTTPDate.format(Date())), ("Content-Type", "text/xml")],
                    body: Array(
                        "<ErrorResponse><Error><Code>RequestTimeTooSkewed</Code><Message>too skewed</Message></Error></ErrorResponse>".utf8)
                )
            }
            if let problem = SignatureCheck.problem(with: request, credentials: ["AKIDTEST": "test-secret-key"]) {
                return LoopbackResponse(
                    status: 403, contentType: "text/xml",
                    text: "<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code><Message>\(problem)</Message></Error></ErrorResponse>")
            }
            return LoopbackResponse(status: 200, contentType: "text/xml", text: identityXML)
        }) { server in
            let behind = ClockOffset(now: { Date().addingTimeInterval(-1200) })
            let c = AWSClient(
                transport: AsyncHTTPClientTransport(), credentials: creds,
                endpoints: AWSEndpointResolver(environment: ["AWS_ENDPOINT_URL": server.baseURL]), retryPolicy: fast, clock: behind)
            let started = Date()
            let answer = try await c.send(op, service: .sts)
            #expect(answer.value["Account"] == "123456789012")
            // The server's Date is whole seconds, and lags our clock by at most the exchange's time.
            #expect(abs(behind.seconds - 1200) < 2 + Date().timeIntervalSince(started))
            #expect(c.counters.calls == 2)
            // Once corrected, later calls are right first time.
            _ = try await c.send(op, service: .sts)
            #expect(c.counters.calls == 3)
        }
    }

    @Test func aSignatureErrorWithoutSkewIsNotRetried() async throws {
        let t = ScriptedTransport([
            .respond(
                HTTPResponse(
                    status: 403, headers: [("Date", HTTPDate.format(Date()))],
                    body: Array(
                        "<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code><Message>bad</Message></Error></ErrorResponse>".utf8)))
        ])
        await #expect(throws: AWSServiceError.self) { _ = try await client(t).send(op, service: .sts) }
        #expect(t.sent.count == 1)
    }

    @Test func aSignatureEchoedWithoutItsLabelIsScrubbed() async throws {
        // A server that quotes the request's signature back, bare, in its error message.
        final class Echo: HTTPTransport {
            func send(_ request: HTTPRequest) async throws -> HTTPResponse {
                let auth = request.header("Authorization") ?? ""
                let signature = auth.components(separatedBy: "Signature=").last ?? ""
                return HTTPResponse(
                    status: 403,
                    body: Array(
                        "<ErrorResponse><Error><Code>AccessDenied</Code><Message>expected \(signature) from you</Message></Error></ErrorResponse>"
                            .utf8))
            }
        }
        let error = await #expect(throws: AWSServiceError.self) { _ = try await client(Echo()).send(op, service: .sts) }
        let text = "\(String(describing: error))"
        #expect(text.contains("expected [REDACTED] from you"), "\(text)")
        #expect(text.range(of: "[0-9a-f]{64}", options: .regularExpression) == nil, "\(text)")
    }
}
