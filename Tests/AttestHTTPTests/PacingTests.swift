import AttestHTTP
import Logging
import Synchronization
import Testing

/// Adaptive pacing: no limit until a key is throttled, then a token bucket that slows on each
/// throttle and speeds up on each success. The bucket is I/O-free: tests pass the time.
@Suite("Adaptive pacing")
struct PacingTests {
    @Test func anUnthrottledKeyIsNeverHeldBack() {
        var b = PacingBucket()
        for i in 0..<1000 { #expect(b.reserve(now: Double(i) * 0.001) == 0) }
        b.succeeded(now: 1)
        #expect(!b.isPacing)
    }

    @Test func aThrottleStartsPacingAtHalfTheRateThatWasThrottled() {
        var b = PacingBucket()
        // 40 sends a second for two seconds, then a throttle.
        for i in 0..<80 { _ = b.reserve(now: Double(i) / 40) }
        b.throttled(now: 2.0)
        #expect(b.isPacing)
        #expect(b.rate == 20, "half of the 40/s measured")
        // Sends now wait their turn: ten at once are spread over half a second at 20/s.
        let waits = (0..<10).map { _ in b.reserve(now: 2.0) }
        #expect(waits.first! > 0)
        #expect(waits == waits.sorted())
        #expect(abs(waits.last! - 0.5) < 1e-9, "\(waits)")
        // Another throttle halves it again, never below the floor.
        b.throttled(now: 2.1)
        #expect(b.rate == 10)
        for t in 0..<20 { b.throttled(now: 2.2 + Double(t)) }
        #expect(b.rate == PacingBucket.minimumRate)
    }

    @Test func successesSpeedItUpAndEndPacingAboveTheThrottledRate() {
        var b = PacingBucket()
        for i in 0..<80 { _ = b.reserve(now: Double(i) / 40) }
        b.throttled(now: 2.0)
        var rates: [Double] = []
        var now = 2.0
        while b.isPacing, rates.count < 100 {
            now += 0.1
            b.succeeded(now: now)
            rates.append(b.rate)
        }
        #expect(!b.isPacing)
        #expect(rates == rates.sorted(), "rates only grow on success")
        #expect(rates.count == 8, "20/s × 1.1^8 > 40/s: \(rates.count) successes")
        #expect(b.reserve(now: now) == 0)
    }

    @Test func theLoopPacesAKeyOnlyAfterItWasThrottled() async throws {
        let slept = Mutex<[Duration]>([])
        let pacer = AdaptivePacer(sleep: { d in slept.withLock { $0.append(d) } })
        var policy = RetryPolicy(maxAttempts: 5, baseDelay: .milliseconds(1), maxDelay: .milliseconds(2))
        policy.pacer = pacer
        let counters = CallCounters()
        func call(_ steps: [ScriptedTransport.Step], key: String) async throws -> String {
            let loop = AttemptLoop(
                transport: ScriptedTransport(steps), policy: policy, counters: counters, logger: Logger(label: "test"), sleep: { _ in })
            return try await loop.run(operation: "Op", label: "svc", pacingKey: key) { _ in
                HTTPRequest(method: "GET", url: "http://peer/")
            } interpret: { response in
                if response.status == 200 { return .success(response.bodyText) }
                return .failure(StatusError(status: response.status), .retry(throttled: response.status == 429, retryAfter: nil))
            }
        }
        _ = try await call([.respond(200)], key: "a/us-east-1/svc")
        #expect(pacer.bucket("a/us-east-1/svc")?.isPacing == false)
        _ = try await call([.respond(429), .respond(200)], key: "a/us-east-1/svc")
        // Throttled once: the key is paced and the calls right after wait their turn; another key is not paced.
        #expect(pacer.bucket("a/us-east-1/svc")?.isPacing == true)
        _ = try await call([.respond(200)], key: "a/us-east-1/svc")
        _ = try await call([.respond(200)], key: "a/us-east-1/svc")
        #expect(counters.byLabel["svc"]?.paced ?? 0 >= 1)
        #expect(!slept.withLock { $0 }.isEmpty)
        _ = try await call([.respond(200)], key: "b/us-east-1/svc")
        #expect(pacer.bucket("b/us-east-1/svc")?.isPacing == false)
        // A 503 that is not throttling does not start pacing.
        _ = try await call([.respond(503), .respond(200)], key: "c/us-east-1/svc")
        #expect(pacer.bucket("c/us-east-1/svc")?.isPacing == false)
    }
}
