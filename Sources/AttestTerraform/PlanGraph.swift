public import AttestCollect
public import AttestCore
public import AttestInventory
public import Foundation

/// A plan turned into the inventory graph controls run over: one node per planned resource
/// (its address is its id), split resources merged into their parents, references as edges,
/// values known only after apply marked unknown.
public struct PlanGraph: Sendable {
    public var graph: InventoryGraph
    /// Node id → attributes whose planned values are sensitive: never printed.
    public var sensitive: [String: Set<String>]
    /// Node id → the Terraform resource it comes from.
    public var sources: [String: Source]
    /// What could not be placed (a split resource whose parent is not in the plan), one line each.
    public var notes: [String]
    /// Planned resources by action set (`create`, `update`, `delete`, `no-op`, `replace`, `read`).
    public var actions: [String: Int]
    /// Resource types in the plan that the mapping does not know, with their counts.
    public var unmapped: [String: Int]

    public struct Source: Sendable {
        public var address: String
        public var terraformType: String
        public var actions: [String]
        /// The configuration module's call path (`["net", "sg"]`).
        public var modulePath: [String]
        public var name: String
    }

    /// Builds the graph of `plan` with `mappings` (one per provider); resources being deleted
    /// are left out, data sources are not resources.
    public static func build(_ plan: TerraformPlan, mappings: [PlanMapping]) -> PlanGraph {
        var builder = Builder(plan: plan, mappings: mappings)
        builder.run()
        return PlanGraph(
            graph: InventoryGraph(resources: Array(builder.nodes.values), edges: builder.edges), sensitive: builder.sensitive,
            sources: builder.sources, notes: builder.notes, actions: builder.actionCounts, unmapped: builder.unmapped)
    }
}

struct Builder {
    let plan: TerraformPlan
    let byType: [String: PlanMapping.TypeMapping]
    var nodes: [String: Resource] = [:]
    var edges: [Edge] = []
    var sensitive: [String: Set<String>] = [:]
    var sources: [String: PlanGraph.Source] = [:]
    var notes: [String] = []
    var actionCounts: [String: Int] = [:]
    var unmapped: [String: Int] = [:]
    /// Node name → node ids (in id order): what a literal name in an argument finds.
    var byName: [String: [String]] = [:]
    /// Managed resource addresses in the plan (deletes too: a reference may name one).
    let addresses: Set<String>
    /// The ARNs and ids of existing resources (known in their planned values) → their addresses,
    /// so a literal ARN in another resource's arguments finds its node.
    let addressByIdentifier: [String: String]

    init(plan: TerraformPlan, mappings: [PlanMapping]) {
        self.plan = plan
        var byType: [String: PlanMapping.TypeMapping] = [:]
        for m in mappings { byType.merge(m.resources) { old, _ in old } }
        self.byType = byType
        addresses = Set(plan.changes.filter { $0.mode == "managed" }.map(\.address))
        var identifiers: [String: String] = [:]
        for change in plan.changes where change.mode == "managed" && !change.isDeleteOnly {
            for key in ["arn", "id"] {
                if let value = change.after[key].stringValue, !value.isEmpty, identifiers[value] == nil {
                    identifiers[value] = change.address
                }
            }
        }
        addressByIdentifier = identifiers
    }

    mutating func run() {
        let managed = plan.changes.filter { $0.mode == "managed" }
        for change in managed {
            let key = Self.actionName(change.actions)
            actionCounts[key, default: 0] += 1
        }
        let live = managed.filter { !$0.isDeleteOnly }.map(resolvingReferences)
        // Nodes first, then what merges into them, then edges, then counts over the edges.
        for change in live {
            guard let m = byType[change.type] else {
                unmapped[change.type, default: 0] += 1
                continue
            }
            guard let nodeType = m.nodeType else { continue }
            makeNode(change, m, nodeType: nodeType)
        }
        for id in nodes.keys.sorted() { byName[nodes[id]!.name, default: []].append(id) }
        for change in live {
            guard let m = byType[change.type], let into = m.into else { continue }
            mergeIntoParent(change, m, into: into)
        }
        for change in live {
            guard let m = byType[change.type], m.nodeType != nil, nodes[change.address] != nil else { continue }
            for e in m.edges { addEdges(e, from: change.address, change: change) }
        }
        var arriving: [String: [String: Int]] = [:]
        for e in Set(edges) { arriving[e.to, default: [:]][e.kind, default: 0] += 1 }
        for (type, m) in byType where !m.counts.isEmpty {
            for id in nodes.keys where sources[id]?.terraformType == type {
                for (name, kind) in m.counts { nodes[id]!.attributes[name] = .int(Int64(arriving[id]?[kind] ?? 0)) }
            }
        }
    }

