import ArgumentParser
import AttestAWS
import AttestCollect
import AttestControls
import AttestEvidence
import AttestHTTP
import Foundation

/// The `evidence:` part of the config file.
struct EvidenceConfig {
    /// A directory or `s3://bucket/prefix`.
    var path: String?
    var signingKey: String?
    /// Object Lock retention (COMPLIANCE mode) for evidence written to S3.
    var retentionDays: Int?
    /// The region of the S3 bucket.
    var region: String?

    init() {}

    /// Reads `--config FILE`, or `attest.yaml` in the current directory when present.
    static func load(configPath: String?) throws -> EvidenceConfig {
        let path = configPath ?? (FileManager.default.fileExists(atPath: "attest.yaml") ? "attest.yaml" : nil)
        guard let path else { return EvidenceConfig() }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw ConfigurationError("--config \(path): cannot read the file") }
        do {
            return try EvidenceConfig(text: text, file: path)
        } catch let error as SpecError {
            throw ConfigurationError("invalid config: \(error.description)")
        }
    }

    init(text: String, file: String) throws {
        let top = try SpecLoader.parse(text, file: file).map(nil)
        guard let evidence = try top.optionalMap("evidence", allowed: ["path", "signing_key", "retention_days", "region"]) else { return }
        let base = URL(fileURLWithPath: file).deletingLastPathComponent()
        func resolve(_ p: String) -> String {
            if p.hasPrefix("s3://") || p.hasPrefix("/") { return p }
            if p.hasPrefix("~/") { return NSHomeDirectory() + p.dropFirst(1) }
            return base.appendingPathComponent(p).path
        }
        if let node = evidence.node("path") { path = resolve(try node.string()) }
        if let node = evidence.node("signing_key") { signingKey = resolve(try node.string()) }
        if let node = evidence.node("region") { region = try node.string() }
        if let node = evidence.node("retention_days") {
            guard let days = Int(try node.string()), days >= 0 else {
                throw SpecError(file: file, line: node.line, message: "evidence.retention_days must be a whole number of days")
            }
            retentionDays = days
        }
    }
}

/// Where a scan writes evidence, and with which key.
struct EvidenceScanOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Write evidence here: a directory or s3://bucket/prefix (default: evidence.path in the config, else ./evidence).", valueName: "dest"))
    var evidence: String?

    @Flag(help: "Write no evidence.")
    var noEvidence = false

    @Option(help: ArgumentHelp("Ed25519 key (PEM) that signs evidence (default: ATTEST_EVIDENCE_SIGNING_KEY[_FILE], evidence.signing_key, else ~/.config/attest/evidence-signing.key, created on first use).", valueName: "file"))
    var signingKey: String?
}

/// A scan's evidence destination, opened.
struct EvidenceSink {
    var writer: EvidenceWriter
    var opened: OpenedEvidenceStore
    var scanID: String
    var startedAt: Date
    var configDigest: String

    /// Nil when the scan writes no evidence (`--no-evidence`, no controls, or the demo without `--evidence`).
    static func make(_ options: EvidenceScanOptions, configPath: String?, environment: [String: String], client: AWSClient?,
                     homeRegion: String, enabledByDefault: Bool) async throws -> EvidenceSink? {
        if options.noEvidence { return nil }
        let config = try EvidenceConfig.load(configPath: configPath)
        guard let destination = options.evidence ?? config.path ?? (enabledByDefault ? "evidence" : nil) else { return nil }
        let key = try loadOrCreateKey(explicit: options.signingKey, config: config, environment: environment)
        let opened = try await EvidenceDestination.open(destination, config: config, client: client, homeRegion: homeRegion, environment: environment)
        let startedAt = Date()
        let writer = EvidenceWriter(store: opened.store, key: key)
        let scanID = EvidenceLayout.newScanID(startedAt: startedAt)
        do {
            try await writer.begin(scanID: scanID, startedAt: startedAt, toolVersion: attestVersion)
        } catch let error as EvidenceKeyError {
            await opened.close()
            throw ConfigurationError(error.description)
        } catch {
            await opened.close()
            throw ConfigurationError("evidence: \(error)")
        }
        let configFile = configPath ?? (FileManager.default.fileExists(atPath: "attest.yaml") ? "attest.yaml" : nil)
        let configDigest = EvidenceDigest.bytes(configFile.flatMap { FileManager.default.contents(atPath: $0) } ?? Data())
        return EvidenceSink(writer: writer, opened: opened, scanID: scanID, startedAt: startedAt, configDigest: configDigest)
    }

