public import AttestCore
public import Foundation
import Yams

/// A mistake in a spec file, with the file and line to fix.
public struct SpecError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var line: Int
    public var message: String
    /// The column, when the mistake is inside a value (a rule's parse error).
    public var column: Int?
    public var description: String {
        if let column { return "\(file):\(line):\(column): \(message)" }
        return "\(file):\(line): \(message)"
    }

    public init(file: String, line: Int, column: Int? = nil, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }
}

/// Reads `providers/<provider>/*.yaml` into ``ServiceSpec`` values, refusing unknown keys so a
/// typo is an error, not a silently ignored setting.
public enum SpecLoader {
    /// Loads every spec of a provider; `transforms` are the names its specs may use.
    public static func loadProvider(directory: URL, provider: String, transforms: TransformRegistry = .generic) throws -> ProviderSpec {
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }
            .sorted()
        var services: [ServiceSpec] = []
        var discovery: [String: DiscoveryCall] = [:]
        var caseInsensitiveIds = false
        for file in files {
            let url = directory.appendingPathComponent(file)
            let text = try String(contentsOf: url, encoding: .utf8)
            let display = "providers/\(provider)/\(file)"
            if file.hasPrefix("provider.") {
                (discovery, caseInsensitiveIds) = try loadDiscovery(text, file: display)
            } else {
                services.append(try loadService(text, file: display, provider: provider, transforms: transforms))
            }
        }
        for i in services.indices { services[i].caseInsensitiveIds = caseInsensitiveIds }
        var spec = ProviderSpec(provider: provider, services: services, discovery: discovery)
        spec.caseInsensitiveIds = caseInsensitiveIds
        try spec.validate()
        return spec
    }

    public static func loadService(
        _ text: String, file: String, provider: String,
        transforms: TransformRegistry = .generic
    ) throws -> ServiceSpec {
        let root = try parse(text, file: file)
        let r = try root.map(["service", "scope", "settings", "operations", "resources", "includes"])
        let settingsNode = try r.optionalMap("settings", allowed: nil)
        var settings: [String: String] = [:]
        var settingLines: [String: Int] = [:]
        if let settingsNode {
            for (k, v) in settingsNode.entries {
                settings[k] = try v.string()
                settingLines[k] = v.line
            }
        }
        let scope = try r.optionalString("scope") ?? ServiceSpec.defaultScope
        var operations: [String: OperationSpec] = [:]
        if let ops = try r.optionalMap("operations", allowed: nil) {
            for (name, node) in ops.entries {
                operations[name] = try operation(name, node)
            }
        }
        var resources: [ResourceSpec] = []
        if let list = r.node("resources") {
            for item in try list.sequence() { resources.append(try resource(item, operations: operations, transforms: transforms)) }
        }
        var spec = ServiceSpec(
            provider: provider, id: try r.string("service"), file: file, settings: settings,
            settingLines: settingLines, scope: scope, scopeLine: r.node("scope")?.line ?? 1,
            operations: operations, resources: resources)
        spec.includes = try r.node("includes")?.sequence().map { try $0.string() } ?? []
        spec.includesLine = r.node("includes")?.line ?? 1
        return spec
    }

    /// The discovery calls, and whether the provider's ids compare case-insensitively
    /// (`ids: case-insensitive`, Azure's resource ids).
    static func loadDiscovery(_ text: String, file: String) throws -> (calls: [String: DiscoveryCall], caseInsensitiveIds: Bool) {
        let root = try parse(text, file: file)
        let r = try root.map(["provider", "discovery", "ids"])
        var caseInsensitive = false
        if let ids = try r.optionalString("ids") {
            guard ["case-insensitive", "case-sensitive"].contains(ids) else {
                throw SpecError(
                    file: file, line: r.node("ids")?.line ?? 1, message: "ids: expected case-insensitive or case-sensitive, not \(ids)")
            }
            caseInsensitive = ids == "case-insensitive"
        }
        var out: [String: DiscoveryCall] = [:]
        if let d = try r.optionalMap("discovery", allowed: nil) {
            for (name, node) in d.entries {
                let m = try node.map(["service", "operation", "items", "parameters"])
                out[name] = DiscoveryCall(
                    service: try m.string("service"), operation: try m.string("operation"),
                    items: try m.optionalString("items").map(ValuePath.init),
                    parameters: try parameters(m.optionalMap("parameters", allowed: nil)))
            }
        }
        return (out, caseInsensitive)
    }

    package static func parse(_ text: String, file: String) throws -> YAMLNode {
        let root: Node
        do {
            // The parser stays alive while the tree is checked: it holds the anchors (nodes refer
            // to them weakly), which is how an alias is recognised.
            let parser = try Parser(yaml: text)
            guard let node = try parser.singleRoot() else {
                throw SpecError(file: file, line: 1, message: "the file is empty")
            }
            if let line = firstAnchorLine(node) {
                throw SpecError(
                    file: file, line: line, message: "YAML anchors and aliases (&name, *name) are not accepted: write the values out")
            }
            withExtendedLifetime(parser) {}
            root = node
        } catch let error as YamlError {
            throw SpecError(file: file, line: Self.line(of: error, in: text), message: "YAML syntax error: \(Self.message(of: error))")
        }
        return YAMLNode(node: root, file: file)
    }

    /// The line of the first anchored node in document order, or nil. The walk stops there, and
    /// an alias can only refer to an anchor defined before it, so a file whose aliases would
    /// expand exponentially (a "billion laughs") is refused after a walk of its own size.
    static func firstAnchorLine(_ node: Node) -> Int? {
        switch node {
        case .scalar(let s): return s.anchor != nil ? s.mark?.line ?? 1 : nil
        case .alias: return node.mark?.line ?? 1
        case .sequence(let seq):
            if seq.anchor != nil { return seq.mark?.line ?? 1 }
            for child in seq { if let line = firstAnchorLine(child) { return line } }
            return nil
        case .mapping(let map):
            if map.anchor != nil { return map.mark?.line ?? 1 }
            for (k, v) in map {
                if let line = firstAnchorLine(k) ?? firstAnchorLine(v) { return line }
            }
            return nil
        }
    }

    static func line(of error: YamlError, in text: String) -> Int {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            return mark.line
        case .duplicatedKeysInMapping(let duplicates, let context):
            // The context is the mapping; the mistake is the key's second appearance after it.
            guard let key = duplicates.sorted().first else { return context.mark.line }
            var seen = 0
            for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            where index + 1 >= context.mark.line {
                let trimmed = line.drop { $0 == " " || $0 == "-" }
                if trimmed.hasPrefix(key + ":") || trimmed.hasPrefix("\"\(key)\":") || trimmed.hasPrefix("'\(key)':") {
                    seen += 1
                    if seen == 2 { return index + 1 }
                }
            }
            return context.mark.line
        default:
            return 1
        }
    }

    /// The problem in one short line: never the file's text (a line may be megabytes long).
    static func message(of error: YamlError) -> String {
        func short(_ s: String) -> String { s.count > 80 ? String(s.prefix(77)) + "..." : s }
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return "\(short(problem)) (column \(mark.column))"
        case .duplicatedKeysInMapping(let duplicates, _):
            return "duplicate key \(duplicates.sorted().map { short($0) }.joined(separator: ", ")) in one mapping"
        case .reader(let problem, _, _, _):
            return short(problem)
        default:
            return short(String(describing: error).split(separator: "\n").first.map(String.init) ?? "")
        }
    }

    static func operation(_ name: String, _ node: YAMLNode) throws -> OperationSpec {
        let m = try node.map([
            "action", "method", "path", "query", "headers", "host_prefix", "bucket", "payload", "paginate", "items", "parameters",
        ])
        var paginate: OperationSpec.Pagination?
        if let p = try m.optionalMap("paginate", allowed: ["input", "output", "more"]) {
            paginate = .init(
                input: try p.string("input"), output: ValuePath(try p.string("output")),
                more: try p.optionalString("more").map(ValuePath.init))
        }
        let payload = try m.optionalString("payload")
        if let payload, payload != "raw" { throw m.node("payload")!.error("payload must be raw") }
        return OperationSpec(
            name: name, action: try m.optionalString("action"), method: try m.optionalString("method"),
            path: try m.optionalTemplate("path"), query: try templateList(m.optionalMap("query", allowed: nil)),
            headers: try templateList(m.optionalMap("headers", allowed: nil)), hostPrefix: try m.optionalTemplate("host_prefix"),
            bucket: try m.optionalTemplate("bucket"), rawPayload: payload == "raw", paginate: paginate,
            items: try m.optionalString("items").map(ValuePath.init),
            parameters: try parameters(m.optionalMap("parameters", allowed: nil)), line: node.line)
    }

    static func templateList(_ map: YAMLMap?) throws -> [(String, Template)] {
        guard let map else { return [] }
        return try map.entries.map { ($0.0, try $0.1.template()) }
    }

    static func parameters(_ map: YAMLMap?) throws -> [String: ParameterValue] {
        guard let map else { return [:] }
        var out: [String: ParameterValue] = [:]
        for (key, node) in map.entries {
            // Plain booleans and numbers keep their type (JSON protocols need it); everything
            // else is a template rendered to a string.
            if case .scalar(let s) = node.node, !(s.style == .plain && (["true", "false"].contains(s.string) || Int64(s.string) != nil)) {
                out[key] = .template(try node.template())
            } else {
                out[key] = .json(try node.json())
            }
        }
        return out
    }

    static func call(_ node: YAMLNode, operations: [String: OperationSpec]) throws -> CallSpec {
        let m: YAMLMap
        if case .scalar = node.node {
            m = YAMLMap(entries: [("operation", node)], parent: node)
        } else {
            m = try node.map(["operation", "parameters", "before", "decode", "items"])
        }
        let opName = try m.string("operation")
        guard operations[opName] != nil else {
            throw (m.node("operation") ?? node).error("operation \(opName) is not declared under operations:")
        }
        var before: [PollSpec] = []
        if let b = m.node("before") {
            for item in try b.sequence() {
                let p = try item.map(["operation", "path", "until", "attempts", "interval"])
                let op = try p.string("operation")
                guard operations[op] != nil else { throw item.error("operation \(op) is not declared under operations:") }
                var attempts = 20
                if let node = p.node("attempts") {
                    guard let n = Int(try node.string()), (1...1000).contains(n) else {
                        throw node.error("attempts must be a whole number from 1 to 1000")
                    }
                    attempts = n
                }
                var interval = 1.0
                if let node = p.node("interval") {
                    guard let seconds = Double(try node.string()), seconds.isFinite, (0...300).contains(seconds) else {
                        throw node.error("interval must be a number of seconds from 0 to 300")
                    }
                    interval = seconds
                }
                before.append(
                    PollSpec(
                        operation: op, path: ValuePath(try p.string("path")), until: try p.string("until"),
                        attempts: attempts, intervalSeconds: interval))
            }
        }
        let decode = try m.optionalString("decode")
        if let decode, decode != "base64-csv" { throw m.node("decode")!.error("decode must be base64-csv") }
        return CallSpec(
            operation: opName, parameters: try parameters(m.optionalMap("parameters", allowed: nil)), before: before,
            decode: decode, items: try m.optionalString("items").map(ValuePath.init), line: node.line)
    }

    /// Context keys the engine sets itself; an enrichment may not shadow them.
    static let reservedNames: Set<String> = [
        "account", "partition", "region", "home_region", "item", "parent", "each",
        "value", "id", "name", "attributes",
    ]

    static func resource(_ node: YAMLNode, operations: [String: OperationSpec], transforms: TransformRegistry) throws -> ResourceSpec {
        let m = try node.map([
            "type", "parent", "singleton", "merge", "list", "fan_out", "id", "name", "region", "account", "descend", "filter",
            "enrich", "tags", "attributes", "edges",
        ])
        let singleton = try m.optionalBool("singleton") ?? false
        let mergeOnly = try m.optionalBool("merge") ?? false
        let list = try m.node("list").map { try call($0, operations: operations) }
        if !singleton && list == nil { throw node.error("a resource needs list: (or singleton: true)") }
        let descend = try m.optionalBool("descend") ?? false
        if descend, try m.optionalString("parent") == nil || list == nil {
            throw node.error("descend: true needs parent: and list:")
        }
        var enrich: [EnrichmentSpec] = []
        var seen: Set<String> = []
        if let e = m.node("enrich") {
            for item in try e.sequence() {
                let em = try item.map([
                    "name", "operation", "parameters", "each", "region", "absent_on", "when", "select", "before", "decode", "items",
                ])
                let name = try em.string("name")
                guard seen.insert(name).inserted else { throw item.error("enrichment \(name) is defined twice") }
                guard !reservedNames.contains(name) else {
                    throw item.error("enrichment name \(name) is reserved (\(reservedNames.sorted().joined(separator: ", ")))")
                }
                var absent: Set<String> = []
                if let a = em.node("absent_on") { for c in try a.sequence() { absent.insert(try c.string()) } }
                var callMap = em
                callMap.entries = em.entries.filter { ["operation", "parameters", "before", "decode", "items"].contains($0.0) }
                enrich.append(
                    EnrichmentSpec(
                        name: name, call: try call(YAMLNode(mapFrom: callMap, like: item), operations: operations),
                        each: try em.optionalString("each").map(ValuePath.init), region: try em.optionalTemplate("region"),
                        absentOn: absent, when: try em.node("when").map(condition),
                        select: try em.node("select").map { try attribute($0, transforms) },
                        line: item.line))
            }
        }
        var attributes: [(String, AttributeSpec)] = []
        if let a = try m.optionalMap("attributes", allowed: nil) {
            for (k, v) in a.entries { attributes.append((k, try attribute(v, transforms))) }
        }
        var edges: [EdgeSpec] = []
        if let e = m.node("edges") {
            for item in try e.sequence() {
                let em = try item.map(["kind", "each", "to"])
                guard let to = em.node("to") else { throw item.error("an edge needs to:") }
                edges.append(
                    EdgeSpec(
                        kind: try em.string("kind"), each: try em.optionalString("each").map(ValuePath.init),
                        to: try attribute(to, transforms), line: item.line))
            }
        }
        return ResourceSpec(
            type: try m.string("type"), line: node.line, parent: try m.optionalString("parent"), singleton: singleton,
            mergeOnly: mergeOnly, list: list, fanOut: try m.optionalString("fan_out"), id: try m.template("id"),
            name: try m.optionalTemplate("name"), region: try m.optionalTemplate("region"),
            account: try m.optionalTemplate("account"), descend: descend,
            filter: try m.node("filter").map(condition), enrich: enrich,
            tags: try m.node("tags").map { try attribute($0, transforms) }, attributes: attributes, edges: edges)
    }

    package static func condition(_ node: YAMLNode) throws -> Condition {
        let m = try node.map(["path", "equals", "not_equals", "exists"])
        return Condition(
            path: ValuePath(try m.string("path")), equals: try m.optionalTemplate("equals"),
            notEquals: try m.optionalTemplate("not_equals"), exists: try m.optionalBool("exists"), line: node.line)
    }

    /// `path.to.value` | `"{template}"` | `{path, transform, fields, default}` | `{value: constant}`
    package static func attribute(_ node: YAMLNode, _ transforms: TransformRegistry) throws -> AttributeSpec {
        if case .scalar = node.node {
            let s = try node.string()
            if s.contains("{") { return .template(try node.template()) }
            return .path(ValuePath(s), transform: nil, fields: nil, defaultValue: nil)
        }
        let m = try node.map(["path", "transform", "fields", "default", "value", "template"])
        if let v = m.node("value") { return .constant(try v.json()) }
        if m.node("template") != nil { return .template(try m.template("template")) }
        var transform: Transform?
        if let name = try m.optionalString("transform") {
            guard let found = transforms[name] else {
                throw m.node("transform")!.error("unknown transform \(name) (known: \(transforms.names.joined(separator: ", ")))")
            }
            transform = found
        }
        var fields: [(String, AttributeSpec)]?
        if let f = try m.optionalMap("fields", allowed: nil) {
            fields = try f.entries.map { ($0.0, try attribute($0.1, transforms)) }
        }
        return .path(
            ValuePath(try m.optionalString("path") ?? "."), transform: transform, fields: fields,
            defaultValue: try m.node("default").map { try $0.json() })
    }
}

