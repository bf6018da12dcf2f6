public import AttestControls
import AttestCore
import CompressNIO
public import Foundation
import NIOCore

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

    public static func export(
        from store: any EvidenceStore, framework: String, from: Date?, to: Date?,
        frameworks: FrameworkSet?, controls: [Control] = [], now: Date = Date()
    ) async throws -> Contents {
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
        var fileCount = 0
        var recordCount = 0
        var samples: [String: JSONValue] = [:]
        var runs: [String: [String]] = [:]
        for s in manifests {
            guard let data = try await store.read(s.key) else { continue }
            tar.add(path: evidenceFolder + s.key, data: data)
            guard let m = s.manifest else { continue }
            for entry in m.files where entry.framework == framework {
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
        if let key = try await store.read(EvidenceLayout.publicKeyKey) {
            tar.add(path: evidenceFolder + EvidenceLayout.publicKeyKey, data: key)
        }
        let scans = manifests.compactMap(\.manifest)
        let description: JSONValue = [
            "format": "attest-audit-package/1", "framework": .string(framework),
            "from": from.map { .string(EvidenceTime.string($0)) } ?? .null, "to": to.map { .string(EvidenceTime.string($0)) } ?? .null,
            "created_at": .string(EvidenceTime.string(now)),
            "first_sequence": .int(Int64(first)), "last_sequence": .int(Int64(last)),
            "scans": .array(scans.map { .string($0.scanID) }), "files": .int(Int64(fileCount)), "records": .int(Int64(recordCount)),
        ]
        tar.add(path: "package.json", data: Data((description.serialized(pretty: true) + "\n").utf8))
        tar.add(
            path: "METHODOLOGY.md",
            data: Data(
                Methodology.document(
                    framework: framework, catalogue: frameworks?.framework(framework),
                    scans: scans, samples: samples, runs: runs, from: from, to: to,
                    controls: Dictionary(controls.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
                ).utf8))
        let gz = try Gzip.compress(tar.finish())
        return Contents(framework: framework, scans: scans.count, files: fileCount, records: recordCount, bytes: gz.count, data: gz)
    }

    /// Unpacks a package into `directory` and returns how to verify it.
    public static func open(_ file: URL, into directory: URL) throws -> (store: LocalEvidenceStore, framework: String) {
        let compressed: Data
        do { compressed = try Data(contentsOf: file) } catch {
            throw EvidenceFormatError("cannot read \(file.path): \(error.localizedDescription)")
        }
        let tar = try Gzip.decompress(compressed, source: file.path)
        for (path, data) in try TarReader.entries(tar, source: file.path) {
            guard !path.hasPrefix("/"), !path.split(separator: "/").contains("..") else {
                throw EvidenceFormatError("\(file.path): unsafe path \(path) in the package")
            }
            let url = directory.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try data.write(to: url)
        }
        guard let description = try? JSONValue.parse(Data(contentsOf: directory.appendingPathComponent("package.json"))),
            let framework = description["framework"].stringValue
        else {
            throw EvidenceFormatError("\(file.path): not an attest audit package (no package.json)")
        }
        return (LocalEvidenceStore(root: directory.appendingPathComponent(evidenceFolder)), framework)
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
            or the rule could not be evaluated, `not_applicable`), the values the rule read (`resources[0].data`), the rule
            itself (`unmapped.attest.rule`), the resource, account, region, time and scan id.

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

enum TarReader {
    static func entries(_ tar: Data, source: String) throws -> [(String, Data)] {
        var out: [(String, Data)] = []
        let bytes = [UInt8](tar)
        var offset = 0
        func string(_ at: Int, _ length: Int) -> String {
            let slice = bytes[at..<at + length]
            return String(decoding: slice.prefix { $0 != 0 }, as: UTF8.self)
        }
        while offset + 512 <= bytes.count {
            if bytes[offset..<offset + 512].allSatisfy({ $0 == 0 }) { break }
            let name = string(offset, 100)
            let prefix = string(offset + 345, 155)
            guard let size = Int(string(offset + 124, 12).trimmingCharacters(in: CharacterSet(charactersIn: " \0")), radix: 8),
                offset + 512 + size <= bytes.count
            else {
                throw EvidenceFormatError("\(source): damaged tar entry at byte \(offset)")
            }
            let type = bytes[offset + 156]
            if type == UInt8(ascii: "0") || type == 0 {
                out.append((prefix.isEmpty ? name : prefix + "/" + name, Data(bytes[offset + 512..<offset + 512 + size])))
            }
            offset += 512 + (size + 511) / 512 * 512
        }
        return out
    }
}

enum Gzip {
    static func compress(_ data: Data) throws -> Data {
        var buffer = ByteBuffer(bytes: data)
        let out = try buffer.compress(with: .gzip())
        return Data(out.readableBytesView)
    }

    static func decompress(_ data: Data, source: String) throws -> Data {
        var buffer = ByteBuffer(bytes: data)
        do {
            let out = try buffer.decompress(with: .gzip(), maxSize: 1 << 34)
            return Data(out.readableBytesView)
        } catch {
            throw EvidenceFormatError("\(source): not a gzip file (\(error))")
        }
    }
}
