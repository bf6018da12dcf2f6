public import AttestCore
import Crypto
public import Foundation
import GRDB

/// Scan history in one SQLite database: every scan, each resource's attributes stored once per
/// change (a scan keeps only each resource's id and the digest of its version), and every
/// result's status. What `attest history` lists and `attest diff` compares.
public final class HistoryStore: Sendable {
    let queue: DatabaseQueue
    public let path: String

    /// Opens (creating when absent) the database at `path`, migrating it to the current schema.
    public init(path: String) throws {
        self.path = path
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        do {
            queue = try DatabaseQueue(path: path, configuration: configuration)
            try Self.migrator.migrate(queue)
        } catch let error as DatabaseError {
            throw HistoryError("cannot open the scan history \(path): \(error.message ?? error.description)")
        }
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE scan (
                      id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, started_at TEXT NOT NULL, finished_at TEXT NOT NULL,
                      scope TEXT NOT NULL, provider TEXT NOT NULL, accounts TEXT NOT NULL, complete INTEGER NOT NULL,
                      resources INTEGER NOT NULL, results INTEGER NOT NULL, failures INTEGER NOT NULL, errors INTEGER NOT NULL);
                    CREATE TABLE resource_version (
                      digest TEXT PRIMARY KEY, resource_id TEXT NOT NULL, type TEXT NOT NULL, document TEXT NOT NULL);
                    CREATE TABLE scan_resource (
                      scan_id TEXT NOT NULL REFERENCES scan(id) ON DELETE CASCADE, resource_id TEXT NOT NULL, digest TEXT NOT NULL,
                      PRIMARY KEY (scan_id, resource_id)) WITHOUT ROWID;
                    CREATE TABLE result (
                      scan_id TEXT NOT NULL REFERENCES scan(id) ON DELETE CASCADE, control TEXT NOT NULL, subject TEXT NOT NULL,
                      account TEXT NOT NULL, region TEXT NOT NULL, status TEXT NOT NULL, severity TEXT NOT NULL,
                      PRIMARY KEY (scan_id, control, account, region, subject)) WITHOUT ROWID;
                    CREATE INDEX scan_scope ON scan(scope, seq);
                    """)
        }
        return m
    }

    /// Records a scan. Resource versions already stored (unchanged since an earlier scan) are not stored again.
    public func record(_ s: HistorySnapshot) throws {
        try write { db in
            let seq = (try Int.fetchOne(db, sql: "SELECT MAX(seq) FROM scan") ?? 0) + 1
            try db.execute(
                sql: """
                    INSERT INTO scan (id, seq, started_at, finished_at, scope, provider, accounts, complete, resources, results, failures, errors)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    s.id, seq, s.startedAt, s.finishedAt, s.scope, s.provider, s.accounts.joined(separator: ","), s.complete,
                    s.resources.count, s.results.count, s.results.filter { $0.status == "fail" }.count, s.errors,
                ])
            let version = try db.makeStatement(
                sql: "INSERT OR IGNORE INTO resource_version (digest, resource_id, type, document) VALUES (?, ?, ?, ?)")
            let member = try db.makeStatement(sql: "INSERT INTO scan_resource (scan_id, resource_id, digest) VALUES (?, ?, ?)")
            for r in s.resources {
                try version.execute(arguments: [r.digest, r.id, r.type, r.document])
                try member.execute(arguments: [s.id, r.id, r.digest])
            }
            let result = try db.makeStatement(
                sql:
                    "INSERT OR REPLACE INTO result (scan_id, control, subject, account, region, status, severity) VALUES (?, ?, ?, ?, ?, ?, ?)"
            )
            for r in s.results {
                try result.execute(arguments: [s.id, r.control, r.subject, r.account, r.region, r.status, r.severity])
            }
        }
    }

    /// Removes scans that started before `cutoff`, and resource versions no scan keeps.
    @discardableResult
    public func prune(before cutoff: Date) throws -> Int {
        let stamp = ISO8601DateFormatter().string(from: cutoff)
        return try write { db in
            try db.execute(sql: "DELETE FROM result WHERE scan_id IN (SELECT id FROM scan WHERE started_at < ?)", arguments: [stamp])
            try db.execute(sql: "DELETE FROM scan_resource WHERE scan_id IN (SELECT id FROM scan WHERE started_at < ?)", arguments: [stamp])
            try db.execute(sql: "DELETE FROM scan WHERE started_at < ?", arguments: [stamp])
            let removed = db.changesCount
            try db.execute(sql: "DELETE FROM resource_version WHERE digest NOT IN (SELECT digest FROM scan_resource)")
            return removed
        }
    }

    /// Scans, newest first.
    public func scans(limit: Int = 50) throws -> [HistoryScan] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM scan ORDER BY seq DESC LIMIT ?", arguments: [limit]).map(HistoryScan.init)
        }
    }

    /// The scan whose id is `id` or starts with it (unique), or nil.
    public func scan(_ id: String) throws -> HistoryScan? {
        try read { db in
            let rows = try Row.fetchAll(
                db, sql: "SELECT * FROM scan WHERE id = ? OR id LIKE ? ESCAPE '\\' ORDER BY seq LIMIT 2",
                arguments: [
                    id,
                    id.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
                        .replacingOccurrences(of: "_", with: "\\_") + "%",
                ])
            if let exact = rows.first(where: { $0["id"] == id }) { return HistoryScan(exact) }
            return rows.count == 1 ? HistoryScan(rows[0]) : nil
        }
    }

    /// The newest scan and the one before it of the same scope (provider and accounts).
    public func lastTwo() throws -> (HistoryScan, HistoryScan)? {
        try read { db in
            guard let last = try Row.fetchOne(db, sql: "SELECT * FROM scan ORDER BY seq DESC LIMIT 1").map(HistoryScan.init) else {
                return nil
            }
            guard
                let before = try Row.fetchOne(
                    db, sql: "SELECT * FROM scan WHERE scope = ? AND seq < ? ORDER BY seq DESC LIMIT 1", arguments: [last.scope, last.seq]
                ).map(HistoryScan.init)
            else { return nil }
            return (before, last)
        }
    }

    typealias ResultTuple = (status: String, severity: String, control: String, subject: String, account: String, region: String)

    /// One side of a diff: its results by key, its resources (id → version digest), and how to
    /// read a version's document.
    struct Side {
        var results: [String: ResultTuple]
        var members: [String: String]
        var document: (String) throws -> (String, JSONValue)
    }

    static func key(_ control: String, _ account: String, _ region: String, _ subject: String) -> String {
        "\(control)\u{0}\(account)\u{0}\(region)\u{0}\(subject)"
    }

    func side(_ db: Database, scan id: String) throws -> Side {
        var results: [String: ResultTuple] = [:]
        for row in try Row.fetchAll(
            db, sql: "SELECT control, subject, account, region, status, severity FROM result WHERE scan_id = ?", arguments: [id])
        {
            let t: ResultTuple = (row["status"], row["severity"], row["control"], row["subject"], row["account"], row["region"])
            results[Self.key(t.control, t.account, t.region, t.subject)] = t
        }
        var members: [String: String] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT resource_id, digest FROM scan_resource WHERE scan_id = ?", arguments: [id]) {
            members[row["resource_id"]] = row["digest"]
        }
        return Side(results: results, members: members) { digest in
            let row = try Row.fetchOne(db, sql: "SELECT type, document FROM resource_version WHERE digest = ?", arguments: [digest])
            let text: String = row?["document"] ?? "{}"
            return (row?["type"] ?? "", (try? JSONValue.parse(text)) ?? .null)
        }
    }

    static func side(_ snapshot: HistorySnapshot) -> Side {
        var results: [String: ResultTuple] = [:]
        for r in snapshot.results {
            results[key(r.control, r.account, r.region, r.subject)] = (r.status, r.severity, r.control, r.subject, r.account, r.region)
        }
        var members: [String: String] = [:]
        var documents: [String: (String, String)] = [:]
        for r in snapshot.resources {
            members[r.id] = r.digest
            documents[r.digest] = (r.type, r.document)
        }
        return Side(results: results, members: members) { digest in
            let (type, text) = documents[digest] ?? ("", "{}")
            return (type, (try? JSONValue.parse(text)) ?? .null)
        }
    }

    /// What changed from scan `a` to scan `b`.
    public func diff(_ a: HistoryScan, _ b: HistoryScan) throws -> ScanDiff {
        try read { db in try Self.diff(from: a, to: b, try side(db, scan: a.id), try side(db, scan: b.id)) }
    }

    /// The newest recorded scan of the snapshot's scope, and what changed from it to the
    /// snapshot (a scan not recorded yet: the report shows its drift before history records it).
    public func drift(to snapshot: HistorySnapshot) throws -> ScanDiff? {
        try read { db in
            guard
                let previous = try Row.fetchOne(
                    db, sql: "SELECT * FROM scan WHERE scope = ? AND id != ? ORDER BY seq DESC LIMIT 1",
                    arguments: [snapshot.scope, snapshot.id]
                ).map(HistoryScan.init)
            else { return nil }
            return try Self.diff(from: previous, to: HistoryScan(snapshot), try side(db, scan: previous.id), Self.side(snapshot))
        }
    }

    static func diff(from a: HistoryScan, to b: HistoryScan, _ x: Side, _ y: Side) throws -> ScanDiff {
        var d = ScanDiff(from: a, to: b)
        let before = x.results
        let after = y.results
        for key in after.keys.sorted() {
            let now = after[key]!
            let change = ScanDiff.ResultChange(
                control: now.control, subject: now.subject, account: now.account, region: now.region, severity: now.severity,
                before: before[key]?.status, after: now.status)
            switch (before[key]?.status, now.status) {
            case (nil, "fail"): d.newFailures.append(change)
            case ("fail", "fail"): d.stillFailing += 1
            case (.some(let was), "fail") where was != "fail": d.regressed.append(change)
            case ("fail", "pass"), ("fail", "not_applicable"): d.fixed.append(change)
            case ("fail", "excepted"): d.newlyExcepted.append(change)
            default: break
            }
        }
        let was = x.members
        let now = y.members
        for key in before.keys.sorted() where after[key] == nil && before[key]!.status == "fail" {
            let old = before[key]!
            let change = ScanDiff.ResultChange(
                control: old.control, subject: old.subject, account: old.account, region: old.region, severity: old.severity,
                before: "fail", after: nil)
            // Its resource is gone, or the control did not run this time (another selection, a service not scanned).
            if was[old.subject] != nil && now[old.subject] == nil { d.goneFailures.append(change) } else { d.notEvaluated.append(change) }
        }
        for id in now.keys.sorted() where was[id] == nil {
            d.newResources.append(ScanDiff.ResourceRef(id: id, type: try y.document(now[id]!).0))
        }
        for id in was.keys.sorted() where now[id] == nil {
            d.removedResources.append(ScanDiff.ResourceRef(id: id, type: try x.document(was[id]!).0))
        }
        for id in now.keys.sorted() {
            guard let old = was[id], old != now[id]! else { continue }
            let (type, previous) = try x.document(old)
            let (_, current) = try y.document(now[id]!)
            var changes: [ScanDiff.AttributeChange] = []
            Self.compare(previous, current, path: "", into: &changes)
            if !changes.isEmpty { d.changedResources.append(ScanDiff.ResourceChange(id: id, type: type, changes: changes)) }
        }
        return d
    }

    /// Every leaf that differs between two documents, by dotted path (lists compared whole).
    static func compare(_ a: JSONValue, _ b: JSONValue, path: String, into out: inout [ScanDiff.AttributeChange]) {
        if case .object(let x) = a, case .object(let y) = b {
            for key in Set(x.keys).union(y.keys).sorted() {
                compare(x[key] ?? .null, y[key] ?? .null, path: path.isEmpty ? key : path + "." + key, into: &out)
            }
            return
        }
        if a.serialized() != b.serialized() { out.append(ScanDiff.AttributeChange(path: path, before: a, after: b)) }
    }

    func write<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try queue.write(body) } catch let error as DatabaseError {
            throw HistoryError("cannot write the scan history \(path): \(error.message ?? error.description)")
        }
    }

    func read<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try queue.read(body) } catch let error as DatabaseError {
            throw HistoryError("cannot read the scan history \(path): \(error.message ?? error.description)")
        }
    }
}

