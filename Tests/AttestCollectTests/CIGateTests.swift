import AttestCore
import AttestTestSupport
import Foundation
import Testing

/// A date `days` from today (UTC) as `YYYY-MM-DD`: exceptions in these tests are dated from the
/// day they run, so they do not expire with the calendar.
func day(_ days: Int) -> String {
    let f = DateFormatter()
    f.locale = Locale(identifier: "en_US_POSIX")
    f.timeZone = TimeZone(identifier: "UTC")
    f.dateFormat = "yyyy-MM-dd"
    return f.string(from: Date().addingTimeInterval(Double(days) * 86_400))
}

/// The demo account's exceptions: one that applies, one expiring soon, one expired, one stale.
let demoExceptions = """
    exceptions:
      - control: aws-s3-bucket-mfa-delete
        resources: ["arn:aws:s3:::*"]
        owner: platform-team@example.com
        justification: MFA delete needs the root user; Object Lock replaces it
        ticket: SEC-1234
        created: \(day(-10))
        expires: \(day(90))
      - control: "aws-ec2-volume-*"
        regions: [us-east-1]
        owner: storage-team@example.com
        justification: volumes are replaced by encrypted ones this month
        created: \(day(-20))
        expires: \(day(5))
      - control: aws-s3-bucket-object-lock
        owner: data-team@example.com
        justification: was planned, never done
        created: \(day(-200))
        expires: \(day(-1))
      - control: aws-iam-root-mfa-enabled
        accounts: ["999999999999"]
        owner: someone@example.com
        justification: another account
        created: \(day(-1))
        expires: \(day(30))
    """

/// One demo run with the exceptions above, in every format at once.
struct DemoOutputs: Sendable {
    let directory: URL
    let report: JSONValue
    let stdout: String
    let status: Int32

    func file(_ name: String) -> URL { directory.appendingPathComponent(name) }
    var results: [JSONValue] { report["results"].asList }
    func count(_ status: String) -> Int { results.filter { $0["status"].stringValue == status }.count }

    static func make() async throws -> DemoOutputs {
        let dir = try TestPaths.temporaryDirectory("ci-outputs")
        try Data(demoExceptions.utf8).write(to: dir.appendingPathComponent("exceptions.yaml"))
        let r = try await Attest.run(
            [
                "demo", "--exceptions", dir.appendingPathComponent("exceptions.yaml").path, "--format",
                "json,sarif,junit,ocsf,csv,markdown,table", "--output-dir", dir.appendingPathComponent("out").path, "--quiet",
            ])
        guard r.status == 0 else { throw TestPeerError("demo exited \(r.status): \(r.stderr)") }
        let out = dir.appendingPathComponent("out")
        return DemoOutputs(
            directory: out, report: try Attest.json(out.appendingPathComponent("attest.json")), stdout: r.stdout, status: r.status)
    }
}

/// Reads an output with its third-party consumer (`Tests/Support/ci/validate_outputs.py`).
func consumer(_ kind: String, _ file: URL, _ extra: [String] = []) async throws -> JSONValue {
    let out = try await runProcessCapturing(
        "/usr/bin/env",
        ["python3", TestPaths.repository.appendingPathComponent("Tests/Support/ci/validate_outputs.py").path, kind, file.path] + extra)
    #expect(out.status == 0, "\(kind): \(out.stdout.prefix(2000)) \(out.stderr.suffix(2000))")
    return try JSONValue.parse(out.stdout)
}

@Suite("CI outputs of the demo, read by their consumers")
struct CIOutputTests {
    static let shared = Task { try await DemoOutputs.make() }

