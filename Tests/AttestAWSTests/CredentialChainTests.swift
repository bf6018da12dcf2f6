import AttestAWS
import AttestCore
import AttestHTTP
import AttestReplay
import AttestTestSupport
import Foundation
import Synchronization
import Testing

// The AWS credential chain against real peers: moto_server for STS (AssumeRole,
// AssumeRoleWithWebIdentity, GetCallerIdentity), loopback HTTP servers for the container
// credentials endpoint and EC2 IMDSv2, real shell commands for credential_process, and real
// ~/.aws-style files in a temporary directory. Every environment is an explicit dictionary.

// MARK: - Shared peers and helpers

/// One transport for the whole file; never shut down while tests run.
private let sharedTransport = AsyncHTTPClientTransport()

/// Nothing listens on the discard port: a client pointed here by a test that should not need STS
/// fails instead of reaching the real AWS.
private let unusedEndpoint = "http://127.0.0.1:9"

private let account = "123456789012"

/// Starts one moto_server for a whole suite and stops it when the suite is done.
///
/// moto_server exits on SIGTERM only once every keep-alive connection is closed, so the suite's
/// traffic to it goes through its own transport, shut down before moto is stopped.
struct MotoServerScope: SuiteTrait, TestScoping {
    @TaskLocal static var current: MotoServer?
    @TaskLocal static var transport: AsyncHTTPClientTransport?

    func provideScope(
        for test: Test, testCase: Test.Case?,
        performing function: @Sendable () async throws -> Void
    ) async throws {
        let moto = try await MotoServer.start()
        let transport = AsyncHTTPClientTransport()
        do {
            try await Self.$current.withValue(moto) {
                try await Self.$transport.withValue(transport) { try await function() }
            }
        } catch {
            await Self.shutdown(moto, transport)
            throw error
        }
        await Self.shutdown(moto, transport)
    }

    static func shutdown(_ moto: MotoServer, _ transport: AsyncHTTPClientTransport) async {
        await transport.shutdown()
        if moto.process.isRunning { moto.process.terminate() }
        for _ in 0..<50 where moto.process.isRunning { try? await Task.sleep(for: .milliseconds(100)) }
        // Still holding a connection open from somewhere: it is our child, end it.
        if moto.process.isRunning { kill(moto.process.processIdentifier, SIGKILL) }
        moto.stop()
    }
}

/// The transport for the current test: the moto suite's own, or the file's shared one.
private var currentTransport: AsyncHTTPClientTransport { MotoServerScope.transport ?? sharedTransport }

extension Trait where Self == MotoServerScope {
    static var sharedMotoServer: Self { MotoServerScope() }
}

private func requireMoto() throws -> MotoServer {
    try #require(MotoServerScope.current, "the suite's moto_server is not running")
}

/// A temporary HOME with `~/.aws/config` and `~/.aws/credentials`-style files, and the environment
/// that points at them.
private struct Fixture {
    let dir: URL
    var env: [String: String]
    let files: SharedConfigFiles

    init(config: String = "", credentials: String = "", env extra: [String: String] = [:], imdsDisabled: Bool = true) throws {
        dir = try TestPaths.temporaryDirectory("attest-creds")
        let configURL = dir.appendingPathComponent("config")
        let credentialsURL = dir.appendingPathComponent("credentials")
        try config.write(to: configURL, atomically: true, encoding: .utf8)
        try credentials.write(to: credentialsURL, atomically: true, encoding: .utf8)
        var env = [
            "HOME": dir.path, "AWS_CONFIG_FILE": configURL.path, "AWS_SHARED_CREDENTIALS_FILE": credentialsURL.path,
            // Loopback peers in a busy test run may answer later than a real endpoint would.
            "AWS_METADATA_SERVICE_TIMEOUT": "30",
        ]
        // Never let a test wander off to 169.254.169.254 unless it means to.
        if imdsDisabled { env["AWS_EC2_METADATA_DISABLED"] = "true" }
        env.merge(extra) { _, new in new }
        self.env = env
        files = try SharedConfigFiles.load(environment: env)
    }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func write(_ text: String, to name: String) throws {
        try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }
}

private func testClient(
    _ credentials: any AWSCredentialProvider, endpoint: String,
    transport: AsyncHTTPClientTransport = currentTransport
) -> AWSClient {
    AWSClient(
        transport: transport, credentials: credentials,
        endpoints: AWSEndpointResolver(environment: ["AWS_ENDPOINT_URL": endpoint]),
        retryPolicy: RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(50)))
}

private func makeChain(
    _ fixture: Fixture, env: [String: String]? = nil, profile: String? = nil,
    endpoint: String = unusedEndpoint
) -> AWSCredentialChain {
    let transport = currentTransport
    return AWSCredentialChain(
        environment: env ?? fixture.env, explicitProfile: profile, files: fixture.files, region: "us-east-1",
        transport: transport, makeClient: { creds in testClient(creds, endpoint: endpoint, transport: transport) })
}

/// `sts:GetCallerIdentity` signed with the given credentials.
private func callerArn(_ creds: AWSCredentials, endpoint: String) async throws -> String {
    let response = try await testClient(StaticCredentialProvider(creds), endpoint: endpoint)
        .send(AWSOperation(name: "GetCallerIdentity", region: "us-east-1"), service: .sts)
    return try #require(response.value["Arn"].stringValue, "GetCallerIdentity answered without an Arn")
}

private func shortID() -> String {
    String(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(10)).lowercased()
}

private func iso8601(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }

/// Creates IAM roles in moto with boto3 and returns their ARNs.
private func createRoles(_ moto: MotoServer, _ names: [String]) async throws -> [String] {
    let list = names.map { "\"\($0)\"" }.joined(separator: ", ")
    let output = try await moto.python(
        """
        iam = client("iam")
        trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::\(account):root", "Federated": "arn:aws:iam::\(account):oidc-provider/token.example.com"},
            "Action": ["sts:AssumeRole", "sts:AssumeRoleWithWebIdentity"]}]})
        print(json.dumps([iam.create_role(RoleName=n, AssumeRolePolicyDocument=trust)["Role"]["Arn"] for n in [\(list)]]))
        """)

    let arns = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String]
    return try #require(arns)
}

