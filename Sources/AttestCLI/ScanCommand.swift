import ArgumentParser
import AttestAWSProvider
import AttestAzure
import AttestCollect
import AttestControls
import AttestCore
import AttestHTTP
import AttestHistory
import AttestReplay
import AttestReport
import AttestScan
import Foundation
import Synchronization

/// `attest scan`: the targets in `attest.yaml`; `attest scan aws …`: one AWS target.
struct ScanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan", abstract: "Collect cloud accounts into the inventory graph and evaluate the controls.",
        discussion: "Without a provider, scans every target in the config's targets: list into one report and one evidence scan.",
        subcommands: [ScanTargetsCommand.self, ScanAWSCommand.self, ScanAzureCommand.self, ScanGCPCommand.self],
        defaultSubcommand: ScanTargetsCommand.self)
}

/// `attest scan [targets]`: every target of the config's `targets:` list, in one scan.
struct ScanTargetsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "targets", abstract: "Scan every target in the config's targets: list (the default of attest scan).")

    @Option(help: "Directory holding the provider specs (default: the providers/ folder shipped with attest).")
    var providers: String?

    @Option(help: "Record every response, without credentials or signatures, into this directory.")
    var record: String?

    @OptionGroup var options: ScanRunOptions

    func run() async throws {
        LogSetup.bootstrap(level: options.output.logLevel)
        let config = try AttestCLIConfig.load(options.controlSource.config)
        guard !config.targets.isEmpty else {
            throw ConfigurationError(
                "nothing to scan: \(config.file ?? "there is no attest.yaml, whose") targets: list is empty; add targets or use attest scan aws"
            )
        }
        let status = try await ScanExecution(options, providers: providers, record: record).run(config.targets, config: config)
        throw ExitCode(status)
    }
}

/// Everything a scan takes besides its target: output, controls, evidence and history
/// (`scan`, `demo` and `watch` share them).
struct ScanRunOptions: ParsableArguments {
    @OptionGroup var output: OutputOptions
    @OptionGroup var controlSource: ControlSourceOptions
    @OptionGroup var controlRun: ControlRunOptions
    @OptionGroup var evidence: EvidenceScanOptions
    @OptionGroup var history: HistoryScanOptions
}

/// Output and diagnostics options every scan shares.
struct OutputOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Output format, or several comma-separated with --output-dir: table, json, sarif, junit, ocsf, csv, markdown, html.",
            valueName: "formats"))
    var format = "table"

    @Option(
        help: "Write the report to this file instead of standard output; standard output then gets a short summary (nothing with --quiet).")
    var output: String?

    @Option(
        help: ArgumentHelp(
            "Write each --format to DIR/attest.<ext> (txt, json, sarif, junit.xml, ocsf.json, csv, md, html); standard output gets the summary.",
            valueName: "dir"))
    var outputDir: String?

    @Option(
        help: ArgumentHelp(
            "An earlier JSON report (--format json): the markdown summary lists failures not in it first, as new.", valueName: "file"))
    var baseline: String?

    @Flag(help: "The table in full: every requirement of every framework, every failing resource and every error.")
    var details = false

    @Option(help: "Log level on standard error: trace, debug, info, notice, warning, error, critical.")
    var logLevel: LogLevel = .warning

    @Flag(help: "No progress line on standard error, and no summary on standard output when --output is given.")
    var quiet = false

    @Option(
        help: ArgumentHelp(
            "Stop collecting after this long (90s, 30m, 2h): calls still running are recorded as errors and the scan finishes with what it read.",
            valueName: "duration"))
    var timeLimit: TimeLimit?

    /// The formats asked for, in order, each once.
    var formatNames: [String] {
        var seen: Set<String> = []
        return format.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter {
            !$0.isEmpty && seen.insert($0).inserted
        }
    }

    func validate() throws {
        let known = ReportFormats.all.map(\.name)
        let names = formatNames
        guard !names.isEmpty else { throw ValidationError("--format: name at least one of \(known.joined(separator: ", "))") }
        for name in names where !known.contains(name) {
            let near = EditDistance.nearest(to: name, in: known).map { " (did you mean \($0)?)" } ?? ""
            throw ValidationError("--format: unknown format \(name)\(near); known: \(known.joined(separator: ", "))")
        }
        if output != nil && outputDir != nil { throw ValidationError("--output and --output-dir: give one (--output for one format)") }
        if names.count > 1 && outputDir == nil {
            throw ValidationError("--format \(names.joined(separator: ",")): several formats need --output-dir DIR")
        }
        if let baseline, !FileManager.default.fileExists(atPath: baseline) {
            throw ValidationError("--baseline: no such file \(baseline)")
        }
    }

    /// The formats with where each goes (nil: standard output).
    func destinations() throws -> [(format: any ReportFormat, path: String?)] {
        var baselineReport: MarkdownReportFormat.Baseline?
        if let baseline {
            do {
                baselineReport = try MarkdownReportFormat.Baseline(
                    json: try Data(contentsOf: URL(fileURLWithPath: baseline)), file: baseline)
            } catch let error as SpecError {
                throw ConfigurationError(error.message)
            } catch {
                throw ConfigurationError("--baseline: cannot read \(baseline): \(error.localizedDescription)")
            }
        }
        if let outputDir {
            do {
                try FileManager.default.createDirectory(atPath: outputDir, withIntermediateDirectories: true)
            } catch {
                throw ConfigurationError("--output-dir: cannot create \(outputDir): \(error.localizedDescription)")
            }
        }
        return try formatNames.map { name in
            guard var format = ReportFormats.named(name) else { throw ConfigurationError("unknown format \(name)") }
            if details, format is TableReportFormat { format = TableReportFormat(details: true) }
            if format is MarkdownReportFormat { format = MarkdownReportFormat(baseline: baselineReport) }
            if format is OCSFReportFormat { format = OCSFReportFormat(clouds: Providers.registry.evidenceClouds) }
            let path = outputDir.map { URL(fileURLWithPath: $0).appendingPathComponent("attest.\(format.fileExtension)").path } ?? output
            return (format, path)
        }
    }
}

