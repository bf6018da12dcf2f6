public import AttestCore
public import AttestHTTP
import Crypto
public import Foundation
import _CryptoExtras

/// A credential that cannot be used: a bad key file, a refused assertion. Its description is one
/// line with Google's error, and never holds a key, an assertion or a token.
public struct GoogleAuthError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) {
        self.description = String(TerminalText.safe(SecretScrubber.shared.scrub(description), singleLine: true).prefix(600))
    }
}

/// Where a scan's Google token comes from, for the report's principal and messages.
public enum GoogleCredentialSource: Sendable, Equatable {
    case serviceAccount(email: String, file: String)
    case authorizedUser(file: String)
    case metadataServer(host: String)
    /// Workload identity federation (`external_account`), by its audience.
    case externalAccount(audience: String)
    /// A service account impersonated with another credential's token.
    case impersonated(email: String)

    public var label: String {
        switch self {
        case .serviceAccount(let email, _): "service account \(email)"
        case .authorizedUser: "gcloud user credentials"
        case .metadataServer: "metadata server"
        case .externalAccount: "workload identity federation"
        case .impersonated(let email): "impersonated service account \(email)"
        }
    }
}

/// A service-account key file (`"type": "service_account"`), as the IAM API creates it.
public struct ServiceAccountKey: Sendable {
    public var clientEmail: String
    public var privateKeyId: String
    public var projectId: String?
    public var tokenURI: String
    let privateKey: _RSA.Signing.PrivateKey

    public init(json: JSONValue, file: String) throws {
        guard let email = json["client_email"].stringValue, !email.isEmpty else {
            throw GoogleAuthError("\(file): a service-account key needs client_email")
        }
        guard let pem = json["private_key"].stringValue, !pem.isEmpty else {
            throw GoogleAuthError("\(file): a service-account key needs private_key")
        }
        SecretScrubber.shared.register(pem)
        do {
            privateKey = try _RSA.Signing.PrivateKey(pemRepresentation: pem)
        } catch {
            throw GoogleAuthError("\(file): private_key is not an RSA private key in PEM")
        }
        clientEmail = email
        privateKeyId = json["private_key_id"].stringValue ?? ""
        projectId = json["project_id"].stringValue
        tokenURI = json["token_uri"].stringValue ?? "https://oauth2.googleapis.com/token"
    }

    /// The signed JWT google-auth sends: RS256 with `kid` = `private_key_id`; `iss` = the client
    /// email, `scope`, `aud` = the token URI, `iat` now and `exp` an hour later.
    public func assertion(scope: String, now: Date) throws -> String {
        let iat = Int(now.timeIntervalSince1970)
        let header: JSONValue = ["alg": "RS256", "typ": "JWT", "kid": .string(privateKeyId)]
        let claims: JSONValue = [
            "iss": .string(clientEmail), "scope": .string(scope), "aud": .string(tokenURI), "iat": .int(Int64(iat)),
            "exp": .int(Int64(iat + 3600)),
        ]
        let signingInput = Base64URL.encode(Array(header.serialized().utf8)) + "." + Base64URL.encode(Array(claims.serialized().utf8))
        let signature = try privateKey.signature(for: Array(signingInput.utf8), padding: .insecurePKCS1v1_5)
        let assertion = signingInput + "." + Base64URL.encode(Array(signature.rawRepresentation))
        SecretScrubber.shared.register(assertion)
        return assertion
    }
}

/// Tokens from Google's OAuth 2.0 token endpoint: the jwt-bearer grant with a service-account
/// assertion, or the refresh-token grant of gcloud's user credentials.
public struct GoogleTokenEndpointProvider: BearerTokenProvider {
    public enum Grant: Sendable {
        case serviceAccount(ServiceAccountKey)
        case refreshToken(clientId: String, clientSecret: Secret, refreshToken: Secret)
    }

    let grant: Grant
    /// Where the token request goes (the file's `token_uri`, moved to its endpoint).
    let tokenURL: String
    let transport: any HTTPTransport
    let now: @Sendable () -> Date

    public init(grant: Grant, tokenURL: String, transport: any HTTPTransport, now: @escaping @Sendable () -> Date = { Date() }) {
        self.grant = grant
        self.tokenURL = tokenURL
        self.transport = transport
        self.now = now
    }

