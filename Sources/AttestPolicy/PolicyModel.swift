import AttestCore
import Foundation

/// A policy document reduced to what the analyses need, checked for shape on the way in.
struct Policy: Sendable {
    var statements: [Statement]
}

/// One statement of a policy.
struct Statement: Sendable {
    enum Effect: Sendable { case allow, deny }

    /// An `Action`/`NotAction` or `Resource`/`NotResource` element.
    enum Target: Sendable {
        /// The element is absent: the statement applies to everything (a trust policy has no `Resource`).
        case any
        /// `Action` or `Resource`: the listed patterns.
        case only([String])
        /// `NotAction` or `NotResource`: everything except the listed patterns.
        case except([String])
    }

    /// The `Principal`/`NotPrincipal` element.
    enum Principals: Sendable {
        /// Neither element: an identity policy, which applies to whoever holds it.
        case unspecified
        /// `Principal`; `everyone` when it is `"*"` or lists `"*"` for some principal type.
        case only(everyone: Bool)
        /// `NotPrincipal`: everyone except the listed principals.
        case except
    }

    /// One `operator: {key: values}` entry of the `Condition` element.
    struct Clause: Sendable {
        var op: String
        var key: String
        var values: [JSONValue]
    }

    var label: String
    var effect: Effect
    var actions: Target
    var resources: Target
    var principals: Principals
    var conditions: [Clause]
}

enum PolicyParser {
    /// Parses a policy document: an object, a string holding the JSON text (possibly URL-encoded), or null
    /// (no policy, so no statements).
    static func parse(_ document: JSONValue) throws -> Policy {
        try parse(document, depth: 0)
    }

    private static func parse(_ document: JSONValue, depth: Int) throws -> Policy {
        switch document {
        case .null:
            return Policy(statements: [])
        case .object(let object):
            return try parseObject(object)
        case .string(let text):
            guard depth < 3 else { throw PolicyDocumentError("policy document is a string nested too deeply") }
            return try parse(try parseText(text), depth: depth + 1)
        case .array: throw PolicyDocumentError("a policy document must be a JSON object or a string holding one, got an array")
        case .bool: throw PolicyDocumentError("a policy document must be a JSON object or a string holding one, got a boolean")
        case .int, .double: throw PolicyDocumentError("a policy document must be a JSON object or a string holding one, got a number")
        }
    }

