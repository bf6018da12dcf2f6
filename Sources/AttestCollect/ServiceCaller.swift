public import AttestCore

/// The seam between the generic collection engine and a provider's wire client: executes one
/// page of one operation. AWS implements it over its signed client; Azure and Google Cloud
/// implement it over their own.
public protocol ServiceCaller: Sendable {
    /// Calls `operation` of `service` in `scope` with rendered `parameters`; `context` holds the
    /// values templates in the operation's REST shape may refer to. A global scope is called
    /// wherever the provider calls account-wide services (AWS: the account's home region).
    func call(
        service: ServiceSpec, operation: OperationSpec, scope: CollectionScope,
        parameters: [String: JSONValue], context: JSONValue
    ) async throws -> JSONValue

    /// The provider's error code and a message safe to print (no secrets).
    func describe(_ error: any Error) -> (code: String, message: String)

    /// The permission an operation needs, for `attest permissions`.
    func action(service: ServiceSpec, operation: OperationSpec) -> String
}

/// A failure that kept something from being collected. Appears in the scan's `errors`, and
/// decides which control results become errors (``kind``, ``account``, ``region``, and the
/// resource, type or parent it names).
public struct CollectionError: Sendable, Hashable, Codable, Comparable {
    /// What the failure stands for.
    public enum Kind: String, Sendable, Codable {
        /// A call of a service failed: the resources it would have read are unknown.
        case call
        /// A discovery call failed (listing regions, subscriptions): recorded, but it blames no
        /// resource type, since the scan went on with what it knew.
        case discovery
        /// A scope that was asked for could not be scanned at all (a region that is not
        /// enabled): every type of that scope is unknown.
        case scopeUnavailable = "scope_unavailable"
        /// An account that was to be scanned could not be entered at all (a role that could not
        /// be assumed): every type collected per account is unknown there.
        case accountUnavailable = "account_unavailable"
    }

    public var kind: Kind
    public var service: String
    public var account: String
    public var region: String
    public var operation: String
    public var code: String
    public var message: String
    public var resourceType: String?
    /// The resource the failed call was about (an enrichment of one bucket).
    public var resourceId: String?
    /// For a failed list of children (a user's access keys): the parent whose children are unknown.
    public var parentId: String?

    public init(
        kind: Kind = .call, service: String, account: String, region: String, operation: String, code: String,
        message: String, resourceType: String? = nil, resourceId: String? = nil, parentId: String? = nil
    ) {
        self.kind = kind
        self.service = service
        self.account = account
        self.region = region
        self.operation = operation
        self.code = code
        self.message = SecretScrubber.shared.scrub(message)
        self.resourceType = resourceType
        self.resourceId = resourceId
        self.parentId = parentId
    }

    public var scope: CollectionScope { CollectionScope(account: account, region: region) }

    public static func < (a: CollectionError, b: CollectionError) -> Bool {
        (a.account, a.service, a.region, a.operation, a.resourceId ?? a.parentId ?? "", a.code)
            < (b.account, b.service, b.region, b.operation, b.resourceId ?? b.parentId ?? "", b.code)
    }

    enum CodingKeys: String, CodingKey {
        case kind, service, account, region, operation, code, message
        case resourceType = "resource_type"
        case resourceId = "resource_id"
        case parentId = "parent_id"
    }
}
