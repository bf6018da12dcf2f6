import Foundation

/// A string with `{path}` placeholders filled from a ``JSONValue`` context, e.g.
/// `arn:{partition}:s3:::{item.Name}`.
///
/// `{{` and `}}` stand for literal braces. A placeholder whose value is missing makes the whole
/// rendering fail (returns nil) so that a half-filled identifier is never produced.
public struct Template: Sendable, Hashable, CustomStringConvertible {
    enum Part: Sendable, Hashable {
        case literal(String)
        case placeholder(ValuePath)
    }

    let parts: [Part]
    public let description: String

    public struct SyntaxError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    public init(_ text: String) throws {
        description = text
        var parts: [Part] = []
        var literal = ""
        var index = text.startIndex
        while index < text.endIndex {
            let ch = text[index]
            let next = text.index(after: index)
            if ch == "{" {
                if next < text.endIndex, text[next] == "{" {
                    literal.append("{")
                    index = text.index(after: next)
                    continue
                }
                guard let close = text[next...].firstIndex(of: "}") else {
                    throw SyntaxError(description: "unclosed '{' in template \"\(text)\"")
                }
                let path = String(text[next..<close]).trimmingCharacters(in: .whitespaces)
                guard !path.isEmpty else { throw SyntaxError(description: "empty '{}' in template \"\(text)\"") }
                if !literal.isEmpty {
                    parts.append(.literal(literal))
                    literal = ""
                }
                parts.append(.placeholder(ValuePath(path)))
                index = text.index(after: close)
            } else if ch == "}" {
                if next < text.endIndex, text[next] == "}" { index = text.index(after: next) } else { index = next }
                literal.append("}")
            } else {
                literal.append(ch)
                index = next
            }
        }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        self.parts = parts
    }

    /// The paths its placeholders read.
    public var placeholderPaths: [ValuePath] {
        parts.compactMap { if case .placeholder(let p) = $0 { p } else { nil } }
    }

    public func render(_ context: JSONValue) -> String? {
        var out = ""
        for part in parts {
            switch part {
            case .literal(let s): out += s
            case .placeholder(let path):
                guard let s = path.value(in: context).stringValue else { return nil }
                out += s
            }
        }
        return out
    }
}
