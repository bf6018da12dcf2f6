public import AttestCore

/// A service's collection spec, loaded from `providers/<provider>/<service>.yaml`: what its API
/// calls are, how they page, and how their answers become graph nodes and edges.
/// The schema is documented in `docs/providers.md`.
public struct ServiceSpec: Sendable {
    public init(
        provider: String, id: String, file: String, settings: [String: String], settingLines: [String: Int] = [:],
        scope: String = ServiceSpec.defaultScope, scopeLine: Int = 1, operations: [String: OperationSpec],
        resources: [ResourceSpec]
    ) {
        self.provider = provider
        self.id = id
        self.file = file
        self.settings = settings
        self.settingLines = settingLines
        self.scope = scope
        self.scopeLine = scopeLine
        self.operations = operations
        self.resources = resources
    }

    public var provider: String
    public var id: String
    public var file: String
    /// Wire settings, provider-specific (`protocol`, `api_version`, `signing_name`, …).
    public var settings: [String: String]
    /// The line of each setting, for error messages.
    public var settingLines: [String: Int] = [:]
    /// The scope level the service runs at, one of its provider's levels (AWS: `regional`, once
    /// per scanned region of each account; `global`, once per account).
    public var scope: String
    /// The line of `scope:` (line 1 when it is left at its default).
    public var scopeLine: Int
    public var operations: [String: OperationSpec]
    public var resources: [ResourceSpec]
    /// Services scanned whenever this one is chosen with `--services` (S3 brings S3 Control,
    /// which collects the account's Block Public Access that S3 controls read).
    public var includes: [String] = []
    public var includesLine = 1
    /// Its provider's ids compare case-insensitively: ids and edge ends are lower-cased.
    public var caseInsensitiveIds = false

    /// The level a service has when its spec does not say.
    public static let defaultScope = "regional"
}

/// One API operation: its REST shape if any, its paging, where its items are.
public struct OperationSpec: Sendable {
    public var name: String
    /// The IAM-style permission the call needs (`s3:GetEncryptionConfiguration`); defaults to `<prefix>:<name>`.
    public var action: String?
    public var method: String?
    public var path: Template?
    public var query: [(String, Template)]
    public var headers: [(String, Template)]
    public var hostPrefix: Template?
    /// S3: the bucket the call addresses.
    public var bucket: Template?
    public var rawPayload: Bool
    public var paginate: Pagination?
    /// Where the list of items is in one page (`Users.member[]`).
    public var items: ValuePath?
    /// Default parameters, merged under the call site's.
    public var parameters: [String: ParameterValue]
    public var line: Int

    public struct Pagination: Sendable {
        /// The request parameter carrying the token.
        public var input: String
        /// Where the next token is in the answer.
        public var output: ValuePath
        /// Optional flag saying more pages exist (`IsTruncated`).
        public var more: ValuePath?
    }
}

/// A parameter value: a template rendered to a string, or a structured JSON value (JSON protocols).
public enum ParameterValue: Sendable {
    case template(Template)
    case json(JSONValue)
}

/// How one resource type is collected and normalised.
public struct ResourceSpec: Sendable {
    public var type: String
    public var line: Int
    /// Iterate over resources of this type collected earlier in the same service (`aws.iam.user`).
    public var parent: String?
    /// No list call: exactly one resource, built from ``id`` and the enrichments (account settings).
    public var singleton: Bool
    /// Only add attributes to resources that already exist with the same id; never create.
    public var mergeOnly: Bool
    public var list: CallSpec?
    /// A lower scope level to run this resource spec in, once per scope of that level inside
    /// the service's scope (`regional` inside a `global` service: once per region).
    public var fanOut: String?
    public var id: Template
    public var name: Template?
    /// Overrides the region of the resource (S3 buckets live where GetBucketLocation says).
    public var region: Template?
    /// Overrides the account the resource belongs to (an organization's member account, listed
    /// from the management account).
    public var account: Template?
    /// With ``parent`` naming another type: after the items under those parents, the same list
    /// runs again under each item found, down to the bottom of a tree (organizational units).
    public var descend: Bool = false
    public var filter: Condition?
    public var enrich: [EnrichmentSpec]
    public var tags: AttributeSpec?
    public var attributes: [(String, AttributeSpec)]
    public var edges: [EdgeSpec]
}