private func withLoopbackServer<T>(
    _ handler: @escaping @Sendable (LoopbackRequest) async -> LoopbackResponse,
    _ body: (LoopbackServer) async throws -> T
) async throws -> T {
    let server = try await LoopbackServer.start(handler)
    do {
        let result = try await body(server)
        await server.stop()
        return result
    } catch {
        await server.stop()
        throw error
    }
}

/// What a loopback peer saw.
private struct SeenRequest: Sendable {
    var method: String
    var path: String
    var headers: [(name: String, value: String)]
    var body: String

    init(_ r: LoopbackRequest) {
        method = r.method
        path = r.path
        headers = r.headers
        body = String(decoding: r.body, as: UTF8.self)
    }

    func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    /// The `application/x-www-form-urlencoded` body of an AWS query call.
    var form: [String: String] {
        var out: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(s)
            }
            out[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return out
    }

    /// The access key id in a SigV4 `Authorization` header.
    var signingKeyId: String? {
        guard let auth = header("Authorization"), let r = auth.range(of: "Credential=") else { return nil }
        return String(auth[r.upperBound...].prefix { $0 != "/" })
    }
}

private actor RequestLog {
    private(set) var requests: [SeenRequest] = []
    func append(_ r: SeenRequest) { requests.append(r) }
}

/// A loopback HTTP proxy in front of moto that records every request, so that a test can see
/// what the chain actually sent (ExternalId, session names, which key signed each call).
private func withRecordingProxy<T>(
    to target: String,
    _ body: (_ endpoint: String, _ log: RequestLog) async throws -> T
) async throws -> T {
    let log = RequestLog()
    let transport = currentTransport
    let hopByHop: Set<String> = ["host", "content-length", "connection", "transfer-encoding", "keep-alive"]
    return try await withLoopbackServer(
        { request in
            await log.append(SeenRequest(request))
            let url = target + request.path + (request.query.isEmpty ? "" : "?" + request.query)
            let headers = request.headers.filter { !hopByHop.contains($0.name.lowercased()) }
            do {
                let answer = try await transport.send(HTTPRequest(method: request.method, url: url, headers: headers, body: request.body))
                return LoopbackResponse(
                    status: answer.status, headers: answer.headers.filter { !hopByHop.contains($0.name.lowercased()) },
                    body: answer.body)
            } catch {
                return LoopbackResponse(status: 502, contentType: "text/plain", text: "proxy: \(error)")
            }
        }, { server in try await body(server.baseURL, log) })
}

private func credentialJSON(
    key: String, secret: String, token: String, expiration: Date, tokenField: String = "Token",
    extra: String = ""
) -> String {
    """
    {\(extra)"AccessKeyId": "\(key)", "SecretAccessKey": "\(secret)", "\(tokenField)": "\(token)", "Expiration": "\(iso8601(expiration))"}
    """
}

// MARK: - Tests without STS

@Suite struct CredentialChainTests {
    // 1. Environment variables

    static let devProfile = """
        [dev]
        aws_access_key_id = AKIAPROFILEDEV000001
        aws_secret_access_key = profile-dev-secret-value-0001

        [default]
        aws_access_key_id = AKIAPROFILEDEFAULT01
        aws_secret_access_key = profile-default-secret-value-01
        """

    @Test func environmentKeysWinOverProfile() async throws {
        let fixture = try Fixture(
            credentials: Self.devProfile,
            env: [
                "AWS_PROFILE": "dev",
                "AWS_ACCESS_KEY_ID": "AKIAENVIRONMENT00001",
                "AWS_SECRET_ACCESS_KEY": "env-secret-access-key-0001",
            ])
        let creds = try await makeChain(fixture).resolve().credentials()
        #expect(creds.accessKeyId == "AKIAENVIRONMENT00001")
        #expect(creds.secretAccessKey.value == "env-secret-access-key-0001")
        #expect(creds.sessionToken == nil)
        #expect(creds.expiration == nil)
        #expect(creds.source == "environment")

        var env = fixture.env
        env["AWS_SESSION_TOKEN"] = "env-session-token-value-0001"
        let withToken = try await makeChain(fixture, env: env).resolve().credentials()
        #expect(withToken.accessKeyId == "AKIAENVIRONMENT00001")
        #expect(withToken.secretAccessKey.value == "env-secret-access-key-0001")
        #expect(withToken.sessionToken?.value == "env-session-token-value-0001")
        #expect(withToken.source == "environment")

        // Without AWS_PROFILE the environment still wins over [default].
        env.removeValue(forKey: "AWS_PROFILE")
        #expect(try await makeChain(fixture, env: env).resolve().credentials().accessKeyId == "AKIAENVIRONMENT00001")
    }

    @Test(arguments: [["AWS_ACCESS_KEY_ID": "AKIAHALFSET000000001"], ["AWS_SECRET_ACCESS_KEY": "half-set-secret-value-0001"]])
    func halfSetEnvironmentKeysAreAnError(_ half: [String: String]) async throws {
        // A usable profile exists: the chain must not silently fall back to it.
        let fixture = try Fixture(credentials: Self.devProfile, env: half.merging(["AWS_PROFILE": "dev"]) { a, _ in a })
        let error = await #expect(throws: CredentialError.self) { try await makeChain(fixture).resolve() }
        let message = try #require(error).description
        #expect(message.contains("AWS_ACCESS_KEY_ID"))
        #expect(message.contains("AWS_SECRET_ACCESS_KEY"))
    }

    // 2. Profiles with static keys

    @Test func profileStaticKeysSelectedByAWSProfile() async throws {
        let fixture = try Fixture(
            config: """
                [profile dev]
                region = eu-west-1
                aws_access_key_id = AKIACONFIGFILELOSES1
                """,
            credentials: """
                [dev]
                aws_access_key_id = AKIAPROFILEDEV000001
                aws_secret_access_key = profile-dev-secret-value-0001
                aws_session_token = profile-dev-session-token-0001

                [default]
                aws_access_key_id = AKIAPROFILEDEFAULT01
                aws_secret_access_key = profile-default-secret-value-01
                """, env: ["AWS_PROFILE": "dev"])
        let creds = try await makeChain(fixture).resolve().credentials()
        // The credentials file wins over the config file for the same key.
        #expect(creds.accessKeyId == "AKIAPROFILEDEV000001")
        #expect(creds.secretAccessKey.value == "profile-dev-secret-value-0001")
        #expect(creds.sessionToken?.value == "profile-dev-session-token-0001")
        #expect(creds.source == "profile dev")
        #expect(fixture.files.profiles["dev"]?["region"] == "eu-west-1")

        // Nothing selected: [default].
        var env = fixture.env
        env.removeValue(forKey: "AWS_PROFILE")
        let fallback = try await makeChain(fixture, env: env).resolve().credentials()
        #expect(fallback.accessKeyId == "AKIAPROFILEDEFAULT01")
        #expect(fallback.source == "profile default")
    }

