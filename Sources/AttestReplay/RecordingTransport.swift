import AttestCore
public import AttestHTTP
import Foundation

/// Passes requests to a real transport and writes each answer to a ``FixtureStore``, with
/// credentials, tokens and signatures removed. Throttling and server errors are not recorded,
/// so a replay serves the answer the scan finally used. Token requests (OAuth token endpoints,
/// managed identity) are never recorded: they carry secrets and assertions, and a replay issues
/// tokens of its own.
public struct RecordingTransport: HTTPTransport {
    let base: any HTTPTransport
    let store: FixtureStore

    public init(base: any HTTPTransport, store: FixtureStore) {
        self.base = base
        self.store = store
    }

    static let keptHeaders: Set<String> = ["content-type", "x-amzn-errortype", "x-amz-bucket-region"]

    /// Application settings such as Lambda `Environment.Variables` often hold secrets of their own:
    /// the names are kept, the values are not.
    static func redactEnvironment(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(var o):
            for (key, child) in o {
                if key == "Environment", case .object(var env) = child, case .object(let vars) = env["Variables"] ?? .null {
                    env["Variables"] = .object(vars.mapValues { _ in "[REDACTED]" })
                    o[key] = .object(env)
                } else {
                    o[key] = redactEnvironment(child)
                }
            }
            return .object(o)
        case .array(let a):
            return .array(a.map(redactEnvironment))
        default:
            return value
        }
    }

    static func isTokenRequest(_ path: String) -> Bool {
        path.hasSuffix("/oauth2/v2.0/token") || path.hasSuffix("/oauth2/token") || path.hasSuffix("/msi/token")
            || path.hasSuffix(":generateAccessToken") || path.hasSuffix("/service-accounts/default/token")
    }

    /// A token request by its content: an OAuth grant (`grant_type=` in a form body), or an answer
    /// that hands out a token (`access_token`, IAM Credentials' `accessToken`), wherever it is served.
    static func isTokenExchange(_ request: HTTPRequest, _ response: HTTPResponse) -> Bool {
        if request.body.count < 65_536,
            String(decoding: request.body, as: UTF8.self).split(separator: "&").contains(where: { $0.hasPrefix("grant_type=") })
        {
            return true
        }
        guard response.body.count < 65_536, let answer = try? JSONValue.parse(Data(response.body)) else { return false }
        return answer["access_token"] != .null || answer["accessToken"] != .null
    }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let response = try await base.send(request)
        guard !RetryPolicy.isRetryableStatus(response.status), let url = URL(string: request.url), !Self.isTokenRequest(url.path),
            !Self.isTokenExchange(request, response)
        else { return response }
        let components = URLComponents(url: url, resolvingAgainstBaseURL: false)
        let fixtureRequest = FixtureKey.request(
            method: request.method, host: url.host ?? "", rawPath: components?.percentEncodedPath ?? url.path,
            rawQuery: components?.percentEncodedQuery ?? "", headers: request.headers, body: request.body)
        var headers: [String: String] = [:]
        for (name, value) in response.headers where Self.keptHeaders.contains(name.lowercased()) { headers[name.lowercased()] = value }
        var body = response.bodyText
        if let json = try? JSONValue.parse(Data(response.body)) {
            let redacted = Self.redactEnvironment(json)
            if redacted != json { body = redacted.serialized() }
        }
        let fixture = Fixture(
            request: fixtureRequest,
            response: .init(
                status: response.status, headers: headers, body: SecretScrubber.shared.scrub(body)))
        try store.write(fixture)
        return response
    }
}