/// A provider's specs: its services and the calls it makes before collection (identity, regions).
public struct ProviderSpec: Sendable {
    public var provider: String
    public var services: [ServiceSpec]
    public var discovery: [String: DiscoveryCall]
    /// Ids compare case-insensitively (`ids: case-insensitive` in `provider.yaml`): every node id
    /// and edge end is stored lower-cased, so mixed-case answers (ARM's) join.
    public var caseInsensitiveIds = false

    public init(provider: String, services: [ServiceSpec], discovery: [String: DiscoveryCall]) {
        self.provider = provider
        self.services = services
        self.discovery = discovery
    }

    public func service(_ id: String) -> ServiceSpec? { services.first { $0.id == id } }

    /// Every operation a scan of `wanted` services (nil: all) calls: the discovery calls, each
    /// resource's list and enrichments, and the polls before them. What `attest permissions` grants.
    public func calledOperations(services wanted: [String]? = nil) -> [(service: ServiceSpec, operation: OperationSpec)] {
        var out: [(ServiceSpec, OperationSpec)] = []
        for call in discovery.values {
            if let s = service(call.service), let op = s.operations[call.operation] { out.append((s, op)) }
        }
        for s in services where wanted?.contains(s.id) ?? true {
            for r in s.resources {
                let calls: [CallSpec] = (r.list.map { [$0] } ?? []) + r.enrich.map(\.call)
                for c in calls {
                    for name in [c.operation] + c.before.map(\.operation) {
                        if let op = s.operations[name] { out.append((s, op)) }
                    }
                }
            }
        }
        return out
    }

