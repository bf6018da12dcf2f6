public import AttestCollect
import AttestCore
import Foundation

/// The transforms Azure specs add to the generic ones: ARM resource ids, which compare
/// case-insensitively, as the lower-cased ids the graph stores, and the ids of a resource's
/// resource group and subscription.
public enum AzureTransforms {
    /// An id (or a list of ids) lower-cased; empty and missing ids are null.
    static func armId(_ value: JSONValue) -> JSONValue {
        switch value {
        case .string(let s): s.isEmpty ? .null : .string(s.lowercased())
        case .array(let a): .array(a.map(armId).filter { !$0.isNull })
        default: .null
        }
    }

    public static let all: [Transform] = [
        Transform("arm-id") { value, _ in armId(value) },
        Transform("arm-resource-group") { value, _ in
            // /subscriptions/S/resourceGroups/R/providers/… → /subscriptions/s/resourcegroups/r
            guard let s = value.stringValue?.lowercased() else { return .null }
            let parts = s.split(separator: "/", omittingEmptySubsequences: true)
            guard parts.count >= 4, parts[0] == "subscriptions", parts[2] == "resourcegroups" else { return .null }
            return .string("/subscriptions/\(parts[1])/resourcegroups/\(parts[3])")
        },
        Transform("arm-subscription") { value, _ in
            guard let s = value.stringValue?.lowercased() else { return .null }
            let parts = s.split(separator: "/", omittingEmptySubsequences: true)
            guard parts.count >= 2, parts[0] == "subscriptions" else { return .null }
            return .string("/subscriptions/\(parts[1])")
        },
        Transform("arm-lock-scope") { value, _ in
            // …/providers/Microsoft.Authorization/locks/NAME → the locked scope (a subscription, group or resource).
            guard let s = value.stringValue?.lowercased(),
                let r = s.range(of: "/providers/microsoft.authorization/locks/", options: .backwards)
            else { return .null }
            return .string(String(s[..<r.lowerBound]))
        },
        Transform("arm-last-segment") { value, _ in
            guard let s = value.stringValue, let last = s.split(separator: "/").last else { return .null }
            return .string(last.lowercased())
        },
        Transform("arm-parent") { value, _ in
            // The resource an ARM child belongs to: …/servers/s1/firewallRules/r1 → …/servers/s1
            guard let s = value.stringValue?.lowercased() else { return .null }
            var parts = s.split(separator: "/", omittingEmptySubsequences: true)
            guard parts.count >= 10 else { return .null }
            parts.removeLast(2)
            return .string("/" + parts.joined(separator: "/"))
        },
    ]
}
