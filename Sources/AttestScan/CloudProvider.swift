public import AttestCEL
public import AttestCollect
import AttestControls
public import AttestCore
public import AttestEvidence
public import AttestHTTP
public import Logging

/// A scope level of a provider: the name service specs give in `scope:` and `fan_out:`, and
/// whether its scopes are regions (a failed call there blames one region) or account-wide.
public struct ScopeLevel: Sendable, Hashable {
    public var name: String
    public var isRegional: Bool
    /// Collected once per scanned account (AWS `global` and `regional`), not once above them
    /// (an organization): an account that cannot be entered leaves these levels' types unknown.
    public var isPerAccount: Bool

    public init(_ name: String, regional: Bool, perAccount: Bool = true) {
        self.name = name
        self.isRegional = regional
        self.isPerAccount = perAccount
    }
}

/// A cloud behind the scan pipeline. Everything the generic targets need of a cloud comes
/// through here: the checks of its specs, a connection made from a target's options, the
/// transforms and rule functions its specs and controls use, how its results appear in
/// evidence, and its permissions document. Adding a cloud is a conforming type registered in
/// ``ProviderRegistry``, its specs under `providers/<id>/` and its controls under `controls/<id>/`.
public protocol CloudProvider: Sendable {
    /// The id in specs, resource types (`aws.s3.bucket`), commands (`attest scan aws`) and config.
    var id: String { get }
    /// The levels its service specs may name (AWS: `global`, `regional`).
    var scopeLevels: [ScopeLevel] { get }
    /// Transforms its specs may name beyond ``TransformRegistry/generic``.
    var transforms: [Transform] { get }
    /// CEL functions its controls may call beyond the graph functions.
    var ruleFunctions: [CELFunction] { get }
    /// How its results name their cloud in OCSF evidence.
    var evidenceCloud: any EvidenceCloud { get }
    /// The provider-specific keys a target may set (`role_arn`), besides ``ScanTarget``'s own.
    var targetOptionKeys: [String] { get }

    /// Checks the provider-specific parts of its specs (wire settings), naming file and line.
    func validate(_ spec: ProviderSpec) throws

    /// Opens a connection for one target: credentials, endpoints, the caller. A credential or
    /// configuration mistake throws ``ScanSetupError``.
    func connect(_ target: ScanTarget, spec: ProviderSpec, context: ConnectionContext) async throws -> any ProviderConnection

    /// The least-privilege permissions document for a scan of `services` (nil: all).
    func permissions(spec: ProviderSpec, services: [String]?) -> JSONValue

    /// Opens an evidence store at a URL of a scheme this provider serves (`s3://`); nil when
    /// the scheme is not one of its own.
    func openEvidenceStore(_ url: String, options: EvidenceStoreOptions, context: ConnectionContext) async throws -> (any EvidenceStore)?
}

extension CloudProvider {
    public var transforms: [Transform] { [] }
    public var ruleFunctions: [CELFunction] { [] }
    public var evidenceCloud: any EvidenceCloud { PlainEvidenceCloud(provider: id) }
    public var targetOptionKeys: [String] { [] }
    public func validate(_ spec: ProviderSpec) throws {}
    public func openEvidenceStore(_ url: String, options: EvidenceStoreOptions, context: ConnectionContext) async throws -> (
        any EvidenceStore
    )? { nil }
}

/// A provider's open connection for one target.
public protocol ProviderConnection: Sendable {
    /// The caller the collection engine sends every spec operation through.
    var caller: any ServiceCaller { get }
    /// What to collect: the accounts, regions and scopes, who the credentials are, and the
    /// errors of discovery (a region list that could not be read). Throws ``ScanSetupError``
    /// when nothing can be scanned (no identity).
    func discover(spec: ProviderSpec, target: ScanTarget, engine: CollectionEngine) async throws -> Discovery
}

/// What a provider's discovery found for one target.
public struct Discovery: Sendable {
    public var target: CollectionTarget
    /// Who the credentials belong to (an ARN, a client id, a service account).
    public var principal: String?
    /// The regions (locations) that will be scanned, for reports.
    public var regions: [String]
    public var errors: [CollectionError]
    /// What discovery already collected to decide what to scan (an organization's accounts and
    /// policies): merged into the target's inventory, and not collected again.
    public var collected: CollectionResult?

    public init(
        target: CollectionTarget, principal: String?, regions: [String], errors: [CollectionError] = [],
        collected: CollectionResult? = nil
    ) {
        self.target = target
        self.principal = principal
        self.regions = regions
        self.errors = errors
        self.collected = collected
    }
}

/// What a provider's connection may use: the session's transports, counters and logger, and
/// the environment it reads credentials from.
public struct ConnectionContext: Sendable {
    public var environment: [String: String]
    public var transports: TransportPool
    public var counters: CallCounters
    public var retryPolicy: RetryPolicy
    public var userAgent: String
    public var logger: Logger

    public init(
        environment: [String: String], transports: TransportPool, counters: CallCounters, retryPolicy: RetryPolicy,
        userAgent: String, logger: Logger
    ) {
        self.environment = environment
        self.transports = transports
        self.counters = counters
        self.retryPolicy = retryPolicy
        self.userAgent = userAgent
        self.logger = logger
    }
}

/// Options of an evidence store that is not a local folder (an object store).
public struct EvidenceStoreOptions: Sendable {
    /// The store's region.
    public var region: String?
    /// Days each object is locked against deletion (object lock), nil for none.
    public var retentionDays: Int?
    /// The credentials profile to reach the store with; nil for the provider's default chain.
    public var profile: String?

    public init(region: String? = nil, retentionDays: Int? = nil, profile: String? = nil) {
        self.region = region
        self.retentionDays = retentionDays
        self.profile = profile
    }
}

/// A scan that could not start: no identity, an unknown service, a bad region list, credentials
/// that could not be found. Printed as one line; exit status 2.
public struct ScanSetupError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = SecretScrubber.shared.scrub(description) }
}

/// The providers attest knows, by id, with what they add to the generic registries.
public struct ProviderRegistry: Sendable {
    public let providers: [any CloudProvider]

    /// Refuses two providers with one id, and transforms or rule functions defined twice.
    public init(_ providers: [any CloudProvider]) throws {
        var ids: Set<String> = []
        for p in providers where !ids.insert(p.id).inserted { throw ScanSetupError("provider \(p.id) is registered twice") }
        self.providers = providers
        _ = try transforms
        _ = try ruleEnvironment()
    }

    public func provider(_ id: String) -> (any CloudProvider)? { providers.first { $0.id == id } }

    public var ids: [String] { providers.map(\.id) }

    /// The generic transforms and every provider's.
    public var transforms: TransformRegistry {
        get throws { try providers.reduce(TransformRegistry.generic) { try $0.adding($1.transforms) } }
    }

    /// The transforms one provider's specs may use: the generic ones and its own.
    public func transforms(for provider: any CloudProvider) throws -> TransformRegistry {
        try TransformRegistry.generic.adding(provider.transforms)
    }

    /// The CEL environment controls compile in: the graph functions and every provider's.
    public func ruleEnvironment() throws -> CELEnvironment {
        try RuleEnvironment.make(providerFunctions: providers.flatMap(\.ruleFunctions))
    }

    /// How each provider's results name their cloud in evidence.
    public var evidenceClouds: [String: any EvidenceCloud] {
        Dictionary(uniqueKeysWithValues: providers.map { ($0.id, $0.evidenceCloud) })
    }
}
