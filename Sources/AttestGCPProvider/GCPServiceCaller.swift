public import AttestCollect
public import AttestCore
public import AttestGCP
import AttestHTTP
import Foundation

/// Executes spec operations as Google REST calls: the service's API (`settings.api`) picks the
/// endpoint, the operation's path and query are rendered, `pageToken` pages, a POST sends the
/// `body` parameter as JSON (`getIamPolicy`).
public struct GCPServiceCaller: ServiceCaller {
    public let client: GoogleClient

    public init(client: GoogleClient) {
        self.client = client
    }

    static let knownSettings: Set<String> = ["api"]

    /// Refuses unknown settings, a service without its API, and any operation without a path or
    /// a permission.
    public static func validate(_ provider: ProviderSpec) throws {
        for spec in provider.services {
            for key in spec.settings.keys.sorted() where !knownSettings.contains(key) {
                throw SpecError(
                    file: spec.file, line: spec.settingLines[key] ?? 1,
                    message: "unknown setting \(key) (expected one of: \(knownSettings.sorted().joined(separator: ", ")))")
            }
            guard let api = spec.settings["api"], !api.isEmpty, api.allSatisfy({ $0.isLetter || $0.isNumber }) else {
                throw SpecError(
                    file: spec.file, line: spec.settingLines["api"] ?? 1,
                    message: "settings.api must name the Google API (compute, storage, iam, cloudresourcemanager, …)")
            }
            for op in spec.operations.values.sorted(by: { $0.line < $1.line }) {
                guard op.path != nil else { throw SpecError(file: spec.file, line: op.line, message: "operation \(op.name) needs a path") }
                guard op.action != nil else {
                    throw SpecError(
                        file: spec.file, line: op.line,
                        message: "operation \(op.name) needs an action (the IAM permission it takes, e.g. storage.buckets.list)")
                }
            }
        }
    }

    public func call(
        service spec: ServiceSpec, operation: OperationSpec, scope: CollectionScope,
        parameters: [String: JSONValue], context: JSONValue
    ) async throws -> JSONValue {
        var ctx = context.objectValue ?? [:]
        for (k, v) in parameters { ctx[k] = v }
        let c = JSONValue.object(ctx)
        let path = try fill(operation.path!, c, "path")
        var query: [(String, String)] = []
        for (name, template) in operation.query { query.append((name, try fill(template, c, name))) }
        if let p = operation.paginate, let token = parameters[p.input]?.stringValue, !token.isEmpty { query.append((p.input, token)) }
        let method = operation.method ?? "GET"
        let api = spec.settings["api"] ?? spec.id
        let answer = try await client.send(
            GoogleRequest(
                method: method, api: api, path: path, query: query,
                body: method == "POST" ? (parameters["body"] ?? .object([:])) : nil, operation: operation.name, service: spec.id))
        return api == "compute" ? Self.namedCompute(answer) : answer
    }

    /// Compute resources carry a `selfLink` URL; specs need their Cloud Asset Inventory name and
    /// their zone or region, which templates cannot cut from a URL. Next to every `selfLink` this
    /// adds `attestFullName` (`//compute.googleapis.com/projects/p/zones/z/instances/n`) and, from
    /// its `zone` or `region`, `attestLocation` (`z`).
    static func namedCompute(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(var o):
            for (k, v) in o { o[k] = namedCompute(v) }
            if let link = o["selfLink"]?.stringValue, let range = link.range(of: "/compute/v1/") {
                o["attestFullName"] = .string("//compute.googleapis.com/" + link[range.upperBound...])
                if let place = (o["zone"] ?? o["region"])?.stringValue, let last = place.split(separator: "/").last {
                    o["attestLocation"] = .string(String(last))
                }
            }
            return .object(o)
        case .array(let a):
            return .array(a.map(namedCompute))
        default:
            return value
        }
    }

    func fill(_ t: Template, _ c: JSONValue, _ what: String) throws -> String {
        guard let s = t.render(c) else { throw UnrenderableParameterError(parameter: what, template: t.description) }
        return s
    }

    public func describe(_ error: any Error) -> (code: String, message: String) {
        if let shared = sharedCallErrorDescription(error) { return shared }
        return switch error {
        case let e as GoogleServiceError:
            // An API not enabled in the project says so in its reason.
            (["SERVICE_DISABLED", "accessNotConfigured"].contains(e.reason ?? "") ? "SERVICE_DISABLED" : e.status, e.message)
        case let e as GoogleResponseError: ("MalformedResponse", e.description)
        case let e as GoogleAuthError: ("CredentialsError", e.description)
        default: ("Error", SecretScrubber.shared.scrub(String(describing: error)))
        }
    }

    public func action(service spec: ServiceSpec, operation: OperationSpec) -> String {
        Self.action(service: spec, operation: operation)
    }

    /// The IAM permission an operation needs (`storage.buckets.list`).
    public static func action(service spec: ServiceSpec, operation: OperationSpec) -> String {
        operation.action ?? "\(spec.id).\(operation.name)"
    }
}
