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
}