    @Test func exceptionsAreAppliedListedAndCountedPerControl() async throws {
        let d = try await Self.shared.value
        let c = d.report["controls"]
        // Every failure of MFA delete is excepted and carries its exception.
        let mfa = d.results.filter { $0["control"] == "aws-s3-bucket-mfa-delete" }
        #expect(!mfa.isEmpty)
        #expect(mfa.allSatisfy { $0["status"] == "excepted" && $0["exception"]["owner"] == "platform-team@example.com" })
        #expect(
            mfa.allSatisfy {
                $0["exception"]["ticket"] == "SEC-1234" && $0["exception"]["source"].stringValue?.hasSuffix("exceptions.yaml:2") == true
            })
        #expect(c["excepted_by_control"]["aws-s3-bucket-mfa-delete"].intValue == Int64(mfa.count))
        #expect(c["by_status"]["excepted"].intValue == Int64(d.count("excepted")))
        // The expired one no longer applies: object lock fails, and it is listed.
        #expect(d.results.filter { $0["control"] == "aws-s3-bucket-object-lock" }.allSatisfy { $0["status"] != "excepted" })
        #expect(c["exceptions"]["expired"].asList.map { $0["exception"]["control"] } == ["aws-s3-bucket-object-lock"])
        #expect(c["exceptions"]["expired"].asList.first?["results"].intValue ?? 0 > 0)
        // The volume one applies and ends within 14 days; the other account's root exception matches nothing.
        #expect(c["exceptions"]["expiring_soon"].asList.map { $0["exception"]["control"] } == ["aws-ec2-volume-*"])
        #expect(c["exceptions"]["expiring_soon"].asList.first?["days_left"].intValue == 5)
        #expect(c["exceptions"]["stale"].asList.map { $0["exception"]["control"] } == ["aws-iam-root-mfa-enabled"])
        #expect(c["exceptions"]["applied"].asList.count == 2)
        // The table says the same.
        let table = try String(contentsOf: d.file("attest.txt"), encoding: .utf8)
        #expect(table.contains("exceptions: 2 applied"))
        #expect(table.contains("EXPIRED \(day(-1)): aws-s3-bucket-object-lock (owner data-team@example.com)"))
        #expect(table.contains("stale, covers no failure (remove it): aws-iam-root-mfa-enabled"))
        #expect(table.contains("expires \(day(5)) (5 day(s) left): aws-ec2-volume-*"))
        #expect(table.contains("excepted by control: "))
    }

    @Test func callsAreCountedPerService() async throws {
        let d = try await Self.shared.value
        let stats = d.report["scan"]["stats"]
        let byService = stats["calls_by_service"].objectValue ?? [:]
        #expect(Set(byService.keys).isSuperset(of: ["iam", "s3", "ec2", "sts"]), "\(byService.keys)")
        #expect(byService.values.reduce(0) { $0 + ($1["calls"].intValue ?? 0) } == stats["calls"].intValue ?? -1)
    }

    @Test func sarifValidatesAgainstTheSchemaWithOneRulePerControl() async throws {
        let d = try await Self.shared.value
        let s = try await consumer(
            "sarif", d.file("attest.sarif"),
            [TestPaths.shared.appendingPathComponent("vectors/sarif/sarif-schema-2.1.0.json").path])
        #expect(s["version"] == "2.1.0")
        #expect(s["rules"].intValue == Int64(d.report["catalog"].asList.count))
        #expect(s["rules_with_help"] == s["rules"])
        #expect(s["results"].intValue == Int64(d.count("fail") + d.count("excepted")))
        #expect(s["suppressed"].intValue == Int64(d.count("excepted")))
        #expect(s["suppression_justifications"].asList.allSatisfy { $0.stringValue?.contains("owner ") == true })
        #expect(s["rule_index_ok"] == true)
        #expect(s["fingerprints_unique"] == true)
        // Located by resource id, levels from severities.
        let failing = d.results.filter { $0["status"] == "fail" || $0["status"] == "excepted" }
        #expect(Set(s["uris"].asList.compactMap(\.stringValue)) == Set(failing.compactMap { $0["resource"].stringValue }))
        let errors = failing.filter { $0["severity"] == "critical" || $0["severity"] == "high" }.count
        #expect(s["levels"]["error"].intValue == Int64(errors))
        #expect(s["execution_successful"] == true)
        // One category per provider and account set (the demo scans AWS, Azure and Google Cloud).
        let scan = d.report["scan"]
        #expect(scan["provider"] == "aws,azure,gcp")
        #expect(s["category"].stringValue == "attest/aws,azure,gcp/\(scan["account"].stringValue ?? "")/")
    }

    @Test func junitHasOneCasePerControlAndResource() async throws {
        let d = try await Self.shared.value
        let j = try await consumer("junit", d.file("attest.junit.xml"))
        #expect(j["cases"].intValue == Int64(d.results.count))
        #expect(j["suites"].intValue == Int64(Set(d.results.compactMap { $0["control"].stringValue }).count))
        #expect(j["unique_cases"] == true)
        #expect(j["failures"].intValue == Int64(d.count("fail")))
        #expect(j["errors"].intValue == Int64(d.count("error")))
        #expect(j["skipped"].intValue == Int64(d.count("excepted") + d.count("not_applicable")))
        let text = j["failure_texts"]["aws-ec2-instance-imdsv2"].stringValue ?? ""
        #expect(text.contains("observed:\n  attributes.metadata_options"), "\(text)")
        #expect(text.contains("remediation: Require IMDSv2"))
        #expect(
            j["skipped_messages"].asList.contains {
                $0.stringValue?.hasPrefix("excepted until \(day(90)) by platform-team@example.com") == true
            })
    }

    @Test func ocsfDetectionFindingsValidateWithTheThirdPartyModels() async throws {
        let d = try await Self.shared.value
        let o = try await consumer("ocsf", d.file("attest.ocsf.json"))
        #expect(o["findings"].intValue == Int64(d.count("fail") + d.count("excepted")))
        #expect(o["statuses"]["Suppressed"].intValue == Int64(d.count("excepted")))
        #expect(o["statuses"]["New"].intValue == Int64(d.count("fail")))
        #expect(o["with_remediation"] == o["findings"])
    }

    @Test func csvHasOneRowPerResultWithExceptionColumns() async throws {
        let d = try await Self.shared.value
        let c = try await consumer("csv", d.file("attest.csv"))
        #expect(c["rows"].intValue == Int64(d.results.count))
        for status in ["pass", "fail", "excepted", "not_applicable"] {
            #expect(c["statuses"][status].intValue ?? 0 == Int64(d.count(status)), "\(status)")
        }
        #expect(c["excepted_owners"] == ["platform-team@example.com", "storage-team@example.com"])
        #expect(c["columns"].asList.prefix(4) == ["control", "title", "severity", "status"])
    }

    @Test func markdownSummarisesForAPullRequest() async throws {
        let d = try await Self.shared.value
        let md = try String(contentsOf: d.file("attest.md"), encoding: .utf8)
        let by = d.report["controls"]["by_status"]
        #expect(
            md.contains("| \(by["pass"].intValue!) | \(by["fail"].intValue!) | \(by["excepted"].intValue!) | \(by["error"].intValue!) |"))
        #expect(md.contains("**✅ no blocking failure** (`--fail-on never`)"))
        #expect(md.contains("### Top failing controls"))
        // Most severe first, with a link to the control's remediation reference.
        let rows = md.split(separator: "\n").filter { $0.hasPrefix("| critical") || $0.hasPrefix("| high") || $0.hasPrefix("| medium") }
        #expect(rows.first?.hasPrefix("| critical | [`") == true, "\(rows.prefix(2))")
        #expect(rows.first?.contains("](https://") == true, "\(rows.prefix(2))")
        let severities = rows.map { $0.split(separator: "|").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? "" }
        #expect(
            severities
                == severities.sorted { ["critical": 0, "high": 1, "medium": 2][$0]! < ["critical": 0, "high": 1, "medium": 2][$1]! })
        #expect(md.contains("⛔ expired \(day(-1)): `aws-s3-bucket-object-lock`"))
        #expect(md.count < 20_000)
    }

    @Test func markdownListsNewFailuresAgainstABaselineFirst() async throws {
        let d = try await Self.shared.value
        // The baseline saw only critical and high failures: every other failure is new now.
        let dir = try TestPaths.temporaryDirectory("baseline")
        let baseline = dir.appendingPathComponent("baseline.json")
        let b = try await Attest.run(["demo", "--severity", "critical,high", "--format", "json", "--output", baseline.path, "--quiet"])
        #expect(b.status == 0, "\(b.stderr)")
        let md = dir.appendingPathComponent("pr.md")
        let r = try await Attest.run(["demo", "--format", "markdown", "--output", md.path, "--baseline", baseline.path, "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        let text = try String(contentsOf: md, encoding: .utf8)
        let baselineID = try Attest.json(baseline)["scan"]["id"].stringValue!
        let lower = try await demoFailures(excluding: ["critical", "high"])
        #expect(text.contains("### New failures since scan `\(baselineID)` (\(lower))"), "\(text.prefix(800))")
        let newAt = text.range(of: "### New failures")!.lowerBound
        let topAt = text.range(of: "### Top failing controls")!.lowerBound
        #expect(newAt < topAt)
        _ = d
        // A baseline that is not a report is a clear error.
        let junk = dir.appendingPathComponent("junk.json")
        try Data("{}".utf8).write(to: junk)
        let bad = try await Attest.run(["demo", "--format", "markdown", "--baseline", junk.path])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("--baseline: not a JSON report of attest"))
    }

    /// Failures of the plain demo outside the given severities.
    func demoFailures(excluding severities: Set<String>) async throws -> Int {
        let out = try TestPaths.temporaryDirectory("plain").appendingPathComponent("r.json")
        _ = try await Attest.run(["demo", "--format", "json", "--output", out.path, "--quiet"])
        return try Attest.json(out)["results"].asList.filter {
            $0["status"] == "fail" && !severities.contains($0["severity"].stringValue ?? "")
        }.count
    }

    @Test func excepedResultsReachTheEvidenceAndItsSummary() async throws {
        let dir = try TestPaths.temporaryDirectory("excepted-evidence")
        let file = dir.appendingPathComponent("exceptions.yaml")
        try Data(demoExceptions.utf8).write(to: file)
        let store = dir.appendingPathComponent("evidence")
        let r = try await Attest.run([
            "demo", "--exceptions", file.path, "--evidence", store.path, "--quiet", "--format", "json", "--output",
            dir.appendingPathComponent("r.json").path,
        ])
        #expect(r.status == 0, "\(r.stderr)")
        // The records of excepted results carry the exception; the signed manifest names it with its counts.
        let records = try await Attest.run(["evidence", "query", "--evidence", store.path, "--status", "excepted", "--format", "json"])
        #expect(records.status == 0, "\(records.stderr)")
        let rows = try JSONValue.parse(records.stdout).asList
        #expect(!rows.isEmpty)
        #expect(rows.allSatisfy { $0["status"] == "excepted" })
        let recordFiles = try FileManager.default.subpathsOfDirectory(atPath: store.path).filter { $0.hasSuffix(".jsonl") }
        var sawException = false
        for f in recordFiles {
            for line in try String(contentsOf: store.appendingPathComponent(f), encoding: .utf8).split(separator: "\n") {
                let record = try JSONValue.parse(String(line))
                guard record["unmapped"]["attest"]["result"] == "excepted" else { continue }
                #expect(record["unmapped"]["attest"]["exception"]["owner"].stringValue?.hasSuffix("@example.com") == true)
                #expect(record["status"] == "Suppressed")
                #expect(record["compliance"]["status"] == "Fail")
                sawException = true
            }
        }
        #expect(sawException)
        let verify = try await Attest.run(["evidence", "verify", "--evidence", store.path])
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        let summary = try await Attest.run(["evidence", "summary", "--evidence", store.path, "--exceptions", "--format", "json"])
        #expect(summary.status == 0, "\(summary.stderr)")
        let perControl = try JSONValue.parse(summary.stdout).asList
        let mfa = perControl.first { $0["control"] == "aws-s3-bucket-mfa-delete" }
        #expect(mfa?["excepted_in_latest_scan"].intValue ?? 0 > 0)
        #expect(mfa?["scans_with_exceptions"] == 1)
        #expect(mfa?["exceptions_in_latest_scan"].asList.first?.stringValue?.contains("platform-team@example.com") == true)
    }
}

