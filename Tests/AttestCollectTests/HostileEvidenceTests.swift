import AttestCore
import AttestEvidence
import AttestTestSupport
import Foundation
import Testing

/// What a hostile probe did to the evidence commands, each pinned down: tampered packages that
/// verified, files read from outside the store, unsigned manifests believed, numbers that
/// crashed, and a decompression bomb.
@Suite("Evidence against hostile stores and packages")
struct HostileEvidenceTests {
    /// Rewrites a package with python's tarfile: `edit(name, data)` returns the new bytes, or
    /// None to drop the member; `extra` members are appended.
    static func repack(_ source: URL, into target: URL, edit: String, extra: String = "[]") async throws {
        _ = try await runProcess(
            "/usr/bin/env",
            [
                "python3", "-c",
                """
                import tarfile, io, sys, json
                src, dst = sys.argv[1], sys.argv[2]
                def edit(name, data):
                \(edit.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
                with tarfile.open(src) as t, tarfile.open(dst, "w:gz") as out:
                    for m in t.getmembers():
                        data = edit(m.name, t.extractfile(m).read())
                        if data is None: continue
                        m.size = len(data); out.addfile(m, io.BytesIO(data))
                    for name, text in \(extra):
                        info = tarfile.TarInfo(name); data = text.encode(); info.size = len(data); out.addfile(info, io.BytesIO(data))
                """, source.path, target.path,
            ])
    }

    static func package(_ base: EvidenceTests.Base) async throws -> URL {
        let package = try TestPaths.temporaryDirectory("hostile-package").appendingPathComponent("soc2.tar.gz")
        let export = try await Attest.run([
            "evidence", "export", "--evidence", base.store.path, "--framework", "soc2", "--out", package.path,
        ])
        #expect(export.status == 0, "\(export.stderr)")
        return package
    }

