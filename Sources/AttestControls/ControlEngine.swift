import AttestCEL
public import AttestCollect
public import AttestInventory
public import Foundation

/// One control's verdict on one resource.
public struct ControlResult: Sendable {
    public var controlID: String
    /// Empty when the result stands for resources that could not be read (no resource to name):
    /// a whole region's, or a ``parentID``'s children.
    public var resourceID: String
    public var resourceType: String
    public var account: String
    public var region: String
    public var status: ResultStatus
    public var severity: Severity
    /// Why the result is an error (the rule's error, or the collection failure); nil otherwise.
    public var reason: String?
    /// For an error standing for a parent's children that could not be listed (a user's access
    /// keys): that parent's id.
    public var parentID: String?
    /// For an `excepted` result: the index of its exception in the scan's ``ExceptionSet``.
    public var exception: Int?

    public init(
        controlID: String, resourceID: String, resourceType: String, account: String, region: String,
        status: ResultStatus, severity: Severity, reason: String? = nil, parentID: String? = nil
    ) {
        self.controlID = controlID
        self.resourceID = resourceID
        self.resourceType = resourceType
        self.account = account
        self.region = region
        self.status = status
        self.severity = severity
        self.reason = reason
        self.parentID = parentID
    }

    /// What the result is about, for people: the resource id, or what could not be read.
    public var subject: String {
        if !resourceID.isEmpty { return resourceID }
        if let parentID { return "\(resourceType) of \(parentID)" }
        return "\(resourceType) in \(region)"
    }

    /// The values at the control's `observed` paths, read from the resource the rule saw (the graph
    /// is immutable after collection, so this is what the rule read), keyed by path.
    public func observed(_ control: Control, in graph: InventoryGraph) -> [(path: String, value: JSONValue)] {
        guard let resource = graph[resourceID] else { return control.observed.map { ($0.description, .null) } }
        let document = ControlEngine.document(of: resource)
        return control.observed.map { ($0.description, $0.value(in: document)) }
    }
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

    public init(
        controls: [Control], parameterOverrides: [String: [String: JSONValue]] = [:],
        concurrency: Int = ProcessInfo.processInfo.activeProcessorCount, chunkSize: Int = 2_048
    ) {
        self.controls = controls
        self.parameterOverrides = parameterOverrides
        self.concurrency = max(1, concurrency)
        self.chunkSize = max(1, chunkSize)
    }

    /// Where collection failed, in the shape the engine needs: which (type, account, region),
    /// which resources and which parents' children could not be read, and why.
    public struct CollectionGaps: Sendable {
        /// The region key standing for every region of an account (a global service's gap).
        public static let everyRegion = "*"

        /// Resource type → account → region (``everyRegion`` for all) → reason.
        public var byTypeAndScope: [String: [String: [String: String]]] = [:]
        /// Resource id → reason.
        public var byResource: [String: String] = [:]
        /// Resource type → parent id → (reason, where the parent is): the parent's children of
        /// that type are unknown.
        public var byParent: [String: [String: ParentGap]] = [:]

        public struct ParentGap: Sendable {
            public var reason: String
            public var account: String
            public var region: String
        }

        public init() {}

        public var isEmpty: Bool { byTypeAndScope.isEmpty && byResource.isEmpty && byParent.isEmpty }

