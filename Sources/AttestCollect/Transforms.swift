public import AttestCore
import Foundation

/// A named conversion a spec applies to a value on its way into an attribute
/// (`transform: bool`). `context` supplies the account, region and provider values
/// (`partition`) for transforms that need them.
public struct Transform: Sendable {
    public var name: String
    public var apply: @Sendable (_ value: JSONValue, _ context: JSONValue) -> JSONValue

    public init(_ name: String, apply: @escaping @Sendable (_ value: JSONValue, _ context: JSONValue) -> JSONValue) {
        self.name = name
        self.apply = apply
    }
}

/// The transforms specs may name: the generic ones, and those a provider adds (AWS's
/// `s3-region`, `kms-key-arn`). Adding one is a registry entry; specs name it by its name.
public struct TransformRegistry: Sendable {
    public private(set) var transforms: [String: Transform] = [:]

    public init(_ transforms: [Transform] = []) {
        for t in transforms { self.transforms[t.name] = t }
    }

    public subscript(name: String) -> Transform? { transforms[name] }

    public var names: [String] { transforms.keys.sorted() }

    /// This registry with `others` added; a name already defined is an error.
    public func adding(_ others: [Transform]) throws -> TransformRegistry {
        var copy = self
        for t in others {
            guard copy.transforms[t.name] == nil else { throw DuplicateTransformError(name: t.name) }
            copy.transforms[t.name] = t
        }
        return copy
    }

    /// The conversions every provider's specs can use.
    public static let generic = TransformRegistry([
        Transform("bool") { v, _ in Transforms.bool(v) },
        Transform("csv-bool") { v, _ in
            // Credential report cells: true/false, or N/A / not_supported / no_information.
            guard let s = v.stringValue?.lowercased() else { return .null }
            return s == "true" ? .bool(true) : s == "false" ? .bool(false) : .null
        },
        Transform("int") { v, _ in Transforms.int(v) },
        Transform("string") { v, _ in v.stringValue.map(JSONValue.string) ?? (v.isNull ? .null : .string(v.serialized())) },
        Transform("lower") { v, _ in v.stringValue.map { .string($0.lowercased()) } ?? v },
        Transform("json") { v, _ in
            // Empty text is no document (Terraform's policy = "" for a bucket without one).
            if v.stringValue?.isEmpty == true { return .null }
            guard let s = v.stringValue else { return v.isNull ? .null : v }
            return (try? JSONValue.parse(s)) ?? .null
        },
        Transform("url-json") { v, _ in
            // Policy documents sent percent-encoded (IAM).
            guard let s = v.stringValue, !s.isEmpty else { return .null }
            let decoded = s.removingPercentEncoding ?? s
            return (try? JSONValue.parse(decoded)) ?? (try? JSONValue.parse(s)) ?? .null
        },
        Transform("exists") { v, _ in
            if case .string(let s) = v { return .bool(!s.isEmpty) }
            return .bool(!v.isNull)
        },
        Transform("not-empty") { v, _ in
            switch v {
            case .array(let a): return .bool(!a.isEmpty)
            case .object(let o): return .bool(!o.isEmpty)
            case .string(let s): return .bool(!s.isEmpty)
            case .null: return .bool(false)
            default: return .bool(true)
            }
        },
        Transform("timestamp") { v, _ in Transforms.timestamp(v) },
        Transform("keys") { v, _ in
            // An object's keys, sorted: names without their values.
            guard case .object(let o) = v else { return v.isNull ? .array([]) : .null }
            return .array(o.keys.sorted().map(JSONValue.string))
        },
        Transform("count") { v, _ in .int(Int64(v.asList.count)) },
        Transform("name-value-map") { value, _ in
            // [{name, value}] → {name: value}, names lower-cased: Azure server parameters, GCP instance metadata.
            guard case .array(let list) = value else { return value.isNull ? .null : value }
            var out: [String: JSONValue] = [:]
            for entry in list {
                if let name = entry["name"].stringValue { out[name.lowercased()] = entry["value"] }
            }
            return .object(out)
        },
        // Terraform's booleans in the words the APIs use: versioning Enabled, monitoring enabled.
        Transform("enabled-word") { v, _ in v.boolValue.map { .string($0 ? "Enabled" : "Disabled") } ?? (v.isNull ? .null : v) },
        Transform("enabled-lower") { v, _ in v.boolValue.map { .string($0 ? "enabled" : "disabled") } ?? (v.isNull ? .null : v) },
        Transform("positive") { v, _ in v.intValue.map { .bool($0 > 0) } ?? (v.isNull ? .null : .bool(false)) },
        Transform("list") { v, _ in .array(v.asList) },
        Transform("map") { v, _ in Transforms.keyValueMap(v, numbers: true) },
        Transform("base64") { v, _ in
            guard let s = v.stringValue, let d = Data(base64Encoded: s) else { return .null }
            return .string(String(decoding: d, as: UTF8.self))
        },
    ])
}

