public import AttestCEL
public import AttestCollect
public import AttestCore
public import AttestEvidence
import AttestHTTP
public import AttestReplay
public import AttestScan
public import Foundation
import Logging
import Synchronization

/// FakeCloud: a tiny cloud for proving the pipeline's seams are neutral. A loopback JSON API
/// with a token endpoint (client secret → bearer token, one account per secret), accounts,
/// regions, account-wide owners and per-region quotas, and paged regional widgets with an
/// access policy each. Everything the pipeline needs of it comes through ``FakeCloudProvider``.
public final class FakeCloud: Sendable {
    public struct Widget: Sendable {
        public var id: String
        public var name: String
        public var encrypted: Bool
        public var owner: String
        /// Nil: the policy call answers 404 (no policy).
        public var isPublic: Bool?

        public init(id: String, name: String, encrypted: Bool, owner: String, isPublic: Bool?) {
            self.id = id
            self.name = name
            self.encrypted = encrypted
            self.owner = owner
            self.isPublic = isPublic
        }
    }

    public struct Account: Sendable {
        public var id: String
        public var secret: String
        public var owners: [(id: String, name: String, email: String)]
        /// Region → widgets.
        public var widgets: [String: [Widget]]
        /// Regions whose widget list answers 403.
        public var deniedRegions: Set<String> = []
        /// Regions whose widget list does not answer for a minute.
        public var stalledRegions: Set<String> = []

        public init(
            id: String, secret: String, owners: [(id: String, name: String, email: String)], widgets: [String: [Widget]],
            deniedRegions: Set<String> = [], stalledRegions: Set<String> = []
        ) {
            self.stalledRegions = stalledRegions
            self.id = id
            self.secret = secret
            self.owners = owners
            self.widgets = widgets
            self.deniedRegions = deniedRegions
        }
    }

    public let server: LoopbackServer
    private let log: RequestLog

    /// `METHOD path` of every request, in order.
    public var requests: [String] { log.entries.withLock { $0 } }
    public var baseURL: String { server.baseURL }

    private init(server: LoopbackServer, log: RequestLog) {
        self.server = server
        self.log = log
    }

    final class RequestLog: Sendable {
        let entries = Mutex<[String]>([])
    }

    /// Widgets per page of `ListWidgets`, so paging is exercised.
    static let pageSize = 2

    public static func start(_ accounts: [Account]) async throws -> FakeCloud {
        let log = RequestLog()
        let state = FakeCloudState(accounts: accounts)
        let server = try await LoopbackServer.start { request in
            log.entries.withLock { $0.append("\(request.method) \(request.path)") }
            if state.stalls(request) { try? await Task.sleep(for: .seconds(60)) }
            return state.answer(request)
        }
        return FakeCloud(server: server, log: log)
    }

    public func stop() async { await server.stop() }

    /// Runs `body` with a started FakeCloud and stops it afterwards, whether `body` returns or throws.
    public static func with<T: Sendable>(_ accounts: [Account], _ body: (FakeCloud) async throws -> T) async throws -> T {
        let cloud = try await start(accounts)
        do {
            let value = try await body(cloud)
            await cloud.stop()
            return value
        } catch {
            await cloud.stop()
            throw error
        }
    }
}

private struct FakeCloudState: Sendable {
    let accounts: [FakeCloud.Account]

    func stalls(_ request: LoopbackRequest) -> Bool {
        let parts = request.path.split(separator: "/").map(String.init)
        guard parts.count == 5, parts[0] == "accounts", parts[2] == "regions", parts[4] == "widgets",
            let account = accounts.first(where: { $0.id == parts[1] })
        else { return false }
        return account.stalledRegions.contains(parts[3])
    }

    func json(_ status: Int, _ value: JSONValue) -> LoopbackResponse {
        LoopbackResponse(status: status, contentType: "application/json", text: value.serialized())
    }