        /// Reads a scan's errors. An error naming a resource affects that resource; one naming a
        /// parent affects that parent's children of its type; a failed call otherwise affects
        /// every type its service produces in its account and region (every region for a service
        /// whose level is not regional); a scope that could not be scanned affects every type of
        /// the regional services there. Discovery errors affect nothing.
        ///
        /// An account that could not be entered affects every type of the services whose level is
        /// collected per account (`accountLevels`; nil: every level), in every region.
        ///
        /// - Parameter regionalLevels: the scope levels whose scopes are regions (AWS: `regional`).
        public init(
            errors: [CollectionError], services: [ServiceSpec], regionalLevels: Set<String>, accountLevels: Set<String>? = nil
        ) {
            for error in errors {
                let reason = "collection failed: \(error.service) \(error.operation) in \(error.account)/\(error.region): \(error.code)"
                switch error.kind {
                case .discovery:
                    continue
                case .accountUnavailable:
                    let reason = "not scanned: account \(error.account): \(error.code)"
                    for service in services where accountLevels?.contains(service.scope) ?? true {
                        for type in service.resources.map(\.type) {
                            add(type: type, account: error.account, region: Self.everyRegion, reason)
                        }
                    }
                case .scopeUnavailable:
                    let reason = "not scanned: \(error.account)/\(error.region): \(error.code)"
                    for service in services where regionalLevels.contains(service.scope) {
                        for type in service.resources.map(\.type) { add(type: type, account: error.account, region: error.region, reason) }
                    }
                case .call:
                    if let id = error.resourceId {
                        byResource[id] = byResource[id] ?? reason
                        continue
                    }
                    if let parent = error.parentId, let type = error.resourceType {
                        if byParent[type]?[parent] == nil {
                            byParent[type, default: [:]][parent] = ParentGap(reason: reason, account: error.account, region: error.region)
                        }
                        continue
                    }
                    let service = services.first { $0.id == error.service }
                    let types = error.resourceType.map { [$0] } ?? service?.resources.map(\.type) ?? []
                    let regional = service.map { regionalLevels.contains($0.scope) } ?? true
                    let region = regional ? error.region : Self.everyRegion
                    for type in types { add(type: type, account: error.account, region: region, reason) }
                }
            }
        }

        /// Adds another target's gaps (each target's errors are read against its own provider's specs).
        public mutating func merge(_ other: CollectionGaps) {
            for (type, accounts) in other.byTypeAndScope {
                for (account, regions) in accounts {
                    for (region, reason) in regions { add(type: type, account: account, region: region, reason) }
                }
            }
            byResource.merge(other.byResource) { old, _ in old }
            for (type, parents) in other.byParent { byParent[type, default: [:]].merge(parents) { old, _ in old } }
        }

        mutating func add(type: String, account: String, region: String, _ reason: String) {
            if byTypeAndScope[type]?[account]?[region] == nil { byTypeAndScope[type, default: [:]][account, default: [:]][region] = reason }
        }

        /// Why resources of `type` in `account` and `region` could not be read, if they could not.
        public func reason(type: String, account: String, region: String) -> String? {
            guard let regions = byTypeAndScope[type]?[account] else { return nil }
            return regions[region] ?? regions[Self.everyRegion]
        }
    }

    /// The types named in `resources('…')` calls of rules.
    public static func graphTypes(in sources: [String]) -> [String] {
        var out: [String] = []
        for source in sources {
            var rest = Substring(source)
            while let range = rest.range(of: "resources(") {
                let after = rest[range.upperBound...].drop { $0 == " " }
                if let quote = after.first, quote == "'" || quote == "\"" {
                    let name = after.dropFirst().prefix { $0 != quote }
                    if !name.isEmpty { out.append(String(name)) }
                }
                rest = rest[range.upperBound...]
            }
        }
        return out
    }

    /// For the types rules read through the graph: type → account → why some of that type
    /// could not be read there (a failed list in any region, a resource whose call failed, a
    /// parent whose children are unknown). A rule reading such a type judges nothing in that
    /// account: its results there are errors.
    static func readGaps(types: Set<String>, gaps: CollectionGaps, graph: InventoryGraph) -> [String: [String: String]] {
        var out: [String: [String: String]] = [:]
        guard !types.isEmpty, !gaps.isEmpty else { return out }
        func add(_ type: String, _ account: String, _ reason: String) {
            if out[type]?[account] == nil { out[type, default: [:]][account] = "\(type), which this control reads: \(reason)" }
        }
        for type in types.sorted() {
            for (account, regions) in (gaps.byTypeAndScope[type] ?? [:]) {
                if let reason = regions.sorted(by: { $0.key < $1.key }).first?.value { add(type, account, reason) }
            }
            for (_, gap) in (gaps.byParent[type] ?? [:]).sorted(by: { $0.key < $1.key }) { add(type, gap.account, gap.reason) }
        }
        for (id, reason) in gaps.byResource.sorted(by: { $0.key < $1.key }) {
            if let r = graph[id], types.contains(r.type) { add(r.type, r.account, reason) }
        }
        return out
    }

