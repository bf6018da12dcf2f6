public import AttestCollect
public import AttestControls
public import AttestCore
public import AttestHTTP
public import AttestInventory
public import Foundation
import Synchronization

/// What a scan evaluates after collection.
public struct ControlPlan: Sendable {
    public var controls: [Control]
    public var frameworks: FrameworkSet
    /// Control id → parameter → value, from config.
    public var parameterOverrides: [String: [String: JSONValue]]
    /// Failures at or above this severity make the scan's verdict ``ScanVerdict/findings``; nil never does.
    public var failThreshold: Severity?
    /// Accepted risks: failures they cover are `excepted`.
    public var exceptions: ExceptionSet

    public init(
        controls: [Control], frameworks: FrameworkSet, parameterOverrides: [String: [String: JSONValue]] = [:],
        failThreshold: Severity? = .info, exceptions: ExceptionSet = ExceptionSet()
    ) {
        self.controls = controls
        self.frameworks = frameworks
        self.parameterOverrides = parameterOverrides
        self.failThreshold = failThreshold
        self.exceptions = exceptions
    }
}

/// The controls' results for one scan, with what reports and evidence need to show them.
public struct ControlEvaluation: Sendable {
    public var plan: ControlPlan
    public var results: ControlResults
    /// Controls left out because a service they need was not scanned.
    public var notEvaluated: [NotEvaluated] = []
    public var controlsByID: [String: Control]
    /// The inventory the results were evaluated over (observed values are read from it).
    public var graph: InventoryGraph
    /// The time the rules ran at: what exceptions expire and warned controls start blocking against.
    public var evaluatedAt: Date
    /// How the plan's exceptions were used.
    public var exceptionUsage: ExceptionUsage

    public init(plan: ControlPlan, results: ControlResults, graph: InventoryGraph, evaluatedAt: Date = Date()) {
        self.plan = plan
        self.results = results
        self.controlsByID = Dictionary(uniqueKeysWithValues: plan.controls.map { ($0.id, $0) })
        self.graph = graph
        self.evaluatedAt = evaluatedAt
        self.exceptionUsage = ExceptionUsage(exceptions: plan.exceptions.exceptions)
    }

    public func count(_ status: ResultStatus) -> Int { results.reduce(0) { $0 + ($1.status == status ? 1 : 0) } }

    /// The control's enforcement, when it only warns at the time of the scan.
    public func warning(for controlID: String) -> Enforcement? {
        guard let e = controlsByID[controlID]?.enforcement, e.warnsOnly(at: evaluatedAt) else { return nil }
        return e
    }

    /// True when the result counts for `--fail-on`: a failure at or above the threshold of a
    /// control that is not only warning. Excepted results never count.
    public func blocks(_ result: ControlResult) -> Bool {
        guard let threshold = plan.failThreshold, result.status == .fail, result.severity >= threshold else { return false }
        return warning(for: result.controlID) == nil
    }

    /// True when a result blocks (``blocks(_:)``).
    public var hasBlockingFailures: Bool {
        guard plan.failThreshold != nil else { return false }
        return results.contains { blocks($0) }
    }
}

/// One target as it was scanned.
public struct ScannedTarget: Sendable {
    public var provider: String
    public var origin: String
    public var accounts: [String]
    public var principal: String?
    public var regions: [String]
    public var services: [String]

    public init(provider: String, origin: String, accounts: [String], principal: String?, regions: [String], services: [String]) {
        self.provider = provider
        self.origin = origin
        self.accounts = accounts
        self.principal = principal
        self.regions = regions
        self.services = services
    }
}

/// A scan's verdict, from which the command line takes its exit status.
public enum ScanVerdict: Sendable, Equatable {
    /// Everything was read and evaluated, and nothing failed at or above the threshold.
    case clean
    /// A control failed at or above the threshold.
    case findings
    /// Something could not be read or evaluated, or a sink (evidence) could not write.
    case incomplete(String)
}

/// The result of one run of the pipeline: what was collected, what could not be, the controls'
/// results, and what the sinks could not do.
public struct ScanOutcome: Sendable {
    public var id: String
    public var startedAt: Date
    public var finishedAt: Date
    public var targets: [ScannedTarget]
    public var graph: InventoryGraph
    public var errors: [CollectionError]
    /// HTTP exchanges attempted, retries included, and retries alone.
    public var calls: Int
    public var retries: Int
    /// Per service (for providers that label their calls): calls, retries, throttled retries.
    public var callsByService: [String: CallCounters.LabelCounts] = [:]
    public var evaluation: ControlEvaluation?
    /// What a sink could not do (evidence not written), one line each.
    public var sinkFailures: [String] = []
    /// The scan's time limit was reached: what had not been read then is among the errors.
    public var timedOut = false

