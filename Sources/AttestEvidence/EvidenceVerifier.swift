import AttestCore
public import Foundation

/// Something verification found wrong, named precisely.
public struct VerificationFinding: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        case recordChanged = "record-changed"
        case recordInserted = "record-inserted"
        case recordDeleted = "record-deleted"
        case recordReordered = "record-reordered"
        case fileChanged = "file-changed"
        case fileDeleted = "file-deleted"
        case fileAdded = "file-added"
        case scanDeleted = "scan-deleted"
        case manifestChanged = "manifest-changed"
        case badSignature = "bad-signature"
        case differentKey = "different-key"
        case missingKey = "missing-key"
        /// A manifest names a path outside the store or not its own, or an object is a link or unreadable.
        case unsafeEntry = "unsafe-entry"
        /// A package holds something no signed manifest accounts for, or holds no evidence at all.
        case packageMember = "package-member"
        /// The store holds no signed scan, or what was asked for matched none.
        case noEvidence = "no-evidence"
    }

    public var kind: Kind
    /// The object concerned (a record file, a manifest), relative to the store.
    public var key: String?
    public var message: String

    public var description: String { "\(kind.rawValue): " + (key.map { "\($0): " } ?? "") + message }

    public init(kind: Kind, key: String?, message: String) {
        self.kind = kind
        self.key = key
        self.message = message
    }
}

/// What verification checked and found.
public struct VerificationReport: Sendable {
    public var findings: [VerificationFinding] = []
    /// Scans whose manifest and files were checked.
    public var scans: [ScanManifest] = []
    /// Scans that started writing evidence but never wrote a manifest (interrupted).
    public var incomplete: [(scanID: String, startedAt: String, files: Int)] = []
    public var files = 0
    public var records = 0
    public var keyID: String?
    /// The digest of the last manifest checked: note it down, and a later verify proves nothing
    /// before it was removed.
    public var head: (sequence: Int, digest: String)?
    /// Scans whose manifest is signed by the expected key and sits in the chain where it says.
    public var trustedScans: Set<String> = []
    /// Record files of trusted scans whose bytes are exactly what their manifest signed: the
    /// only files queries, summaries and packages read unless told to take unverified ones.
    public var verifiedFiles: Set<String> = []

    public var isIntact: Bool { findings.isEmpty }
}

/// Checks a store: every manifest's signature and key, the manifest chain, every file's digest,
/// record count and hash chain, and files no manifest accounts for.
public struct EvidenceVerifier: Sendable {
    public let store: any EvidenceStore
    /// The key the evidence must be signed with; by default the one stored beside the evidence.
    public var trustedKey: EvidencePublicKey?
    /// Only scans that started in `[from, to)`.
    public var from: Date?
    public var to: Date?
    /// Only record files of these frameworks (an audit package holds one framework's files).
    public var frameworks: Set<String>?
    /// In a package the first manifest's predecessor is not included.
    public var chainStartsAtFirstManifest = false
    /// Findings of one kind per file before the rest are summarised.
    public var detailLimit = 20
    /// False checks the manifests only (signatures, key, chain), not the record files: what a
    /// summary, which reads manifests alone, depends on.
    public var checksFiles = true

    public init(store: any EvidenceStore, trustedKey: EvidencePublicKey? = nil, from: Date? = nil, to: Date? = nil) {
        self.store = store
        self.trustedKey = trustedKey
        self.from = from
        self.to = to
    }

