import AttestCore
import AttestInventory
import Foundation
import Logging
import Synchronization

/// Who and where a collection runs against.
public struct CollectionTarget: Sendable {
    public var account: String
    public var partition: String
    /// Where global services are called.
    public var homeRegion: String
    public var regions: [String]

    public init(account: String, partition: String, homeRegion: String, regions: [String]) {
        self.account = account
        self.partition = partition
        self.homeRegion = homeRegion
        self.regions = regions
    }
}

public struct CollectionResult: Sendable {
    public var graph: InventoryGraph
    public var errors: [CollectionError]
}

/// Receives progress as units (a service in a region) complete.
public protocol CollectionProgress: Sendable {
    func unitsPlanned(_ count: Int)
    func unitFinished(service: String, region: String, resources: Int)
}

/// Executes service specs: for every service and region, list calls with paging, per-resource
/// enrichment calls, and the mapping of the answers into nodes and edges. Nothing in here knows
/// a particular cloud; that lives in the specs and the ``ServiceCaller``.
public struct CollectionEngine: Sendable {
    let caller: any ServiceCaller
    /// Service-region units run at once.
    public var unitConcurrency: Int
    /// Per-resource enrichments run at once within a unit.
    public var itemConcurrency: Int
    /// A guard against paging loops.
    public var maxPages: Int
    let progress: (any CollectionProgress)?
    let logger: Logger

    public init(caller: any ServiceCaller, unitConcurrency: Int = 12, itemConcurrency: Int = 8, maxPages: Int = 10_000,
                progress: (any CollectionProgress)? = nil, logger: Logger = Logger(label: "attest.collect")) {
        self.caller = caller
        self.unitConcurrency = unitConcurrency
        self.itemConcurrency = itemConcurrency
        self.maxPages = maxPages
        self.progress = progress
        self.logger = logger
    }

    struct Unit: Sendable {
        var service: ServiceSpec
        var region: String
        var isGlobal: Bool
    }

    struct UnitOutput: Sendable {
        var resources: [String: Resource] = [:]
        var edges: [Edge] = []
        var errors: [CollectionError] = []
    }

    public func collect(services: [ServiceSpec], target: CollectionTarget) async -> CollectionResult {
        var units: [Unit] = []
        for service in services {
            switch service.scope {
            case .global: units.append(Unit(service: service, region: target.homeRegion, isGlobal: true))
            case .regional: units += target.regions.map { Unit(service: service, region: $0, isGlobal: false) }
            }
        }
        progress?.unitsPlanned(units.count)
        // A node several services contribute to (the account) counts once in the progress line.
        let seen = Mutex<Set<String>>([])
        let outputs = await boundedMap(units, width: unitConcurrency) { unit in
            let out = await self.run(unit, target: target)
            let new = seen.withLock { ids in out.resources.keys.reduce(0) { $0 + (ids.insert($1).inserted ? 1 : 0) } }
            self.logger.debug("collected", metadata: ["service": "\(unit.service.id)", "region": "\(unit.region)",
                                                     "resources": "\(out.resources.count)", "errors": "\(out.errors.count)"])
            self.progress?.unitFinished(service: unit.service.id, region: unit.region, resources: new)
            return out
        }
        var graph = InventoryGraph()
        var errors: [CollectionError] = []
        for out in outputs {
            for r in out.resources.values { graph.add(r) }
            for e in out.edges { graph.add(e) }
            errors += out.errors
        }
        return CollectionResult(graph: graph, errors: errors.sorted())
    }

    // MARK: - One service in one region

