public import AttestCore
public import AttestHTTP
public import Foundation

/// A token could not be had: Entra ID refused (with its `AADSTS…` code and message on one
/// line), the configuration is incomplete, or the endpoint could not be reached. Never holds a
/// secret, an assertion or a token.
public struct EntraError: Error, CustomStringConvertible, Sendable {
    public var description: String
    /// `AADSTS7000215`, when Entra ID gave one.
    public var code: String?
    /// True when the answer says the credentials are wrong (not a passing outage).
    public var isRefusal: Bool

    public init(_ description: String, code: String? = nil, isRefusal: Bool = false) {
        self.description = SecretScrubber.shared.scrub(description)
        self.code = code
        self.isRefusal = isRefusal
    }

    /// The one-line message of a token endpoint's error answer: `AADSTS7000215: Invalid client
    /// secret provided…` (the first line of `error_description`; its trace and correlation ids
    /// dropped), else the OAuth `error` code.
    public static func fromTokenAnswer(_ response: HTTPResponse, source: String) -> EntraError {
        let body = try? JSONValue.parse(Data(response.body))
        let oauthCode = body?["error"].stringValue
        let describedFirstLine = body?["error_description"].stringValue?
            .split(whereSeparator: \.isNewline).first.map { $0.trimmingCharacters(in: .whitespaces) }
        var aadsts: String?
        if let d = describedFirstLine, let range = d.range(of: #"AADSTS\d+"#, options: .regularExpression) { aadsts = String(d[range]) }
        let text = describedFirstLine ?? oauthCode ?? "HTTP \(response.status)"
        let refused = (400..<500).contains(response.status) && response.status != 429
        return EntraError(
            "\(source): \(String(TerminalText.safe(text, singleLine: true).prefix(400)))", code: aadsts ?? oauthCode, isRefusal: refused)
    }
}

/// How Entra ID tokens are obtained for a scan: the variables azure-identity reads.
public enum EntraCredentialSource: Sendable, Equatable {
    case clientSecret(tenant: String, clientId: String)
    case clientCertificate(tenant: String, clientId: String, path: String)
    case workloadIdentity(tenant: String, clientId: String, tokenFile: String)
    case appServiceManagedIdentity(endpoint: String)
    case instanceManagedIdentity(clientId: String?)

    public var label: String {
        switch self {
        case .clientSecret: "client secret"
        case .clientCertificate: "client certificate"
        case .workloadIdentity: "workload identity federation"
        case .appServiceManagedIdentity: "managed identity (App Service)"
        case .instanceManagedIdentity: "managed identity (IMDS)"
        }
    }
}

/// Picks the credential as azure-identity's `DefaultAzureCredential` does, first match wins:
/// the environment's secret or certificate (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID` with
/// `AZURE_CLIENT_SECRET` or `AZURE_CLIENT_CERTIFICATE_PATH`), workload identity federation
/// (`AZURE_FEDERATED_TOKEN_FILE`), then managed identity (`IDENTITY_ENDPOINT` +
/// `IDENTITY_HEADER` for App Service, else the instance metadata service).
public struct EntraCredentialChain: Sendable {
    public var environment: [String: String]
    public var endpoints: AzureEndpoints
    public var transport: any HTTPTransport
    public var algorithm: AssertionAlgorithm

    public init(
        environment: [String: String], endpoints: AzureEndpoints, transport: any HTTPTransport, algorithm: AssertionAlgorithm = .ps256
    ) {
        self.environment = environment
        self.endpoints = endpoints
        self.transport = transport
        self.algorithm = algorithm
    }