    /// The parameters a control runs with: its defaults, overridden from config.
    public func parameters(of control: Control) -> [String: JSONValue] {
        control.parameters.merging(parameterOverrides[control.id] ?? [:]) { _, new in new }
    }

    /// Evaluates every control over `graph`; `gaps` turn what could not be read into errors.
    public func evaluate(graph: InventoryGraph, now: Date, gaps: CollectionGaps = .init()) async -> ControlResults {
        let context = RuleContext(graph: graph, now: CELTimestamp(date: now))
        var controlsByType: [String: [Int]] = [:]
        for (index, control) in controls.enumerated() {
            for type in control.resourceTypes { controlsByType[type, default: []].append(index) }
        }
        let params = controls.map { CELValue(json: .object(parameters(of: $0))) }
        // Work units: chunks of one type's resources (in id order), each evaluated by all of that
        // type's controls, converting only the attributes those controls read.
        struct Chunk: Sendable {
            var type: String
            var resources: ArraySlice<Resource>
            var attributes: Set<String>?
        }
        var attributesByType: [String: Set<String>?] = [:]
        for (type, indexes) in controlsByType {
            attributesByType[type] = Self.attributesRead(
                by: indexes.flatMap { [controls[$0].assertion.source, controls[$0].appliesIf?.source ?? ""] })
        }
        var chunks: [Chunk] = []
        var chunkIndexesByType: [String: [Int]] = [:]
        for type in controlsByType.keys.sorted() {
            let resources = graph.resources(ofType: type)
            var start = 0
            while start < resources.count {
                let end = min(start + chunkSize, resources.count)
                chunkIndexesByType[type, default: []].append(chunks.count)
                chunks.append(Chunk(type: type, resources: resources[start..<end], attributes: attributesByType[type] ?? nil))
                start = end
            }
        }

        // What evaluation needs of each control, behind one reference (copying a Control per
        // evaluation would retain and release every one of its fields).
        let rules = controls.map { CompiledRule($0) }
        let readGaps = Self.readGaps(types: Set(rules.flatMap(\.readTypes)), gaps: gaps, graph: graph)

        // Each chunk yields, per control of its type (in controlsByType order), that control's results.
        var chunkResults = [[[ControlResult]]](repeating: [], count: chunks.count)
        await withTaskGroup(of: (Int, [[ControlResult]]).self) { group in
            var next = 0
            func launch() {
                let index = next
                let chunk = chunks[index]
                let chunkRules = (controlsByType[chunk.type] ?? []).map { rules[$0] }
                let chunkParams = (controlsByType[chunk.type] ?? []).map { params[$0] }
                next += 1
                group.addTask {
                    (
                        index,
                        Self.evaluate(
                            chunk: chunk.resources, rules: chunkRules, params: chunkParams, context: context, gaps: gaps,
                            readGaps: readGaps, attributes: chunk.attributes)
                    )
                }
            }
            while next < chunks.count && next < concurrency { launch() }
            for await (index, results) in group {
                chunkResults[index] = results
                if next < chunks.count { launch() }
            }
        }

        // The chunks' arrays are handed over in report order, not copied into one array: at a
        // million resources a copy would double the results' memory.
        var results = ControlResults()
        for (controlIndex, control) in controls.enumerated().sorted(by: { $0.element.id < $1.element.id }) {
            for type in control.resourceTypes.sorted() {
                let scopeGaps = gaps.byTypeAndScope[type] ?? [:]
                var scopesSeen: Set<CollectionScope> = []
                var accountsSeen: Set<String> = []
                let position = controlsByType[type]?.firstIndex(of: controlIndex) ?? 0
                for chunkIndex in chunkIndexesByType[type] ?? [] {
                    let part = chunkResults[chunkIndex][position]
                    chunkResults[chunkIndex][position] = []  // freed as it is copied, so peak memory holds one copy
                    if !scopeGaps.isEmpty {
                        for r in part {
                            scopesSeen.insert(CollectionScope(account: r.account, region: r.region))
                            accountsSeen.insert(r.account)
                        }
                    }
                    results.append(segment: part)
                }
                // A scope whose listing failed has no resources to attach the error to: one result stands for it.
                for (account, regions) in scopeGaps.sorted(by: { $0.key < $1.key }) {
                    for (region, reason) in regions.sorted(by: { $0.key < $1.key }) {
                        let every = region == CollectionGaps.everyRegion
                        guard
                            every
                                ? !accountsSeen.contains(account) : !scopesSeen.contains(CollectionScope(account: account, region: region))
                        else { continue }
                        results.append(segment: [
                            ControlResult(
                                controlID: control.id, resourceID: "", resourceType: type, account: account,
                                region: every ? CollectionScope.global : region, status: .error,
                                severity: control.severity, reason: reason)
                        ])
                    }
                }
                // A parent whose children could not be listed: one result stands for its children.
                for (parent, gap) in (gaps.byParent[type] ?? [:]).sorted(by: { $0.key < $1.key }) {
                    results.append(segment: [
                        ControlResult(
                            controlID: control.id, resourceID: "", resourceType: type, account: gap.account,
                            region: gap.region, status: .error, severity: control.severity,
                            reason: gap.reason, parentID: parent)
                    ])
                }
            }
        }
        return results
    }