    /// The change with each reference argument that is known only after apply replaced by the
    /// address of the resource its expression references (``PlanMapping/TypeMapping/referenceArguments``).
    func resolvingReferences(_ change: TerraformPlan.ResourceChange) -> TerraformPlan.ResourceChange {
        guard let m = byType[change.type], !m.referenceArguments.isEmpty else { return change }
        var out = change
        for argument in m.referenceArguments {
            for steps in Self.unknownSteps(argument, in: change.afterUnknown) {
                guard let expression = expression(at: steps, change: change) else { continue }
                let targets = references(expression, change: change)
                guard !targets.isEmpty else { continue }
                let isList = steps.isEmpty ? false : { if case .array = Self.get(change.after, steps) { true } else { false } }()
                let value: JSONValue = isList || targets.count > 1 ? .array(targets.map(JSONValue.string)) : .string(targets[0])
                Self.set(&out.after, steps, value)
                Self.set(&out.afterUnknown, steps, .bool(false))
            }
        }
        return out
    }

    enum Step: Hashable {
        case key(String)
        case index(Int)
    }

    /// The concrete places (keys and element indexes) where `after_unknown` marks `path` unknown.
    static func unknownSteps(_ path: ValuePath, in unknown: JSONValue) -> [[Step]] {
        var states: [([Step], JSONValue)] = [([], unknown)]
        for segment in path.segments {
            var next: [([Step], JSONValue)] = []
            for (steps, value) in states where value != .bool(true) {
                let child = value[segment.key]
                let here = steps + [.key(segment.key)]
                if let index = segment.index {
                    let list = child.asList
                    if child == .bool(true) {
                        next.append((here, child))
                    } else if index < list.count {
                        next.append((here + [.index(index)], list[index]))
                    }
                } else if segment.fanOut, case .array(let items) = child {
                    for (i, item) in items.enumerated() { next.append((here + [.index(i)], item)) }
                } else {
                    next.append((here, child))
                }
            }
            states = next
        }
        return states.filter { $0.1 == .bool(true) }.map(\.0)
    }

    /// The configuration expression at a concrete place, when the configuration writes one there.
    func expression(at steps: [Step], change: TerraformPlan.ResourceChange) -> JSONValue? {
        guard let module = plan.module(change.modulePath) else { return nil }
        var current = module.resources[change.type + "." + change.name]?["expressions"] ?? .null
        for step in steps {
            if Self.isExpression(current) { return current }
            switch step {
            case .key(let k): current = current[k]
            case .index(let i):
                guard case .array(let a) = current, i < a.count else { return nil }
                current = a[i]
            }
        }
        return Self.isExpression(current) ? current : nil
    }

    static func get(_ value: JSONValue, _ steps: [Step]) -> JSONValue {
        var current = value
        for step in steps {
            switch step {
            case .key(let k): current = current[k]
            case .index(let i): current = i < current.asList.count ? current.asList[i] : .null
            }
        }
        return current
    }

    static func set(_ value: inout JSONValue, _ steps: [Step], _ new: JSONValue) {
        guard let first = steps.first else {
            value = new
            return
        }
        let rest = Array(steps.dropFirst())
        switch first {
        case .key(let k):
            var o = value.objectValue ?? [:]
            var child = o[k] ?? .null
            set(&child, rest, new)
            o[k] = child
            value = .object(o)
        case .index(let i):
            var a = value.arrayValue ?? []
            while a.count <= i { a.append(.null) }
            set(&a[i], rest, new)
            value = .array(a)
        }
    }

    static func actionName(_ actions: [String]) -> String {
        if actions.contains("create") && actions.contains("delete") { return "replace" }
        return actions.first ?? "no-op"
    }

    // MARK: Nodes

