public import AttestHTTP
import Foundation
import Synchronization

/// Wraps a real transport and, at random with a fixed seed, throttles requests (answers 503
/// `SlowDown`/400 `Throttling`-style responses without forwarding), drops connections before the
/// request is sent, or drops them after the server answered (the answer is lost).
public final class FaultInjectingTransport: HTTPTransport {
    let base: any HTTPTransport
    let throttleRate: Double
    let dropRate: Double
    private let state: Mutex<(rng: SplitMix64, throttled: Int, dropped: Int, forwarded: Int)>

    public init(base: any HTTPTransport, throttleRate: Double, dropRate: Double, seed: UInt64 = 42) {
        self.base = base
        self.throttleRate = throttleRate
        self.dropRate = dropRate
        self.state = Mutex((SplitMix64(seed: seed), 0, 0, 0))
    }

    public var throttled: Int { state.withLock { $0.throttled } }
    public var dropped: Int { state.withLock { $0.dropped } }
    public var forwarded: Int { state.withLock { $0.forwarded } }

    enum Fault {
        case none
        case throttle(Int)
        case dropBefore, dropAfter
    }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let fault: Fault = state.withLock { s in
            let roll = s.rng.nextDouble()
            if roll < throttleRate {
                s.throttled += 1
                return .throttle(Int(s.rng.next() % 3))
            }
            if roll < throttleRate + dropRate {
                s.dropped += 1
                return s.rng.next() % 2 == 0 ? .dropBefore : .dropAfter
            }
            return .none
        }
        switch fault {
        case .none:
            state.withLock { $0.forwarded += 1 }
            return try await base.send(request)
        case .throttle(let kind):
            return Self.throttleResponse(for: request, kind: kind)
        case .dropBefore:
            throw TransportError(.connectionClosed, host: "fault", detail: "connection reset before the request was sent")
        case .dropAfter:
            state.withLock { $0.forwarded += 1 }
            _ = try await base.send(request)
            throw TransportError(.connectionClosed, host: "fault", detail: "connection reset before the answer arrived")
        }
    }

    /// Throttling as each protocol family says it: XML `<Error><Code>`, JSON `__type`, bare 429.
    static func throttleResponse(for request: HTTPRequest, kind: Int) -> HTTPResponse {
        if request.header("X-Amz-Target") != nil {
            return HTTPResponse(
                status: 400, headers: [("Content-Type", "application/x-amz-json-1.1")],
                body: Array(#"{"__type":"com.amazonaws#ThrottlingException","message":"Rate exceeded"}"#.utf8))
        }
        switch kind {
        case 0:
            return HTTPResponse(
                status: 503, headers: [("Content-Type", "application/xml")],
                body: Array("<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>".utf8))
        case 1:
            return HTTPResponse(
                status: 400, headers: [("Content-Type", "text/xml")],
                body: Array(
                    "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>"
                        .utf8))
        default:
            return HTTPResponse(status: 429, headers: [("Retry-After", "0")], body: [])
        }
    }
}

/// A small deterministic generator, so a failing fault schedule can be replayed.
public struct SplitMix64: Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    public mutating func nextDouble() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
