import AttestCore
import Crypto
import Foundation
import Synchronization
public import _CryptoExtras

/// The Google side of a replay: an OAuth 2.0 token endpoint (`POST /token`) that accepts only a
/// service-account assertion signed with the demo's key (RS256, its `kid`, `iss` the demo
/// account, `aud` the token URI, at most an hour long, the cloud-platform read-only scope) and
/// issues random tokens, and the check that every other request carries one of them. So
/// `attest demo` replays Google Cloud with its assertion signing exercised, not bypassed.
public final class GoogleTokenCheck: ReplayTokenCheck {
    public let clientEmail: String
    public let keyId: String
    public let audience: String
    let publicKey: _RSA.Signing.PublicKey
    private let issued = Mutex<Set<String>>([])

    public init(clientEmail: String, keyId: String, audience: String, publicKey: _RSA.Signing.PublicKey) {
        self.clientEmail = clientEmail
        self.keyId = keyId
        self.audience = audience
        self.publicKey = publicKey
    }

    public func isTokenRequest(_ request: LoopbackRequest) -> Bool {
        request.method == "POST" && request.path == "/token"
    }

    public func tokenAnswer(_ request: LoopbackRequest) -> LoopbackResponse {
        var form: [String: String] = [:]
        for pair in String(decoding: request.body, as: UTF8.self).split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String { s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(s) }
            form[decode(kv[0])] = kv.count > 1 ? decode(kv[1]) : ""
        }
        guard form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer", let assertion = form["assertion"] else {
            return Self.oauth(400, "unsupported_grant_type", "Invalid grant_type.")
        }
        if let problem = problem(assertion: assertion) { return Self.oauth(400, "invalid_grant", problem) }
        let token = "ya29.replay-" + (0..<24).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        issued.withLock { _ = $0.insert(token) }
        let body: JSONValue = ["access_token": .string(token), "expires_in": 3599, "token_type": "Bearer"]
        return LoopbackResponse(status: 200, contentType: "application/json; charset=UTF-8", text: body.serialized())
    }

    /// Why an assertion is refused, or nil.
    func problem(assertion: String) -> String? {
        let parts = assertion.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, let headerBytes = Base64URL.decode(parts[0]), let claimBytes = Base64URL.decode(parts[1]),
            let signature = Base64URL.decode(parts[2]), let header = try? JSONValue.parse(Data(headerBytes)),
            let claims = try? JSONValue.parse(Data(claimBytes))
        else { return "Invalid JWT." }
        guard header["alg"].stringValue == "RS256", header["kid"].stringValue == keyId else {
            return "Invalid JWT: the kid does not name a key of this service account."
        }
        guard
            publicKey.isValidSignature(
                _RSA.Signing.RSASignature(rawRepresentation: signature), for: Array((parts[0] + "." + parts[1]).utf8),
                padding: .insecurePKCS1v1_5)
        else { return "Invalid JWT Signature." }
        guard claims["iss"].stringValue == clientEmail else { return "Invalid JWT: iss is not this service account." }
        guard claims["aud"].stringValue == audience else { return "Invalid JWT: aud is not the token endpoint." }
        guard let iat = claims["iat"].intValue, let exp = claims["exp"].intValue, exp > iat, exp - iat <= 3600,
            Double(exp) > Date().timeIntervalSince1970
        else { return "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe." }
        guard
            (claims["scope"].stringValue ?? "").split(separator: " ").contains(where: {
                $0.hasPrefix("https://www.googleapis.com/auth/cloud-platform")
            })
        else { return "Invalid OAuth scope or ID token audience provided." }
        return nil
    }

    public func problem(with request: LoopbackRequest) -> LoopbackResponse? {
        guard let auth = request.header("Authorization"), auth.hasPrefix("Bearer "),
            issued.withLock({ $0.contains(String(auth.dropFirst(7))) })
        else {
            return Self.google(
                401, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token.")
        }
        return nil
    }

    public func notRecorded() -> LoopbackResponse {
        Self.google(404, "NOT_FOUND", "no recorded response for this request")
    }

    static func oauth(_ status: Int, _ error: String, _ description: String) -> LoopbackResponse {
        let body: JSONValue = ["error": .string(error), "error_description": .string(description)]
        return LoopbackResponse(status: status, contentType: "application/json; charset=UTF-8", text: body.serialized())
    }

    static func google(_ status: Int, _ code: String, _ message: String) -> LoopbackResponse {
        let body: JSONValue = ["error": ["code": .int(Int64(status)), "message": .string(message), "status": .string(code)]]
        return LoopbackResponse(status: status, contentType: "application/json; charset=UTF-8", text: body.serialized())
    }
}