extension ResourceSpec {
    /// The enrichments in waves: each wave's enrichments read only answers of earlier waves
    /// (through their region, parameters, condition, `each` or selection), so a wave's calls can
    /// be made at once. In spec order within a wave.
    public var enrichmentWaves: [[Int]] {
        var waveOf: [String: Int] = [:]
        var waves: [[Int]] = []
        for (index, e) in enrich.enumerated() {
            let reads = e.readNames
            let wave = (reads.compactMap { waveOf[$0] }.max() ?? -1) + 1
            if wave == waves.count { waves.append([]) }
            waves[wave].append(index)
            // A later enrichment reading this name waits for the last one that sets it.
            waveOf[e.name] = max(waveOf[e.name] ?? -1, wave)
        }
        return waves
    }
}

extension EnrichmentSpec {
    /// The first keys of every path it reads from the context: the names of the answers it needs.
    var readNames: Set<String> {
        var paths: [ValuePath] = []
        if let region { paths += region.placeholderPaths }
        for value in call.parameters.values { if case .template(let t) = value { paths += t.placeholderPaths } }
        if let when {
            paths.append(when.path)
            paths += (when.equals?.placeholderPaths ?? []) + (when.notEquals?.placeholderPaths ?? [])
        }
        if let each { paths.append(each) }
        if case .path(let p, _, _, _)? = select { paths.append(p) } else if case .template(let t)? = select { paths += t.placeholderPaths }
        return Set(paths.compactMap { $0.segments.first?.key })
    }
}

/// A call made by a list or an enrichment.
public struct CallSpec: Sendable {
    public var operation: String
    public var parameters: [String: ParameterValue]
    /// Calls to make first: `GenerateCredentialReport` until its state is `COMPLETE`.
    public var before: [PollSpec]
    /// How list items are decoded when they are not a structure (`base64-csv`).
    public var decode: String?
    public var items: ValuePath?
    public var line: Int
}

public struct PollSpec: Sendable {
    public var operation: String
    public var path: ValuePath
    public var until: String
    public var attempts: Int
    public var intervalSeconds: Double
}

/// A per-resource call whose answer is kept under ``name`` for attributes and edges.
public struct EnrichmentSpec: Sendable {
    public var name: String
    public var call: CallSpec
    /// Call once per element of this path (each element is `each` in templates); the result is a list.
    public var each: ValuePath?
    /// Region to call in; defaults to the resource's collection region.
    public var region: Template?
    /// Error codes that mean "not configured" or "not applicable": the value is null, not an error.
    public var absentOn: Set<String>
    public var when: Condition?
    /// Post-processing of the answer before it is stored.
    public var select: AttributeSpec?
    public var line: Int
}

public struct Condition: Sendable {
    public var path: ValuePath
    public var equals: Template?
    public var notEquals: Template?
    public var exists: Bool?
    public var line: Int

    public func holds(in context: JSONValue) -> Bool {
        let value = path.value(in: context)
        if let exists, exists == value.isNull { return false }
        if let equals, value.stringValue != equals.render(context) { return false }
        if let notEquals, value.stringValue == notEquals.render(context) { return false }
        return true
    }
}

/// How an attribute's value is derived from the context.
public indirect enum AttributeSpec: Sendable {
    /// A value read at a path, optionally transformed; with ``fields`` each reached value is
    /// turned into an object of its own.
    case path(ValuePath, transform: Transform?, fields: [(String, AttributeSpec)]?, defaultValue: JSONValue?)
    case template(Template)
    case constant(JSONValue)
}

extension AttributeSpec {
    /// The attribute's value in `context` (an API item with its enrichments, or a Terraform
    /// resource's planned values).
    public func value(in context: JSONValue) -> JSONValue {
        let spec = self
        switch spec {
        case .constant(let v): return v
        case .template(let t): return t.render(context).map(JSONValue.string) ?? .null
        case .path(let path, let transform, let fields, let defaultValue):
            var value: JSONValue
            if let fields {
                let shape: (JSONValue) -> JSONValue = { element in
                    var o: [String: JSONValue] = [:]
                    var c = context.objectValue ?? [:]
                    c["value"] = element
                    for (name, f) in fields {
                        // Field paths are relative to the element; templates see the whole context too.
                        let v: JSONValue
                        if case .path = f { v = f.value(in: element) } else { v = f.value(in: .object(c)) }
                        o[name] = v
                    }
                    return .object(o)
                }
                value =
                    path.isMulti
                    ? .array(path.values(in: context).map(shape)) : path.value(in: context).isNull ? .null : shape(path.value(in: context))
            } else {
                value = path.value(in: context)
            }
            if let transform { value = transform.apply(value, context) }
            if value.isNull, let defaultValue { value = defaultValue }
            return value
        }
    }
}

/// An edge from the resource to whatever ``to`` names, once per ``each`` element if given.
public struct EdgeSpec: Sendable {
    public var kind: String
    public var each: ValuePath?
    public var to: AttributeSpec
    public var line: Int
}