/// `--time-limit`: a duration such as `90s`, `30m`, `2h` or `1h30m`.
struct TimeLimit: ExpressibleByArgument, Sendable {
    var duration: Duration

    init?(argument: String) {
        var total = 0.0
        var number = ""
        var sawUnit = false
        for c in argument {
            if c.isNumber || c == "." {
                number.append(c)
                continue
            }
            guard let value = Double(number), let unit = ["s": 1.0, "m": 60.0, "h": 3600.0][String(c)] else { return nil }
            total += value * unit
            number = ""
            sawUnit = true
        }
        guard number.isEmpty, sawUnit, total > 0, total <= 7 * 86_400 else { return nil }
        duration = .milliseconds(Int64(total * 1000))
    }

    static var defaultCompletionKind: CompletionKind { .default }
}

/// Every `--format` value a command takes; each command says which it supports.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json, csv

    /// Refuses a format the command does not print.
    func require(_ allowed: [OutputFormat]) throws {
        guard allowed.contains(self) else {
            throw ValidationError("--format: use \(allowed.map(\.rawValue).joined(separator: " or ")), not \(rawValue)")
        }
    }
}

/// The flags that describe one AWS target (`scan aws`, `watch aws`).
struct AWSTargetOptions: ParsableArguments {
    @Option(help: "AWS profile from ~/.aws/config and ~/.aws/credentials.")
    var profile: String?

    @Option(help: "Role to assume in the scanned account.")
    var roleArn: String?

    @Option(help: "External id for --role-arn, or with --org for the role in each member account.")
    var externalId: String?

    @Flag(
        help:
            "Scan every account of the organization: the credentials are the management account's (or a delegated administrator's), and each member account is entered through --role-name."
    )
    var org = false

    @Option(help: "With --org: the role assumed in each member account (default: OrganizationAccountAccessRole).")
    var roleName: String?

    @Option(help: "Comma-separated account ids: with --org, only these accounts.")
    var accounts: String?

    @Option(help: "With --org: comma-separated account ids to leave out.")
    var excludeAccounts: String?

    @Option(help: "With --org: comma-separated OU (ou-…) or root (r-…) ids; only the accounts under them, at any depth.")
    var ous: String?

    @Option(
        help:
            "With --org: scan only shard INDEX of COUNT (0 ≤ INDEX < COUNT), by a hash of each account id: --shard $(JOB_COMPLETION_INDEX)/4."
    )
    var shard: ShardArgument?