public struct DuplicateTransformError: Error, CustomStringConvertible, Sendable {
    public var name: String
    public var description: String { "transform \(name) is defined twice" }
}

/// The generic conversions' logic.
public enum Transforms {
    static func bool(_ value: JSONValue) -> JSONValue {
        if case .array(let a) = value { return .array(a.map(bool)) }
        return value.boolValue.map(JSONValue.bool) ?? .null
    }

    static func int(_ value: JSONValue) -> JSONValue {
        if case .array(let a) = value { return .array(a.map(int)) }
        return value.intValue.map(JSONValue.int) ?? .null
    }

    /// Every timestamp as ISO 8601 in UTC: JSON protocols send epoch seconds, XML ones ISO strings
    /// with or without fractions. Unparseable text is kept as it came.
    public static func timestamp(_ value: JSONValue) -> JSONValue {
        let out = ISO8601DateFormatter()
        out.formatOptions = [.withInternetDateTime]
        switch value {
        case .int(let i): return .string(out.string(from: Date(timeIntervalSince1970: TimeInterval(i))))
        case .double(let d): return .string(out.string(from: Date(timeIntervalSince1970: d)))
        case .string(let s):
            if let d = Double(s), !s.contains("-") { return .string(out.string(from: Date(timeIntervalSince1970: d))) }
            let parser = ISO8601DateFormatter()
            for options: ISO8601DateFormatter.Options in [[.withInternetDateTime], [.withInternetDateTime, .withFractionalSeconds]] {
                parser.formatOptions = options
                if let d = parser.date(from: s) { return .string(out.string(from: d)) }
            }
            // Fractions beyond milliseconds (2026-11-21T22:32:22.296452Z) trip the formatter.
            if let dot = s.firstIndex(of: "."), let end = s[dot...].firstIndex(where: { $0 == "Z" || $0 == "+" || ($0 == "-") }) {
                let trimmed = String(s[..<dot]) + String(s[end...])
                parser.formatOptions = [.withInternetDateTime]
                if let d = parser.date(from: trimmed) { return .string(out.string(from: d)) }
            }
            return value
        default: return value
        }
    }

    /// `[{Key: k, Value: v}]` (or `key`/`value`, `TagKey`/`TagValue`) → `{k: v}`; numeric values become ints.
    public static func keyValueMap(_ value: JSONValue, numbers: Bool = false) -> JSONValue {
        if case .object(let o) = value, o["Key"] == nil, o["key"] == nil, o["TagKey"] == nil { return value }
        var out: [String: JSONValue] = [:]
        for entry in value.asList {
            let key = entry["Key"].stringValue ?? entry["key"].stringValue ?? entry["TagKey"].stringValue
            let v = [entry["Value"], entry["value"], entry["TagValue"]].first { !$0.isNull } ?? .null
            guard let key else { continue }
            if numbers, case .string(let s) = v, let i = Int64(s) { out[key] = .int(i) } else { out[key] = v }
        }
        return .object(out)
    }
}

/// RFC 4180 CSV, as in the IAM credential report: the first row names the columns.
enum CSV {
    static func rows(_ text: String) -> [JSONValue] {
        var records: [[String]] = []
        var field = ""
        var record: [String] = []
        var inQuotes = false
        var chars = Array(text.unicodeScalars)[...]
        while let c = chars.popFirst() {
            if inQuotes {
                if c == "\"" {
                    if chars.first == "\"" {
                        field.unicodeScalars.append("\"")
                        chars.removeFirst()
                    } else {
                        inQuotes = false
                    }
                } else {
                    field.unicodeScalars.append(c)
                }
            } else if c == "\"" {
                inQuotes = true
            } else if c == "," {
                record.append(field)
                field = ""
            } else if c == "\n" || c == "\r" {
                if c == "\r", chars.first == "\n" { chars.removeFirst() }
                record.append(field)
                field = ""
                records.append(record)
                record = []
            } else {
                field.unicodeScalars.append(c)
            }
        }
        if !field.isEmpty || !record.isEmpty {
            record.append(field)
            records.append(record)
        }
        guard let header = records.first else { return [] }
        return records.dropFirst().filter { $0 != [""] }.map { row in
            var o: [String: JSONValue] = [:]
            for (i, name) in header.enumerated() where i < row.count { o[name] = .string(row[i]) }
            return .object(o)
        }
    }
}
