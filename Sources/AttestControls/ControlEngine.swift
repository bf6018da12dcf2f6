public import AttestCEL
public import AttestCollect
public import AttestInventory
public import Foundation

/// One control's verdict on one resource.
public struct ControlResult: Sendable {
    public var controlID: String
    /// Empty when the result stands for a whole region whose collection failed (no resource to name).
    public var resourceID: String
    public var resourceType: String
    public var account: String
    public var region: String
    public var status: ResultStatus
    public var severity: Severity
    /// Why the result is an error (the rule's error, or the collection failure); nil otherwise.
    public var reason: String?
    /// The values at the control's `observed` paths, in the same order.
    public var observed: [JSONValue]
}

/// Evaluates controls over an inventory graph concurrently, one result per (control, resource),
/// in a deterministic order: by control id, then resource type, then resource id.
public struct ControlEngine: Sendable {
    public var controls: [Control]
    /// Control id → parameter → value, from config; applied over each control's defaults.
    public var parameterOverrides: [String: [String: JSONValue]]
    /// Concurrent evaluation tasks; defaults to the number of cores.
    public var concurrency: Int
    /// Resources per task.
    public var chunkSize: Int

    public init(controls: [Control], parameterOverrides: [String: [String: JSONValue]] = [:],
                concurrency: Int = ProcessInfo.processInfo.activeProcessorCount, chunkSize: Int = 2_048) {
        self.controls = controls
        self.parameterOverrides = parameterOverrides
        self.concurrency = max(1, concurrency)
        self.chunkSize = max(1, chunkSize)
    }

    /// Where collection failed, in the shape the engine needs: which (type, region) and which
    /// resources could not be read, and why.
    public struct CollectionGaps: Sendable {
        /// Resource type → region (`*` for every region) → reason.
        public var byTypeAndRegion: [String: [String: String]] = [:]
        /// Resource id → reason.
        public var byResource: [String: String] = [:]

        public init() {}

        /// Reads a scan's errors: an error naming a resource affects that resource; any other
        /// error affects every type its service produces, in its region (every region for a
        /// global service).
        public init(errors: [CollectionError], spec: ProviderSpec) {
            for error in errors {
                let reason = "collection failed: \(error.service) \(error.operation) in \(error.region): \(error.code)"
                if let id = error.resourceId {
                    byResource[id] = byResource[id] ?? reason
                    continue
                }
                let service = spec.service(error.service)
                let types = error.resourceType.map { [$0] } ?? service?.resources.map(\.type) ?? []
                let region = service?.scope == .global ? "*" : error.region
                for type in types where byTypeAndRegion[type]?[region] == nil {
                    byTypeAndRegion[type, default: [:]][region] = reason
                }
            }
        }

        func reason(type: String, region: String) -> String? {
            guard let regions = byTypeAndRegion[type] else { return nil }
            return regions[region] ?? regions["*"]
        }
    }

    /// The parameters a control runs with: its defaults, overridden from config.
    public func parameters(of control: Control) -> [String: JSONValue] {
        control.parameters.merging(parameterOverrides[control.id] ?? [:]) { _, new in new }
    }

