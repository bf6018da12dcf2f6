import ArgumentParser
import AsyncHTTPClient
import AttestCollect
import AttestControls
import AttestCore
import AttestHTTP
import AttestHistory
import AttestInventory
import AttestReport
import AttestScan
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import Prometheus
import ServiceLifecycle
import Synchronization
import UnixSignals

/// `attest watch aws …`: scans on a schedule, writes evidence and history as scans do, serves
/// Prometheus metrics and health over HTTP from start-up on, and sends drift to a webhook.
/// SIGTERM or SIGINT stop it between or during scans; a scan stopped mid-way is abandoned
/// (no report, no history, its evidence marker removed), never recorded as complete.
struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch", abstract: "Scan on a schedule, serve Prometheus metrics and send drift to a webhook.",
        subcommands: [WatchAWSCommand.self, WatchDemoCommand.self])
}

/// How often, where to listen, where drift goes.
struct WatchOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Scan this often (30s, 15m, 1h, 1h30m).", valueName: "duration"))
    var every: TimeLimit?

    @Option(help: ArgumentHelp("Or scan on a cron schedule, five fields in UTC (\"0 * * * *\": every hour).", valueName: "expr"))
    var cron: CronSchedule?

    @Option(help: "Random delay added to each wait, as a share of the interval (0 to 0.5).")
    var jitter = 0.1

    @Option(help: ArgumentHelp("Serve /metrics, /healthz and /readyz here.", valueName: "host:port"))
    var listen = "127.0.0.1:9464"

    @Option(help: ArgumentHelp("POST drift (new failures, regressions, expired exceptions) here as JSON.", valueName: "url"))
    var webhook: String?

    @Option(help: "The webhook's payload: json, or slack (a Slack-compatible {\"text\": …}).")
    var webhookFormat: WebhookFormat = .json

    enum WebhookFormat: String, ExpressibleByArgument, CaseIterable { case json, slack }

    func validate() throws {
        if (every == nil) == (cron == nil) { throw ValidationError("give --every DURATION or --cron EXPR (one of them)") }
        guard (0...0.5).contains(jitter) else { throw ValidationError("--jitter must be from 0 to 0.5") }
        _ = try listenAddress()
        if let webhook {
            guard let url = URL(string: webhook), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
                throw ValidationError("--webhook must be an http(s) URL, not \(webhook)")
            }
            if scheme == "http", !["127.0.0.1", "localhost", "::1"].contains(url.host!) {
                throw ValidationError("--webhook: http:// only for a loopback host; use https://")
            }
        }
    }

    func listenAddress() throws -> (String, Int) {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65_535).contains(port)
        else { throw ValidationError("--listen must be HOST:PORT, not \(listen)") }
        return (String(listen[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port)
    }

    /// How long to wait from `now` until the next scan.
    func wait(after now: Date) -> Duration {
        let base: Double
        if let every {
            base = Double(every.duration.components.seconds) + Double(every.duration.components.attoseconds) / 1e18
        } else {
            base = max(1, cron!.next(after: now).timeIntervalSince(now))
        }
        let extra = jitter > 0 ? Double.random(in: 0...(base * jitter)) : 0
        return .milliseconds(Int64((base + min(extra, 300)) * 1000))
    }
}

struct WatchAWSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "aws", abstract: "Watch an AWS account.")

    @OptionGroup var target: AWSTargetOptions
    @OptionGroup var watch: WatchOptions
    @OptionGroup var options: ScanRunOptions

    @Option(help: "Directory holding the provider specs (default: the providers/ folder shipped with attest).")
    var providers: String?

    func validate() throws {
        if options.history.noHistory && watch.webhook != nil {
            throw ValidationError("--webhook needs the scan history to find drift: leave out --no-history")
        }
    }

    func run() async throws {
        LogSetup.bootstrap(level: options.output.logLevel)
        let config = try AttestCLIConfig.load(options.controlSource.config)
        try await Watcher(
            execution: ScanExecution(options, providers: providers, record: nil), targets: [target.target], config: config,
            options: watch, historyPath: options.history.path(config: config)
        ).run()
    }
}

/// `attest watch demo`: the recorded sample account, served on loopback, watched like a real one.
struct WatchDemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "demo", abstract: "Watch the recorded sample AWS account, offline.")

    @Option(help: "Directory of recorded responses (default: fixtures/aws/sample-account).")
    var fixtures: String?
    @Option(help: "Directory holding the provider specs.")
    var providers: String?
    @OptionGroup var watch: WatchOptions
    @OptionGroup var options: ScanRunOptions

    func run() async throws {
        LogSetup.bootstrap(level: options.output.logLevel)
        let config = try AttestCLIConfig.load(options.controlSource.config)
        let historyPath = options.history.path(config: config)
        let watch = self.watch
        var demo = ScanExecution(demo: options, providers: providers)
        demo.historyByDefault = true  // a watch records its history, so drift can be found
        let base = demo
        try await DemoCommand.withRecordedAccount(fixtures: fixtures, providers: providers) { target, environment in
            var execution = base
            execution.environment = environment
            try await Watcher(execution: execution, targets: [target], config: config, options: watch, historyPath: historyPath).run()
        }
    }
}