    @Option(help: "With --org: accounts entered at once (1-64, default 8).")
    var accountConcurrency: Int?

    @Option(help: "Comma-separated regions to scan (default: every enabled region).")
    var regions: String?

    @Option(help: "Comma-separated services to scan (default: all).")
    var services: String?

    @Option(help: "Region for global services and STS (default: AWS_REGION, the profile's region, or us-east-1).")
    var region: String?

    func validate() throws {
        if externalId != nil && roleArn == nil && !org { throw ValidationError("--external-id needs --role-arn or --org") }
        if let roleArn, !roleArn.hasPrefix("arn:") { throw ValidationError("--role-arn must be an ARN, not \(roleArn)") }
        if !org {
            let orgOnly: [(String, Bool)] = [
                ("--role-name", roleName != nil), ("--accounts", accounts != nil), ("--exclude-accounts", excludeAccounts != nil),
                ("--ous", ous != nil), ("--shard", shard != nil), ("--account-concurrency", accountConcurrency != nil),
            ]
            if let flag = orgOnly.first(where: \.1)?.0 { throw ValidationError("\(flag) needs --org") }
        }
        if let n = accountConcurrency, !(1...64).contains(n) {
            throw ValidationError("--account-concurrency must be from 1 to 64, not \(n)")
        }
        // Everything else the organization options check (ids, the role name) is checked before any call.
        _ = try OrganizationScanOptionsCheck.check(target)
    }

    /// The one target the flags describe.
    var target: ScanTarget {
        var options: [String: String] = [:]
        options["role_arn"] = roleArn
        options["external_id"] = externalId
        options["home_region"] = region
        if org {
            options["org"] = "true"
            options["role_name"] = roleName
            options["exclude_accounts"] = excludeAccounts
            options["ous"] = ous
            options["shard"] = shard?.shard.description
            options["account_concurrency"] = accountConcurrency.map(String.init)
        }
        return ScanTarget(
            provider: "aws", profile: profile, accounts: CommaList.parse(accounts), regions: CommaList.parse(regions),
            services: CommaList.parse(services), options: options)
    }
}

extension ScanExecution {
    /// What every `attest scan <provider>` command does: one target from its flags, scanned, the
    /// exit status thrown.
    static func scan(_ target: ScanTarget, _ options: ScanRunOptions, providers: String?, record: String?) async throws {
        LogSetup.bootstrap(level: options.output.logLevel)
        let config = try AttestCLIConfig.load(options.controlSource.config)
        let status = try await ScanExecution(options, providers: providers, record: record).run([target], config: config)
        throw ExitCode(status)
    }
}

struct ScanAWSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "aws", abstract: "Scan an AWS account.")

    @OptionGroup var targetOptions: AWSTargetOptions

    @Option(help: "Record every response, without credentials or signatures, into this directory.")
    var record: String?

    @Option(help: "Directory holding the provider specs (default: the providers/ folder shipped with attest).")
    var providers: String?

    @OptionGroup var options: ScanRunOptions

    func run() async throws {
        try await ScanExecution.scan(targetOptions.target, options, providers: providers, record: record)
    }
}

/// `--cloud`: one of ``AzureCloud/all``, by the az CLI's name (any case); refused before anything runs when mistyped.
struct AzureCloudArgument: ExpressibleByArgument {
    var cloud: AzureCloud

    init(_ cloud: AzureCloud) { self.cloud = cloud }

    init?(argument: String) {
        guard let cloud = AzureCloud.named(argument) else { return nil }
        self.cloud = cloud
    }

    static var allValueStrings: [String] { AzureCloud.all.map(\.name) }
    var defaultValueDescription: String { cloud.name }
}

/// `--assertion-algorithm`: one of ``AssertionAlgorithm`` (any case).
struct AssertionAlgorithmArgument: ExpressibleByArgument {
    var algorithm: AssertionAlgorithm

    init?(argument: String) {
        guard let algorithm = AssertionAlgorithm(name: argument) else { return nil }
        self.algorithm = algorithm
    }

    static var allValueStrings: [String] { AssertionAlgorithm.allCases.map(\.rawValue) }
}

