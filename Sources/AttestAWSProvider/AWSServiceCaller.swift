public import AttestAWS
public import AttestCollect
public import AttestCore
import AttestHTTP

/// Executes spec operations through the signed ``AWSClient``.
public struct AWSServiceCaller: ServiceCaller {
    public let client: AWSClient
    /// Where global services (a scope's region `global`) are called.
    public let homeRegion: String
    /// The clients of accounts entered through an assumed role (an organization scan): a call in
    /// one of them is signed with its credentials; every other call with ``client``'s.
    let accounts: AccountClients?

    public init(client: AWSClient, homeRegion: String) {
        self.client = client
        self.homeRegion = homeRegion
        self.accounts = nil
    }

    init(client: AWSClient, homeRegion: String, accounts: AccountClients) {
        self.client = client
        self.homeRegion = homeRegion
        self.accounts = accounts
    }

    /// The wire description of a service from its spec's `settings`.
    public static func service(_ spec: ServiceSpec) -> AWSService {
        let s = spec.settings
        var service = AWSService(
            id: spec.id, endpointPrefix: s["endpoint_prefix"], signingName: s["signing_name"],
            wireProtocol: AWSProtocol(rawValue: s["protocol"] ?? "query") ?? .query,
            apiVersion: s["api_version"], targetPrefix: s["target_prefix"], jsonVersion: s["json_version"],
            isGlobal: s["global_endpoint"] == "true")
        service.sdkServiceID = s["sdk_service_id"]
        return service
    }

    static let knownSettings: Set<String> = [
        "protocol", "api_version", "signing_name", "endpoint_prefix", "target_prefix",
        "json_version", "global_endpoint", "action_prefix", "sdk_service_id",
    ]

    /// Refuses settings the AWS caller does not understand, so a typo is an error and not a silent default.
    public static func validate(_ provider: ProviderSpec) throws {
        for spec in provider.services {
            for key in spec.settings.keys.sorted() where !knownSettings.contains(key) {
                throw SpecError(
                    file: spec.file, line: spec.settingLines[key] ?? 1,
                    message: "unknown setting \(key) (expected one of: \(knownSettings.sorted().joined(separator: ", ")))")
            }
            let proto = spec.settings["protocol"] ?? "query"
            guard AWSProtocol(rawValue: proto) != nil else {
                throw SpecError(
                    file: spec.file, line: spec.settingLines["protocol"] ?? 1,
                    message: "unknown protocol \(proto) (expected one of: \(AWSProtocol.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            if proto == "json", spec.settings["target_prefix"] == nil {
                throw SpecError(file: spec.file, line: 1, message: "protocol json needs target_prefix")
            }
        }
    }

    public func call(
        service spec: ServiceSpec, operation: OperationSpec, scope: CollectionScope,
        parameters: [String: JSONValue], context: JSONValue
    ) async throws -> JSONValue {
        let service = Self.service(spec)
        let region = scope.isGlobal ? homeRegion : scope.region
        var op = AWSOperation(name: operation.name, region: region, rawPayload: operation.rawPayload)
        switch service.wireProtocol {
        case .query, .ec2, .json:
            op.parameters = .object(parameters)
        case .restXML, .restJSON:
            var ctx = context.objectValue ?? [:]
            for (k, v) in parameters { ctx[k] = v }
            let c = JSONValue.object(ctx)
            op.method = operation.method ?? "GET"
            op.path = try operation.path.map { try fill($0, c, "path") } ?? "/"
            op.query = try operation.query.map { ($0.0, try fill($0.1, c, $0.0)) }
            op.headers = try operation.headers.map { ($0.0, try fill($0.1, c, $0.0)) }
            op.hostPrefix = try operation.hostPrefix.map { try fill($0, c, "host_prefix") }
            op.bucket = try operation.bucket.map { try fill($0, c, "bucket") }
            op.parameters = .object([:])
            // Paging tokens of REST operations travel in the query string.
            if let p = operation.paginate, let token = parameters[p.input]?.stringValue {
                op.query.append((p.input, token))
            }
        }
        let signer = accounts?.client(for: scope.account) ?? client
        return try await signer.send(op, service: service).value
    }

    func fill(_ t: Template, _ c: JSONValue, _ what: String) throws -> String {
        guard let s = t.render(c) else { throw UnrenderableParameterError(parameter: what, template: t.description) }
        return s
    }

    public func describe(_ error: any Error) -> (code: String, message: String) {
        if let shared = sharedCallErrorDescription(error) { return shared }
        return switch error {
        case let e as AWSServiceError: (e.code, e.message)
        case let e as AWSResponseDecodingError: ("MalformedResponse", e.description)
        case let e as CredentialError: ("CredentialsError", e.description)
        case let e as AWSEndpointResolver.ConfigurationError: ("InvalidEndpoint", e.description)
        default: ("Error", SecretScrubber.shared.scrub(String(describing: error)))
        }
    }

    public func action(service spec: ServiceSpec, operation: OperationSpec) -> String {
        Self.action(service: spec, operation: operation)
    }

    /// The IAM action an operation needs: its `action`, else `<action_prefix or signing name>:<name>`.
    public static func action(service spec: ServiceSpec, operation: OperationSpec) -> String {
        if let a = operation.action { return a }
        let prefix = spec.settings["action_prefix"] ?? Self.service(spec).signingName
        return "\(prefix):\(operation.name)"
    }
}