    static func evaluate(
        chunk: ArraySlice<Resource>, rules: [CompiledRule], params: [CELValue],
        context: RuleContext, gaps: CollectionGaps, readGaps: [String: [String: String]] = [:], attributes: Set<String>?
    ) -> [[ControlResult]] {
        var out = [[ControlResult]](repeating: [], count: rules.count)
        for i in out.indices { out[i].reserveCapacity(chunk.count) }
        var variables: [String: CELValue] = ["now": .timestamp(context.now)]
        for position in chunk.indices {
            let id = chunk[position].id
            let type = chunk[position].type
            let account = chunk[position].account
            let region = chunk[position].region
            variables["resource"] = CELValue(resource: chunk[position], only: attributes)
            let host = RuleHost(context: context, account: account)
            let gap =
                gaps.byResource.isEmpty && gaps.byTypeAndScope.isEmpty
                ? nil
                : gaps.byResource[id] ?? gaps.reason(type: type, account: account, region: region)
            for (r, rule) in rules.enumerated() {
                variables["params"] = params[r]
                var (status, reason) = Self.run(rule, variables: variables, host: host)
                // Also over not_applicable: applies_if may have read the very data that is missing
                // (an empty list where a call failed), so "does not apply" is not known either.
                if let gap = gap ?? (readGaps.isEmpty ? nil : rule.readTypes.lazy.compactMap({ readGaps[$0]?[account] }).first) {
                    status = .error
                    reason = gap
                }
                out[r].append(
                    ControlResult(
                        controlID: rule.id, resourceID: id, resourceType: type, account: account,
                        region: region, status: status, severity: rule.severity, reason: reason))
            }
        }
        return out
    }

    /// Runs a control's rules on one resource's variables.
    static func run(_ control: Control, variables: [String: CELValue], host: RuleHost) -> (ResultStatus, String?) {
        run(CompiledRule(control), variables: variables, host: host)
    }

    /// The attribute names some rules read through `attributes.<name>` (or `attributes.?<name>`);
    /// nil when any rule uses `attributes` in another way, so every attribute must be converted.
    public static func attributesRead(by sources: [String]) -> Set<String>? {
        var names: Set<String> = []
        for source in sources {
            var rest = Substring(source)
            while let range = rest.range(of: "attributes") {
                var after = rest[range.upperBound...].drop { $0 == " " || $0 == "\n" || $0 == "\t" }
                guard after.first == "." else { return nil }
                after = after.dropFirst().drop { $0 == " " || $0 == "\n" || $0 == "\t" }
                if after.first == "?" { after = after.dropFirst().drop { $0 == " " || $0 == "\n" || $0 == "\t" } }
                let name = after.prefix { $0.isLetter || $0.isNumber || $0 == "_" }
                guard !name.isEmpty else { return nil }
                // A method on the attributes map itself (size, all, exists…) needs all of it.
                if after.dropFirst(name.count).drop(while: { $0 == " " }).first == "(" { return nil }
                names.insert(String(name))
                rest = after.dropFirst(name.count)
            }
        }
        return names
    }