public struct HistoryError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// One scan as history keeps it.
public struct HistorySnapshot: Sendable {
    public struct ResourceVersion: Sendable {
        public var id: String
        public var type: String
        /// Canonical JSON of what the resource is (name, tags, attributes), and its SHA-256.
        public var document: String
        public var digest: String

        public init(id: String, type: String, document: JSONValue) {
            self.id = id
            self.type = type
            self.document = document.serialized()
            digest = SHA256.hash(data: Data((id + "\u{0}" + self.document).utf8)).map { String(format: "%02x", $0) }.joined()
        }
    }

    public struct ResultEntry: Sendable {
        public var control, subject, account, region, status, severity: String
        public init(control: String, subject: String, account: String, region: String, status: String, severity: String) {
            (self.control, self.subject, self.account, self.region, self.status, self.severity) = (
                control, subject, account, region, status, severity
            )
        }
    }

    public var id: String
    public var startedAt: String
    public var finishedAt: String
    public var provider: String
    public var accounts: [String]
    public var complete: Bool
    public var errors: Int
    public var resources: [ResourceVersion]
    public var results: [ResultEntry]
    /// Scans of the same scope are compared by `attest diff`: the provider and the accounts.
    public var scope: String { provider + ":" + accounts.joined(separator: ",") }

