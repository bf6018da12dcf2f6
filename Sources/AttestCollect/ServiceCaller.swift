import AttestCore

/// The seam between the generic collection engine and a provider's wire client: executes one
/// page of one operation. AWS implements it over ``AWSClient``; Azure and Google Cloud will
/// implement it over their own signed clients.
public protocol ServiceCaller: Sendable {
    /// Calls `operation` of `service` in `region` with rendered `parameters`; `context` holds the
    /// values templates in the operation's REST shape may refer to.
    func call(service: ServiceSpec, operation: OperationSpec, region: String,
              parameters: [String: JSONValue], context: JSONValue) async throws -> JSONValue

    /// The provider's error code and a message safe to print (no secrets).
    func describe(_ error: any Error) -> (code: String, message: String)

    /// The permission an operation needs, for `attest permissions`.
    func action(service: ServiceSpec, operation: OperationSpec) -> String
}

/// A failure that kept something from being collected. Appears in the scan's `errors`.
public struct CollectionError: Sendable, Hashable, Codable, Comparable {
    public var service: String
    public var region: String
    public var operation: String
    public var code: String
    public var message: String
    public var resourceType: String?
    public var resourceId: String?

    public init(service: String, region: String, operation: String, code: String, message: String,
                resourceType: String? = nil, resourceId: String? = nil) {
        self.service = service
        self.region = region
        self.operation = operation
        self.code = code
        self.message = SecretScrubber.shared.scrub(message)
        self.resourceType = resourceType
        self.resourceId = resourceId
    }

    public static func < (a: CollectionError, b: CollectionError) -> Bool {
        (a.service, a.region, a.operation, a.resourceId ?? "", a.code) < (b.service, b.region, b.operation, b.resourceId ?? "", b.code)
    }

    enum CodingKeys: String, CodingKey {
        case service, region, operation, code, message
        case resourceType = "resource_type"
        case resourceId = "resource_id"
    }
}
