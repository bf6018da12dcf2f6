import AttestControls
public import AttestCore
import AttestInventory
public import AttestScan
public import Foundation

/// Records each finished scan in the history, then prunes scans past the retention. The
/// database is opened (and created) when the first scan finishes, so a scan that cannot start
/// leaves nothing behind.
public struct HistorySink: ScanSink {
    public let path: String
    /// Scans older than this many days are removed after each scan (nil keeps everything).
    public var retentionDays: Int?
    /// Told once, when the database is created.
    public var onCreate: (@Sendable (String) -> Void)?

    public init(path: String, retentionDays: Int? = nil) {
        self.path = path
        self.retentionDays = retentionDays
    }

    public func scanDidFinish(_ outcome: ScanOutcome) async throws {
        let existed = FileManager.default.fileExists(atPath: path)
        let store = try HistoryStore(path: path)
        if !existed { onCreate?(path) }
        try store.record(Self.snapshot(outcome))
        if let retentionDays { try store.prune(before: outcome.startedAt.addingTimeInterval(-Double(retentionDays) * 86_400)) }
    }

    public static func snapshot(_ outcome: ScanOutcome) -> HistorySnapshot {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let resources = outcome.graph.sortedResources.map { r in
            HistorySnapshot.ResourceVersion(
                id: r.id, type: r.type,
                document: [
                    "type": .string(r.type), "account": .string(r.account), "region": .string(r.region), "name": .string(r.name),
                    "tags": .object(r.tags.mapValues { .string($0) }), "attributes": .object(r.attributes),
                ])
        }
        let results = (outcome.evaluation?.results).map { results in
            results.map {
                HistorySnapshot.ResultEntry(
                    control: $0.controlID, subject: $0.subject, account: $0.account, region: $0.region, status: $0.status.rawValue,
                    severity: $0.severity.rawValue)
            }
        }
        return HistorySnapshot(
            id: outcome.id, startedAt: f.string(from: outcome.startedAt), finishedAt: f.string(from: outcome.finishedAt),
            provider: outcome.providers.joined(separator: ","), accounts: outcome.accounts, complete: outcome.isComplete,
            errors: outcome.errors.count, resources: resources, results: results ?? [])
    }
}