/// One watch process: the HTTP server and the scan loop in one service group.
struct Watcher {
    var execution: ScanExecution
    var targets: [ScanTarget]
    var config: AttestConfig
    var options: WatchOptions
    var historyPath: String?

    func run() async throws {
        var logger = Logger(label: "attest.watch")
        logger.logLevel = .warning
        let metrics = WatchMetrics()
        let (host, port) = try options.listenAddress()
        let router = Router()
        router.get("/metrics") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: metrics.text())))
        }
        router.get("/healthz") { _, _ in "ok\n" }
        router.get("/readyz") { _, _ -> Response in
            metrics.isReady
                ? Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ready\n")))
                : Response(status: .serviceUnavailable, body: .init(byteBuffer: ByteBuffer(string: "no scan has finished yet\n")))
        }
        // The server's own shutdown chatter is not the user's business; a port that cannot be bound still fails the run.
        var serverLogger = logger
        serverLogger.logLevel = .critical
        let app = Application(
            router: router, configuration: .init(address: .hostname(host, port: port)),
            onServerRunning: { channel in
                Diagnostics.line("watching: metrics on http://\(host):\(channel.localAddress?.port ?? port)/metrics")
            }, logger: serverLogger)
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let webhook = options.webhook.map { Webhook(url: $0, format: options.webhookFormat, client: client) }
        let loop = ScanLoop(watcher: self, metrics: metrics, webhook: webhook)
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: app), .init(service: loop, successTerminationBehavior: .gracefullyShutdownGroup),
                ], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
        Diagnostics.line("watch stopped")
    }
}

/// Scans, waits, scans again, until the service group shuts down.
struct ScanLoop: Service {
    let watcher: Watcher
    let metrics: WatchMetrics
    let webhook: Webhook?

    func run() async throws {
        var first = true
        var setupFailure: (any Error)?
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            defer { first = false }
            let started = Date()
            let stopped: Bool = await {
                do {
                    try await cancelWhenGracefulShutdown { try await scanOnce(started: started) }
                    return false
                } catch is CancellationError {
                    return true
                } catch let error where first && (error is ConfigurationError || error is ScanSetupError) {
                    // A mistake in the flags, the config or the credentials: said at once, exit 2, as scan does.
                    setupFailure = error
                    return true
                } catch {
                    metrics.scanFailed()
                    Diagnostics.line("scan failed: \(error)")
                    return false
                }
            }()
            if let setupFailure { throw setupFailure }
            if stopped || Task.isShuttingDownGracefully {
                Diagnostics.line("stopping: the scan in progress was abandoned, nothing of it recorded")
                return
            }
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: watcher.options.wait(after: Date())) }
            } catch { return }
        }
    }

    func scanOnce(started: Date) async throws {
        var execution = watcher.execution
        let sink = WatchSink(metrics: metrics)
        execution.extraSinks = [sink]
        _ = try await execution.run(watcher.targets, config: watcher.config)
        try Task.checkCancellation()
        guard let outcome = sink.outcome else { return }
        guard let webhook, let path = watcher.historyPath, FileManager.default.fileExists(atPath: path) else { return }
        let store = try HistoryStore(path: path)
        let expired = outcome.evaluation.map { e in e.exceptionUsage.expired.map { e.exceptionUsage.exceptions[$0] } } ?? []
        guard let (a, b) = try store.lastTwo(), b.id == outcome.id else { return }
        let diff = try store.diff(a, b)
        guard !diff.newFailures.isEmpty || !diff.regressed.isEmpty || !expired.isEmpty else { return }
        await webhook.send(diff: diff, expired: expired)
    }
}

/// Hands the finished outcome to the loop and the metrics.
final class WatchSink: ScanSink {
    let metrics: WatchMetrics
    private let box = Mutex<ScanOutcome?>(nil)
    init(metrics: WatchMetrics) { self.metrics = metrics }
    var outcome: ScanOutcome? { box.withLock { $0 } }

    func scanDidFinish(_ outcome: ScanOutcome) async throws {
        box.withLock { $0 = outcome }
        metrics.update(outcome)
    }
}