@Suite("Exit codes, one test per row of the table in docs/ci.md")
struct ExitCodeTests {
    @Test func zeroWhenNoUnexceptedFailureIsAtOrAboveFailOn() async throws {
        #expect(try await Attest.run(["demo", "--quiet"]).status == 0)  // the demo's --fail-on is never
        // Excepting every critical failure makes --fail-on critical pass.
        let report = try TestPaths.temporaryDirectory("exit0").appendingPathComponent("r.json")
        _ = try await Attest.run(["demo", "--format", "json", "--output", report.path, "--quiet"])
        let critical = try Attest.json(report)["results"].asList.filter { $0["status"] == "fail" && $0["severity"] == "critical" }
        #expect(!critical.isEmpty)
        var yaml = "exceptions:\n"
        for (i, r) in critical.enumerated() {
            yaml += """
                  - control: \(r["control"].stringValue!)
                    resources: ["\(r["resource"].stringValue!)"]
                    owner: o\(i)@example.com
                    justification: accepted
                    created: \(day(-1))
                    expires: \(day(30))

                """
        }
        let file = report.deletingLastPathComponent().appendingPathComponent("exceptions.yaml")
        try Data(yaml.utf8).write(to: file)
        let r = try await Attest.run(["demo", "--fail-on", "critical", "--exceptions", file.path, "--quiet"])
        #expect(r.status == 0, "\(r.stdout.suffix(1500)) \(r.stderr)")
        let without = try await Attest.run(["demo", "--fail-on", "critical", "--quiet"])
        #expect(without.status == 1)
    }