    func value(_ name: String) -> String? {
        guard let v = environment[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !v.isEmpty else { return nil }
        return v
    }

    /// Which source the environment names, or an error naming the variable that is missing.
    public func source() throws -> EntraCredentialSource {
        let tenant = value("AZURE_TENANT_ID")
        let client = value("AZURE_CLIENT_ID")
        let secret = value("AZURE_CLIENT_SECRET")
        let certificate = value("AZURE_CLIENT_CERTIFICATE_PATH")
        let tokenFile = value("AZURE_FEDERATED_TOKEN_FILE")
        if secret != nil || certificate != nil || tokenFile != nil {
            guard let tenant else {
                throw EntraError(
                    "AZURE_TENANT_ID is not set (needed with \(secret != nil ? "AZURE_CLIENT_SECRET" : certificate != nil ? "AZURE_CLIENT_CERTIFICATE_PATH" : "AZURE_FEDERATED_TOKEN_FILE"))"
                )
            }
            guard Self.isTenant(tenant) else { throw EntraError("AZURE_TENANT_ID=\(tenant) is not a tenant id or domain") }
            guard let client else { throw EntraError("AZURE_CLIENT_ID is not set (the application (client) id of the app registration)") }
            if secret != nil { return .clientSecret(tenant: tenant, clientId: client) }
            if let certificate { return .clientCertificate(tenant: tenant, clientId: client, path: certificate) }
            return .workloadIdentity(tenant: tenant, clientId: client, tokenFile: tokenFile!)
        }
        if let endpoint = value("IDENTITY_ENDPOINT"), value("IDENTITY_HEADER") != nil {
            return .appServiceManagedIdentity(endpoint: endpoint)
        }
        return .instanceManagedIdentity(clientId: client)
    }

    /// A GUID, or a domain name such as `contoso.onmicrosoft.com`: nothing that could change the token URL's path.
    static func isTenant(_ t: String) -> Bool {
        !t.isEmpty && t.count <= 256 && t.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") }
    }

    /// The token provider of the source, wrapped so each scope's token is fetched once and
    /// refreshed five minutes before it expires, one refresh at a time.
    public func resolve() throws -> (provider: any BearerTokenProvider, source: EntraCredentialSource) {
        let source = try source()
        let base: any BearerTokenProvider
        switch source {
        case .clientSecret(let tenant, let client):
            base = ClientCredentialsTokenProvider(
                tokenURL: endpoints.tokenURL(tenant: tenant), clientId: client, proof: .secret(Secret(value("AZURE_CLIENT_SECRET")!)),
                transport: transport)
        case .clientCertificate(let tenant, let client, let path):
            let certificate: ClientCertificate
            do {
                certificate = try ClientCertificate.load(path: path, password: environment["AZURE_CLIENT_CERTIFICATE_PASSWORD"])
            } catch let error as ClientCertificate.LoadError {
                throw EntraError(error.description)
            }
            let chain = ["1", "true"].contains(value("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN")?.lowercased() ?? "")
            base = ClientCredentialsTokenProvider(
                tokenURL: endpoints.tokenURL(tenant: tenant), clientId: client,
                proof: .certificate(certificate, algorithm, sendChain: chain), transport: transport)
        case .workloadIdentity(let tenant, let client, let file):
            base = ClientCredentialsTokenProvider(
                tokenURL: endpoints.tokenURL(tenant: tenant), clientId: client, proof: .federatedTokenFile(file), transport: transport)
        case .appServiceManagedIdentity(let endpoint):
            base = ManagedIdentityTokenProvider(
                kind: .appService(endpoint: endpoint, header: Secret(value("IDENTITY_HEADER")!)), clientId: value("AZURE_CLIENT_ID"),
                transport: transport)
        case .instanceManagedIdentity(let client):
            // azure-identity's variable for another metadata host (AKS pod identity, tests).
            let host = value("AZURE_POD_IDENTITY_AUTHORITY_HOST") ?? "http://169.254.169.254"
            base = ManagedIdentityTokenProvider(kind: .instanceMetadata(host: host), clientId: client, transport: transport)
        }
        return (RefreshingBearerTokenProvider(base), source)
    }
}

/// The OAuth 2.0 client credentials grant against Entra ID's v2.0 token endpoint, with a client
/// secret, a certificate-signed assertion, or a federated token read from a file on every request.
public struct ClientCredentialsTokenProvider: BearerTokenProvider {
    public enum Proof: Sendable {
        case secret(Secret)
        case certificate(ClientCertificate, AssertionAlgorithm, sendChain: Bool)
        /// Workload identity federation: the file's contents are the assertion (re-read every time, as the platform rotates it).
        case federatedTokenFile(String)
    }

    public let tokenURL: String
    public let clientId: String
    let proof: Proof
    let transport: any HTTPTransport
    let now: @Sendable () -> Date

    public init(
        tokenURL: String, clientId: String, proof: Proof, transport: any HTTPTransport, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.tokenURL = tokenURL
        self.clientId = clientId
        self.proof = proof
        self.transport = transport
        self.now = now
    }

    var source: String {
        switch proof {
        case .secret: "client secret"
        case .certificate: "client certificate"
        case .federatedTokenFile: "federated token"
        }
    }

