import AttestCore
import AttestHTTP
import Foundation

/// An error answer from an AWS API, decoded from whichever shape its protocol uses.
public struct AWSServiceError: Error, CustomStringConvertible, Sendable, Equatable {
    public var code: String
    public var message: String
    public var status: Int
    public var requestId: String?

    public init(code: String, message: String, status: Int, requestId: String? = nil) {
        self.code = code
        self.message = message
        self.status = status
        self.requestId = requestId
    }

    public var description: String {
        SecretScrubber.shared.scrub("\(code) (HTTP \(status)): \(message)")
    }

    /// Codes that mean the caller is being rate limited.
    public static let throttlingCodes: Set<String> = [
        "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
        "TooManyRequestsException", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
        "BandwidthLimitExceeded", "SlowDown", "PriorRequestNotComplete", "EC2ThrottledException",
        "RequestThrottled", "LimitExceededException",
    ]

    /// Codes a service returns when the request's timestamp is off; the cause may also be a wrong key.
    public static let clockSkewCodes: Set<String> = [
        "RequestTimeTooSkewed", "RequestExpired", "InvalidSignatureException", "SignatureDoesNotMatch",
        "AuthFailure", "RequestInTheFuture",
    ]

    /// Server-side faults that usually pass.
    public static let transientCodes: Set<String> = [
        "InternalError", "InternalFailure", "ServiceUnavailable", "RequestTimeout", "RequestTimeoutException",
        "IDPCommunicationError",
    ]

    public var isThrottling: Bool { Self.throttlingCodes.contains(code) || status == 429 }
    public var isTransient: Bool {
        isThrottling || Self.transientCodes.contains(code) || [500, 502, 503, 504].contains(status)
    }
    public var isAccessDenied: Bool {
        [
            "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError",
            "UnrecognizedClientException", "InvalidClientTokenId", "Forbidden",
        ].contains(code) || status == 403
    }
}

/// A response that came back but could not be understood: truncated, malformed, or not what the
/// protocol promises. Recorded as an error entry, never crashed on.
public struct AWSResponseDecodingError: Error, CustomStringConvertible, Sendable {
    public var detail: String
    public var status: Int
    public init(detail: String, status: Int) {
        self.detail = detail
        self.status = status
    }
    public var description: String { "could not decode response (HTTP \(status)): \(detail)" }
}

enum AWSErrorDecoder {
    static func findError(in value: JSONValue, depth: Int = 0) -> JSONValue? {
        guard depth < 6 else { return nil }
        switch value {
        case .object(let o):
            if o["Code"]?.stringValue != nil { return value }
            for key in o.keys.sorted() { if let found = findError(in: o[key]!, depth: depth + 1) { return found } }
            return nil
        case .array(let a):
            for v in a { if let found = findError(in: v, depth: depth + 1) { return found } }
            return nil
        default:
            return nil
        }
    }

    /// Decodes an error answer. Never throws: an undecodable error body becomes a code from the status.
    static func decode(_ response: HTTPResponse, protocol proto: AWSProtocol) -> AWSServiceError {
        let requestId = response.header("x-amzn-RequestId") ?? response.header("x-amz-request-id")
        var code: String?
        var message: String?
        switch proto {
        case .query, .ec2, .restXML:
            if let tree = try? XMLTree.parse(response.body) {
                // <ErrorResponse><Error>, <Response><Errors><Error>, <Error>, and variants seen in
                // emulators (<ErrorResponse><Errors><Error>): the first element that has a Code.
                let error = findError(in: tree) ?? .null
                code = error["Code"].stringValue
                message = error["Message"].stringValue
            }
        case .json, .restJSON:
            if let typeHeader = response.header("x-amzn-errortype") {
                code = String(typeHeader.split(separator: ":").first ?? "")
            }
            if let body = try? JSONValue.parse(Data(response.body)) {
                let type = body["__type"].stringValue ?? body["code"].stringValue ?? body["Code"].stringValue
                if code == nil || code!.isEmpty, let type { code = type }
                message = body["message"].stringValue ?? body["Message"].stringValue ?? body["errorMessage"].stringValue
            } else if let tree = try? XMLTree.parse(response.body), let error = findError(in: tree) {
                // Gateways and emulators sometimes answer a JSON API in XML.
                if code == nil || code!.isEmpty { code = error["Code"].stringValue }
                message = error["Message"].stringValue
            }
        }
        if let c = code, let hash = c.lastIndex(of: "#") { code = String(c[c.index(after: hash)...]) }
        if let c = code, let colon = c.firstIndex(of: ":") { code = String(c[..<colon]) }
        let fallback: String =
            switch response.status {
            case 400: "BadRequest"
            case 401: "Unauthorized"
            case 403: "AccessDenied"
            case 404: "NotFound"
            case 429: "TooManyRequestsException"
            case 500: "InternalError"
            case 503: "ServiceUnavailable"
            default: "HTTP\(response.status)"
            }
        let finalCode = (code?.isEmpty == false) ? code! : fallback
        let finalMessage = message ?? (response.body.isEmpty ? "no error body" : "undecodable error body")
        return AWSServiceError(
            code: finalCode, message: SecretScrubber.shared.scrub(String(finalMessage.prefix(1000))),
            status: response.status, requestId: requestId)
    }
}