    @Test func nothingUnsignedDecidesWhatAPackageVerifies() async throws {
        let base = try await EvidenceTests.shared.value
        let package = try await Self.package(base)
        // Failures flipped to passes, and package.json's framework changed to every value the probe used.
        for framework in ["SOC2", "", "nonexistent", "../../../../etc"] {
            let tampered = package.deletingLastPathComponent().appendingPathComponent("tampered-\(UUID().uuidString.prefix(6)).tar.gz")
            try await Self.repack(
                package, into: tampered,
                edit: """
                    if name.endswith(".jsonl"): return data.replace(b'"result":"fail"', b'"result":"pass"')
                    if name == "package.json":
                        d = json.loads(data); d["framework"] = \(JSONValue.string(framework).serialized()); return json.dumps(d).encode()
                    return data
                    """)
            let (status, report) = try await EvidenceTests.verify(["--package", tampered.path, "--public-key", base.publicKey.path])
            #expect(status == 1, "framework \(framework.debugDescription): \(report)")
            #expect(report["intact"] == false)
            let kinds = Set(EvidenceTests.findings(report).map(\.kind))
            #expect(kinds.contains("record-changed"), "framework \(framework.debugDescription): \(kinds)")
            #expect(kinds.contains("package-member"), "package.json's framework must be called out: \(kinds)")
        }
        // A member no manifest accounts for is a finding.
        let extra = package.deletingLastPathComponent().appendingPathComponent("extra.tar.gz")
        try await Self.repack(package, into: extra, edit: "return data", extra: #"[("evidence/notes.txt", "trust me")]"#)
        let (extraStatus, extraReport) = try await EvidenceTests.verify(["--package", extra.path, "--public-key", base.publicKey.path])
        #expect(extraStatus == 1)
        #expect(EvidenceTests.findings(extraReport).contains { $0.kind == "package-member" && $0.key == "evidence/notes.txt" })
        // A package whose every record file was removed verifies nothing: never OK.
        let empty = package.deletingLastPathComponent().appendingPathComponent("empty.tar.gz")
        try await Self.repack(package, into: empty, edit: #"return None if name.endswith(".jsonl") else data"#)
        let (emptyStatus, emptyReport) = try await EvidenceTests.verify(["--package", empty.path, "--public-key", base.publicKey.path])
        #expect(emptyStatus == 1)
        #expect(EvidenceTests.findings(emptyReport).contains { $0.kind == "no-evidence" || $0.kind == "file-deleted" })
        // The headline says the verdict first; the key inside the package proves integrity only.
        let table = try await Attest.run(["evidence", "verify", "--package", empty.path])
        #expect(table.stdout.hasPrefix("FAILED:"), "\(table.stdout.prefix(300))")
        let honest = try await Attest.run(["evidence", "verify", "--package", package.path])
        #expect(honest.status == 0)
        #expect(honest.stdout.hasPrefix("OK:"))
        #expect(honest.stdout.contains("proves the package is intact, not who made it"))
    }

    @Test func aDecompressionBombStopsAtItsCap() async throws {
        let dir = try TestPaths.temporaryDirectory("bomb")
        let bomb = dir.appendingPathComponent("bomb.tar.gz")
        _ = try await runProcess(
            "/usr/bin/env",
            [
                "python3", "-c",
                """
                import tarfile, io, sys
                class Zeros(io.RawIOBase):
                    def __init__(self, n): self.left = n
                    def readinto(self, b):
                        n = min(len(b), self.left); b[:n] = bytes(n); self.left -= n; return n
                size = 300 << 20
                with tarfile.open(sys.argv[1], "w:gz", compresslevel=1) as out:
                    info = tarfile.TarInfo("package.json"); data = b'{"framework": "soc2"}'; info.size = len(data); out.addfile(info, io.BytesIO(data))
                    info = tarfile.TarInfo("METHODOLOGY.md"); info.size = size; out.addfile(info, Zeros(size))
                """, bomb.path,
            ])
        let r = try await Attest.run(["evidence", "verify", "--package", bomb.path])
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("decompression bomb") || r.stderr.contains("more than"), "\(r.stderr)")
    }

    @Test func exportAndVerifyNeverReadOutsideTheStore() async throws {
        let base = try await EvidenceTests.shared.value
        // 1. A manifest (even an unsigned one) listing a path outside the store.
        let store = try EvidenceTests.copy(base)
        var third = try EvidenceTests.manifest(store, 2)
        if case .object(var o) = third {
            o["sequence"] = 3
            var files = o["files"]!.asList
            if case .object(var f) = files[0] {
                f["key"] = "../../../../../../etc/passwd"
                f["framework"] = "soc2"
                files[0] = .object(f)
            }
            o["files"] = .array(files)
            third = .object(o)
        }
        try Data(third.serialized(pretty: true).utf8).write(to: store.appendingPathComponent(EvidenceLayout.manifestKey(sequence: 3)))
        let out = store.deletingLastPathComponent().appendingPathComponent("out.tar.gz")
        let refused = try await Attest.run(["evidence", "export", "--evidence", store.path, "--framework", "soc2", "--out", out.path])
        #expect(refused.status == 1, "\(refused.stderr)")
        #expect(refused.stderr.contains("does not verify"))
        let anyway = try await Attest.run([
            "evidence", "export", "--evidence", store.path, "--framework", "soc2", "--out", out.path, "--allow-unverified",
        ])
        #expect(anyway.status == 0, "\(anyway.stderr)")
        let listing = try await runProcess("/usr/bin/env", ["tar", "tzf", out.path])
        #expect(!listing.contains("passwd") && !listing.contains(".."), "\(listing)")
        let everything = try await runProcess("/usr/bin/env", ["tar", "xzOf", out.path])
        #expect(!everything.contains("root:x:0:0"), "the real /etc/passwd was packed")
        let (_, report) = try await EvidenceTests.verify(["--evidence", store.path])
        #expect(EvidenceTests.findings(report).contains { $0.kind == "unsafe-entry" && $0.key.contains("passwd") })

        // 2. An evidence file replaced by a link to the signing key; 3. the public key linked to /etc/passwd.
        let linked = try EvidenceTests.copy(base)
        let (key, url, _) = try EvidenceTests.target(linked)
        try FileManager.default.removeItem(at: url)
        try FileManager.default.createSymbolicLink(atPath: url.path, withDestinationPath: base.key)
        let publicKey = linked.appendingPathComponent(EvidenceLayout.publicKeyKey)
        try FileManager.default.removeItem(at: publicKey)
        try FileManager.default.createSymbolicLink(atPath: publicKey.path, withDestinationPath: "/etc/passwd")
        let linkedOut = linked.deletingLastPathComponent().appendingPathComponent("linked.tar.gz")
        let linkedExport = try await Attest.run([
            "evidence", "export", "--evidence", linked.path, "--framework", "soc2", "--out", linkedOut.path, "--allow-unverified",
            "--public-key", base.publicKey.path,
        ])
        #expect(linkedExport.status == 0, "\(linkedExport.stderr)")
        let packed = try await runProcess("/usr/bin/env", ["tar", "xzOf", linkedOut.path])
        #expect(!packed.contains("PRIVATE KEY"), "the private key was packed")
        #expect(!packed.contains("root:x:0:0"), "/etc/passwd was packed")
        let (status, linkedReport) = try await EvidenceTests.verify(["--evidence", linked.path, "--public-key", base.publicKey.path])
        #expect(status == 1)
        #expect(EvidenceTests.findings(linkedReport).contains { $0.kind == "unsafe-entry" && $0.key == key }, "\(linkedReport)")
    }

    @Test func readingCommandsRefuseWhatDoesNotVerify() async throws {
        let base = try await EvidenceTests.shared.value
        // Flipped statuses in a record file: query refuses, unless told, and then marks the rows.
        let store = try EvidenceTests.copy(base)
        var (_, url, lines) = try EvidenceTests.target(store)
        lines = lines.map { $0.replacingOccurrences(of: "\"result\":\"fail\"", with: "\"result\":\"pass\"") }
        try EvidenceTests.write(lines, to: url)
        let query = try await Attest.run(["evidence", "query", "--evidence", store.path, "--framework", "soc2", "--format", "json"])
        #expect(query.status == 1, "\(query.stdout.prefix(200))")
        #expect(query.stderr.contains("does not verify"))
        let marked = try await Attest.run([
            "evidence", "query", "--evidence", store.path, "--framework", "soc2", "--format", "json", "--allow-unverified",
        ])
        #expect(marked.status == 0)
        #expect(marked.stderr.contains("UNVERIFIED"))
        let rows = try JSONValue.parse(Data(marked.stdout.utf8)).asList
        #expect(rows.contains { $0["verified"] == false } && rows.contains { $0["verified"] == true })

        // Edited counts in a manifest whose signature no longer verifies: summary refuses.
        let summaryStore = try EvidenceTests.copy(base)
        let manifestURL = summaryStore.appendingPathComponent(EvidenceLayout.manifestKey(sequence: 2))
        let text = try String(contentsOf: manifestURL, encoding: .utf8).replacingOccurrences(of: "\"fail\": ", with: "\"pass\": ")
        try text.write(to: manifestURL, atomically: true, encoding: .utf8)
        let summary = try await Attest.run(["evidence", "summary", "--evidence", summaryStore.path, "--framework", "soc2"])
        #expect(summary.status == 1, "\(summary.stdout.prefix(300))")
        #expect(summary.stderr.contains("bad-signature"))
    }

    @Test func numbersInAManifestCannotCrashOrHang() async throws {
        let base = try await EvidenceTests.shared.value
        let store = try EvidenceTests.copy(base)
        let url = store.appendingPathComponent(EvidenceLayout.manifestKey(sequence: 2))
        var manifest = try JSONValue.parse(Data(contentsOf: url))
        if case .object(var o) = manifest {
            var files = o["files"]!.asList
            for i in 0..<2 {
                if case .object(var f) = files[i] {
                    f["records"] = .int(4_611_686_018_427_387_904)
                    files[i] = .object(f)
                }
            }
            o["files"] = .array(files)
            manifest = .object(o)
        }
        try Data(manifest.serialized(pretty: true).utf8).write(to: url)
        let out = store.deletingLastPathComponent().appendingPathComponent("n.tar.gz")
        for args in [
            ["evidence", "verify", "--evidence", store.path], ["evidence", "query", "--evidence", store.path],
            ["evidence", "summary", "--evidence", store.path],
            ["evidence", "export", "--evidence", store.path, "--framework", "soc2", "--out", out.path],
        ] {
            let r = try await Attest.run(args)
            #expect(r.status == 1, "\(args[1]): status \(r.status): \(r.stderr.suffix(300))")
        }
    }

    @Test func aFolderThatIsNotAStoreAndAStoreWithoutScansAreNeverOK() async throws {
        let empty = try TestPaths.temporaryDirectory("not-a-store")
        try "hello".write(to: empty.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
        let notAStore = try await Attest.run(["evidence", "verify", "--evidence", empty.path])
        #expect(notAStore.status == 2)
        #expect(notAStore.stderr.contains("is not an evidence store"), "\(notAStore.stderr)")
        let base = try await EvidenceTests.shared.value
        let gutted = try EvidenceTests.copy(base)
        for item in try FileManager.default.contentsOfDirectory(atPath: gutted.path) where item != "_keys" {
            try FileManager.default.removeItem(at: gutted.appendingPathComponent(item))
        }
        let (status, report) = try await EvidenceTests.verify(["--evidence", gutted.path, "--public-key", base.publicKey.path])
        #expect(status == 1)
        #expect(EvidenceTests.findings(report).contains { $0.kind == "no-evidence" })
    }
}