    public init(
        id: String, startedAt: Date, finishedAt: Date, targets: [ScannedTarget], graph: InventoryGraph, errors: [CollectionError],
        calls: Int, retries: Int
    ) {
        self.id = id
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.targets = targets
        self.graph = graph
        self.errors = errors
        self.calls = calls
        self.retries = retries
    }

    /// Complete when nothing failed to be read.
    public var isComplete: Bool { errors.isEmpty }

    public var accounts: [String] { Array(Set(targets.flatMap(\.accounts))).sorted() }
    public var providers: [String] { Array(Set(targets.map(\.provider))).sorted() }

    /// Blocking failures win (a gate never passes because something else also went wrong);
    /// then anything incomplete (``incompleteReason(strict:)``); else clean.
    public func verdict(strict: Bool = true) -> ScanVerdict {
        if let evaluation, evaluation.hasBlockingFailures { return .findings }
        if let reason = incompleteReason(strict: strict) { return .incomplete(reason) }
        return .clean
    }

    /// Why the scan is incomplete, whatever else it found: a sink that could not write
    /// (evidence), the time limit, anything unread, and anything that could not be evaluated
    /// (only when `strict`; the demo reports it without failing).
    public func incompleteReason(strict: Bool = true) -> String? {
        if !sinkFailures.isEmpty { return sinkFailures.joined(separator: "; ") }
        if timedOut { return "the scan's time limit was reached: \(errors.count) error(s), see the errors section" }
        if !isComplete { return "scan incomplete: \(errors.count) error(s); see the errors section" }
        if strict, let evaluation, evaluation.count(.error) > 0 {
            return "\(evaluation.count(.error)) control result(s) could not be evaluated"
        }
        return nil
    }
}

/// Something a finished scan is handed to: the report writer, the evidence writer; later the
/// scan history and metrics.
public protocol ScanSink: Sendable {
    /// Before anything is called (the evidence writer marks the scan as in progress, so a scan
    /// that dies at any point shows as incomplete).
    func scanWillStart(id: String, startedAt: Date) async throws
    /// After collection and evaluation. A thrown error is recorded in the outcome's
    /// ``ScanOutcome/sinkFailures`` and the other sinks still run.
    func scanDidFinish(_ outcome: ScanOutcome) async throws
    /// The scan ended without an outcome (a setup error).
    func scanDidFail(_ error: any Error) async
}

extension ScanSink {
    public func scanWillStart(id: String, startedAt: Date) async throws {}
    public func scanDidFail(_ error: any Error) async {}
}

/// Collect → evaluate → sinks, for any number of targets of any providers, into one graph, one
/// result set and one outcome. It writes nothing itself: output goes to the sinks, so a
/// long-running service can run it in a loop.
public struct ScanPipeline: Sendable {
    public var registry: ProviderRegistry
    /// Provider id → its loaded specs.
    public var specs: [String: ProviderSpec]
    /// Nil collects only.
    public var plan: ControlPlan?
    public var sinks: [any ScanSink]
    public var progress: (any CollectionProgress)?
    /// Units run at once per target, and items at once per unit.
    public var unitConcurrency = 12
    public var itemConcurrency = 8
    /// Targets connected and collected at once.
    public var targetConcurrency = 4
    /// The longest collection may take; when it is reached, calls still running are stopped and
    /// recorded as errors, and the scan finishes with what it read (nil: no limit).
    public var timeLimit: Duration?

    public init(
        registry: ProviderRegistry, specs: [String: ProviderSpec], plan: ControlPlan?, sinks: [any ScanSink] = [],
        progress: (any CollectionProgress)? = nil
    ) {
        self.registry = registry
        self.specs = specs
        self.plan = plan
        self.sinks = sinks
        self.progress = progress
    }