    func answer(_ request: LoopbackRequest) -> LoopbackResponse {
        let parts = request.path.split(separator: "/").map(String.init)
        if request.method == "POST", parts == ["token"] {
            let secret = String(decoding: request.body, as: UTF8.self)
            guard let account = accounts.first(where: { "secret=\($0.secret)" == secret }) else {
                return json(401, ["error": "InvalidClient", "message": "unknown client secret"])
            }
            return json(200, ["access_token": .string("token-\(account.id)"), "expires_in": 3600])
        }
        guard let auth = request.header("Authorization"), auth.hasPrefix("Bearer token-"),
            let caller = accounts.first(where: { auth == "Bearer token-\($0.id)" })
        else {
            return json(401, ["error": "Unauthorized", "message": "no valid bearer token"])
        }
        if parts == ["whoami"] { return json(200, ["account": .string(caller.id), "principal": .string("client-\(caller.id)")]) }
        guard parts.count >= 2, parts[0] == "accounts", parts[1] == caller.id else {
            return json(403, ["error": "Forbidden", "message": "the token is not for this account"])
        }
        let rest = Array(parts.dropFirst(2))
        let regions = caller.widgets.keys.sorted()
        switch rest.count {
        case 1 where rest[0] == "regions":
            return json(200, ["regions": .array(regions.map(JSONValue.string))])
        case 1 where rest[0] == "owners":
            return json(
                200, ["owners": .array(caller.owners.map { ["id": .string($0.id), "name": .string($0.name), "email": .string($0.email)] })])
        case 3 where rest[0] == "regions" && rest[2] == "quota":
            return json(200, ["widgets": .int(Int64(caller.widgets[rest[1]]?.count ?? 0) * 10)])
        case 3 where rest[0] == "regions" && rest[2] == "widgets":
            if caller.deniedRegions.contains(rest[1]) { return json(403, ["error": "AccessDenied", "message": "widgets:List denied"]) }
            let all = caller.widgets[rest[1]] ?? []
            let start = Int(query(request.query)["page"] ?? "0") ?? 0
            let page = all.dropFirst(start).prefix(FakeCloud.pageSize)
            var body: [String: JSONValue] = [
                "items": .array(
                    page.map {
                        ["id": .string($0.id), "name": .string($0.name), "encrypted": .bool($0.encrypted), "owner": .string($0.owner)]
                    })
            ]
            if start + FakeCloud.pageSize < all.count { body["next"] = .string(String(start + FakeCloud.pageSize)) }
            return json(200, .object(body))
        case 3 where rest[0] == "widgets" && rest[2] == "policy":
            guard let widget = caller.widgets.values.flatMap({ $0 }).first(where: { $0.id == rest[1] }) else {
                return json(404, ["error": "NotFound", "message": "no such widget"])
            }
            guard let isPublic = widget.isPublic else { return json(404, ["error": "NotFound", "message": "no policy"]) }
            return json(200, ["public": .bool(isPublic)])
        default:
            return json(404, ["error": "NotFound", "message": "no such path"])
        }
    }

    func query(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
            if kv.count == 2 { out[kv[0]] = kv[1].removingPercentEncoding ?? kv[1] }
        }
        return out
    }
}

/// FakeCloud behind the scan pipeline: two scope levels, a transform, a rule function, its own
/// evidence cloud object and permissions, a bearer-token connection through the shared attempt
/// loop and single-flight refresher. `FAKE_CLOUD_URL` names the server; a target's profile
/// picks the client secret from `FAKE_CLOUD_SECRET_<PROFILE>`.
public struct FakeCloudProvider: CloudProvider {
    public init() {}

    public var id: String { "fake" }

    public var scopeLevels: [ScopeLevel] { [ScopeLevel("account", regional: false), ScopeLevel("location", regional: true)] }

    public var transforms: [Transform] {
        [Transform("fake-shout") { value, _ in value.stringValue.map { .string($0.uppercased()) } ?? .null }]
    }

    public var ruleFunctions: [CELFunction] {
        [
            CELFunction("fake.domain", arity: 1...1) { args, _ in
                guard case .string(let email) = args[0], let at = email.lastIndex(of: "@") else {
                    throw CELError("fake.domain: expected an email address")
                }
                return .string(String(email[email.index(after: at)...]))
            }
        ]
    }

    public var evidenceCloud: any EvidenceCloud { FakeEvidenceCloud() }

    public var targetOptionKeys: [String] { ["label"] }

    public func validate(_ spec: ProviderSpec) throws {
        for service in spec.services {
            for (name, op) in service.operations where op.path == nil {
                throw SpecError(file: service.file, line: op.line, message: "FakeCloud operation \(name) needs a path")
            }
        }
    }

    public func connect(_ target: ScanTarget, spec: ProviderSpec, context: ConnectionContext) async throws -> any ProviderConnection {
        guard let base = context.environment["FAKE_CLOUD_URL"] else { throw ScanSetupError("FAKE_CLOUD_URL is not set") }
        let profile = (target.profile ?? "default").uppercased()
        guard let secret = context.environment["FAKE_CLOUD_SECRET_\(profile)"] else {
            throw ScanSetupError("no FakeCloud secret for profile \(profile)")
        }
        let transport = try await context.transports.transport()
        let tokens = RefreshingBearerTokenProvider(FakeTokenEndpoint(base: base, secret: Secret(secret), transport: transport))
        let loop = AttemptLoop(
            transport: transport, policy: RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(1), maxDelay: .milliseconds(5)),
            counters: context.counters, logger: context.logger)
        return FakeConnection(caller: FakeServiceCaller(base: base, tokens: tokens, loop: loop))
    }

    public func permissions(spec: ProviderSpec, services: [String]?) -> JSONValue {
        .array(
            spec.services.filter { services?.contains($0.id) ?? true }.flatMap { s in
                s.operations.keys.sorted().map { JSONValue.string("\(s.id):\($0)") }
            })
    }
}