    static func run(_ rule: CompiledRule, variables: [String: CELValue], host: RuleHost) -> (ResultStatus, String?) {
        if let appliesIf = rule.appliesIf {
            switch appliesIf.evaluate(variables, host: host) {
            case .success(.bool(true)): break
            case .success(.bool(false)): return (.notApplicable, nil)
            case .success(let other): return (.error, "applies_if gave \(other.kindName), not a bool")
            case .failure(let error) where error.isUnknown: return (.unknown, unknownReason(error))
            case .failure(let error): return (.error, "applies_if: \(describe(error, rule))")
            }
        }
        switch rule.assertion.evaluate(variables, host: host) {
        case .success(.bool(true)): return (.pass, nil)
        case .success(.bool(false)): return (.fail, nil)
        case .success(let other): return (.error, "assert gave \(other.kindName), not a bool")
        case .failure(let error) where error.isUnknown: return (.unknown, unknownReason(error))
        case .failure(let error): return (.error, describe(error, rule))
        }
    }

    /// Why a result is unknown: the values it needed that are known only after apply.
    static func unknownReason(_ error: CELError) -> String {
        "known only after apply: \(error.unknownPaths.joined(separator: ", "))"
    }

    /// A rule's error as a result's reason; a rule that ran out of its evaluation budget names
    /// the control, so a hostile or careless rule is found at once.
    static func describe(_ error: CELError, _ rule: CompiledRule) -> String {
        if error.isCostLimitExceeded { return "control \(rule.id): \(error.message); the rule was stopped and the scan went on" }
        // CEL's own words are for rule authors; the reader of a result needs to know what was missing.
        if error.message.hasPrefix("no such key: ") {
            let key = error.message.dropFirst("no such key: ".count)
            return "the data this control reads is missing: \(key) was not in what the provider returned"
        }
        return error.message
    }

    /// The resource as the JSON document `observed` paths are read from.
    static func document(of resource: Resource) -> JSONValue {
        .object([
            "id": .string(resource.id), "type": .string(resource.type), "account": .string(resource.account),
            "region": .string(resource.region), "name": .string(resource.name),
            "tags": .object(resource.tags.mapValues { .string($0) }), "attributes": .object(resource.attributes),
        ])
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

/// The parts of a control that evaluation reads, shared by reference across tasks.
final class CompiledRule: Sendable {
    let id: String
    let severity: Severity
    let appliesIf: CELProgram?
    let assertion: CELProgram
    /// The other types the rule reads through the graph (`resources('…')`, `reads:`).
    let readTypes: [String]

    init(_ control: Control) {
        id = control.id
        severity = control.severity
        appliesIf = control.appliesIf
        assertion = control.assertion
        readTypes = Array(Set(control.reads + ControlEngine.graphTypes(in: [control.assertion.source, control.appliesIf?.source ?? ""])))
            .sorted()
    }
}

/// The results of an evaluation, in report order, held as the segments the engine's tasks made.
public struct ControlResults: RandomAccessCollection, Sendable {
    private var segments: [[ControlResult]] = []
    /// The index of each segment's first result.
    private var starts: [Int] = []
    public private(set) var endIndex = 0
    public var startIndex: Int { 0 }

    public init() {}

    public init(_ results: [ControlResult]) { append(segment: results) }

    mutating func append(segment: [ControlResult]) {
        guard !segment.isEmpty else { return }
        starts.append(endIndex)
        segments.append(segment)
        endIndex += segment.count
    }

    public subscript(position: Int) -> ControlResult {
        precondition(position >= 0 && position < endIndex, "index out of range")
        var low = 0
        var high = starts.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if starts[mid] <= position { low = mid } else { high = mid - 1 }
        }
        return segments[low][position - starts[low]]
    }

    /// Walks the segments in order (no search per element).
    public func makeIterator() -> Iterator { Iterator(segments: segments) }

    public struct Iterator: IteratorProtocol {
        let segments: [[ControlResult]]
        var segment = 0
        var offset = 0

        public mutating func next() -> ControlResult? {
            while segment < segments.count {
                if offset < segments[segment].count {
                    defer { offset += 1 }
                    return segments[segment][offset]
                }
                segment += 1
                offset = 0
            }
            return nil
        }
    }
}
