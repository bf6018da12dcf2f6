import ArgumentParser
import AttestCore
import AttestHistory
import AttestScan
import Foundation

/// Where a scan records its history.
struct HistoryScanOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Record the scan in this SQLite history (default for scans: history.path in the config, else ~/.local/state/attest/history.sqlite; the demo records only when given one).",
            valueName: "file"))
    var history: String?

    @Flag(help: "Record no history.")
    var noHistory = false

    func validate() throws {
        if noHistory && history != nil { throw ValidationError("--history and --no-history: give one") }
    }

    /// Where history goes, or nil with `--no-history`.
    func path(config: AttestConfig) -> String? { noHistory ? nil : HistorySetup.path(history, config: config) }
}

enum HistorySetup {
    static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        let state = environment["XDG_STATE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (NSHomeDirectory() + "/.local/state")
        return state + "/attest/history.sqlite"
    }

    /// The path a command reads history from: `--history`, the config's `history.path`, the default.
    static func path(_ explicit: String?, config: AttestConfig) -> String {
        let path = explicit ?? config.history.path ?? defaultPath()
        return URL(fileURLWithPath: path).standardizedFileURL.path
    }

    /// The scan's history sink; nil with `--no-history`, or for the demo without `--history`.
    static func sink(path explicit: String?, disabled: Bool, config: AttestConfig, enabledByDefault: Bool) throws -> HistorySink? {
        if disabled { return nil }
        guard explicit != nil || enabledByDefault || config.history.path != nil else { return nil }
        var sink = HistorySink(path: Self.path(explicit, config: config), retentionDays: config.history.retentionDays)
        sink.onCreate = { path in
            Diagnostics.line("scan history goes to \(path) (new database); --no-history or history.path to change")
        }
        return sink
    }

    static func open(_ explicit: String?, config: AttestConfig) throws -> HistoryStore {
        let path = Self.path(explicit, config: config)
        guard FileManager.default.fileExists(atPath: path) else {
            throw ConfigurationError("no scan history at \(path): scans record it (history.path, --history FILE)")
        }
        do { return try HistoryStore(path: path) } catch let error as HistoryError { throw ConfigurationError(error.description) }
    }
}

struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history", abstract: "The scans recorded in the scan history.", subcommands: [List.self, HistoryBenchCommand.self],
        defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List recorded scans, newest first.")
        @Option(help: "The history database (default: history.path in the config, else ~/.local/state/attest/history.sqlite).")
        var history: String?
        @Option(help: "Config file (default: attest.yaml in the current directory, if present).") var config: String?
        @Option(help: "How many scans.") var limit = 50
        @Option(help: "Output format: table or json.") var format: OutputFormat = .table
        func validate() throws {
            try format.require([.table, .json])
            guard limit > 0 else { throw ValidationError("--limit must be at least 1") }
        }

        func run() async throws {
            let store = try HistorySetup.open(history, config: try AttestCLIConfig.load(config))
            let scans = try historyCall { try store.scans(limit: limit) }
            if format == .json {
                print(JSONValue.array(scans.map(\.json)).serialized(pretty: true))
                return
            }
            print(
                TextTable.render(
                    header: ["scan", "started", "provider", "accounts", "resources", "results", "failures", "complete"],
                    rows: scans.map {
                        [
                            $0.id, $0.startedAt, $0.provider, $0.accounts, String($0.resources), String($0.results), String($0.failures),
                            $0.complete ? "yes" : "no (\($0.errors) errors)",
                        ]
                    }), terminator: "")
        }
    }
}

func historyCall<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let error as HistoryError { throw ConfigurationError(error.description) }
}

