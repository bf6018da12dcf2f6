import ArgumentParser
import AttestCollect
import AttestReplay
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

    @OptionGroup var outputOptions: OutputOptions
    @OptionGroup var controlSource: ControlSourceOptions
    @OptionGroup var controlRun: ControlRunOptions
    @OptionGroup var evidenceOptions: EvidenceScanOptions

    /// The key pair the demo signs with; the replay server verifies against it.
    static let accessKeyId = "AKIAATTESTDEMO000001"
    static let secretAccessKey = "attest/demo/secret/key/not/a/real/credential"

    func run() async throws {
        LogSetup.bootstrap(level: outputOptions.logLevel)
        let spec = try ProviderLocator.load("aws", override: providers)
        let plan = try ControlPlan.make(source: controlSource, run: controlRun, providers: providers, defaultFailOn: "never")
        let directory = try fixtures.map { URL(fileURLWithPath: $0) }
            ?? ProviderLocator.root(override: providers).appendingPathComponent("fixtures/aws/sample-account")
        let recorded: [String: Fixture]
        do {
            recorded = try FixtureStore(directory: directory).loadAll()
        } catch {
            throw ConfigurationError("\(error)")
        }
        guard !recorded.isEmpty else { throw ConfigurationError("no recorded responses in \(directory.path)") }
        let server = try await ReplayServer.start(fixtures: recorded, verifying: [Self.accessKeyId: Self.secretAccessKey])
        let environment = [
            "AWS_ENDPOINT_URL": server.baseURL, "AWS_ACCESS_KEY_ID": Self.accessKeyId,
            "AWS_SECRET_ACCESS_KEY": Self.secretAccessKey, "AWS_REGION": "us-east-1",
            "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_EC2_METADATA_DISABLED": "true",
        ]
        let status: Int32
        do {
            let session = try await AWSSession.make(environment: environment, profile: nil, roleArn: nil, externalId: nil,
                                                    region: "us-east-1", recordDirectory: nil)
            // The regions that were recorded (DescribeRegions lists more than a recording covers).
            let regions = Set(recorded.values.filter { $0.request.service == "ec2" }.map(\.request.region)).sorted()
            // The demo writes evidence only when asked (--evidence or evidence.path in the config).
            let evidence = plan == nil ? nil : try await EvidenceSink.make(
                evidenceOptions, configPath: controlSource.config, environment: ProcessInfo.processInfo.environment, client: nil,
                homeRegion: "us-east-1", enabledByDefault: false)
            status = try await ScanRunner.run(spec: spec, client: session.client,
                                              request: .init(regions: regions.isEmpty ? nil : regions, homeRegion: "us-east-1"),
                                              output: outputOptions, plan: plan, strict: false, evidence: evidence)
            await session.transport.shutdown()
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
        throw ExitCode(status)
    }
}
