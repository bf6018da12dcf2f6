public import AttestCore
public import AttestHTTP
import Foundation
public import Logging
import Synchronization

/// An error answer of Azure Resource Manager (or Microsoft Graph): the HTTP status with the
/// body's `error.code` and `error.message`.
public struct ARMServiceError: Error, CustomStringConvertible, Sendable {
    public var status: Int
    public var code: String
    public var message: String

    public init(status: Int, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = SecretScrubber.shared.scrub(message)
    }

    public var description: String { "\(code): \(message) (HTTP \(status))" }

    /// Throttling and server-side failures: worth another attempt.
    public var isTransient: Bool { RetryPolicy.isRetryableStatus(status) }

    /// The codes ARM gives a token that has expired or was revoked: fetch a new one and retry.
    public var isExpiredToken: Bool {
        status == 401
            && ["ExpiredAuthenticationToken", "InvalidAuthenticationTokenExpired", "InvalidAuthenticationToken", "AuthenticationFailed"]
                .contains(code)
    }

    /// The error of an answer that is not 2xx: `{"error": {"code", "message"}}` when the body has
    /// it (ARM and Graph), else the status.
    public static func decode(_ response: HTTPResponse) -> ARMServiceError {
        let body = try? JSONValue.parse(Data(response.body))
        let error = body?["error"] ?? .null
        let code = error["code"].stringValue ?? error.stringValue ?? Self.statusCode(response.status)
        let message = error["message"].stringValue ?? body?["message"].stringValue ?? "HTTP \(response.status)"
        return ARMServiceError(
            status: response.status, code: String(TerminalText.safe(code, singleLine: true).prefix(200)),
            message: String(TerminalText.safe(message, singleLine: true).prefix(1000)))
    }

    static func statusCode(_ status: Int) -> String {
        switch status {
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "NotFound"
        case 429: "TooManyRequests"
        default: "HTTP\(status)"
        }
    }
}

/// A body ARM answered that is not JSON, or a paging link that leaves the endpoint.
public struct ARMResponseError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = SecretScrubber.shared.scrub(description) }
}

/// One call to an Azure REST API.
public struct ARMRequest: Sendable {
    public var method: String
    /// The path below the endpoint (`/subscriptions/…/providers/Microsoft.Storage/storageAccounts`)
    /// or, for a next page, the complete `nextLink` as ARM gave it.
    public var pathOrURL: String
    /// Query parameters besides `api-version` (a `nextLink` already holds its own).
    public var query: [(String, String)]
    /// The `api-version`; nil for a `nextLink`, which carries it.
    public var apiVersion: String?
    public var body: JSONValue?
    /// The operation and service, for logs and call counts.
    public var operation: String
    public var service: String

    public init(
        method: String = "GET", pathOrURL: String, query: [(String, String)] = [], apiVersion: String?, body: JSONValue? = nil,
        operation: String, service: String
    ) {
        self.method = method
        self.pathOrURL = pathOrURL
        self.query = query
        self.apiVersion = apiVersion
        self.body = body
        self.operation = operation
        self.service = service
    }

    /// The subscription the call reads, for the per-subscription read budget.
    var subscription: String? {
        guard let range = pathOrURL.range(of: "/subscriptions/", options: .caseInsensitive) else { return nil }
        let rest = pathOrURL[range.upperBound...]
        let id = rest.prefix { $0 != "/" && $0 != "?" }
        return id.isEmpty ? nil : id.lowercased()
    }
}

/// The signed-in client of one Azure REST endpoint (ARM, Microsoft Graph): bearer tokens for its
/// audience, the attempt loop (429 with `Retry-After`, 5xx, a token refused as expired fetched
/// anew), paging links held to the endpoint's origin, and ARM's remaining-reads header lowering
/// how many calls run at once per subscription.
public final class ARMClient: Sendable {
    public let baseURL: String
    /// The token scope of the endpoint's audience (`https://management.azure.com/.default`).
    public let scope: String
    let tokens: any BearerTokenProvider
    let transport: any HTTPTransport
    let retryPolicy: RetryPolicy
    let counters: CallCounters
    let logger: Logger
    let userAgent: String
    let budget: ReadBudget
    let requestTimeout: Duration
    /// For the Key Vault data plane: every call is a full vault URL, checked and routed by these
    /// endpoints (``AzureEndpoints/keyVaultURL(_:)``) instead of joined to `baseURL`.
    let vaults: AzureEndpoints?

