public import AttestCollect
public import AttestControls
public import AttestCore
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

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case scan, resources, edges, errors, controls, results, frameworks
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

        enum CodingKeys: String, CodingKey {
            case resources, edges, errors, calls, retries
            case durationSeconds = "duration_seconds"
        }
    }

    public struct ControlsSummary: Codable, Sendable {
        public var evaluated: Int
        public var results: Int
        public var byStatus: [String: Int]
        /// The `--fail-on` severity, or `never`.
        public var failOn: String
        /// Controls not evaluated because a service they need was not scanned, with the reason.
        public var notEvaluated: [NotEvaluatedControl]

        enum CodingKeys: String, CodingKey {
            case evaluated, results
            case byStatus = "by_status"
            case failOn = "fail_on"
            case notEvaluated = "not_evaluated"
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

        enum CodingKeys: String, CodingKey {
            case control, title, resource, account, region, status, severity, observed, requirements, reason, parent
            case resourceType = "resource_type"
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

        enum CodingKeys: String, CodingKey {
            case id, title, status, controls, pass, fail, error
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
                durationSeconds: (outcome.finishedAt.timeIntervalSince(outcome.startedAt) * 1000).rounded() / 1000))
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
        controls = ControlsSummary(
            evaluated: e.plan.controls.count - e.notEvaluated.count, results: e.results.count, byStatus: byStatus,
            failOn: e.plan.failThreshold?.rawValue ?? "never",
            notEvaluated: e.notEvaluated.map { NotEvaluatedControl(control: $0.control, reason: $0.reason) })

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
            entries.append(
                Result(
                    control: r.controlID, title: control?.title ?? "", resource: r.resourceID.isEmpty ? nil : r.resourceID,
                    resourceType: r.resourceType, account: r.account, region: r.region, status: r.status, severity: r.severity,
                    observed: observed, requirements: requirements, reason: r.reason.map { SecretScrubber.shared.scrub($0) },
                    parent: r.parentID))
        }
        results = entries
        var countsByControl: [String: [ResultStatus: Int]] = [:]
        for r in e.results { countsByControl[r.controlID, default: [:]][r.status, default: 0] += 1 }
        frameworks = e.plan.frameworks.frameworks.map { framework in
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
                        notApplicable: counts[.notApplicable] ?? 0)
                })
        }
    }

    static func timestamp(_ d: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: d)
    }
}