    @Test func explicitProfileIgnoresEnvironmentKeysAndAWSProfile() async throws {
        let fixture = try Fixture(
            config: """
                [profile ops]
                aws_access_key_id = AKIAOPSCONFIGFILE001
                aws_secret_access_key = ops-config-secret-value-0001
                """, credentials: Self.devProfile,
            env: [
                "AWS_PROFILE": "dev",
                "AWS_ACCESS_KEY_ID": "AKIAENVIRONMENT00001",
                "AWS_SECRET_ACCESS_KEY": "env-secret-access-key-0001",
                "AWS_SESSION_TOKEN": "env-session-token-value-0001",
            ])
        let chain = makeChain(fixture, profile: "ops")
        #expect(chain.profileName == "ops")
        let creds = try await chain.resolve().credentials()
        #expect(creds.accessKeyId == "AKIAOPSCONFIGFILE001")
        #expect(creds.secretAccessKey.value == "ops-config-secret-value-0001")
        #expect(creds.sessionToken == nil)
        #expect(creds.source == "profile ops")

        let dev = try await makeChain(fixture, profile: "dev").resolve().credentials()
        #expect(dev.accessKeyId == "AKIAPROFILEDEV000001")
    }

    // 4. Profile errors

    @Test func sourceProfileLoopIsAnError() async throws {
        let fixture = try Fixture(
            config: """
                [profile loop-a]
                role_arn = arn:aws:iam::\(account):role/loop-a
                source_profile = loop-b

                [profile loop-b]
                role_arn = arn:aws:iam::\(account):role/loop-b
                source_profile = loop-a
                """)
        let error = await #expect(throws: CredentialError.self) { try await makeChain(fixture, profile: "loop-a").resolve() }
        let message = try #require(error).description
        #expect(message.contains("loops"))
        #expect(message.contains("loop-a → loop-b → loop-a"))

        // The same through AWS_PROFILE.
        var env = fixture.env
        env["AWS_PROFILE"] = "loop-b"
        let viaEnv = await #expect(throws: CredentialError.self) { try await makeChain(fixture, env: env).resolve() }
        #expect(viaEnv?.description.contains("loop-b → loop-a → loop-b") == true)
    }

    @Test func selfReferencingSourceProfileWithoutKeysIsALoop() async throws {
        let fixture = try Fixture(
            config: """
                [profile selfish]
                role_arn = arn:aws:iam::\(account):role/selfish
                source_profile = selfish
                """)
        let error = await #expect(throws: CredentialError.self) { try await makeChain(fixture, profile: "selfish").resolve() }
        #expect(error?.description.contains("loops") == true)
    }

    @Test func missingProfilesAreNamed() async throws {
        let fixture = try Fixture(
            config: """
                [profile orphan]
                role_arn = arn:aws:iam::\(account):role/orphan
                source_profile = vanished-source
                """, credentials: Self.devProfile)

        let explicit = await #expect(throws: CredentialError.self) { try await makeChain(fixture, profile: "no-such-profile").resolve() }
        #expect(explicit?.description.contains("profile no-such-profile not found") == true)

        var env = fixture.env
        env["AWS_PROFILE"] = "also-missing"
        let fromEnv = await #expect(throws: CredentialError.self) { try await makeChain(fixture, env: env).resolve() }
        let fromEnvMessage = try #require(fromEnv).description
        #expect(fromEnvMessage.contains("also-missing"))
        #expect(fromEnvMessage.contains("AWS_PROFILE"))

        let source = await #expect(throws: CredentialError.self) { try await makeChain(fixture, profile: "orphan").resolve() }
        #expect(source?.description.contains("profile vanished-source not found") == true)
    }

    @Test func ssoProfilesAreClearlyUnsupported() async throws {
        let fixture = try Fixture(
            config: """
                [profile legacy-sso]
                sso_start_url = https://example.awsapps.com/start
                sso_region = us-east-1
                sso_account_id = \(account)
                sso_role_name = ReadOnly

                [profile session-sso]
                sso_session = corp
                sso_account_id = \(account)
                sso_role_name = ReadOnly

                [sso-session corp]
                sso_start_url = https://example.awsapps.com/start
                sso_region = us-east-1
                """)
        for name in ["legacy-sso", "session-sso"] {
            let error = await #expect(throws: CredentialError.self) { try await makeChain(fixture, profile: name).resolve() }
            let message = try #require(error).description
            #expect(message.contains("profile \(name)"))
            #expect(message.contains("SSO"))
            #expect(message.contains("not support"))
            #expect(message.contains("credential_process"))
        }
        // An [sso-session] section is not a profile.
        #expect(fixture.files.profiles["sso-session corp"] == nil)
        #expect(fixture.files.profiles["corp"] == nil)
    }

    @Test func mfaSerialIsAClearError() async throws {
        let fixture = try Fixture(
            config: """
                [profile with-mfa]
                role_arn = arn:aws:iam::\(account):role/needs-mfa
                source_profile = dev
                mfa_serial = arn:aws:iam::\(account):mfa/someone
                """, credentials: Self.devProfile)
        let error = await #expect(throws: CredentialError.self) { try await makeChain(fixture, profile: "with-mfa").resolve() }
        let message = try #require(error).description
        #expect(message.contains("profile with-mfa"))
        #expect(message.contains("mfa_serial"))
        #expect(message.contains("MFA"))
    }

    // 5. credential_process