    public func token(scope: String) async throws -> BearerToken {
        var form: [(String, String)] = [("grant_type", "client_credentials"), ("client_id", clientId), ("scope", scope)]
        switch proof {
        case .secret(let secret):
            form.append(("client_secret", secret.value))
        case .certificate(let certificate, let algorithm, let chain):
            let assertion = try ClientAssertion.make(
                certificate: certificate, clientId: clientId, tokenURL: tokenURL, algorithm: algorithm, sendChain: chain, now: now())
            form += [("client_assertion_type", Self.assertionType), ("client_assertion", assertion)]
        case .federatedTokenFile(let path):
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw EntraError("AZURE_FEDERATED_TOKEN_FILE: cannot read \(path)")
            }
            let assertion = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !assertion.isEmpty else { throw EntraError("AZURE_FEDERATED_TOKEN_FILE: \(path) is empty") }
            SecretScrubber.shared.register(assertion)
            form += [("client_assertion_type", Self.assertionType), ("client_assertion", assertion)]
        }
        let body = FormEncoding.encode(form)
        let response: HTTPResponse
        do {
            response = try await transport.send(
                HTTPRequest(
                    method: "POST", url: tokenURL,
                    headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "application/json")],
                    body: Array(body.utf8), timeout: .seconds(30)))
        } catch let error as TransportError {
            throw EntraError("Entra ID token endpoint: \(error.description)")
        }
        guard response.status == 200 else { throw EntraError.fromTokenAnswer(response, source: "Entra ID refused the \(source)") }
        return try TokenAnswer.decode(response, source: source, now: now())
    }

    public static let assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
}

/// Managed identity: the instance metadata service of VMs, VM scale sets and AKS nodes, or the
/// App Service / Functions identity endpoint.
public struct ManagedIdentityTokenProvider: BearerTokenProvider {
    public enum Kind: Sendable {
        case instanceMetadata(host: String)
        case appService(endpoint: String, header: Secret)
    }

    let kind: Kind
    let clientId: String?
    let transport: any HTTPTransport
    let now: @Sendable () -> Date

    public init(kind: Kind, clientId: String?, transport: any HTTPTransport, now: @escaping @Sendable () -> Date = { Date() }) {
        self.kind = kind
        self.clientId = clientId
        self.transport = transport
        self.now = now
    }

    /// Managed identity endpoints take a resource (the audience), not a `.default` scope.
    static func resource(of scope: String) -> String {
        scope.hasSuffix("/.default") ? String(scope.dropLast("/.default".count)) + "/" : scope
    }

    public func token(scope: String) async throws -> BearerToken {
        let resource = Self.resource(of: scope)
        var query: [(String, String)]
        let base: String
        var headers: [(name: String, value: String)] = [("Accept", "application/json")]
        let source: String
        switch kind {
        case .instanceMetadata(let host):
            base = host.hasSuffix("/") ? host + "metadata/identity/oauth2/token" : host + "/metadata/identity/oauth2/token"
            query = [("api-version", "2018-02-01"), ("resource", resource)]
            headers.append(("Metadata", "true"))
            source = "managed identity (IMDS)"
        case .appService(let endpoint, let header):
            base = endpoint
            query = [("api-version", "2019-08-01"), ("resource", resource)]
            headers.append(("X-IDENTITY-HEADER", header.value))
            source = "managed identity (App Service)"
        }
        if let clientId { query.append(("client_id", clientId)) }
        let url = base + (base.contains("?") ? "&" : "?") + FormEncoding.encode(query)
        let response: HTTPResponse
        do {
            // A short limit: off Azure nothing answers at the metadata address.
            response = try await transport.send(HTTPRequest(method: "GET", url: url, headers: headers, timeout: .seconds(5)))
        } catch let error as TransportError {
            throw EntraError(
                "no Azure credentials: AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH and AZURE_FEDERATED_TOKEN_FILE are not set, and the \(source) endpoint did not answer (\(error.kind.rawValue))"
            )
        }
        guard response.status == 200 else { throw EntraError.fromTokenAnswer(response, source: "the \(source) endpoint refused") }
        return try TokenAnswer.decode(response, source: source, now: now())
    }
}

/// A token endpoint's success answer: `access_token` with `expires_in` (seconds, a number or a
/// string) or `expires_on` (epoch seconds).
enum TokenAnswer {
    static func decode(_ response: HTTPResponse, source: String, now: Date) throws -> BearerToken {
        guard let body = try? JSONValue.parse(Data(response.body)), let token = body["access_token"].stringValue, !token.isEmpty else {
            throw EntraError("\(source): the token endpoint answered without an access_token")
        }
        SecretScrubber.shared.register(token)
        var expiry: Date?
        if let seconds = body["expires_in"].intValue, seconds > 0 {
            expiry = now.addingTimeInterval(TimeInterval(min(seconds, 86_400)))
        } else if let epoch = body["expires_on"].intValue, epoch > 0 {
            expiry = Date(timeIntervalSince1970: TimeInterval(epoch))
        }
        return BearerToken(token: token, expiration: expiry ?? now.addingTimeInterval(3_600), source: source)
    }
}
