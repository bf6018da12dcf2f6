import Foundation

/// The first value of a header, matched case-insensitively, in an ordered header list.
public func headerValue(_ name: String, in headers: [(name: String, value: String)]) -> String? {
    headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
}

/// An HTTP request as a provider adapter builds it, before it reaches the wire.
public struct HTTPRequest: Sendable {
    public var method: String
    /// The complete URL, already percent-encoded as it must be sent.
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// The limit for the whole exchange, from connect to the last byte of the body.
    public var timeout: Duration

    public init(
        method: String, url: String, headers: [(name: String, value: String)] = [], body: [UInt8] = [],
        timeout: Duration = .seconds(30)
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }

    public func header(_ name: String) -> String? { headerValue(name, in: headers) }
}

/// An HTTP response with its body read in full.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public func header(_ name: String) -> String? { headerValue(name, in: headers) }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// The seam between provider adapters and the network.
///
/// The production implementation is ``AsyncHTTPClientTransport``; recording, replay and fault
/// injection wrap or replace it without the adapters knowing.
public protocol HTTPTransport: Sendable {
    func send(_ request: HTTPRequest) async throws -> HTTPResponse
}

/// A failure below HTTP: nothing usable came back.
public struct TransportError: Error, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable {
        case connect, refused, timeout, connectionClosed, invalidURL, responseTooLarge, tls, other
    }

    public var kind: Kind
    public var host: String
    public var detail: String
    /// `scheme://host:port` of the request, for messages about where attest could not connect.
    public var origin: String?

    public init(_ kind: Kind, host: String, detail: String, origin: String? = nil) {
        self.kind = kind
        self.host = host
        self.detail = detail
        self.origin = origin
    }

    /// Connection-level failures are worth another attempt; a malformed URL, an oversized body,
    /// an untrusted certificate or a refused connection (nothing listens there: a wrong endpoint
    /// or port, which waiting does not fix) is not.
    public var isTransient: Bool {
        switch kind {
        case .connect, .timeout, .connectionClosed, .other: true
        case .refused, .invalidURL, .responseTooLarge, .tls: false
        }
    }

    public var description: String {
        if kind == .refused { return "cannot reach \(origin ?? host) (connection refused)" }
        return "\(kind.rawValue) error talking to \(host): \(detail)"
    }
}