    @Test func credentialProcessVersion1() async throws {
        let expiration = Date(timeIntervalSince1970: 4_070_908_800)  // 2099-01-01T00:00:00Z
        let fixture = try Fixture()
        try fixture.write(
            """
            #!/bin/sh
            # Prints credentials the way `aws configure export-credentials --format process` does.
            cat <<'EOF'
            {"Version": 1, "AccessKeyId": "ASIAPROCESS000000001", "SecretAccessKey": "process-secret-value-0001",
             "SessionToken": "process-session-token-0001", "Expiration": "2099-01-01T00:00:00Z"}
            EOF
            """, to: "creds.sh")
        try fixture.write(
            """
            [profile proc]
            credential_process = /bin/sh \(fixture.path("creds.sh"))
            """, to: "config")
        let files = try SharedConfigFiles.load(environment: fixture.env)
        let chain = AWSCredentialChain(
            environment: fixture.env, explicitProfile: "proc", files: files, region: "us-east-1",
            transport: sharedTransport, makeClient: { testClient($0, endpoint: unusedEndpoint) })
        let creds = try await chain.resolve().credentials()
        #expect(creds.accessKeyId == "ASIAPROCESS000000001")
        #expect(creds.secretAccessKey.value == "process-secret-value-0001")
        #expect(creds.sessionToken?.value == "process-session-token-0001")
        #expect(creds.expiration == expiration)
        #expect(creds.source == "profile proc (credential_process)")
        #expect(!"\(creds)".contains("process-secret-value-0001"))
        #expect(!"\(creds)".contains("process-session-token-0001"))

        // Selected through AWS_PROFILE as well, with the command's arguments passed by the shell.
        var env = fixture.env
        env["AWS_PROFILE"] = "proc"
        let viaEnv = AWSCredentialChain(
            environment: env, explicitProfile: nil, files: files, region: "us-east-1",
            transport: sharedTransport, makeClient: { testClient($0, endpoint: unusedEndpoint) })
        #expect(try await viaEnv.resolve().credentials().accessKeyId == "ASIAPROCESS000000001")
    }

