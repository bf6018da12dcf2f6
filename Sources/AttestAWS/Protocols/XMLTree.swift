public import AttestCore
import Foundation

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// Turns an XML document into a ``JSONValue`` tree.
///
/// An element with child elements becomes an object keyed by child name; a name that repeats
/// becomes an array in document order; a leaf becomes its text (`""` when empty). Attributes
/// are dropped except `xsi:type`, kept as `_type` (S3 ACL grantees need it). The root element
/// is returned as `{rootName: content}`.
public enum XMLTree {
    public struct ParseError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    public static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        // Parsed inside a wrapper so that content after the root (which XMLParser ignores) shows
        // as a second child, and a DOCTYPE (entity declarations, expansion bombs) is refused.
        var body = bytes[...]
        if body.starts(with: Array("\u{FEFF}".utf8)) { body = body.dropFirst(3) }
        while let first = body.first, first == 0x20 || first == 0x0A || first == 0x0D || first == 0x09 { body = body.dropFirst() }
        if body.starts(with: Array("<?xml".utf8)), let end = body.firstRange(of: Array("?>".utf8)) {
            body = body[end.upperBound...]
        }
        let builder = Builder()
        let parser = XMLParser(data: Data(Array("<attest-xml-wrapper>".utf8) + body + Array("</attest-xml-wrapper>".utf8)))
        parser.shouldResolveExternalEntities = false
        parser.shouldProcessNamespaces = false
        parser.delegate = builder
        let ok = parser.parse()
        guard ok, let wrapper = builder.root, wrapper.children.count == 1, let (name, value) = wrapper.children.first else {
            if ok { throw ParseError(description: "malformed XML: expected exactly one root element") }
            let reason = parser.parserError.map { "\($0.localizedDescription)" } ?? "no root element"
            throw ParseError(description: "malformed XML at line \(parser.lineNumber): \(reason)")
        }
        return .object([name: value])
    }

    final class Node {
        let name: String
        var text = ""
        var children: [(String, JSONValue)] = []
        var type: String?
        init(name: String) { self.name = name }

        var value: JSONValue {
            if children.isEmpty && type == nil { return .string(text.trimmingCharacters(in: .whitespacesAndNewlines)) }
            var object: [String: JSONValue] = [:]
            var order: [String] = []
            for (name, value) in children {
                if let existing = object[name] {
                    if case .array(var list) = existing, order.contains(where: { $0 == "\u{0}" + name }) {
                        list.append(value)
                        object[name] = .array(list)
                    } else {
                        object[name] = .array([existing, value])
                        order.append("\u{0}" + name)
                    }
                } else {
                    object[name] = value
                }
            }
            if let type { object["_type"] = .string(type) }
            return .object(object)
        }
    }

    final class Builder: NSObject, XMLParserDelegate {
        var stack: [Node] = []
        var root: Node?

        func parser(
            _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
            qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]
        ) {
            let node = Node(name: Self.localName(elementName))
            node.type = attributeDict["xsi:type"]
            stack.append(node)
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            stack.last?.text += string
        }

        func parser(_ parser: XMLParser, foundCDATA cdataBlock: Data) {
            stack.last?.text += String(decoding: cdataBlock, as: UTF8.self)
        }

        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
            guard let node = stack.popLast() else { return }
            if let parent = stack.last {
                parent.children.append((node.name, node.value))
            } else {
                root = node
            }
        }

        static func localName(_ name: String) -> String {
            if let colon = name.lastIndex(of: ":") { return String(name[name.index(after: colon)...]) }
            return name
        }
    }
}
