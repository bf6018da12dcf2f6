public import AttestCore
public import AttestInventory
import Foundation
public import Logging
import Synchronization

public struct CollectionResult: Sendable {
    public var graph: InventoryGraph
    public var errors: [CollectionError]

    public init(graph: InventoryGraph, errors: [CollectionError]) {
        self.graph = graph
        self.errors = errors
    }
}

/// Receives progress as units (a service in a scope) complete.
public protocol CollectionProgress: Sendable {
    func unitsPlanned(_ count: Int)
    func unitFinished(service: String, scope: CollectionScope, resources: Int)
    /// Discovery of a target with many accounts (an organization): `total` accounts to enter, one more entered or given up.
    func accountsPlanned(_ total: Int)
    func accountEntered()
}

extension CollectionProgress {
    public func accountsPlanned(_ total: Int) {}
    public func accountEntered() {}
}

/// Executes service specs: for every service and scope, list calls with paging, per-resource
/// enrichment calls, and the mapping of the answers into nodes and edges. Nothing in here knows
/// a particular cloud; that lives in the specs and the ``ServiceCaller``.
public struct CollectionEngine: Sendable {
    let caller: any ServiceCaller
    /// Service-scope units run at once.
    public var unitConcurrency: Int
    /// Per-resource enrichments run at once within a unit.
    public var itemConcurrency: Int
    /// A guard against paging loops.
    public var maxPages: Int
    public let progress: (any CollectionProgress)?
    let logger: Logger

    public init(
        caller: any ServiceCaller, unitConcurrency: Int = 12, itemConcurrency: Int = 8, maxPages: Int = 10_000,
        progress: (any CollectionProgress)? = nil, logger: Logger = Logger(label: "attest.collect")
    ) {
        self.caller = caller
        self.unitConcurrency = unitConcurrency
        self.itemConcurrency = itemConcurrency
        self.maxPages = maxPages
        self.progress = progress
        self.logger = logger
    }

    /// One service in one scope, with the account it belongs to.
    struct Unit: Sendable {
        var service: ServiceSpec
        var scope: CollectionScope
        var account: AccountTarget

        /// The same unit in another scope (a fan-out child).
        func moved(to scope: CollectionScope) -> Unit { Unit(service: service, scope: scope, account: account) }

        /// Where calls go: a global scope calls in the account's home region.
        var callRegion: String { scope.isGlobal ? account.homeRegion : scope.region }
    }

    struct UnitOutput: Sendable {
        var resources: [String: Resource] = [:]
        var edges: [Edge] = []
        var errors: [CollectionError] = []
    }

    /// The values every template of a scope sees: `account`, `region` (the call region),
    /// `home_region` and the account's provider values (AWS: `partition`).
    public static func baseContext(scope: CollectionScope, account: AccountTarget) -> [String: JSONValue] {
        var base = account.values
        base["account"] = .string(scope.account)
        base["region"] = .string(scope.isGlobal ? account.homeRegion : scope.region)
        base["home_region"] = .string(account.homeRegion)
        return base
    }

    public func collect(services: [ServiceSpec], target: CollectionTarget) async -> CollectionResult {
        var units: [Unit] = []
        var errors: [CollectionError] = []
        for service in services {
            for scope in target.scopes[service.scope] ?? [] {
                guard let account = target.account(scope.account) else {
                    errors.append(
                        CollectionError(
                            kind: .scopeUnavailable, service: service.id, account: scope.account, region: scope.region,
                            operation: "-", code: "UnknownAccount",
                            message: "scope \(scope) names an account the target does not have"))
                    continue
                }
                units.append(Unit(service: service, scope: scope, account: account))
            }
        }
        progress?.unitsPlanned(units.count)
        // A node several services contribute to (the account) counts once in the progress line.
        let seen = Mutex<Set<String>>([])
        let outputs = await boundedMap(units, width: unitConcurrency) { unit in
            let out = await self.run(unit, target: target)
            let new = seen.withLock { ids in out.resources.keys.reduce(0) { $0 + (ids.insert($1).inserted ? 1 : 0) } }
            self.logger.debug(
                "collected",
                metadata: [
                    "service": "\(unit.service.id)", "scope": "\(unit.scope)",
                    "resources": "\(out.resources.count)", "errors": "\(out.errors.count)",
                ])
            self.progress?.unitFinished(service: unit.service.id, scope: unit.scope, resources: new)
            return out
        }
        var graph = InventoryGraph()
        for out in outputs {
            for r in out.resources.values { graph.add(r) }
            for e in out.edges { graph.add(e) }
            errors += out.errors
        }
        return CollectionResult(graph: graph, errors: errors.sorted())
    }