struct FakeEvidenceCloud: EvidenceCloud {
    func ocsfCloud(account: String, region: String) -> JSONValue {
        ["provider": "FakeCloud", "region": .string(region), "account": ["uid": .string(account), "type": "FakeCloud Account"]]
    }

    func partition(region: String) -> String? { nil }
}

/// `POST /token` with the client secret; the answer's `expires_in` sets the expiry.
struct FakeTokenEndpoint: BearerTokenProvider {
    let base: String
    let secret: Secret
    let transport: any HTTPTransport

    func token(scope: String) async throws -> BearerToken {
        let response = try await transport.send(
            HTTPRequest(method: "POST", url: base + "/token", body: Array("secret=\(secret.value)".utf8)))
        let body = try JSONValue.parse(Data(response.body))
        guard response.status == 200, let token = body["access_token"].stringValue else {
            throw ScanSetupError("FakeCloud refused the client secret: \(body["error"].stringValue ?? "HTTP \(response.status)")")
        }
        return BearerToken(
            token: token, expiration: Date().addingTimeInterval(TimeInterval(body["expires_in"].intValue ?? 60)),
            source: "client secret")
    }
}

struct FakeConnection: ProviderConnection {
    let caller: any ServiceCaller

    func discover(spec: ProviderSpec, target: ScanTarget, engine: CollectionEngine) async throws -> Discovery {
        let home = CollectionScope(account: "", region: "home")
        let identity: JSONValue
        do {
            identity = try await engine.discover(spec.discovery["identity"]!, in: spec, scope: home, context: [:])
        } catch {
            throw ScanSetupError("cannot establish the caller identity: \(caller.describe(error).message)")
        }
        guard let account = identity["account"].stringValue else { throw ScanSetupError("whoami answered without an account") }
        let accountTarget = AccountTarget(id: account, homeRegion: "home", values: ["label": .string(target.options["label"] ?? "")])
        let regions = try await engine.discover(
            spec.discovery["regions"]!, in: spec, scope: CollectionScope(account: account, region: "home"),
            context: CollectionEngine.baseContext(
                scope: CollectionScope(account: account, region: "home"),
                account: accountTarget)
        )
        .asList.compactMap(\.stringValue).filter { target.regions?.contains($0) ?? true }
        return Discovery(
            target: CollectionTarget(
                accounts: [accountTarget],
                scopes: [
                    "account": [CollectionScope(account: account, region: CollectionScope.global)],
                    "location": regions.map { CollectionScope(account: account, region: $0) },
                ]),
            principal: identity["principal"].stringValue, regions: regions)
    }
}

struct FakeServiceError: Error, CustomStringConvertible {
    var code: String
    var message: String
    var status: Int
    var description: String { "\(code) (HTTP \(status)): \(message)" }
}

/// GETs the operation's path (rendered from the context), with the paging token in the query
/// and a bearer token, through the shared attempt loop.
struct FakeServiceCaller: ServiceCaller {
    let base: String
    let tokens: any BearerTokenProvider
    let loop: AttemptLoop

    func call(
        service: ServiceSpec, operation: OperationSpec, scope: CollectionScope, parameters: [String: JSONValue],
        context: JSONValue
    ) async throws -> JSONValue {
        var ctx = context.objectValue ?? [:]
        for (k, v) in parameters { ctx[k] = v }
        guard let path = operation.path?.render(.object(ctx)) else {
            throw UnrenderableParameterError(parameter: "path", template: operation.path?.description ?? "")
        }
        var url = base + path
        if let paginate = operation.paginate, let token = parameters[paginate.input]?.stringValue {
            url += "?\(paginate.input)=\(token)"
        }
        let tokens = self.tokens
        return try await loop.run(operation: operation.name) { _ in
            let token = try await tokens.token(scope: "fake")
            return HTTPRequest(method: "GET", url: url, headers: [("Authorization", token.authorization)])
        } interpret: { response in
            let body = (try? JSONValue.parse(Data(response.body))) ?? .null
            if response.status == 200 { return .success(body) }
            let error = FakeServiceError(
                code: body["error"].stringValue ?? "HTTP\(response.status)",
                message: body["message"].stringValue ?? "", status: response.status)
            return .failure(
                error, RetryPolicy.isRetryableStatus(response.status) ? .retry(throttled: response.status == 429, retryAfter: nil) : .done)
        }
    }

    func describe(_ error: any Error) -> (code: String, message: String) {
        switch error {
        case let e as FakeServiceError: (e.code, e.message)
        case let e as TransportError: ("Unreachable", e.description)
        default: ("Error", String(describing: error))
        }
    }

    func action(service: ServiceSpec, operation: OperationSpec) -> String { "\(service.id):\(operation.name)" }
}

extension TestPaths {
    /// The FakeCloud specs and controls.
    public static var fakeCloud: URL { repository.appendingPathComponent("Tests/Support/fakecloud") }
}