    func run(_ unit: Unit, target: CollectionTarget) async -> UnitOutput {
        var out = UnitOutput()
        var contexts: [String: [JSONValue]] = [:]
        let base: [String: JSONValue] = [
            "account": .string(target.account), "partition": .string(target.partition),
            "region": .string(unit.region), "home_region": .string(target.homeRegion),
        ]
        for spec in unit.service.resources {
            let parents: [JSONValue] = spec.parent.map { contexts[$0] ?? [] } ?? [.null]
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
                        out.errors.append(collectionError(error, unit: unit, operation: list.operation, type: spec.type,
                                                          resourceId: parent["id"].stringValue))
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
            contexts[spec.type, default: []] += collected
        }
        return out
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
        let earlyId = spec.id.render(.object(ctx))
        for enrichment in spec.enrich {
            let context = JSONValue.object(ctx)
            if let when = enrichment.when, !when.holds(in: context) { continue }
            let region = enrichment.region?.render(context) ?? unit.region
            do {
                var value: JSONValue
                if let each = enrichment.each {
                    var list: [JSONValue] = []
                    for element in each.values(in: context) {
                        var c = ctx
                        c["each"] = element
                        if let v = try await enrichmentCall(enrichment, unit: unit, region: region, context: .object(c)) {
                            list.append(v)
                        }
                    }
                    value = .array(list)
                } else {
                    value = try await enrichmentCall(enrichment, unit: unit, region: region, context: context) ?? .null
                }
                if let select = enrichment.select, !value.isNull {
                    var c = ctx
                    c["value"] = value
                    value = evaluate(select, context: .object(c))
                }
                ctx[enrichment.name] = value
            } catch {
                result.errors.append(collectionError(error, unit: unit, operation: enrichment.call.operation, type: spec.type,
                                                     resourceId: earlyId, region: region))
            }
        }
        var context = JSONValue.object(ctx)
        guard let id = spec.id.render(context), !id.isEmpty else {
            result.errors.append(CollectionError(
                service: unit.service.id, region: unit.region, operation: spec.list?.operation ?? "-", code: "MissingIdentifier",
                message: "an item of \(spec.type) has no value for its id template \(spec.id) (\(unit.service.file):\(spec.line))",
                resourceType: spec.type))
            return result
        }
        let region = spec.region?.render(context) ?? (unit.isGlobal ? "global" : unit.region)
        // Attributes and edges see the resource's own region (an S3 bucket's, not the home region).
        if region != "global" { ctx["region"] = .string(region) }
        context = .object(ctx)
        var attributes: [String: JSONValue] = [:]
        for (name, attr) in spec.attributes { attributes[name] = evaluate(attr, context: context) }
        var tags: [String: String] = [:]
        if let tagSpec = spec.tags, case .object(let o) = Transforms.keyValueMap(evaluate(tagSpec, context: context)) {
            for (k, v) in o { tags[k] = v.stringValue ?? v.serialized() }
        }
        let resource = Resource(id: id, type: spec.type, account: base["account"]!.stringValue!, region: region,
                                name: spec.name?.render(context) ?? id, tags: tags, attributes: attributes)
        for edge in spec.edges {
            let sources: [JSONValue] = edge.each.map { $0.values(in: context) } ?? [.null]
            for element in sources {
                var c = ctx
                c["each"] = element
                let target = evaluate(edge.to, context: .object(c))
                for t in target.asList {
                    if let to = t.stringValue, !to.isEmpty, to != id { result.edges.append(Edge(from: id, to: to, kind: edge.kind)) }
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

    func enrichmentCall(_ e: EnrichmentSpec, unit: Unit, region: String, context: JSONValue) async throws -> JSONValue? {
        do {
            let op = unit.service.operations[e.call.operation]!
            if op.items != nil || e.call.items != nil {
                return .array(try await listItems(e.call, unit: unit, context: context, region: region))
            }
            try await runBefore(e.call, unit: unit, region: region, context: context)
            return try await caller.call(service: unit.service, operation: op, region: region,
                                         parameters: try render(merged(op.parameters, e.call.parameters), context: context),
                                         context: context)
        } catch {
            if !e.absentOn.isEmpty, e.absentOn.contains(caller.describe(error).code) { return nil }
            throw error
        }
    }

    // MARK: - Lists and paging

    func listItems(_ call: CallSpec, unit: Unit, context: JSONValue, region: String? = nil) async throws -> [JSONValue] {
        let region = region ?? unit.region
        let op = unit.service.operations[call.operation]!
        try await runBefore(call, unit: unit, region: region, context: context)
        var parameters = try render(merged(op.parameters, call.parameters), context: context)
        let itemsPath = call.items ?? op.items
        var items: [JSONValue] = []
        var seenTokens: Set<String> = []
        var complete = false
        for _ in 0..<maxPages {
            let page = try await caller.call(service: unit.service, operation: op, region: region, parameters: parameters, context: context)
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
            guard let paginate = op.paginate else { complete = true; break }
            if let more = paginate.more, more.value(in: page).boolValue != true { complete = true; break }
            guard let token = paginate.output.value(in: page).stringValue, !token.isEmpty else { complete = true; break }
            guard seenTokens.insert(token).inserted else {
                throw PagingLoopError(operation: op.name)
            }
            parameters[paginate.input] = .string(token)
        }
        guard complete else { throw PagingLimitError(operation: op.name, pages: maxPages) }
        return items
    }

    func runBefore(_ call: CallSpec, unit: Unit, region: String, context: JSONValue) async throws {
        for poll in call.before {
            let op = unit.service.operations[poll.operation]!
            var reached = false
            for attempt in 0..<max(1, poll.attempts) {
                let answer = try await caller.call(service: unit.service, operation: op, region: region,
                                                   parameters: try render(op.parameters, context: context), context: context)
                if poll.path.value(in: answer).stringValue == poll.until { reached = true; break }
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

    func evaluate(_ spec: AttributeSpec, context: JSONValue) -> JSONValue {
        switch spec {
        case .constant(let v): return v
        case .template(let t): return t.render(context).map(JSONValue.string) ?? .null
        case .path(let path, let transform, let fields, let defaultValue):
            var value: JSONValue
            if let fields {
                let shape: (JSONValue) -> JSONValue = { element in
                    var o: [String: JSONValue] = [:]
                    var c = context.objectValue ?? [:]
                    c["value"] = element
                    for (name, f) in fields {
                        // Field paths are relative to the element; templates see the whole context too.
                        let v: JSONValue
                        if case .path = f { v = self.evaluate(f, context: element) } else { v = self.evaluate(f, context: .object(c)) }
                        o[name] = v
                    }
                    return .object(o)
                }
                value = path.isMulti ? .array(path.values(in: context).map(shape)) : path.value(in: context).isNull ? .null : shape(path.value(in: context))
            } else {
                value = path.value(in: context)
            }
            if let transform { value = Transforms.apply(transform, to: value, context: context) }
            if value.isNull, let defaultValue { value = defaultValue }
            return value
        }
    }

    func collectionError(_ error: any Error, unit: Unit, operation: String, type: String, resourceId: String?,
                         region: String? = nil) -> CollectionError {
        let (code, message) = caller.describe(error)
        return CollectionError(service: unit.service.id, region: region ?? unit.region, operation: operation, code: code,
                               message: message, resourceType: type, resourceId: resourceId)
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

public struct UnrenderableParameterError: Error, CustomStringConvertible {
    public var parameter: String
    public var template: String
    public var description: String { "parameter \(parameter) could not be filled from \(template)" }
}

/// Maps `items` through `body` with at most `width` running at once; results keep input order.
func boundedMap<T: Sendable, R: Sendable>(_ items: [T], width: Int, _ body: @escaping @Sendable (T) async -> R) async -> [R] {
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
