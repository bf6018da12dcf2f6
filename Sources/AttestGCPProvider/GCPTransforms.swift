public import AttestCollect
import AttestCore
import Foundation

/// Transforms for Google Cloud answers.
enum GCPTransforms {
    static let all: [Transform] = [
        Transform("gcp-full-name") { value, _ in
            // A Compute selfLink (https://www.googleapis.com/compute/v1/projects/p/global/networks/n)
            // → the Cloud Asset Inventory name //compute.googleapis.com/projects/p/global/networks/n.
            guard let s = value.stringValue, !s.isEmpty else { return .null }
            for prefix in ["https://www.googleapis.com/compute/v1/", "https://compute.googleapis.com/compute/v1/"] where s.hasPrefix(prefix)
            {
                return .string("//compute.googleapis.com/" + s.dropFirst(prefix.count))
            }
            if s.hasPrefix("projects/") { return .string("//compute.googleapis.com/" + s) }
            return .string(s)
        },
        Transform("gcp-last-segment") { value, _ in
            guard let s = value.stringValue, let last = s.split(separator: "/").last else { return .null }
            return .string(String(last))
        },
    ]
}