/// The flags that describe one Azure target (`scan azure`).
struct AzureTargetOptions: ParsableArguments {
    @Option(help: "Comma-separated subscription ids to scan (default: every subscription the identity can read).")
    var subscriptions: String?

    @Option(help: "The Azure cloud: AzureCloud (default), AzureUSGovernment or AzureChinaCloud.")
    var cloud = AzureCloudArgument(.publicCloud)

    @Option(help: "Comma-separated services to scan (default: all).")
    var services: String?

    @Option(help: "Certificate assertions signed with PS256 and x5t#S256 (default) or RS256 and x5t.")
    var assertionAlgorithm: AssertionAlgorithmArgument?

    @Option(
        help:
            "How subscription-wide lists are made: resource-graph (default: one Azure Resource Graph query where the caller's permissions allow, ARM lists elsewhere) or arm (ARM lists only)."
    )
    var listing: AzureListing?

    func validate() throws {
        for s in CommaList.parse(subscriptions) ?? [] where UUID(uuidString: s) == nil {
            throw ValidationError("--subscriptions: \(s) is not a subscription id (a GUID such as 00000000-0000-0000-0000-000000000000)")
        }
    }

    var target: ScanTarget {
        var options = ["cloud": cloud.cloud.name]
        options["assertion_algorithm"] = assertionAlgorithm?.algorithm.rawValue
        options["listing"] = listing?.rawValue
        return ScanTarget(
            provider: "azure", accounts: CommaList.parse(subscriptions), services: CommaList.parse(services), options: options)
    }
}

/// How an Azure scan lists resources (the `listing` target option).
enum AzureListing: String, CaseIterable, ExpressibleByArgument, Sendable {
    case resourceGraph = "resource-graph"
    case arm
}

struct ScanAzureCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "azure", abstract: "Scan Azure subscriptions.",
        discussion:
            "Credentials come from AZURE_TENANT_ID and AZURE_CLIENT_ID with AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH or AZURE_FEDERATED_TOKEN_FILE, else managed identity (docs/azure.md)."
    )

    @OptionGroup var targetOptions: AzureTargetOptions

    @Option(help: "Record every response, without credentials or tokens, into this directory.")
    var record: String?

    @Option(help: "Directory holding the provider specs (default: the providers/ folder shipped with attest).")
    var providers: String?

    @OptionGroup var options: ScanRunOptions

    func run() async throws {
        try await ScanExecution.scan(targetOptions.target, options, providers: providers, record: record)
    }
}

/// Reads the config once per command, with mistakes as one-line configuration errors.
enum AttestCLIConfig {
    static func load(_ path: String?) throws -> AttestConfig {
        do {
            return try AttestConfig.load(explicit: path, registry: Providers.registry)
        } catch let error as SpecError {
            throw ConfigurationError("invalid config: \(error.description)")
        }
    }
}

/// One scan from the command line: loads specs, controls and config, opens the session, runs
/// the pipeline with the progress line, the report and the evidence as sinks, and returns the
/// exit status.
struct ScanExecution {
    var output: OutputOptions
    var controlSource: ControlSourceOptions
    var controlRun: ControlRunOptions
    var evidence: EvidenceScanOptions
    var providers: String?
    var record: String?
    /// False for the demo: results that could not be evaluated are reported without exit status 3.
    var strict = true
    /// The demo fails on nothing unless asked.
    var defaultFailOn: FailOn = .info
    /// Scans write evidence unless told not to; the demo only when given a destination.
    var evidenceByDefault = true
    /// Where the scan is recorded; scans record history unless told not to, the demo only when given a file.
    var historyPath: String?
    var noHistory = false
    var historyByDefault = true
    /// Sinks after the others (the watch loop's).
    var extraSinks: [any ScanSink] = []
    var environment = ProcessInfo.processInfo.environment

    init(_ options: ScanRunOptions, providers: String?, record: String?) {
        output = options.output
        controlSource = options.controlSource
        controlRun = options.controlRun
        evidence = options.evidence
        historyPath = options.history.history
        noHistory = options.history.noHistory
        self.providers = providers
        self.record = record
    }

