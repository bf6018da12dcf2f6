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
    /// False when the record's file did not verify (read only with `--allow-unverified`).
    public var verified = true

    public static let columns = [
        "time", "scan_id", "framework", "requirement", "control", "status", "severity",
        "resource", "resource_type", "account", "region", "reason", "verified",
    ]

    public var values: [String] {
        [
            time, scanID, framework, requirement, control, status, severity, resource, resourceType, account, region, reason ?? "",
            verified ? "true" : "false",
        ]
    }

    public var json: JSONValue {
        var o: [String: JSONValue] = [:]
        for (k, v) in zip(Self.columns, values) where k != "reason" && k != "verified" { o[k] = .string(v) }
        o["reason"] = reason.map { .string($0) } ?? .null
        o["verified"] = .bool(verified)
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

    /// The records of the query, from files that verify: the store is checked first (for the
    /// query's frameworks and period), and anything that does not verify makes the query fail
    /// with ``EvidenceNotVerifiedError``, unless `allowUnverified`, when rows from files that did
    /// not verify come back marked `verified: false`.
    public func run(
        on store: any EvidenceStore, trustedKey: EvidencePublicKey? = nil,
        allowUnverified: Bool = false
    ) async throws -> (rows: [EvidenceRow], report: VerificationReport) {
        var verifier = EvidenceVerifier(store: store, trustedKey: trustedKey, from: from, to: to)
        verifier.frameworks = framework.map { [$0.lowercased()] }
        let report = try await verifier.verify()
        if !report.isIntact && !allowUnverified { throw EvidenceNotVerifiedError(report: report, location: store.location) }
        var work: [(entry: ScanManifest.FileEntry, verified: Bool)] = []
        for m in report.scans.sorted(by: { $0.startDate < $1.startDate }) {
            for entry in m.files where includes(entry) {
                if let statuses, !statuses.contains(where: { (entry.counts[$0] ?? 0) > 0 }) { continue }
                let verified = report.verifiedFiles.contains(entry.key)
                if verified || allowUnverified, EvidenceLayout.isSafeKey(entry.key) { work.append((entry, verified)) }
            }
        }
        let statuses = self.statuses
        let rows = try await concurrentMap(work, width: 8) { item -> [EvidenceRow] in
            let data: Data?
            do { data = try await store.read(item.entry.key) } catch { data = nil }
            guard let data else { return [] }  // reported by the verification above
            return data.split(separator: 0x0A).compactMap { line -> EvidenceRow? in
                guard var row = EvidenceRow(line: Data(line), framework: item.entry.framework, requirement: item.entry.requirement) else {
                    return nil
                }
                row.verified = item.verified
                return row
            }.filter { statuses?.contains($0.status) ?? true }
        }
        return (rows.flatMap { $0 }, report)
    }
}

/// What a reading command refuses to use: evidence that does not verify.
public struct EvidenceNotVerifiedError: Error, CustomStringConvertible, Sendable {
    public var report: VerificationReport
    public var location: String

    public var description: String {
        let shown = report.findings.prefix(5).map { "\($0)" }.joined(separator: "; ")
        let more = report.findings.count > 5 ? " (and \(report.findings.count - 5) more)" : ""
        return "the evidence at \(location) does not verify: \(report.findings.count) finding(s): \(shown)\(more); "
            + "run attest evidence verify for all, or pass --allow-unverified to read it anyway (the output is marked)"
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
    /// Scans in which it passed only because failures were excepted (counted in ``passing`` too).
    public var excepted = 0
    /// Failing in the last scan of the period.
    public var failingAtEnd = false

    public var passingShare: Double { scans == 0 ? 0 : Double(passing) / Double(scans) }

    /// The manifests a summary may use: the store's manifests are checked (signatures, key,
    /// chain; the summary reads manifests alone, so not the record files), and any finding makes
    /// it fail with ``EvidenceNotVerifiedError`` unless `allowUnverified`, when every readable
    /// manifest is used and the report says what did not verify.
    public static func manifests(
        in store: any EvidenceStore, from: Date?, to: Date?, trustedKey: EvidencePublicKey? = nil,
        allowUnverified: Bool = false
    ) async throws -> (manifests: [ScanManifest], report: VerificationReport) {
        var verifier = EvidenceVerifier(store: store, trustedKey: trustedKey, from: from, to: to)
        verifier.checksFiles = false
        let report = try await verifier.verify()
        if !report.isIntact && !allowUnverified { throw EvidenceNotVerifiedError(report: report, location: store.location) }
        return (allowUnverified ? report.scans : report.scans.filter { report.trustedScans.contains($0.scanID) }, report)
    }

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
                case .passing, .excepted:
                    summary.scans += 1
                    summary.passing += 1
                    if verdict == .excepted { summary.excepted += 1 }
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