/// The Prometheus registry the watch process serves, updated after every scan.
final class WatchMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let state = Mutex(State())

    struct State {
        var ready = false
        var lastComplete: Date?
        var gauges: [String: Gauge] = [:]
    }

    var isReady: Bool { state.withLock { $0.ready } }

    func gauge(_ name: String, _ labels: [(String, String)] = [], help: String) -> Gauge {
        let key = name + labels.map { "|\($0.0)=\($0.1)" }.joined()
        return state.withLock { s in
            if let g = s.gauges[key] { return g }
            let g = labels.isEmpty ? registry.makeGauge(name: name, help: help) : registry.makeGauge(name: name, labels: labels, help: help)
            s.gauges[key] = g
            return g
        }
    }

    /// Counts per label set, for one gauge family.
    struct Tally {
        var entries: [String: (labels: [(String, String)], value: Double)] = [:]
        mutating func add(_ labels: [(String, String)], _ value: Double = 1) {
            let key = labels.map { "\($0.0)=\($0.1)" }.joined(separator: "|")
            entries[key, default: (labels, 0)].value += value
        }
    }

    /// Sets every gauge of `name` to the tallied values; label sets no longer present go to 0.
    func publish(_ name: String, _ tally: Tally, help: String) {
        let prefix = name + "|"
        let known = state.withLock { s in s.gauges.filter { $0.key.hasPrefix(prefix) }.map(\.value) }
        for g in known { g.set(0.0) }
        for (_, entry) in tally.entries { gauge(name, entry.labels, help: help).set(entry.value) }
    }

    func scanFailed() {
        registry.makeCounter(name: "attest_scans_total", labels: [("outcome", "failed")], help: "Scans run, by outcome.").increment()
    }

    func update(_ o: ScanOutcome) {
        let complete = o.isComplete
        registry.makeCounter(
            name: "attest_scans_total", labels: [("outcome", complete ? "complete" : "incomplete")], help: "Scans run, by outcome."
        )
        .increment()
        gauge("attest_scan_duration_seconds", help: "How long the last scan took.").set(o.finishedAt.timeIntervalSince(o.startedAt))
        gauge("attest_last_scan_timestamp_seconds", help: "When the last scan finished (Unix time).").set(
            o.finishedAt.timeIntervalSince1970)
        gauge("attest_resources", help: "Resources in the last scan.").set(Double(o.graph.count))
        gauge("attest_api_calls", help: "API calls the last scan made, retries included.").set(Double(o.calls))
        gauge("attest_api_retries", help: "Retries in the last scan (throttling and transient errors).").set(Double(o.retries))
        var calls = Tally()
        var throttles = Tally()
        for (service, c) in o.callsByService {
            calls.add([("service", service)], Double(c.calls))
            throttles.add([("service", service)], Double(c.throttled))
        }
        publish("attest_api_calls_by_service", calls, help: "API calls the last scan made per service, retries included.")
        publish("attest_api_throttles", throttles, help: "Throttled answers (retried) in the last scan, per service.")
        var errors = Tally()
        for e in o.errors { errors.add([("service", e.service), ("code", e.code)]) }
        publish("attest_collection_errors", errors, help: "What the last scan could not read, by service and error code.")
        if let e = o.evaluation {
            var results = Tally()
            for r in e.results {
                results.add([("control", r.controlID), ("severity", r.severity.rawValue), ("status", r.status.rawValue)])
            }
            publish("attest_results", results, help: "Control results of the last scan, by control, severity and status.")
            var frameworks = Tally()
            // The verdicts alone: a whole report (every resource and observed value) is not needed here.
            for f in ScanReport.frameworks(of: e) {
                for r in f.requirements { frameworks.add([("framework", f.framework), ("status", r.status.rawValue)]) }
            }
            publish("attest_framework_requirements", frameworks, help: "Framework requirements of the last scan, by verdict.")
            let usage = e.exceptionUsage
            let active = usage.exceptions.filter { !$0.isExpired(at: o.startedAt) }.count
            var exceptions = Tally()
            exceptions.add([("state", "active")], Double(active))
            exceptions.add([("state", "expiring_soon")], Double(usage.expiringSoon.count))
            exceptions.add([("state", "expired")], Double(usage.expired.count))
            exceptions.add([("state", "stale")], Double(usage.stale.count))
            publish("attest_exceptions", exceptions, help: "Exceptions in force, expiring within the flag window, expired and stale.")
        }
        state.withLock { s in
            s.ready = true
            if complete { s.lastComplete = o.finishedAt }
        }
    }

    func text() -> String {
        if let last = state.withLock({ $0.lastComplete }) {
            gauge("attest_last_complete_scan_age_seconds", help: "Seconds since the last complete scan finished.").set(
                Date().timeIntervalSince(last))
        }
        return registry.emitToString()
    }
}

/// Drift to a webhook: JSON, or a Slack-compatible text, retried with backoff.
struct Webhook: Sendable {
    let url: String
    let format: WatchOptions.WebhookFormat
    let client: HTTPClient

