import ArgumentParser
import AttestControls
import AttestCore
import AttestEvidence
import AttestScan
import Foundation

/// Where a scan writes evidence, and with which key.
struct EvidenceScanOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Write evidence here: a directory or s3://bucket/prefix (default: evidence.path in the config, else ./evidence).",
            valueName: "dest"))
    var evidence: String?

    @Flag(help: "Write no evidence.")
    var noEvidence = false

    @Option(
        help: ArgumentHelp(
            "Ed25519 key (PEM) that signs evidence (default: ATTEST_EVIDENCE_SIGNING_KEY[_FILE], evidence.signing_key, else ~/.config/attest/evidence-signing.key, created on first use).",
            valueName: "file"))
    var signingKey: String?
}

/// Opening evidence stores and the scan's evidence sink.
enum EvidenceSetup {
    /// The scan's evidence sink; nil when the scan writes none (`--no-evidence`, or the demo
    /// without a destination). The store is checked against the key before anything is collected.
    static func sink(
        _ options: EvidenceScanOptions, config: AttestConfig, session: ScanSession, enabledByDefault: Bool,
        profile: String? = nil
    ) async throws -> EvidenceScanSink? {
        if options.noEvidence { return nil }
        guard let destination = options.evidence ?? config.evidence.path ?? (enabledByDefault ? "evidence" : nil) else { return nil }
        let isLocal = !destination.contains("://")
        let isNewStore = isLocal && !FileManager.default.fileExists(atPath: destination + "/_keys")
        let existed = FileManager.default.fileExists(atPath: destination)
        let (key, newKeyPath) = try loadOrMakeKey(explicit: options.signingKey, config: config.evidence, environment: session.environment)
        let createdKey = newKeyPath
        let store = try await openStore(destination, config: config.evidence, session: session, profile: profile)
        var note: String?
        if isNewStore || createdKey != nil {
            // The side effects of a first run, said once, in one line: where evidence goes and what signs it.
            let location = isLocal ? URL(fileURLWithPath: destination).standardizedFileURL.path : destination
            let loadedFrom = try? EvidenceSigningKey.load(environment: session.environment, configuredFile: config.evidence.signingKey)
            let keyPath = createdKey ?? options.signingKey ?? loadedFrom?.source ?? "the configured key"
            note =
                "evidence goes to \(location)\(isNewStore ? " (new store)" : ""), signed with \(keyPath) "
                + (createdKey != nil ? "(new key \(key.publicKey.id): keep it safe, and its public key apart)" : "(\(key.publicKey.id))")
                + "; --no-evidence or --evidence DIR|s3://bucket/prefix to change"
        }
        let configDigest = EvidenceDigest.bytes(config.file.flatMap { FileManager.default.contents(atPath: $0) } ?? Data())
        var sink = EvidenceScanSink(
            writer: EvidenceWriter(store: store, key: key), toolVersion: attestVersion, configDigest: configDigest,
            clouds: Providers.registry.evidenceClouds
        ) { Diagnostics.line($0) }
        sink.firstRunNote = note
        sink.createsStore = isNewStore
        if let newKeyPath {
            sink.onStart = { @Sendable in try EvidenceSetup.store(key, at: newKeyPath) }
        }
        sink.onAbandon = {
            // A scan that never started leaves nothing: the key made for it, the folder made for it.
            if let newKeyPath { EvidenceSetup.removeUnused(key, at: newKeyPath) }
            if isLocal, !existed { _ = rmdir(destination) }
        }
        return sink
    }

    /// A directory, or a store URL one of the providers serves (`s3://` by AWS), reached
    /// through `session`'s transports.
    static func openStore(_ destination: String, config: EvidenceConfig, session: ScanSession, profile: String? = nil) async throws
        -> any EvidenceStore
    {
        guard destination.contains("://") else { return LocalEvidenceStore(root: URL(fileURLWithPath: destination)) }
        let options = EvidenceStoreOptions(region: config.region, retentionDays: config.retentionDays, profile: profile)
        for provider in Providers.registry.providers {
            if let store = try await provider.openEvidenceStore(destination, options: options, context: session.connectionContext) {
                return store
            }
        }
        throw ConfigurationError(
            "evidence destination \(destination): no provider serves this kind of URL (a directory or s3://bucket/prefix)")
    }

    /// The signing key, and the default path to store it at when there was none and it was made
    /// just now (stored when the scan starts writing, by ``store(_:at:)``).
    static func loadOrMakeKey(explicit: String?, config: EvidenceConfig, environment: [String: String]) throws -> (
        EvidenceSigningKey, newPath: String?
    ) {
        do {
            if let explicit {
                guard let loaded = try EvidenceSigningKey.load(environment: [:], configuredFile: explicit) else {
                    throw ConfigurationError("--signing-key \(explicit): no such file")
                }
                return (loaded.key, nil)
            }
            if let loaded = try EvidenceSigningKey.load(environment: environment, configuredFile: config.signingKey) {
                return (loaded.key, nil)
            }
            return (EvidenceSigningKey(), EvidenceSigningKey.defaultPath(environment: environment))
        } catch let error as EvidenceKeyError {
            throw ConfigurationError(error.description)
        }
    }

    static func store(_ key: EvidenceSigningKey, at path: String) throws {
        do { try key.write(to: path) } catch let error as EvidenceKeyError { throw ConfigurationError(error.description) }
    }

    /// Removes the key file at `path` if it holds `key` (made by this run, so it signed nothing).
    static func removeUnused(_ key: EvidenceSigningKey, at path: String) {
        guard let stored = try? EvidenceSigningKey.load(environment: [:], configuredFile: path), stored.key.publicKey == key.publicKey
        else { return }
        unlink(path)
        _ = rmdir(URL(fileURLWithPath: path).deletingLastPathComponent().path)  // the folder made for it, if now empty
    }
}