    /// The JSON value in policy text as IAM returns it: plain JSON, or URL-encoded JSON (`%7B%22Version…`),
    /// where a `+` may also stand for a space.
    static func parseText(_ text: String) throws -> JSONValue {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw PolicyDocumentError("policy document is an empty string") }
        var candidates: [String] = []
        if trimmed.hasPrefix("{") || trimmed.hasPrefix("\"") {
            candidates.append(trimmed)
        }
        if trimmed.contains("%") {
            if let decoded = trimmed.removingPercentEncoding { candidates.append(decoded) }
            if let decoded = trimmed.replacingOccurrences(of: "+", with: " ").removingPercentEncoding { candidates.append(decoded) }
            if candidates.isEmpty { throw PolicyDocumentError("policy document text has malformed URL encoding") }
        }
        guard !candidates.isEmpty else {
            throw PolicyDocumentError("policy document text is neither a JSON object nor URL-encoded JSON: \(preview(trimmed))")
        }
        var firstError: (any Error)?
        for candidate in candidates {
            do { return try JSONValue.parse(candidate) } catch { firstError = firstError ?? error }
        }
        throw PolicyDocumentError("policy document is not valid JSON (\(firstError.map { "\($0)" } ?? "unreadable")): \(preview(trimmed))")
    }

    private static func preview(_ text: String) -> String {
        text.count <= 60 ? text : String(text.prefix(60)) + "…"
    }

    private static func parseObject(_ object: [String: JSONValue]) throws -> Policy {
        guard let statementValue = element(object, "Statement") else {
            throw PolicyDocumentError("policy document has no Statement element")
        }
        let raw: [JSONValue]
        switch statementValue {
        case .object: raw = [statementValue]
        case .array(let items): raw = items
        default: throw PolicyDocumentError("policy Statement must be an object or a list of objects")
        }
        return Policy(
            statements: try raw.enumerated().map { index, value in
                guard case .object(let fields) = value else {
                    throw PolicyDocumentError("statement \(index + 1) is not a JSON object")
                }
                return try parseStatement(fields, index: index)
            })
    }

    /// An element by name: the exact spelling first, then any spelling that differs only in case.
    static func element(_ object: [String: JSONValue], _ name: String) -> JSONValue? {
        if let exact = object[name] { return exact }
        return object.first { equalIgnoringASCIICase($0.key, name) }?.value
    }

    /// Policy grammar words are ASCII; comparing bytes avoids Foundation's locale-aware compare,
    /// which dominated evaluation time.
    static func equalIgnoringASCIICase(_ a: String, _ b: String) -> Bool {
        let x = a.utf8
        let y = b.utf8
        guard x.count == y.count else { return false }
        for (p, q) in zip(x, y) where p != q {
            let lp = p >= 65 && p <= 90 ? p + 32 : p
            let lq = q >= 65 && q <= 90 ? q + 32 : q
            if lp != lq { return false }
        }
        return true
    }

    private static func parseStatement(_ fields: [String: JSONValue], index: Int) throws -> Statement {
        var label = "statement \(index + 1)"
        if let sid = element(fields, "Sid")?.stringValue, !sid.isEmpty { label += " (\"\(sid)\")" }

        let effect: Statement.Effect
        switch element(fields, "Effect") {
        case .string(let s) where equalIgnoringASCIICase(s, "Allow"): effect = .allow
        case .string(let s) where equalIgnoringASCIICase(s, "Deny"): effect = .deny
        case nil, .null?: throw PolicyDocumentError("\(label) has no Effect")
        case let other?: throw PolicyDocumentError("\(label): Effect must be \"Allow\" or \"Deny\", got \(other.serialized())")
        }

        let actions = try target(fields, "Action", "NotAction", label: label)
        if case .any = actions { throw PolicyDocumentError("\(label) has neither Action nor NotAction") }
        return Statement(
            label: label, effect: effect, actions: actions,
            resources: try target(fields, "Resource", "NotResource", label: label),
            principals: try principals(fields, label: label), conditions: try conditions(fields, label: label)
        )
    }

    private static func target(_ fields: [String: JSONValue], _ name: String, _ notName: String, label: String) throws -> Statement.Target {
        let positive = element(fields, name)
        let negative = element(fields, notName)
        switch (positive, negative) {
        case (nil, nil): return .any
        case (let p?, nil): return .only(try strings(p, name, label: label))
        case (nil, let n?): return .except(try strings(n, notName, label: label))
        case (_?, _?): throw PolicyDocumentError("\(label) has both \(name) and \(notName)")
        }
    }

    private static func strings(_ value: JSONValue, _ name: String, label: String) throws -> [String] {
        switch value {
        case .string(let s): return [s]
        case .array(let items):
            return try items.map {
                guard case .string(let s) = $0 else {
                    throw PolicyDocumentError("\(label): \(name) must be a string or a list of strings, found \($0.serialized())")
                }
                return s
            }
        default: throw PolicyDocumentError("\(label): \(name) must be a string or a list of strings, got \(value.serialized())")
        }
    }

    private static func principals(_ fields: [String: JSONValue], label: String) throws -> Statement.Principals {
        let positive = element(fields, "Principal")
        let negative = element(fields, "NotPrincipal")
        func everyone(_ value: JSONValue, _ name: String) throws -> Bool {
            switch value {
            case .string(let s): return s == "*"
            case .object(let byType):
                return try byType.values.reduce(false) { found, v in try strings(v, "\(name) entries", label: label).contains("*") || found
                }
            default: throw PolicyDocumentError("\(label): \(name) must be \"*\" or an object, got \(value.serialized())")
            }
        }
        switch (positive, negative) {
        case (nil, nil): return .unspecified
        case (let p?, nil): return .only(everyone: try everyone(p, "Principal"))
        case (nil, let n?):
            _ = try everyone(n, "NotPrincipal")
            return .except
        case (_?, _?): throw PolicyDocumentError("\(label) has both Principal and NotPrincipal")
        }
    }

    private static func conditions(_ fields: [String: JSONValue], label: String) throws -> [Statement.Clause] {
        guard let value = element(fields, "Condition") else { return [] }
        switch value {
        case .null: return []
        case .object(let operators):
            var clauses: [Statement.Clause] = []
            for (op, block) in operators.sorted(by: { $0.key < $1.key }) {
                guard case .object(let keys) = block else {
                    throw PolicyDocumentError("\(label): Condition operator \(op) must map to an object of keys, got \(block.serialized())")
                }
                for (key, v) in keys.sorted(by: { $0.key < $1.key }) {
                    let values = v.asList
                    for item in values {
                        switch item {
                        case .string, .bool, .int, .double: continue
                        default:
                            throw PolicyDocumentError(
                                "\(label): Condition \(op) \(key) has a value that is not a string, number or boolean: \(item.serialized())"
                            )
                        }
                    }
                    clauses.append(Statement.Clause(op: op, key: key, values: values))
                }
            }
            return clauses
        default:
            throw PolicyDocumentError("\(label): Condition must be an object, got \(value.serialized())")
        }
    }
}
