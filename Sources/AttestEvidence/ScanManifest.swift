public import AttestControls
public import AttestCore
import Crypto
public import Foundation

/// The signed description of one scan's evidence: what ran, over what, and the digest of every
/// file it wrote. Manifests form a chain (each names the digest of the one before), so a
/// deleted scan leaves a gap.
///
/// The signature is Ed25519 over the manifest without its `signature` field, serialised as
/// compact JSON with sorted keys (`JSONValue.serialized()`).
public struct ScanManifest: Sendable {
    public static let format = "attest-evidence-manifest/1"

    /// One record file of the scan.
    public struct FileEntry: Sendable, Equatable {
        public var key: String
        public var framework: String
        public var requirement: String
        public var records: Int
        public var sha256: String
        /// The hash of the file's last record: the head of its chain.
        public var chainHead: String
        /// Records per status (`pass`, `fail`, `error`, `not_applicable`).
        public var counts: [String: Int]

        public init(
            key: String, framework: String, requirement: String, records: Int, sha256: String, chainHead: String,
            counts: [String: Int]
        ) {
            self.key = key
            self.framework = framework
            self.requirement = requirement
            self.records = records
            self.sha256 = sha256
            self.chainHead = chainHead
            self.counts = counts
        }
    }

    public var sequence: Int
    public var scanID: String
    public var startedAt: String
    public var finishedAt: String
    public var toolVersion: String
    public var provider: String
    public var accounts: [String]
    public var frameworks: [String]
    public var controlCatalogueDigest: String
    public var configDigest: String
    public var files: [FileEntry]
    /// SHA-256 over the files' chain heads in order: one value that seals every record.
    public var chainHead: String
    public var previousSequence: Int?
    public var previousDigest: String?
    public var keyID: String
    public var signature: String = ""
    /// Controls that ran but evidence no framework requirement (a custom control with no
    /// `frameworks:`), with their result counts: they have no record file, and are named here so
    /// the manifest accounts for every control that ran. Absent from the signed body when empty.
    public var unmappedControls: [String: [String: Int]] = [:]
    /// Controls not evaluated, with the reason. Absent from the signed body when empty.
    public var notEvaluated: [String: String] = [:]
    /// The exceptions that covered failures in this scan, each with control id → results
    /// excepted. Absent from the signed body when empty.
    public var exceptions: [(exception: ControlException, excepted: [String: Int])] = []

    /// The most record files and records per file a manifest may name; a parsed manifest
    /// outside these bounds is unreadable, so its numbers are safe to add and loop over.
    public static let maxFiles = 1_000_000
    public static let maxRecordsPerFile = 1 << 40

    /// Every file's records; cannot overflow for a parsed manifest (bounded counts).
    public var recordCount: Int { files.reduce(0) { $0 &+ $1.records } }
    public var startDate: Date { EvidenceTime.parse(startedAt) ?? .distantPast }
    public var finishDate: Date { EvidenceTime.parse(finishedAt) ?? .distantPast }