    func run(_ targets: [ScanTarget], config: AttestConfig) async throws -> Int32 {
        var specs: [String: ProviderSpec] = [:]
        for t in targets where specs[t.provider] == nil { specs[t.provider] = try ProviderLocator.load(t.provider, override: providers) }
        // Controls are loaded before anything is called, so a broken control file costs no API calls.
        let plan =
            controlRun.noControls
            ? nil
            : try ControlSuite.load(controlSource, providers: providers, config: config).plan(controlRun, defaultFailOn: defaultFailOn)
        let destinations = try output.destinations()
        let wrap: (@Sendable (any HTTPTransport) -> any HTTPTransport)? = record.map { directory in
            let store = FixtureStore(directory: URL(fileURLWithPath: directory))
            return { RecordingTransport(base: $0, store: store) }
        }
        let environment = self.environment
        return try await ScanSession.withSession(environment: environment, userAgent: "attest/\(attestVersion)", wrapTransport: wrap) {
            session in
            let progress = ProgressLine(counters: session.counters, enabled: !output.quiet)
            let receipt = EvidenceReceipt()
            let historySink = try HistorySetup.sink(
                path: historyPath, disabled: noHistory, config: config, enabledByDefault: historyByDefault)
            let report = ReportSink(
                destinations: destinations, summaryOnStdout: !output.quiet, evidence: receipt, history: historySink?.path)
            var sinks: [any ScanSink] = [progress]
            // Evidence before the report, so the report can show the manifest that seals it.
            if plan != nil,
                var evidenceSink = try await EvidenceSetup.sink(
                    evidence, config: config, session: session, enabledByDefault: evidenceByDefault, profile: targets.first?.profile)
            {
                evidenceSink.receipt = receipt
                sinks.append(evidenceSink)
            }
            sinks.append(report)
            if let historySink { sinks.append(historySink) }
            sinks += extraSinks
            var pipeline = ScanPipeline(registry: Providers.registry, specs: specs, plan: plan, sinks: sinks, progress: progress)
            pipeline.timeLimit = output.timeLimit?.duration
            let outcome = try await pipeline.run(targets, in: session)
            if let failure = report.failure { throw ConfigurationError(failure) }
            switch outcome.verdict(strict: strict) {
            case .findings:
                // The gate blocks; what else went wrong is still said.
                if let reason = outcome.incompleteReason(strict: strict) { Diagnostics.line(reason) }
                return ExitStatus.findings
            case .incomplete(let reason):
                Diagnostics.line(reason)
                return ExitStatus.incomplete
            case .clean:
                if let evaluation = outcome.evaluation, evaluation.count(.error) > 0 {
                    Diagnostics.line("\(evaluation.count(.error)) control result(s) could not be evaluated")
                }
                return ExitStatus.complete
            }
        }
    }
}

/// One line on standard error, prefixed `attest: `, secrets scrubbed.
enum Diagnostics {
    static func line(_ text: String) {
        FileHandle.standardError.write(Data("attest: \(SecretScrubberLine.scrub(text))\n".utf8))
    }
}

/// Writes the report in each chosen format to its file or to standard output. When a report
/// went to a file, standard output gets a few lines of summary (unless `--quiet`), not the
/// report again.
final class ReportSink: ScanSink {
    let destinations: [(format: any ReportFormat, path: String?)]
    let summaryOnStdout: Bool
    let evidence: EvidenceReceipt?
    /// The scan history, when the scan records one: the report shows what changed since the previous scan.
    let history: String?
    private let failed = Mutex<String?>(nil)

    init(
        destinations: [(format: any ReportFormat, path: String?)], summaryOnStdout: Bool, evidence: EvidenceReceipt? = nil,
        history: String? = nil
    ) {
        self.destinations = destinations
        self.summaryOnStdout = summaryOnStdout
        self.evidence = evidence
        self.history = history
    }

    /// Failures per recorded scan of the same scope (the last 30), then this scan's.
    static func trend(_ snapshot: HistorySnapshot, store: HistoryStore) -> [ScanReport.TrendPoint]? {
        guard let scans = try? store.scans(limit: 200) else { return nil }
        let earlier = scans.filter { $0.scope == snapshot.scope && $0.id != snapshot.id }.prefix(29).reversed()
        guard !earlier.isEmpty else { return nil }
        return earlier.map { .init(scan: $0.id, startedAt: $0.startedAt, failures: $0.failures, results: $0.results) }
            + [
                .init(
                    scan: snapshot.id, startedAt: snapshot.startedAt, failures: snapshot.results.filter { $0.status == "fail" }.count,
                    results: snapshot.results.count)
            ]
    }

