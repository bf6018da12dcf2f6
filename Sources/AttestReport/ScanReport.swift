public import AttestCollect
public import AttestControls
public import AttestCore
import AttestHTTP
public import AttestInventory
public import AttestScan
import Foundation

/// The scan report: everything every output format shows, as one typed value. JSON is this
/// model encoded; the table and later SARIF, JUnit, OCSF, HTML and Markdown render from it.
/// The schema is documented in `docs/scan-output.md`.
public struct ScanReport: Codable, Sendable {
    public static let schemaVersion = 1

    public var schemaVersion: Int
    public var scan: Scan
    public var resources: [Resource]
    public var edges: [Edge]
    public var errors: [CollectionError]
    /// Present when controls ran.
    public var controls: ControlsSummary?
    public var results: [Result]?
    public var frameworks: [FrameworkSummary]?
    /// What each control that gave a result is: its text, remediation and references (SARIF
    /// rules, JUnit failures and the Markdown summary render from it).
    public var catalog: [ControlInfo]?
    /// When the scan wrote evidence: the signed manifest that seals it.
    public var evidence: EvidenceSeal?
    /// When the scan history holds an earlier scan of the same scope: what changed since.
    public var drift: Drift?
    /// With a scan history: failures per scan of the same scope, oldest first, this scan last.
    public var trend: [TrendPoint]?
    /// For `attest plan`: the plan the results are about (nil for scans).
    public var plan: PlanSummary?

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case scan, plan, resources, edges, errors, controls, results, frameworks, catalog, evidence, drift, trend
    }

    /// What `attest plan` read: the plan file, its planned actions, and what it could not judge.
    public struct PlanSummary: Codable, Sendable {
        public var file: String
        public var formatVersion: String
        public var terraformVersion: String?
        /// Planned resources by action: create, update, replace, delete, no-op, read.
        public var actions: [String: Int]
        /// Terraform resource types no mapping knows, with their counts: nothing judges them.
        public var unmapped: [String: Int]
        /// Split resources whose parent is not in the plan, and similar, one line each.
        public var notes: [String]
        /// Controls left out because their rules need data a plan does not hold.
        public var controlsNotPlanCapable: Int

        public init(
            file: String, formatVersion: String, terraformVersion: String?, actions: [String: Int], unmapped: [String: Int],
            notes: [String], controlsNotPlanCapable: Int
        ) {
            self.file = file
            self.formatVersion = formatVersion
            self.terraformVersion = terraformVersion
            self.actions = actions
            self.unmapped = unmapped
            self.notes = notes
            self.controlsNotPlanCapable = controlsNotPlanCapable
        }

        enum CodingKeys: String, CodingKey {
            case file, actions, unmapped, notes
            case formatVersion = "format_version"
            case terraformVersion = "terraform_version"
            case controlsNotPlanCapable = "controls_not_plan_capable"
        }
    }

    /// A file and line in the sources a result is about (a Terraform `resource` block).
    public struct SourceLocation: Codable, Sendable, Hashable {
        public var file: String
        public var line: Int
        public init(file: String, line: Int) {
            self.file = file
            self.line = line
        }
    }

    public struct TrendPoint: Codable, Sendable {
        public var scan: String
        public var startedAt: String
        public var failures: Int
        public var results: Int
        public init(scan: String, startedAt: String, failures: Int, results: Int) {
            (self.scan, self.startedAt, self.failures, self.results) = (scan, startedAt, failures, results)
        }
        enum CodingKeys: String, CodingKey {
            case scan, failures, results
            case startedAt = "started_at"
        }
    }

    /// What changed since the previous scan of the same provider and accounts.
    public struct Drift: Codable, Sendable {
        public struct Change: Codable, Sendable {
            public var control: String
            public var resource: String
            public var severity: String
            public var before: String?
            public init(control: String, resource: String, severity: String, before: String?) {
                (self.control, self.resource, self.severity, self.before) = (control, resource, severity, before)
            }
        }

        public struct AttributeChange: Codable, Sendable {
            public var path: String
            public var before: JSONValue
            public var after: JSONValue
            public init(path: String, before: JSONValue, after: JSONValue) { (self.path, self.before, self.after) = (path, before, after) }
        }

        public struct ResourceChange: Codable, Sendable {
            public var id: String
            public var type: String
            public var changes: [AttributeChange]
            public init(id: String, type: String, changes: [AttributeChange]) { (self.id, self.type, self.changes) = (id, type, changes) }
        }

        public var previousScan: String
        public var previousStartedAt: String
        public var newFailures: [Change]
        public var regressed: [Change]
        public var fixed: [Change]
        /// Failing before, covered by an exception now.
        public var newlyExcepted: [Change] = []
        public var stillFailing: Int
        public var newResources: [String]
        public var removedResources: [String]
        public var changedResources: [ResourceChange]

        public init(
            previousScan: String, previousStartedAt: String, newFailures: [Change], regressed: [Change], fixed: [Change],
            stillFailing: Int, newResources: [String], removedResources: [String], changedResources: [ResourceChange]
        ) {
            self.previousScan = previousScan
            self.previousStartedAt = previousStartedAt
            self.newFailures = newFailures
            self.regressed = regressed
            self.fixed = fixed
            self.stillFailing = stillFailing
            self.newResources = newResources
            self.removedResources = removedResources
            self.changedResources = changedResources
        }

        enum CodingKeys: String, CodingKey {
            case regressed, fixed
            case previousScan = "previous_scan"
            case previousStartedAt = "previous_started_at"
            case newFailures = "new_failures"
            case newlyExcepted = "newly_excepted"
            case stillFailing = "still_failing"
            case newResources = "new_resources"
            case removedResources = "removed_resources"
            case changedResources = "changed_resources"
        }
    }

    /// Where a scan's evidence went and what seals it (never the signature itself).
    public struct EvidenceSeal: Codable, Sendable {
        public var store: String
        public var manifest: String
        public var sequence: Int
        public var records: Int
        public var files: Int
        /// The stored manifest's SHA-256, which `attest evidence verify` prints as the chain head.
        public var chainHead: String
        /// The manifest's SHA-256 over every record file's chain head.
        public var recordsChainHead: String
        public var keyID: String

        public init(_ seal: EvidenceReceipt.Seal) {
            store = seal.store
            manifest = seal.manifestKey
            sequence = seal.sequence
            records = seal.records
            files = seal.files
            chainHead = seal.manifestDigest
            recordsChainHead = seal.recordsChainHead
            keyID = seal.keyID
        }

        enum CodingKeys: String, CodingKey {
            case store, manifest, sequence, records, files
            case chainHead = "chain_head"
            case recordsChainHead = "records_chain_head"
            case keyID = "key_id"
        }
    }

    /// What ran, where and how it went.
    public struct Scan: Codable, Sendable {
        public var id: String
        /// The providers scanned, comma-separated (`aws`).
        public var provider: String
        public var startedAt: String
        public var finishedAt: String
        public var tool: String
        public var toolVersion: String
        /// The accounts scanned, comma-separated; see ``accounts`` for the list.
        public var account: String
        public var accounts: [String]
        /// Who the credentials belong to (one per target, comma-separated); nil when none said.
        public var principal: String?
        public var regions: [String]
        public var services: [String]
        public var targets: [Target]
        public var complete: Bool
        public var stats: Stats

        enum CodingKeys: String, CodingKey {
            case id, provider, tool, account, accounts, principal, regions, services, targets, complete, stats
            case startedAt = "started_at"
            case finishedAt = "finished_at"
            case toolVersion = "tool_version"
        }
    }

    /// One target as scanned.
    public struct Target: Codable, Sendable {
        public var provider: String
        public var origin: String
        public var accounts: [String]
        public var principal: String?
        public var regions: [String]
        public var services: [String]
    }

    public struct Stats: Codable, Sendable {
        public var resources: Int
        public var edges: Int
        public var errors: Int
        public var calls: Int
        public var retries: Int
        public var durationSeconds: Double
        /// Per service: calls (retries included), retries, and retries after throttling.
        public var callsByService: [String: ServiceCalls]?

        enum CodingKeys: String, CodingKey {
            case resources, edges, errors, calls, retries
            case durationSeconds = "duration_seconds"
            case callsByService = "calls_by_service"
        }
    }

    public struct ServiceCalls: Codable, Sendable {
        public var calls: Int
        public var retries: Int
        public var throttled: Int
        /// Calls held back by adaptive pacing after the service throttled; absent when none were.
        public var paced: Int?
    }

    public struct ControlsSummary: Codable, Sendable {
        public var evaluated: Int
        public var results: Int
        public var byStatus: [String: Int]
        /// The `--fail-on` severity, or `never`.
        public var failOn: String
        /// Controls not evaluated because a service they need was not scanned, with the reason.
        public var notEvaluated: [NotEvaluatedControl]
        /// Failures that count for `--fail-on` (not excepted, not from a control that only warns).
        public var blocking: Int
        /// Control id → its excepted results: a control with many overrides is a control to fix.
        public var exceptedByControl: [String: Int]
        public var exceptions: ExceptionsSummary
        /// Controls whose failures only warn in this scan, and from when they block.
        public var warned: [WarnedControl]

        enum CodingKeys: String, CodingKey {
            case evaluated, results, blocking, exceptions, warned
            case byStatus = "by_status"
            case failOn = "fail_on"
            case notEvaluated = "not_evaluated"
            case exceptedByControl = "excepted_by_control"
        }
    }

    /// The scan's exceptions by what became of them.
    public struct ExceptionsSummary: Codable, Sendable {
        /// Exceptions that covered at least one failure, with how many.
        public var applied: [ExceptionReport]
        /// Past their expiry: the failures they covered fail again.
        public var expired: [ExceptionReport]
        /// Their control ran and they covered no failure: remove them.
        public var stale: [ExceptionReport]
        /// Applying, and ending within the flag window (14 days by default).
        public var expiringSoon: [ExceptionReport]

        enum CodingKeys: String, CodingKey {
            case applied, expired, stale
            case expiringSoon = "expiring_soon"
        }
    }

    /// One exception as the report shows it, with what it did in this scan.
    public struct ExceptionReport: Codable, Sendable {
        public var exception: ControlException
        /// Failures it excepted (applied), or would have (expired).
        public var results: Int
        /// Days until it expires (0 on its last day); nil once expired.
        public var daysLeft: Int?

        enum CodingKeys: String, CodingKey {
            case exception, results
            case daysLeft = "days_left"
        }
    }

    public struct WarnedControl: Codable, Sendable {
        public var control: String
        /// The date it starts blocking, nil when it warns until the config changes.
        public var enforceFrom: String?
        public var failures: Int

        enum CodingKeys: String, CodingKey {
            case control, failures
            case enforceFrom = "enforce_from"
        }
    }

    /// A control's text for outputs that explain a failure.
    public struct ControlInfo: Codable, Sendable {
        public var id: String
        public var title: String
        public var description: String
        public var severity: Severity
        public var remediation: String
        public var remediationCLI: String?
        public var remediationTerraform: String?
        public var references: [String]
        public var enforcement: Enforcement?

        enum CodingKeys: String, CodingKey {
            case id, title, description, severity, remediation, references, enforcement
            case remediationCLI = "remediation_cli"
            case remediationTerraform = "remediation_terraform"
        }
    }

    public struct NotEvaluatedControl: Codable, Sendable {
        public var control: String
        public var reason: String
    }

    /// One control's verdict on one resource (or on what could not be read).
    public struct Result: Codable, Sendable {
        public var control: String
        public var title: String
        /// Nil for a result that stands for what could not be read (a whole region, a parent's children).
        public var resource: String?
        public var resourceType: String
        public var account: String
        public var region: String
        public var status: ResultStatus
        public var severity: Severity
        public var observed: [String: JSONValue]
        public var requirements: [RequirementRef]
        public var reason: String?
        /// For an error standing for a parent's children: the parent.
        public var parent: String?
        /// For an `excepted` result: the exception that covers it.
        public var exception: ControlException?
        /// For a failure of a control that only warns: from when it blocks (nil: not yet dated).
        public var warning: Warning?

        /// For a failure: true when it counts for `--fail-on`.
        public var blocks: Bool?
        /// For a plan's result, with `--tf-dir`: the resource block's file and line.
        public var location: SourceLocation?

        enum CodingKeys: String, CodingKey {
            case control, title, resource, account, region, status, severity, observed, requirements, reason, parent, exception,
                warning, blocks, location
            case resourceType = "resource_type"
        }

        public struct Warning: Codable, Sendable {
            public var enforceFrom: String?
            enum CodingKeys: String, CodingKey { case enforceFrom = "enforce_from" }
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(control, forKey: .control)
            try c.encode(title, forKey: .title)
            try c.encode(resource, forKey: .resource)  // null, not absent, when there is no resource
            try c.encode(resourceType, forKey: .resourceType)
            try c.encode(account, forKey: .account)
            try c.encode(region, forKey: .region)
            try c.encode(status, forKey: .status)
            try c.encode(severity, forKey: .severity)
            try c.encode(observed, forKey: .observed)
            try c.encode(requirements, forKey: .requirements)
            try c.encodeIfPresent(reason, forKey: .reason)
            try c.encodeIfPresent(parent, forKey: .parent)
            try c.encodeIfPresent(exception, forKey: .exception)
            try c.encodeIfPresent(warning, forKey: .warning)
            try c.encodeIfPresent(blocks, forKey: .blocks)
        }

        /// What the result is about, for people.
        public var subject: String {
            if let resource { return resource }
            if let parent { return "\(resourceType) of \(parent)" }
            return "\(resourceType) in \(region)"
        }
    }

    public struct RequirementRef: Codable, Sendable, Hashable {
        public var framework: String
        public var requirement: String
    }

    /// A framework's requirements with their verdicts in this scan.
    public struct FrameworkSummary: Codable, Sendable {
        public var framework: String
        public var name: String
        public var title: String
        public var requirements: [RequirementSummary]
    }

    public struct RequirementSummary: Codable, Sendable {
        public var id: String
        public var title: String
        public var status: RequirementVerdict
        public var controls: [String]
        public var pass: Int
        public var fail: Int
        public var error: Int
        public var notApplicable: Int
        public var excepted: Int

        enum CodingKeys: String, CodingKey {
            case id, title, status, controls, pass, fail, error, excepted
            case notApplicable = "not_applicable"
        }
    }
}

