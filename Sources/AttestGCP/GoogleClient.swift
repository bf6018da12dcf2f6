public import AttestCore
public import AttestHTTP
import Foundation
public import Logging

/// An error answer of a Google API: the HTTP status with the body's `error.status`
/// (`PERMISSION_DENIED`, `RESOURCE_EXHAUSTED`, …), `error.message` and first `reason`.
public struct GoogleServiceError: Error, CustomStringConvertible, Sendable {
    public var httpStatus: Int
    public var status: String
    public var message: String
    public var reason: String?

    public init(httpStatus: Int, status: String, message: String, reason: String? = nil) {
        self.httpStatus = httpStatus
        self.status = status
        self.message = SecretScrubber.shared.scrub(message)
        self.reason = reason
    }

    public var description: String { "\(status): \(message) (HTTP \(httpStatus))" }

    /// Quota and rate errors: 429, or `RESOURCE_EXHAUSTED` / a rate-limit reason on another status.
    public var isQuota: Bool {
        httpStatus == 429 || status == "RESOURCE_EXHAUSTED"
            || ["rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"].contains(reason ?? "")
    }

    /// A token the API no longer accepts: fetch a new one and try again.
    public var isExpiredToken: Bool { httpStatus == 401 }

    /// The error of an answer that is not 2xx: `{"error": {"code", "message", "status", "errors": [{"reason"}]}}`.
    public static func decode(_ response: HTTPResponse) -> GoogleServiceError {
        let body = try? JSONValue.parse(Data(response.body))
        let error = body?["error"] ?? .null
        let status = error["status"].stringValue ?? Self.statusName(response.status)
        let message = error["message"].stringValue ?? error.stringValue ?? "HTTP \(response.status)"
        let reason = error["errors"].asList.first?["reason"].stringValue ?? error["details"].asList.first?["reason"].stringValue
        return GoogleServiceError(
            httpStatus: response.status, status: String(TerminalText.safe(status, singleLine: true).prefix(100)),
            message: String(TerminalText.safe(message, singleLine: true).prefix(1000)),
            reason: reason.map { String(TerminalText.safe($0, singleLine: true).prefix(100)) })
    }

    static func statusName(_ status: Int) -> String {
        switch status {
        case 400: "INVALID_ARGUMENT"
        case 401: "UNAUTHENTICATED"
        case 403: "PERMISSION_DENIED"
        case 404: "NOT_FOUND"
        case 409: "ABORTED"
        case 429: "RESOURCE_EXHAUSTED"
        case 500: "INTERNAL"
        case 503: "UNAVAILABLE"
        default: "HTTP_\(status)"
        }
    }
}

/// A Google answer that cannot be read (not JSON).
public struct GoogleResponseError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = SecretScrubber.shared.scrub(description) }
}

/// One call to a Google REST API.
public struct GoogleRequest: Sendable {
    public var method: String
    /// The API whose endpoint serves the call (`compute`, `storage`, `iam`, `cloudresourcemanager`).
    public var api: String
    /// The decoded path below the endpoint (`/compute/v1/projects/p/global/firewalls`).
    public var path: String
    public var query: [(String, String)]
    public var body: JSONValue?
    /// The operation and service, for logs and call counts.
    public var operation: String
    public var service: String

    public init(
        method: String = "GET", api: String, path: String, query: [(String, String)] = [], body: JSONValue? = nil, operation: String,
        service: String
    ) {
        self.method = method
        self.api = api
        self.path = path
        self.query = query
        self.body = body
        self.operation = operation
        self.service = service
    }
}

/// The signed-in client of Google's REST APIs: a bearer token for the cloud-platform scope, the
/// attempt loop (429 and `RESOURCE_EXHAUSTED` with a floor Google asks for, 5xx, a token
/// refused fetched anew), every API at its endpoint (``GCPEndpoints``).
public final class GoogleClient: Sendable {
    public let endpoints: GCPEndpoints
    public let scope: String
    let tokens: any BearerTokenProvider
    let transport: any HTTPTransport
    let retryPolicy: RetryPolicy
    let counters: CallCounters
    let logger: Logger
    let userAgent: String
    /// The least wait after a quota error (Google advises 30 s); tests lower it.
    let quotaRetryFloor: Duration

