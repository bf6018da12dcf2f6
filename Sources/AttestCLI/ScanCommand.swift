import AttestControls
import ArgumentParser
import AttestAWS
import AttestCollect
import AttestCore
import AttestHTTP
import AttestReplay
import Foundation

struct ScanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan", abstract: "Collect a cloud account into the inventory graph.",
        subcommands: [ScanAWSCommand.self])
}

/// Output and diagnostics options every scan shares.
struct OutputOptions: ParsableArguments {
    @Option(help: "Output format: table or json.")
    var format: OutputFormat = .table

    @Option(help: "Write the report to this file instead of standard output.")
    var output: String?

    @Option(help: "Log level on standard error: trace, debug, info, notice, warning, error.")
    var logLevel: String = "warning"

    @Flag(help: "No progress line on standard error.")
    var quiet = false
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json
}

struct ScanAWSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "aws", abstract: "Scan an AWS account.")

    @Option(help: "AWS profile from ~/.aws/config and ~/.aws/credentials.")
    var profile: String?

    @Option(help: "Role to assume in the scanned account.")
    var roleArn: String?

    @Option(help: "External id for --role-arn.")
    var externalId: String?

    @Option(help: "Comma-separated regions to scan (default: every enabled region).")
    var regions: String?

    @Option(help: "Comma-separated services to scan (default: all).")
    var services: String?

    @Option(help: "Region for global services and STS (default: AWS_REGION, the profile's region, or us-east-1).")
    var region: String?

    @Option(help: "Record every response, without credentials or signatures, into this directory.")
    var record: String?

    @Option(help: "Directory holding the provider specs (default: the providers/ folder shipped with attest).")
    var providers: String?

    @OptionGroup var outputOptions: OutputOptions
    @OptionGroup var controlSource: ControlSourceOptions
    @OptionGroup var controlRun: ControlRunOptions
    @OptionGroup var evidenceOptions: EvidenceScanOptions

    func validate() throws {
        if externalId != nil && roleArn == nil { throw ValidationError("--external-id needs --role-arn") }
        if let roleArn, !roleArn.hasPrefix("arn:") { throw ValidationError("--role-arn must be an ARN, not \(roleArn)") }
    }

    func run() async throws {
        LogSetup.bootstrap(level: outputOptions.logLevel)
        let environment = ProcessInfo.processInfo.environment
        let spec = try ProviderLocator.load("aws", override: providers)
        // Controls are loaded before anything is called, so a broken control file costs no API calls.
        let plan = try ControlPlan.make(source: controlSource, run: controlRun, providers: providers)
        let session = try await AWSSession.make(
            environment: environment, profile: profile, roleArn: roleArn, externalId: externalId, region: region,
            recordDirectory: record)
        let request = AWSScanRequest(regions: list(regions), services: list(services), homeRegion: session.homeRegion)
        let status: Int32
        do {
            let evidence = plan == nil ? nil : try await EvidenceSink.make(
                evidenceOptions, configPath: controlSource.config, environment: environment, client: session.client,
                homeRegion: session.homeRegion, enabledByDefault: true)
            status = try await ScanRunner.run(spec: spec, client: session.client, request: request, output: outputOptions, plan: plan,
                                              evidence: evidence)
        } catch {
            await session.transport.shutdown()
            throw error
        }
        await session.transport.shutdown()
        throw ExitCode(status)
    }

    func list(_ s: String?) -> [String]? {
        guard let s else { return nil }
        let items = s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return items.isEmpty ? nil : items
    }
}

