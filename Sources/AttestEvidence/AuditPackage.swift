public import AttestControls
import AttestCore
import CompressNIO
public import Foundation
import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// An audit package: one framework's evidence for a period, as a gzipped tar an auditor can
/// verify offline. It holds the record files, every manifest of the period, the public key, a
/// `package.json` naming the scope, and `METHODOLOGY.md`, generated from the records: what
/// each control checks, its rule, when it ran, and how to verify the package.
public enum AuditPackage {
    public static let evidenceFolder = "evidence/"

    public struct Contents: Sendable {
        public var framework: String
        public var scans: Int
        public var files: Int
        public var records: Int
        public var bytes: Int
        /// The package itself (gzipped tar).
        public var data: Data
    }

    public static let descriptionMember = "package.json"
    public static let methodologyMember = "METHODOLOGY.md"

    /// Packs one framework's evidence for a period. The store is verified first (that framework,
    /// that period): anything that does not verify makes the export fail with
    /// ``EvidenceNotVerifiedError``, unless `allowUnverified`, when only the files that verify are
    /// packed and `package.json` lists what did not. Only what a signed manifest names is read.
    public static func export(
        from store: any EvidenceStore, framework: String, from: Date?, to: Date?,
        frameworks: FrameworkSet?, controls: [Control] = [], now: Date = Date(),
        trustedKey: EvidencePublicKey? = nil, allowUnverified: Bool = false
    ) async throws -> Contents {
        var verifier = EvidenceVerifier(store: store, trustedKey: trustedKey, from: from, to: to)
        verifier.frameworks = [framework]
        let report = try await verifier.verify()
        if !report.isIntact && !allowUnverified { throw EvidenceNotVerifiedError(report: report, location: store.location) }
        let stored = try await EvidenceIndex.load(EvidenceIndex.manifestKeys(in: store), from: store)
        let inRange = stored.filter { s in
            guard let m = s.manifest else { return false }
            return (from.map { m.startDate >= $0 } ?? true) && (to.map { m.startDate < $0 } ?? true)
        }
        guard let first = inRange.first?.sequence, let last = inRange.last?.sequence else {
            throw EvidenceStoreError("no signed scans in \(store.location) for that period")
        }
        // Every manifest between the first and last of the period, so the chain is whole.
        let manifests = stored.filter { (first...last).contains($0.sequence) }
        var tar = TarWriter()
        // The key first: a reader can check each manifest as it arrives.
        if let key = trustedKey {
            tar.add(path: evidenceFolder + EvidenceLayout.publicKeyKey, data: Data(key.pem.utf8))
        } else if let key = try await store.read(EvidenceLayout.publicKeyKey) {
            tar.add(path: evidenceFolder + EvidenceLayout.publicKeyKey, data: key)
        }
        var fileCount = 0
        var recordCount = 0
        var samples: [String: JSONValue] = [:]
        var runs: [String: [String]] = [:]
        for s in manifests {
            guard let data = try await store.read(s.key) else { continue }
            tar.add(path: evidenceFolder + s.key, data: data)
            guard let m = s.manifest else { continue }
            for entry in m.files where entry.framework == framework && report.verifiedFiles.contains(entry.key) {
                guard let file = try await store.read(entry.key) else {
                    throw EvidenceStoreError(
                        "\(store.location)/\(entry.key) is listed in scan \(m.scanID)'s manifest but missing; run attest evidence verify")
                }
                tar.add(path: evidenceFolder + entry.key, data: file)
                fileCount += 1
                recordCount += entry.records
                runs[entry.requirement, default: []].append(m.startedAt)
                for line in file.split(separator: 0x0A) {
                    guard let v = try? JSONValue.parse(Data(line)) else { continue }
                    let control = v["unmapped"]["attest"]["control"].stringValue ?? ""
                    if samples[control] == nil { samples[control] = v }
                }
            }
        }
        let scans = manifests.compactMap(\.manifest)
        var description: JSONValue = [
            "format": "attest-audit-package/1", "framework": .string(framework),
            "from": from.map { .string(EvidenceTime.string($0)) } ?? .null, "to": to.map { .string(EvidenceTime.string($0)) } ?? .null,
            "created_at": .string(EvidenceTime.string(now)),
            "first_sequence": .int(Int64(first)), "last_sequence": .int(Int64(last)),
            "scans": .array(scans.map { .string($0.scanID) }), "files": .int(Int64(fileCount)), "records": .int(Int64(recordCount)),
        ]
        if !report.isIntact, case .object(var o) = description {
            o["unverified_findings"] = .array(report.findings.map { .string($0.description) })
            description = .object(o)
        }
        tar.add(path: descriptionMember, data: Data((description.serialized(pretty: true) + "\n").utf8))
        tar.add(
            path: methodologyMember,
            data: Data(
                Methodology.document(
                    framework: framework, catalogue: frameworks?.framework(framework),
                    scans: scans, samples: samples, runs: runs, from: from, to: to,
                    controls: Dictionary(controls.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
                ).utf8))
        let gz = try Gzip.compress(tar.finish())
        return Contents(framework: framework, scans: scans.count, files: fileCount, records: recordCount, bytes: gz.count, data: gz)
    }

    /// A package unpacked for verification.
    public struct Unpacked: Sendable {
        /// The evidence folder, as a store.
        public var store: LocalEvidenceStore
        /// The framework `package.json` names (unsigned: it decides nothing on its own).
        public var declaredFramework: String
        /// The frameworks of the record files the package holds.
        public var frameworksPresent: Set<String>
        /// What the package holds that does not belong in one, already as findings.
        public var findings: [VerificationFinding]
    }

    /// Unpacks a package into `directory`, streaming: no member is ever whole in memory, each is
    /// cut off at a size derived from what its manifest says (a decompression bomb stops at its
    /// cap), and every member is accounted for: only `package.json`, `METHODOLOGY.md`, the
    /// public key, manifests and the record files a manifest names belong in a package.
    public static func open(_ file: URL, into directory: URL) throws -> Unpacked {
        guard let input = FileHandle(forReadingAtPath: file.path) else {
            throw EvidenceFormatError("cannot read \(file.path)")
        }
        defer { try? input.close() }
        let compressedSize = (try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) ?? 0
        var extractor = PackageExtractor(root: directory, source: file.path, compressedSize: compressedSize)
        let decompressor = CompressionAlgorithm.gzip().decompressor
        decompressor.window = ByteBufferAllocator().buffer(capacity: 1 << 16)
        do {
            try decompressor.startStream()
            while let chunk = try input.read(upToCount: 1 << 16), !chunk.isEmpty {
                var buffer = ByteBuffer(bytes: chunk)
                try buffer.decompressStream(with: decompressor) { window in try extractor.consume(window) }
            }
            try decompressor.finishStream()
        } catch let error as EvidenceFormatError {
            throw error
        } catch {
            throw EvidenceFormatError("\(file.path): not a gzip file, or damaged (\(error))")
        }
        try extractor.finish()
        guard let descriptionData = FileManager.default.contents(atPath: directory.appendingPathComponent(descriptionMember).path),
            let description = try? JSONValue.parse(descriptionData)
        else {
            throw EvidenceFormatError("\(file.path): not an attest audit package (no package.json)")
        }
        let declared = description["framework"].stringValue ?? ""
        var findings = extractor.findings
        let present = extractor.frameworksPresent
        if present.isEmpty {
            findings.append(.init(kind: .noEvidence, key: nil, message: "the package holds no evidence record file"))
        } else if present != [declared] {
            findings.append(
                .init(
                    kind: .packageMember, key: descriptionMember,
                    message:
                        "names framework \(declared.debugDescription) but the package holds records of \(present.sorted().joined(separator: ", "))"
                ))
        }
        return Unpacked(
            store: LocalEvidenceStore(root: directory.appendingPathComponent(evidenceFolder)), declaredFramework: declared,
            frameworksPresent: present, findings: findings)
    }
}

/// Reads a tar stream member by member into a folder, with caps, keeping no member in memory.
struct PackageExtractor {
    let root: URL
    let source: String
    /// The whole package may expand to at most this many bytes.
    let totalCap: Int
    var total = 0
    var findings: [VerificationFinding] = []
    var frameworksPresent: Set<String> = []
    /// Record file key → the records its (not yet verified) manifest gives it, which caps its size.
    var expectedRecords: [String: Int] = [:]
    var seen: Set<String> = []

