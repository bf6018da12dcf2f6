public import AttestCEL
import AttestControls
import AttestCore
import AttestInventory
import AttestPolicy

/// The CEL functions AWS controls call: IAM policy analysis (`iam.*`) and security-group and
/// network-ACL analysis (`aws.*`). Semantics in `docs/controls.md`.
public enum AWSRuleFunctions {
    public static let all: [CELFunction] = [
        CELFunction("iam.isAdmin", arity: 1...1) { args, _ in
            guard let doc = try document(args[0]) else { return .bool(false) }
            return .bool(try policy { try IAMPolicyAnalysis.isAdmin(doc) })
        },
        CELFunction("iam.allows", arity: 3...3) { args, _ in
            guard let doc = try document(args[0]) else { return .bool(false) }
            let action = try RuleArguments.string(args[1], "iam.allows")
            let resource = try RuleArguments.string(args[2], "iam.allows")
            return .bool(try policy { try IAMPolicyAnalysis.allows(doc, action: action, resource: resource) })
        },
        CELFunction("iam.isPublic", arity: 1...1) { args, _ in
            guard let doc = try document(args[0]) else { return .bool(false) }
            return .bool(try policy { try IAMPolicyAnalysis.isPublic(doc) })
        },
        CELFunction("iam.allowsPublic", arity: 2...2) { args, _ in
            guard let doc = try document(args[0]) else { return .bool(false) }
            let action = try RuleArguments.string(args[1], "iam.allowsPublic")
            return .bool(try policy { try IAMPolicyAnalysis.allowsPublic(doc, action: action) })
        },
        CELFunction("iam.deniesInsecureTransport", arity: 1...1) { args, _ in
            guard let doc = try document(args[0]) else { return .bool(false) }
            return .bool(try policy { try IAMPolicyAnalysis.deniesInsecureTransport(doc) })
        },
        CELFunction("iam.policies", arity: 1...1) { args, call in
            let (host, id) = try RuleArguments.resource(args, call)
            return .list(policyDocuments(of: id, resourceValue: args[0], graph: host.context.graph))
        },
        CELFunction("aws.ingressOpenToInternet", arity: 2...2) { args, _ in
            let port = try RuleArguments.int(args[1], "aws.ingressOpenToInternet")
            return .bool(try policy { try NetworkRuleAnalysis.ingressOpenToInternet(args[0].json, port: port) })
        },
        CELFunction("aws.naclIngressOpenToInternet", arity: 2...2) { args, _ in
            let port = try RuleArguments.int(args[1], "aws.naclIngressOpenToInternet")
            return .bool(try policy { try NetworkRuleAnalysis.naclIngressOpenToInternet(args[0].json, port: port) })
        },
    ]

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