/// Runs a scan with progress, writes the report, and returns the exit status.
enum ScanRunner {
    /// `strict` false (the demo) reports control errors without making the exit status 3.
    static func run(spec: ProviderSpec, client: AWSClient, request: AWSScanRequest, output: OutputOptions,
                    plan: ControlPlan?, strict: Bool = true, evidence: EvidenceSink? = nil) async throws -> Int32 {
        let progress = ProgressLine(counters: client.counters, enabled: !output.quiet)
        progress.start()
        let result: ScanResult
        do {
            result = try await AWSScanner(spec: spec, client: client).scan(request, progress: progress)
        } catch {
            progress.finish()
            await evidence?.close()  // the in-progress marker stays: the scan shows as incomplete
            throw error
        }
        progress.finish()
        var evaluation: ControlEvaluation?
        if let plan {
            let engine = ControlEngine(controls: plan.controls, parameterOverrides: plan.parameterOverrides)
            let results = await engine.evaluate(graph: result.graph, now: result.startedAt, account: result.account,
                                                gaps: .init(errors: result.errors, spec: spec))
            evaluation = ControlEvaluation(plan: plan, results: results,
                                           controlsByID: Dictionary(uniqueKeysWithValues: plan.controls.map { ($0.id, $0) }),
                                           graph: result.graph)
        }
        let text: String = switch output.format {
        case .json: ScanReport.json(result, evaluation: evaluation).serialized(pretty: true) + "\n"
        case .table: ScanReport.table(result, evaluation: evaluation)
        }
        if let path = output.output {
            do {
                try ReportFile.write(Data(text.utf8), to: path)
            } catch {
                throw ConfigurationError("cannot write \(path): \(error.localizedDescription)")
            }
            if output.format == .json { FileHandle.standardOutput.write(Data(ScanReport.table(result, evaluation: evaluation).utf8)) }
        } else {
            FileHandle.standardOutput.write(Data(text.utf8))
        }
        if let evidence, let evaluation {
            do {
                try await evidence.write(evaluation, startedAt: result.startedAt, finishedAt: Date(), accounts: [result.account])
                await evidence.close()
            } catch {
                await evidence.close()
                FileHandle.standardError.write(Data("attest: evidence not written: \(SecretScrubberLine.scrub(String(describing: error)))\n".utf8))
                return ExitStatus.incomplete
            }
        }
        if let evaluation, evaluation.hasBlockingFailures {
            return ExitStatus.findings
        }
        if !result.isComplete {
            FileHandle.standardError.write(Data("attest: scan incomplete: \(result.errors.count) error(s); see the errors section\n".utf8))
            return ExitStatus.incomplete
        }
        if let evaluation, evaluation.count(.error) > 0 {
            FileHandle.standardError.write(Data("attest: \(evaluation.count(.error)) control result(s) could not be evaluated\n".utf8))
            if strict { return ExitStatus.incomplete }
        }
        return ExitStatus.complete
    }
}

/// The wired-up AWS client for a scan: transport, credentials, endpoints.
struct AWSSession {
    var client: AWSClient
    var transport: AsyncHTTPClientTransport
    var homeRegion: String

    static func make(environment: [String: String], profile: String?, roleArn: String?, externalId: String?, region: String?,
                     recordDirectory: String?, retryPolicy: RetryPolicy = RetryPolicy()) async throws -> AWSSession {
        let transport = AsyncHTTPClientTransport()
        var effective: any HTTPTransport = transport
        if let recordDirectory {
            effective = RecordingTransport(base: transport, store: FixtureStore(directory: URL(fileURLWithPath: recordDirectory)))
        }
        let files: SharedConfigFiles
        do {
            files = try SharedConfigFiles.load(environment: environment)
        } catch {
            throw ConfigurationError("\(error)")
        }
        let profileName = AWSCredentialChain.profileName(environment: environment, explicitProfile: profile)
        let homeRegion = region ?? AWSCredentialChain.region(environment: environment, files: files, profile: profileName)
        let endpoints = AWSEndpointResolver(environment: environment, profileEndpointURL: files.profiles[profileName]?["endpoint_url"])
        let counters = CallCounters()
        let clock = ClockOffset()
        let transportForClients = effective
        let makeClient: @Sendable (any AWSCredentialProvider) -> AWSClient = { creds in
            AWSClient(transport: transportForClients, credentials: creds, endpoints: endpoints, retryPolicy: retryPolicy,
                      counters: counters, clock: clock, userAgent: "attest/\(attestVersion)")
        }
        let chain = AWSCredentialChain(environment: environment, explicitProfile: profile, files: files, region: homeRegion,
                                       transport: transport, makeClient: makeClient)
        var provider: any AWSCredentialProvider
        do {
            provider = try await chain.resolve()
        } catch let error as CredentialError {
            throw ConfigurationError(error.description)
        }
        if let roleArn {
            provider = RefreshingCredentialProvider(AssumeRoleCredentialProvider(
                roleArn: roleArn, externalId: externalId, region: homeRegion, client: makeClient(provider)))
        }
        return AWSSession(client: makeClient(provider), transport: transport, homeRegion: homeRegion)
    }
}

enum ReportFile {
    /// Replaces a regular file atomically; writes straight into anything else (`/dev/stdout`,
    /// a pipe, `/dev/null`), which a rename would replace with a regular file.
    static func write(_ data: Data, to path: String) throws {
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        let attributes = exists ? try? FileManager.default.attributesOfItem(atPath: path) : nil
        if exists, !isDirectory.boolValue, let type = attributes?[.type] as? FileAttributeType, type != .typeRegular {
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            try handle.write(contentsOf: data)
            return
        }
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
