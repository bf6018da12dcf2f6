public import AttestCollect
public import AttestCore
import Foundation
public import Logging

/// Serves the project-wide lists that specs mark with an `asset_type` (firewalls, instances,
/// buckets, Cloud SQL instances, KMS key rings and keys, …) from Cloud Asset Inventory: one paged
/// `assets.list` per project for every marked type, instead of one list per API (and, for KMS,
/// one per location).
///
/// Asset Inventory returns every resource whatever the caller may read in each API. The per-API
/// list refuses what the caller may not read, and attest turns that refusal into an error
/// result. So a list is served from Asset Inventory only where the caller holds the list's
/// permission in the project (one `projects:testIamPermissions` call); anywhere else, and
/// whenever Asset Inventory cannot be read (the API disabled, no permission), the caller makes
/// the per-API list.
public actor AssetInventoryListing {
    /// What one project's run found.
    struct Outcome: Sendable {
        /// Asset type → the assets' `resource.data`.
        var data: [String: [JSONValue]] = [:]
        var granted: Set<String> = []
        var failure: String?
    }

    let assetsService: ServiceSpec
    let assets: OperationSpec
    let permissionsService: ServiceSpec
    let testPermissions: OperationSpec
    let logger: Logger
    /// The asset types listed, and the permissions of the per-API lists they replace.
    var types: Set<String> = []
    var permissions: Set<String> = []
    /// Project id → its number.
    var projects: [String: String] = [:]
    var runs: [String: Task<Outcome, Never>] = [:]
    /// Asset Inventory's largest page.
    static let pageSize = 1_000

    /// `assets` is the Asset Inventory list, `testPermissions` Resource Manager's
    /// `projects:testIamPermissions`, each with its service.
    public init(
        assets: (ServiceSpec, OperationSpec), testPermissions: (ServiceSpec, OperationSpec), logger: Logger
    ) {
        (self.assetsService, self.assets) = assets
        (self.permissionsService, self.testPermissions) = testPermissions
        self.logger = logger
    }

    /// The asset types the specs of `services` (nil: all) mark, and the permissions of the lists
    /// that name them.
    public static func marked(in spec: ProviderSpec, services: [String]?) -> (types: Set<String>, permissions: Set<String>) {
        var types: Set<String> = []
        var permissions: Set<String> = []
        for s in spec.services where services?.contains(s.id) ?? true {
            for op in s.operations.values {
                guard case .template(let t) = op.parameters["asset_type"], let type = t.render(.object([:])) else { continue }
                types.insert(type)
                permissions.insert(GCPServiceCaller.action(service: s, operation: op))
            }
        }
        return (types, permissions)
    }

    /// Sets what the per-project lists cover (project id → number); called by discovery, before
    /// collection starts.
    public func prepare(projects: [String: String], types: Set<String>, permissions: Set<String>) {
        self.projects = projects
        self.types = types
        self.permissions = permissions
    }

    /// The `resource.data` of every asset of `assetType` in `project`, or nil when the caller
    /// should make the per-API list (Asset Inventory failed, or the caller lacks `permission`).
    func data(project: String, assetType: String, permission: String, caller: GCPServiceCaller) async -> [JSONValue]? {
        guard types.contains(assetType), let number = projects[project] else { return nil }
        let task: Task<Outcome, Never>
        if let run = runs[project] {
            task = run
        } else {
            let (assets, testPermissions, logger) = ((assetsService, self.assets), (permissionsService, self.testPermissions), self.logger)
            let (types, permissions) = (self.types, self.permissions)
            task = Task {
                await Self.collect(
                    project: project, number: number, types: types, permissions: permissions, caller: caller, assets: assets,
                    testPermissions: testPermissions,
                    logger: logger)
            }
            runs[project] = task
        }
        let outcome = await withTaskCancellationHandler {
            await task.value
        } onCancel: {
            task.cancel()
        }
        guard outcome.failure == nil, outcome.granted.contains(permission) else { return nil }
        return outcome.data[assetType] ?? []
    }

    static func collect(
        project: String, number: String, types: Set<String>, permissions: Set<String>, caller: GCPServiceCaller,
        assets: (ServiceSpec, OperationSpec), testPermissions: (ServiceSpec, OperationSpec), logger: Logger
    ) async -> Outcome {
        var outcome = Outcome()
        let scope = CollectionScope(account: project, region: CollectionScope.global)
        let context: JSONValue = ["account": .string(project), "project_number": .string(number)]
        // Which per-API lists the caller may make (at most 100 permissions a call).
        let wanted = permissions.sorted()
        do {
            for start in stride(from: 0, to: wanted.count, by: 100) {
                let chunk = Array(wanted[start..<min(start + 100, wanted.count)])
                let answer = try await caller.direct(
                    service: testPermissions.0, operation: testPermissions.1, scope: scope,
                    parameters: ["body": ["permissions": .array(chunk.map(JSONValue.string))]], context: context)
                outcome.granted.formUnion(answer["permissions"].asList.compactMap(\.stringValue))
            }
        } catch {
            let (code, message) = caller.describe(error)
            outcome.failure = "\(code): \(message)"
            logger.info("cannot test the caller's permissions in \(project) (\(code): \(message)); its lists are made per API")
            return outcome
        }
        do {
            let query = types.sorted().map { ("assetTypes", $0) } + [("pageSize", String(pageSize))]
            var parameters: [String: JSONValue] = [:]
            var seen: Set<String> = []
            var count = 0
            for _ in 0..<10_000 {
                try Task.checkCancellation()
                let page = try await caller.direct(
                    service: assets.0, operation: assets.1, scope: scope, parameters: parameters, context: context, extraQuery: query)
                for asset in page["assets"].asList {
                    guard let type = asset["assetType"].stringValue, case .object = asset["resource"]["data"] else { continue }
                    outcome.data[type, default: []].append(asset["resource"]["data"])
                    count += 1
                }
                guard let next = page["nextPageToken"].stringValue, !next.isEmpty else {
                    logger.info("Cloud Asset Inventory listed \(count) resources of \(types.count) types in \(project)")
                    return outcome
                }
                guard seen.insert(next).inserted else { throw AssetInventoryError("a page token came back twice") }
                parameters["pageToken"] = .string(next)
            }
            throw AssetInventoryError("still more pages after 10000")
        } catch {
            let (code, message) = caller.describe(error)
            outcome.failure = "\(code): \(message)"
            logger.info("Cloud Asset Inventory cannot list \(project) (\(code): \(message)); its lists are made per API")
            return outcome
        }
    }

    /// A page shaped as `items` reads it: `items[]` → `{"items": [...]}`, `items.*.instances[]` →
    /// `{"items": {"assetInventory": {"instances": [...]}}}`.
    static func page(_ items: [JSONValue], path: ValuePath?) -> JSONValue {
        func build(_ segments: ArraySlice<ValuePath.Segment>) -> JSONValue {
            guard let first = segments.first else { return .array(items) }
            let rest = segments.dropFirst()
            if first.key == "*" { return ["assetInventory": build(rest)] }
            if first.fanOut { return [first.key: rest.isEmpty ? .array(items) : .array([build(rest)])] }
            return [first.key: build(rest)]
        }
        return build((path ?? ValuePath("items[]")).segments[...])
    }
}

/// An Asset Inventory answer that cannot be used as a complete list.
struct AssetInventoryError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