    /// A member being read: where it goes (nil: skipped), how much is left, its cap.
    struct Member {
        var path: String
        var handle: FileHandle?
        var remaining: Int
        var padding: Int
        var keep: Bool
        var manifestData: Data?
    }

    var header = Data()
    var member: Member?
    var ended = false

    /// Bytes a record may take, at most, when a record file's size is capped by its record count.
    static let maxRecordBytes = 256 * 1024

    init(root: URL, source: String, compressedSize: Int) {
        self.root = root
        self.source = source
        let (scaled, overflow) = compressedSize.multipliedReportingOverflow(by: 100)
        totalCap = overflow ? Int.max : max(scaled, 64 << 20)
    }

    mutating func consume(_ window: ByteBuffer) throws {
        var bytes = window
        while bytes.readableBytes > 0 {
            if ended { return }
            if var current = member {
                if current.remaining > 0 {
                    let n = min(current.remaining, bytes.readableBytes)
                    let slice = bytes.readSlice(length: n)!
                    let (sum, overflow) = total.addingReportingOverflow(n)
                    guard !overflow, sum <= totalCap else {
                        throw EvidenceFormatError(
                            "\(source): expands to more than \(totalCap) bytes, far beyond what its size allows; refused as a decompression bomb"
                        )
                    }
                    total = sum
                    if current.keep {
                        let data = Data(slice.readableBytesView)
                        try current.handle?.write(contentsOf: data)
                        if current.manifestData != nil { current.manifestData!.append(data) }
                    }
                    current.remaining -= n
                    member = current
                    continue
                }
                if current.padding > 0 {
                    let n = min(current.padding, bytes.readableBytes)
                    bytes.moveReaderIndex(forwardBy: n)
                    current.padding -= n
                    member = current
                    continue
                }
                try close(current)
                member = nil
                continue
            }
            let need = 512 - header.count
            let n = min(need, bytes.readableBytes)
            header.append(contentsOf: bytes.readBytes(length: n)!)
            if header.count == 512 {
                try startMember(header)
                header.removeAll(keepingCapacity: true)
            }
        }
    }