    public init(
        baseURL: String, scope: String, tokens: any BearerTokenProvider, transport: any HTTPTransport,
        retryPolicy: RetryPolicy = RetryPolicy(), counters: CallCounters = CallCounters(),
        logger: Logger = Logger(label: "attest.azure"), userAgent: String = "attest", requestTimeout: Duration = .seconds(30),
        vaults: AzureEndpoints? = nil
    ) {
        self.vaults = vaults
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.scope = scope
        self.tokens = tokens
        self.transport = transport
        self.retryPolicy = retryPolicy
        self.counters = counters
        self.logger = logger
        self.userAgent = userAgent
        self.budget = ReadBudget()
        self.requestTimeout = requestTimeout
    }

    /// The URL of a request: a path joined to the endpoint, or a paging link that must point at
    /// the endpoint (a link elsewhere would receive the token).
    public func url(for request: ARMRequest) throws -> String {
        if let vaults {
            var url = request.pathOrURL
            var query = request.query
            if let version = request.apiVersion { query.insert(("api-version", version), at: 0) }
            if !query.isEmpty { url += (url.contains("?") ? "&" : "?") + FormEncoding.encode(query) }
            do {
                return try vaults.keyVaultURL(url)
            } catch {
                throw ARMResponseError("\(request.operation): \(error)")
            }
        }
        if request.pathOrURL.lowercased().hasPrefix("http://") || request.pathOrURL.lowercased().hasPrefix("https://") {
            guard let origin = AzureEndpoints.origin(request.pathOrURL), origin == AzureEndpoints.origin(baseURL) else {
                throw ARMResponseError(
                    "\(request.operation): the paging link points to \(AzureEndpoints.origin(request.pathOrURL) ?? "an invalid URL"), not \(AzureEndpoints.origin(baseURL) ?? baseURL); not followed"
                )
            }
            guard request.query.isEmpty else {
                return request.pathOrURL + (request.pathOrURL.contains("?") ? "&" : "?") + FormEncoding.encode(request.query)
            }
            return request.pathOrURL
        }
        var query = request.query
        if let version = request.apiVersion { query.insert(("api-version", version), at: 0) }
        let path = request.pathOrURL.hasPrefix("/") ? request.pathOrURL : "/" + request.pathOrURL
        let encodedPath = path.addingPercentEncoding(withAllowedCharacters: Self.pathCharacters) ?? path
        return baseURL + encodedPath + (query.isEmpty ? "" : "?" + FormEncoding.encode(query))
    }

    static let pathCharacters = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/:@!$&'()*+,;=")

    /// Sends a request through the attempt loop and returns the decoded JSON body (null for an empty one).
    public func send(_ request: ARMRequest) async throws -> JSONValue {
        let url = try url(for: request)
        let loop = AttemptLoop(transport: transport, policy: retryPolicy, counters: counters, logger: logger)
        let body = request.body.map { Array($0.serialized().utf8) } ?? []
        let subscription = request.subscription
        let budget = self.budget
        let (userAgent, timeout) = (self.userAgent, self.requestTimeout)
        return try await budget.withPermit(subscription: subscription) {
            try await loop.run(operation: request.operation, label: request.service, tokens: tokens, scope: scope) { token in
                var headers: [(name: String, value: String)] = [
                    ("Authorization", token.authorization), ("Accept", "application/json"), ("User-Agent", userAgent),
                ]
                if request.body != nil { headers.append(("Content-Type", "application/json")) }
                return HTTPRequest(method: request.method, url: url, headers: headers, body: body, timeout: timeout)
            } interpret: { response in
                if let remaining = response.header("x-ms-ratelimit-remaining-subscription-reads").flatMap({ Int($0) }), let subscription {
                    budget.observe(remaining: remaining, subscription: subscription)
                }
                return Self.interpret(response)
            } refused: { outcome in
                if case .failure(let error as ARMServiceError, _) = outcome { return error.isExpiredToken }
                return false
            }
        }
    }