    /// Runs one scan of `targets` in `session`. Setup mistakes (an unknown provider or service,
    /// credentials that do not work, no identity) throw ``ScanSetupError`` before any result is
    /// made; everything else ends in the outcome.
    public func run(_ targets: [ScanTarget], in session: ScanSession) async throws -> ScanOutcome {
        let id = UUID().uuidString.lowercased()
        let startedAt = Date()
        guard !targets.isEmpty else { throw ScanSetupError("nothing to scan: no target") }
        let prepared = try targets.map(prepare)
        do {
            for sink in sinks { try await sink.scanWillStart(id: id, startedAt: startedAt) }
            let (collected, timedOut) = try await collectWithinTimeLimit(prepared, session: session)
            // Stopped from outside (a service shutting down): nothing of this scan is evaluated or recorded.
            try Task.checkCancellation()
            var outcome = ScanOutcome(
                id: id, startedAt: startedAt, finishedAt: Date(), targets: collected.map(\.scanned),
                graph: InventoryGraph(), errors: [], calls: session.counters.calls, retries: session.counters.retries)
            outcome.callsByService = session.counters.byLabel
            var gaps = ControlEngine.CollectionGaps()
            for c in collected {
                for r in c.result.graph.resources.values { outcome.graph.add(r) }
                for e in c.result.graph.edges { outcome.graph.add(e) }
                outcome.errors += c.result.errors
                gaps.merge(
                    ControlEngine.CollectionGaps(
                        errors: c.result.errors, services: c.services,
                        regionalLevels: Set(c.provider.scopeLevels.filter(\.isRegional).map(\.name)),
                        accountLevels: Set(c.provider.scopeLevels.filter(\.isPerAccount).map(\.name))))
            }
            outcome.errors.sort()
            outcome.timedOut = timedOut
            if timedOut, let limit = timeLimit {
                for i in outcome.errors.indices where outcome.errors[i].code == "Cancelled" {
                    outcome.errors[i].code = "TimeLimit"
                    outcome.errors[i].message = "not finished when the scan's time limit (\(Int(limit.seconds)) s) was reached"
                }
            }
            if let plan {
                let (evaluable, skipped) = Self.evaluable(plan.controls, scanned: collected)
                let engine = ControlEngine(controls: evaluable, parameterOverrides: plan.parameterOverrides)
                var results = await engine.evaluate(graph: outcome.graph, now: startedAt, gaps: gaps)
                let (excepted, usage) = plan.exceptions.apply(
                    to: results, graph: outcome.graph, controls: Set(evaluable.map(\.id)), now: startedAt)
                results = excepted
                outcome.evaluation = ControlEvaluation(plan: plan, results: results, graph: outcome.graph, evaluatedAt: startedAt)
                outcome.evaluation?.notEvaluated = skipped
                outcome.evaluation?.exceptionUsage = usage
            }
            outcome.finishedAt = Date()
            for sink in sinks {
                do {
                    try await sink.scanDidFinish(outcome)
                } catch {
                    outcome.sinkFailures.append(SecretScrubber.shared.scrub(String(describing: error)))
                }
            }
            return outcome
        } catch {
            for sink in sinks { await sink.scanDidFail(error) }
            throw error
        }
    }

    /// The controls whose data every target of their provider collected, and why the others
    /// are not evaluated. A control of a provider no target scanned has nothing to judge and is
    /// simply not run.
    static func evaluable(_ controls: [Control], scanned: [CollectedTarget]) -> ([Control], [NotEvaluated]) {
        var keep: [Control] = []
        var skipped: [NotEvaluated] = []
        for control in controls {
            let targets = scanned.filter { $0.provider.id == control.provider }
            var missing: [String: Set<String>] = [:]
            var ownTypesCollected = false
            for target in targets {
                let have = Set(target.services.map(\.id))
                ownTypesCollected =
                    ownTypesCollected
                    || target.services.contains { $0.resources.contains { !$0.mergeOnly && control.resourceTypes.contains($0.type) } }
                for (service, why) in ControlRequirements.services(of: control, in: target.spec) where !have.contains(service) {
                    missing[service, default: []].formUnion(why)
                }
            }
            // A control whose own resources were not collected has nothing to judge: it just does not run.
            if !ownTypesCollected { continue }
            if missing.isEmpty {
                keep.append(control)
            } else {
                let reason = missing.keys.sorted().map { service in
                    let why = missing[service]!
                    // `aws.cloudtrail.trail.is_logging` says nothing `aws.cloudtrail.trail` does not.
                    let shown = why.filter { item in !why.contains { item.hasPrefix($0 + ".") } }.sorted()
                    return "service \(service) was not scanned (it collects \(shown.joined(separator: ", ")))"
                }.joined(separator: "; ")
                skipped.append(NotEvaluated(control: control.id, reason: reason))
            }
        }
        return (keep, skipped)
    }

    struct PreparedTarget: Sendable {
        var target: ScanTarget
        var provider: any CloudProvider
        var spec: ProviderSpec
        var services: [ServiceSpec]
    }

    struct CollectedTarget: Sendable {
        var scanned: ScannedTarget
        var result: CollectionResult
        var services: [ServiceSpec]
        var provider: any CloudProvider
        var spec: ProviderSpec
    }

