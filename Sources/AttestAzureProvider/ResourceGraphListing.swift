public import AttestCollect
public import AttestCore
import Foundation
public import Logging

/// Serves the subscription-wide lists that specs mark `resource_graph` (storage accounts, VMs,
/// NSGs, …) from one paged Azure Resource Graph query over every scanned subscription, instead
/// of one ARM list per type and subscription.
///
/// Resource Graph returns only what the caller may read, silently. ARM refuses a list the caller
/// may not read, and attest turns that refusal into an error result. So a list is served from
/// Resource Graph only where the caller's permissions in the subscription (one
/// `Microsoft.Authorization/permissions` call each) allow the list's read action; anywhere else,
/// and whenever the permissions or the query cannot be read, the caller makes the ARM list.
public actor ResourceGraphListing {
    /// What one run found: rows per subscription and type, the permissions per subscription.
    struct Outcome: Sendable {
        var rows: [String: [String: [JSONValue]]] = [:]
        var permissions: [String: [JSONValue]] = [:]
        /// Why the query could not be used (every list then goes to ARM).
        var failure: String?
    }

    let caller: AzureServiceCaller
    let service: ServiceSpec
    let query: OperationSpec
    let permissions: OperationSpec
    let logger: Logger
    var subscriptions: [String] = []
    var types: [String] = []
    var run: Task<Outcome, Never>?

    /// Rows per page (Resource Graph's maximum); subscriptions per query (its maximum).
    static let pageSize = 1_000
    static let subscriptionsPerQuery = 1_000

    /// `query` is the Resource Graph operation, `permissions` the per-subscription permissions
    /// list, both of `service`; `caller` makes them (and must not itself hold a listing).
    public init(caller: AzureServiceCaller, service: ServiceSpec, query: OperationSpec, permissions: OperationSpec, logger: Logger) {
        self.caller = caller
        self.service = service
        self.query = query
        self.permissions = permissions
        self.logger = logger
    }

    /// The Resource Graph types the specs of `services` (nil: all) list, lower-cased and sorted.
    public static func types(in spec: ProviderSpec, services: [String]?) -> [String] {
        var out: Set<String> = []
        for s in spec.services where services?.contains(s.id) ?? true {
            for op in s.operations.values {
                if case .template(let t) = op.parameters["resource_graph"], let type = t.render(.object([:])) {
                    out.insert(type.lowercased())
                }
            }
        }
        return out.sorted()
    }

    /// Sets what the one query covers; called by discovery, before collection starts.
    public func prepare(subscriptions: [String], types: [String]) {
        self.subscriptions = subscriptions.map { $0.lowercased() }
        self.types = types
    }

    /// The rows of `type` in `subscription`, or nil when the caller should make the ARM list
    /// (the query failed, or the caller's permissions there do not allow `readAction`).
    public func rows(type: String, subscription: String, readAction: String) async -> [JSONValue]? {
        let type = type.lowercased()
        let subscription = subscription.lowercased()
        guard types.contains(type), subscriptions.contains(subscription) else { return nil }
        let task: Task<Outcome, Never>
        if let run {
            task = run
        } else {
            let (caller, service, query, permissionsOp, logger) = (self.caller, self.service, self.query, self.permissions, self.logger)
            let (subscriptions, types) = (self.subscriptions, self.types)
            task = Task {
                await Self.collect(
                    caller: caller, service: service, query: query, permissions: permissionsOp, subscriptions: subscriptions, types: types,
                    logger: logger)
            }
            run = task
        }
        let outcome = await withTaskCancellationHandler {
            await task.value
        } onCancel: {
            task.cancel()
        }
        guard outcome.failure == nil, let granted = outcome.permissions[subscription], Self.allows(readAction, granted) else {
            return nil
        }
        return outcome.rows[subscription]?[type] ?? []
    }

    static func collect(
        caller: AzureServiceCaller, service: ServiceSpec, query: OperationSpec, permissions: OperationSpec,
        subscriptions: [String], types: [String], logger: Logger
    ) async -> Outcome {
        var outcome = Outcome()
        // The permissions of each subscription, a few at a time; one that cannot be read leaves
        // its lists to ARM.
        await withTaskGroup(of: (String, [JSONValue]?).self) { group in
            var pending = subscriptions[...]
            func next() {
                guard let s = pending.popFirst() else { return }
                group.addTask {
                    do {
                        return (
                            s, try await pages(caller, service, permissions, CollectionScope(account: s, region: CollectionScope.global))
                        )
                    } catch {
                        let (code, message) = caller.describe(error)
                        logger.info("cannot read the caller's permissions in \(s) (\(code): \(message)); its lists are made with ARM")
                        return (s, nil)
                    }
                }
            }
            for _ in 0..<8 { next() }
            for await (s, granted) in group {
                if let granted { outcome.permissions[s] = granted }
                next()
            }
        }
        let kql =
            "Resources | where type in~ (" + types.map { "'\($0)'" }.joined(separator: ", ") + ")"
        do {
            var chunk = subscriptions[...]
            while !chunk.isEmpty {
                let these = Array(chunk.prefix(subscriptionsPerQuery))
                chunk = chunk.dropFirst(these.count)
                let body: [String: JSONValue] = [
                    "subscriptions": .array(these.map(JSONValue.string)), "query": .string(kql),
                    "options": ["$top": .int(Int64(pageSize)), "resultFormat": "objectArray"],
                ]
                let rows = try await pages(caller, service, query, CollectionScope(account: "", region: CollectionScope.global), body)
                for row in rows {
                    // A query that projects subscriptionId away still has the id that holds it.
                    let s = (row["subscriptionId"].stringValue ?? subscription(of: row["id"].stringValue ?? ""))?.lowercased()
                    guard let s, let t = row["type"].stringValue?.lowercased() else { continue }
                    outcome.rows[s, default: [:]][t, default: []].append(row)
                }
            }
            let count = outcome.rows.values.reduce(0) { $0 + $1.values.reduce(0) { $0 + $1.count } }
            logger.info("Resource Graph listed \(count) resources of \(types.count) types in \(subscriptions.count) subscriptions")
        } catch {
            let (code, message) = caller.describe(error)
            outcome.failure = "\(code): \(message)"
            logger.warning("the Resource Graph query failed (\(code): \(message)); every list is made with ARM")
        }
        return outcome
    }

    /// Every item of a paged call: ARM's `nextLink`, or Resource Graph's `$skipToken` (which goes
    /// back in the body's options). A token seen twice, or a truncated answer, is an error.
    static func pages(
        _ caller: AzureServiceCaller, _ service: ServiceSpec, _ op: OperationSpec, _ scope: CollectionScope,
        _ body: [String: JSONValue] = [:]
    ) async throws -> [JSONValue] {
        var items: [JSONValue] = []
        var parameters = body
        var seen: Set<String> = []
        for _ in 0..<10_000 {
            try Task.checkCancellation()
            let page = try await caller.call(
                service: service, operation: op, scope: scope, parameters: parameters, context: ["account": .string(scope.account)])
            items += (op.items ?? ValuePath("value[]")).values(in: page)
            guard let p = op.paginate, let token = p.output.values(in: page).first?.stringValue, !token.isEmpty else {
                if page["resultTruncated"].stringValue == "true" || page["resultTruncated"].boolValue == true {
                    throw ResourceGraphError("the answer was truncated without a skip token")
                }
                return items
            }
            guard seen.insert(token).inserted else { throw ResourceGraphError("a page token came back twice") }
            parameters[p.input] = .string(token)
        }
        throw ResourceGraphError("still more pages after 10000")
    }

    /// True when some permission entry grants `action` and does not take it back in its notActions.
    public static func allows(_ action: String, _ permissions: [JSONValue]) -> Bool {
        permissions.contains { entry in
            entry["actions"].asList.contains { matches($0.stringValue ?? "", action) }
                && !entry["notActions"].asList.contains { matches($0.stringValue ?? "", action) }
        }
    }

    /// An Azure action pattern (`*`, `*/read`, `Microsoft.Storage/*`) against an action, ignoring case.
    static func matches(_ pattern: String, _ action: String) -> Bool {
        let p = Array(pattern.lowercased().utf8)
        let a = Array(action.lowercased().utf8)
        // Wildcard match with backtracking over the last `*`.
        var (i, j, star, mark) = (0, 0, -1, 0)
        while j < a.count {
            if i < p.count, p[i] == UInt8(ascii: "*") {
                star = i
                mark = j
                i += 1
            } else if i < p.count, p[i] == a[j] {
                i += 1
                j += 1
            } else if star >= 0 {
                i = star + 1
                mark += 1
                j = mark
            } else {
                return false
            }
        }
        while i < p.count, p[i] == UInt8(ascii: "*") { i += 1 }
        return i == p.count
    }
}

/// The subscription of an ARM resource id (`/subscriptions/<id>/…`).
func subscription(of id: String) -> String? {
    let parts = id.split(separator: "/")
    guard parts.count >= 2, parts[0].lowercased() == "subscriptions" else { return nil }
    return String(parts[1])
}

/// A Resource Graph answer that cannot be used as a complete list.
struct ResourceGraphError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
