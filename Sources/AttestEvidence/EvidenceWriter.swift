public import AttestControls
import AttestCore
public import AttestInventory
import Crypto
public import Foundation

/// Writes one scan's evidence: a marker that the scan is in progress, one JSON Lines file per
/// framework requirement (records hash-chained within the file), then the signed manifest that
/// links to the previous one, then removes the marker. Files are atomic and the manifest comes
/// last, so an interrupted scan leaves earlier evidence untouched and shows as incomplete.
public struct EvidenceWriter: Sendable {
    public let store: any EvidenceStore
    public let key: EvidenceSigningKey
    /// Results converted at once (their record parts are shared by every requirement).
    public var chunkSize = 4096
    public var concurrency = max(1, ProcessInfo.processInfo.activeProcessorCount)

    public init(store: any EvidenceStore, key: EvidenceSigningKey) {
        self.store = store
        self.key = key
    }

    /// What a finished write produced.
    public struct Written: Sendable {
        public var manifestKey: String
        public var manifest: ScanManifest
        /// SHA-256 of the stored manifest: the chain head `verify` prints after this scan.
        public var manifestDigest: String = ""
    }

    /// Marks the scan as in progress (before anything is collected) and checks the store's key,
    /// so a scan that dies at any point shows as incomplete and a wrong key costs no API calls.
    public func begin(scanID: String, startedAt: Date, toolVersion: String) async throws {
        try await ensurePublicKey()
        let pending: JSONValue = [
            "scan_id": .string(scanID), "started_at": .string(EvidenceTime.string(startedAt)),
            "tool": ["name": "attest", "version": .string(toolVersion)],
        ]
        try await store.write(Data(pending.serialized().utf8), to: EvidenceLayout.pendingKey(scanID: scanID), ifAbsent: true, retain: false)
    }

    public func write(
        scan: EvidenceScan, results: ControlResults, controls: [String: Control], frameworks: FrameworkSet,
        graph: InventoryGraph
    ) async throws -> Written {
        try await begin(scanID: scan.scanID, startedAt: scan.startedAt, toolVersion: scan.toolVersion)

        let files = try await writeRecords(scan: scan, results: results, controls: controls, frameworks: frameworks, graph: graph)
        var unmapped: [String: [String: Int]] = [:]
        var mapped: [String: Bool] = [:]
        for r in results {
            let isMapped = mapped[r.controlID] ?? !frameworks.requirements(of: r.controlID).isEmpty
            mapped[r.controlID] = isMapped
            if !isMapped { unmapped[r.controlID, default: [:]][r.status.rawValue, default: 0] += 1 }
        }
        let written = try await appendManifest(
            scan: scan, files: files, frameworks: frameworks.frameworks.map(\.id), unmapped: unmapped)
        try? await store.remove(EvidenceLayout.pendingKey(scanID: scan.scanID))
        return written
    }

    /// A scan that ended before it had anything to write (a setup error): its in-progress
    /// marker goes, and with `removingPublicKey`, in a store no scan has signed into, the public
    /// key this scan stored, so a scan that never started leaves no trace.
    public func abandon(scanID: String, removingPublicKey: Bool) async throws {
        try await store.remove(EvidenceLayout.pendingKey(scanID: scanID))
        if removingPublicKey, try await EvidenceIndex.manifestKeys(in: store).isEmpty {
            try await store.remove(EvidenceLayout.publicKeyKey)
        }
    }

    /// Stores the public key on first use; refuses to sign into a store kept under another key.
    func ensurePublicKey() async throws {
        let mine = key.publicKey
        if let existing = try await store.read(EvidenceLayout.publicKeyKey) {
            let theirs = try EvidencePublicKey(pem: String(decoding: existing, as: UTF8.self), source: EvidenceLayout.publicKeyKey)
            guard theirs == mine else {
                throw EvidenceKeyError(
                    "the evidence at \(store.location) is signed with key \(theirs.id); this signing key is \(mine.id). Use that store's key, or another store"
                )
            }
            return
        }
        if try await !store.write(Data(mine.pem.utf8), to: EvidenceLayout.publicKeyKey, ifAbsent: true, retain: true) {
            try await ensurePublicKey()  // another scan stored one first: check it is ours
        }
    }