    mutating func makeNode(_ change: TerraformPlan.ResourceChange, _ m: PlanMapping.TypeMapping, nodeType: String) {
        let context = change.after
        var name = m.name.map { $0.value(in: context).stringValue ?? "" } ?? ""
        if name.isEmpty { name = change.name + Self.keyText(change.index) }
        var resource = Resource(
            id: change.address, type: nodeType, account: account(change), region: region(change), name: name,
            tags: Self.tags(change.after))
        var unknown: [String] = []
        for (attribute, mapping) in m.attributes {
            let (value, unknownPaths) = evaluate(mapping, attribute: attribute, change: change)
            resource.attributes[attribute] = value
            unknown += unknownPaths
            if isSensitive(mapping.spec, change.afterSensitive) { sensitive[change.address, default: []].insert(attribute) }
        }
        resource.unknownAttributes = unknown.isEmpty ? nil : unknown
        nodes[change.address] = resource
        sources[change.address] = PlanGraph.Source(
            address: change.address, terraformType: change.type, actions: change.actions, modulePath: change.modulePath,
            name: change.name)
        for child in m.children { makeChildren(child, of: change, parent: resource) }
    }

    mutating func makeChildren(_ child: PlanMapping.Child, of change: TerraformPlan.ResourceChange, parent: Resource) {
        let elements = child.each.values(in: change.after)
        let block = child.each.description.replacingOccurrences(of: "[]", with: "")
        let wholeUnknown = Self.isUnknown(child.each, change.afterUnknown)
        var items = elements.enumerated().map { (index: $0.offset, element: $0.element) }
        if items.isEmpty && child.always && wholeUnknown { items = [(0, .null)] }
        for (index, element) in items {
            let id = "\(change.address).\(block)[\(index)]"
            var resource = Resource(
                id: id, type: child.nodeType, account: parent.account, region: parent.region, name: "\(parent.name) \(block)[\(index)]")
            var unknown: [String] = []
            let elementUnknown = Self.element(index, of: child.each, in: change.afterUnknown)
            for (attribute, spec) in child.attributes {
                resource.attributes[attribute] = spec.value(in: element)
                if element.isNull || Self.paths(of: spec).contains(where: { Self.isUnknown($0, elementUnknown) }) {
                    unknown.append(attribute)
                    resource.attributes[attribute] = .null
                }
            }
            resource.unknownAttributes = unknown.isEmpty ? nil : unknown
            nodes[id] = resource
            sources[id] = PlanGraph.Source(
                address: change.address, terraformType: change.type, actions: change.actions, modulePath: change.modulePath,
                name: change.name)
            if let kind = child.edge { edges.append(Edge(from: id, to: change.address, kind: kind)) }
        }
    }

    /// The value of an attribute, and the paths under it (relative to `attributes`) that are unknown.
    func evaluate(_ mapping: PlanMapping.AttributeMapping, attribute: String, change: TerraformPlan.ResourceChange) -> (
        JSONValue, [String]
    ) {
        if mapping.createdOnly { return change.isCreate ? (mapping.created ?? .null, []) : (.null, [attribute]) }
        if let otherwise = mapping.otherwise {
            var primary = mapping
            primary.otherwise = nil
            let (value, unknown) = evaluate(primary, attribute: attribute, change: change)
            if value.isNull && unknown.isEmpty {
                return evaluate(
                    PlanMapping.AttributeMapping(spec: otherwise, reference: false, line: mapping.line), attribute: attribute,
                    change: change)
            }
            return (value, unknown)
        }
        let spec = mapping.spec
        guard case .path(let path, _, let fields, _) = spec else {
            let unknown = Self.paths(of: spec).contains { Self.isUnknown($0, change.afterUnknown) }
            return unknown ? (.null, [attribute]) : (spec.value(in: change.after), [])
        }
        if Self.isUnknown(path, change.afterUnknown, subtree: false) || (fields == nil && Self.isUnknown(path, change.afterUnknown)) {
            // The value itself will be computed. (Reference arguments were already replaced by
            // the addresses they reference: ``resolvingReferences(_:)``.)
            let configured = expressions(at: path, change: change)
            if configured.isEmpty, change.isCreate, let created = mapping.created { return (created, []) }
            return (.null, [attribute])
        }
        let value = spec.value(in: change.after)
        guard let fields, Self.isUnknown(path, change.afterUnknown) else { return (value, []) }
        // Inside a list a field set from an unknown value makes the list unknown as a whole; a
        // field the provider computes and the configuration leaves unset stays unset. A single
        // block keeps its known fields and marks the others.
        if path.isMulti {
            let configuredUnknown = fields.contains { _, f in
                Self.paths(of: f).contains { p in
                    let full = ValuePath(path.description + "." + p.description)
                    return Self.isUnknown(full, change.afterUnknown) && !expressions(at: full, change: change).isEmpty
                }
            }
            return configuredUnknown ? (.null, [attribute]) : (value, [])
        }
        var unknown: [String] = []
        let inner = path.value(in: change.afterUnknown)
        for (name, f) in fields where Self.paths(of: f).contains(where: { Self.isUnknown($0, inner) }) {
            unknown.append("\(attribute).\(name)")
        }
        return (value, unknown)
    }

