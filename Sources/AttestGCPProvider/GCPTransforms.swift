public import AttestCollect
import AttestCore
import Foundation

/// Transforms for Google Cloud answers.
enum GCPTransforms {
    static let all: [Transform] = [
        Transform("gcp-full-name") { value, _ in fullName(value) },
        Transform("gcp-last-segment") { value, _ in
            guard let s = value.stringValue, let last = s.split(separator: "/").last else { return .null }
            return .string(String(last))
        },
        Transform("gcp-kms-key") { value, _ in kmsKey(value) },
        Transform("gcp-duration-seconds") { value, _ in durationSeconds(value) },
        Transform("gcp-sink-destination") { value, _ in sinkDestination(value) },
        Transform("gcp-iam-member") { value, _ in iamMember(value) },
        Transform("sql-engine") { value, _ in
            guard let version = value.stringValue?.uppercased() else { return .null }
            if version.hasPrefix("MYSQL") { return "mysql" }
            if version.hasPrefix("POSTGRES") { return "postgres" }
            if version.hasPrefix("SQLSERVER") { return "sqlserver" }
            return .null
        },
    ]

    /// A Compute selfLink (`https://www.googleapis.com/compute/v1/projects/p/global/networks/n`) or
    /// relative name (`projects/p/global/networks/n`) as the Cloud Asset Inventory name
    /// `//compute.googleapis.com/projects/p/global/networks/n`; lists element by element.
    static func fullName(_ value: JSONValue) -> JSONValue {
        if case .array(let list) = value { return .array(list.map(fullName)) }
        guard let s = value.stringValue, !s.isEmpty else { return .null }
        if s.hasPrefix("https://"), let range = s.range(of: "/compute/v1/") {
            return .string("//compute.googleapis.com/" + s[range.upperBound...])
        }
        if s.hasPrefix("projects/") { return .string("//compute.googleapis.com/" + s) }
        return .string(s)
    }

    /// A KMS key or key version name (`projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1`)
    /// as the key's full resource name, version dropped: `//cloudkms.googleapis.com/projects/p/…/cryptoKeys/k`.
    static func kmsKey(_ value: JSONValue) -> JSONValue {
        if case .array(let list) = value { return .array(list.map(kmsKey)) }
        guard var s = value.stringValue?.trimmingCharacters(in: .whitespaces), !s.isEmpty else { return .null }
        if s.hasPrefix("//cloudkms.googleapis.com/") { s.removeFirst("//cloudkms.googleapis.com/".count) }
        if let range = s.range(of: "/cryptoKeyVersions/") { s = String(s[..<range.lowerBound]) }
        guard s.hasPrefix("projects/"), s.contains("/cryptoKeys/") else { return .null }
        return .string("//cloudkms.googleapis.com/" + s)
    }

    /// An IAM policy member as the id of the principal: a user-managed service account
    /// (`serviceAccount:x@p.iam.gserviceaccount.com`) as its full resource name
    /// (`//iam.googleapis.com/projects/p/serviceAccounts/x@p.iam.gserviceaccount.com`), so the edge
    /// reaches the collected account; any other member (`user:…`, `group:…`, `domain:…`,
    /// `allUsers`, a Google-managed account) as written. Lists element by element.
    static func iamMember(_ value: JSONValue) -> JSONValue {
        if case .array(let list) = value { return .array(list.map(iamMember)) }
        guard let member = value.stringValue?.trimmingCharacters(in: .whitespaces), !member.isEmpty else { return .null }
        let prefix = "serviceAccount:"
        guard member.hasPrefix(prefix) else { return .string(member) }
        let email = String(member.dropFirst(prefix.count))
        let parts = email.split(separator: "@")
        guard parts.count == 2, parts[1].hasSuffix(".iam.gserviceaccount.com") else { return .string(member) }
        let project = parts[1].dropLast(".iam.gserviceaccount.com".count)
        guard !project.isEmpty, !project.contains(".") else { return .string(member) }
        // A Google-managed service agent (service-123456789012@compute-system…, bq-1234…@bigquery-encryption…)
        // carries a project number in its name and lives in a project of Google's: kept as written.
        let digits = parts[0].reversed().prefix { $0.isNumber }.count
        if digits >= 6 || parts[0].hasPrefix("service-") { return .string(member) }
        return .string("//iam.googleapis.com/projects/\(project)/serviceAccounts/\(email)")
    }

    /// A protobuf Duration as JSON writes it (`"7776000s"`, `"3.5s"`) as whole seconds.
    static func durationSeconds(_ value: JSONValue) -> JSONValue {
        if case .array(let list) = value { return .array(list.map(durationSeconds)) }
        guard let s = value.stringValue?.trimmingCharacters(in: .whitespaces), s.hasSuffix("s"), let seconds = Double(s.dropLast()),
            seconds.isFinite, abs(seconds) < 1e15
        else { return .null }
        return .int(Int64(seconds.rounded(.down)))
    }

    /// A log sink's destination (`storage.googleapis.com/b`, `bigquery.googleapis.com/projects/p/datasets/d`)
    /// as the full resource name of what it writes to (`//storage.googleapis.com/projects/_/buckets/b`).
    static func sinkDestination(_ value: JSONValue) -> JSONValue {
        guard let s = value.stringValue?.trimmingCharacters(in: .whitespaces), !s.isEmpty, let slash = s.firstIndex(of: "/") else {
            return .null
        }
        let host = s[..<slash]
        let rest = s[s.index(after: slash)...]
        guard host.hasSuffix(".googleapis.com"), !rest.isEmpty else { return .null }
        if host == "storage.googleapis.com" { return .string("//storage.googleapis.com/projects/_/buckets/\(rest)") }
        return .string("//\(host)/\(rest)")
    }
}