    /// One open partition file: its chain and digest state.
    final class PartitionSink: @unchecked Sendable {
        let framework: Framework
        let requirement: Framework.Requirement
        let key: String
        let writer: any EvidenceObjectWriter
        let part: EvidenceRecord.RequirementPart
        var hasher = SHA256()
        var previous: String
        var sequence = 0
        var counts: [String: Int] = [:]
        var pending = Data()

        init(framework: Framework, requirement: Framework.Requirement, key: String, writer: any EvidenceObjectWriter, scan: EvidenceScan) {
            part = EvidenceRecord.RequirementPart(framework: framework, requirement: requirement, scan: scan)
            self.framework = framework
            self.requirement = requirement
            self.key = key
            self.writer = writer
            previous = RecordChain.genesis(key: key)
        }

        func append(_ result: EvidenceRecord.ResultPart) throws {
            var line = EvidenceRecord.line(result, part, sequence: sequence, previousHash: previous)
            previous = RecordChain.hash(line)
            line.append(0x0A)
            hasher.update(data: line)
            pending.append(line)
            sequence += 1
            counts[result.result, default: 0] += 1
            if pending.count >= 1 << 20 { try flush() }
        }

        func flush() throws {
            if !pending.isEmpty { try writer.append(pending) }
            pending.removeAll(keepingCapacity: true)
        }

        var entry: ScanManifest.FileEntry {
            ScanManifest.FileEntry(
                key: key, framework: framework.id, requirement: requirement.id, records: sequence,
                sha256: "sha256:" + hasher.finalize().hex, chainHead: previous, counts: counts)
        }
    }

    func writeRecords(
        scan: EvidenceScan, results: ControlResults, controls: [String: Control], frameworks: FrameworkSet,
        graph: InventoryGraph
    ) async throws -> [ScanManifest.FileEntry] {
        // Results of each control, in engine order.
        var resultsByControl: [String: [Int]] = [:]
        for (i, r) in results.enumerated() { resultsByControl[r.controlID, default: []].append(i) }

        // One sink per requirement that has results, in catalogue order.
        var sinks: [PartitionSink] = []
        var sinksByControl: [String: [PartitionSink]] = [:]
        for framework in frameworks.frameworks {
            for requirement in framework.requirements where requirement.controls.contains(where: { resultsByControl[$0] != nil }) {
                let key = EvidenceLayout.recordKey(
                    framework: framework.id, requirement: requirement.id, date: scan.startedAt, scanID: scan.scanID)
                let sink = PartitionSink(
                    framework: framework, requirement: requirement, key: key, writer: try store.objectWriter(for: key), scan: scan)
                sinks.append(sink)
                for control in requirement.controls { sinksByControl[control, default: []].append(sink) }
            }
        }
        do {
            // Controls in the order requirements list them, so each file reads control by control.
            var order: [String] = []
            var seen: Set<String> = []
            for sink in sinks {
                for c in sink.requirement.controls where resultsByControl[c] != nil && seen.insert(c).inserted { order.append(c) }
            }
            for controlID in order {
                let indices = resultsByControl[controlID]!
                let control = controls[controlID]
                let targets = sinksByControl[controlID] ?? []
                var start = 0
                while start < indices.count {
                    let slice = Array(indices[start..<min(start + chunkSize, indices.count)])
                    start += slice.count
                    let parts = await resultParts(slice, results: results, control: control, graph: graph, scan: scan)
                    try await append(parts, to: targets)
                }
            }
            var entries: [ScanManifest.FileEntry] = []
            for sink in sinks {
                try sink.flush()
                guard try await sink.writer.commit(ifAbsent: true, retain: true) else {
                    throw EvidenceStoreError("\(store.location)/\(sink.key) already exists")
                }
                entries.append(sink.entry)
            }
            return entries
        } catch {
            for sink in sinks { sink.writer.abort() }
            throw error
        }
    }

