@_exported import AttestCore

/// One cloud resource, normalised. Its ``id`` is canonical: the ARN on AWS, the ARM resource id on
/// Azure, the full resource name on Google Cloud.
public struct Resource: Sendable, Hashable, Codable {
    public var id: String
    /// From the taxonomy in `docs/taxonomy.md`: `aws.s3.bucket`, `aws.ec2.security-group`, …
    public var type: String
    /// AWS account id, Azure subscription id or GCP project id.
    public var account: String
    /// Region, or `global` for resources that have none (IAM).
    public var region: String
    public var name: String
    public var tags: [String: String]
    /// Normalised attributes; the keys a resource type has are listed in the taxonomy.
    public var attributes: [String: JSONValue]
    /// Attributes whose values are not known yet, as dotted paths from `attributes` through
    /// maps (`versioning`, `metadata_options.http_tokens`): a Terraform plan's values known only
    /// after apply. A rule that reads one is `unknown`, never a pass or a fail. Nil for what a
    /// cloud returned.
    public var unknownAttributes: [String]?

    public init(
        id: String, type: String, account: String, region: String, name: String,
        tags: [String: String] = [:], attributes: [String: JSONValue] = [:]
    ) {
        self.id = id
        self.type = type
        self.account = account
        self.region = region
        self.name = name
        self.tags = tags
        self.attributes = attributes
    }

    /// Folds another observation of the same resource into this one (attributes from several
    /// calls, or from several specs, about one id).
    public mutating func merge(_ other: Resource) {
        if name.isEmpty { name = other.name }
        if region.isEmpty || region == "global" && other.region != "global" && !other.region.isEmpty { region = other.region }
        tags.merge(other.tags) { _, new in new }
        attributes.merge(other.attributes) { old, new in new.isNull ? old : new }
    }
}

/// A typed, directed relation between two resources.
public struct Edge: Sendable, Hashable, Codable, Comparable {
    public var from: String
    public var to: String
    /// From the edge kinds in the taxonomy: `attached-to`, `encrypted-by`, `member-of`, …
    public var kind: String

    public init(from: String, to: String, kind: String) {
        self.from = from
        self.to = to
        self.kind = kind
    }

    public static func < (a: Edge, b: Edge) -> Bool {
        (a.from, a.kind, a.to) < (b.from, b.kind, b.to)
    }
}

/// The inventory graph: resources by id and edges indexed both ways.
///
/// Edges may point at ids that are not in the inventory (an AWS-managed policy, a key in another
/// account): the relation is still a fact worth keeping.
public struct InventoryGraph: Sendable {
    public private(set) var resources: [String: Resource] = [:]
    public private(set) var edges: Set<Edge> = []
    private var outgoing: [String: [Edge]] = [:]
    private var incoming: [String: [Edge]] = [:]
    private var byType: [String: [String]] = [:]
    private var byAccountAndType: [AccountType: [String]] = [:]

    private struct AccountType: Hashable, Sendable {
        var account: String
        var type: String
    }

    public init() {}

    public init(resources: [Resource], edges: [Edge]) {
        for r in resources { add(r) }
        for e in edges { add(e) }
    }

    public mutating func add(_ resource: Resource) {
        if var existing = resources[resource.id] {
            existing.merge(resource)
            resources[resource.id] = existing
        } else {
            resources[resource.id] = resource
            byType[resource.type, default: []].append(resource.id)
            byAccountAndType[AccountType(account: resource.account, type: resource.type), default: []].append(resource.id)
        }
    }

    public mutating func add(_ edge: Edge) {
        guard edges.insert(edge).inserted else { return }
        outgoing[edge.from, default: []].append(edge)
        incoming[edge.to, default: []].append(edge)
    }

    public subscript(id: String) -> Resource? { resources[id] }

    public var count: Int { resources.count }

    /// Resources of one type, in id order.
    public func resources(ofType type: String) -> [Resource] {
        (byType[type] ?? []).sorted().compactMap { resources[$0] }
    }

    /// Resources of one type in one account, in id order.
    public func resources(ofType type: String, inAccount account: String) -> [Resource] {
        (byAccountAndType[AccountType(account: account, type: type)] ?? []).sorted().compactMap { resources[$0] }
    }

    /// Every resource, ordered by type then id: the order of every report.
    public var sortedResources: [Resource] {
        resources.values.sorted { ($0.type, $0.id) < ($1.type, $1.id) }
    }

    public var sortedEdges: [Edge] { edges.sorted() }

    /// Edges leaving `id`, optionally of one kind.
    public func edges(from id: String, kind: String? = nil) -> [Edge] {
        (outgoing[id] ?? []).filter { kind == nil || $0.kind == kind }.sorted()
    }

    /// Edges arriving at `id`, optionally of one kind.
    public func edges(to id: String, kind: String? = nil) -> [Edge] {
        (incoming[id] ?? []).filter { kind == nil || $0.kind == kind }.sorted()
    }

    /// The resources `id` points at by `kind` (e.g. an instance's security groups).
    public func neighbours(of id: String, kind: String) -> [Resource] {
        edges(from: id, kind: kind).compactMap { resources[$0.to] }
    }

    /// The resources pointing at `id` by `kind` (e.g. the instances in a security group).
    public func referrers(of id: String, kind: String) -> [Resource] {
        edges(to: id, kind: kind).compactMap { resources[$0.from] }
    }

    /// Counts per resource type.
    public var countsByType: [(type: String, count: Int)] {
        byType.map { ($0.key, $0.value.count) }.sorted { $0.type < $1.type }
    }
}
