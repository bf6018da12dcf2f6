import AttestCore
import Crypto
import Foundation
import Synchronization

/// The Entra ID side of a replay: a token endpoint that accepts one application's client secret
/// and issues random tokens for the ARM, Graph and Key Vault scopes, and the check that every
/// other request carries a token it issued for the audience of the API it calls (Graph under
/// `/v1.0/`, a vault under `/<vault host>/`, ARM everywhere else). So `attest demo` replays Azure with its token flow exercised, not bypassed.
public final class EntraTokenCheck: ReplayTokenCheck {
    public let tenant: String
    public let clientId: String
    let clientSecret: String
    /// Token → the API it is for (`arm`, `graph`).
    private let issued = Mutex<[String: String]>([:])

    static let audiences = [
        "https://management.azure.com/.default": "arm", "https://graph.microsoft.com/.default": "graph",
        "https://vault.azure.net/.default": "vault",
    ]

    public init(tenant: String, clientId: String, clientSecret: String) {
        self.tenant = tenant
        self.clientId = clientId
        self.clientSecret = clientSecret
    }

    /// True for a request to the token endpoint, answered by ``tokenAnswer(_:)``.
    public func isTokenRequest(_ request: LoopbackRequest) -> Bool {
        request.method == "POST" && request.path.hasSuffix("/oauth2/v2.0/token")
    }

    /// The token endpoint: `client_credentials` with this application's secret, for a known scope.
    public func tokenAnswer(_ request: LoopbackRequest) -> LoopbackResponse {
        var form: [String: String] = [:]
        for pair in String(decoding: request.body, as: UTF8.self).split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String { s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(s) }
            form[decode(kv[0])] = kv.count > 1 ? decode(kv[1]) : ""
        }
        let requestedTenant = request.path.split(separator: "/").first.map(String.init) ?? ""
        guard requestedTenant == tenant else {
            return Self.refusal(400, "invalid_request", "AADSTS90002: Tenant '\(requestedTenant)' not found.")
        }
        guard form["grant_type"] == "client_credentials", form["client_id"] == clientId else {
            return Self.refusal(400, "unauthorized_client", "AADSTS700016: Application with identifier was not found in the directory.")
        }
        guard let secret = form["client_secret"], Self.constantTimeEqual(secret, clientSecret) else {
            return Self.refusal(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
        }
        guard let audience = Self.audiences[form["scope"] ?? ""] else {
            return Self.refusal(400, "invalid_scope", "AADSTS70011: The provided value for the input parameter 'scope' is not valid.")
        }
        let token = "replay-" + (0..<24).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        issued.withLock { $0[token] = audience }
        let body: JSONValue = ["token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": .string(token)]
        return LoopbackResponse(status: 200, contentType: "application/json; charset=utf-8", text: body.serialized())
    }

    /// Nil when the request carries a token issued here for its API; otherwise the 401 ARM or
    /// Graph would answer.
    public func problem(with request: LoopbackRequest) -> LoopbackResponse? {
        // Graph under /v1.0/, a vault's data plane under /<vault host>/ (ATTEST_AZURE_KEYVAULT_ENDPOINT), ARM elsewhere.
        let first = request.path.split(separator: "/").first.map { $0.lowercased() } ?? ""
        let wanted = request.path.hasPrefix("/v1.0/") ? "graph" : first.hasSuffix(".vault.azure.net") ? "vault" : "arm"
        guard let auth = request.header("Authorization"), auth.hasPrefix("Bearer ") else {
            return Self.unauthorized("AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
        }
        let audience = issued.withLock { $0[String(auth.dropFirst(7))] }
        guard let audience else { return Self.unauthorized("InvalidAuthenticationToken", "The access token is invalid.") }
        guard audience == wanted else {
            return Self.unauthorized("InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
        }
        return nil
    }

    public func notRecorded() -> LoopbackResponse {
        Self.unauthorized("NoRecordedResponse", "no recorded response for this request").withStatus(404)
    }

    static func refusal(_ status: Int, _ error: String, _ description: String) -> LoopbackResponse {
        let body: JSONValue = ["error": .string(error), "error_description": .string(description)]
        return LoopbackResponse(status: status, contentType: "application/json; charset=utf-8", text: body.serialized())
    }

    static func unauthorized(_ code: String, _ message: String) -> LoopbackResponse {
        let body: JSONValue = ["error": ["code": .string(code), "message": .string(message)]]
        return LoopbackResponse(status: 401, contentType: "application/json; charset=utf-8", text: body.serialized())
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        SHA256.hash(data: Array(a.utf8)) == SHA256.hash(data: Array(b.utf8))
    }
}

/// A replayed cloud's token side: its token endpoint, and the check that every other request
/// carries a token issued there for the API it calls.
public protocol ReplayTokenCheck: Sendable {
    /// True for a request to the token endpoint, answered by ``tokenAnswer(_:)``.
    func isTokenRequest(_ request: LoopbackRequest) -> Bool
    func tokenAnswer(_ request: LoopbackRequest) -> LoopbackResponse
    /// Nil when the request carries a token issued here; otherwise the cloud's refusal.
    func problem(with request: LoopbackRequest) -> LoopbackResponse?
    /// The answer to a request nothing was recorded for, in the cloud's error shape.
    func notRecorded() -> LoopbackResponse
}