    mutating func finish() throws {
        if let current = member {
            guard current.remaining == 0 else { throw EvidenceFormatError("\(source): the last member is cut short") }
            try close(current)
            member = nil
        }
    }

    mutating func close(_ current: Member) throws {
        try current.handle?.close()
        if let data = current.manifestData, let manifest = try? ScanManifest(data: data, key: current.path) {
            for entry in manifest.files where EvidenceLayout.isSafeKey(entry.key) {
                expectedRecords[entry.key] = max(expectedRecords[entry.key] ?? 0, entry.records)
            }
        }
    }

    mutating func startMember(_ h: Data) throws {
        let bytes = [UInt8](h)
        if bytes.allSatisfy({ $0 == 0 }) {
            ended = true
            return
        }
        func field(_ at: Int, _ length: Int) -> String {
            String(decoding: bytes[at..<at + length].prefix { $0 != 0 }, as: UTF8.self)
        }
        guard let size = Int(field(124, 12).trimmingCharacters(in: CharacterSet(charactersIn: " \0")), radix: 8), size >= 0 else {
            throw EvidenceFormatError("\(source): damaged tar header")
        }
        let prefix = field(345, 155)
        let name = field(0, 100)
        let path = prefix.isEmpty ? name : prefix + "/" + name
        let type = bytes[156]
        let padding = (512 - size % 512) % 512
        var keep = false
        var reason: String?
        var cap = 0
        if type != UInt8(ascii: "0") && type != 0 {
            reason = "is not a regular file (tar type \(Character(Unicode.Scalar(type)))); a package holds files only"
        } else if seen.contains(path) {
            reason = "appears twice; the second copy is not used"
        } else if path == AuditPackage.descriptionMember {
            keep = true
            cap = 1 << 20
        } else if path == AuditPackage.methodologyMember {
            keep = true
            cap = 64 << 20
        } else if path.hasPrefix(AuditPackage.evidenceFolder) {
            let key = String(path.dropFirst(AuditPackage.evidenceFolder.count))
            if key == EvidenceLayout.publicKeyKey {
                keep = true
                cap = 64 << 10
            } else if EvidenceLayout.parseManifestKey(key) != nil {
                keep = true
                cap = 64 << 20
            } else if let parsed = EvidenceLayout.parseRecordKey(key), EvidenceLayout.isSafeKey(key) {
                if let records = expectedRecords[key] {
                    keep = true
                    let (bytesAllowed, overflow) = records.multipliedReportingOverflow(by: Self.maxRecordBytes)
                    cap = overflow ? Int.max : bytesAllowed + (64 << 10)
                    frameworksPresent.insert(parsed.framework)
                } else {
                    reason = "is a record file no manifest before it names"
                    frameworksPresent.insert(parsed.framework)
                }
            } else {
                reason = "is not evidence (a manifest, a record file or the public key)"
            }
        } else {
            reason = "does not belong in an audit package"
        }
        if keep, size > cap {
            keep = false
            reason = "is \(size) bytes, more than the \(cap) bytes its manifest allows"
        }
        seen.insert(path)
        if let reason {
            findings.append(.init(kind: .packageMember, key: path, message: reason))
        }
        var handle: FileHandle?
        if keep {
            let url = root.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            let fd = Glibc.open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw EvidenceFormatError("\(source): cannot unpack \(path): \(String(cString: strerror(errno)))") }
            handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        }
        let isManifest =
            path.hasPrefix(AuditPackage.evidenceFolder)
            && EvidenceLayout.parseManifestKey(String(path.dropFirst(AuditPackage.evidenceFolder.count))) != nil
        member = Member(
            path: path, handle: handle, remaining: size, padding: padding, keep: keep,
            manifestData: keep && isManifest ? Data() : nil)
    }
}