    public func verify() async throws -> VerificationReport {
        var report = VerificationReport()
        let keys = try await store.list(prefix: "")
        guard
            keys.contains(where: {
                $0.hasPrefix(EvidenceLayout.scansPrefix) || $0 == EvidenceLayout.publicKeyKey || $0.hasPrefix("framework=")
            })
        else {
            throw NotAnEvidenceStoreError(location: store.location)
        }

        // The key.
        var storedKey: EvidencePublicKey?
        var storedPEM: Data?
        do { storedPEM = try await store.read(EvidenceLayout.publicKeyKey) } catch {
            report.findings.append(.init(kind: .unsafeEntry, key: EvidenceLayout.publicKeyKey, message: "\(error)"))
        }
        if let pem = storedPEM {
            do { storedKey = try EvidencePublicKey(pem: String(decoding: pem, as: UTF8.self), source: EvidenceLayout.publicKeyKey) } catch {
                report.findings.append(.init(kind: .missingKey, key: EvidenceLayout.publicKeyKey, message: "\(error)"))
            }
        } else if trustedKey == nil, !report.findings.contains(where: { $0.key == EvidenceLayout.publicKeyKey }) {
            report.findings.append(
                .init(
                    kind: .missingKey, key: EvidenceLayout.publicKeyKey,
                    message: "no public key beside the evidence; pass the key to verify with --public-key"))
        }
        if let trustedKey, let storedKey, trustedKey != storedKey {
            report.findings.append(
                .init(
                    kind: .differentKey, key: EvidenceLayout.publicKeyKey,
                    message: "the stored public key is \(storedKey.id), not the key you trust (\(trustedKey.id))"))
        }
        let key = trustedKey ?? storedKey
        report.keyID = key?.id

        // Manifests and their chain.
        let manifestKeys = keys.compactMap { k in EvidenceLayout.parseManifestKey(k).map { (sequence: $0, key: k) } }.sorted {
            $0.sequence < $1.sequence
        }
        let stored = try await EvidenceIndex.load(manifestKeys, from: store)
        let bySequence = Dictionary(stored.map { ($0.sequence, $0) }, uniquingKeysWith: { a, _ in a })
        let inRange = stored.filter { s in
            guard let m = s.manifest else { return from == nil && to == nil }  // an unreadable one can't be dated
            return (from.map { m.startDate >= $0 } ?? true) && (to.map { m.startDate < $0 } ?? true)
        }
        if let first = inRange.first?.sequence, let last = inRange.last?.sequence {
            let lowest = (chainStartsAtFirstManifest || from != nil) ? first : 1
            var missing: [Int] = []
            for sequence in lowest...last where bySequence[sequence] == nil { missing.append(sequence) }
            for range in Self.ranges(missing) {
                report.findings.append(
                    .init(
                        kind: .scanDeleted, key: EvidenceLayout.scansPrefix,
                        message:
                            "manifest\(range.count > 1 ? "s" : "") \(Self.describe(range)) missing: the manifest chain has a gap (a whole scan was deleted)"
                    ))
            }
            report.head = inRange.last.map { ($0.sequence, $0.digest) }
        }
        var trustedSequences: Set<Int> = []
        if stored.isEmpty {
            report.findings.append(
                .init(
                    kind: .noEvidence, key: EvidenceLayout.scansPrefix,
                    message: "the store holds no signed scan: every manifest is gone (or none was ever written)"))
        }
        for s in inRange {
            guard let m = s.manifest else {
                report.findings.append(.init(kind: .manifestChanged, key: s.key, message: "unreadable: \(s.problem ?? "")"))
                continue
            }
            if m.sequence != s.sequence {
                report.findings.append(
                    .init(kind: .manifestChanged, key: s.key, message: "names sequence \(m.sequence) but is stored as \(s.sequence)"))
            }
            var trusted = key != nil && m.sequence == s.sequence
            if let key {
                if m.keyID != key.id {
                    trusted = false
                    report.findings.append(
                        .init(
                            kind: .differentKey, key: s.key,
                            message: "scan \(m.scanID) is signed with key \(m.keyID), not \(key.id)"))
                } else if !m.isSigned(by: key) {
                    trusted = false
                    report.findings.append(
                        .init(
                            kind: .badSignature, key: s.key,
                            message: "the signature of scan \(m.scanID) does not verify: the manifest was changed after signing"))
                }
            }
            if let previous = bySequence[m.sequence &- 1] {
                if m.previousSequence != previous.sequence || m.previousDigest != previous.digest {
                    report.findings.append(
                        .init(
                            kind: .manifestChanged, key: previous.key,
                            message: "does not match the digest manifest \(m.sequence) links to: it was replaced or changed"))
                }
            }
            if trusted {
                report.trustedScans.insert(m.scanID)
                trustedSequences.insert(m.sequence)
            }
            report.scans.append(m)
        }

        // Record files.
        var filesByScan: [String: [String]] = [:]
        for k in keys where k.hasPrefix("framework=") {
            guard let parsed = EvidenceLayout.parseRecordKey(k) else {
                report.findings.append(.init(kind: .fileAdded, key: k, message: "not an evidence file name; no manifest accounts for it"))
                continue
            }
            if let frameworks, !frameworks.contains(parsed.framework) { continue }
            filesByScan[parsed.scanID, default: []].append(k)
        }
        var checks: [(ScanManifest.FileEntry, String)] = []
        var checkTrusted: [Bool] = []
        for m in report.scans {
            let present = Set(filesByScan[m.scanID] ?? [])
            var listed: Set<String> = []
            for entry in m.files where frameworks?.contains(entry.framework) ?? true {
                // A manifest may only name its own record files: a path outside the store, or
                // another scan's file, or a key, is refused before anything is read.
                guard let parsed = EvidenceLayout.parseRecordKey(entry.key), EvidenceLayout.isSafeKey(entry.key),
                    parsed.scanID == m.scanID, parsed.framework == entry.framework
                else {
                    report.findings.append(
                        .init(
                            kind: .unsafeEntry, key: entry.key,
                            message: "scan \(m.scanID)'s manifest lists a path that is not one of its own record files; not read"))
                    continue
                }
                listed.insert(entry.key)
                if present.contains(entry.key) {
                    if checksFiles {
                        checks.append((entry, m.scanID))
                        checkTrusted.append(trustedSequences.contains(m.sequence))
                    }
                } else {
                    report.findings.append(
                        .init(
                            kind: .fileDeleted, key: entry.key,
                            message: "listed in scan \(m.scanID)'s manifest with \(entry.records) record(s), but missing"))
                }
            }
            for extra in present.subtracting(listed).sorted() {
                report.findings.append(
                    .init(kind: .fileAdded, key: extra, message: "carries scan \(m.scanID)'s id but is not in its signed manifest"))
            }
        }
        let limit = detailLimit
        let store = self.store
        let results = try await concurrentMap(checks, width: 4) { check -> ([VerificationFinding], Int) in
            let data: Data
            do {
                guard let read = try await store.read(check.0.key) else {
                    return ([.init(kind: .fileDeleted, key: check.0.key, message: "missing")], 0)
                }
                data = read
            } catch {
                return ([.init(kind: .unsafeEntry, key: check.0.key, message: "\(error)")], 0)
            }
            return (FileVerifier.check(data, entry: check.0, scanID: check.1, limit: limit), check.0.records)
        }
        // A file is verified when a trusted manifest's entry for it matched, and no entry for it failed.
        var failed: Set<String> = []
        for (index, (check, (findings, records))) in zip(checks, results).enumerated() {
            report.findings.append(contentsOf: findings)
            report.records &+= records
            if !findings.isEmpty || !checkTrusted[index] {
                if !findings.isEmpty { failed.insert(check.0.key) }
                continue
            }
            report.verifiedFiles.insert(check.0.key)
        }
        report.verifiedFiles.subtract(failed)
        report.files = checks.count

        // Files of scans with no manifest: interrupted scans (their marker is still there) or additions.
        let pending = Set(
            keys.filter { $0.hasPrefix(EvidenceLayout.pendingPrefix) }
                .map { String($0.dropFirst(EvidenceLayout.pendingPrefix.count).dropLast(".json".count)) })
        let allManifestScanIDs = Set(stored.compactMap(\.manifest?.scanID))
        for (scanID, files) in filesByScan.sorted(by: { $0.key < $1.key }) where !allManifestScanIDs.contains(scanID) {
            let dates = files.compactMap(EvidenceLayout.parseRecordKey).map(\.day0)
            let inWindow = dates.contains { d in (from.map { d >= $0.addingTimeInterval(-86_400) } ?? true) && (to.map { d < $0 } ?? true) }
            guard inWindow else { continue }
            if pending.contains(scanID) {
                var started = ""
                if let marker = try? await store.read(EvidenceLayout.pendingKey(scanID: scanID)),
                    let value = try? JSONValue.parse(marker)
                {
                    started = value["started_at"].stringValue ?? ""
                }
                report.incomplete.append((scanID, started, files.count))
            } else {
                for f in files.sorted() {
                    report.findings.append(
                        .init(
                            kind: .fileAdded, key: f,
                            message:
                                "scan \(scanID) has no manifest and no in-progress marker: the file was added, or its scan's manifest deleted"
                        ))
                }
            }
        }
        for scanID in pending.subtracting(filesByScan.keys).subtracting(allManifestScanIDs).sorted() where frameworks == nil {
            if let marker = try? await store.read(EvidenceLayout.pendingKey(scanID: scanID)), let value = try? JSONValue.parse(marker) {
                report.incomplete.append((scanID, value["started_at"].stringValue ?? "", 0))
            }
        }
        return report
    }