    /// Evaluates every control over `graph`. `account` names the scanned account for results that
    /// stand for a region whose collection failed.
    public func evaluate(graph: InventoryGraph, now: Date, account: String, gaps: CollectionGaps = .init()) async -> [ControlResult] {
        let context = RuleContext(graph: graph, now: CELTimestamp(date: now))
        var controlsByType: [String: [Int]] = [:]
        for (index, control) in controls.enumerated() {
            for type in control.resourceTypes { controlsByType[type, default: []].append(index) }
        }
        let params = controls.map { CELValue(json: .object(parameters(of: $0))) }

        // Work units: chunks of one type's resources (in id order), each evaluated by all of that type's controls.
        struct Chunk: Sendable { var type: String; var resources: ArraySlice<Resource> }
        var chunks: [Chunk] = []
        var chunkIndexesByType: [String: [Int]] = [:]
        for type in controlsByType.keys.sorted() {
            let resources = graph.resources(ofType: type)
            var start = 0
            while start < resources.count {
                let end = min(start + chunkSize, resources.count)
                chunkIndexesByType[type, default: []].append(chunks.count)
                chunks.append(Chunk(type: type, resources: resources[start..<end]))
                start = end
            }
        }

        // Each chunk yields, per control of its type, that control's results for the chunk.
        var chunkResults = [[Int: [ControlResult]]](repeating: [:], count: chunks.count)
        await withTaskGroup(of: (Int, [Int: [ControlResult]]).self) { group in
            var next = 0
            func launch() {
                let index = next
                let chunk = chunks[index]
                let controlIndexes = controlsByType[chunk.type] ?? []
                next += 1
                group.addTask {
                    (index, evaluate(chunk: chunk.resources, controls: controlIndexes, params: params, context: context, gaps: gaps))
                }
            }
            while next < chunks.count && next < concurrency { launch() }
            for await (index, results) in group {
                chunkResults[index] = results
                if next < chunks.count { launch() }
            }
        }

        var results: [ControlResult] = []
        results.reserveCapacity(chunkResults.reduce(0) { $0 + $1.values.reduce(0) { $0 + $1.count } })
        let regionsWithGaps = Set(gaps.byTypeAndRegion.values.flatMap(\.keys))
        for (controlIndex, control) in controls.enumerated().sorted(by: { $0.element.id < $1.element.id }) {
            for type in control.resourceTypes.sorted() {
                var regionsSeen: Set<String> = []
                for chunkIndex in chunkIndexesByType[type] ?? [] {
                    let part = chunkResults[chunkIndex][controlIndex] ?? []
                    if !regionsWithGaps.isEmpty { for r in part { regionsSeen.insert(r.region) } }
                    results.append(contentsOf: part)
                }
                // A region whose listing failed has no resources to attach the error to: one result stands for it.
                for (region, reason) in (gaps.byTypeAndRegion[type] ?? [:]).sorted(by: { $0.key < $1.key })
                    where region == "*" ? regionsSeen.isEmpty : !regionsSeen.contains(region) {
                    results.append(ControlResult(controlID: control.id, resourceID: "", resourceType: type, account: account,
                                                 region: region == "*" ? "global" : region, status: .error,
                                                 severity: control.severity, reason: reason,
                                                 observed: control.observed.map { _ in .null }))
                }
            }
        }
        return results
    }

    func evaluate(chunk: ArraySlice<Resource>, controls controlIndexes: [Int], params: [CELValue],
                  context: RuleContext, gaps: CollectionGaps) -> [Int: [ControlResult]] {
        var out: [Int: [ControlResult]] = [:]
        for index in controlIndexes { out[index] = [] ; out[index]!.reserveCapacity(chunk.count) }
        var variables: [String: CELValue] = ["now": .timestamp(context.now)]
        for resource in chunk {
            variables["resource"] = CELValue(resource: resource)
            let host = RuleHost(context: context, account: resource.account)
            let gap = gaps.byResource[resource.id] ?? gaps.reason(type: resource.type, region: resource.region)
            var document: JSONValue?
            for index in controlIndexes {
                let control = controls[index]
                variables["params"] = params[index]
                var (status, reason) = Self.run(control, variables: variables, host: host)
                if let gap, status != .notApplicable {
                    status = .error
                    reason = gap
                }
                var observed: [JSONValue] = []
                if !control.observed.isEmpty {
                    if document == nil { document = Self.document(of: resource) }
                    observed = control.observed.map { $0.value(in: document!) }
                }
                out[index]!.append(ControlResult(controlID: control.id, resourceID: resource.id, resourceType: resource.type,
                                                 account: resource.account, region: resource.region, status: status,
                                                 severity: control.severity, reason: reason, observed: observed))
            }
        }
        return out
    }

    /// Runs a control's rules on one resource's variables.
    static func run(_ control: Control, variables: [String: CELValue], host: RuleHost) -> (ResultStatus, String?) {
        if let appliesIf = control.appliesIf {
            switch appliesIf.evaluate(variables, host: host) {
            case .success(.bool(true)): break
            case .success(.bool(false)): return (.notApplicable, nil)
            case .success(let other): return (.error, "applies_if gave \(other.kindName), not a bool")
            case .failure(let error): return (.error, "applies_if: \(error.message)")
            }
        }
        switch control.assertion.evaluate(variables, host: host) {
        case .success(.bool(true)): return (.pass, nil)
        case .success(.bool(false)): return (.fail, nil)
        case .success(let other): return (.error, "assert gave \(other.kindName), not a bool")
        case .failure(let error): return (.error, error.message)
        }
    }

    /// The resource as the JSON document `observed` paths are read from.
    static func document(of resource: Resource) -> JSONValue {
        .object(["id": .string(resource.id), "type": .string(resource.type), "account": .string(resource.account),
                 "region": .string(resource.region), "name": .string(resource.name),
                 "tags": .object(resource.tags.mapValues { .string($0) }), "attributes": .object(resource.attributes)])
    }
}

extension CELValue {
    var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "bool"
        case .int: "int"
        case .uint: "uint"
        case .double: "double"
        case .string: "string"
        case .bytes: "bytes"
        case .list: "list"
        case .map: "map"
        case .timestamp: "timestamp"
        case .duration: "duration"
        case .type: "type"
        case .optional: "optional"
        default: "value"
        }
    }
}
