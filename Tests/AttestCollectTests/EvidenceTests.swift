import AttestCore
import AttestEvidence
import AttestTestSupport
import Foundation
import Testing

/// Evidence written by real scans of the seeded moto account: verification of the untouched
/// store, every kind of tampering named precisely, OCSF validity, DuckDB reading the partitions,
/// queries, audit packages, a scan killed mid-way, concurrent scans and S3 with Object Lock.
@Suite("Evidence from scans of the seeded moto account")
struct EvidenceTests {
    struct Base: Sendable {
        let dir: URL
        let store: URL
        let key: String
        let publicKey: URL
        let env: SeededMoto
    }

    static func credentials(_ env: SeededMoto) -> [String: String] {
        ["AWS_ENDPOINT_URL": env.moto.endpoint, "AWS_ACCESS_KEY_ID": "AKIAEVIDENCE00000001", "AWS_SECRET_ACCESS_KEY": "evidence-test"]
    }

    static func scan(_ env: SeededMoto, evidence: String, key: String, extra: [String] = []) async throws -> ProcessResult {
        try await Attest.run(
            [
                "scan", "aws", "--regions", "us-east-1", "--quiet", "--fail-on", "never", "--format", "json",
                "--output", FileManager.default.temporaryDirectory.appendingPathComponent("evidence-scan-\(UUID().uuidString).json").path,
                "--evidence", evidence, "--signing-key", key,
            ] + extra,
            environment: credentials(env))
    }

    /// Two scans into one store, signed with a key made by `attest evidence keygen`.
    static let shared = Task<Base, any Error> {
        let env = try await SeededMoto.shared.value
        let dir = try TestPaths.temporaryDirectory("evidence")
        let key = dir.appendingPathComponent("signing.key").path
        let keygen = try await Attest.run(["evidence", "keygen", "--out", key])
        guard keygen.status == 0 else { throw TestPeerError("keygen: \(keygen.stderr)") }
        let publicKey = dir.appendingPathComponent("public.pem")
        try Data(keygen.stdout.utf8).write(to: publicKey)
        let store = dir.appendingPathComponent("evidence")
        for _ in 0..<2 {
            let r = try await scan(env, evidence: store.path, key: key)
            guard r.status == 3 || r.status == 0 else { throw TestPeerError("scan exited \(r.status): \(r.stderr)") }
        }
        return Base(dir: dir, store: store, key: key, publicKey: publicKey, env: env)
    }

    static func copy(_ base: Base) throws -> URL {
        let target = try TestPaths.temporaryDirectory("evidence-copy").appendingPathComponent("evidence")
        try FileManager.default.copyItem(at: base.store, to: target)
        return target
    }

    static func verify(_ args: [String]) async throws -> (status: Int32, report: JSONValue) {
        let r = try await Attest.run(["evidence", "verify", "--format", "json"] + args)
        return (r.status, (try? JSONValue.parse(r.stdout)) ?? ["stderr": .string(r.stderr)])
    }

    static func manifest(_ store: URL, _ sequence: Int) throws -> JSONValue {
        try JSONValue.parse(Data(contentsOf: store.appendingPathComponent(EvidenceLayout.manifestKey(sequence: sequence))))
    }

    /// The SOC 2 CC6.1 file of the second scan: many records, from several controls.
    static func target(_ store: URL) throws -> (key: String, url: URL, lines: [String]) {
        let entry = try #require(manifest(store, 2)["files"].asList.first { $0["framework"] == "soc2" && $0["requirement"] == "CC6.1" })
        let key = try #require(entry["key"].stringValue)
        let url = store.appendingPathComponent(key)
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map(String.init)
        return (key, url, lines)
    }

