public import AttestCollect
public import AttestCore
public import Foundation
import Yams

/// How one provider's Terraform resources become inventory nodes
/// (`providers/terraform/<provider>.yaml`): Terraform type → attest type, attribute → the
/// attribute path controls read, with the transforms collection uses. Data, not code: adding a
/// Terraform resource type is an entry in that file (see `docs/plan.md`).
public struct PlanMapping: Sendable {
    /// The attest provider whose types these are (`aws`).
    public var provider: String
    public var file: String
    /// Terraform resource type → its mapping.
    public var resources: [String: TypeMapping]

    /// One Terraform resource type.
    public struct TypeMapping: Sendable {
        public var terraformType: String
        /// The attest type of the node it makes; nil when it merges into a parent (``into``).
        public var nodeType: String?
        /// For a split resource (`aws_s3_bucket_versioning`): the parent whose node it merges into.
        public var into: Into?
        public var name: AttributeSpec?
        public var attributes: [(String, AttributeMapping)]
        /// Elements it adds to a list attribute of its parent (a security group's rule).
        public var append: [Append]
        public var edges: [EdgeMapping]
        /// Nodes of their own made from its blocks (an instance's volumes).
        public var children: [Child]
        /// Attributes computed from the finished graph: `attachment_count` = edges of a kind arriving.
        public var counts: [(String, String)]
        /// Arguments that hold another resource's id or ARN (`references:`, and every attribute
        /// with `reference: true`): when one is known only after apply, it reads as the address of
        /// the resource its expression references.
        public var referenceArguments: [ValuePath] = []
        public var line: Int
    }

    /// `into: {resource: aws_s3_bucket, by: bucket}`: the parent is the resource of that type that
    /// the `by` argument references, or the one whose name is its value.
    public struct Into: Sendable {
        public var terraformType: String
        public var by: ValuePath
    }

    /// An attribute: its spec over the planned values, and what to do when they are unknown.
    public struct AttributeMapping: Sendable {
        public var spec: AttributeSpec
        /// The value a resource created without this argument gets (AWS's documented default),
        /// used when the provider leaves it to be computed and the configuration does not set it.
        public var created: JSONValue?
        /// The argument holds another resource's id or ARN: when that is known only after apply,
        /// the attribute is the referenced resource's address (its node id in the plan graph).
        public var reference: Bool
        /// Only `created:` given: the argument does not exist on this resource type (a bucket's
        /// Block Public Access lives in a split resource), so a resource created without that
        /// split resource gets AWS's default and an existing one is unknown.
        public var createdOnly: Bool = false
        /// Read when the spec's value is null (an ACL given as grants rather than a canned name).
        public var otherwise: AttributeSpec?
        public var line: Int
    }

    public struct Append: Sendable {
        public var attribute: String
        public var when: Condition?
        public var fields: [(String, AttributeSpec)]
    }

    /// An edge to what the argument at ``to`` references (or names, when it holds a literal id).
    public struct EdgeMapping: Sendable {
        public var kind: String
        public var to: ValuePath
        /// Leave out literal values; only references to resources in the plan make edges.
        public var referencesOnly: Bool
    }

    public struct Child: Sendable {
        public var nodeType: String
        public var each: ValuePath
        /// The block always exists once applied (an instance's root volume), even when the
        /// provider computes it: one child with every attribute unknown stands for it.
        public var always: Bool
        /// The edge from each child to the resource.
        public var edge: String?
        public var attributes: [(String, AttributeSpec)]
    }

    /// The provider's mapping file; every mistake names the file and line.
    public static func load(file: URL, transforms: TransformRegistry) throws -> PlanMapping {
        let text: String
        do { text = try String(contentsOf: file, encoding: .utf8) } catch {
            throw SpecError(file: file.path, line: 1, message: "cannot read the Terraform mapping: \(error.localizedDescription)")
        }
        return try parse(text, file: file.path, transforms: transforms)
    }

    public static func parse(_ text: String, file: String, transforms: TransformRegistry) throws -> PlanMapping {
        let root = try SpecLoader.parse(text, file: file).map(["provider", "resources"])
        let provider = try root.string("provider")
        var resources: [String: TypeMapping] = [:]
        for (tfType, node) in try root.optionalMap("resources", allowed: nil)?.entries ?? [] {
            resources[tfType] = try typeMapping(tfType, node, transforms: transforms, provider: provider)
        }
        for (tfType, m) in resources {
            if let into = m.into, resources[into.terraformType]?.nodeType == nil {
                throw SpecError(
                    file: file, line: m.line, message: "\(tfType): into names \(into.terraformType), which makes no node of its own")
            }
        }
        return PlanMapping(provider: provider, file: file, resources: resources)
    }