    /// How many levels below its first parents a `descend` spec goes (AWS allows five levels of OUs).
    static let maxDescent = 32

    /// Makes a provider's discovery call (who am I, which regions) through the same path as every
    /// other call: the operation's default parameters merged under the call's, templates rendered
    /// against `context`.
    public func discover(
        _ call: DiscoveryCall, in spec: ProviderSpec, scope: CollectionScope,
        context: [String: JSONValue]
    ) async throws -> JSONValue {
        guard let service = spec.service(call.service), let op = service.operations[call.operation] else {
            throw UnknownDiscoveryCallError(service: call.service, operation: call.operation)
        }
        let ctx = JSONValue.object(context)
        let answer = try await caller.call(
            service: service, operation: op, scope: scope,
            parameters: try render(merged(op.parameters, call.parameters), context: ctx), context: ctx)
        if let items = call.items { return .array(items.values(in: answer)) }
        return answer
    }

    // MARK: - One service in one scope

    func run(_ unit: Unit, target: CollectionTarget) async -> UnitOutput {
        var out = UnitOutput()
        var contexts: [String: [JSONValue]] = [:]
        for spec in unit.service.resources {
            let scopes = spec.fanOut.map { target.scopes($0, inside: unit.scope) } ?? [unit.scope]
            var collected: [JSONValue] = []
            for scope in scopes {
                var parents = spec.parent.map { contexts[$0] ?? [] }
                var level = 0
                var seen: Set<String> = []
                while true {
                    let found = await run(spec, unit: unit.moved(to: scope), parents: parents, into: &out)
                    collected += found
                    // A tree (organizational units): the same list under each new item, to the bottom.
                    // Ids already seen end a cycle an answer might draw; the depth bounds a hostile one.
                    let fresh = found.filter { $0["id"].stringValue.map { seen.insert($0).inserted } ?? false }
                    guard spec.descend, !fresh.isEmpty, level < Self.maxDescent else { break }
                    parents = fresh
                    level += 1
                }
            }
            contexts[spec.type, default: []] += collected
        }
        return out
    }

    /// Lists and builds one resource spec in one scope; returns the built resources' contexts,
    /// for specs that name this type as `parent`.
    func run(_ spec: ResourceSpec, unit: Unit, parents: [JSONValue]?, into out: inout UnitOutput) async -> [JSONValue] {
        let base = Self.baseContext(scope: unit.scope, account: unit.account)
        let parents = parents ?? [.null]
        var items: [(item: JSONValue, parent: JSONValue)] = []
        if spec.singleton {
            items = parents.map { (.null, $0) }
        } else if let list = spec.list {
            for parent in parents {
                var ctx = base
                ctx["parent"] = parent
                do {
                    let found = try await listItems(list, unit: unit, context: .object(ctx))
                    items += found.map { ($0, parent) }
                } catch {
                    // A failed list of children leaves that parent's children unknown, not the parent.
                    out.errors.append(
                        collectionError(
                            error, unit: unit, operation: list.operation, type: spec.type,
                            resourceId: nil, parentId: parent["id"].stringValue))
                }
            }
        }
        let built = await boundedMap(items, width: itemConcurrency) { entry in
            await self.build(spec, item: entry.item, parent: entry.parent, unit: unit, base: base)
        }
        var collected: [JSONValue] = []
        for b in built {
            out.errors += b.errors
            guard var resource = b.resource else { continue }
            if spec.mergeOnly {
                guard var existing = out.resources[resource.id] else { continue }
                resource.type = existing.type
                existing.merge(resource)
                out.resources[resource.id] = existing
            } else if var existing = out.resources[resource.id] {
                existing.merge(resource)
                out.resources[resource.id] = existing
            } else {
                out.resources[resource.id] = resource
            }
            out.edges += b.edges
            collected.append(b.context)
        }
        return collected
    }