    public func token(scope: String) async throws -> BearerToken {
        let form: [(String, String)]
        let source: String
        switch grant {
        case .serviceAccount(let key):
            form = [
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", try key.assertion(scope: scope, now: now())),
            ]
            source = "service account"
        case .refreshToken(let clientId, let clientSecret, let refreshToken):
            form = [
                ("grant_type", "refresh_token"), ("client_id", clientId), ("client_secret", clientSecret.value),
                ("refresh_token", refreshToken.value), ("scope", scope),
            ]
            source = "gcloud user credentials"
        }
        let response = try await Self.postForm(form, to: tokenURL, transport: transport, endpoint: "Google token endpoint")
        return try Self.token(from: response, source: source, now: now())
    }

    /// POSTs an OAuth form to a token endpoint; a transport failure is a `GoogleAuthError` naming `endpoint`.
    static func postForm(_ form: [(String, String)], to url: String, transport: any HTTPTransport, endpoint: String) async throws
        -> HTTPResponse
    {
        do {
            return try await transport.send(
                HTTPRequest(
                    method: "POST", url: url,
                    headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "application/json")],
                    body: Array(FormEncoding.encode(form).utf8), timeout: .seconds(30)))
        } catch let error as TransportError {
            throw GoogleAuthError("\(endpoint): \(error.description)")
        }
    }

    /// An access token answer (`access_token`, `expires_in`), or Google's OAuth error on one line.
    static func token(from response: HTTPResponse, source: String, now: Date) throws -> BearerToken {
        let body = try? JSONValue.parse(Data(response.body))
        guard (200..<300).contains(response.status), let token = body?["access_token"].stringValue, !token.isEmpty else {
            let error = body?["error"].stringValue ?? body?["error"]["status"].stringValue ?? "HTTP \(response.status)"
            let description = body?["error_description"].stringValue ?? body?["error"]["message"].stringValue ?? ""
            throw GoogleAuthError("Google refused the \(source): \(error)\(description.isEmpty ? "" : ": \(description)")")
        }
        SecretScrubber.shared.register(token)
        let lifetime = body?["expires_in"].intValue ?? Int64(body?["expires_in"].stringValue ?? "") ?? 3600
        return BearerToken(token: token, expiration: now.addingTimeInterval(TimeInterval(lifetime)), source: source)
    }
}

/// Tokens of the instance's service account from the metadata server
/// (`/computeMetadata/v1/instance/service-accounts/default/token`, `Metadata-Flavor: Google`).
public struct MetadataServerTokenProvider: BearerTokenProvider {
    let host: String
    let transport: any HTTPTransport
    let now: @Sendable () -> Date
    /// False when the metadata server is only the last resort of the chain: a failure then says
    /// how to give credentials.
    let configured: Bool

    public init(host: String, transport: any HTTPTransport, configured: Bool = true, now: @escaping @Sendable () -> Date = { Date() }) {
        self.host = host
        self.transport = transport
        self.configured = configured
        self.now = now
    }

    public func token(scope: String) async throws -> BearerToken {
        let url = "http://\(host)/computeMetadata/v1/instance/service-accounts/default/token?scopes=\(FormEncoding.escape(scope))"
        let response: HTTPResponse
        do {
            response = try await transport.send(
                HTTPRequest(method: "GET", url: url, headers: [("Metadata-Flavor", "Google")], body: [], timeout: .seconds(10)))
        } catch let error as TransportError {
            guard configured else {
                throw GoogleAuthError(
                    "no Google credentials: set GOOGLE_APPLICATION_CREDENTIALS (or --credentials) to a key file, run gcloud auth application-default login, or run on Google Cloud (the metadata server at \(host) did not answer: \(error.description))"
                )
            }
            throw GoogleAuthError("the metadata server at \(host): \(error.description)")
        }
        return try GoogleTokenEndpointProvider.token(from: response, source: "metadata server", now: now())
    }
}

/// Application Default Credentials, in google-auth's order: the file named by `--credentials` or
/// `GOOGLE_APPLICATION_CREDENTIALS` (a service-account key, gcloud user credentials or a workload
/// identity federation file), then
/// gcloud's `application_default_credentials.json`, then the metadata server.
public struct GoogleCredentialChain: Sendable {
    public let environment: [String: String]
    public let endpoints: GCPEndpoints
    public let transport: any HTTPTransport
    /// `--credentials FILE`, which wins over the environment.
    public let file: String?
    /// `--impersonate-service-account EMAIL`: the credential found is used only to ask IAM
    /// Credentials for this account's tokens.
    public let impersonate: String?

