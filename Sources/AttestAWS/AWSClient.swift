import AttestCore
public import AttestHTTP
import AttestSigV4
import Crypto
import Foundation
public import Logging

/// Sends signed AWS API calls: builds the request for the service's wire protocol, signs it
/// (again on every attempt), retries throttling and transient failures with jittered backoff,
/// corrects clock skew, and decodes the answer or the error.
public final class AWSClient: Sendable {
    public let transport: any HTTPTransport
    public let credentials: any AWSCredentialProvider
    public let endpoints: AWSEndpointResolver
    public let retryPolicy: RetryPolicy
    public let counters: CallCounters
    public let clock: ClockOffset
    let logger: Logger
    let userAgent: String
    let requestTimeout: Duration
    /// Whose calls these are for adaptive pacing (`<scope>/<region>/<service>`): the account
    /// when it is known (an organization's member), else this client's own id.
    public let pacingScope: String

    public init(
        transport: any HTTPTransport, credentials: any AWSCredentialProvider,
        endpoints: AWSEndpointResolver = AWSEndpointResolver(), retryPolicy: RetryPolicy = RetryPolicy(),
        counters: CallCounters = CallCounters(), clock: ClockOffset = ClockOffset(),
        logger: Logger = Logger(label: "attest.aws"), userAgent: String = "attest",
        requestTimeout: Duration = .seconds(30), pacingScope: String? = nil
    ) {
        self.pacingScope = pacingScope ?? UUID().uuidString
        self.transport = transport
        self.credentials = credentials
        self.endpoints = endpoints
        self.retryPolicy = retryPolicy
        self.counters = counters
        self.clock = clock
        self.logger = logger
        self.userAgent = userAgent
        self.requestTimeout = requestTimeout
    }

    /// A client like this one that signs with other credentials.
    public func with(credentials: any AWSCredentialProvider) -> AWSClient {
        AWSClient(
            transport: transport, credentials: credentials, endpoints: endpoints, retryPolicy: retryPolicy,
            counters: counters, clock: clock, logger: logger, userAgent: userAgent, requestTimeout: requestTimeout)
    }

    /// This client, paced as `scope`'s calls (an account id).
    public func with(pacingScope scope: String) -> AWSClient {
        AWSClient(
            transport: transport, credentials: credentials, endpoints: endpoints, retryPolicy: retryPolicy,
            counters: counters, clock: clock, logger: logger, userAgent: userAgent, requestTimeout: requestTimeout,
            pacingScope: scope)
    }

    public func send(_ op: AWSOperation, service: AWSService) async throws -> AWSResponse {
        let endpoint = try endpoints.endpoint(for: service, region: op.region)
        let encoded = ProtocolCodec.encode(op, service: service)
        var (host, path) = address(op, endpoint: endpoint, encodedPath: encoded.path)
        path = endpoint.basePath + path
        let hostHeader =
            endpoint.port.map { p in
                (endpoint.scheme == "https" && p == 443) || (endpoint.scheme == "http" && p == 80) ? host : "\(host):\(p)"
            } ?? host

        let loop = AttemptLoop(transport: transport, policy: retryPolicy, counters: counters, logger: logger)
        let clock = self.clock
        return try await loop.run(operation: op.name, label: service.id, pacingKey: "\(pacingScope)/\(op.region)/\(service.id)") { _ in
            var headers = encoded.headers
            headers.append(("Host", hostHeader))
            var query = encoded.query
            if !op.unsigned {
                let creds = try await credentials.credentials()
                let signer = SigV4Signer(service: service.signingName, region: endpoint.signingRegion)
                let signature = signer.sign(
                    SigningRequest(method: encoded.method, path: path, query: query, headers: headers, payload: .bytes(encoded.body)),
                    credentials: SigningCredentials(
                        accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey.value,
                        sessionToken: creds.sessionToken?.value),
                    date: clock.current)
                // The signature itself, however a server echoes it, never reaches an error or a recording.
                SecretScrubber.shared.registerRecent(signature.signature)
                headers.append(contentsOf: signature.headersToAdd)
                query.append(contentsOf: signature.queryToAdd)
            }
            headers.append(("User-Agent", userAgent))
            var url = "\(endpoint.scheme)://\(hostHeader)\(SigV4Signer.encodePath(path.isEmpty ? "/" : path))"
            if !query.isEmpty {
                url += "?" + query.map { "\(SigV4Signer.uriEncode($0.name))=\(SigV4Signer.uriEncode($0.value))" }.joined(separator: "&")
            }
            return HTTPRequest(method: encoded.method, url: url, headers: headers, body: encoded.body, timeout: requestTimeout)
        } interpret: { response in
            Self.interpret(response, op: op, service: service, clock: clock)
        }
    }

    /// AWS's part of the attempt loop: decode a 2xx answer; for an error, re-sign after a clock
    /// skew correction, retry throttling and transient faults, and give up on the rest.
    static func interpret(_ response: HTTPResponse, op: AWSOperation, service: AWSService, clock: ClockOffset) -> AttemptOutcome<
        AWSResponse
    > {
        if (200..<300).contains(response.status) {
            do {
                let value = try ProtocolCodec.decode(response, op: op, service: service)
                return .success(AWSResponse(status: response.status, headers: response.headers, value: value, body: response.body))
            } catch {
                return .failure(error, .done)
            }
        }
        let error = AWSErrorDecoder.decode(response, protocol: service.wireProtocol)
        if AWSServiceError.clockSkewCodes.contains(error.code),
            let serverDate = response.header("Date").flatMap(HTTPDate.parse), clock.adjust(serverDate: serverDate)
        {
            return .failure(error, .resend)
        }
        if error.isTransient {
            return .failure(
                error, .retry(throttled: error.isThrottling, retryAfter: RetryPolicy.parseRetryAfter(response.header("Retry-After"))))
        }
        return .failure(error, .done)
    }

    /// S3 virtual-hosted addressing on AWS endpoints for DNS-compatible bucket names, path-style
    /// otherwise and on custom endpoints (emulators, proxies). Host prefixes only on AWS endpoints.
    func address(_ op: AWSOperation, endpoint: AWSEndpoint, encodedPath: String) -> (host: String, path: String) {
        var host = endpoint.host
        if let prefix = op.hostPrefix, !endpoint.isCustom { host = prefix + host }
        guard let bucket = op.bucket else { return (host, encodedPath) }
        let rest = encodedPath.hasPrefix("/") ? encodedPath : "/" + encodedPath
        if !endpoint.isCustom, Self.isVirtualHostable(bucket) {
            return ("\(bucket).\(host)", rest)
        }
        return (host, "/\(bucket)\(rest == "/" ? "" : rest)")
    }

    static func isVirtualHostable(_ bucket: String) -> Bool {
        guard (3...63).contains(bucket.count), !bucket.contains("."), !bucket.contains("_") else { return false }
        return bucket.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "-" } && bucket.first != "-" && bucket.last != "-"
    }
}
