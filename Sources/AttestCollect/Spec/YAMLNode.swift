package import AttestCore
package import Yams

/// A YAML node that remembers its file and line, so every complaint can point at both.
package struct YAMLNode {
    package let node: Node
    package let file: String

    package var line: Int { node.mark?.line ?? 1 }

    package func error(_ message: String) -> SpecError {
        SpecError(file: file, line: line, message: message)
    }

    package func string() throws -> String {
        guard case .scalar(let s) = node else { throw error("expected a single value") }
        return s.string
    }

    package func template() throws -> Template {
        do { return try Template(try string()) } catch let e as Template.SyntaxError { throw error(e.description) }
    }

    package func sequence() throws -> [YAMLNode] {
        guard case .sequence(let seq) = node else { throw error("expected a list") }
        return seq.map { YAMLNode(node: $0, file: file) }
    }

    /// The mapping, refusing keys outside `allowed` (nil allows any).
    package func map(_ allowed: [String]?) throws -> YAMLMap {
        guard case .mapping(let mapping) = node else { throw error("expected a mapping") }
        var entries: [(String, YAMLNode)] = []
        for (k, v) in mapping {
            guard case .scalar(let key) = k else { throw error("mapping keys must be plain values") }
            let child = YAMLNode(node: v, file: file)
            if let allowed, !allowed.contains(key.string) {
                throw SpecError(
                    file: file, line: k.mark?.line ?? line,
                    message: "unknown key \(key.string) (expected one of: \(allowed.joined(separator: ", ")))")
            }
            entries.append((key.string, child))
        }
        return YAMLMap(entries: entries, parent: self)
    }

    package func json() throws -> JSONValue {
        switch node {
        case .scalar(let s):
            if s.style == .plain {
                if s.string == "null" || s.string == "~" { return .null }
                if s.string == "true" { return .bool(true) }
                if s.string == "false" { return .bool(false) }
                if let i = Int64(s.string) { return .int(i) }
            }
            return .string(s.string)
        case .sequence(let seq):
            return .array(try seq.map { try YAMLNode(node: $0, file: file).json() })
        case .mapping:
            let m = try map(nil)
            var o: [String: JSONValue] = [:]
            for (k, v) in m.entries { o[k] = try v.json() }
            return .object(o)
        default:
            throw error("aliases are not supported")
        }
    }

    package init(node: Node, file: String) {
        self.node = node
        self.file = file
    }

    /// A mapping node made of some of another mapping's entries (for sub-structures sharing keys).
    package init(mapFrom map: YAMLMap, like original: YAMLNode) {
        let pairs = map.entries.map { (Node.scalar(.init($0.0)), $0.1.node) }
        var mapping = Node.Mapping(pairs)
        mapping.mark = original.node.mark
        self.node = .mapping(mapping)
        self.file = original.file
    }
}

package struct YAMLMap {
    package var entries: [(String, YAMLNode)]
    package let parent: YAMLNode

    package func node(_ key: String) -> YAMLNode? { entries.first { $0.0 == key }?.1 }

    package func string(_ key: String) throws -> String {
        guard let n = node(key) else { throw parent.error("missing required key \(key)") }
        return try n.string()
    }

    package func optionalString(_ key: String) throws -> String? { try node(key)?.string() }

    package func template(_ key: String) throws -> Template {
        guard let n = node(key) else { throw parent.error("missing required key \(key)") }
        return try n.template()
    }

    package func optionalTemplate(_ key: String) throws -> Template? { try node(key)?.template() }

    package func optionalBool(_ key: String) throws -> Bool? {
        guard let n = node(key) else { return nil }
        switch try n.string() {
        case "true", "yes": return true
        case "false", "no": return false
        default: throw n.error("\(key) must be true or false")
        }
    }

    package func optionalMap(_ key: String, allowed: [String]?) throws -> YAMLMap? { try node(key)?.map(allowed) }
}
