public import AttestCEL
public import AttestInventory
import AttestPolicy
import Foundation

/// What rules evaluate against: the inventory graph and the scan's time. Shared by every
/// evaluation of a scan; immutable.
public final class RuleContext: Sendable {
    public let graph: InventoryGraph
    public let now: CELTimestamp

    public init(graph: InventoryGraph, now: CELTimestamp) {
        self.graph = graph
        self.now = now
    }
}

/// The host value handed to attest's CEL functions for one evaluation: the context and the
/// account of the resource under evaluation (which `resources(type)` is limited to).
struct RuleHost: Sendable {
    let context: RuleContext
    let account: String
}

/// The CEL environment every control rule is compiled in: the variables `resource`, `params`
/// and `now`, and attest's graph, IAM and network functions (see `docs/controls.md`).
public enum RuleEnvironment {
    public static let variables = ["resource", "params", "now"]

    public static let shared = CELEnvironment(variables: variables, functions: functions)

    static let functions: [CELFunction] = [
        CELFunction("related", arity: 2...2, receiverStyle: true, globalStyle: false) { args, call in
            let (host, id) = try graphArguments(args, call)
            return .list(host.context.graph.neighbours(of: id, kind: try text(args[1], "related")).map(CELValue.init(resource:)))
        },
        CELFunction("relatedIds", arity: 2...2, receiverStyle: true, globalStyle: false) { args, call in
            let (host, id) = try graphArguments(args, call)
            return .list(host.context.graph.edges(from: id, kind: try text(args[1], "relatedIds")).map { .string($0.to) })
        },
        CELFunction("referrers", arity: 2...2, receiverStyle: true, globalStyle: false) { args, call in
            let (host, id) = try graphArguments(args, call)
            return .list(host.context.graph.referrers(of: id, kind: try text(args[1], "referrers")).map(CELValue.init(resource:)))
        },
        CELFunction("resources", arity: 1...1) { args, call in
            let host = try ruleHost(call)
            let type = try text(args[0], "resources")
            return .list(host.context.graph.resources(ofType: type, inAccount: host.account).map(CELValue.init(resource:)))
        },
        CELFunction("daysSince", arity: 1...1) { args, call in
            let host = try ruleHost(call)
            let start: CELTimestamp
            switch args[0] {
            case .timestamp(let t): start = t
            case .string(let s):
                guard let t = CELTimestamp(rfc3339: s) else { throw CELError("daysSince: '\(s)' is not a timestamp") }
                start = t
            case .null: throw CELError("daysSince: the time is null (not recorded)")
            default: throw CELError("daysSince: expected a timestamp or an RFC 3339 string")
            }
            let seconds = host.context.now.seconds - start.seconds
            return .int(seconds >= 0 ? seconds / 86_400 : -((-seconds + 86_399) / 86_400))
        },
        CELFunction("iam.isAdmin", arity: 1...1) { args, _ in
            guard let doc = try document(args[0]) else { return .bool(false) }
            return .bool(try policy { try IAMPolicyAnalysis.isAdmin(doc) })
        },
        CELFunction("iam.allows", arity: 3...3) { args, _ in
            guard let doc = try document(args[0]) else { return .bool(false) }
            let action = try text(args[1], "iam.allows"), resource = try text(args[2], "iam.allows")
            return .bool(try policy { try IAMPolicyAnalysis.allows(doc, action: action, resource: resource) })
        },
        CELFunction("iam.isPublic", arity: 1...1) { args, _ in
            guard let doc = try document(args[0]) else { return .bool(false) }
            return .bool(try policy { try IAMPolicyAnalysis.isPublic(doc) })
        },
        CELFunction("iam.allowsPublic", arity: 2...2) { args, _ in
            guard let doc = try document(args[0]) else { return .bool(false) }
            let action = try text(args[1], "iam.allowsPublic")
            return .bool(try policy { try IAMPolicyAnalysis.allowsPublic(doc, action: action) })
        },
        CELFunction("iam.deniesInsecureTransport", arity: 1...1) { args, _ in
            guard let doc = try document(args[0]) else { return .bool(false) }
            return .bool(try policy { try IAMPolicyAnalysis.deniesInsecureTransport(doc) })
        },
        CELFunction("iam.policies", arity: 1...1) { args, call in
            let (host, id) = try graphArguments(args, call)
            return .list(policyDocuments(of: id, resourceValue: args[0], graph: host.context.graph))
        },
        CELFunction("aws.ingressOpenToInternet", arity: 2...2) { args, _ in
            let port = try integer(args[1], "aws.ingressOpenToInternet")
            return .bool(try policy { try NetworkRuleAnalysis.ingressOpenToInternet(args[0].json, port: port) })
        },
        CELFunction("aws.naclIngressOpenToInternet", arity: 2...2) { args, _ in
            let port = try integer(args[1], "aws.naclIngressOpenToInternet")
            return .bool(try policy { try NetworkRuleAnalysis.naclIngressOpenToInternet(args[0].json, port: port) })
        },
    ]

    static func ruleHost(_ call: CELCallContext) throws -> RuleHost {
        guard let host = call.host as? RuleHost else { throw CELError("graph functions need an inventory (none was given)") }
        return host
    }

    static func graphArguments(_ args: [CELValue], _ call: CELCallContext) throws -> (RuleHost, String) {
        let host = try ruleHost(call)
        guard let id = args[0].resourceID else { throw CELError("expected a resource (a map with an id)") }
        return (host, id)
    }

    static func text(_ value: CELValue, _ function: String) throws -> String {
        guard case .string(let s) = value else { throw CELError("\(function): expected a string argument") }
        return s
    }

    static func integer(_ value: CELValue, _ function: String) throws -> Int {
        switch value {
        case .int(let i): return Int(i)
        case .uint(let u) where u <= UInt64(Int.max): return Int(u)
        default: throw CELError("\(function): expected an int argument")
        }
    }

    /// A policy argument: null means "no policy"; a map or the policy's JSON text are analysed.
    static func document(_ value: CELValue) throws -> JSONValue? {
        switch value {
        case .null: return nil
        case .map, .string: return value.json
        default: throw CELError("expected a policy document (a map or JSON text)")
        }
    }

    static func policy<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as PolicyDocumentError {
            throw CELError("malformed policy: \(error.description)")
        }
    }

    /// The documents that apply to an IAM identity: inline, attached (when collected) and, for a
    /// user, its groups' inline and attached policies.
    static func policyDocuments(of id: String, resourceValue: CELValue, graph: InventoryGraph) -> [CELValue] {
        var documents: [CELValue] = []
        func add(identity id: String, attributes: [String: JSONValue]?) {
            for inline in attributes?["inline_policies"]?.asList ?? [] where !inline["document"].isNull {
                documents.append(CELValue(json: inline["document"]))
            }
            for policy in graph.neighbours(of: id, kind: "has-policy") {
                if let doc = policy.attributes["document"], !doc.isNull { documents.append(CELValue(json: doc)) }
            }
        }
        let attributes = graph[id]?.attributes ?? resourceValue.json["attributes"].objectValue
        add(identity: id, attributes: attributes)
        for group in graph.neighbours(of: id, kind: "member-of") {
            add(identity: group.id, attributes: group.attributes)
        }
        return documents
    }
}