    static func write(_ lines: [String], to url: URL) throws {
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: url)
    }

    static func findings(_ report: JSONValue) -> [(kind: String, key: String, message: String)] {
        report["findings"].asList.map { ($0["kind"].stringValue ?? "", $0["key"].stringValue ?? "", $0["message"].stringValue ?? "") }
    }

    @Test func anUntouchedStoreVerifies() async throws {
        let base = try await Self.shared.value
        let (status, report) = try await Self.verify(["--evidence", base.store.path, "--public-key", base.publicKey.path])
        #expect(status == 0, "\(report)")
        #expect(report["intact"] == true)
        #expect(report["scans"] == 2)
        let records = try (1...2).reduce(Int64(0)) { $0 + (try Self.manifest(base.store, $1)["records"].intValue ?? 0) }
        #expect(records > 500)
        #expect(report["records"].intValue == records)
        #expect(report["incomplete"].asList.isEmpty)
        // The manifests chain: the second names the digest of the first.
        let second = try Self.manifest(base.store, 2)
        let firstBytes = try Data(contentsOf: base.store.appendingPathComponent(EvidenceLayout.manifestKey(sequence: 1)))
        #expect(second["previous"]["sha256"].stringValue == EvidenceDigest.bytes(firstBytes))
    }

    @Test func aChangedRecordIsNamedByLine() async throws {
        let store = try Self.copy(try await Self.shared.value)
        var (key, url, lines) = try Self.target(store)
        let original = lines[1]
        lines[1] =
            original.contains("\"result\":\"fail\"")
            ? original.replacingOccurrences(of: "\"result\":\"fail\"", with: "\"result\":\"pass\"")
            : original.replacingOccurrences(of: "\"result\":\"", with: "\"result\":\"x")
        #expect(lines[1] != original)
        try Self.write(lines, to: url)
        let (status, report) = try await Self.verify(["--evidence", store.path])
        #expect(status == 1)
        let f = Self.findings(report)
        #expect(f.contains { $0.kind == "record-changed" && $0.key == key && $0.message.contains("line 2 (record 1) was changed") }, "\(f)")
    }

    @Test func anInsertedRecordIsNamed() async throws {
        let store = try Self.copy(try await Self.shared.value)
        var (key, url, lines) = try Self.target(store)
        lines.insert(lines[0], at: 2)
        try Self.write(lines, to: url)
        let f = Self.findings(try await Self.verify(["--evidence", store.path]).report)
        #expect(f.contains { $0.kind == "record-inserted" && $0.key == key && $0.message.contains("line 3 repeats record 0") }, "\(f)")
    }

    @Test func aDeletedRecordIsNamed() async throws {
        let store = try Self.copy(try await Self.shared.value)
        var (key, url, lines) = try Self.target(store)
        let count = lines.count
        lines.remove(at: 1)
        try Self.write(lines, to: url)
        let (status, report) = try await Self.verify(["--evidence", store.path])
        #expect(status == 1)
        let f = Self.findings(report)
        #expect(f.contains { $0.kind == "record-deleted" && $0.key == key && $0.message.contains("record 1 of \(count) missing") }, "\(f)")
    }

    @Test func reorderedRecordsAreNamed() async throws {
        let store = try Self.copy(try await Self.shared.value)
        var (key, url, lines) = try Self.target(store)
        lines.swapAt(1, 2)
        try Self.write(lines, to: url)
        let f = Self.findings(try await Self.verify(["--evidence", store.path]).report)
        #expect(
            f.contains {
                $0.kind == "record-reordered" && $0.key == key && $0.message.contains("line 2 holds record 2 before line 3 with record 1")
            }, "\(f)")
    }

    @Test func aDeletedFileIsNamed() async throws {
        let store = try Self.copy(try await Self.shared.value)
        let (key, url, _) = try Self.target(store)
        try FileManager.default.removeItem(at: url)
        let (status, report) = try await Self.verify(["--evidence", store.path])
        #expect(status == 1)
        #expect(Self.findings(report).contains { $0.kind == "file-deleted" && $0.key == key })
    }

    @Test func anAddedFileIsNamed() async throws {
        let store = try Self.copy(try await Self.shared.value)
        let (key, url, _) = try Self.target(store)
        let forged = key.replacingOccurrences(of: "requirement=cc6.1", with: "requirement=cc9.9")
        try FileManager.default.createDirectory(
            at: store.appendingPathComponent(forged).deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: url, to: store.appendingPathComponent(forged))
        let (status, report) = try await Self.verify(["--evidence", store.path])
        #expect(status == 1)
        #expect(Self.findings(report).contains { $0.kind == "file-added" && $0.key == forged }, "\(Self.findings(report))")
    }

    @Test func aDeletedScanLeavesAGapInTheManifestChain() async throws {
        let store = try Self.copy(try await Self.shared.value)
        try FileManager.default.removeItem(at: store.appendingPathComponent(EvidenceLayout.manifestKey(sequence: 1)))
        let (status, report) = try await Self.verify(["--evidence", store.path])
        #expect(status == 1)
        let f = Self.findings(report)
        #expect(f.contains { $0.kind == "scan-deleted" && $0.message.contains("manifest 1 missing") }, "\(f)")
        // Its files are now accounted for by no signed manifest.
        #expect(f.contains { $0.kind == "file-added" })
    }

    @Test func anEditedManifestFailsItsSignature() async throws {
        let store = try Self.copy(try await Self.shared.value)
        let (key, url, lines) = try Self.target(store)
        // The attacker changes a record and puts the file's new digest into the manifest.
        var changed = lines
        changed[0] = changed[0].replacingOccurrences(of: "\"result\":\"", with: "\"result\":\"x")
        try Self.write(changed, to: url)
        let manifestURL = store.appendingPathComponent(EvidenceLayout.manifestKey(sequence: 2))
        let text = try String(contentsOf: manifestURL, encoding: .utf8)
        let entry = try #require(try Self.manifest(store, 2)["files"].asList.first { $0["key"].stringValue == key })
        let newDigest = EvidenceDigest.bytes(try Data(contentsOf: url))
        try Data(text.replacingOccurrences(of: entry["sha256"].stringValue!, with: newDigest).utf8).write(to: manifestURL)
        let (status, report) = try await Self.verify(["--evidence", store.path])
        #expect(status == 1)
        #expect(
            Self.findings(report).contains { $0.kind == "bad-signature" && $0.key == EvidenceLayout.manifestKey(sequence: 2) },
            "\(Self.findings(report))")
    }

    @Test func aManifestSignedWithAnotherKeyIsNamed() async throws {
        let base = try await Self.shared.value
        let store = try Self.copy(base)
        let manifestURL = store.appendingPathComponent(EvidenceLayout.manifestKey(sequence: 2))
        var manifest = try ScanManifest(data: Data(contentsOf: manifestURL), key: "m")
        let other = EvidenceSigningKey()
        try manifest.signed(with: other).write(to: manifestURL)
        let f = Self.findings(try await Self.verify(["--evidence", store.path]).report)
        #expect(f.contains { $0.kind == "different-key" && $0.message.contains(other.publicKey.id) }, "\(f)")

        // Replacing the stored public key too is caught against the key the auditor holds.
        try Data(other.publicKey.pem.utf8).write(to: store.appendingPathComponent(EvidenceLayout.publicKeyKey))
        let (status, report) = try await Self.verify(["--evidence", store.path, "--public-key", base.publicKey.path])
        #expect(status == 1)
        #expect(Self.findings(report).contains { $0.kind == "different-key" && $0.key == EvidenceLayout.publicKeyKey })
    }

    @Test func everyRecordIsValidOCSF() async throws {
        let base = try await Self.shared.value
        let out = try await runProcessCapturing(
            "/usr/bin/env",
            [
                "python3", TestPaths.repository.appendingPathComponent("Tests/Support/evidence/validate_ocsf.py").path,
                base.store.path,
            ])
        #expect(out.status == 0, "\(out.stdout.prefix(2000)) \(out.stderr.suffix(1000))")
        let summary = try JSONValue.parse(out.stdout)
        #expect(summary["invalid"].asList.isEmpty)
        let (_, report) = try await Self.verify(["--evidence", base.store.path])
        #expect(summary["records"] == report["records"])
    }

    @Test func duckDBReadsThePartitionsWithTheSameCounts() async throws {
        let base = try await Self.shared.value
        let out = try await runProcess(
            "/usr/bin/env",
            [
                "python3", TestPaths.repository.appendingPathComponent("Tests/Support/evidence/duckdb_counts.py").path,
                base.store.path,
            ])
        var duck: [String: Int64] = [:]
        for row in try JSONValue.parse(out).asList {
            duck["\(row["framework"].stringValue!)/\(row["requirement"].stringValue!)/\(row["status"].stringValue ?? "")", default: 0] +=
                row["count"].intValue ?? 0
        }
        let query = try await Attest.run(["evidence", "query", "--evidence", base.store.path, "--format", "json"])
        #expect(query.status == 0, "\(query.stderr)")
        let ocsfStatus = ["pass": "Pass", "fail": "Fail", "error": "Error", "not_applicable": "Not Applicable"]
        var attest: [String: Int64] = [:]
        for row in try JSONValue.parse(query.stdout).asList {
            let key =
                "\(row["framework"].stringValue!)/\(EvidenceLayout.slug(row["requirement"].stringValue!))/\(ocsfStatus[row["status"].stringValue!]!)"
            attest[key, default: 0] += 1
        }
        #expect(!duck.isEmpty)
        #expect(duck == attest)
    }

    @Test func queryNarrowsByFrameworkRequirementStatusAndPeriod() async throws {
        let base = try await Self.shared.value
        var expected: Int64 = 0
        for sequence in 1...2 {
            for f in try Self.manifest(base.store, sequence)["files"].asList where f["framework"] == "soc2" && f["requirement"] == "CC6.1" {
                expected += f["counts"]["fail"].intValue ?? 0
            }
        }
        #expect(expected > 0)
        let r = try await Attest.run([
            "evidence", "query", "--evidence", base.store.path, "--framework", "soc2", "--requirement", "cc6.1",
            "--status", "fail", "--format", "csv",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = r.stdout.split(separator: "\n").dropFirst()
        #expect(Int64(rows.count) == expected)
        #expect(rows.allSatisfy { $0.contains(",soc2,CC6.1,") && $0.contains(",fail,") })
        #expect(rows.contains { $0.contains("arn:aws:iam::\(base.env.account):user/bob") })
        // A period before any scan has nothing.
        let empty = try await Attest.run([
            "evidence", "query", "--evidence", base.store.path, "--from", "2020-01-01", "--to", "2020-12-31", "--format", "json",
        ])
        #expect(try JSONValue.parse(empty.stdout).asList.isEmpty)
        let summary = try await Attest.run([
            "evidence", "summary", "--evidence", base.store.path, "--framework", "soc2", "--format", "json",
        ])
        let cc61 = try #require(try JSONValue.parse(summary.stdout).asList.first { $0["requirement"] == "CC6.1" })
        #expect(cc61["scans"] == 2)
        #expect(cc61["failing"] == 2)
        #expect(cc61["failing_at_end"] == true)
    }

    @Test func anAuditPackageVerifiesAndATamperedOneDoesNot() async throws {
        let base = try await Self.shared.value
        let dir = try TestPaths.temporaryDirectory("package")
        let package = dir.appendingPathComponent("soc2.tar.gz")
        let export = try await Attest.run([
            "evidence", "export", "--evidence", base.store.path, "--framework", "soc2", "--out", package.path,
        ])
        #expect(export.status == 0, "\(export.stderr)")
        let (status, report) = try await Self.verify(["--package", package.path, "--public-key", base.publicKey.path])
        #expect(status == 0, "\(report)")
        #expect(report["scans"] == 2)
        // Holds only SOC 2 files, with the methodology and the key, readable by tar.
        let listing = try await runProcess("/usr/bin/env", ["tar", "tzf", package.path])
        #expect(
            listing.contains("METHODOLOGY.md") && listing.contains("evidence/_keys/") && listing.contains("evidence/_scans/0000000002.json")
        )
        #expect(listing.contains("framework=soc2/") && !listing.contains("framework=iso27001/"))
        let methodology = try await runProcess("/usr/bin/env", ["tar", "xzOf", package.path, "METHODOLOGY.md"])
        #expect(methodology.contains("aws-s3-bucket-not-public") && methodology.contains("How to verify"))

        // Change one record inside the package and pack it again.
        let tampered = dir.appendingPathComponent("tampered.tar.gz")
        _ = try await runProcess(
            "/usr/bin/env",
            [
                "python3", "-c",
                """
                import tarfile, io, sys
                src, dst = sys.argv[1], sys.argv[2]
                with tarfile.open(src) as t, tarfile.open(dst, "w:gz") as out:
                    done = False
                    for m in t.getmembers():
                        data = t.extractfile(m).read()
                        if not done and m.name.endswith(".jsonl"):
                            data = data.replace(b'"result":"', b'"result":"x', 1); done = True
                        m.size = len(data); out.addfile(m, io.BytesIO(data))
                """, package.path, tampered.path,
            ])
        let (badStatus, badReport) = try await Self.verify(["--package", tampered.path])
        #expect(badStatus == 1)
        #expect(Self.findings(badReport).contains { $0.kind == "record-changed" })
    }

    @Test func aScanKilledMidwayLeavesEarlierEvidenceVerifiableAndShowsIncomplete() async throws {
        let base = try await Self.shared.value
        let store = try Self.copy(base)
        let process = Process()
        process.executableURL = TestPaths.attestBinary
        process.arguments = [
            "scan", "aws", "--quiet", "--fail-on", "never", "--output",
            store.deletingLastPathComponent().appendingPathComponent("killed.txt").path,
            "--evidence", store.path,
            "--signing-key", base.key,
        ]
        var environment = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": "/nonexistent",
            "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        ]
        environment.merge(Self.credentials(base.env)) { _, new in new }
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let pending = store.appendingPathComponent(EvidenceLayout.pendingPrefix)
        let deadline = Date().addingTimeInterval(30)
        var marker: String?
        while Date() < deadline, marker == nil, process.isRunning {
            marker = (try? FileManager.default.contentsOfDirectory(atPath: pending.path))?.first { $0.hasSuffix(".json") }
            if marker == nil { usleep(2_000) }
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let scanID = try #require(marker).replacingOccurrences(of: ".json", with: "")
        #expect(process.terminationReason == .uncaughtSignal)
        #expect(!FileManager.default.fileExists(atPath: store.appendingPathComponent(EvidenceLayout.manifestKey(sequence: 3)).path))

        let (status, report) = try await Self.verify(["--evidence", store.path])
        #expect(status == 0, "\(report)")
        #expect(report["scans"] == 2)
        #expect(report["incomplete"].asList.contains { $0["scan_id"].stringValue == scanID })
        let table = try await Attest.run(["evidence", "verify", "--evidence", store.path])
        #expect(table.stdout.contains("INCOMPLETE scan \(scanID)"))
        // The next scan goes on from there.
        #expect(try await Self.scan(base.env, evidence: store.path, key: base.key).status != 2)
        #expect(try await Self.verify(["--evidence", store.path]).report["scans"] == 3)
    }

    @Test func concurrentScansIntoOneStoreChainWithoutCorruption() async throws {
        let base = try await Self.shared.value
        let store = try TestPaths.temporaryDirectory("evidence-concurrent").appendingPathComponent("evidence")
        async let a = Task.detached { try await Self.scan(base.env, evidence: store.path, key: base.key) }.value
        async let b = Task.detached { try await Self.scan(base.env, evidence: store.path, key: base.key) }.value
        let (ra, rb) = try await (a, b)
        #expect(ra.status != 2 && rb.status != 2, "\(ra.stderr) \(rb.stderr)")
        let (status, report) = try await Self.verify(["--evidence", store.path])
        #expect(status == 0, "\(report)")
        #expect(report["scans"] == 2)
        let second = try Self.manifest(store, 2)
        #expect(second["previous"]["sequence"] == 1)
        #expect(try Self.manifest(store, 1)["scan_id"] != second["scan_id"])
    }

    @Test func s3EvidenceIsLockedAndReadBack() async throws {
        let base = try await Self.shared.value
        // An emulator of its own, so the evidence bucket does not change the seeded account the
        // other suites assert on; the scan reads this (empty) account and writes into its bucket.
        let moto = try await MotoServer.start()
        defer { moto.stop() }
        let bucket = "attest-evidence-\(UUID().uuidString.prefix(8).lowercased())"
        try await moto.python(
            """
            client("s3").create_bucket(Bucket="\(bucket)", ObjectLockEnabledForBucket=True)
            """)
        let dir = try TestPaths.temporaryDirectory("evidence-s3")
        let config = dir.appendingPathComponent("attest.yaml")
        try Data("evidence:\n  retention_days: 2\n  region: us-east-1\n".utf8).write(to: config)
        let destination = "s3://\(bucket)/team-a"
        let env = ["AWS_ENDPOINT_URL": moto.endpoint, "AWS_ACCESS_KEY_ID": "AKIAEVIDENCE00000002", "AWS_SECRET_ACCESS_KEY": "evidence-s3"]
        let scan = try await Attest.run(
            [
                "scan", "aws", "--regions", "us-east-1", "--quiet", "--fail-on", "never", "--format", "json",
                "--output", FileManager.default.temporaryDirectory.appendingPathComponent("evidence-s3-\(UUID().uuidString).json").path,
                "--evidence", destination, "--signing-key", base.key, "--config", config.path,
            ], environment: env)
        #expect(scan.status == 0 || scan.status == 3, "\(scan.stderr)")
        #expect(scan.stderr.contains("signed manifest s3://\(bucket)/team-a/_scans/0000000001.json"), "\(scan.stderr)")

        var verify = try await Attest.run(
            ["evidence", "verify", "--evidence", destination, "--format", "json", "--config", config.path], environment: env)
        #expect(verify.status == 0, "\(verify.stdout.prefix(1000)) \(verify.stderr)")
        let records = try JSONValue.parse(verify.stdout)["records"].intValue ?? 0
        #expect(records > 50)
        let query = try await Attest.run(
            [
                "evidence", "query", "--evidence", destination, "--framework", "soc2", "--format", "json",
                "--config", config.path,
            ], environment: env)
        #expect(query.status == 0)
        #expect(!(try JSONValue.parse(query.stdout).asList.isEmpty))

        // Locked: COMPLIANCE mode until two days from now; the version cannot be deleted, and an
        // overwrite only adds a version (which verify then reports).
        let outcome = try await moto.python(
            """
            import datetime
            s3 = client("s3")
            keys = [o["Key"] for o in s3.list_objects_v2(Bucket="\(bucket)", Prefix="team-a/framework=soc2/")["Contents"]]
            key = keys[0]
            head = s3.head_object(Bucket="\(bucket)", Key=key)
            until = head["ObjectLockRetainUntilDate"]
            days = (until - datetime.datetime.now(datetime.timezone.utc)).total_seconds() / 86400
            version = head["VersionId"]
            try:
                s3.delete_object(Bucket="\(bucket)", Key=key, VersionId=version)
                deleted = "deleted"
            except Exception as e:
                deleted = e.response["Error"]["Code"]
            s3.put_object(Bucket="\(bucket)", Key=key, Body=b'{"forged": true}\\n', ChecksumAlgorithm="SHA256")
            versions = [v["VersionId"] for v in s3.list_object_versions(Bucket="\(bucket)", Prefix=key)["Versions"]]
            print(json.dumps({"mode": head["ObjectLockMode"], "days": days, "delete": deleted, "kept": version in versions,
                              "checksum": "x-amz-checksum-sha256" in str(s3.head_object(Bucket="\(bucket)", Key=key, VersionId=version, ChecksumMode="ENABLED"))}))
            """)
        let o = try JSONValue.parse(outcome)
        #expect(o["mode"] == "COMPLIANCE")
        #expect((1.9...2.01).contains(o["days"].stringValue.flatMap(Double.init) ?? 0))
        #expect(o["delete"] == "AccessDenied")
        #expect(o["kept"] == true)
        #expect(o["checksum"] == true)
        verify = try await Attest.run(
            ["evidence", "verify", "--evidence", destination, "--format", "json", "--config", config.path], environment: env)
        #expect(verify.status == 1)
        #expect(
            try JSONValue.parse(verify.stdout)["findings"].asList.contains {
                $0["kind"] == "record-inserted" || $0["kind"] == "record-deleted"
            })
    }
}

