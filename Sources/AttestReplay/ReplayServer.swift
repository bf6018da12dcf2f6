import AttestCore
import AttestSigV4
import Foundation

/// Serves recorded answers on loopback, so a scan runs through the real HTTP client, signer and
/// parsers with no cloud account. When given the key pair the scan signs with, it checks every
/// request's SigV4 signature as AWS would and refuses a bad one.
public final class ReplayServer: Sendable {
    public let server: LoopbackServer
    public var baseURL: String { server.baseURL }

    /// `credentials` (access key id → secret): SigV4 signatures checked; `tokens`: a token
    /// endpoint (Entra ID's, Google's) served and every request's bearer token checked.
    public static func start(
        fixtures: [String: Fixture], verifying credentials: [String: String] = [:], tokens entra: (any ReplayTokenCheck)? = nil
    ) async throws -> ReplayServer {
        let server = try await LoopbackServer.start { request in
            Self.answer(request, fixtures: fixtures, credentials: credentials, tokens: entra)
        }
        return ReplayServer(server: server)
    }

    /// Runs `body` with a started server and stops it afterwards, whether `body` returns or throws.
    public static func withServer<T: Sendable>(
        fixtures: [String: Fixture], verifying credentials: [String: String] = [:], tokens entra: (any ReplayTokenCheck)? = nil,
        _ body: (ReplayServer) async throws -> T
    ) async throws -> T {
        let server = try await start(fixtures: fixtures, verifying: credentials, tokens: entra)
        do {
            let value = try await body(server)
            await server.stop()
            return value
        } catch {
            await server.stop()
            throw error
        }
    }

    init(server: LoopbackServer) {
        self.server = server
    }

    public func stop() async { await server.stop() }

    static func answer(
        _ request: LoopbackRequest, fixtures: [String: Fixture], credentials: [String: String], tokens entra: (any ReplayTokenCheck)? = nil
    ) -> LoopbackResponse {
        if let entra {
            if entra.isTokenRequest(request) { return entra.tokenAnswer(request) }
            if let refusal = entra.problem(with: request) { return refusal }
        } else if !credentials.isEmpty, let problem = SignatureCheck.problem(with: request, credentials: credentials) {
            return error(request, status: 403, code: "SignatureDoesNotMatch", message: problem)
        }
        let key = FixtureKey.hash(
            FixtureKey.request(
                method: request.method, host: request.header("Host") ?? "127.0.0.1",
                rawPath: request.path, rawQuery: request.query,
                headers: request.headers, body: request.body))
        guard let fixture = fixtures[key] else {
            if let entra { return entra.notRecorded() }
            return error(request, status: 404, code: "NoRecordedResponse", message: "no recorded response for this request")
        }
        return LoopbackResponse(
            status: fixture.response.status, headers: fixture.response.headers.map { ($0.key, $0.value) },
            body: Array(fixture.response.body.utf8))
    }

    static func error(_ request: LoopbackRequest, status: Int, code: String, message: String) -> LoopbackResponse {
        if request.header("X-Amz-Target") != nil {
            return LoopbackResponse(
                status: status, contentType: "application/x-amz-json-1.1",
                text: "{\"__type\":\"\(code)\",\"message\":\"\(message)\"}")
        }
        return LoopbackResponse(
            status: status, contentType: "text/xml",
            text: "<ErrorResponse><Error><Code>\(code)</Code><Message>\(message)</Message></Error></ErrorResponse>")
    }
}

/// Server-side SigV4 verification of a received request.
public enum SignatureCheck {
    /// Nil when the request is signed correctly by one of `credentials` (access key id → secret).
    public static func problem(with request: LoopbackRequest, credentials: [String: String]) -> String? {
        guard let auth = request.header("Authorization") else {
            if request.body.count < 4096, String(decoding: request.body, as: UTF8.self).contains("Action=AssumeRoleWithWebIdentity") {
                return nil
            }
            return "request is not signed"
        }
        func field(_ name: String) -> String? {
            guard let r = auth.range(of: name + "=") else { return nil }
            return String(auth[r.upperBound...].prefix { $0 != "," && $0 != " " })
        }
        guard let credential = field("Credential"), let signedHeaders = field("SignedHeaders"), let signature = field("Signature"),
            let amzDate = request.header("X-Amz-Date")
        else { return "malformed Authorization header" }
        let scope = credential.split(separator: "/").map(String.init)
        guard scope.count == 5, let secret = credentials[scope[0]] else { return "unknown access key" }
        let names = Set(signedHeaders.split(separator: ";").map(String.init))
        let headers = request.headers.filter { names.contains($0.name.lowercased()) }
        let query = request.query.split(separator: "&").map { part -> (name: String, value: String) in
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (kv[0].removingPercentEncoding ?? String(kv[0]), kv.count > 1 ? (kv[1].removingPercentEncoding ?? String(kv[1])) : "")
        }
        let payload: SigningRequest.Payload = request.header("X-Amz-Content-Sha256").map { .hash($0) } ?? .bytes(request.body)
        let signer = SigV4Signer(service: scope[3], region: scope[2])
        let expected = signer.signature(
            ofSignedRequest: SigningRequest(
                method: request.method, path: request.path.removingPercentEncoding ?? request.path,
                query: query, headers: headers, payload: payload),
            secretAccessKey: secret, amzDate: amzDate)
        return expected == signature ? nil : "the request signature does not match"
    }
}