    func payload(diff: ScanDiff, expired: [ControlException]) -> JSONValue {
        let expiredJSON = JSONValue.array(expired.map(\.json))
        switch format {
        case .json:
            var o = diff.json.objectValue ?? [:]
            o["changed_resources"] = nil
            o["expired_exceptions"] = expiredJSON
            o["kind"] = "attest.drift"
            return .object(o)
        case .slack:
            var lines = [
                "*attest*: \(diff.newFailures.count) new failure(s), \(diff.regressed.count) regression(s), \(expired.count) expired exception(s) in \(diff.to.provider) \(diff.to.accounts) (scan \(diff.to.id))"
            ]
            for c in (diff.newFailures + diff.regressed).prefix(10) { lines.append("• \(c.severity) `\(c.control)` \(c.subject)") }
            for x in expired.prefix(5) { lines.append("• exception expired \(x.expires): `\(x.control)` (\(x.owner))") }
            return ["text": .string(lines.joined(separator: "\n"))]
        }
    }

    func send(diff: ScanDiff, expired: [ControlException]) async {
        let body = payload(diff: diff, expired: expired).serialized()
        var delay: Duration = .seconds(1)
        for attempt in 1...4 {
            do {
                var request = HTTPClientRequest(url: url)
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/json")
                request.headers.add(name: "User-Agent", value: "attest/\(attestVersion)")
                request.body = .bytes(ByteBuffer(string: body))
                let response = try await client.execute(request, timeout: .seconds(15))
                _ = try? await response.body.collect(upTo: 64 * 1024)
                if (200..<300).contains(response.status.code) { return }
                if response.status.code != 429 && response.status.code < 500 {
                    Diagnostics.line("webhook refused the drift: HTTP \(response.status.code)")
                    return
                }
            } catch {
                if attempt == 4 { Diagnostics.line("webhook unreachable: \(error)") }
            }
            if attempt == 4 { break }
            try? await Task.sleep(for: delay)
            delay *= 2
        }
        Diagnostics.line("webhook: gave up after 4 attempts")
    }
}

/// A five-field cron schedule in UTC: minute, hour, day of month, month, day of week, each
/// `*`, a number, a list, a range or a step (`*/15`, `1-5`, `0,30`).
struct CronSchedule: ExpressibleByArgument, Sendable {
    let fields: [Set<Int>]
    let restrictedDays: (month: Bool, week: Bool)

    init?(argument: String) {
        let parts = argument.split(separator: " ", omittingEmptySubsequences: true)
        let ranges = [0...59, 0...23, 1...31, 1...12, 0...6]
        guard parts.count == 5 else { return nil }
        var fields: [Set<Int>] = []
        for (part, range) in zip(parts, ranges) {
            var set: Set<Int> = []
            for item in part.split(separator: ",") {
                let pieces = item.split(separator: "/", maxSplits: 1)
                let step = pieces.count == 2 ? Int(pieces[1]) : 1
                guard let step, step > 0 else { return nil }
                var low = range.lowerBound
                var high = range == 0...6 ? 6 : range.upperBound
                if pieces[0] != "*" {
                    let bounds = pieces[0].split(separator: "-", maxSplits: 1).map { Int($0) }
                    guard let a = bounds.first ?? nil else { return nil }
                    low = a
                    high = bounds.count == 2 ? (bounds[1] ?? -1) : (pieces.count == 2 ? range.upperBound : a)
                }
                // Day of week: 7 is Sunday too.
                let allowed = range == 0...6 ? 0...7 : range
                guard allowed.contains(low), allowed.contains(high), low <= high else { return nil }
                set.formUnion(stride(from: low, through: high, by: step).map { range == 0...6 && $0 == 7 ? 0 : $0 })
            }
            fields.append(set)
        }
        self.fields = fields
        restrictedDays = (parts[2] != "*", parts[4] != "*")
    }

    /// The first minute after `date` that matches.
    func next(after date: Date) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        var t = calendar.date(bySetting: .second, value: 0, of: date.addingTimeInterval(60)) ?? date.addingTimeInterval(60)
        if t <= date { t = t.addingTimeInterval(60) }
        for _ in 0..<(366 * 24 * 60) {
            let c = calendar.dateComponents([.minute, .hour, .day, .month, .weekday], from: t)
            let dom = fields[2].contains(c.day!)
            let dow = fields[4].contains(c.weekday! - 1)
            let dayMatches = restrictedDays.month && restrictedDays.week ? (dom || dow) : (dom && dow)
            if fields[0].contains(c.minute!), fields[1].contains(c.hour!), fields[3].contains(c.month!), dayMatches { return t }
            t = t.addingTimeInterval(60)
        }
        return date.addingTimeInterval(3600)
    }

    static var defaultCompletionKind: CompletionKind { .default }
}