    func prepare(_ target: ScanTarget) throws -> PreparedTarget {
        guard let provider = registry.provider(target.provider) else {
            throw ScanSetupError("\(target.origin): unknown provider \(target.provider) (known: \(registry.ids.joined(separator: ", ")))")
        }
        guard let spec = specs[provider.id] else { throw ScanSetupError("no specs loaded for provider \(provider.id)") }
        for key in target.options.keys.sorted() where !provider.targetOptionKeys.contains(key) {
            throw ScanSetupError(
                "\(target.origin): \(provider.id) targets have no option \(key) (known: \(provider.targetOptionKeys.joined(separator: ", ")))"
            )
        }
        var services = spec.services.filter { !$0.resources.isEmpty }
        if let wanted = target.services {
            let known = Set(services.map(\.id))
            let unknown = wanted.filter { !known.contains($0) }
            guard unknown.isEmpty else {
                throw ScanSetupError(
                    "unknown service \(unknown.joined(separator: ", ")) (known: \(known.sorted().joined(separator: ", ")))")
            }
            // A chosen service brings the services it includes (S3 brings S3 Control).
            var chosen = Set(wanted)
            var frontier = wanted
            while let next = frontier.popLast() {
                for included in spec.service(next)?.includes ?? [] where chosen.insert(included).inserted { frontier.append(included) }
            }
            services = services.filter { chosen.contains($0.id) }
        }
        return PreparedTarget(target: target, provider: provider, spec: spec, services: services)
    }

    enum Phase: Sendable {
        case collected([CollectedTarget])
        case timeLimitReached
        case timerStopped
    }

    /// Collects, stopping at ``timeLimit``: the collection is cancelled, its calls end as errors,
    /// and what was read is kept.
    func collectWithinTimeLimit(_ prepared: [PreparedTarget], session: ScanSession) async throws -> ([CollectedTarget], Bool) {
        guard let limit = timeLimit else { return (try await collect(prepared, session: session), false) }
        return try await withThrowingTaskGroup(of: Phase.self) { group in
            group.addTask { .collected(try await collect(prepared, session: session)) }
            group.addTask {
                do {
                    try await Task.sleep(for: limit)
                    return .timeLimitReached
                } catch {
                    return .timerStopped
                }
            }
            var collected: [CollectedTarget] = []
            var timedOut = false
            while let phase = try await group.next() {
                switch phase {
                case .collected(let c):
                    collected = c
                    group.cancelAll()  // stops the timer
                case .timeLimitReached:
                    timedOut = true
                    group.cancelAll()  // the collection winds down with what it has
                case .timerStopped:
                    break
                }
            }
            return (collected, timedOut)
        }
    }

    func collect(_ prepared: [PreparedTarget], session: ScanSession) async throws -> [CollectedTarget] {
        let context = session.connectionContext
        let unitConcurrency = self.unitConcurrency
        let itemConcurrency = self.itemConcurrency
        let progress = self.progress
        return try await withThrowingTaskGroup(of: (Int, CollectedTarget).self) { group in
            var next = 0
            func launch() {
                let index = next
                let p = prepared[index]
                next += 1
                group.addTask {
                    let connection = try await p.provider.connect(p.target, spec: p.spec, context: context)
                    let engine = CollectionEngine(
                        caller: connection.caller, unitConcurrency: unitConcurrency,
                        itemConcurrency: itemConcurrency, progress: progress, logger: context.logger)
                    let discovery = try await connection.discover(spec: p.spec, target: p.target, engine: engine)
                    if let wanted = p.target.accounts {
                        let found = discovery.target.accounts.filter { !$0.implied }.map(\.id)
                        let outside = found.filter { !wanted.contains($0) }
                        guard outside.isEmpty else {
                            throw ScanSetupError(
                                "\(p.target.origin): the credentials belong to account \(outside.joined(separator: ", ")), which the target's accounts (\(wanted.joined(separator: ", "))) do not list"
                            )
                        }
                    }
                    var result = await engine.collect(services: p.services, target: discovery.target)
                    if let early = discovery.collected {
                        for r in early.graph.resources.values { result.graph.add(r) }
                        for e in early.graph.edges { result.graph.add(e) }
                        result.errors += early.errors
                    }
                    result.errors = (discovery.errors + result.errors).sorted()
                    let scanned = ScannedTarget(
                        provider: p.provider.id, origin: p.target.origin,
                        accounts: discovery.target.accounts.map(\.id), principal: discovery.principal,
                        regions: discovery.regions, services: p.services.map(\.id).sorted())
                    return (
                        index, CollectedTarget(scanned: scanned, result: result, services: p.services, provider: p.provider, spec: p.spec)
                    )
                }
            }
            while next < prepared.count && next < targetConcurrency { launch() }
            var out = [CollectedTarget?](repeating: nil, count: prepared.count)
            while let (index, collected) = try await group.next() {
                out[index] = collected
                if next < prepared.count { launch() }
            }
            return out.map { $0! }
        }
    }
}