    @Test func oneWhenSuchFailuresExist() async throws {
        let r = try await Attest.run(["demo", "--fail-on", "high", "--format", "markdown"])
        #expect(r.status == 1)
        #expect(r.stdout.contains("blocking failure(s)** (at or above `high`)"))
    }

    @Test func twoForUsageAndConfigurationErrorsNamingFileAndLine() async throws {
        let dir = try TestPaths.temporaryDirectory("exit2")
        let file = dir.appendingPathComponent("exceptions.yaml")
        try Data(
            """
            exceptions:
              - control: aws-s3-bucket-versioning
                owner: o@example.com
                justification: j
                created: \(day(-400))
                expires: \(day(10))
            """.utf8
        ).write(to: file)
        let r = try await Attest.run(["demo", "--exceptions", file.path])
        #expect(r.status == 2)
        #expect(
            r.stderr.contains("\(file.path):6: expires is 410 days after created; an exception may last at most 365 days"), "\(r.stderr)")
        #expect(r.stdout.isEmpty)

        try Data(
            """
            exceptions:
              - control: aws-s3-bucket-versioning
                justification: j
                created: \(day(-1))
                expires: \(day(10))
            """.utf8
        ).write(to: file)
        let noOwner = try await Attest.run(["demo", "--exceptions", file.path])
        #expect(noOwner.status == 2)
        #expect(noOwner.stderr.contains("\(file.path):2: an exception needs owner:"), "\(noOwner.stderr)")