    static func loadOrCreateKey(explicit: String?, config: EvidenceConfig, environment: [String: String]) throws -> EvidenceSigningKey {
        do {
            if let explicit {
                guard let loaded = try EvidenceSigningKey.load(environment: [:], configuredFile: explicit) else {
                    throw ConfigurationError("--signing-key \(explicit): no such file")
                }
                return loaded.key
            }
            if let loaded = try EvidenceSigningKey.load(environment: environment, configuredFile: config.signingKey) { return loaded.key }
            let path = EvidenceSigningKey.defaultPath(environment: environment)
            let key = EvidenceSigningKey()
            try key.write(to: path)
            FileHandle.standardError.write(Data("""
                attest: created the evidence signing key \(path) (public key \(key.publicKey.id)).
                        Keep it safe, and keep a copy of its public key (attest evidence keygen --show) away from the evidence.

                """.utf8))
            return key
        } catch let error as EvidenceKeyError {
            throw ConfigurationError(error.description)
        }
    }

    func close() async { await opened.close() }

    /// Writes the evaluated results as evidence and reports where on standard error.
    func write(_ evaluation: ControlEvaluation, startedAt: Date, finishedAt: Date, accounts: [String]) async throws {
        let catalogue = evaluation.plan.controls.sorted { $0.id < $1.id }.map { (name: $0.id, path: $0.file) }
            + evaluation.plan.frameworks.frameworks.map { (name: "framework:\($0.id)", path: $0.file) }
        let scan = EvidenceScan(scanID: scanID, startedAt: startedAt, finishedAt: finishedAt, provider: "aws", accounts: accounts,
                                toolVersion: attestVersion, controlCatalogueDigest: EvidenceDigest.files(catalogue),
                                configDigest: configDigest)
        let written = try await writer.write(scan: scan, results: evaluation.results, controls: evaluation.controlsByID,
                                             frameworks: evaluation.plan.frameworks, graph: evaluation.graph)
        FileHandle.standardError.write(Data("attest: evidence: scan \(scanID), \(written.manifest.recordCount) records in \(written.manifest.files.count) files, signed manifest \(writer.store.location.hasSuffix("/") ? writer.store.location : writer.store.location + "/")\(written.manifestKey)\n".utf8))
    }
}

/// An evidence store, with the HTTP client it opened (if any) to shut down after use.
struct OpenedEvidenceStore {
    var store: any EvidenceStore
    var transport: AsyncHTTPClientTransport?

    func close() async { await transport?.shutdown() }
}

/// Opens a store from a directory path or `s3://bucket/prefix`.
enum EvidenceDestination {
    /// With `client`, S3 is reached through it (a scan's own session); otherwise a session is
    /// made from the environment and profile as for a scan.
    static func open(_ destination: String, config: EvidenceConfig, client: AWSClient?, homeRegion: String?,
                     environment: [String: String], profile: String? = nil) async throws -> OpenedEvidenceStore {
        guard destination.hasPrefix("s3://") else {
            return OpenedEvidenceStore(store: LocalEvidenceStore(root: URL(fileURLWithPath: destination)))
        }
        guard let (bucket, prefix) = S3EvidenceStore.parse(destination) else {
            throw ConfigurationError("evidence destination \(destination): expected s3://bucket/prefix")
        }
        let retention = config.retentionDays ?? 365
        if let client {
            return OpenedEvidenceStore(store: S3EvidenceStore(client: client, bucket: bucket, prefix: prefix,
                                                              region: config.region ?? homeRegion ?? "us-east-1", retentionDays: retention))
        }
        let session = try await AWSSession.make(environment: environment, profile: profile, roleArn: nil, externalId: nil,
                                                region: config.region, recordDirectory: nil)
        return OpenedEvidenceStore(store: S3EvidenceStore(client: session.client, bucket: bucket, prefix: prefix,
                                                          region: config.region ?? session.homeRegion, retentionDays: retention),
                                   transport: session.transport)
    }
}
