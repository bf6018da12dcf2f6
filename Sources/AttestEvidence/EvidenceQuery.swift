import AttestControls
public import AttestCore
public import Foundation

/// One evidence record, flattened for people and spreadsheets.
public struct EvidenceRow: Sendable, Equatable {
    public var time: String
    public var scanID: String
    public var framework: String
    public var requirement: String
    public var control: String
    public var status: String
    public var severity: String
    public var resource: String
    public var resourceType: String
    public var account: String
    public var region: String
    public var reason: String?

    public static let columns = [
        "time", "scan_id", "framework", "requirement", "control", "status", "severity",
        "resource", "resource_type", "account", "region", "reason",
    ]

    public var values: [String] {
        [time, scanID, framework, requirement, control, status, severity, resource, resourceType, account, region, reason ?? ""]
    }

    public var json: JSONValue {
        var o: [String: JSONValue] = [:]
        for (k, v) in zip(Self.columns, values) where k != "reason" { o[k] = .string(v) }
        o["reason"] = reason.map { .string($0) } ?? .null
        return .object(o)
    }

    init?(line: Data, framework: String, requirement: String) {
        guard let v = try? JSONValue.parse(line) else { return nil }
        let a = v["unmapped"]["attest"]
        time = v["time_dt"].stringValue ?? ""
        scanID = a["scan_id"].stringValue ?? ""
        self.framework = framework
        self.requirement = requirement
        control = a["control"].stringValue ?? ""
        status = a["result"].stringValue ?? ""
        severity = a["severity"].stringValue ?? ""
        resource = v["resources"].asList.first?["uid"].stringValue ?? ""
        resourceType = a["resource_type"].stringValue ?? ""
        account = v["cloud"]["account"]["uid"].stringValue ?? ""
        region = v["cloud"]["region"].stringValue ?? ""
        reason = a["reason"].stringValue
    }
}

/// Selects records from complete (signed) scans by framework, requirement, period and status.
public struct EvidenceQuery: Sendable {
    public var framework: String?
    /// Matched case-insensitively against the requirement id (`CC6.1`, `cc6.1`).
    public var requirement: String?
    public var from: Date?
    public var to: Date?
    /// attest statuses: pass, fail, error, not_applicable.
    public var statuses: Set<String>?

    public init(framework: String? = nil, requirement: String? = nil, from: Date? = nil, to: Date? = nil, statuses: Set<String>? = nil) {
        self.framework = framework
        self.requirement = requirement
        self.from = from
        self.to = to
        self.statuses = statuses
    }

    func includes(_ entry: ScanManifest.FileEntry) -> Bool {
        (framework.map { $0.lowercased() == entry.framework } ?? true)
            && (requirement.map { EvidenceLayout.slug($0) == EvidenceLayout.slug(entry.requirement) } ?? true)
    }

    public func run(on store: any EvidenceStore) async throws -> [EvidenceRow] {
        let manifests = try await EvidenceIndex.manifests(in: store, from: from, to: to).sorted { $0.startedAt < $1.startedAt }
        var work: [ScanManifest.FileEntry] = []
        for m in manifests {
            for entry in m.files where includes(entry) {
                if let statuses, !statuses.contains(where: { (entry.counts[$0] ?? 0) > 0 }) { continue }
                work.append(entry)
            }
        }
        let statuses = self.statuses
        let rows = try await concurrentMap(work, width: 8) { entry -> [EvidenceRow] in
            guard let data = try await store.read(entry.key) else {
                throw EvidenceStoreError("\(store.location)/\(entry.key) is listed in a manifest but missing; run attest evidence verify")
            }
            return data.split(separator: 0x0A).compactMap {
                EvidenceRow(line: Data($0), framework: entry.framework, requirement: entry.requirement)
            }
            .filter { statuses?.contains($0.status) ?? true }
        }
        return rows.flatMap { $0 }
    }
}

/// Per requirement over an audit period: how often it was evidenced, how often it passed,
/// when it failed, and how quickly failures were fixed. Read from the manifests alone.
public struct RequirementSummary: Sendable {
    public var framework: String
    public var requirement: String
    public var account: String
    public var scans = 0
    public var passing = 0
    public var failing = 0
    /// Scans in which something for the requirement could not be read or evaluated (and nothing failed).
    public var incomplete = 0
    public var firstFailure: Date?
    public var lastFailure: Date?
    /// The longest run of consecutive failing scans: how many, from the first to the last.
    public var longestFailingStretch: (scans: Int, from: Date, to: Date)?
    /// From the first failing scan of a stretch to the first passing scan after it, averaged.
    public var meanTimeToFix: TimeInterval?
    public var fixes = 0
    /// Failing in the last scan of the period.
    public var failingAtEnd = false

    public var passingShare: Double { scans == 0 ? 0 : Double(passing) / Double(scans) }

    /// Summaries for every requirement with evidence in the period, in framework and requirement order.
    public static func compute(_ manifests: [ScanManifest], framework: String?) -> [RequirementSummary] {
        var series: [String: (framework: String, requirement: String, account: String, points: [(Date, RequirementVerdict)])] = [:]
        var order: [String] = []
        for m in manifests.sorted(by: { $0.startDate < $1.startDate }) {
            let account = m.accounts.joined(separator: ",")
            for entry in m.files where framework.map({ $0.lowercased() == entry.framework }) ?? true {
                let id = "\(entry.framework)\u{0}\(entry.requirement)\u{0}\(account)"
                if series[id] == nil {
                    series[id] = (entry.framework, entry.requirement, account, [])
                    order.append(id)
                }
                // The scan report's rule, from the file's counts.
                series[id]!.points.append((m.startDate, RequirementVerdict.of(statusCounts: entry.counts)))
            }
        }
        return order.map { id in
            let s = series[id]!
            var summary = RequirementSummary(framework: s.framework, requirement: s.requirement, account: s.account)
            var stretchStart: Date?
            var stretchLength = 0
            var fixDurations: [TimeInterval] = []
            for (date, verdict) in s.points {
                switch verdict {
                case .noResources, .manual: continue
                case .incomplete:
                    summary.scans += 1
                    summary.incomplete += 1
                case .failing:
                    summary.scans += 1
                    summary.failing += 1
                    if summary.firstFailure == nil { summary.firstFailure = date }
                    summary.lastFailure = date
                    if stretchStart == nil {
                        stretchStart = date
                        stretchLength = 0
                    }
                    stretchLength += 1
                    if stretchLength > (summary.longestFailingStretch?.scans ?? 0) {
                        summary.longestFailingStretch = (stretchLength, stretchStart!, date)
                    }
                case .passing:
                    summary.scans += 1
                    summary.passing += 1
                    if let start = stretchStart {
                        fixDurations.append(date.timeIntervalSince(start))
                        stretchStart = nil
                        stretchLength = 0
                    }
                }
            }
            summary.failingAtEnd = stretchStart != nil
            summary.fixes = fixDurations.count
            if !fixDurations.isEmpty { summary.meanTimeToFix = fixDurations.reduce(0, +) / Double(fixDurations.count) }
            return summary
        }
    }
}