    /// A field of an appended element (a security-group rule's): a computed value the
    /// configuration does not set stays unset; one set from another resource's id is that
    /// resource's address; anything else known only after apply is unknown.
    func fieldValue(_ spec: AttributeSpec, change: TerraformPlan.ResourceChange) -> (JSONValue, Bool) {
        guard case .path(let path, let transform, nil, _) = spec, Self.isUnknown(path, change.afterUnknown) else {
            return (spec.value(in: change.after), Self.paths(of: spec).contains { Self.isUnknown($0, change.afterUnknown) })
        }
        let configured = expressions(at: path, change: change)
        if configured.isEmpty { return (.null, false) }
        let targets = configured.flatMap { references($0, change: change) }
        guard !targets.isEmpty else { return (.null, true) }
        let value: JSONValue = targets.count == 1 ? .string(targets[0]) : .array(targets.map(JSONValue.string))
        return (transform?.apply(value, change.after) ?? value, false)
    }

    // MARK: Split resources

    mutating func mergeIntoParent(_ change: TerraformPlan.ResourceChange, _ m: PlanMapping.TypeMapping, into: PlanMapping.Into) {
        guard let parentID = parent(of: change, into: into) else {
            let value = into.by.value(in: change.after).stringValue.map { " \($0)" } ?? ""
            notes.append(
                "\(change.address): its \(into.terraformType)\(value) is not in the plan, so its settings are not judged")
            return
        }
        var parent = nodes[parentID]!
        var unknown = Set(parent.unknownAttributes ?? [])
        for (attribute, mapping) in m.attributes {
            let (value, unknownPaths) = evaluate(mapping, attribute: attribute, change: change)
            parent.attributes[attribute] = value
            unknown = unknown.filter { $0 != attribute && !$0.hasPrefix(attribute + ".") }
            unknown.formUnion(unknownPaths)
            if isSensitive(mapping.spec, change.afterSensitive) { sensitive[parentID, default: []].insert(attribute) }
        }
        for a in m.append where a.when?.holds(in: change.after) ?? true {
            var element: [String: JSONValue] = [:]
            var elementUnknown = false
            for (name, spec) in a.fields {
                let (value, unknown) = fieldValue(spec, change: change)
                element[name] = value
                if unknown { elementUnknown = true }
            }
            var list = parent.attributes[a.attribute]?.asList ?? []
            list.append(.object(element))
            parent.attributes[a.attribute] = .array(list)
            if elementUnknown { unknown.insert(a.attribute) }
        }
        parent.unknownAttributes = unknown.isEmpty ? nil : unknown.sorted()
        nodes[parentID] = parent
        for e in m.edges { addEdges(e, from: parentID, change: change) }
    }

    /// The parent node: the resource of the parent type the `by` argument references, else the
    /// one of that type whose name is the argument's value.
    func parent(of change: TerraformPlan.ResourceChange, into: PlanMapping.Into) -> String? {
        for expression in expressions(at: into.by, change: change) {
            for target in references(expression, change: change) where sources[target]?.terraformType == into.terraformType {
                if nodes[target] != nil { return target }
            }
        }
        guard let value = into.by.value(in: change.after).stringValue else { return nil }
        if let address = addressByIdentifier[value], sources[address]?.terraformType == into.terraformType { return address }
        if nodes[value] != nil, sources[value]?.terraformType == into.terraformType { return value }
        return byName[value]?.first { sources[$0]?.terraformType == into.terraformType }
    }

    // MARK: Edges

    mutating func addEdges(_ e: PlanMapping.EdgeMapping, from id: String, change: TerraformPlan.ResourceChange) {
        var targets: [String] = []
        for expression in expressions(at: e.to, change: change) { targets += references(expression, change: change) }
        if targets.isEmpty && !e.referencesOnly {
            let value = e.to.value(in: change.after)
            targets = (value.stringValue.map { [$0] } ?? value.asList.compactMap(\.stringValue)).filter { !$0.isEmpty }
            // A literal name of a resource in the plan (bucket = "logs") is that resource.
            targets = targets.map { literal in
                if let address = addressByIdentifier[literal], nodes[address] != nil { return address }
                return byName[literal]?.first { $0 != id } ?? literal
            }
        }
        for target in Set(targets) where target != id { edges.append(Edge(from: id, to: target, kind: e.kind)) }
    }