/// The methodology document of an audit package.
enum Methodology {
    static func document(
        framework: String, catalogue: Framework?, scans: [ScanManifest], samples: [String: JSONValue],
        runs: [String: [String]], from: Date?, to: Date?, controls: [String: Control]
    ) -> String {
        var out = "# Evidence methodology: \(catalogue?.name ?? framework)\n\n"
        let period = "\(from.map(EvidenceTime.string) ?? "the first scan") to \(to.map(EvidenceTime.string) ?? "the last scan")"
        out += "This package holds the automated evidence attest recorded for **\(catalogue?.title ?? framework)** from \(period): "
        out += "\(scans.count) scan(s), each listed below with its signed manifest.\n\n"
        out += """
            ## How the evidence was produced

            attest calls the cloud provider's APIs with read-only credentials, normalises every resource into an inventory,
            and evaluates each control's rule (written in CEL, the Common Expression Language) against every resource the
            control applies to. Each result becomes one record per framework requirement the control is mapped to: an OCSF
            Compliance Finding (class 2003) in JSON Lines, under
            `evidence/framework=<framework>/requirement=<requirement>/year=/month=/day=/<scan-id>.jsonl`.
            A record names the requirement, the control, the status (`pass`, `fail`, `error` when the data could not be read
            or the rule could not be evaluated, `not_applicable`, `excepted` for a failure covered by an accepted risk), the
            values the rule read (`resources[0].data`), the rule itself (`unmapped.attest.rule`), the resource, account, region,
            time and scan id. An excepted record keeps the compliance status `Fail`, is marked `Suppressed`, and names its
            exception (owner, justification, ticket, created and expiry dates) in `unmapped.attest.exception`; each scan's
            signed manifest lists the exceptions it applied.

            A control whose data could not be collected is recorded as `error`, never as `pass`.

            ## How to verify this package

            1. `attest evidence verify --package <this file>` (add `--public-key key.pem` with the key you obtained from the
               organisation independently of this package). It checks, and names precisely, any change:
               - every manifest's Ed25519 signature, and that it was made with the expected key;
               - the manifest chain: each manifest holds the SHA-256 of the one before it, so a removed scan leaves a gap;
               - every file's SHA-256 and record count against its signed manifest;
               - the hash chain inside each file: each record holds the SHA-256 of the record before it (the first, a value
                 derived from the file's path), and the last record's hash is the signed chain head. A changed, inserted,
                 deleted or reordered record is reported with its line.
            2. Without attest: each manifest in `evidence/_scans/` is signed over its content without the `signature` field,
               serialised as compact JSON with keys sorted; the public key is `evidence/\(EvidenceLayout.publicKeyKey)`
               (SubjectPublicKeyInfo PEM, readable by `openssl pkey -pubin`). `sha256sum` of each record file must equal the
               manifest's `sha256` (without the `sha256:` prefix).

            ## Scans


            """
        out +=
            "| # | scan | started | finished | accounts | records | control catalogue | configuration |\n|---|---|---|---|---|---|---|---|\n"
        for m in scans {
            let records = m.files.filter { $0.framework == framework }.reduce(0) { $0 + $1.records }
            out +=
                "| \(m.sequence) | `\(m.scanID)` | \(m.startedAt) | \(m.finishedAt) | \(m.accounts.joined(separator: ", ")) | \(records) | `\(m.controlCatalogueDigest.prefix(19))…` | `\(m.configDigest.prefix(19))…` |\n"
        }
        out += "\n## Requirements and the controls that evidence them\n\n"
        if let catalogue {
            for requirement in catalogue.requirements where runs[requirement.id] != nil {
                out += "### \(requirement.id): \(requirement.title)\n\nEvaluated in \(runs[requirement.id]!.count) scan(s). Controls: "
                out += requirement.controls.map { "`\($0)`" }.joined(separator: ", ") + ".\n\n"
            }
            let manual = catalogue.requirements.filter(\.isManual)
            if !manual.isEmpty {
                out += "Requirements with no automated control (evidence for them is gathered manually, outside attest): "
                out += manual.map(\.id).joined(separator: ", ") + ".\n\n"
            }
        }
        out += "## Controls\n\n"
        for control in samples.keys.sorted() {
            let v = samples[control]!
            let a = v["unmapped"]["attest"]
            out += "### `\(control)`: \(v["finding_info"]["title"].stringValue ?? "")\n\n"
            if let c = controls[control] {
                out += c.description.trimmingCharacters(in: .whitespacesAndNewlines) + "\n\n"
                if !c.remediation.text.isEmpty {
                    out += "Remediation: " + c.remediation.text.trimmingCharacters(in: .whitespacesAndNewlines) + "\n\n"
                }
            }
            out += "- Severity: \(a["severity"].stringValue ?? "")\n- Applies to: `\(a["resource_type"].stringValue ?? "")`\n"
            if let applies = a["applies_if"].stringValue {
                out += "- Applies if:\n\n  ```cel\n  \(applies.replacingOccurrences(of: "\n", with: "\n  "))\n  ```\n"
            }
            out +=
                "- Rule (passes when true):\n\n  ```cel\n  \((a["rule"].stringValue ?? "").replacingOccurrences(of: "\n", with: "\n  "))\n  ```\n\n"
        }
        return out
    }
}