    /// Record parts for a slice of results, converted in parallel.
    func resultParts(
        _ slice: [Int], results: ControlResults, control: Control?, graph: InventoryGraph,
        scan: EvidenceScan
    ) async -> [EvidenceRecord.ResultPart] {
        let width = max(1, min(concurrency, slice.count / 256))
        if width == 1 {
            return slice.map { EvidenceRecord.resultPart(results[$0], control: control, graph: graph, scan: scan) }
        }
        let per = (slice.count + width - 1) / width
        return await withTaskGroup(of: (Int, [EvidenceRecord.ResultPart]).self) { group in
            for w in 0..<width {
                let part = Array(slice[min(w * per, slice.count)..<min((w + 1) * per, slice.count)])
                group.addTask {
                    (w, part.map { EvidenceRecord.resultPart(results[$0], control: control, graph: graph, scan: scan) })
                }
            }
            var pieces = Array(repeating: [EvidenceRecord.ResultPart](), count: width)
            for await (w, piece) in group { pieces[w] = piece }
            return pieces.flatMap { $0 }
        }
    }

    /// Appends the parts to every target file; different files in parallel.
    func append(_ parts: [EvidenceRecord.ResultPart], to targets: [PartitionSink]) async throws {
        if targets.count == 1 || concurrency == 1 {
            for sink in targets { for part in parts { try sink.append(part) } }
            return
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            func addNext() {
                guard next < targets.count else { return }
                let sink = targets[next]
                next += 1
                group.addTask { for part in parts { try sink.append(part) } }
            }
            for _ in 0..<min(concurrency, targets.count) { addNext() }
            while try await group.next() != nil { addNext() }
        }
    }

    static func resultKey(_ r: ControlResult) -> String {
        if let parent = r.parentID { return "\(r.controlID):\(r.resourceType)@\(parent)" }
        return "\(r.controlID):\(r.resourceID.isEmpty ? "\(r.resourceType)@\(r.account)/\(r.region)" : r.resourceID)"
    }

    /// Signs and stores the manifest as the next link of the chain. Two scans finishing at once
    /// both try the same sequence number; the store's create-if-absent lets exactly one win and
    /// the other links to it and tries the next number.
    func appendManifest(
        scan: EvidenceScan, files: [ScanManifest.FileEntry], frameworks: [String], unmapped: [String: [String: Int]] = [:]
    ) async throws -> Written {
        for _ in 0..<100 {
            let head = try await EvidenceIndex.latestManifest(in: store)
            var manifest = ScanManifest(
                sequence: (head?.sequence ?? 0) + 1, scanID: scan.scanID, startedAt: scan.startedAt, finishedAt: scan.finishedAt,
                toolVersion: scan.toolVersion, provider: scan.provider, accounts: scan.accounts, frameworks: frameworks,
                controlCatalogueDigest: scan.controlCatalogueDigest, configDigest: scan.configDigest, files: files,
                previous: head.map { ($0.sequence, $0.digest) }, keyID: key.publicKey.id)
            manifest.unmappedControls = unmapped
            manifest.notEvaluated = scan.notEvaluated
            manifest.exceptions = scan.exceptionCounts
            let data = try manifest.signed(with: key)
            let manifestKey = EvidenceLayout.manifestKey(sequence: manifest.sequence)
            if try await store.write(data, to: manifestKey, ifAbsent: true, retain: true) {
                return Written(manifestKey: manifestKey, manifest: manifest, manifestDigest: Digest.sha256(data))
            }
            // Another scan took this sequence number: a create-if-absent on the number alone.
        }
        throw EvidenceStoreError("could not append the manifest to \(store.location): too many concurrent scans")
    }
}

/// The per-file hash chain: each record names the hash of the one before it; the first names
/// a value derived from the file's key, so a file moved to another partition does not verify.
public enum RecordChain {
    public static func genesis(key: String) -> String { Digest.sha256(Data("attest-evidence:\(key)".utf8)) }
    public static func hash(_ line: Data) -> String { Digest.sha256(line) }
}