    /// What changed since the previous recorded scan of the same scope; nil without one.
    static func drift(_ snapshot: HistorySnapshot, store: HistoryStore) -> ScanReport.Drift? {
        guard let d = try? store.drift(to: snapshot) else { return nil }
        func changes(_ list: [ScanDiff.ResultChange]) -> [ScanReport.Drift.Change] {
            list.map { .init(control: $0.control, resource: $0.subject, severity: $0.severity, before: $0.before) }
        }
        var drift = ScanReport.Drift(
            previousScan: d.from.id, previousStartedAt: d.from.startedAt, newFailures: changes(d.newFailures),
            regressed: changes(d.regressed), fixed: changes(d.fixed), stillFailing: d.stillFailing,
            newResources: d.newResources.map(\.id), removedResources: d.removedResources.map(\.id),
            changedResources: d.changedResources.map { r in
                .init(id: r.id, type: r.type, changes: r.changes.map { .init(path: $0.path, before: $0.before, after: $0.after) })
            })
        drift.newlyExcepted = changes(d.newlyExcepted)
        return drift
    }

    /// Why a report could not be written, if one could not.
    var failure: String? { failed.withLock { $0 } }

    func scanDidFinish(_ outcome: ScanOutcome) async throws {
        var report = ScanReport(outcome, toolVersion: attestVersion)
        report.evidence = evidence?.seal.map(ScanReport.EvidenceSeal.init)
        if let history, outcome.evaluation != nil, FileManager.default.fileExists(atPath: history),
            let store = try? HistoryStore(path: history)
        {
            // One snapshot (every resource serialised and hashed) for both.
            let snapshot = HistorySink.snapshot(outcome)
            report.drift = Self.drift(snapshot, store: store)
            report.trend = Self.trend(snapshot, store: store)
        }
        do {
            try Self.write(report, to: destinations, summaryOnStdout: summaryOnStdout)
        } catch let error as ConfigurationError {
            failed.withLock { $0 = error.description }
            throw error
        }
    }

    /// Renders the report in each format to its file or standard output; with files written,
    /// standard output gets the summary (when `summaryOnStdout`).
    static func write(
        _ report: ScanReport, to destinations: [(format: any ReportFormat, path: String?)], summaryOnStdout: Bool
    ) throws {
        var written: [String] = []
        for (format, path) in destinations {
            let data = try format.render(report)
            guard let path else {
                FileHandle.standardOutput.write(data)
                continue
            }
            do {
                try ReportFile.write(data, to: path)
                written.append(path)
            } catch {
                throw ConfigurationError("cannot write \(path): \(error.localizedDescription)")
            }
        }
        if summaryOnStdout, !written.isEmpty {
            FileHandle.standardOutput.write(Data(TableReportFormat().summary(report, writtenTo: written).utf8))
        }
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
        // A report folder that does not exist yet is made (a scan must not end on a missing folder).
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: url, options: .atomic)
    }
}

/// The flags that describe one Google Cloud target (`scan gcp`).
struct GCPTargetOptions: ParsableArguments {
    @Option(help: "Comma-separated project ids to scan (default: every active project the credential can see).")
    var projects: String?

    @Option(help: "Comma-separated services to scan (default: all).")
    var services: String?

    @Option(
        help:
            "A credentials file (a service-account key, gcloud user credentials or a workload identity federation file), over GOOGLE_APPLICATION_CREDENTIALS."
    )
    var credentials: String?

    @Option(help: "Scan every active project under this organization (its number), through its folders.")
    var organization: String?

    @Option(help: "Scan every active project under this folder (its number), through its subfolders.")
    var folder: String?

    @Option(
        help:
            "How project-wide lists are made: asset-inventory (default: from Cloud Asset Inventory, where the caller may make the list it replaces) or api (every list from its own API)."
    )
    var listing: GCPListing = .assetInventory