/// POSIX ustar archives: what `tar` writes and reads.
struct TarWriter {
    var data = Data()
    let mtime = Int(Date().timeIntervalSince1970)

    mutating func add(path: String, data content: Data) {
        var header = [UInt8](repeating: 0, count: 512)
        var name = path
        var prefix = ""
        if path.utf8.count > 100,
            let cut = path.utf8.indices.lazy.filter({ path.utf8[$0] == UInt8(ascii: "/") })
                .first(where: { path.utf8.distance(from: $0, to: path.utf8.endIndex) - 1 <= 100 })
        {
            prefix = String(path[..<cut])
            name = String(path[path.index(after: cut)...])
        }
        func put(_ s: String, at offset: Int, length: Int) {
            for (i, b) in s.utf8.prefix(length).enumerated() { header[offset + i] = b }
        }
        func octal(_ n: Int, length: Int) -> String {
            let s = String(n, radix: 8)
            return String(repeating: "0", count: max(0, length - 1 - s.count)) + s
        }
        put(name, at: 0, length: 100)
        put(octal(0o644, length: 8), at: 100, length: 7)
        put(octal(0, length: 8), at: 108, length: 7)
        put(octal(0, length: 8), at: 116, length: 7)
        put(octal(content.count, length: 12), at: 124, length: 11)
        put(octal(mtime, length: 12), at: 136, length: 11)
        put("        ", at: 148, length: 8)
        header[156] = UInt8(ascii: "0")
        put("ustar", at: 257, length: 6)
        put("00", at: 263, length: 2)
        put(prefix, at: 345, length: 155)
        let checksum = header.reduce(0) { $0 + Int($1) }
        put(octal(checksum, length: 7), at: 148, length: 6)
        header[154] = 0
        header[155] = UInt8(ascii: " ")
        data.append(contentsOf: header)
        data.append(content)
        let padding = (512 - content.count % 512) % 512
        data.append(contentsOf: [UInt8](repeating: 0, count: padding))
    }

    mutating func finish() -> Data {
        data.append(contentsOf: [UInt8](repeating: 0, count: 1024))
        return data
    }
}

enum Gzip {
    static func compress(_ data: Data) throws -> Data {
        var buffer = ByteBuffer(bytes: data)
        let out = try buffer.compress(with: .gzip())
        return Data(out.readableBytesView)
    }
}
