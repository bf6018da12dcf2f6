import ArgumentParser
import AttestCollect
import AttestCore
import AttestReplay
import AttestScan
import Foundation
import _CryptoExtras

/// Scans the recorded sample AWS account (`fixtures/aws/sample-account`), Azure subscriptions
/// (`fixtures/azure/sample-subscription`) and Google Cloud projects (`fixtures/gcp/sample-project`)
/// through the real HTTP client, SigV4 signer, Entra ID token flow, Google assertion signing and
/// protocol parsers, against replay servers on loopback that check every
/// signature and every bearer token. Needs no cloud account and no network.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Scan a recorded sample AWS account, Azure subscriptions and Google Cloud projects, offline, through the real scan path.")

    @Option(help: "Directory of recorded AWS responses (default: fixtures/aws/sample-account).")
    var fixtures: String?

    @Option(help: "Directory of recorded Azure responses (default: fixtures/azure/sample-subscription).")
    var azureFixtures: String?

    @Option(help: "Directory of recorded Google Cloud responses (default: fixtures/gcp/sample-project).")
    var gcpFixtures: String?

    @Option(
        name: .customLong("cloud"), parsing: .singleValue,
        help: "The recorded cloud to scan: aws, azure or gcp (repeatable; default: all three).")
    var clouds: [DemoCloud] = []

    @Option(help: "Directory holding the provider specs.")
    var providers: String?

    @OptionGroup var options: ScanRunOptions

    /// The key pair the demo signs with; the replay server verifies against it.
    static let accessKeyId = "AKIAATTESTDEMO000001"
    static let secretAccessKey = "attest/demo/secret/key/not/a/real/credential"
    /// The Entra ID application the Azure demo authenticates as; the replay server issues its tokens.
    static let azureTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    static let azureClientId = "6b0c3e1a-58b4-4b57-a2d7-9d1a3b8c2f01"
    static let azureClientSecret = "attest-demo-client-secret-not-a-real-credential"

    func run() async throws {
        LogSetup.bootstrap(level: options.output.logLevel)
        let config = try AttestCLIConfig.load(options.controlSource.config)
        let base = ScanExecution(demo: options, providers: providers)
        let chosen = clouds.isEmpty ? DemoCloud.allCases : clouds
        let status = try await Self.withRecordedEstate(
            clouds: chosen, awsFixtures: fixtures, azureFixtures: azureFixtures, gcpFixtures: gcpFixtures, providers: providers
        ) { targets, environment in
            var execution = base
            execution.environment = environment
            return try await execution.run(targets, config: config)
        }
        throw ExitCode(status)
    }

    /// Serves the recorded AWS account on loopback for the length of `body`, with the target and
    /// the environment (the demo's key pair, the replay server's endpoint) that scan it.
    static func withRecordedAccount<T: Sendable>(
        fixtures: String?, providers: String?,
        _ body: @Sendable (ScanTarget, [String: String]) async throws -> T
    ) async throws -> T {
        try await withRecordedEstate(clouds: [.aws], awsFixtures: fixtures, azureFixtures: nil, gcpFixtures: nil, providers: providers) {
            targets, env in
            try await body(targets[0], env)
        }
    }

    /// Serves the recordings of `clouds` on loopback for the length of `body`, with the targets
    /// and the environment (the demo's credentials, the replay servers' endpoints) that scan them.
    static func withRecordedEstate<T: Sendable>(
        clouds: [DemoCloud], awsFixtures: String?, azureFixtures: String?, gcpFixtures: String?, providers: String?,
        _ body: @Sendable ([ScanTarget], [String: String]) async throws -> T
    ) async throws -> T {
        var environment = ProcessInfo.processInfo.environment.filter {
            !["AWS_", "AZURE_", "GOOGLE_", "CLOUDSDK_", "ATTEST_AZURE_", "ATTEST_GCP_", "GCE_"].contains(where: $0.key.hasPrefix)
        }
        for key in ["IDENTITY_ENDPOINT", "IDENTITY_HEADER"] { environment[key] = nil }
        return try await withAWS(clouds.contains(.aws), fixtures: awsFixtures, providers: providers) { awsTarget, awsEnvironment in
            try await withAzure(clouds.contains(.azure), fixtures: azureFixtures, providers: providers) { azureTarget, azureEnvironment in
                try await withGCP(clouds.contains(.gcp), fixtures: gcpFixtures, providers: providers) { gcpTarget, gcpEnvironment in
                    let targets = [awsTarget, azureTarget, gcpTarget].compactMap { $0 }
                    let cloudEnvironment = awsEnvironment.merging(azureEnvironment) { a, _ in a }.merging(gcpEnvironment) { a, _ in a }
                    return try await body(targets, environment.merging(cloudEnvironment) { _, new in new })
                }
            }
        }
    }

    static func recordings(_ override: String?, default path: String, providers: String?) throws -> [String: Fixture] {
        let directory =
            try override.map { URL(fileURLWithPath: $0) } ?? ProviderLocator.root(override: providers).appendingPathComponent(path)
        let recorded: [String: Fixture]
        do {
            recorded = try FixtureStore(directory: directory).loadAll()
        } catch {
            throw ConfigurationError("\(error)")
        }
        guard !recorded.isEmpty else { throw ConfigurationError("no recorded responses in \(directory.path)") }
        return recorded
    }

    static func withAWS<T: Sendable>(
        _ wanted: Bool, fixtures: String?, providers: String?, _ body: (ScanTarget?, [String: String]) async throws -> T
    ) async throws -> T {
        guard wanted else { return try await body(nil, [:]) }
        let recorded = try recordings(fixtures, default: "fixtures/aws/sample-account", providers: providers)
        // The regions that were recorded (DescribeRegions lists more than a recording covers).
        let regions = Set(recorded.values.filter { $0.request.service == "ec2" }.map(\.request.region)).sorted()
        return try await ReplayServer.withServer(fixtures: recorded, verifying: [Self.accessKeyId: Self.secretAccessKey]) { server in
            let environment = [
                "AWS_ENDPOINT_URL": server.baseURL, "AWS_ACCESS_KEY_ID": Self.accessKeyId,
                "AWS_SECRET_ACCESS_KEY": Self.secretAccessKey, "AWS_REGION": "us-east-1",
                "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_EC2_METADATA_DISABLED": "true",
            ]
            let target = ScanTarget(
                provider: "aws", regions: regions.isEmpty ? nil : regions, options: ["home_region": "us-east-1"],
                origin: "the recorded sample account")
            return try await body(target, environment)
        }
    }

    static func withAzure<T: Sendable>(
        _ wanted: Bool, fixtures: String?, providers: String?, _ body: (ScanTarget?, [String: String]) async throws -> T
    ) async throws -> T {
        guard wanted else { return try await body(nil, [:]) }
        let recorded = try recordings(fixtures, default: "fixtures/azure/sample-subscription", providers: providers)
        let entra = EntraTokenCheck(tenant: azureTenant, clientId: azureClientId, clientSecret: azureClientSecret)
        return try await ReplayServer.withServer(fixtures: recorded, tokens: entra) { server in
            let environment = [
                "AZURE_TENANT_ID": azureTenant, "AZURE_CLIENT_ID": azureClientId, "AZURE_CLIENT_SECRET": azureClientSecret,
                "AZURE_AUTHORITY_HOST": server.baseURL, "ATTEST_AZURE_ARM_ENDPOINT": server.baseURL,
                "ATTEST_AZURE_GRAPH_ENDPOINT": server.baseURL, "ATTEST_AZURE_KEYVAULT_ENDPOINT": server.baseURL,
            ]
            return try await body(ScanTarget(provider: "azure", origin: "the recorded sample subscriptions"), environment)
        }
    }

    /// The service account the Google Cloud demo signs as. Its key is made for each run and held
    /// in a private temporary file that is removed afterwards; the replay server verifies every
    /// assertion against the key's public half.
    static let gcpClientEmail = "attest-demo@attest-demo.iam.gserviceaccount.com"
    /// The APIs the recording reached through `CLOUDSDK_API_ENDPOINT_OVERRIDES_<API>` (as the test
    /// peer serves them, each under `/_api/<api>/`); the rest went through `ATTEST_GCP_ENDPOINT`.
    static let gcpOverriddenAPIs = [
        "sqladmin", "cloudkms", "logging", "monitoring", "container", "bigquery", "dns", "orgpolicy", "serviceusage", "cloudasset",
        "essentialcontacts",
    ]

    static func withGCP<T: Sendable>(
        _ wanted: Bool, fixtures: String?, providers: String?, _ body: (ScanTarget?, [String: String]) async throws -> T
    ) async throws -> T {
        guard wanted else { return try await body(nil, [:]) }
        let recorded = try recordings(fixtures, default: "fixtures/gcp/sample-project", providers: providers)
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let keyId = (0..<20).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("attest-demo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("demo-service-account.json")
        let audience = "https://oauth2.googleapis.com/token"
        let json: JSONValue = [
            "type": "service_account", "project_id": "attest-demo", "private_key_id": .string(keyId),
            "private_key": .string(key.pemRepresentation), "client_email": .string(gcpClientEmail), "token_uri": .string(audience),
        ]
        SecretScrubber.shared.register(key.pemRepresentation)
        FileManager.default.createFile(atPath: file.path, contents: Data(json.serialized().utf8), attributes: [.posixPermissions: 0o600])
        let check = GoogleTokenCheck(clientEmail: gcpClientEmail, keyId: keyId, audience: audience, publicKey: key.publicKey)
        return try await ReplayServer.withServer(fixtures: recorded, tokens: check) { server in
            var environment = [
                "GOOGLE_APPLICATION_CREDENTIALS": file.path, "ATTEST_GCP_ENDPOINT": server.baseURL, "CLOUDSDK_CONFIG": directory.path,
            ]
            for api in gcpOverriddenAPIs {
                environment["CLOUDSDK_API_ENDPOINT_OVERRIDES_\(api.uppercased())"] = "\(server.baseURL)/_api/\(api)/"
            }
            return try await body(ScanTarget(provider: "gcp", origin: "the recorded sample projects"), environment)
        }
    }
}

/// A cloud `attest demo` has a recording of.
enum DemoCloud: String, CaseIterable, ExpressibleByArgument, Sendable {
    case aws, azure, gcp
}

extension ScanExecution {
    /// A scan of the recorded account: results that could not be evaluated do not make exit
    /// status 3, nothing fails unless `--fail-on` says so, and evidence and history are written
    /// only when asked for.
    init(demo options: ScanRunOptions, providers: String?) {
        self.init(options, providers: providers, record: nil)
        strict = false
        defaultFailOn = .never
        evidenceByDefault = false
        historyByDefault = false
    }
}
