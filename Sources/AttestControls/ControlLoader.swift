public import AttestCEL
import AttestCollect
import AttestInventory
public import Foundation
import Yams

/// Reads control files, refusing unknown keys and naming the file, line and column of every
/// mistake (including a rule's parse or check error).
public enum ControlLoader {
    static let topKeys = [
        "id", "title", "description", "rationale", "severity", "resource_types", "parameters",
        "applies_if", "assert", "observed", "remediation", "references", "equivalents", "reads",
        "frameworks", "tests", "enforcement", "enforce_from", "plan",
    ]
    static let testKeys = ["name", "resource", "graph", "params", "now", "expect"]
    static let testResourceKeys = ["id", "type", "account", "region", "name", "tags", "attributes", "unknown"]
    public static let defaultTestAccount = "111122223333"
    public static let defaultTestNow = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01T00:00:00Z

    /// Every `*.yaml` under the directories (recursively), except `frameworks/`, ordered by id.
    /// The same id in two files is an error naming both.
    /// - Parameter resourceTypes: provider id → the types its specs collect; when given, a
    ///   control naming a type no registered provider collects is an error at its line.
    public static func load(
        directories: [URL], environment: CELEnvironment = RuleEnvironment.shared,
        resourceTypes: [String: Set<String>]? = nil
    ) throws -> [Control] {
        var byID: [String: Control] = [:]
        for directory in directories {
            for file in try controlFiles(in: directory) {
                let text: String
                do { text = try String(contentsOf: file, encoding: .utf8) } catch {
                    throw SpecError(file: file.path, line: 1, message: "cannot read the file: \(error.localizedDescription)")
                }
                let control = try load(text: text, file: file.path, environment: environment, resourceTypes: resourceTypes)
                if let other = byID[control.id] {
                    throw SpecError(file: file.path, line: 1, message: "control id \(control.id) is also defined in \(other.file)")
                }
                byID[control.id] = control
            }
        }
        return byID.values.sorted { $0.id < $1.id }
    }

