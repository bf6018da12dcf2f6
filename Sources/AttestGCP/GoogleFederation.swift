public import AttestCore
public import AttestHTTP
public import Foundation

/// The scope a token must have to call IAM Credentials (impersonation) and to be exchanged for one.
let cloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform"

/// Where a workload identity federation file (`"type": "external_account"`) reads its subject
/// token: a file, or a URL (with headers), each holding the token as text or as a field of a
/// JSON object (`format: {type: json, subject_token_field_name}`).
public enum SubjectTokenSource: Sendable, Equatable {
    case file(path: String, jsonField: String?)
    case url(String, headers: [String: String], jsonField: String?)
}

/// Workload identity federation as google-auth does it: read the subject token, exchange it at
/// the Security Token Service (RFC 8693 token exchange) for a federated access token, then,
/// when the file names `service_account_impersonation_url`, exchange that for a service
/// account's token with IAM Credentials `generateAccessToken`.
public struct ExternalAccountTokenProvider: BearerTokenProvider {
    public let audience: String
    public let subjectTokenType: String
    public let tokenURL: String
    public let impersonationURL: String?
    public let source: SubjectTokenSource
    let transport: any HTTPTransport
    let now: @Sendable () -> Date

    public init(
        audience: String, subjectTokenType: String, tokenURL: String, impersonationURL: String?, source: SubjectTokenSource,
        transport: any HTTPTransport, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.audience = audience
        self.subjectTokenType = subjectTokenType
        self.tokenURL = tokenURL
        self.impersonationURL = impersonationURL
        self.source = source
        self.transport = transport
        self.now = now
    }

    /// Reads a federation file's fields; URLs are checked by `relocate` (Google endpoints) and
    /// `sourceURL` (the subject token's URL).
    public static func from(
        json: JSONValue, file: String, relocate: (String) -> String?, transport: any HTTPTransport
    ) throws -> ExternalAccountTokenProvider {
        guard let audience = json["audience"].stringValue, !audience.isEmpty else {
            throw GoogleAuthError("\(file): an external_account file needs audience")
        }
        guard let type = json["subject_token_type"].stringValue, !type.isEmpty else {
            throw GoogleAuthError("\(file): an external_account file needs subject_token_type")
        }
        let rawTokenURL = json["token_url"].stringValue ?? "https://sts.googleapis.com/v1/token"
        guard let tokenURL = relocate(rawTokenURL) else {
            throw GoogleAuthError("\(file): token_url \(rawTokenURL) is not a Google endpoint (https://<api>.googleapis.com/…)")
        }
        var impersonation: String?
        if let raw = json["service_account_impersonation_url"].stringValue, !raw.isEmpty {
            guard let url = relocate(raw), raw.contains(":generateAccessToken") else {
                throw GoogleAuthError(
                    "\(file): service_account_impersonation_url \(raw) is not an IAM Credentials generateAccessToken URL")
            }
            impersonation = url
        }
        let credentialSource = json["credential_source"]
        if credentialSource["environment_id"].stringValue != nil || credentialSource["executable"] != .null {
            throw GoogleAuthError(
                "\(file): only file and url credential sources are supported (not AWS or executable sources); give the subject token in a file or at a URL"
            )
        }
        let field: String? =
            credentialSource["format"]["type"].stringValue == "json"
            ? (credentialSource["format"]["subject_token_field_name"].stringValue ?? "") : nil
        if field == "" { throw GoogleAuthError("\(file): credential_source.format json needs subject_token_field_name") }
        let source: SubjectTokenSource
        if let path = credentialSource["file"].stringValue, !path.isEmpty {
            source = .file(path: path, jsonField: field)
        } else if let url = credentialSource["url"].stringValue, !url.isEmpty {
            guard SubjectTokenSource.acceptable(url) else {
                throw GoogleAuthError("\(file): credential_source.url \(url) must be https, or http on a loopback or link-local host")
            }
            var headers: [String: String] = [:]
            for (k, v) in credentialSource["headers"].objectValue ?? [:] { headers[k] = v.stringValue ?? "" }
            source = .url(url, headers: headers, jsonField: field)
        } else {
            throw GoogleAuthError("\(file): credential_source needs file or url")
        }
        return ExternalAccountTokenProvider(
            audience: audience, subjectTokenType: type, tokenURL: tokenURL, impersonationURL: impersonation, source: source,
            transport: transport)
    }

    public func token(scope: String) async throws -> BearerToken {
        let subject = try await subjectToken()
        // With impersonation the federated token only has to call IAM Credentials.
        let form: [(String, String)] = [
            ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"), ("audience", audience),
            ("scope", impersonationURL == nil ? scope : cloudPlatformScope),
            ("requested_token_type", "urn:ietf:params:oauth:token-type:access_token"), ("subject_token", subject),
            ("subject_token_type", subjectTokenType),
        ]
        let response = try await GoogleTokenEndpointProvider.postForm(
            form, to: tokenURL, transport: transport, endpoint: "Google Security Token Service")
        let federated = try GoogleTokenEndpointProvider.token(
            from: response, source: "workload identity federation token exchange", now: now())
        guard let impersonationURL else { return federated }
        return try await ServiceAccountImpersonation.generate(
            url: impersonationURL, with: federated, scope: scope, transport: transport, now: now())
    }

