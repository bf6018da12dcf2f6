public import AttestCollect
public import AttestCore
public import AttestGCP
import AttestHTTP
import Foundation
import Synchronization

/// Executes spec operations as Google REST calls: the service's API (`settings.api`) picks the
/// endpoint, the operation's path and query are rendered, `pageToken` pages, a POST sends the
/// `body` parameter as JSON (`getIamPolicy`).
public struct GCPServiceCaller: ServiceCaller {
    public let client: GoogleClient
    /// Which organization each folder discovery saw is under; folder answers carry it as
    /// `attestOrganization`, so an organization's scope keeps only its own folders.
    let ancestry: GCPAncestry

    /// Cloud Asset Inventory, serving the lists marked `asset_type` (nil: every list per API).
    public let listing: AssetInventoryListing?

    public init(client: GoogleClient, listing: AssetInventoryListing? = nil) {
        self.client = client
        self.ancestry = GCPAncestry()
        self.listing = listing
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
        if let listing, let type = parameters["asset_type"]?.stringValue,
            operation.paginate.map({ parameters[$0.input] == nil }) ?? true,
            let data = await listing.data(
                project: scope.account, assetType: type, permission: Self.action(service: spec, operation: operation), caller: self)
        {
            return Self.assetPage(data, operation: operation, parameters: parameters, api: spec.settings["api"] ?? spec.id)
        }
        return try await direct(service: spec, operation: operation, scope: scope, parameters: parameters, context: context)
    }

    /// A list answered from Asset Inventory: the assets' data, narrowed to the list's `parent`
    /// (key rings of one location, keys of one ring), shaped as the operation's `items` reads it.
    /// `asset_locations` makes a KMS location list from the key rings' locations.
    static func assetPage(_ data: [JSONValue], operation: OperationSpec, parameters: [String: JSONValue], api: String) -> JSONValue {
        var items = data
        if let parent = parameters["parent"]?.stringValue {
            items = items.filter { ($0["name"].stringValue ?? "").hasPrefix(parent + "/") }
        }
        if parameters["asset_locations"] != nil {
            var seen: Set<String> = []
            items = items.compactMap { item -> JSONValue? in
                // projects/P/locations/L/keyRings/R
                let parts = (item["name"].stringValue ?? "").split(separator: "/").map(String.init)
                guard parts.count >= 4, parts[0] == "projects", parts[2] == "locations" else { return nil }
                let name = parts[0...3].joined(separator: "/")
                guard seen.insert(name).inserted else { return nil }
                return ["name": .string(name), "locationId": .string(parts[3])]
            }
        }
        let page = AssetInventoryListing.page(items, path: operation.items)
        return api == "compute" ? namedCompute(page) : page
    }

    /// The call itself, never served from Asset Inventory; `extraQuery` adds repeated query
    /// parameters (Asset Inventory's `assetTypes`).
    func direct(
        service spec: ServiceSpec, operation: OperationSpec, scope: CollectionScope,
        parameters: [String: JSONValue], context: JSONValue, extraQuery: [(String, String)] = []
    ) async throws -> JSONValue {
        var ctx = context.objectValue ?? [:]
        for (k, v) in parameters { ctx[k] = v }
        let c = JSONValue.object(ctx)
        let path = try fill(operation.path!, c, "path")
        var query: [(String, String)] = []
        for (name, template) in operation.query { query.append((name, try fill(template, c, name))) }
        query += extraQuery
        if let p = operation.paginate, let token = parameters[p.input]?.stringValue, !token.isEmpty { query.append((p.input, token)) }
        let method = operation.method ?? "GET"
        let api = spec.settings["api"] ?? spec.id
        let answer = try await client.send(
            GoogleRequest(
                method: method, api: api, path: path, query: query,
                body: method == "POST" ? (parameters["body"] ?? .object([:])) : nil, operation: operation.name, service: spec.id))
        if api == "compute" { return Self.namedCompute(answer) }
        if api == "cloudresourcemanager", path.hasPrefix("/v3/folders") { return ancestry.annotateFolders(answer) }
        return answer
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

/// Folder → parent, as discovery's `folders:search` found it: gives each folder's organization.
final class GCPAncestry: Sendable {
    private let parents = Mutex<[String: String]>([:])

    func record(_ map: [String: String]) {
        parents.withLock { $0.merge(map) { _, new in new } }
    }

    /// The parents of `name` (`folders/1` or `projects/…`'s parent), nearest first, up to the
    /// organization or the first unknown folder.
    func ancestors(of parent: String) -> [String] {
        parents.withLock { map in
            var out: [String] = []
            var next: String? = parent
            while let p = next, !p.isEmpty, !out.contains(p), out.count < 64 {
                out.append(p)
                next = p.hasPrefix("folders/") ? map[p] : nil
            }
            return out
        }
    }

    /// Adds `attestOrganization` (the organization's number) to every folder of a search answer
    /// whose ancestry reaches one.
    func annotateFolders(_ answer: JSONValue) -> JSONValue {
        guard case .object(var o) = answer, case .array(let folders)? = o["folders"] else { return answer }
        o["folders"] = .array(
            folders.map { folder in
                guard case .object(var f) = folder, let parent = f["parent"]?.stringValue else { return folder }
                if let org = ancestors(of: parent).last, org.hasPrefix("organizations/") {
                    f["attestOrganization"] = .string(String(org.dropFirst("organizations/".count)))
                }
                return .object(f)
            })
        return .object(o)
    }
}