    @Test(arguments: [
        ("/bin/sh -c 'echo oops >&2; exit 1'", "exited with status 1"),
        (#"printf '%s' '{"Version": 2, "AccessKeyId": "ASIAVERSIONTWO000001", "SecretAccessKey": "version-two-secret-0001"}'"#, "Version"),
        ("echo this-is-not-json", "no JSON"),
        (#"printf '%s' '{"Version": 1, "AccessKeyId": "ASIANOSECRET00000001"}'"#, "AccessKeyId/SecretAccessKey"),
    ])
    func credentialProcessFailures(_ command: String, _ expected: String) async throws {
        let fixture = try Fixture(
            config: """
                [profile broken]
                credential_process = \(command)
                """)
        #expect(fixture.files.profiles["broken"]?["credential_process"] == command)
        let provider = try await makeChain(fixture, profile: "broken").resolve()
        let error = await #expect(throws: CredentialError.self) { try await provider.credentials() }
        let message = try #require(error).description
        #expect(message.contains("profile broken"))
        #expect(message.contains(expected), "\(message)")
    }

    // 7. Container credentials

    @Test func containerCredentialsWithRotatingTokenFile() async throws {
        let fixture = try Fixture()
        let tokenPath = fixture.path("container-token")
        try fixture.write("container-token-first-0001\n", to: "container-token")
        let log = RequestLog()
        let served = Counter()
        try await withLoopbackServer({ request in
            let seen = SeenRequest(request)
            await log.append(seen)
            // The server's own idea of the current token, read from the same file on every request.
            let expected = (try? String(contentsOfFile: tokenPath, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            guard request.method == "GET", request.path == "/creds", let expected, seen.header("Authorization") == expected else {
                return LoopbackResponse(status: 401, contentType: "application/json", text: #"{"message": "bad token"}"#)
            }
            let n = await served.next()
            // Expires inside the 5-minute refresh window: every call refreshes.
            return LoopbackResponse(
                status: 200, contentType: "application/json",
                text: credentialJSON(
                    key: "ASIACONTAINER0000\(n)", secret: "container-secret-value-000\(n)", token: "container-session-token-000\(n)",
                    expiration: Date().addingTimeInterval(120)))
        }) { server in
            var env = fixture.env
            env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "\(server.baseURL)/creds"
            env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = tokenPath
            let provider = try await makeChain(fixture, env: env).resolve()
            #expect(provider is RefreshingCredentialProvider)

            let first = try await provider.credentials()
            #expect(first.accessKeyId == "ASIACONTAINER00001")
            #expect(first.secretAccessKey.value == "container-secret-value-0001")
            #expect(first.sessionToken?.value == "container-session-token-0001")
            #expect(first.source == "container")
            #expect(first.expiration.map { $0 > Date() } == true)

            try fixture.write("container-token-second-0002\n", to: "container-token")
            let second = try await provider.credentials()
            #expect(second.accessKeyId == "ASIACONTAINER00002")

            let seen = await log.requests
            #expect(seen.map(\.method) == ["GET", "GET"])
            #expect(seen.map { $0.header("Authorization") } == ["container-token-first-0001", "container-token-second-0002"])
            if let refresher = provider as? RefreshingCredentialProvider {
                #expect(await refresher.refreshCount == 2)
            }

            // A stale static token is refused by the endpoint, and the error says so.
            env.removeValue(forKey: "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
            env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "container-token-stale-0000"
            let stale = try await makeChain(fixture, env: env).resolve()
            let error = await #expect(throws: CredentialError.self) { try await stale.credentials() }
            #expect(error?.description.contains("HTTP 401") == true)
            #expect(await log.requests.last?.header("Authorization") == "container-token-stale-0000")
        }
    }

    @Test(arguments: [
        "http://example.com/x", "http://169.254.169.254/latest/creds", "http://127.0.0.1.nip.io/creds",
        "http://127.attacker.example/creds",
    ])
    func containerFullURIMustBeLoopbackOrHTTPS(_ uri: String) async throws {
        let fixture = try Fixture(env: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": uri])
        let error = await #expect(throws: CredentialError.self) { try await makeChain(fixture).resolve() }
        let message = try #require(error).description
        #expect(message.contains("AWS_CONTAINER_CREDENTIALS_FULL_URI"))
        #expect(message.contains("HTTPS"))
        #expect(message.contains(URL(string: uri)!.host!))
    }

    @Test func containerURIsThatAreAllowed() throws {
        #expect(
            try ContainerCredentialProvider.url(from: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": "https://creds.example.com/x"])
                == "https://creds.example.com/x")
        #expect(
            try ContainerCredentialProvider.url(from: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:8080/creds"])
                == "http://127.0.0.1:8080/creds")
        #expect(
            try ContainerCredentialProvider.url(from: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.1.2.3/creds"])
                == "http://127.1.2.3/creds")
        #expect(
            try ContainerCredentialProvider.url(from: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://169.254.170.23/v1/credentials"])
                == "http://169.254.170.23/v1/credentials")
        #expect(
            try ContainerCredentialProvider.url(from: ["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/abc"])
                == "http://169.254.170.2/v2/credentials/abc")
        #expect(try ContainerCredentialProvider.url(from: [:]) == nil)
    }

    // 8. EC2 instance metadata (IMDSv2)

    /// An IMDSv2 peer: a session token from PUT /latest/api/token, then the role and its credentials,
    /// each only with that token.
    private static func imdsHandler(log: RequestLog, refuseToken: Bool = false) -> @Sendable (LoopbackRequest) async -> LoopbackResponse {
        let sessionToken = "imds-session-token-\(shortID())"
        let role = "attest-instance-role"
        return { request in
            let seen = SeenRequest(request)
            await log.append(seen)
            if request.method == "PUT", request.path == "/latest/api/token" {
                guard !refuseToken else { return LoopbackResponse(status: 403, contentType: "text/plain", text: "Forbidden") }
                guard let ttl = seen.header("X-aws-ec2-metadata-token-ttl-seconds"), let seconds = Int(ttl), (1...21600).contains(seconds)
                else {
                    return LoopbackResponse(status: 400, contentType: "text/plain", text: "missing ttl")
                }
                return LoopbackResponse(status: 200, contentType: "text/plain", text: sessionToken)
            }
            guard request.method == "GET" else { return LoopbackResponse(status: 405) }
            guard seen.header("X-aws-ec2-metadata-token") == sessionToken else {
                return LoopbackResponse(status: 401, contentType: "text/plain", text: "Unauthorized")
            }
            switch request.path {
            case "/latest/meta-data/iam/security-credentials/":
                return LoopbackResponse(status: 200, contentType: "text/plain", text: role)
            case "/latest/meta-data/iam/security-credentials/\(role)":
                return LoopbackResponse(
                    status: 200, contentType: "text/plain",
                    text: credentialJSON(
                        key: "ASIAINSTANCE00000001", secret: "instance-secret-value-0001", token: "instance-session-token-0001",
                        expiration: Date().addingTimeInterval(6 * 3600),
                        extra: #""Code": "Success", "LastUpdated": "2024-01-01T00:00:00Z", "Type": "AWS-HMAC", "#))
            default:
                return LoopbackResponse(status: 404)
            }
        }
    }

    @Test func instanceMetadataIsPickedWhenNothingElseIsConfigured() async throws {
        let log = RequestLog()
        try await withLoopbackServer(Self.imdsHandler(log: log)) { server in
            let fixture = try Fixture(env: ["AWS_EC2_METADATA_SERVICE_ENDPOINT": server.baseURL], imdsDisabled: false)
            #expect(fixture.env["AWS_EC2_METADATA_DISABLED"] == nil)
            let provider = try await makeChain(fixture).resolve()
            let creds = try await provider.credentials()
            #expect(creds.accessKeyId == "ASIAINSTANCE00000001")
            #expect(creds.secretAccessKey.value == "instance-secret-value-0001")
            #expect(creds.sessionToken?.value == "instance-session-token-0001")
            #expect(creds.source == "instance metadata (attest-instance-role)")
            #expect(creds.expiration.map { $0 > Date().addingTimeInterval(3600) } == true)

            let seen = await log.requests
            #expect(
                seen.map { "\($0.method) \($0.path)" } == [
                    "PUT /latest/api/token",
                    "GET /latest/meta-data/iam/security-credentials/",
                    "GET /latest/meta-data/iam/security-credentials/attest-instance-role",
                ])
            #expect(seen.first?.header("X-aws-ec2-metadata-token-ttl-seconds") != nil)
            // Every GET carried the session token (the server refuses them otherwise).
            #expect(seen.dropFirst().allSatisfy { $0.header("X-aws-ec2-metadata-token")?.hasPrefix("imds-session-token-") == true })

            // The probe's answer is reused: asking again does not go back to the server.
            _ = try await provider.credentials()
            #expect(await log.requests.count == 3)
        }
    }

    @Test func instanceMetadataRefusingTheTokenMeansNoCredentials() async throws {
        let log = RequestLog()
        try await withLoopbackServer(Self.imdsHandler(log: log, refuseToken: true)) { server in
            let fixture = try Fixture(env: ["AWS_EC2_METADATA_SERVICE_ENDPOINT": server.baseURL], imdsDisabled: false)
            let error = await #expect(throws: CredentialError.self) { try await makeChain(fixture).resolve() }
            #expect(error?.description.hasPrefix("no AWS credentials found") == true)
            // It did ask this server (and nothing else answered for it), and stopped at the PUT.
            #expect(await log.requests.map { "\($0.method) \($0.path)" } == ["PUT /latest/api/token"])
        }
    }

    @Test func instanceMetadataDisabled() async throws {
        let log = RequestLog()
        try await withLoopbackServer(Self.imdsHandler(log: log)) { server in
            for value in ["true", "TRUE", "1"] {
                let fixture = try Fixture(
                    env: [
                        "AWS_EC2_METADATA_SERVICE_ENDPOINT": server.baseURL,
                        "AWS_EC2_METADATA_DISABLED": value,
                    ], imdsDisabled: false)
                let error = await #expect(throws: CredentialError.self) { try await makeChain(fixture).resolve() }
                #expect(error?.description.hasPrefix("no AWS credentials found") == true)
            }
            #expect(await log.requests.isEmpty)
        }
    }

    // 9. RefreshingCredentialProvider

    @Test func concurrentCallersShareOneRefresh() async throws {
        let base = CountingProvider(lifetime: 3600, delay: .milliseconds(200))
        let provider = RefreshingCredentialProvider(base)
        let keys = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<50 { group.addTask { try await provider.credentials().accessKeyId } }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(keys.count == 50)
        #expect(Set(keys) == ["ASIACOUNTING0001"])
        #expect(await base.calls == 1)
        #expect(await provider.refreshCount == 1)
    }

    @Test func credentialsInsideTheRefreshWindowAreRefreshed() async throws {
        let lasting = CountingProvider(lifetime: 3600)
        let stable = RefreshingCredentialProvider(lasting, refreshWindow: 300)
        _ = try await stable.credentials()
        #expect(try await stable.credentials().accessKeyId == "ASIACOUNTING0001")
        #expect(await lasting.calls == 1)

        let expiring = CountingProvider(lifetime: 120)
        let refreshing = RefreshingCredentialProvider(expiring, refreshWindow: 300)
        #expect(try await refreshing.credentials().accessKeyId == "ASIACOUNTING0001")
        #expect(try await refreshing.credentials().accessKeyId == "ASIACOUNTING0002")
        #expect(await expiring.calls == 2)
        #expect(await refreshing.refreshCount == 2)
    }

    @Test func failedRefreshFallsBackToStillValidCredentials() async throws {
        let expiry = Date(timeIntervalSince1970: 2_000_000_000)
        let clock = TestClock(expiry.addingTimeInterval(-200))  // inside the 300 s window, not yet expired
        let base = CountingProvider(fixedExpiration: expiry)
        let provider = RefreshingCredentialProvider(base, refreshWindow: 300, now: { clock.now })

        #expect(try await provider.credentials().accessKeyId == "ASIACOUNTING0001")
        await base.setFailing(true)
        // The refresh fails, the old credentials are still valid: they are returned.
        #expect(try await provider.credentials().accessKeyId == "ASIACOUNTING0001")
        #expect(await base.calls == 2)

        // Once they have expired, the failure is reported.
        clock.now = expiry.addingTimeInterval(1)
        let error = await #expect(throws: CredentialError.self) { try await provider.credentials() }
        #expect(error?.description.contains("refresh 3 failed") == true)

        // A later successful refresh recovers.
        await base.setFailing(false)
        #expect(try await provider.credentials().accessKeyId == "ASIACOUNTING0004")
    }

    @Test func concurrentCallersDuringAFailedRefreshGetTheStillValidCredentials() async throws {
        let expiry = Date(timeIntervalSince1970: 2_000_000_000)
        let clock = TestClock(expiry.addingTimeInterval(-200))
        let base = CountingProvider(fixedExpiration: expiry, delay: .milliseconds(200))
        let provider = RefreshingCredentialProvider(base, refreshWindow: 300, now: { clock.now })
        #expect(try await provider.credentials().accessKeyId == "ASIACOUNTING0001")
        await base.setFailing(true)
        let results = await withTaskGroup(of: String.self) { group in
            for _ in 0..<20 {
                group.addTask { (try? await provider.credentials().accessKeyId) ?? "error" }
            }
            return await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(results.count == 20)
        #expect(results.filter { $0 == "error" }.isEmpty, "\(results.filter { $0 == "error" }.count) callers got an error")
        #expect(await base.calls == 2)
    }

    // 10. Nothing secret in descriptions

    @Test func descriptionsNeverShowSecrets() async throws {
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYDESCRIBESECRET"
        let token = "FwoGZXIvYXdzEDESCRIBESESSIONTOKENxyz0123456789"
        let creds = AWSCredentials(
            accessKeyId: "ASIADESCRIBE00000001", secretAccessKey: secret, sessionToken: token,
            expiration: Date(timeIntervalSince1970: 4_070_908_800), source: "test")
        var dumped = ""
        dump(creds, to: &dumped)
        var dumpedList = ""
        dump([creds], to: &dumpedList)
        let renderings = [
            String(describing: creds), "\(creds)", String(reflecting: creds), dumped, dumpedList,
            "\([creds])", "\(Optional(creds) as Any)", String(describing: creds.secretAccessKey), "\(creds.sessionToken as Any)",
        ]
        for text in renderings {
            #expect(!text.contains(secret), "secret key in: \(text)")
            #expect(!text.contains(token), "session token in: \(text)")
        }
        #expect(String(describing: creds).contains("ASIADESCRIBE00000001"))
        #expect(dumped.contains("ASIADESCRIBE00000001"))
        #expect(creds.secretAccessKey.value == secret)
        #expect(creds.sessionToken?.value == token)
        // An error that quotes them is scrubbed too.
        #expect(!CredentialError("failed with \(secret) and \(token)").description.contains(secret))
        #expect(!CredentialError("failed with \(secret) and \(token)").description.contains(token))
    }
}

// MARK: - Tests against moto STS

extension CredentialChainTests {
    @Suite(.sharedMotoServer) struct STS {
        // 3. role_arn + source_profile, two levels, with external_id

        @Test func profileRoleChainThroughSourceProfiles() async throws {
            let moto = try requireMoto()
            let id = shortID()
            let roleA = "attest-chain-a-\(id)"
            let roleB = "attest-chain-b-\(id)"
            let arns = try await createRoles(moto, [roleA, roleB])
            #expect(arns == ["arn:aws:iam::\(account):role/\(roleA)", "arn:aws:iam::\(account):role/\(roleB)"])
            let sourceKey = "AKIACHAINC" + id.uppercased()
            let fixture = try Fixture(
                config: """
                    [profile chain-a]
                    role_arn = arn:aws:iam::\(account):role/\(roleA)
                    source_profile = chain-b
                    external_id = attest-external-\(id)
                    role_session_name = attest-session-a-\(id)

                    [profile chain-b]
                    role_arn = arn:aws:iam::\(account):role/\(roleB)
                    source_profile = chain-c
                    role_session_name = attest-session-b-\(id)
                    """,
                credentials: """
                    [chain-c]
                    aws_access_key_id = \(sourceKey)
                    aws_secret_access_key = chain-c-secret-value-\(id)
                    """, env: ["AWS_PROFILE": "chain-a"])

            try await withRecordingProxy(to: moto.endpoint) { endpoint, log in
                let provider = try await makeChain(fixture, endpoint: endpoint).resolve()
                let creds = try await provider.credentials()
                #expect(creds.accessKeyId.hasPrefix("ASIA"))
                #expect(creds.sessionToken != nil)
                #expect(creds.expiration.map { $0 > Date().addingTimeInterval(600) } == true)
                #expect(creds.source == "assumed role arn:aws:iam::\(account):role/\(roleA)")
                #expect(
                    try await callerArn(creds, endpoint: moto.endpoint)
                        == "arn:aws:sts::\(account):assumed-role/\(roleA)/attest-session-a-\(id)")

                // What moto was actually asked: C's keys assume B, then B's session assumes A with the external id.
                let calls = await log.requests.filter { $0.form["Action"] == "AssumeRole" }
                try #require(calls.count == 2)
                let (first, second) = (calls[0], calls[1])
                #expect(first.form["RoleArn"] == "arn:aws:iam::\(account):role/\(roleB)")
                #expect(first.form["RoleSessionName"] == "attest-session-b-\(id)")
                #expect(first.form["ExternalId"] == nil)
                #expect(first.signingKeyId == sourceKey)
                #expect(first.header("X-Amz-Security-Token") == nil)

                #expect(second.form["RoleArn"] == "arn:aws:iam::\(account):role/\(roleA)")
                #expect(second.form["RoleSessionName"] == "attest-session-a-\(id)")
                #expect(second.form["ExternalId"] == "attest-external-\(id)")
                #expect(second.header("X-Amz-Security-Token") != nil)
                let intermediateKey = try #require(second.signingKeyId)
                #expect(intermediateKey.hasPrefix("ASIA"))
                #expect(intermediateKey != creds.accessKeyId)
                let intermediate = AWSCredentials(accessKeyId: intermediateKey, secretAccessKey: "unused-by-moto-0001", source: "test")
                #expect(
                    try await callerArn(intermediate, endpoint: moto.endpoint)
                        == "arn:aws:sts::\(account):assumed-role/\(roleB)/attest-session-b-\(id)")

                // Cached: a second call does not assume again.
                #expect(try await provider.credentials().accessKeyId == creds.accessKeyId)
                #expect(await log.requests.filter { $0.form["Action"] == "AssumeRole" }.count == 2)
            }
        }

        @Test func roleWithCredentialSourceEnvironment() async throws {
            let moto = try requireMoto()
            let id = shortID()
            let role = "attest-envsource-\(id)"
            _ = try await createRoles(moto, [role])
            let fixture = try Fixture(
                config: """
                    [profile from-env]
                    role_arn = arn:aws:iam::\(account):role/\(role)
                    credential_source = Environment
                    role_session_name = attest-envsource-session
                    """,
                env: [
                    "AWS_ACCESS_KEY_ID": "AKIAENVSOURCE\(id.uppercased().prefix(7))",
                    "AWS_SECRET_ACCESS_KEY": "env-source-secret-value-0001",
                ])
            let creds = try await makeChain(fixture, profile: "from-env", endpoint: moto.endpoint).resolve().credentials()
            #expect(creds.accessKeyId.hasPrefix("ASIA"))
            #expect(
                try await callerArn(creds, endpoint: moto.endpoint)
                    == "arn:aws:sts::\(account):assumed-role/\(role)/attest-envsource-session")
        }

        // 6. Web identity

        static let webToken = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJyZXBvOmV4YW1wbGUvYXR0ZXN0In0.c2lnbmF0dXJlLW5vdC1jaGVja2Vk"

        @Test func webIdentityFromEnvironment() async throws {
            let moto = try requireMoto()
            let id = shortID()
            let role = "attest-oidc-\(id)"
            let arns = try await createRoles(moto, [role])
            let fixture = try Fixture(credentials: CredentialChainTests.devProfile)
            try fixture.write(Self.webToken + "\n", to: "web-identity-token")
            var env = fixture.env
            env["AWS_ROLE_ARN"] = arns[0]
            env["AWS_WEB_IDENTITY_TOKEN_FILE"] = fixture.path("web-identity-token")
            env["AWS_ROLE_SESSION_NAME"] = "attest-ci-\(id)"
            env["AWS_PROFILE"] = "dev"  // web identity comes before profiles

            try await withRecordingProxy(to: moto.endpoint) { endpoint, log in
                let creds = try await makeChain(fixture, env: env, endpoint: endpoint).resolve().credentials()
                #expect(creds.accessKeyId.hasPrefix("ASIA"))
                #expect(creds.sessionToken != nil)
                #expect(creds.source == "web identity \(arns[0])")
                #expect(
                    try await callerArn(creds, endpoint: moto.endpoint) == "arn:aws:sts::\(account):assumed-role/\(role)/attest-ci-\(id)")

                let calls = await log.requests
                try #require(calls.count == 1)
                #expect(calls[0].form["Action"] == "AssumeRoleWithWebIdentity")
                #expect(calls[0].form["RoleArn"] == arns[0])
                #expect(calls[0].form["RoleSessionName"] == "attest-ci-\(id)")
                #expect(calls[0].form["WebIdentityToken"] == Self.webToken)
                // Unsigned: no SigV4 and no session token.
                #expect(calls[0].header("Authorization") == nil)
                #expect(calls[0].header("X-Amz-Security-Token") == nil)
            }
        }

        @Test func webIdentityFromProfile() async throws {
            let moto = try requireMoto()
            let id = shortID()
            let role = "attest-irsa-\(id)"
            _ = try await createRoles(moto, [role])
            let fixture = try Fixture()
            try fixture.write(Self.webToken, to: "irsa-token")
            try fixture.write(
                """
                [profile irsa]
                role_arn = arn:aws:iam::\(account):role/\(role)
                web_identity_token_file = \(fixture.path("irsa-token"))
                role_session_name = attest-irsa-session-\(id)
                """, to: "config")
            var env = fixture.env
            env["AWS_PROFILE"] = "irsa"
            let files = try SharedConfigFiles.load(environment: env)

            try await withRecordingProxy(to: moto.endpoint) { endpoint, log in
                for explicit in [nil, "irsa"] as [String?] {
                    let transport = currentTransport
                    let chain = AWSCredentialChain(
                        environment: env, explicitProfile: explicit, files: files, region: "us-east-1",
                        transport: transport, makeClient: { testClient($0, endpoint: endpoint, transport: transport) })
                    let creds = try await chain.resolve().credentials()
                    #expect(creds.accessKeyId.hasPrefix("ASIA"))
                    #expect(
                        try await callerArn(creds, endpoint: moto.endpoint)
                            == "arn:aws:sts::\(account):assumed-role/\(role)/attest-irsa-session-\(id)")
                }
                let calls = await log.requests
                #expect(calls.count == 2)
                #expect(
                    calls.allSatisfy { $0.form["Action"] == "AssumeRoleWithWebIdentity" && $0.form["WebIdentityToken"] == Self.webToken })
                #expect(calls.allSatisfy { $0.header("Authorization") == nil })
            }
        }
    }
}

// MARK: - Test doubles for the cache (not peers)

/// Hands out numbered credentials and counts how often it was asked.
private actor CountingProvider: AWSCredentialProvider {
    private(set) var calls = 0
    private var failing = false
    let lifetime: TimeInterval
    let fixedExpiration: Date?
    let delay: Duration

    init(lifetime: TimeInterval = 3600, fixedExpiration: Date? = nil, delay: Duration = .zero) {
        self.lifetime = lifetime
        self.fixedExpiration = fixedExpiration
        self.delay = delay
    }

    func setFailing(_ value: Bool) { failing = value }

    func credentials() async throws -> AWSCredentials {
        calls += 1
        let n = calls
        let fail = failing
        if delay > .zero { try await Task.sleep(for: delay) }
        if fail { throw CredentialError("refresh \(n) failed") }
        let suffix = String(n).count >= 4 ? String(n) : String(repeating: "0", count: 4 - String(n).count) + String(n)
        return AWSCredentials(
            accessKeyId: "ASIACOUNTING\(suffix)", secretAccessKey: "counting-secret-value-\(suffix)",
            sessionToken: "counting-session-token-\(suffix)",
            expiration: fixedExpiration ?? Date().addingTimeInterval(lifetime), source: "counting")
    }
}

private actor Counter {
    private var value = 0
    func next() -> Int {
        value += 1
        return value
    }
}

private final class TestClock: Sendable {
    private let value: Mutex<Date>
    init(_ start: Date) { value = Mutex(start) }
    var now: Date {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}

@Suite("Metadata endpoint timeout")
struct MetadataTimeoutTests {
    @Test func awsMetadataServiceTimeoutIsReadAsTheSDKsReadIt() throws {
        func chain(_ value: String?) -> AWSCredentialChain {
            let env = value.map { ["AWS_METADATA_SERVICE_TIMEOUT": $0] } ?? [:]
            return AWSCredentialChain(
                environment: env, explicitProfile: nil, files: SharedConfigFiles(profiles: [:]), region: "us-east-1",
                transport: AsyncHTTPClientTransport(), makeClient: { _ in fatalError("no client in this test") })
        }
        #expect(chain("7").metadataTimeout == .seconds(7))
        #expect(chain("0.5").metadataTimeout == .milliseconds(500))
        for ignored in [nil, "", "soon", "-1", "0", "1e9"] { #expect(chain(ignored).metadataTimeout == nil, "\(ignored ?? "nil")") }
    }
}

/// credential_process runs someone else's program: it gets a deadline, an output cap, and no
/// life beyond attest's.
@Suite("credential_process bounds")
struct CredentialProcessBoundsTests {
    @Test func aHelperThatHangsIsStoppedAtTheDeadlineWithWhatItStarted() async throws {
        // A helper that starts a child of its own and waits.
        let provider = ProcessCredentialProvider(
            command: "/bin/sh -c 'sleep 317 & sleep 318; wait'", profile: "slow",
            timeout: .milliseconds(700))
        let error = await #expect(throws: CredentialError.self) { _ = try await provider.credentials() }
        #expect(error?.description.contains("did not finish within") == true, "\(String(describing: error))")
        try await Task.sleep(for: .milliseconds(200))
        let left = try await runProcessCapturing("/usr/bin/pgrep", ["-f", "sleep 31[78]"]).stdout
        #expect(left.isEmpty, "still running: \(left)")
    }

    @Test func aHelperThatPrintsForeverIsStoppedAtTheCap() async throws {
        let provider = ProcessCredentialProvider(command: "yes", profile: "chatty", maxOutputBytes: 100_000)
        let error = await #expect(throws: CredentialError.self) { _ = try await provider.credentials() }
        #expect(error?.description.contains("printed more than 100000 bytes") == true, "\(String(describing: error))")
    }

    @Test func commandsAreSplitAsTheAWSCLISplitsThem() throws {
        #expect(
            try ShellWords.split(#"/bin/helper --profile 'my team' "a \"b\"" c\ d"#) == [
                "/bin/helper", "--profile", "my team", #"a "b""#, "c d",
            ])
        #expect(try ShellWords.split("  ") == [])
        #expect(throws: CredentialError.self) { try ShellWords.split("echo 'open") }
    }

    @Test func aHelperDiesWithAttest() async throws {
        let dir = try TestPaths.temporaryDirectory("cred-process")
        let config = dir.appendingPathComponent("config")
        try "[profile waits]\ncredential_process = sleep 319\n".write(to: config, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = TestPaths.attestBinary
        process.arguments = ["scan", "aws", "--profile", "waits", "--no-controls", "--quiet"]
        process.environment = [
            "PATH": "/usr/bin:/bin", "HOME": dir.path, "AWS_CONFIG_FILE": config.path,
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_EC2_METADATA_DISABLED": "true",
        ]
        let stderr = dir.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: stderr.path, contents: nil)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: stderr)
        try process.run()
        var started = false
        // Up to 30 s for the helper to start on a loaded machine (the full suite runs in parallel).
        let deadline = ContinuousClock.now + .seconds(30)
        while !started, process.isRunning, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
            started = !(try await runProcessCapturing("/usr/bin/pgrep", ["-f", "sleep 319"], slotted: false).stdout.isEmpty)
        }
        #expect(
            started,
            "attest \(process.isRunning ? "still running" : "exited \(process.terminationStatus)"): \((try? String(contentsOf: stderr, encoding: .utf8)) ?? "")"
        )
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        var gone = false
        for _ in 0..<40 where !gone {
            try await Task.sleep(for: .milliseconds(50))
            gone = try await runProcessCapturing("/usr/bin/pgrep", ["-f", "sleep 319"], slotted: false).stdout.isEmpty
        }
        #expect(gone, "the helper outlived attest")
    }
}