    // MARK: Configuration and references

    /// The configuration expressions at `path` of the resource's `expressions` (nested blocks are lists).
    func expressions(at path: ValuePath, change: TerraformPlan.ResourceChange) -> [JSONValue] {
        guard let module = plan.module(change.modulePath) else { return [] }
        let configAddress = change.type + "." + change.name
        let root = module.resources[configAddress]?["expressions"] ?? .null
        var current: [JSONValue] = [root]
        var leaves: [JSONValue] = []
        for segment in path.segments {
            var next: [JSONValue] = []
            for value in current {
                // One expression for the whole argument (a list of rule objects written as a value):
                // everything under it is configured by it.
                if Self.isExpression(value) {
                    leaves.append(value)
                    continue
                }
                let child = value[segment.key]
                if case .array(let blocks) = child {
                    if let index = segment.index { if index < blocks.count { next.append(blocks[index]) } } else { next += blocks }
                } else if !child.isNull {
                    next.append(child)
                }
            }
            current = next
        }
        return leaves + current.filter(Self.isExpression)
    }

    static func isExpression(_ value: JSONValue) -> Bool { value["references"] != .null || value["constant_value"] != .null }

    /// The addresses of the managed resources an expression references, following module
    /// inputs (`var.x`) to their callers and outputs (`module.m.o`) into their modules.
    func references(_ expression: JSONValue, change: TerraformPlan.ResourceChange) -> [String] {
        var out: [String] = []
        var seen: Set<String> = []
        for r in expression["references"].asList.compactMap(\.stringValue) {
            for a in resolve(r, moduleAddress: change.moduleAddress, ownKey: Self.keyText(change.index), depth: 0)
            where seen.insert(a).inserted {
                out.append(a)
            }
        }
        return out
    }

    func resolve(_ reference: String, moduleAddress: String, ownKey: String, depth: Int) -> [String] {
        guard depth < 16 else { return [] }
        let parts = TerraformAddress.segments(reference)
        guard let first = parts.first else { return [] }
        let calls = TerraformAddress.moduleCalls(moduleAddress)
        switch first {
        case "var":
            guard parts.count >= 2, let last = calls.last else { return [] }
            let parentAddress = calls.dropLast().map { "module.\($0.name)\($0.key)" }.joined(separator: ".")
            guard let parent = plan.module(calls.dropLast().map(\.name)), let call = parent.calls[last.name] else { return [] }
            return call.expressions[parts[1]]["references"].asList.compactMap(\.stringValue).flatMap {
                resolve($0, moduleAddress: parentAddress, ownKey: ownKey, depth: depth + 1)
            }
        case "module":
            guard parts.count >= 3 else { return [] }
            let (name, key) = TerraformAddress.splitKey(parts[1])
            let childAddress = (moduleAddress.isEmpty ? "" : moduleAddress + ".") + "module.\(name)\(key)"
            guard let child = plan.module(calls.map(\.name) + [name]) else { return [] }
            let output = parts[2]
            let refs = child.outputs[output]?["expression"]["references"].asList.compactMap(\.stringValue) ?? []
            // Without an instance key the call may have several instances: any of them.
            let instances = key.isEmpty ? instanceAddresses(ofModule: childAddress) : [childAddress]
            return instances.flatMap { a in refs.flatMap { resolve($0, moduleAddress: a, ownKey: ownKey, depth: depth + 1) } }
        case "data", "local", "each", "count", "path", "self", "terraform":
            return []
        default:
            guard parts.count >= 2 else { return [] }
            let prefix = moduleAddress.isEmpty ? "" : moduleAddress + "."
            let base = prefix + first + "." + parts[1]
            if addresses.contains(base) { return [base] }
            let (name, key) = TerraformAddress.splitKey(parts[1])
            guard key.isEmpty else { return [] }
            let plain = prefix + first + "." + name
            let instances = addresses.filter { $0.hasPrefix(plain + "[") }.sorted()
            if instances.contains(plain + ownKey), !ownKey.isEmpty { return [plain + ownKey] }
            return instances
        }
    }

