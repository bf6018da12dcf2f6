import AttestControls
public import AttestEvidence
public import Foundation
import Synchronization

/// Writes a scan's results as evidence: the in-progress marker before anything is collected,
/// then the records and the signed manifest. A scan without controls writes nothing.
public struct EvidenceScanSink: ScanSink {
    public let writer: EvidenceWriter
    public let toolVersion: String
    /// SHA-256 of the config file the scan ran with (of nothing when there was none).
    public let configDigest: String
    /// How each provider's results name their cloud.
    public let clouds: [String: any EvidenceCloud]
    /// Told where the evidence went, one line (the command line prints it on standard error).
    public let report: @Sendable (String) -> Void
    private let scan = ScanIdentity()
    /// Said through `report` when the scan's evidence is written: what a first run created (the
    /// store, the signing key), in one line.
    public var firstRunNote: String?
    /// True when this scan creates the store: a scan that fails to start then removes what it put there.
    public var createsStore = false
    /// Run before anything is written (the command line stores a newly made signing key here).
    public var onStart: (@Sendable () throws -> Void)?
    /// Run after a scan that failed to start has removed its traces (the command line removes
    /// the key it stored and the store's folder, when it made them and they are empty).
    public var onAbandon: (@Sendable () -> Void)?
    /// Filled with the signed manifest once the evidence is written, for sinks that run after
    /// this one (the report shows the seal).
    public var receipt: EvidenceReceipt?

    public init(
        writer: EvidenceWriter, toolVersion: String, configDigest: String, clouds: [String: any EvidenceCloud],
        report: @escaping @Sendable (String) -> Void
    ) {
        self.writer = writer
        self.toolVersion = toolVersion
        self.configDigest = configDigest
        self.clouds = clouds
        self.report = report
    }

    public func scanWillStart(id: String, startedAt: Date) async throws {
        let evidenceID = EvidenceLayout.newScanID(startedAt: startedAt)
        scan.set(evidenceID)
        try onStart?()
        try await writer.begin(scanID: evidenceID, startedAt: startedAt, toolVersion: toolVersion)
    }

    public func scanDidFail(_ error: any Error) async {
        if let id = scan.get() { try? await writer.abandon(scanID: id, removingPublicKey: createsStore) }
        onAbandon?()
    }

    public func scanDidFinish(_ outcome: ScanOutcome) async throws {
        guard let evaluation = outcome.evaluation else { return }
        let scanID = scan.get() ?? EvidenceLayout.newScanID(startedAt: outcome.startedAt)
        let catalogue =
            evaluation.plan.controls.sorted { $0.id < $1.id }.map { (name: $0.id, path: $0.file) }
            + evaluation.plan.frameworks.frameworks.map { (name: "framework:\($0.id)", path: $0.file) }
        var record = EvidenceScan(
            scanID: scanID, startedAt: outcome.startedAt, finishedAt: outcome.finishedAt,
            provider: outcome.providers.joined(separator: ","), accounts: outcome.accounts,
            toolVersion: toolVersion, controlCatalogueDigest: EvidenceDigest.files(catalogue),
            configDigest: configDigest, clouds: clouds)
        record.notEvaluated = Dictionary(evaluation.notEvaluated.map { ($0.control, $0.reason) }) { first, _ in first }
        let usage = evaluation.exceptionUsage
        record.exceptions = usage.exceptions
        record.exceptionCounts = usage.excepted.keys.sorted().map { (usage.exceptions[$0], usage.excepted[$0]!) }
        let written = try await writer.write(
            scan: record, results: evaluation.results, controls: evaluation.controlsByID,
            frameworks: evaluation.plan.frameworks, graph: evaluation.graph)
        let location = writer.store.location.hasSuffix("/") ? writer.store.location : writer.store.location + "/"
        receipt?.set(
            EvidenceReceipt.Seal(
                store: writer.store.location, manifestKey: written.manifestKey, sequence: written.manifest.sequence,
                records: written.manifest.recordCount, files: written.manifest.files.count,
                manifestDigest: written.manifestDigest, recordsChainHead: written.manifest.chainHead, keyID: written.manifest.keyID))
        if let firstRunNote { report(firstRunNote) }
        report(
            "evidence: scan \(scanID), \(written.manifest.recordCount) records in \(written.manifest.files.count) files, signed manifest \(location)\(written.manifestKey)"
        )
    }
}

/// What the evidence sink wrote, handed to the sinks after it.
public final class EvidenceReceipt: Sendable {
    public struct Seal: Sendable {
        public var store: String
        public var manifestKey: String
        public var sequence: Int
        public var records: Int
        public var files: Int
        /// The stored manifest's SHA-256: the chain head `attest evidence verify` prints.
        public var manifestDigest: String
        /// The manifest's seal over every record file's chain head.
        public var recordsChainHead: String
        public var keyID: String
    }

    private let value = Mutex<Seal?>(nil)
    public init() {}
    public func set(_ seal: Seal) { value.withLock { $0 = seal } }
    public var seal: Seal? { value.withLock { $0 } }
}

/// The evidence scan id chosen when the scan started, shared by the sink's two calls.
final class ScanIdentity: Sendable {
    private let value = Mutex<String?>(nil)
    func set(_ id: String) { value.withLock { $0 = id } }
    func get() -> String? { value.withLock { $0 } }
}