        try Data(
            """
            exceptions:
              - control: "*"
                owner: o@example.com
                justification: j
                created: \(day(-1))
                expires: \(day(10))
            """.utf8
        ).write(to: file)
        let everything = try await Attest.run(["demo", "--exceptions", file.path])
        #expect(everything.status == 2)
        #expect(everything.stderr.contains("would except every control on every resource"), "\(everything.stderr)")

        let typo = try await Attest.run(["demo", "--format", "sarfi"])
        #expect(typo.status == 2)
        #expect(typo.stderr.contains("unknown format sarfi (did you mean sarif?)"), "\(typo.stderr)")
        let several = try await Attest.run(["demo", "--format", "json,sarif"])
        #expect(several.status == 2)
        #expect(several.stderr.contains("several formats need --output-dir DIR"))
        let missing = try await Attest.run(["demo", "--exceptions", dir.appendingPathComponent("nope.yaml").path])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("nope.yaml:1: no such exceptions file"), "\(missing.stderr)")
    }

    /// The demo with one recorded response removed: Lambda in eu-west-1 cannot be read.
    func incompleteFixtures() throws -> URL {
        let dir = try TestPaths.temporaryDirectory("incomplete-fixtures").appendingPathComponent("sample-account")
        try FileManager.default.copyItem(at: TestPaths.repository.appendingPathComponent("fixtures/aws/sample-account"), to: dir)
        try FileManager.default.removeItem(at: dir.appendingPathComponent("lambda/eu-west-1"))
        return dir
    }

    @Test func threeWhenTheScanIsIncomplete() async throws {
        let r = try await Attest.run(["demo", "--fixtures", try incompleteFixtures().path, "--quiet"])
        #expect(r.status == 3, "\(r.stderr)")
        #expect(r.stderr.contains("scan incomplete: 1 error(s)"), "\(r.stderr)")
    }

    @Test func blockingFailuresWinOverAnIncompleteScanAndTheIncompletenessIsStillSaid() async throws {
        let r = try await Attest.run(["demo", "--fixtures", try incompleteFixtures().path, "--fail-on", "high", "--quiet"])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("scan incomplete: 1 error(s)"), "\(r.stderr)")
    }
}