/// The per-requirement audit-period view, over manifests with known outcomes.
@Suite("Evidence summary")
struct EvidenceSummaryTests {
    func manifest(_ sequence: Int, hoursAfterStart hours: Double, counts: [String: Int]) -> ScanManifest {
        let start = Date(timeIntervalSince1970: 1_767_225_600 + hours * 3600)
        return ScanManifest(
            sequence: sequence, scanID: "s\(sequence)", startedAt: start, finishedAt: start, toolVersion: "t", provider: "aws",
            accounts: ["1"], frameworks: ["soc2"], controlCatalogueDigest: "", configDigest: "",
            files: [
                .init(key: "k\(sequence)", framework: "soc2", requirement: "CC6.1", records: 1, sha256: "", chainHead: "", counts: counts)
            ],
            previous: nil, keyID: "")
    }

    @Test func unmappedAndNotEvaluatedControlsAreSignedWithTheManifest() throws {
        let key = EvidenceSigningKey()
        var m = manifest(1, hoursAfterStart: 0, counts: ["pass": 1])
        let plain = try m.signed(with: key)
        #expect(!String(decoding: plain, as: UTF8.self).contains("unmapped_controls"))  // absent when empty
        m.unmappedControls = ["team-guardrail": ["fail": 2, "pass": 1]]
        m.notEvaluated = ["aws-cloudtrail-multi-region-enabled": "service cloudtrail was not scanned"]
        let data = try m.signed(with: key)
        let parsed = try ScanManifest(data: data, key: "m")
        #expect(parsed.isSigned(by: key.publicKey))
        #expect(parsed.unmappedControls == m.unmappedControls && parsed.notEvaluated == m.notEvaluated)
        // Editing either is editing what was signed.
        for (from, to) in [("\"fail\": 2", "\"fail\": 0"), ("was not scanned", "was scanned")] {
            let text = String(decoding: data, as: UTF8.self)
            #expect(text.contains(from), "\(from)")
            let edited = try ScanManifest(data: Data(text.replacingOccurrences(of: from, with: to).utf8), key: "m")
            #expect(!edited.isSigned(by: key.publicKey), "\(from)")
        }
    }