    /// Read-only access to every Google Cloud API (narrowed by IAM, not by the scope).
    public static let cloudPlatformReadOnly = "https://www.googleapis.com/auth/cloud-platform.read-only"

    public init(
        endpoints: GCPEndpoints, tokens: any BearerTokenProvider, transport: any HTTPTransport, scope: String = cloudPlatformReadOnly,
        retryPolicy: RetryPolicy = RetryPolicy(), counters: CallCounters = CallCounters(),
        logger: Logger = Logger(label: "attest.gcp"), userAgent: String = "attest", quotaRetryFloor: Duration = .seconds(30)
    ) {
        self.endpoints = endpoints
        self.scope = scope
        self.tokens = tokens
        self.transport = transport
        self.retryPolicy = retryPolicy
        self.counters = counters
        self.logger = logger
        self.userAgent = userAgent
        self.quotaRetryFloor = quotaRetryFloor
    }

    static let pathCharacters = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/:@!$&'()*+,;=")

    /// The URL of a request: the API's endpoint, the path percent-encoded, the query.
    public func url(for request: GoogleRequest) -> String {
        let path = request.path.hasPrefix("/") ? request.path : "/" + request.path
        let encoded = path.addingPercentEncoding(withAllowedCharacters: Self.pathCharacters) ?? path
        return endpoints.base(api: request.api) + encoded + (request.query.isEmpty ? "" : "?" + FormEncoding.encode(request.query))
    }

    /// Sends a request through the attempt loop and returns the decoded JSON body (null for an empty one).
    public func send(_ request: GoogleRequest) async throws -> JSONValue {
        let url = url(for: request)
        let loop = AttemptLoop(transport: transport, policy: retryPolicy, counters: counters, logger: logger)
        let body = request.body.map { Array($0.serialized().utf8) } ?? []
        let (userAgent, floor) = (self.userAgent, self.quotaRetryFloor)
        return try await loop.run(operation: request.operation, label: request.service, tokens: tokens, scope: scope) { token in
            var headers: [(name: String, value: String)] = [
                ("Authorization", token.authorization), ("Accept", "application/json"), ("User-Agent", userAgent),
            ]
            if request.body != nil { headers.append(("Content-Type", "application/json")) }
            return HTTPRequest(method: request.method, url: url, headers: headers, body: body, timeout: .seconds(30))
        } interpret: { response in
            Self.interpret(response, quotaRetryFloor: floor)
        } refused: { outcome in
            if case .failure(let error as GoogleServiceError, _) = outcome { return error.isExpiredToken }
            return false
        }
    }

    /// Decodes an answer: JSON on 2xx; otherwise the typed error and whether to try again (quota
    /// errors after at least `quotaRetryFloor`, server errors, and one refused token, which the
    /// next attempt replaces).
    public static func interpret(_ response: HTTPResponse, quotaRetryFloor: Duration) -> AttemptOutcome<JSONValue> {
        if (200..<300).contains(response.status) {
            if response.body.allSatisfy({ $0 == 0x20 || $0 == 0x0a || $0 == 0x0d || $0 == 0x09 }) { return .success(.null) }
            do {
                return .success(try JSONValue.parse(Data(response.body)))
            } catch {
                return .failure(GoogleResponseError("the answer (HTTP \(response.status)) is not JSON"), .done)
            }
        }
        let error = GoogleServiceError.decode(response)
        if error.isExpiredToken { return .failure(error, .retry(throttled: false, retryAfter: .zero)) }
        if error.isQuota {
            let after = RetryPolicy.parseRetryAfter(response.header("Retry-After")) ?? .zero
            return .failure(error, .retry(throttled: true, retryAfter: max(after, quotaRetryFloor)))
        }
        if RetryPolicy.isRetryableStatus(response.status) {
            return .failure(error, .retry(throttled: false, retryAfter: RetryPolicy.parseRetryAfter(response.header("Retry-After"))))
        }
        return .failure(error, .done)
    }
}