@Suite("Warn, then enforce, through the config")
struct WarnThenEnforceTests {
    /// A config that puts every control failing at critical in the demo on warn from `from`.
    func config(enforceFrom from: String) async throws -> (URL, [String]) {
        let dir = try TestPaths.temporaryDirectory("warn")
        let report = dir.appendingPathComponent("r.json")
        _ = try await Attest.run(["demo", "--format", "json", "--output", report.path, "--quiet"])
        let ids = Set(
            try Attest.json(report)["results"].asList.filter { $0["status"] == "fail" && $0["severity"] == "critical" }
                .compactMap { $0["control"].stringValue }
        ).sorted()
        var yaml = "controls:\n  enforcement:\n"
        for id in ids { yaml += "    \(id): {enforcement: warn, enforce_from: \(from)}\n" }
        let file = dir.appendingPathComponent("attest.yaml")
        try Data(yaml.utf8).write(to: file)
        return (file, ids)
    }

    @Test func beforeTheDateWarnedFailuresAreReportedButDoNotBlock() async throws {
        let (file, ids) = try await config(enforceFrom: day(30))
        let out = file.deletingLastPathComponent().appendingPathComponent("warned.json")
        let r = try await Attest.run([
            "demo", "--config", file.path, "--fail-on", "critical", "--format", "json", "--output", out.path, "--quiet",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try Attest.json(out)
        #expect(report["controls"]["warned"].asList.compactMap { $0["control"].stringValue } == ids)
        #expect(report["controls"]["warned"].asList.allSatisfy { $0["enforce_from"].stringValue == day(30) })
        let warned = report["results"].asList.filter { ids.contains($0["control"].stringValue ?? "") && $0["status"] == "fail" }
        #expect(!warned.isEmpty)
        #expect(warned.allSatisfy { $0["blocks"] == false && $0["warning"]["enforce_from"].stringValue == day(30) })
        #expect(report["controls"]["blocking"] == 0)
        // The table says when they start blocking.
        let table = try await Attest.run(["demo", "--config", file.path, "--fail-on", "critical"])
        #expect(table.stdout.contains("[warns only; blocks from \(day(30))]"), "\(table.stdout.prefix(3000))")
    }

    @Test func fromTheDateTheyBlock() async throws {
        let (file, _) = try await config(enforceFrom: day(0))
        let r = try await Attest.run(["demo", "--config", file.path, "--fail-on", "critical", "--quiet"])
        #expect(r.status == 1, "\(r.stderr)")
    }
}
