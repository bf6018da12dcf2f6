import AttestCore
import Foundation

/// Named conversions a spec applies to a value on its way into an attribute.
enum Transforms {
    static let known: Set<String> = [
        "bool", "int", "string", "lower", "json", "url-json", "exists", "count", "list", "map", "base64",
        "s3-region", "kms-key-arn", "csv-bool", "not-empty", "timestamp", "ec2-resource-arn", "keys",
    ]

    /// Applies `name`; `context` supplies account/region/partition where a transform needs them.
    static func apply(_ name: String, to value: JSONValue, context: JSONValue) -> JSONValue {
        switch name {
        case "bool":
            if case .array(let a) = value { return .array(a.map { apply(name, to: $0, context: context) }) }
            return value.boolValue.map(JSONValue.bool) ?? .null
        case "csv-bool":
            // Credential report cells: true/false, or N/A / not_supported / no_information.
            guard let s = value.stringValue?.lowercased() else { return .null }
            return s == "true" ? .bool(true) : s == "false" ? .bool(false) : .null
        case "int":
            if case .array(let a) = value { return .array(a.map { apply(name, to: $0, context: context) }) }
            return value.intValue.map(JSONValue.int) ?? .null
        case "string":
            return value.stringValue.map(JSONValue.string) ?? (value.isNull ? .null : .string(value.serialized()))
        case "lower":
            return value.stringValue.map { .string($0.lowercased()) } ?? value
        case "json":
            guard let s = value.stringValue, !s.isEmpty else { return value.isNull ? .null : value }
            return (try? JSONValue.parse(s)) ?? .null
        case "url-json":
            // IAM returns policy documents percent-encoded.
            guard let s = value.stringValue, !s.isEmpty else { return .null }
            let decoded = s.removingPercentEncoding ?? s
            return (try? JSONValue.parse(decoded)) ?? (try? JSONValue.parse(s)) ?? .null
        case "exists":
            if case .string(let s) = value { return .bool(!s.isEmpty) }
            return .bool(!value.isNull)
        case "not-empty":
            switch value {
            case .array(let a): return .bool(!a.isEmpty)
            case .object(let o): return .bool(!o.isEmpty)
            case .string(let s): return .bool(!s.isEmpty)
            case .null: return .bool(false)
            default: return .bool(true)
            }
        case "ec2-resource-arn":
            // vpc-…, subnet-…, eni-… → the ARN of that resource type.
            guard let s = value.stringValue else { return .null }
            // Longest prefix first: tgw-attach- before tgw-.
            let kinds = [("tgw-attach-", "transit-gateway-attachment"), ("subnet-", "subnet"), ("vpc-", "vpc"),
                         ("eni-", "network-interface"), ("sg-", "security-group"), ("vol-", "volume"),
                         ("igw-", "internet-gateway"), ("tgw-", "transit-gateway"), ("i-", "instance")]
            guard let kind = kinds.first(where: { s.hasPrefix($0.0) })?.1 else { return .null }
            let partition = context["partition"].stringValue ?? "aws"
            return .string("arn:\(partition):ec2:\(context["region"].stringValue ?? ""):\(context["account"].stringValue ?? ""):\(kind)/\(s)")
        case "timestamp":
            return timestamp(value)
        case "keys":
            // An object's keys, sorted: names without their values.
            guard case .object(let o) = value else { return value.isNull ? .array([]) : .null }
            return .array(o.keys.sorted().map(JSONValue.string))
        case "count":
            return .int(Int64(value.asList.count))
        case "list":
            return .array(value.asList)
        case "map":
            return keyValueMap(value, numbers: true)
        case "base64":
            guard let s = value.stringValue, let d = Data(base64Encoded: s) else { return .null }
            return .string(String(decoding: d, as: UTF8.self))
        case "s3-region":
            // GetBucketLocation: empty means us-east-1, EU means eu-west-1.
            let s = value.stringValue ?? ""
            if s.isEmpty { return "us-east-1" }
            if s == "EU" { return "eu-west-1" }
            return .string(s)
        case "kms-key-arn":
            guard let s = value.stringValue, !s.isEmpty else { return .null }
            if s.hasPrefix("arn:") { return .string(s) }
            let partition = context["partition"].stringValue ?? "aws"
            let region = context["region"].stringValue ?? ""
            let account = context["account"].stringValue ?? ""
            if s.hasPrefix("alias/") { return .string("arn:\(partition):kms:\(region):\(account):\(s)") }
            return .string("arn:\(partition):kms:\(region):\(account):key/\(s)")
        default:
            return value
        }
    }

    /// Every timestamp as ISO 8601 in UTC: JSON protocols send epoch seconds, XML ones ISO strings
    /// with or without fractions. Unparseable text is kept as it came.
    static func timestamp(_ value: JSONValue) -> JSONValue {
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
            if let dot = s.firstIndex(of: "."), let end = s[dot...].firstIndex(where: { $0 == "Z" || $0 == "+" || ($0 == "-" ) }) {
                let trimmed = String(s[..<dot]) + String(s[end...])
                parser.formatOptions = [.withInternetDateTime]
                if let d = parser.date(from: trimmed) { return .string(out.string(from: d)) }
            }
            return value
        default: return value
        }
    }

    /// `[{Key: k, Value: v}]` (or `key`/`value`, `TagKey`/`TagValue`) → `{k: v}`; numeric values become ints.
    static func keyValueMap(_ value: JSONValue, numbers: Bool = false) -> JSONValue {
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
                    if chars.first == "\"" { field.unicodeScalars.append("\""); chars.removeFirst() } else { inQuotes = false }
                } else { field.unicodeScalars.append(c) }
            } else if c == "\"" {
                inQuotes = true
            } else if c == "," {
                record.append(field); field = ""
            } else if c == "\n" || c == "\r" {
                if c == "\r", chars.first == "\n" { chars.removeFirst() }
                record.append(field); field = ""
                records.append(record); record = []
            } else {
                field.unicodeScalars.append(c)
            }
        }
        if !field.isEmpty || !record.isEmpty { record.append(field); records.append(record) }
        guard let header = records.first else { return [] }
        return records.dropFirst().filter { $0 != [""] }.map { row in
            var o: [String: JSONValue] = [:]
            for (i, name) in header.enumerated() where i < row.count { o[name] = .string(row[i]) }
            return .object(o)
        }
    }
}