    struct Built: Sendable {
        var resource: Resource?
        var edges: [Edge] = []
        var errors: [CollectionError] = []
        var context: JSONValue = .null
    }

    func build(_ spec: ResourceSpec, item: JSONValue, parent: JSONValue, unit: Unit, base: [String: JSONValue]) async -> Built {
        var result = Built()
        var ctx = base
        ctx["item"] = item
        ctx["parent"] = parent
        if let filter = spec.filter, !filter.holds(in: .object(ctx)) { return result }
        // Ids of a provider that compares them case-insensitively are stored lower-cased, edge ends too.
        let fold: (String) -> String = unit.service.caseInsensitiveIds ? { $0.lowercased() } : { $0 }
        let earlyId = spec.id.render(.object(ctx)).map(fold)
        // Enrichments that read no other's answer run at once; one that reads another's (its
        // region, parameters, condition) waits for it. Answers are stored in spec order.
        for wave in spec.enrichmentWaves {
            let context = JSONValue.object(ctx)
            let outcomes = await withTaskGroup(of: (Int, EnrichmentOutcome).self) { group in
                for index in wave {
                    group.addTask { (index, await self.enrich(spec.enrich[index], context: context, unit: unit)) }
                }
                var out: [Int: EnrichmentOutcome] = [:]
                for await (index, outcome) in group { out[index] = outcome }
                return out
            }
            for index in wave {
                let enrichment = spec.enrich[index]
                switch outcomes[index] {
                case .value(let value)?: ctx[enrichment.name] = value
                case .failed(let error, let region)?:
                    result.errors.append(
                        collectionError(
                            error, unit: unit, operation: enrichment.call.operation, type: spec.type,
                            resourceId: earlyId, region: unit.scope.isGlobal && region == unit.callRegion ? nil : region))
                case .skipped?, nil: break
                }
            }
        }
        var context = JSONValue.object(ctx)
        guard let id = spec.id.render(context).map(fold), !id.isEmpty else {
            result.errors.append(
                CollectionError(
                    service: unit.service.id, account: unit.scope.account, region: unit.scope.region,
                    operation: spec.list?.operation ?? "-",
                    code: "MissingIdentifier",
                    message: "an item of \(spec.type) has no value for its id template \(spec.id) (\(unit.service.file):\(spec.line))",
                    resourceType: spec.type))
            return result
        }
        let region = spec.region?.render(context) ?? unit.scope.region
        // Attributes and edges see the resource's own region (an S3 bucket's, not the home region).
        if region != CollectionScope.global { ctx["region"] = .string(region) }
        context = .object(ctx)
        var attributes: [String: JSONValue] = [:]
        for (name, attr) in spec.attributes { attributes[name] = evaluate(attr, context: context) }
        var tags: [String: String] = [:]
        if let tagSpec = spec.tags, case .object(let o) = Transforms.keyValueMap(evaluate(tagSpec, context: context)) {
            for (k, v) in o { tags[k] = v.stringValue ?? v.serialized() }
        }
        let account = spec.account?.render(context).flatMap { $0.isEmpty ? nil : $0 } ?? unit.scope.account
        let resource = Resource(
            id: id, type: spec.type, account: account, region: region,
            name: spec.name?.render(context) ?? id, tags: tags, attributes: attributes)
        for edge in spec.edges {
            let sources: [JSONValue] = edge.each.map { $0.values(in: context) } ?? [.null]
            for element in sources {
                var c = ctx
                c["each"] = element
                let target = evaluate(edge.to, context: .object(c))
                for t in target.asList {
                    if let to = t.stringValue.map(fold), !to.isEmpty, to != id {
                        result.edges.append(Edge(from: id, to: to, kind: edge.kind))
                    }
                }
            }
        }
        ctx["id"] = .string(id)
        ctx["name"] = .string(resource.name)
        ctx["attributes"] = .object(attributes)
        result.context = .object(ctx)
        result.resource = resource
        return result
    }