    @Option(
        name: .customLong("impersonate-service-account"),
        help:
            "Scan as this service account: the credential found asks IAM Credentials for its tokens (it needs roles/iam.serviceAccountTokenCreator)."
    )
    var impersonateServiceAccount: String?

    func validate() throws {
        if [projects, organization, folder].compactMap({ $0 }).count > 1 {
            throw ValidationError("--projects, --organization and --folder choose the projects in different ways: give one of them")
        }
        for (flag, value) in [("--organization", organization), ("--folder", folder)] {
            if let value, value.isEmpty || value.count > 32 || !value.allSatisfy({ $0.isASCII && $0.isNumber }) {
                throw ValidationError("\(flag): \(value) is not a number (the id in organizations/<number> or folders/<number>)")
            }
        }
        if let email = impersonateServiceAccount, !Self.isServiceAccountEmail(email) {
            throw ValidationError(
                "--impersonate-service-account: \(email) is not a service account email (name@project.iam.gserviceaccount.com)")
        }
        for p in CommaList.parse(projects) ?? [] where !Self.isProjectId(p) {
            throw ValidationError(
                "--projects: \(p) is not a project id (6 to 30 lower-case letters, digits and hyphens, starting with a letter)")
        }
        if let credentials, !FileManager.default.fileExists(atPath: credentials) {
            throw ValidationError("--credentials: \(credentials) does not exist")
        }
    }

    /// Google's rule for project ids (older ones may also hold a domain prefix: `example.com:p`).
    static func isProjectId(_ s: String) -> Bool {
        let id = s.split(separator: ":").last.map(String.init) ?? s
        guard (6...30).contains(id.count), let first = id.first, first.isLetter, first.isLowercase, id.last != "-" else { return false }
        return id.allSatisfy { ($0.isLetter && $0.isLowercase) || $0.isNumber || $0 == "-" } && id.allSatisfy(\.isASCII)
    }

    /// An email whose domain part is a Google service-account domain or any other domain (user-managed
    /// accounts live under `<project>.iam.gserviceaccount.com`; Google-managed ones elsewhere).
    static func isServiceAccountEmail(_ s: String) -> Bool {
        let parts = s.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), s.count <= 254 else { return false }
        return s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-._@".contains($0)) }
    }

    var target: ScanTarget {
        var options: [String: String] = [:]
        options["credentials"] = credentials
        options["organization"] = organization
        options["folder"] = folder
        options["impersonate"] = impersonateServiceAccount
        options["listing"] = listing.rawValue
        return ScanTarget(provider: "gcp", accounts: CommaList.parse(projects), services: CommaList.parse(services), options: options)
    }
}

/// How a Google Cloud scan makes its project-wide lists.
enum GCPListing: String, ExpressibleByArgument, CaseIterable, Sendable {
    case assetInventory = "asset-inventory"
    case api
}

struct ScanGCPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gcp", abstract: "Scan Google Cloud projects.",
        discussion:
            "Credentials come from Application Default Credentials: --credentials or GOOGLE_APPLICATION_CREDENTIALS (a service-account key, gcloud user credentials or a workload identity federation file), gcloud's application_default_credentials.json, then the metadata server; --impersonate-service-account scans with another account's tokens (docs/gcp.md)."
    )

    @OptionGroup var targetOptions: GCPTargetOptions

    @Option(help: "Record every response, without credentials or tokens, into this directory.")
    var record: String?

    @Option(help: "Directory holding the provider specs (default: the providers/ folder shipped with attest).")
    var providers: String?

    @OptionGroup var options: ScanRunOptions

    func run() async throws {
        try await ScanExecution.scan(targetOptions.target, options, providers: providers, record: record)
    }
}

/// `--shard INDEX/COUNT`, refused by the parser when malformed.
struct ShardArgument: ExpressibleByArgument {
    var shard: AccountShard
    init?(argument: String) {
        guard let shard = AccountShard(argument) else { return nil }
        self.shard = shard
    }
}

/// The organization options' own checks, as a validation error of the command line.
enum OrganizationScanOptionsCheck {
    static func check(_ target: ScanTarget) throws -> OrganizationScanOptions? {
        do { return try OrganizationScanOptions(target: target) } catch let error as ScanSetupError {
            throw ValidationError(error.description.replacingOccurrences(of: "the command line: ", with: ""))
        }
    }
}
