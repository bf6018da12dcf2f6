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
        let key = try loadOrCreateKey(explicit: options.signingKey, config: config.evidence, environment: session.environment)
        let store = try await openStore(destination, config: config.evidence, session: session, profile: profile)
        let configDigest = EvidenceDigest.bytes(config.file.flatMap { FileManager.default.contents(atPath: $0) } ?? Data())
        return EvidenceScanSink(
            writer: EvidenceWriter(store: store, key: key), toolVersion: attestVersion, configDigest: configDigest,
            clouds: Providers.registry.evidenceClouds
        ) { Diagnostics.line($0) }
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
            FileHandle.standardError.write(
                Data(
                    """
                    attest: created the evidence signing key \(path) (public key \(key.publicKey.id)).
                            Keep it safe, and keep a copy of its public key (attest evidence keygen --show) away from the evidence.

                    """.utf8))
            return key
        } catch let error as EvidenceKeyError {
            throw ConfigurationError(error.description)
        }
    }
}
