public import AttestCore

/// The wire protocols AWS APIs speak.
public enum AWSProtocol: String, Sendable, Codable, CaseIterable {
    /// Form-encoded `Action=…&Version=…`, XML answers wrapped in `<ActionResponse><ActionResult>` (IAM, STS, RDS).
    case query
    /// Like query, but answers unwrapped and lists as `<item>` (EC2).
    case ec2
    /// `POST /` with `X-Amz-Target` and a JSON body (KMS, CloudTrail): versions 1.0 and 1.1.
    case json
    /// REST paths and query strings, XML bodies (S3, S3 Control).
    case restXML = "rest-xml"
    /// REST paths and query strings, JSON bodies (Lambda, API Gateway).
    case restJSON = "rest-json"
}

/// What the client needs to know about a service to reach it and sign for it.
public struct AWSService: Sendable, Hashable {
    /// The service id used in `AWS_ENDPOINT_URL_<ID>` and in permissions (`s3`, `iam`, `ec2`, …).
    public var id: String
    /// The first label of the endpoint host (`s3-control` for S3 Control).
    public var endpointPrefix: String
    /// The service name in the SigV4 credential scope.
    public var signingName: String
    public var wireProtocol: AWSProtocol
    /// `Version` for query/EC2 protocols.
    public var apiVersion: String?
    /// JSON protocol: the `X-Amz-Target` prefix (`TrentService`) and the content-type version (`1.1`).
    public var targetPrefix: String?
    public var jsonVersion: String?
    /// True for services with one endpoint per partition (IAM), signed in the partition's home region.
    public var isGlobal: Bool
    /// The SDKs' service id (`Secrets Manager`), which names its `AWS_ENDPOINT_URL_<ID>` variable; nil: ``id``.
    public var sdkServiceID: String?

    public init(
        id: String, endpointPrefix: String? = nil, signingName: String? = nil, wireProtocol: AWSProtocol,
        apiVersion: String? = nil, targetPrefix: String? = nil, jsonVersion: String? = nil, isGlobal: Bool = false
    ) {
        self.id = id
        self.endpointPrefix = endpointPrefix ?? id
        self.signingName = signingName ?? id
        self.wireProtocol = wireProtocol
        self.apiVersion = apiVersion
        self.targetPrefix = targetPrefix
        self.jsonVersion = jsonVersion
        self.isGlobal = isGlobal
    }

    public static let sts = AWSService(id: "sts", wireProtocol: .query, apiVersion: "2011-06-15")
    public static let ec2 = AWSService(id: "ec2", wireProtocol: .ec2, apiVersion: "2016-11-15")
}

/// One API call, fully described.
public struct AWSOperation: Sendable {
    public var name: String
    public var region: String
    /// Query/EC2: the flattened parameters (`Filter.1.Name`). JSON: the body object.
    public var parameters: JSONValue
    /// REST protocols: the method, the decoded path, query items and extra headers.
    public var method: String
    public var path: String
    public var query: [(name: String, value: String)]
    public var headers: [(name: String, value: String)]
    /// REST protocols: a host label prefixed to the endpoint (`{AccountId}.` for S3 Control).
    public var hostPrefix: String?
    /// S3: the bucket addressed, for virtual-hosted or path-style addressing.
    public var bucket: String?
    /// The response body is the payload itself (a policy document), not a structure.
    public var rawPayload: Bool
    /// Sent without a signature (STS AssumeRoleWithWebIdentity).
    public var unsigned: Bool
    /// REST protocols: the request body as is (an S3 object's bytes).
    public var body: [UInt8]

    public init(
        name: String, region: String, parameters: JSONValue = .object([:]), method: String = "POST",
        path: String = "/", query: [(name: String, value: String)] = [], headers: [(name: String, value: String)] = [],
        hostPrefix: String? = nil, bucket: String? = nil, rawPayload: Bool = false, unsigned: Bool = false,
        body: [UInt8] = []
    ) {
        self.name = name
        self.region = region
        self.parameters = parameters
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.hostPrefix = hostPrefix
        self.bucket = bucket
        self.rawPayload = rawPayload
        self.unsigned = unsigned
        self.body = body
    }
}

/// A decoded answer.
public struct AWSResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    /// The result structure: the `<ActionResult>` content for query, the root element's content for
    /// EC2 and REST XML, the JSON body for JSON protocols, or the body as a string for raw payloads.
    public var value: JSONValue
    /// The response body as received.
    public var body: [UInt8] = []
}