    func subjectToken() async throws -> String {
        let raw: String
        let field: String?
        switch source {
        case .file(let path, let jsonField):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw GoogleAuthError("workload identity federation: cannot read the subject token file \(path)")
            }
            raw = String(decoding: data, as: UTF8.self)
            field = jsonField
        case .url(let url, let headers, let jsonField):
            let response: HTTPResponse
            do {
                response = try await transport.send(
                    HTTPRequest(
                        method: "GET", url: url, headers: headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, body: [],
                        timeout: .seconds(10)))
            } catch let error as TransportError {
                throw GoogleAuthError("workload identity federation: the subject token URL: \(error.description)")
            }
            guard (200..<300).contains(response.status) else {
                throw GoogleAuthError("workload identity federation: the subject token URL answered HTTP \(response.status)")
            }
            raw = String(decoding: response.body, as: UTF8.self)
            field = jsonField
        }
        var token = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        if let field {
            guard let json = try? JSONValue.parse(Data(token.utf8)), let value = json[field].stringValue, !value.isEmpty else {
                throw GoogleAuthError("workload identity federation: the subject token is not a JSON object with \(field)")
            }
            token = value
        }
        guard !token.isEmpty else { throw GoogleAuthError("workload identity federation: the subject token is empty") }
        SecretScrubber.shared.register(token)
        return token
    }
}

extension SubjectTokenSource {
    /// https anywhere; plain http only to a loopback or link-local host (a cloud's metadata service).
    static func acceptable(_ url: String) -> Bool {
        guard let u = URLComponents(string: url), let host = u.host?.lowercased(), u.user == nil else { return false }
        if u.scheme == "https" { return true }
        return u.scheme == "http" && (LoopbackHost.contains(host) || host.hasPrefix("169.254.") || host == "metadata.google.internal")
    }
}

/// A service account's token from IAM Credentials `generateAccessToken`, asked with another
/// credential's token (`--impersonate-service-account`, or a federation file's impersonation URL).
public struct ServiceAccountImpersonation: BearerTokenProvider {
    public let serviceAccount: String
    let base: any BearerTokenProvider
    let url: String
    let transport: any HTTPTransport
    let now: @Sendable () -> Date

    /// `endpoints` moves `https://iamcredentials.googleapis.com` like every Google API.
    public init(
        serviceAccount: String, base: any BearerTokenProvider, endpoints: GCPEndpoints, transport: any HTTPTransport,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.serviceAccount = serviceAccount
        self.base = base
        self.url =
            endpoints.base(api: "iamcredentials") + "/v1/projects/-/serviceAccounts/"
            + (serviceAccount.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/:")))
                ?? serviceAccount)
            + ":generateAccessToken"
        self.transport = transport
        self.now = now
    }

    public func token(scope: String) async throws -> BearerToken {
        let caller = try await base.token(scope: cloudPlatformScope)
        do {
            return try await Self.generate(url: url, with: caller, scope: scope, transport: transport, now: now())
        } catch let error as GoogleAuthError where error.description.contains("UNAUTHENTICATED") {
            await base.invalidate(scope: cloudPlatformScope, refused: caller)
            throw error
        }
    }

    /// POSTs `{"scope": [scope], "lifetime": "3600s"}` with `caller` as the bearer token; the
    /// answer is `{accessToken, expireTime}`.
    static func generate(url: String, with caller: BearerToken, scope: String, transport: any HTTPTransport, now: Date) async throws
        -> BearerToken
    {
        let body: JSONValue = ["scope": [.string(scope)], "lifetime": "3600s"]
        let response: HTTPResponse
        do {
            response = try await transport.send(
                HTTPRequest(
                    method: "POST", url: url,
                    headers: [
                        ("Authorization", "Bearer \(caller.token.value)"), ("Content-Type", "application/json"),
                        ("Accept", "application/json"),
                    ],
                    body: Array(body.serialized().utf8), timeout: .seconds(30)))
        } catch let error as TransportError {
            throw GoogleAuthError("IAM Credentials generateAccessToken: \(error.description)")
        }
        let answer = try? JSONValue.parse(Data(response.body))
        guard (200..<300).contains(response.status), let token = answer?["accessToken"].stringValue, !token.isEmpty else {
            let status = answer?["error"]["status"].stringValue ?? "HTTP \(response.status)"
            let message = answer?["error"]["message"].stringValue ?? ""
            throw GoogleAuthError("Google refused the service account impersonation: \(status)\(message.isEmpty ? "" : ": \(message)")")
        }
        SecretScrubber.shared.register(token)
        let expiry = answer?["expireTime"].stringValue.flatMap(rfc3339) ?? now.addingTimeInterval(3600)
        return BearerToken(token: token, expiration: expiry, source: "impersonated service account")
    }
}

/// An RFC 3339 time (`2026-12-01T10:00:00Z`, with or without fractions).
func rfc3339(_ s: String) -> Date? {
    let f = ISO8601DateFormatter()
    if let d = f.date(from: s) { return d }
    f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return f.date(from: s)
}