    static func ranges(_ numbers: [Int]) -> [ClosedRange<Int>] {
        var out: [ClosedRange<Int>] = []
        for n in numbers {
            if let last = out.last, last.upperBound + 1 == n { out[out.count - 1] = last.lowerBound...n } else { out.append(n...n) }
        }
        return out
    }

    static func describe(_ r: ClosedRange<Int>) -> String { r.count == 1 ? "\(r.lowerBound)" : "\(r.lowerBound)–\(r.upperBound)" }
}

/// Checks one record file against its manifest entry and, when it differs, finds out how.
enum FileVerifier {
    struct Line {
        var number: Int
        var bytes: Data
        var sequence: Int?
        var previous: String?
        var scanID: String?
    }

    static func check(_ data: Data, entry: ScanManifest.FileEntry, scanID: String, limit: Int) -> [VerificationFinding] {
        if Digest.sha256(data) == entry.sha256 { return [] }
        var findings: [VerificationFinding] = []
        func add(_ kind: VerificationFinding.Kind, _ message: String) {
            if findings.filter({ $0.kind == kind }).count < limit {
                findings.append(.init(kind: kind, key: entry.key, message: message))
            }
        }
        var lines: [Line] = []
        var number = 0
        for raw in data.split(separator: 0x0A, omittingEmptySubsequences: false) {
            number += 1
            if raw.isEmpty { continue }
            let bytes = Data(raw)
            let value = try? JSONValue.parse(bytes)
            let chain = value?["unmapped"]["attest"]["chain"]
            var sequence: Int?
            if case .int(let i)? = chain?["sequence"] { sequence = Int(i) }
            lines.append(
                Line(
                    number: number, bytes: bytes, sequence: sequence, previous: chain?["previous"].stringValue,
                    scanID: value?["unmapped"]["attest"]["scan_id"].stringValue))
        }
        // Records without a place in the chain, and repeated places.
        var lineOf: [Int: Line] = [:]
        var ordered: [Line] = []
        for line in lines {
            guard let s = line.sequence else {
                add(.recordInserted, "line \(line.number) is not a chained attest record: inserted or overwritten")
                continue
            }
            if let first = lineOf[s] {
                add(.recordInserted, "line \(line.number) repeats record \(s) (first at line \(first.number)): inserted")
                continue
            }
            if s >= entry.records {
                add(
                    .recordInserted,
                    "line \(line.number) holds record \(s), beyond the \(entry.records) record(s) the manifest signed: inserted")
                continue
            }
            if line.scanID != scanID {
                add(.recordChanged, "line \(line.number) (record \(s)) names scan \(line.scanID ?? "none"), not \(scanID)")
            }
            lineOf[s] = line
            ordered.append(line)
        }
        // Missing records, as ranges, from the present ones alone (the count is the signed one,
        // but may be large: nothing loops over it).
        var missingRanges: [ClosedRange<Int>] = []
        var expected = 0
        for s in lineOf.keys.sorted() {
            if s > expected { missingRanges.append(expected...(s - 1)) }
            expected = s + 1
        }
        if expected < entry.records { missingRanges.append(expected...(entry.records - 1)) }
        for range in missingRanges {
            add(
                .recordDeleted,
                "record\(range.count > 1 ? "s" : "") \(EvidenceVerifier.describe(range)) of \(entry.records) missing: deleted")
        }
        // Order: each kept record must come after the one before it.
        var outOfOrder: [(Line, Line)] = []
        for (a, b) in zip(ordered, ordered.dropFirst()) where a.sequence! > b.sequence! { outOfOrder.append((a, b)) }
        for (a, b) in outOfOrder {
            add(
                .recordReordered,
                "line \(a.number) holds record \(a.sequence!) before line \(b.number) with record \(b.sequence!): reordered")
        }
        // Content: each record must chain to the exact bytes of the one before it.
        for s in lineOf.keys.sorted() {
            guard let line = lineOf[s] else { continue }
            if s == 0 {
                if line.previous != RecordChain.genesis(key: entry.key) {
                    add(
                        .recordChanged,
                        "line \(line.number) (record 0) does not start this file's chain: changed, or moved from another file")
                }
            } else if let before = lineOf[s - 1], line.previous != RecordChain.hash(before.bytes) {
                if line.previous == nil {
                    add(.recordChanged, "line \(line.number) (record \(s)) lost its chain link: changed")
                } else {
                    add(.recordChanged, "line \(before.number) (record \(s - 1)) was changed: record \(s) chains to different content")
                }
            }
        }
        if entry.records > 0, let last = lineOf[entry.records - 1], RecordChain.hash(last.bytes) != entry.chainHead {
            add(
                .recordChanged,
                "line \(last.number) (record \(entry.records - 1), the last) was changed: it does not match the signed chain head")
        }
        if findings.isEmpty {
            add(.fileChanged, "content differs from the SHA-256 in the signed manifest")
        }
        return findings
    }
}

/// A folder that holds no manifest, no key and no record file.
public struct NotAnEvidenceStoreError: Error, CustomStringConvertible, Sendable {
    public var location: String
    public var description: String { "\(location) is not an evidence store (no manifests, no key, no record files)" }
}