    /// Decodes an answer: JSON on 2xx (null when empty); otherwise the typed error and whether
    /// to try again (throttling, server errors, and a token refused as expired, which the next
    /// attempt replaces).
    public static func interpret(_ response: HTTPResponse) -> AttemptOutcome<JSONValue> {
        if (200..<300).contains(response.status) {
            if response.body.allSatisfy({ $0 == 0x20 || $0 == 0x0a || $0 == 0x0d || $0 == 0x09 }) { return .success(.null) }
            do {
                return .success(try JSONValue.parse(Data(response.body)))
            } catch {
                return .failure(ARMResponseError("the answer (HTTP \(response.status)) is not JSON"), .done)
            }
        }
        let error = ARMServiceError.decode(response)
        if error.isExpiredToken { return .failure(error, .retry(throttled: false, retryAfter: .zero)) }
        if error.isTransient {
            return .failure(
                error, .retry(throttled: response.status == 429, retryAfter: RetryPolicy.parseRetryAfter(response.header("Retry-After"))))
        }
        return .failure(error, .done)
    }
}

/// How many calls run at once per subscription: ARM's budget of reads (a token bucket per
/// subscription and region) is reported in `x-ms-ratelimit-remaining-subscription-reads`; when
/// it runs low, fewer calls run at once (4 below 100 remaining, 1 below 25) until it recovers
/// (above 200), so the scan slows down before ARM answers 429.
public final class ReadBudget: Sendable {
    public static let normalWidth = 16
    private let state = Mutex<[String: Gate]>([:])

    struct Gate {
        var width = ReadBudget.normalWidth
        var inFlight = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    public init() {}

    /// The current width for a subscription (for tests and logs).
    public func width(subscription: String) -> Int { state.withLock { $0[subscription]?.width ?? Self.normalWidth } }

    /// Adjusts the subscription's width to what ARM says is left.
    public func observe(remaining: Int, subscription: String) {
        let wake: [CheckedContinuation<Void, Never>] = state.withLock { gates in
            var gate = gates[subscription] ?? Gate()
            if remaining < 25 {
                gate.width = 1
            } else if remaining < 100 {
                gate.width = min(gate.width, 4)
            } else if remaining > 200 {
                gate.width = Self.normalWidth
            }
            let free = max(0, gate.width - gate.inFlight)
            let woken = Array(gate.waiters.prefix(free))
            gate.waiters.removeFirst(woken.count)
            gate.inFlight += woken.count
            gates[subscription] = gate
            return woken
        }
        for w in wake { w.resume() }
    }

    func withPermit<T: Sendable>(subscription: String?, _ body: () async throws -> T) async throws -> T {
        guard let subscription else { return try await body() }
        await acquire(subscription)
        defer { release(subscription) }
        return try await body()
    }

    private func acquire(_ subscription: String) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let admitted = state.withLock { gates -> Bool in
                var gate = gates[subscription] ?? Gate()
                defer { gates[subscription] = gate }
                if gate.inFlight < gate.width {
                    gate.inFlight += 1
                    return true
                }
                gate.waiters.append(continuation)
                return false
            }
            if admitted { continuation.resume() }
        }
    }

    private func release(_ subscription: String) {
        let next: CheckedContinuation<Void, Never>? = state.withLock { gates in
            guard var gate = gates[subscription] else { return nil }
            defer { gates[subscription] = gate }
            gate.inFlight -= 1
            if gate.inFlight < gate.width, !gate.waiters.isEmpty {
                gate.inFlight += 1
                return gate.waiters.removeFirst()
            }
            return nil
        }
        next?.resume()
    }
}