    /// The instance addresses of a module call that has instance keys (`module.m["a"]`, `module.m["b"]`).
    func instanceAddresses(ofModule address: String) -> [String] {
        let prefixes = Set(
            plan.changes.map(\.moduleAddress).filter { $0 == address || $0.hasPrefix(address + "[") || $0.hasPrefix(address + ".") }
                .map { a -> String in
                    let calls = TerraformAddress.moduleCalls(a)
                    let depth = TerraformAddress.moduleCalls(address).count
                    return calls.prefix(depth).map { "module.\($0.name)\($0.key)" }.joined(separator: ".")
                })
        return prefixes.isEmpty ? [address] : prefixes.sorted()
    }

    // MARK: Where

    func providerConfig(_ change: TerraformPlan.ResourceChange) -> JSONValue {
        guard let module = plan.module(change.modulePath) else { return .null }
        let key = module.resources[change.type + "." + change.name]?["provider_config_key"].stringValue
        if let key, let config = plan.providerConfigs[key] { return config }
        let provider = String(change.type.prefix { $0 != "_" })
        return plan.providerConfigs[provider] ?? .null
    }

    func region(_ change: TerraformPlan.ResourceChange) -> String {
        if let r = change.after["region"].stringValue, !r.isEmpty { return r }
        if let r = providerConfig(change)["expressions"]["region"]["constant_value"].stringValue, !r.isEmpty { return r }
        return "unknown"
    }

    func account(_ change: TerraformPlan.ResourceChange) -> String {
        let allowed = providerConfig(change)["expressions"]["allowed_account_ids"]["constant_value"].asList
        return allowed.first?.stringValue ?? "unknown"
    }

    static func tags(_ after: JSONValue) -> [String: String] {
        var out: [String: String] = [:]
        for (k, v) in (after["tags_all"].objectValue ?? after["tags"].objectValue ?? [:]) { out[k] = v.stringValue ?? "" }
        return out
    }

    /// `["web"]` or `[0]` for an instance key, empty for none.
    static func keyText(_ index: JSONValue) -> String {
        switch index {
        case .int(let i): return "[\(i)]"
        case .string(let s): return "[\(JSONValue.string(s).serialized())]"
        default: return ""
        }
    }

    // MARK: Unknown and sensitive values

    /// The paths a spec reads from its context.
    static func paths(of spec: AttributeSpec) -> [ValuePath] {
        switch spec {
        case .constant: return []
        case .template(let t): return t.placeholderPaths
        case .path(let p, _, let fields, _):
            guard let fields else { return [p] }
            return [p] + fields.flatMap { paths(of: $0.1) }.map { ValuePath(p.description + "." + $0.description) }
        }
    }

    /// True when `after_unknown` marks the value at `path`, a value on the way to it or (with
    /// `subtree`) any value under it.
    static func isUnknown(_ path: ValuePath, _ unknown: JSONValue, subtree: Bool = true) -> Bool {
        var current: [JSONValue] = [unknown]
        for segment in path.segments {
            var next: [JSONValue] = []
            for value in current {
                if value == .bool(true) { return true }
                var child = segment.key.isEmpty ? value : value[segment.key]
                if child == .bool(true) { return true }
                if let index = segment.index {
                    let list = child.asList
                    child = index < list.count ? list[index] : .null
                    next.append(child)
                } else if case .array(let items) = child {
                    next += items
                } else {
                    next.append(child)
                }
            }
            current = next
        }
        return current.contains { $0 == .bool(true) || (subtree && containsTrue($0)) }
    }

    static func containsTrue(_ value: JSONValue) -> Bool {
        switch value {
        case .bool(true): return true
        case .array(let a): return a.contains(where: containsTrue)
        case .object(let o): return o.values.contains(where: containsTrue)
        default: return false
        }
    }

    /// The `after_unknown` of element `index` of a block list.
    static func element(_ index: Int, of path: ValuePath, in unknown: JSONValue) -> JSONValue {
        let key = ValuePath(path.description.replacingOccurrences(of: "[]", with: ""))
        let value = key.value(in: unknown)
        if value == .bool(true) { return .bool(true) }
        let list = value.asList
        return index < list.count ? list[index] : .null
    }

    func isSensitive(_ spec: AttributeSpec, _ sensitive: JSONValue) -> Bool {
        Self.paths(of: spec).contains { Self.isUnknown($0, sensitive) }
    }
}