struct DiffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "What changed between two recorded scans: new, regressed and fixed failures, new and removed resources, and drift.",
        discussion:
            "Without scans, compares the newest scan with the one before it of the same provider and accounts. Scan ids may be shortened to a unique prefix."
    )

    @Argument(help: "The earlier scan.") var from: String?
    @Argument(help: "The later scan.") var to: String?
    @Option(help: "The history database (default: history.path in the config, else ~/.local/state/attest/history.sqlite).")
    var history: String?
    @Option(help: "Config file (default: attest.yaml in the current directory, if present).") var config: String?
    @Option(help: "Output format: table or json.") var format: OutputFormat = .table

    func validate() throws {
        try format.require([.table, .json])
        if from != nil && to == nil { throw ValidationError("give two scans, or none for the newest two") }
    }

    func run() async throws {
        let store = try HistorySetup.open(history, config: try AttestCLIConfig.load(config))
        let (a, b): (HistoryScan, HistoryScan)
        if let from, let to {
            guard let x = try historyCall({ try store.scan(from) }) else {
                throw ConfigurationError("no scan \(from) in \(store.path) (attest history list)")
            }
            guard let y = try historyCall({ try store.scan(to) }) else {
                throw ConfigurationError("no scan \(to) in \(store.path) (attest history list)")
            }
            (a, b) = (x, y)
        } else {
            guard let pair = try historyCall({ try store.lastTwo() }) else {
                throw ConfigurationError("\(store.path) has no two scans of the same provider and accounts to compare")
            }
            (a, b) = pair
        }
        let d = try historyCall { try store.diff(a, b) }
        if format == .json {
            print(d.json.serialized(pretty: true))
            return
        }
        var out = "diff \(a.id) (\(a.startedAt)) → \(b.id) (\(b.startedAt))\n"
        out +=
            "\(d.newFailures.count) new failure(s) · \(d.regressed.count) regressed · \(d.fixed.count) fixed · \(d.goneFailures.count) gone with their resource · \(d.notEvaluated.count) not evaluated this time · \(d.newlyExcepted.count) newly excepted · \(d.stillFailing) still failing\n"
        out += "\(d.newResources.count) new resource(s) · \(d.removedResources.count) removed · \(d.changedResources.count) changed\n"
        func section(_ title: String, _ items: [ScanDiff.ResultChange]) {
            guard !items.isEmpty else { return }
            out += "\n\(title)\n"
            for c in items {
                out += "  \(c.severity.uppercased().padding(toLength: 8, withPad: " ", startingAt: 0)) \(c.control)  \(c.subject)"
                out += c.before.map { " (was \($0))" } ?? ""
                out += "\n"
            }
        }
        section("NEW FAILURES", d.newFailures)
        section("REGRESSED", d.regressed)
        section("FIXED", d.fixed)
        if !d.newResources.isEmpty {
            out += "\nNEW RESOURCES\n" + d.newResources.map { "  \($0.type)  \($0.id)\n" }.joined()
        }
        if !d.removedResources.isEmpty {
            out += "\nREMOVED RESOURCES\n" + d.removedResources.map { "  \($0.type)  \($0.id)\n" }.joined()
        }
        if !d.changedResources.isEmpty {
            out += "\nCHANGED RESOURCES (drift)\n"
            for r in d.changedResources {
                out += "  \(r.type)  \(r.id)\n"
                for c in r.changes.prefix(20) {
                    out += "    \(c.path): \(String(c.before.serialized().prefix(120))) → \(String(c.after.serialized().prefix(120)))\n"
                }
                if r.changes.count > 20 { out += "    … and \(r.changes.count - 20) more (--format json)\n" }
            }
        }
        print(TerminalText.safe(out), terminator: "")
    }
}

/// `attest history bench`: records two synthetic scans of N resources, a hundredth of them
/// changed in between, and diffs them. Run by `bench/history.sh`; never part of the tests.
struct HistoryBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmark recording and diffing scans.", shouldDisplay: false)

    @Option(help: "Resources per scan.") var resources = 100_000
    @Option(help: "The history database to create (must not exist).") var history: String

    func run() async throws {
        guard !FileManager.default.fileExists(atPath: history) else { throw ConfigurationError("\(history) exists") }
        let store = try historyCall { try HistoryStore(path: history) }
        func snapshot(_ id: String, start: String, changed: Bool) -> HistorySnapshot {
            var versions: [HistorySnapshot.ResourceVersion] = []
            var results: [HistorySnapshot.ResultEntry] = []
            versions.reserveCapacity(resources)
            for i in 0..<resources {
                let flip = changed && i % 100 == 0
                let rid = "arn:aws:s3:::bucket-\(i)"
                versions.append(
                    .init(
                        id: rid, type: "aws.s3.bucket",
                        document: [
                            "name": .string("bucket-\(i)"), "tags": ["team": .string("t\(i % 17)")],
                            "attributes": [
                                "versioning": .string(flip ? "Suspended" : "Enabled"), "region": "us-east-1",
                                "encryption": ["algorithm": "aws:kms", "key": .string("k\(i % 50)")], "logging": .bool(i % 3 == 0),
                            ],
                        ]))
                results.append(
                    .init(
                        control: "c-versioning", subject: rid, account: "1", region: "us-east-1", status: flip ? "fail" : "pass",
                        severity: "medium"))
                results.append(
                    .init(
                        control: "c-logging", subject: rid, account: "1", region: "us-east-1", status: i % 3 == 0 ? "pass" : "fail",
                        severity: "low"))
            }
            return HistorySnapshot(
                id: id, startedAt: start, finishedAt: start, provider: "aws", accounts: ["1"], complete: true, errors: 0,
                resources: versions, results: results)
        }
        let a = snapshot("bench-a", start: "2026-01-01T00:00:00.000Z", changed: false)
        let b = snapshot("bench-b", start: "2026-01-02T00:00:00.000Z", changed: true)
        let t0 = Date()
        try historyCall { try store.record(a) }
        let t1 = Date()
        try historyCall { try store.record(b) }
        let t2 = Date()
        guard let (x, y) = try historyCall({ try store.lastTwo() }) else { throw ConfigurationError("no two scans") }
        let d = try historyCall { try store.diff(x, y) }
        let t3 = Date()
        let size = (try? FileManager.default.attributesOfItem(atPath: history)[.size] as? Int) ?? 0
        print(
            """
            resources per scan:   \(resources) (\(resources * 2) results per scan)
            record first scan:    \(String(format: "%.2f", t1.timeIntervalSince(t0))) s
            record second scan:   \(String(format: "%.2f", t2.timeIntervalSince(t1))) s (\(resources / 100) resources changed)
            diff:                 \(String(format: "%.2f", t3.timeIntervalSince(t2))) s (\(d.regressed.count) regressed, \(d.changedResources.count) changed resources)
            database:             \(size / 1_048_576) MiB
            """)
    }
}
