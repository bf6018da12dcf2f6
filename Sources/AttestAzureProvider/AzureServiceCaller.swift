public import AttestAzure
public import AttestCollect
public import AttestCore
import AttestHTTP

/// Executes spec operations as Azure REST calls: the operation's path and query rendered, the
/// `api-version` of the operation (its `query`) or of its service (`settings.api_version`),
/// paging by `nextLink` followed exactly as given, POST bodies from the parameters (Resource Graph).
public struct AzureServiceCaller: ServiceCaller {
    /// The client of each endpoint a spec may name in `settings.endpoint` (`arm`, `graph`).
    public let clients: [String: ARMClient]
    /// Serves the lists marked `resource_graph` from one Resource Graph query (nil: ARM lists only).
    public let listing: ResourceGraphListing?

    public init(clients: [String: ARMClient], listing: ResourceGraphListing? = nil) {
        self.clients = clients
        self.listing = listing
    }

    static let knownSettings: Set<String> = ["api_version", "endpoint", "action_prefix"]
    static let endpoints: Set<String> = ["arm", "graph"]

    /// Refuses unknown settings and endpoints, and any operation that would be sent without an
    /// `api-version` (ARM refuses such calls; a spec should not get that far).
    public static func validate(_ provider: ProviderSpec) throws {
        for spec in provider.services {
            for key in spec.settings.keys.sorted() where !knownSettings.contains(key) {
                throw SpecError(
                    file: spec.file, line: spec.settingLines[key] ?? 1,
                    message: "unknown setting \(key) (expected one of: \(knownSettings.sorted().joined(separator: ", ")))")
            }
            let endpoint = spec.settings["endpoint"] ?? "arm"
            guard endpoints.contains(endpoint) else {
                throw SpecError(
                    file: spec.file, line: spec.settingLines["endpoint"] ?? 1,
                    message: "unknown endpoint \(endpoint) (expected one of: \(endpoints.sorted().joined(separator: ", ")))")
            }
            for op in spec.operations.values.sorted(by: { $0.line < $1.line }) {
                guard op.path != nil else { throw SpecError(file: spec.file, line: op.line, message: "operation \(op.name) needs a path") }
                let hasVersion = op.query.contains { $0.0 == "api-version" } || spec.settings["api_version"] != nil
                if endpoint == "arm", !hasVersion {
                    throw SpecError(
                        file: spec.file, line: op.line,
                        message: "operation \(op.name) has no api-version (set settings.api_version or the operation's query api-version)")
                }
                if op.action == nil {
                    throw SpecError(
                        file: spec.file, line: op.line,
                        message: endpoint == "arm"
                            ? "operation \(op.name) needs an action (the Azure RBAC permission it takes, e.g. Microsoft.Storage/storageAccounts/read)"
                            : "operation \(op.name) needs an action (the Microsoft Graph application permission it takes, e.g. Policy.Read.All)"
                    )
                }
            }
        }
    }

    public func call(
        service spec: ServiceSpec, operation: OperationSpec, scope: CollectionScope,
        parameters: [String: JSONValue], context: JSONValue
    ) async throws -> JSONValue {
        // A data action (`data:` in the spec) is a call to the Key Vault data plane.
        let endpoint = Self.isDataAction(operation) ? "keyvault" : spec.settings["endpoint"] ?? "arm"
        guard let client = clients[endpoint] else { throw ARMResponseError("no client for the \(endpoint) endpoint") }
        if let listing, parameters["nextLink"] == nil, let type = parameters["resource_graph"]?.stringValue,
            let rows = await listing.rows(
                type: type, subscription: scope.account, readAction: Self.action(service: spec, operation: operation))
        {
            return .object(["value": .array(rows)])
        }
        // A next page: the link as the service gave it, holding its own api-version and skip token.
        if let p = operation.paginate, p.input == "nextLink", let link = parameters["nextLink"]?.stringValue {
            return Self.normalizedPage(
                try await client.send(ARMRequest(pathOrURL: link, apiVersion: nil, operation: operation.name, service: spec.id)))
        }
        var ctx = context.objectValue ?? [:]
        for (k, v) in parameters { ctx[k] = v }
        let c = JSONValue.object(ctx)
        let path = try fill(operation.path!, c, "path")
        var query: [(String, String)] = []
        var version = spec.settings["api_version"]
        for (name, template) in operation.query {
            let value = try fill(template, c, name)
            if name == "api-version" { version = value } else { query.append((name, value)) }
        }
        let method = operation.method ?? "GET"
        var body: JSONValue?
        if method == "POST" {
            // Resource Graph's skip token travels in the body's options.
            var object = parameters.filter { !operation.query.map(\.0).contains($0.key) }
            if let p = operation.paginate, p.input != "nextLink", let token = parameters[p.input] {
                object[p.input] = nil
                var options = object["options"]?.objectValue ?? [:]
                options[p.input] = token
                object["options"] = .object(options)
            }
            body = .object(object)
        } else if let p = operation.paginate, p.input != "nextLink", let token = parameters[p.input]?.stringValue {
            query.append((p.input, token))
        }
        return Self.normalizedPage(
            try await client.send(
                ARMRequest(
                    method: method, pathOrURL: path, query: query, apiVersion: version, body: body, operation: operation.name,
                    service: spec.id)))
    }

    /// Microsoft Graph pages with `@odata.nextLink` (a key a path cannot name, since it holds a
    /// dot): it is also given as `nextLink`, so Graph and ARM specs page the same way.
    static func normalizedPage(_ answer: JSONValue) -> JSONValue {
        guard case .object(var o) = answer, o["nextLink"] == nil, let link = o["@odata.nextLink"] else { return answer }
        o["nextLink"] = link
        return .object(o)
    }

    func fill(_ t: Template, _ c: JSONValue, _ what: String) throws -> String {
        guard let s = t.render(c) else { throw UnrenderableParameterError(parameter: what, template: t.description) }
        return s
    }

    public func describe(_ error: any Error) -> (code: String, message: String) {
        if let shared = sharedCallErrorDescription(error) { return shared }
        return switch error {
        case let e as ARMServiceError: (e.code, e.message)
        case let e as ARMResponseError: ("MalformedResponse", e.description)
        case let e as EntraError: ("CredentialsError", e.description)
        default: ("Error", SecretScrubber.shared.scrub(String(describing: error)))
        }
    }

    public func action(service spec: ServiceSpec, operation: OperationSpec) -> String {
        Self.action(service: spec, operation: operation)
    }

    /// The Azure RBAC action (or, for Graph, the application permission) an operation needs,
    /// without the `data:` mark of a data action.
    public static func action(service spec: ServiceSpec, operation: OperationSpec) -> String {
        let action = operation.action ?? "\(spec.settings["action_prefix"] ?? spec.id)/\(operation.name)"
        return action.hasPrefix(dataActionMark) ? String(action.dropFirst(dataActionMark.count)) : action
    }

    /// Marks an action as a data action (`data:Microsoft.KeyVault/vaults/keys/read`): the call goes
    /// to the vault data plane, and the permission belongs in a role's DataActions.
    public static let dataActionMark = "data:"

    public static func isDataAction(_ operation: OperationSpec) -> Bool { operation.action?.hasPrefix(dataActionMark) == true }
}