    public init(
        id: String, startedAt: String, finishedAt: String, provider: String, accounts: [String], complete: Bool, errors: Int,
        resources: [ResourceVersion], results: [ResultEntry]
    ) {
        self.id = id
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.provider = provider
        self.accounts = accounts
        self.complete = complete
        self.errors = errors
        self.resources = resources
        self.results = results
    }
}

/// A scan in the history.
public struct HistoryScan: Sendable, Equatable {
    public var id: String
    public var seq: Int
    public var startedAt: String
    public var finishedAt: String
    public var scope: String
    public var provider: String
    public var accounts: String
    public var complete: Bool
    public var resources: Int
    public var results: Int
    public var failures: Int
    public var errors: Int

    init(_ s: HistorySnapshot) {
        id = s.id
        seq = 0
        startedAt = s.startedAt
        finishedAt = s.finishedAt
        scope = s.scope
        provider = s.provider
        accounts = s.accounts.joined(separator: ",")
        complete = s.complete
        resources = s.resources.count
        results = s.results.count
        failures = s.results.filter { $0.status == "fail" }.count
        errors = s.errors
    }

    init(_ row: Row) {
        id = row["id"]
        seq = row["seq"]
        startedAt = row["started_at"]
        finishedAt = row["finished_at"]
        scope = row["scope"]
        provider = row["provider"]
        accounts = row["accounts"]
        complete = row["complete"]
        resources = row["resources"]
        results = row["results"]
        failures = row["failures"]
        errors = row["errors"]
    }