    static func typeMapping(_ tfType: String, _ node: YAMLNode, transforms: TransformRegistry, provider: String) throws -> TypeMapping {
        let m = try node.map(["type", "into", "name", "attributes", "append", "edges", "children", "counts", "references"])
        let nodeType = try m.optionalString("type")
        var into: Into?
        if let i = try m.optionalMap("into", allowed: ["resource", "by"]) {
            into = Into(terraformType: try i.string("resource"), by: ValuePath(try i.string("by")))
        }
        guard (nodeType == nil) != (into == nil) else {
            throw node.error("\(tfType): give type (the node it makes) or into (the parent it merges into), one of them")
        }
        if let nodeType {
            guard nodeType.hasPrefix(provider + "."), nodeType.split(separator: ".").count >= 3 else {
                throw m.node("type")!.error("\(nodeType) is not a \(provider) resource type (\(provider).service.resource)")
            }
        }
        var attributes: [(String, AttributeMapping)] = []
        for (name, a) in try m.optionalMap("attributes", allowed: nil)?.entries ?? [] {
            attributes.append((name, try attribute(a, transforms)))
        }
        var append: [Append] = []
        for a in try m.node("append")?.sequence() ?? [] {
            let am = try a.map(["attribute", "when", "fields"])
            guard into != nil else { throw a.error("append needs into: it adds to the parent's list") }
            let fields =
                try am.optionalMap("fields", allowed: nil)?.entries.map { ($0.0, try SpecLoader.attribute($0.1, transforms)) } ?? []
            append.append(
                Append(attribute: try am.string("attribute"), when: try am.node("when").map(SpecLoader.condition), fields: fields))
        }
        var edges: [EdgeMapping] = []
        for e in try m.node("edges")?.sequence() ?? [] {
            let em = try e.map(["kind", "to", "references_only"])
            edges.append(
                EdgeMapping(
                    kind: try em.string("kind"), to: ValuePath(try em.string("to")),
                    referencesOnly: try em.optionalBool("references_only") ?? false))
        }
        var children: [Child] = []
        for c in try m.node("children")?.sequence() ?? [] {
            let cm = try c.map(["type", "each", "always", "edge", "attributes"])
            let fields =
                try cm.optionalMap("attributes", allowed: nil)?.entries.map { ($0.0, try SpecLoader.attribute($0.1, transforms)) } ?? []
            children.append(
                Child(
                    nodeType: try cm.string("type"), each: ValuePath(try cm.string("each")), always: try cm.optionalBool("always") ?? false,
                    edge: try cm.optionalString("edge"), attributes: fields))
        }
        var counts: [(String, String)] = []
        for (name, c) in try m.optionalMap("counts", allowed: nil)?.entries ?? [] {
            counts.append((name, try c.map(["edges_in"]).string("edges_in")))
        }
        var mapping = TypeMapping(
            terraformType: tfType, nodeType: nodeType, into: into,
            name: try m.node("name").map { try SpecLoader.attribute($0, transforms) },
            attributes: attributes, append: append, edges: edges, children: children, counts: counts, line: node.line)
        mapping.referenceArguments = try (m.node("references")?.sequence() ?? []).map { ValuePath(try $0.string()) }
        for (_, a) in attributes where a.reference {
            if case .path(let p, _, nil, _) = a.spec { mapping.referenceArguments.append(p) }
        }
        return mapping
    }

    /// An attribute spec as collection reads it, plus `created:` and `reference:`.
    static func attribute(_ node: YAMLNode, _ transforms: TransformRegistry) throws -> AttributeMapping {
        guard node.node.mapping != nil else {
            return AttributeMapping(spec: try SpecLoader.attribute(node, transforms), created: nil, reference: false, line: node.line)
        }
        let m = try node.map(["path", "transform", "fields", "default", "value", "template", "created", "reference", "otherwise"])
        var rest = m
        rest.entries.removeAll { ["created", "reference", "otherwise"].contains($0.0) }
        let created = try m.node("created").map { try $0.json() }
        let createdOnly = rest.entries.isEmpty
        if createdOnly && created == nil { throw node.error("an attribute needs a path, value, template or created") }
        var mapping = AttributeMapping(
            spec: createdOnly ? .constant(.null) : try SpecLoader.attribute(YAMLNode(mapFrom: rest, like: node), transforms),
            created: created, reference: try m.optionalBool("reference") ?? false, line: node.line)
        mapping.createdOnly = createdOnly
        mapping.otherwise = try m.node("otherwise").map { try SpecLoader.attribute($0, transforms) }
        return mapping
    }

    /// The attest types this mapping makes, for `attest controls list --plan`.
    public var nodeTypes: Set<String> {
        Set(resources.values.compactMap(\.nodeType) + resources.values.flatMap { $0.children.map(\.nodeType) })
    }

    /// The attributes it can give each attest type (from every resource type that makes or merges into it).
    public var attributesByType: [String: Set<String>] {
        var out: [String: Set<String>] = [:]
        for m in resources.values {
            let type = m.nodeType ?? m.into.flatMap { resources[$0.terraformType]?.nodeType }
            guard let type else { continue }
            out[type, default: []].formUnion(m.attributes.map(\.0) + m.append.map(\.attribute) + m.counts.map(\.0))
            for c in m.children { out[c.nodeType, default: []].formUnion(c.attributes.map(\.0)) }
        }
        return out
    }
}