    /// What is signed: everything but the signature.
    public var body: JSONValue {
        var o: [String: JSONValue] = [
            "format": .string(Self.format), "sequence": .int(Int64(sequence)), "scan_id": .string(scanID),
            "started_at": .string(startedAt), "finished_at": .string(finishedAt),
            "tool": ["name": "attest", "version": .string(toolVersion)], "provider": .string(provider),
            "accounts": .array(accounts.map { .string($0) }), "frameworks": .array(frameworks.map { .string($0) }),
            "control_catalogue_sha256": .string(controlCatalogueDigest), "config_sha256": .string(configDigest),
            "records": .int(Int64(recordCount)), "chain_head": .string(chainHead), "key_id": .string(keyID),
            "files": .array(
                files.map { f in
                    [
                        "key": .string(f.key), "framework": .string(f.framework), "requirement": .string(f.requirement),
                        "records": .int(Int64(f.records)), "sha256": .string(f.sha256), "chain_head": .string(f.chainHead),
                        "counts": .object(f.counts.mapValues { .int(Int64($0)) }),
                    ]
                }),
        ]
        o["previous"] = previousSequence.map { ["sequence": .int(Int64($0)), "sha256": .string(previousDigest ?? "")] } ?? .null
        if !unmappedControls.isEmpty {
            o["unmapped_controls"] = .object(unmappedControls.mapValues { .object($0.mapValues { .int(Int64($0)) }) })
        }
        if !notEvaluated.isEmpty { o["not_evaluated"] = .object(notEvaluated.mapValues { .string($0) }) }
        if !exceptions.isEmpty {
            o["exceptions"] = .array(
                exceptions.map { entry in
                    var e = entry.exception.json.objectValue ?? [:]
                    e["excepted"] = .object(entry.excepted.mapValues { .int(Int64($0)) })
                    return .object(e)
                })
        }
        return .object(o)
    }

    static func chainHead(of files: [FileEntry]) -> String {
        var hasher = SHA256()
        for f in files { hasher.update(data: Data(f.chainHead.utf8)) }
        return "sha256:" + hasher.finalize().hex
    }

    /// Signs and returns the bytes to store: pretty JSON with the signature added.
    public mutating func signed(with key: EvidenceSigningKey) throws -> Data {
        keyID = key.publicKey.id
        let message = Data(body.serialized().utf8)
        signature = try key.signature(for: message).base64EncodedString()
        guard case .object(var o) = body else { return Data() }
        o["signature"] = .string(signature)
        return Data((JSONValue.object(o).serialized(pretty: true) + "\n").utf8)
    }

    /// True when the signature verifies with `key`.
    public func isSigned(by key: EvidencePublicKey) -> Bool {
        guard let sig = Data(base64Encoded: signature) else { return false }
        return key.isValid(signature: sig, for: Data(body.serialized().utf8))
    }

