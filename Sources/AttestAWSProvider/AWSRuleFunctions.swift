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
        CELFunction("scp.denies", arity: 3...3) { args, call in try serviceControlPoliciesDeny(args, call, "scp.denies") },
        CELFunction("scp.allows", arity: 3...3) { args, call in
            guard case .bool(let denied) = try serviceControlPoliciesDeny(args, call, "scp.allows") else { return .bool(false) }
            return .bool(!denied)
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

    /// `scp.denies(account, action, context)`: whether the service control policies in force for an
    /// `aws.organizations.account` deny the action (``ServiceControlPolicies``). SCPs not enabled at
    /// the root, or the management account: false. What the answer needs and was not read is an error.
    static func serviceControlPoliciesDeny(_ args: [CELValue], _ call: CELCallContext, _ name: String) throws -> CELValue {
        let (host, id) = try RuleArguments.resource(args, call)
        let graph = host.context.graph
        let attributes = graph[id]?.attributes ?? args[0].json["attributes"].objectValue ?? [:]
        let action = try RuleArguments.string(args[1], name)
        var context: [String: [String]] = [:]
        switch args[2] {
        case .map:
            for (key, value) in args[2].json.objectValue ?? [:] {
                let values = value.asList.compactMap(\.stringValue)
                guard values.count == value.asList.count else { throw CELError("\(name): context values are strings or lists of strings") }
                context[key] = values
            }
        case .null: break
        default: throw CELError("\(name): the context is a map of condition keys to strings or lists of strings")
        }
        let roots = graph.resources(ofType: "aws.organizations.root")
        guard !roots.isEmpty else { throw CELError("not read: the organization's root (aws.organizations.root)") }
        for root in roots {
            guard let enabled = root.attributes["scp_enabled"]?.boolValue else {
                throw CELError("not read: whether service control policies are enabled at \(root.name)")
            }
            if !enabled { return .bool(false) }
        }
        guard let management = attributes["is_management"]?.boolValue else { throw CELError("not read: is_management of \(id)") }
        if management { return .bool(false) }
        guard let account = attributes["id"]?.stringValue, let ancestors = attributes["ancestors"]?.asList.compactMap(\.stringValue),
            attributes["ancestors"]?.isNull == false
        else { throw CELError("not read: where \(id) sits in the organization (ancestors)") }
        var byTarget: [String: [JSONValue]] = [:]
        for policy in graph.resources(ofType: "aws.organizations.policy")
        where policy.attributes["type"]?.stringValue == "SERVICE_CONTROL_POLICY" {
            guard let targets = policy.attributes["targets"], !targets.isNull else {
                throw CELError("not read: the targets of \(policy.name)")
            }
            guard let document = policy.attributes["document"], !document.isNull else {
                throw CELError("not read: the document of \(policy.name)")
            }
            for target in targets.asList.compactMap(\.stringValue) { byTarget[target, default: []].append(document) }
        }
        let path = ancestors + [account]
        // With SCPs enabled AWS keeps at least one attached to the root, every OU and every
        // account: a level without any means the policies or their targets were not all read.
        if let bare = path.first(where: { byTarget[$0] == nil }) {
            throw CELError("not read: no service control policy is recorded as attached to \(bare) (AWS keeps at least one on each)")
        }
        let levels = path.map { byTarget[$0] ?? [] }
        return .bool(
            try policy { try ServiceControlPolicies.denies(levels: levels, request: PolicyRequest(action: action, context: context)) })
    }
}