    static func controlFiles(in directory: URL) throws -> [URL] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw SpecError(file: directory.path, line: 1, message: "no such controls directory")
        }
        guard let walker = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: [.isDirectoryKey]) else { return [] }
        var files: [URL] = []
        for case let url as URL in walker {
            if url.lastPathComponent == "frameworks" {
                walker.skipDescendants()
                continue
            }
            if url.pathExtension == "yaml" || url.pathExtension == "yml" { files.append(url) }
        }
        return files.sorted { $0.path < $1.path }
    }

    /// Parses one control file.
    public static func load(
        text: String, file: String, environment: CELEnvironment = RuleEnvironment.shared,
        resourceTypes: [String: Set<String>]? = nil
    ) throws -> Control {
        let root = try SpecLoader.parse(text, file: file)
        let map = try root.map(topKeys)
        let id = try map.string("id")
        let stem = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
        if file.hasSuffix(".yaml") || file.hasSuffix(".yml"), stem != id {
            throw map.node("id")!.error("the id \(id) must match the file name (\(stem).yaml)")
        }
        guard id.range(of: #"^[a-z0-9][a-z0-9.-]*$"#, options: .regularExpression) != nil else {
            throw map.node("id")!.error("the id must be lower case letters, digits, dots and dashes")
        }
        let severityText = try map.string("severity")
        guard let severity = Severity(rawValue: severityText) else {
            throw map.node("severity")!.error(
                "severity must be one of \(Severity.allCases.map(\.rawValue).joined(separator: ", ")), not \(severityText)")
        }
        guard let typesNode = map.node("resource_types") else { throw root.error("missing required key resource_types") }
        let types = try typesNode.sequence().map { try $0.string() }
        guard !types.isEmpty else { throw typesNode.error("resource_types must name at least one type") }
        try checkTypes(types, node: typesNode, resourceTypes: resourceTypes)
        var parameters: [String: JSONValue] = [:]
        if let p = try map.optionalMap("parameters", allowed: nil) {
            for (k, v) in p.entries { parameters[k] = try v.json() }
        }
        guard let assertNode = map.node("assert") else { throw root.error("missing required key assert") }
        let assertion = try compile(assertNode, text: text, environment: environment)
        let appliesIf = try map.node("applies_if").map { try compile($0, text: text, environment: environment) }
        let observed = try map.node("observed")?.sequence().map { ValuePath(try $0.string()) } ?? []
        guard let remediationMap = try map.optionalMap("remediation", allowed: ["text", "cli", "terraform"]) else {
            throw root.error("missing required key remediation")
        }
        let remediation = Control.Remediation(
            text: try remediationMap.string("text"), cli: try remediationMap.optionalString("cli"),
            terraform: try remediationMap.optionalString("terraform"))
        let references = try map.node("references")?.sequence().map { try $0.string() } ?? []
        let equivalents = try stringLists(map.node("equivalents"))
        let frameworks = try stringLists(map.node("frameworks"))
        var frameworkLines: [String: Int] = [:]
        for (k, v) in try map.node("frameworks")?.map(nil).entries ?? [] { frameworkLines[k] = v.line }
        var control = Control(
            id: id, title: try map.string("title"), description: try map.string("description"),
            rationale: try map.string("rationale"), severity: severity, resourceTypes: types, parameters: parameters,
            appliesIf: appliesIf, assertion: assertion, observed: observed, remediation: remediation,
            references: references, equivalents: equivalents, frameworks: frameworks, frameworkLines: frameworkLines, tests: [],
            file: file, assertLine: assertNode.line)
        control.planCapable = try map.optionalBool("plan") ?? false
        control.enforcement = try Enforcement.parse(mode: map.node("enforcement"), from: map.node("enforce_from"), parent: root)
        if let readsNode = map.node("reads") {
            control.reads = try readsNode.sequence().map { try $0.string() }
            try checkTypes(control.reads, node: readsNode, resourceTypes: resourceTypes)
        }
        if let testsNode = map.node("tests") {
            control.tests = try testsNode.sequence().map { try loadTest($0, control: control) }
        }
        return control
    }

    /// Refuses a type that is not `provider.service.resource`, and, when the providers' types
    /// are known, one that no registered provider collects (it would give no result, silently).
    static func checkTypes(_ types: [String], node list: YAMLNode, resourceTypes: [String: Set<String>]?) throws {
        let items = (try? list.sequence()) ?? []
        for (index, type) in types.enumerated() {
            let node = index < items.count ? items[index] : list
            guard type.split(separator: ".").count >= 3 else {
                throw node.error("\(type) is not a resource type (expected provider.service.resource)")
            }
            guard let resourceTypes else { continue }
            let provider = String(type.prefix { $0 != "." })
            guard let known = resourceTypes[provider] else {
                throw node.error("\(type): unknown provider \(provider) (known: \(resourceTypes.keys.sorted().joined(separator: ", ")))")
            }
            guard known.contains(type) else {
                let service = type.split(separator: ".").prefix(2).joined(separator: ".") + "."
                let near = known.filter { $0.hasPrefix(service) }.sorted()
                throw node.error(
                    "\(type) is not a resource type the \(provider) specs collect"
                        + (near.isEmpty ? " (see docs/taxonomy.md)" : " (\(service)*: \(near.joined(separator: ", ")))"))
            }
        }
    }

    static func stringLists(_ node: YAMLNode?) throws -> [String: [String]] {
        guard let node else { return [:] }
        var result: [String: [String]] = [:]
        for (k, v) in try node.map(nil).entries { result[k] = try v.sequence().map { try $0.string() } }
        return result
    }

    static func loadTest(_ node: YAMLNode, control: Control) throws -> ControlTest {
        let map = try node.map(testKeys)
        let name = try map.string("name")
        let expectText = try map.string("expect")
        guard let expect = ResultStatus(rawValue: expectText), expect != .excepted else {
            throw map.node("expect")!.error("expect must be pass, fail, error, not_applicable or unknown, not \(expectText)")
        }
        guard let resourceNode = map.node("resource") else { throw node.error("missing required key resource") }
        let resource = try testResource(resourceNode, defaultType: control.resourceTypes[0], defaultID: "test-resource")
        if !control.resourceTypes.contains(resource.type) {
            throw resourceNode.error("the test resource's type \(resource.type) is not one of the control's resource_types")
        }
        var graph = InventoryGraph()
        graph.add(resource)
        if let g = try map.optionalMap("graph", allowed: ["resources", "edges"]) {
            for (index, item) in try (g.node("resources")?.sequence() ?? []).enumerated() {
                graph.add(try testResource(item, defaultType: nil, defaultID: "related-\(index + 1)"))
            }
            for item in try g.node("edges")?.sequence() ?? [] {
                let e = try item.map(["from", "to", "kind"])
                graph.add(Edge(from: try e.string("from"), to: try e.string("to"), kind: try e.string("kind")))
            }
        }
        var params: [String: JSONValue] = [:]
        if let p = try map.optionalMap("params", allowed: nil) {
            for (k, v) in p.entries {
                guard control.parameters[k] != nil else { throw v.error("\(k) is not a parameter of \(control.id)") }
                params[k] = try v.json()
            }
        }
        var now = defaultTestNow
        if let n = map.node("now") {
            guard let t = CELTimestamp(rfc3339: try n.string()) else { throw n.error("now must be an RFC 3339 time") }
            now = Date(timeIntervalSince1970: TimeInterval(t.seconds))
        }
        return ControlTest(
            name: name, resource: resource, graph: graph, parameters: params, now: now,
            expect: expect, line: node.line)
    }

    static func testResource(_ node: YAMLNode, defaultType: String?, defaultID: String) throws -> Resource {
        let map = try node.map(testResourceKeys)
        guard let type = try map.optionalString("type") ?? defaultType else { throw node.error("missing required key type") }
        let id = try map.optionalString("id") ?? defaultID
        var tags: [String: String] = [:]
        if let t = try map.optionalMap("tags", allowed: nil) {
            for (k, v) in t.entries { tags[k] = try v.string() }
        }
        var attributes: [String: JSONValue] = [:]
        if let a = try map.optionalMap("attributes", allowed: nil) {
            for (k, v) in a.entries { attributes[k] = try v.json() }
        }
        var resource = Resource(
            id: id, type: type, account: try map.optionalString("account") ?? defaultTestAccount,
            region: try map.optionalString("region") ?? "us-east-1",
            name: try map.optionalString("name") ?? String(id.split(separator: "/").last ?? Substring(id)),
            tags: tags, attributes: attributes)
        // A plan's values known only after apply: attribute paths (`versioning`, `metadata_options.http_tokens`).
        if let unknown = map.node("unknown") { resource.unknownAttributes = try unknown.sequence().map { try $0.string() } }
        return resource
    }

    /// Compiles a rule, turning a CEL error's position inside the value into a file position.
    static func compile(_ node: YAMLNode, text: String, environment: CELEnvironment) throws -> CELProgram {
        let source = try node.string()
        do {
            return try environment.compile(source)
        } catch {
            let (line, column) = filePosition(of: error, in: source, node: node, fileText: text)
            throw SpecError(file: node.file, line: line, column: column, message: "rule error: \(error.message)")
        }
    }

    /// Maps a position in a scalar's value back to the file by matching its non-blank characters
    /// against the raw text from where the scalar starts (exact for plain, quoted and literal
    /// values; folded values are joined with spaces, which this skips over).
    static func filePosition(of error: CELSourceError, in source: String, node: YAMLNode, fileText: String) -> (Int, Int) {
        guard let mark = node.node.mark else { return (node.line, 1) }
        let sourceLines = source.split(separator: "\n", omittingEmptySubsequences: false)
        var offset = 0
        for (index, line) in sourceLines.enumerated() where index < error.line - 1 { offset += line.count + 1 }
        offset += max(0, error.column - 1)
        let before = source.prefix(offset)
        var wanted = before.filter { !$0.isWhitespace }.count

        let lines = fileText.split(separator: "\n", omittingEmptySubsequences: false)
        guard mark.line - 1 < lines.count else { return (mark.line, mark.column) }
        var lineIndex = mark.line - 1
        var column = mark.column - 1
        if case .scalar(let scalar) = node.node {
            switch scalar.style {
            case .literal, .folded:
                lineIndex += 1
                column = 0
            case .singleQuoted, .doubleQuoted: column += 1
            default: break
            }
        }
        while lineIndex < lines.count {
            let chars = Array(lines[lineIndex])
            while column < chars.count {
                if !chars[column].isWhitespace {
                    if wanted == 0 { return (lineIndex + 1, column + 1) }
                    wanted -= 1
                }
                column += 1
            }
            lineIndex += 1
            column = 0
        }
        return (mark.line, mark.column)
    }
}