    /// Parses a stored manifest. The parsed body must serialise back to what was signed, so
    /// any field attest does not know makes the manifest unreadable rather than silently ignored.
    public init(data: Data, key: String) throws {
        let value: JSONValue
        do { value = try JSONValue.parse(data) } catch {
            throw EvidenceFormatError("\(key): not JSON (\(error))")
        }
        func string(_ name: String) throws -> String {
            guard let s = value[name].stringValue, case .string = value[name] else { throw EvidenceFormatError("\(key): missing \(name)") }
            return s
        }
        func int(_ v: JSONValue, _ name: String) throws -> Int {
            guard case .int(let i) = v, i >= 0 else { throw EvidenceFormatError("\(key): missing \(name)") }
            return Int(i)
        }
        guard try string("format") == Self.format else { throw EvidenceFormatError("\(key): unknown format \(value["format"])") }
        sequence = try int(value["sequence"], "sequence")
        scanID = try string("scan_id")
        startedAt = try string("started_at")
        finishedAt = try string("finished_at")
        toolVersion = value["tool"]["version"].stringValue ?? ""
        provider = try string("provider")
        accounts = value["accounts"].asList.compactMap(\.stringValue)
        frameworks = value["frameworks"].asList.compactMap(\.stringValue)
        controlCatalogueDigest = try string("control_catalogue_sha256")
        configDigest = try string("config_sha256")
        chainHead = try string("chain_head")
        keyID = try string("key_id")
        signature = try string("signature")
        let fileValues = value["files"].asList
        guard fileValues.count <= Self.maxFiles else {
            throw EvidenceFormatError("\(key): lists \(fileValues.count) files, more than a scan writes")
        }
        var total = 0
        files = try fileValues.map { f in
            // Counts are read with bounds, so no edited number can overflow a sum or drive a loop.
            let records = try int(f["records"], "files[].records")
            guard (0...Self.maxRecordsPerFile).contains(records) else {
                throw EvidenceFormatError("\(key): a file's record count \(records) is out of range")
            }
            let (sum, overflow) = total.addingReportingOverflow(records)
            guard !overflow else { throw EvidenceFormatError("\(key): the record counts overflow") }
            total = sum
            var counts: [String: Int] = [:]
            for (status, n) in f["counts"].objectValue ?? [:] {
                guard case .int(let i) = n, (0...Int64(records)).contains(i) else {
                    throw EvidenceFormatError("\(key): a file's count of \(status) is out of range")
                }
                counts[status] = Int(i)
            }
            return FileEntry(
                key: f["key"].stringValue ?? "", framework: f["framework"].stringValue ?? "",
                requirement: f["requirement"].stringValue ?? "", records: records,
                sha256: f["sha256"].stringValue ?? "", chainHead: f["chain_head"].stringValue ?? "", counts: counts)
        }
        if value["previous"].isNull {
            previousSequence = nil
            previousDigest = nil
        } else {
            previousSequence = try int(value["previous"]["sequence"], "previous.sequence")
            previousDigest = value["previous"]["sha256"].stringValue
        }
        for (control, counts) in value["unmapped_controls"].objectValue ?? [:] {
            var parsed: [String: Int] = [:]
            for (status, n) in counts.objectValue ?? [:] {
                guard case .int(let i) = n, (0...Int64(Self.maxRecordsPerFile)).contains(i) else {
                    throw EvidenceFormatError("\(key): an unmapped control's count of \(status) is out of range")
                }
                parsed[status] = Int(i)
            }
            unmappedControls[control] = parsed
        }
        for (control, reason) in value["not_evaluated"].objectValue ?? [:] { notEvaluated[control] = reason.stringValue ?? "" }
        for item in value["exceptions"].arrayValue ?? [] {
            guard let exception = ControlException(json: item) else { throw EvidenceFormatError("\(key): an exception is malformed") }
            var excepted: [String: Int] = [:]
            for (control, n) in item["excepted"].objectValue ?? [:] {
                guard case .int(let i) = n, (0...Int64(Self.maxRecordsPerFile)).contains(i) else {
                    throw EvidenceFormatError("\(key): an exception's count for \(control) is out of range")
                }
                excepted[control] = Int(i)
            }
            exceptions.append((exception, excepted))
        }
        var unsigned = value.objectValue ?? [:]
        unsigned["signature"] = nil
        if JSONValue.object(unsigned).serialized() != body.serialized() {
            // Something was added or changed that this reader does not model: treat as unsigned.
            signature = ""
        }
    }

    public init(
        sequence: Int, scanID: String, startedAt: Date, finishedAt: Date, toolVersion: String, provider: String,
        accounts: [String], frameworks: [String], controlCatalogueDigest: String, configDigest: String,
        files: [FileEntry], previous: (sequence: Int, digest: String)?, keyID: String
    ) {
        self.sequence = sequence
        self.scanID = scanID
        self.startedAt = EvidenceTime.string(startedAt)
        self.finishedAt = EvidenceTime.string(finishedAt)
        self.toolVersion = toolVersion
        self.provider = provider
        self.accounts = accounts
        self.frameworks = frameworks
        self.controlCatalogueDigest = controlCatalogueDigest
        self.configDigest = configDigest
        self.files = files
        self.chainHead = Self.chainHead(of: files)
        self.previousSequence = previous?.sequence
        self.previousDigest = previous?.digest
        self.keyID = keyID
    }
}

public struct EvidenceFormatError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension Sequence where Element == UInt8 {
    var hex: String {
        var s = ""
        s.reserveCapacity(64)
        for b in self {
            s.append(hexDigits[Int(b >> 4)])
            s.append(hexDigits[Int(b & 0xf)])
        }
        return s
    }
}

private let hexDigits: [Character] = Array("0123456789abcdef")

enum Digest {
    static func sha256(_ data: Data) -> String { "sha256:" + SHA256.hash(data: data).hex }
}
