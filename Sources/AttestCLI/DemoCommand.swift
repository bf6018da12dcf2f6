import ArgumentParser
import AttestCollect
import AttestReplay
import AttestScan
import Foundation

/// Scans the recorded sample account in `fixtures/aws/sample-account` through the real HTTP
/// client, SigV4 signer and protocol parsers, against a replay server on loopback that checks
/// every signature. Needs no cloud account and no network.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "Scan a recorded sample AWS account, offline, through the real scan path.")

    @Option(help: "Directory of recorded responses (default: fixtures/aws/sample-account).")
    var fixtures: String?

    @Option(help: "Directory holding the provider specs.")
    var providers: String?

    @OptionGroup var options: ScanRunOptions

    /// The key pair the demo signs with; the replay server verifies against it.
    static let accessKeyId = "AKIAATTESTDEMO000001"
    static let secretAccessKey = "attest/demo/secret/key/not/a/real/credential"

    func run() async throws {
        LogSetup.bootstrap(level: options.output.logLevel)
        let config = try AttestCLIConfig.load(options.controlSource.config)
        let base = ScanExecution(demo: options, providers: providers)
        let status = try await Self.withRecordedAccount(fixtures: fixtures, providers: providers) { target, environment in
            var execution = base
            execution.environment = environment
            return try await execution.run([target], config: config)
        }
        throw ExitCode(status)
    }

    /// Serves the recorded account on loopback for the length of `body`, with the target and the
    /// environment (the demo's key pair, the replay server's endpoint) that scan it.
    static func withRecordedAccount<T: Sendable>(
        fixtures: String?, providers: String?,
        _ body: @Sendable (ScanTarget, [String: String]) async throws -> T
    ) async throws -> T {
        let directory =
            try fixtures.map { URL(fileURLWithPath: $0) }
            ?? ProviderLocator.root(override: providers).appendingPathComponent("fixtures/aws/sample-account")
        let recorded: [String: Fixture]
        do {
            recorded = try FixtureStore(directory: directory).loadAll()
        } catch {
            throw ConfigurationError("\(error)")
        }
        guard !recorded.isEmpty else { throw ConfigurationError("no recorded responses in \(directory.path)") }
        // The regions that were recorded (DescribeRegions lists more than a recording covers).
        let regions = Set(recorded.values.filter { $0.request.service == "ec2" }.map(\.request.region)).sorted()
        return try await ReplayServer.withServer(fixtures: recorded, verifying: [Self.accessKeyId: Self.secretAccessKey]) { server in
            var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("AWS_") }
            environment.merge([
                "AWS_ENDPOINT_URL": server.baseURL, "AWS_ACCESS_KEY_ID": Self.accessKeyId,
                "AWS_SECRET_ACCESS_KEY": Self.secretAccessKey, "AWS_REGION": "us-east-1",
                "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_EC2_METADATA_DISABLED": "true",
            ]) { _, new in new }
            let target = ScanTarget(
                provider: "aws", regions: regions.isEmpty ? nil : regions, options: ["home_region": "us-east-1"],
                origin: "the recorded sample account")
            return try await body(target, environment)
        }
    }
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