extension ScanReport {
    /// The report of a scan outcome.
    public init(_ outcome: ScanOutcome, toolVersion: String) {
        schemaVersion = Self.schemaVersion
        let principals = outcome.targets.compactMap(\.principal)
        scan = Scan(
            id: outcome.id, provider: outcome.providers.joined(separator: ","),
            startedAt: Self.timestamp(outcome.startedAt), finishedAt: Self.timestamp(outcome.finishedAt),
            tool: "attest", toolVersion: toolVersion,
            account: outcome.accounts.joined(separator: ","), accounts: outcome.accounts,
            principal: principals.isEmpty ? nil : principals.joined(separator: ","),
            regions: Array(Set(outcome.targets.flatMap(\.regions))).sorted(),
            services: Array(Set(outcome.targets.flatMap(\.services))).sorted(),
            targets: outcome.targets.map {
                Target(
                    provider: $0.provider, origin: $0.origin, accounts: $0.accounts, principal: $0.principal,
                    regions: $0.regions, services: $0.services)
            },
            complete: outcome.isComplete,
            stats: Stats(
                resources: outcome.graph.count, edges: outcome.graph.edges.count, errors: outcome.errors.count,
                calls: outcome.calls, retries: outcome.retries,
                durationSeconds: (outcome.finishedAt.timeIntervalSince(outcome.startedAt) * 1000).rounded() / 1000,
                callsByService: outcome.callsByService.isEmpty
                    ? nil
                    : outcome.callsByService.mapValues {
                        ServiceCalls(calls: $0.calls, retries: $0.retries, throttled: $0.throttled, paced: $0.paced > 0 ? $0.paced : nil)
                    }))
        resources = outcome.graph.sortedResources
        edges = outcome.graph.sortedEdges
        errors = outcome.errors.map { error in
            var scrubbed = error
            scrubbed.message = SecretScrubber.shared.scrub(error.message)
            return scrubbed
        }
        guard let e = outcome.evaluation else { return }
        var byStatus: [String: Int] = [:]
        for status in ResultStatus.allCases { byStatus[status.rawValue] = e.count(status) }
        let usage = e.exceptionUsage
        let now = e.evaluatedAt
        func reports(_ indexes: [Int], count: (Int) -> Int) -> [ExceptionReport] {
            indexes.map { i in
                let x = usage.exceptions[i]
                return ExceptionReport(exception: x, results: count(i), daysLeft: x.isExpired(at: now) ? nil : x.daysLeft(at: now))
            }
        }
        var warnedFailures: [String: Int] = [:]
        var blocking = 0
        for r in e.results where r.status == .fail {
            if e.warning(for: r.controlID) != nil { warnedFailures[r.controlID, default: 0] += 1 }
            if e.blocks(r) { blocking += 1 }
        }
        let ran = Set(e.results.map(\.controlID))
        controls = ControlsSummary(
            evaluated: e.plan.controls.count - e.notEvaluated.count, results: e.results.count, byStatus: byStatus,
            failOn: e.plan.failThreshold?.rawValue ?? "never",
            notEvaluated: e.notEvaluated.map { NotEvaluatedControl(control: $0.control, reason: $0.reason) },
            blocking: blocking, exceptedByControl: usage.exceptedByControl,
            exceptions: ExceptionsSummary(
                applied: reports(usage.excepted.keys.sorted()) { usage.excepted[$0]!.values.reduce(0, +) },
                expired: reports(usage.expired) { usage.failingAgain[$0] ?? 0 },
                stale: reports(usage.stale) { _ in 0 },
                expiringSoon: reports(usage.expiringSoon) { usage.excepted[$0]?.values.reduce(0, +) ?? 0 }),
            warned: e.plan.controls.filter { ran.contains($0.id) }.compactMap { control in
                guard let w = e.warning(for: control.id) else { return nil }
                return WarnedControl(control: control.id, enforceFrom: w.enforceFrom, failures: warnedFailures[control.id] ?? 0)
            })
        catalog = e.plan.controls.filter { ran.contains($0.id) }.map { c in
            ControlInfo(
                id: c.id, title: c.title, description: c.description, severity: c.severity, remediation: c.remediation.text,
                remediationCLI: c.remediation.cli, remediationTerraform: c.remediation.terraform, references: c.references,
                enforcement: c.enforcement)
        }

        var requirementsByControl: [String: [RequirementRef]] = [:]
        var entries: [Result] = []
        entries.reserveCapacity(e.results.count)
        for r in e.results {
            let control = e.controlsByID[r.controlID]
            var observed: [String: JSONValue] = [:]
            if let control { for (path, value) in r.observed(control, in: e.graph) { observed[path] = value } }
            let requirements: [RequirementRef]
            if let cached = requirementsByControl[r.controlID] {
                requirements = cached
            } else {
                requirements = e.plan.frameworks.requirements(of: r.controlID).map {
                    RequirementRef(framework: $0.framework, requirement: $0.requirement)
                }
                requirementsByControl[r.controlID] = requirements
            }
            var entry = Result(
                control: r.controlID, title: control?.title ?? "", resource: r.resourceID.isEmpty ? nil : r.resourceID,
                resourceType: r.resourceType, account: r.account, region: r.region, status: r.status, severity: r.severity,
                observed: observed, requirements: requirements, reason: r.reason.map { SecretScrubber.shared.scrub($0) },
                parent: r.parentID)
            entry.exception = r.exception.map { usage.exceptions[$0] }
            if r.status == .fail, let w = e.warning(for: r.controlID) { entry.warning = .init(enforceFrom: w.enforceFrom) }
            if r.status == .fail { entry.blocks = e.blocks(r) }
            entries.append(entry)
        }
        results = entries
        frameworks = Self.frameworks(of: e)
    }

    /// Each framework's requirements with their verdicts, from the evaluation's results (the
    /// report's `frameworks`; the watch service's metrics read the same).
    public static func frameworks(of e: ControlEvaluation) -> [FrameworkSummary] {
        var countsByControl: [String: [ResultStatus: Int]] = [:]
        for r in e.results { countsByControl[r.controlID, default: [:]][r.status, default: 0] += 1 }
        return e.plan.frameworks.frameworks.map { framework in
            FrameworkSummary(
                framework: framework.id, name: framework.name, title: framework.title,
                requirements: framework.requirements.map { requirement in
                    var counts: [ResultStatus: Int] = [:]
                    for control in requirement.controls {
                        for (status, n) in countsByControl[control] ?? [:] { counts[status, default: 0] += n }
                    }
                    return RequirementSummary(
                        id: requirement.id, title: requirement.title, status: RequirementVerdict.of(counts, manual: requirement.isManual),
                        controls: requirement.controls, pass: counts[.pass] ?? 0, fail: counts[.fail] ?? 0, error: counts[.error] ?? 0,
                        notApplicable: counts[.notApplicable] ?? 0, excepted: counts[.excepted] ?? 0)
                })
        }
    }

    static func timestamp(_ d: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: d)
    }
}