    @Test func stretchesFixesAndShares() {
        let manifests = [
            manifest(1, hoursAfterStart: 0, counts: ["fail": 1, "pass": 3]),
            manifest(2, hoursAfterStart: 24, counts: ["fail": 2]),
            manifest(3, hoursAfterStart: 48, counts: ["error": 1, "pass": 2]),  // incomplete: neither breaks nor fixes
            manifest(4, hoursAfterStart: 72, counts: ["fail": 1]),
            manifest(5, hoursAfterStart: 96, counts: ["pass": 4]),
            manifest(6, hoursAfterStart: 120, counts: ["fail": 1]),
            manifest(7, hoursAfterStart: 132, counts: ["pass": 1, "not_applicable": 2]),
            manifest(8, hoursAfterStart: 144, counts: ["not_applicable": 3]),  // nothing to judge: not counted
        ]
        let s = try! #require(RequirementSummary.compute(manifests, framework: "soc2").first)
        #expect(s.scans == 7)
        #expect(s.passing == 2)
        #expect(s.failing == 4)
        #expect(s.incomplete == 1)
        #expect(s.firstFailure == manifests[0].startDate)
        #expect(s.lastFailure == manifests[5].startDate)
        #expect(s.longestFailingStretch?.scans == 3)
        #expect(s.longestFailingStretch?.from == manifests[0].startDate)
        #expect(s.longestFailingStretch?.to == manifests[3].startDate)
        #expect(s.fixes == 2)
        #expect(s.meanTimeToFix == (96.0 * 3600 + 12.0 * 3600) / 2)
        #expect(!s.failingAtEnd)
        #expect(RequirementSummary.compute(manifests, framework: "iso27001").isEmpty)
    }
}