    enum EnrichmentOutcome: Sendable {
        case skipped
        case value(JSONValue)
        case failed(any Error, region: String)
    }

    /// One enrichment of one item: its condition, its call (once per element with `each`) and its selection.
    func enrich(_ enrichment: EnrichmentSpec, context: JSONValue, unit: Unit) async -> EnrichmentOutcome {
        if let when = enrichment.when, !when.holds(in: context) { return .skipped }
        let region = enrichment.region?.render(context) ?? unit.callRegion
        do {
            var value: JSONValue
            if let each = enrichment.each {
                var list: [JSONValue] = []
                for element in each.values(in: context) {
                    var c = context.objectValue ?? [:]
                    c["each"] = element
                    if let v = try await enrichmentCall(enrichment, unit: unit, region: region, context: .object(c)) { list.append(v) }
                }
                value = .array(list)
            } else {
                value = try await enrichmentCall(enrichment, unit: unit, region: region, context: context) ?? .null
            }
            if let select = enrichment.select, !value.isNull {
                var c = context.objectValue ?? [:]
                c["value"] = value
                value = evaluate(select, context: .object(c))
            }
            return .value(value)
        } catch {
            return .failed(error, region: region)
        }
    }

    func enrichmentCall(_ e: EnrichmentSpec, unit: Unit, region: String, context: JSONValue) async throws -> JSONValue? {
        do {
            let op = unit.service.operations[e.call.operation]!
            let scope = callScope(unit, region: region)
            if op.items != nil || e.call.items != nil {
                return .array(try await listItems(e.call, unit: unit, context: context, scope: scope))
            }
            try await runBefore(e.call, unit: unit, scope: scope, context: context)
            return try await caller.call(
                service: unit.service, operation: op, scope: scope,
                parameters: try render(merged(op.parameters, e.call.parameters), context: context),
                context: context)
        } catch {
            if !e.absentOn.isEmpty, e.absentOn.contains(caller.describe(error).code) { return nil }
            throw error
        }
    }

    // MARK: - Lists and paging

    /// The scope a call in `region` is made in: the unit's own when the region is its call region.
    func callScope(_ unit: Unit, region: String) -> CollectionScope {
        region == unit.callRegion ? unit.scope : CollectionScope(account: unit.scope.account, region: region)
    }

    func listItems(_ call: CallSpec, unit: Unit, context: JSONValue, scope: CollectionScope? = nil) async throws -> [JSONValue] {
        let scope = scope ?? unit.scope
        let op = unit.service.operations[call.operation]!
        try await runBefore(call, unit: unit, scope: scope, context: context)
        var parameters = try render(merged(op.parameters, call.parameters), context: context)
        let itemsPath = call.items ?? op.items
        var items: [JSONValue] = []
        var seenTokens: Set<String> = []
        var complete = false
        for _ in 0..<maxPages {
            let page = try await caller.call(service: unit.service, operation: op, scope: scope, parameters: parameters, context: context)
            if let itemsPath {
                var found = itemsPath.values(in: page)
                if call.decode == "base64-csv" {
                    found = found.flatMap { v -> [JSONValue] in
                        guard let s = v.stringValue, let d = Data(base64Encoded: s.filter { !$0.isWhitespace }) else { return [] }
                        return CSV.rows(String(decoding: d, as: UTF8.self))
                    }
                }
                items += found
            } else {
                items.append(page)
            }
            guard let paginate = op.paginate else {
                complete = true
                break
            }
            if let more = paginate.more, more.value(in: page).boolValue != true {
                complete = true
                break
            }
            guard let token = paginate.output.value(in: page).stringValue, !token.isEmpty else {
                complete = true
                break
            }
            guard seenTokens.insert(token).inserted else {
                throw PagingLoopError(operation: op.name)
            }
            parameters[paginate.input] = .string(token)
        }
        guard complete else { throw PagingLimitError(operation: op.name, pages: maxPages) }
        return items
    }