    public init(
        environment: [String: String], endpoints: GCPEndpoints, transport: any HTTPTransport, file: String? = nil,
        impersonate: String? = nil
    ) {
        self.environment = environment
        self.endpoints = endpoints
        self.transport = transport
        self.file = file
        self.impersonate = impersonate
    }

    /// The token provider (caching and refreshing one token per scope) and where it comes from.
    public func resolve() throws -> (provider: any BearerTokenProvider, source: GoogleCredentialSource) {
        let found = try resolveBase()
        guard let impersonate else { return found }
        let provider = ServiceAccountImpersonation(
            serviceAccount: impersonate, base: found.provider, endpoints: endpoints, transport: transport)
        return (RefreshingBearerTokenProvider(provider), .impersonated(email: impersonate))
    }

    func resolveBase() throws -> (provider: any BearerTokenProvider, source: GoogleCredentialSource) {
        if let path = file ?? nonEmpty(environment["GOOGLE_APPLICATION_CREDENTIALS"]) {
            return try fromFile(path, variable: file != nil ? "--credentials" : "GOOGLE_APPLICATION_CREDENTIALS")
        }
        let config =
            nonEmpty(environment["CLOUDSDK_CONFIG"])
            ?? (nonEmpty(environment["HOME"]).map { $0 + "/.config/gcloud" } ?? "")
        let adc = config + "/application_default_credentials.json"
        if !config.isEmpty, FileManager.default.fileExists(atPath: adc) {
            return try fromFile(adc, variable: "gcloud's application default credentials")
        }
        let metadata = MetadataServerTokenProvider(
            host: endpoints.metadataHost, transport: transport, configured: nonEmpty(environment["GCE_METADATA_HOST"]) != nil)
        return (RefreshingBearerTokenProvider(metadata), .metadataServer(host: endpoints.metadataHost))
    }

    func fromFile(_ path: String, variable: String) throws -> (provider: any BearerTokenProvider, source: GoogleCredentialSource) {
        guard let data = FileManager.default.contents(atPath: path) else { throw GoogleAuthError("\(variable): cannot read \(path)") }
        guard let json = try? JSONValue.parse(data) else { throw GoogleAuthError("\(variable): \(path) is not a JSON credentials file") }
        switch json["type"].stringValue {
        case "service_account":
            let key = try ServiceAccountKey(json: json, file: path)
            let provider = GoogleTokenEndpointProvider(
                grant: .serviceAccount(key), tokenURL: try tokenURL(key.tokenURI, file: path), transport: transport)
            return (RefreshingBearerTokenProvider(provider), .serviceAccount(email: key.clientEmail, file: path))
        case "authorized_user":
            guard let clientId = json["client_id"].stringValue, let secret = json["client_secret"].stringValue,
                let refresh = json["refresh_token"].stringValue
            else { throw GoogleAuthError("\(path): authorized_user credentials need client_id, client_secret and refresh_token") }
            SecretScrubber.shared.register(secret)
            SecretScrubber.shared.register(refresh)
            let provider = GoogleTokenEndpointProvider(
                grant: .refreshToken(clientId: clientId, clientSecret: Secret(secret), refreshToken: Secret(refresh)),
                tokenURL: try tokenURL(json["token_uri"].stringValue ?? "https://oauth2.googleapis.com/token", file: path),
                transport: transport)
            return (RefreshingBearerTokenProvider(provider), .authorizedUser(file: path))
        case "external_account":
            let provider = try ExternalAccountTokenProvider.from(json: json, file: path, relocate: endpoints.relocate, transport: transport)
            return (RefreshingBearerTokenProvider(provider), .externalAccount(audience: provider.audience))
        case let other:
            throw GoogleAuthError(
                "\(path): credentials of type \(other ?? "(none)") are not supported (expected service_account, authorized_user or external_account)"
            )
        }
    }

    /// A token URI from a credentials file: a Google API URL (moved to its endpoint), else refused.
    func tokenURL(_ uri: String, file: String) throws -> String {
        guard let url = endpoints.relocate(uri) else {
            throw GoogleAuthError("\(file): token_uri \(uri) is not a Google endpoint (https://<api>.googleapis.com/…)")
        }
        return url
    }
}

private func nonEmpty(_ s: String?) -> String? {
    guard let s = s?.trimmingCharacters(in: .whitespaces), !s.isEmpty else { return nil }
    return s
}