    public var json: JSONValue {
        [
            "id": .string(id), "sequence": .int(Int64(seq)), "started_at": .string(startedAt), "finished_at": .string(finishedAt),
            "provider": .string(provider), "accounts": .array(accounts.split(separator: ",").map { .string(String($0)) }),
            "complete": .bool(complete), "resources": .int(Int64(resources)), "results": .int(Int64(results)),
            "failures": .int(Int64(failures)), "errors": .int(Int64(errors)),
        ]
    }
}

/// What changed between two scans: results that started or stopped failing, resources that
/// appeared, disappeared or changed (drift), attribute by attribute.
public struct ScanDiff: Sendable {
    public struct ResultChange: Sendable {
        public var control, subject, account, region, severity: String
        public var before: String?
        public var after: String?
        var json: JSONValue {
            [
                "control": .string(control), "resource": .string(subject), "account": .string(account), "region": .string(region),
                "severity": .string(severity), "before": before.map { .string($0) } ?? .null, "after": after.map { .string($0) } ?? .null,
            ]
        }
    }

    public struct ResourceRef: Sendable {
        public var id: String
        public var type: String
    }

    public struct AttributeChange: Sendable {
        public var path: String
        public var before: JSONValue
        public var after: JSONValue
    }

    public struct ResourceChange: Sendable {
        public var id: String
        public var type: String
        public var changes: [AttributeChange]
    }

    public var from: HistoryScan
    public var to: HistoryScan
    /// Failing now, on a result the earlier scan did not have (a new resource, a new control).
    public var newFailures: [ResultChange] = []
    /// Failing now, passing (or not applicable, or excepted) before.
    public var regressed: [ResultChange] = []
    /// Failing before, passing or not applicable now.
    public var fixed: [ResultChange] = []
    /// Failing before, covered by an exception now (accepted, not fixed).
    public var newlyExcepted: [ResultChange] = []
    /// Failing before, and its resource is gone now.
    public var goneFailures: [ResultChange] = []
    /// Failing before, and not evaluated now although its resource may still be there (the
    /// control did not run: another selection of controls, a service not scanned).
    public var notEvaluated: [ResultChange] = []
    public var stillFailing = 0
    public var newResources: [ResourceRef] = []
    public var removedResources: [ResourceRef] = []
    public var changedResources: [ResourceChange] = []

    public var json: JSONValue {
        [
            "from": from.json, "to": to.json,
            "new_failures": .array(newFailures.map(\.json)), "regressed": .array(regressed.map(\.json)),
            "fixed": .array(fixed.map(\.json)), "failures_gone_with_their_resource": .array(goneFailures.map(\.json)),
            "failures_not_evaluated": .array(notEvaluated.map(\.json)), "newly_excepted": .array(newlyExcepted.map(\.json)),
            "still_failing": .int(Int64(stillFailing)),
            "new_resources": .array(newResources.map { ["id": .string($0.id), "type": .string($0.type)] }),
            "removed_resources": .array(removedResources.map { ["id": .string($0.id), "type": .string($0.type)] }),
            "changed_resources": .array(
                changedResources.map { r in
                    [
                        "id": .string(r.id), "type": .string(r.type),
                        "changes": .array(r.changes.map { ["path": .string($0.path), "before": $0.before, "after": $0.after] }),
                    ]
                }),
        ]
    }
}