    func runBefore(_ call: CallSpec, unit: Unit, scope: CollectionScope, context: JSONValue) async throws {
        for poll in call.before {
            let op = unit.service.operations[poll.operation]!
            var reached = false
            for attempt in 0..<max(1, poll.attempts) {
                let answer = try await caller.call(
                    service: unit.service, operation: op, scope: scope,
                    parameters: try render(op.parameters, context: context), context: context)
                if poll.path.value(in: answer).stringValue == poll.until {
                    reached = true
                    break
                }
                if attempt + 1 < poll.attempts { try await Task.sleep(for: .milliseconds(Int(poll.intervalSeconds * 1000))) }
            }
            if !reached { throw PollTimeoutError(operation: op.name, until: poll.until) }
        }
    }

    // MARK: - Values

    func merged(_ a: [String: ParameterValue], _ b: [String: ParameterValue]) -> [String: ParameterValue] {
        a.merging(b) { _, new in new }
    }

    func render(_ parameters: [String: ParameterValue], context: JSONValue) throws -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        for (key, value) in parameters {
            switch value {
            case .json(let j): out[key] = j
            case .template(let t):
                guard let s = t.render(context) else { throw UnrenderableParameterError(parameter: key, template: t.description) }
                out[key] = .string(s)
            }
        }
        return out
    }

    func evaluate(_ spec: AttributeSpec, context: JSONValue) -> JSONValue { spec.value(in: context) }

    func collectionError(
        _ error: any Error, unit: Unit, operation: String, type: String, resourceId: String?,
        parentId: String? = nil, region: String? = nil
    ) -> CollectionError {
        // A call cut short because the scan was stopped says so, whatever the provider calls it.
        let (code, message) =
            error is CancellationError || Task.isCancelled ? ("Cancelled", "the scan was stopped") : caller.describe(error)
        return CollectionError(
            service: unit.service.id, account: unit.scope.account, region: region ?? unit.scope.region,
            operation: operation, code: code, message: message, resourceType: type, resourceId: resourceId,
            parentId: parentId)
    }
}

public struct PagingLoopError: Error, CustomStringConvertible {
    public var operation: String
    public var description: String { "\(operation) returned a page token it had already returned; stopped paging" }
}

public struct PagingLimitError: Error, CustomStringConvertible {
    public var operation: String
    public var pages: Int
    public var description: String { "\(operation) still had more pages after \(pages); the list is incomplete" }
}

public struct PollTimeoutError: Error, CustomStringConvertible {
    public var operation: String
    public var until: String
    public var description: String { "\(operation) did not reach \(until) in time" }
}

public struct UnknownDiscoveryCallError: Error, CustomStringConvertible {
    public var service: String
    public var operation: String
    public var description: String { "discovery names \(service).\(operation), which no service spec declares" }
}

public struct UnrenderableParameterError: Error, CustomStringConvertible {
    public var parameter: String
    public var template: String
    public init(parameter: String, template: String) {
        self.parameter = parameter
        self.template = template
    }
    public var description: String { "parameter \(parameter) could not be filled from \(template)" }
}

/// Maps `items` through `body` with at most `width` running at once; results keep input order.
public func boundedMap<T: Sendable, R: Sendable>(_ items: [T], width: Int, _ body: @escaping @Sendable (T) async -> R) async -> [R] {
    guard !items.isEmpty else { return [] }
    return await withTaskGroup(of: (Int, R).self) { group in
        var results = [R?](repeating: nil, count: items.count)
        var next = 0
        for _ in 0..<min(max(1, width), items.count) {
            let i = next
            group.addTask { (i, await body(items[i])) }
            next += 1
        }
        while let (i, r) = await group.next() {
            results[i] = r
            if next < items.count {
                let j = next
                group.addTask { (j, await body(items[j])) }
                next += 1
            }
        }
        return results.map { $0! }
    }
}