@Suite("Evidence configuration and keys")
struct EvidenceConfigurationTests {
    @Test func mistakesInTheEvidenceSectionNameFileAndLine() async throws {
        let dir = try TestPaths.temporaryDirectory("evidence-config")
        let config = dir.appendingPathComponent("attest.yaml")
        try Data("controls:\n  disabled: []\nevidence:\n  retention_days: many\n".utf8).write(to: config)
        let r = try await Attest.run(["evidence", "verify", "--config", config.path, "--evidence", dir.path])
        #expect(r.status == 2)
        #expect(r.stderr.contains("\(config.path):4") && r.stderr.contains("retention_days"), "\(r.stderr)")
        try Data("evidence:\n  retention: 30\n".utf8).write(to: config)
        let unknown = try await Attest.run(["evidence", "verify", "--config", config.path, "--evidence", dir.path])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("\(config.path):2"), "\(unknown.stderr)")
    }

    @Test func keygenRefusesToReplaceAKeyAndAScanRefusesAnotherStoresKey() async throws {
        let dir = try TestPaths.temporaryDirectory("evidence-keys")
        let key = dir.appendingPathComponent("k.pem").path
        #expect(try await Attest.run(["evidence", "keygen", "--out", key]).status == 0)
        let again = try await Attest.run(["evidence", "keygen", "--out", key])
        #expect(again.status == 2 && again.stderr.contains("already exists"))
        let attributes = try FileManager.default.attributesOfItem(atPath: key)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        // The private key never reaches standard output; the public key does.
        let shown = try await Attest.run(["evidence", "keygen", "--show", "--out", key])
        #expect(shown.stdout.contains("BEGIN PUBLIC KEY") && !shown.stdout.contains("PRIVATE"))

        // A store already signed with one key refuses a scan signing with another, before any API call.
        let store = dir.appendingPathComponent("evidence")
        try FileManager.default.createDirectory(at: store.appendingPathComponent("_keys"), withIntermediateDirectories: true)
        try Data(EvidenceSigningKey().publicKey.pem.utf8).write(to: store.appendingPathComponent(EvidenceLayout.publicKeyKey))
        let scan = try await Attest.run(
            ["scan", "aws", "--regions", "us-east-1", "--quiet", "--evidence", store.path, "--signing-key", key],
            environment: [
                "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "AKIAKEYTEST000000001",
                "AWS_SECRET_ACCESS_KEY": "x",
            ])
        #expect(scan.status == 2)
        #expect(scan.stderr.contains("is signed with key"), "\(scan.stderr)")
    }
}
