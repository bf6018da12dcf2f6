public import AttestCEL
import AttestControls
public import AttestCore
import Foundation

/// The CEL functions Azure controls call. Semantics in `docs/controls.md`.
public enum AzureRuleFunctions {
    public static let all: [CELFunction] = [
        // azure.nsgOpenToInternet(rules, protocol, port): an inbound rule allows `protocol`
        // (Tcp, Udp) on `port` (0: any port) from the whole internet, and no rule of higher
        // priority denies it first.
        CELFunction("azure.nsgOpenToInternet", arity: 3...3) { args, _ in
            let proto = try RuleArguments.string(args[1], "azure.nsgOpenToInternet")
            let port = try RuleArguments.int(args[2], "azure.nsgOpenToInternet")
            return .bool(try NSGRuleAnalysis.openToInternet(args[0].json, protocol: proto, port: port))
        }
    ]
}

/// Network security group rules as ARM returns them (flattened by the spec into
/// `direction`, `access`, `protocol`, `priority`, `source_address_prefix(es)` and
/// `destination_port_range(s)`), evaluated as Azure does: inbound rules in priority order, the
/// first that matches decides.
public enum NSGRuleAnalysis {
    /// Source prefixes that stand for every address on the internet.
    static let internet: Set<String> = ["*", "0.0.0.0", "0.0.0.0/0", "internet", "any", "::/0", "0::/0"]

    public static func openToInternet(_ rules: JSONValue, protocol wanted: String, port: Int) throws -> Bool {
        guard case .array(let list) = rules else {
            if rules.isNull { return false }
            throw CELError("azure.nsgOpenToInternet: expected a list of security rules")
        }
        let inbound = list.filter { ($0["direction"].stringValue ?? "").caseInsensitiveCompare("Inbound") == .orderedSame }
            .sorted { ($0["priority"].intValue ?? Int64.max) < ($1["priority"].intValue ?? Int64.max) }
        for rule in inbound {
            let proto = rule["protocol"].stringValue ?? "*"
            guard proto == "*" || proto.caseInsensitiveCompare(wanted) == .orderedSame else { continue }
            let sources = ([rule["source_address_prefix"]] + rule["source_address_prefixes"].asList).compactMap(\.stringValue)
            guard sources.contains(where: { internet.contains($0.lowercased()) }) else { continue }
            let ranges = ([rule["destination_port_range"]] + rule["destination_port_ranges"].asList).compactMap(\.stringValue)
            guard ranges.contains(where: { covers($0, port: port) }) else { continue }
            let allows = (rule["access"].stringValue ?? "").caseInsensitiveCompare("Allow") == .orderedSame
            // Asking about any port: a deny of some ports leaves the others to later rules.
            if port == 0, !allows, !ranges.contains("*") { continue }
            return allows
        }
        return false
    }

    /// `*`, `22`, `20-25`; port 0 asks whether any port is covered.
    static func covers(_ range: String, port: Int) -> Bool {
        let r = range.trimmingCharacters(in: .whitespaces)
        if r == "*" { return true }
        if port == 0 { return !r.isEmpty }
        if let single = Int(r) { return single == port }
        let bounds = r.split(separator: "-").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        if bounds.count == 2, let lo = bounds[0], let hi = bounds[1] { return lo <= port && port <= hi }
        return false
    }
}