    /// Checks that every service names one of the provider's scope levels, and every fan-out a
    /// level of it too.
    public func validateScopes(levels: [String]) throws {
        for s in services {
            guard levels.contains(s.scope) else {
                throw SpecError(
                    file: s.file, line: s.scopeLine,
                    message: "scope must be one of \(levels.joined(separator: ", ")), not \(s.scope)")
            }
            for r in s.resources {
                if let level = r.fanOut, !levels.contains(level) {
                    throw SpecError(
                        file: s.file, line: r.line,
                        message: "fan_out must be one of \(levels.joined(separator: ", ")), not \(level)")
                }
            }
        }
    }

    func validate() throws {
        for (name, call) in discovery {
            guard let s = service(call.service), s.operations[call.operation] != nil else {
                throw SpecError(
                    file: "providers/\(provider)/provider.yaml", line: 1,
                    message: "discovery \(name) names \(call.service).\(call.operation), which no service spec declares")
            }
        }
        for s in services {
            for included in s.includes where service(included) == nil {
                throw SpecError(file: s.file, line: s.includesLine, message: "includes \(included), which no service spec declares")
            }
            var types: Set<String> = []
            for r in s.resources {
                if let parent = r.parent, !types.contains(parent) {
                    throw SpecError(file: s.file, line: r.line, message: "parent \(parent) must be collected earlier in the same file")
                }
                types.insert(r.type)
            }
        }
    }
}

/// A call a provider makes before collection (who am I, which regions), by service and operation.
public struct DiscoveryCall: Sendable {
    public var service: String
    public var operation: String
    /// Where the answer's items are, when the answer is a list.
    public var items: ValuePath?
    public var parameters: [String: ParameterValue]

    public init(service: String, operation: String, items: ValuePath? = nil, parameters: [String: ParameterValue] = [:]) {
        self.service = service
        self.operation = operation
        self.items = items
        self.parameters = parameters
    }
}
