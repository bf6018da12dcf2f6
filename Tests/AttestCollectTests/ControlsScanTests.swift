import AttestCore
import AttestTestSupport
import Foundation
import Testing

/// A scan of the seeded moto account runs the built-in controls: the resources seeded wrong
/// fail, the ones seeded right pass, and the exit status says a control failed.
@Suite("Controls over a scanned moto account")
struct ControlsScanTests {
    struct Run: Sendable {
        let status: Int32
        let stdout: String
        let report: JSONValue
        let env: SeededMoto
    }

    static let shared = Task<Run, any Error> { try await run(SeededMoto.shared.value) }
    /// The same scan of the account with every area seeded (`seed.py --areas`).
    static let areas = Task<Run, any Error> { try await run(SeededMoto.withAreas.value) }

    static func run(_ env: SeededMoto) async throws -> Run {
        let out = try TestPaths.temporaryDirectory("controls").appendingPathComponent("scan.json")
        let r = try await Attest.run(
            [
                "scan", "aws", "--regions", "us-east-1,eu-west-1", "--format", "json", "--output", out.path,
                "--no-evidence",
            ],
            environment: [
                "AWS_ENDPOINT_URL": env.moto.endpoint, "AWS_ACCESS_KEY_ID": "AKIACONTROLS00000001",
                "AWS_SECRET_ACCESS_KEY": "controls-test-secret",
            ])
        return Run(status: r.status, stdout: r.stdout, report: try Attest.json(out), env: env)
    }

    func status(_ run: Run, _ control: String, _ resource: String) -> String? {
        run.report["results"].asList.first { $0["control"].stringValue == control && $0["resource"].stringValue == resource }?["status"]
            .stringValue
    }

    /// Each area seeded by a `Tests/Support/moto/seed_<area>.py` module states in
    /// `fixtures/aws/seeded-expectations-<area>.json` how its controls judge the resources it made
    /// (by resource name), and no other result of those controls is an error unless it says why.
    @Test func everyAreasSeededExpectationsHold() async throws {
        let run = try await Self.areas.value
        let fixtures = TestPaths.repository.appendingPathComponent("fixtures/aws")
        let files = try FileManager.default.contentsOfDirectory(atPath: fixtures.path)
            .filter { $0.hasPrefix("seeded-expectations-") && $0.hasSuffix(".json") }.sorted()
        #expect(!files.isEmpty)
        var names: [String: String] = [:]
        for r in run.report["resources"].asList {
            if let id = r["id"].stringValue { names[id] = r["name"].stringValue }
        }
        let results = run.report["results"].asList
        for file in files {
            let expectations = try Attest.json(fixtures.appendingPathComponent(file))
            let expected = expectations["expect"].asList
            #expect(!expected.isEmpty, "\(file) expects nothing")
            let allowed = expectations["errors_allowed"].objectValue ?? [:]
            var controls: Set<String> = []
            for e in expected {
                let control = try #require(e["control"].stringValue, "\(file): \(e)")
                let name = try #require(e["name"].stringValue, "\(file): \(e)")
                controls.insert(control)
                let matching = results.filter {
                    $0["control"].stringValue == control
                        && ($0["resource"].stringValue.flatMap { names[$0] } == name || $0["resource"].stringValue == name)
                }
                #expect(!matching.isEmpty, "\(file): no result of \(control) on \(name)")
                for m in matching {
                    #expect(m["status"] == e["status"], "\(file): \(control) on \(name): \(m["status"]) \(m["reason"])")
                }
            }
            for r in results where r["status"] == "error" {
                guard let control = r["control"].stringValue, controls.contains(control), allowed[control] == nil else { continue }
                Issue.record("\(file): \(control) on \(r["resource"]) is an error: \(r["reason"])")
            }
        }
    }

    @Test func seededMistakesFailAndCorrectResourcesPass() async throws {
        let run = try await Self.shared.value
        let env = run.env
        let account = env.account
        let ec2 = "arn:aws:ec2:us-east-1:\(account)"
        let expectations: [(control: String, failing: String, passing: String?)] = [
            ("aws-s3-bucket-not-public", "arn:aws:s3:::public-assets-sample", "arn:aws:s3:::audit-logs-sample"),
            ("aws-ec2-sg-no-ssh-from-internet", "\(ec2):security-group/\(env.id("sg_ssh"))", "\(ec2):security-group/\(env.id("sg_web"))"),
            ("aws-ec2-sg-no-rdp-from-internet", "\(ec2):security-group/\(env.id("sg_ssh"))", "\(ec2):security-group/\(env.id("sg_web"))"),
            ("aws-ec2-volume-encrypted", "\(ec2):volume/\(env.id("volume_plain"))", "\(ec2):volume/\(env.id("volume_encrypted"))"),
            ("aws-kms-key-rotation", env.id("kms_unrotated"), env.id("kms_rotated")),
            (
                "aws-cloudtrail-trail-multi-region", "arn:aws:cloudtrail:us-east-1:\(account):trail/single-region",
                "arn:aws:cloudtrail:us-east-1:\(account):trail/org-wide"
            ),
            (
                "aws-cloudtrail-log-file-validation", "arn:aws:cloudtrail:us-east-1:\(account):trail/single-region",
                "arn:aws:cloudtrail:us-east-1:\(account):trail/org-wide"
            ),
            ("aws-iam-admin-user-mfa", "arn:aws:iam::\(account):user/bob", "arn:aws:iam::\(account):user/alice"),
            ("aws-iam-user-console-mfa", "arn:aws:iam::\(account):user/bob", "arn:aws:iam::\(account):user/alice"),
            (
                "aws-rds-instance-not-public", "arn:aws:rds:us-east-1:\(account):db:public-db",
                "arn:aws:rds:us-east-1:\(account):db:private-db"
            ),
            (
                "aws-rds-instance-storage-encrypted", "arn:aws:rds:us-east-1:\(account):db:public-db",
                "arn:aws:rds:us-east-1:\(account):db:private-db"
            ),
            ("aws-ec2-instance-imdsv2", "\(ec2):instance/\(env.id("instance_legacy"))", "\(ec2):instance/\(env.id("instance_hardened"))"),
            ("aws-ec2-snapshot-encrypted", "arn:aws:ec2:us-east-1::snapshot/\(env.id("snapshot"))", nil),
            ("aws-lambda-function-not-public", env.id("lambda_function"), nil),
            ("aws-s3-account-public-access-block", "arn:aws:iam::\(account):root", nil),
        ]
        for e in expectations {
            #expect(status(run, e.control, e.failing) == "fail", "\(e.control) on \(e.failing)")
            if let passing = e.passing { #expect(status(run, e.control, passing) == "pass", "\(e.control) on \(passing)") }
        }
        // Policy scope: a customer managed policy is judged whether or not it is attached (the
        // attached and unattached admin checks are two controls), and an attached AWS managed
        // AdministratorAccess is a finding of its own.
        let starStar = env.id("unattached_admin_policy")
        let scoped = env.id("customer_policy")
        let policyExpectations: [(String, String, String)] = [
            ("aws-iam-unattached-policy-no-full-admin", starStar, "fail"),
            ("aws-iam-policy-no-full-admin", starStar, "not_applicable"),
            ("aws-iam-policy-no-kms-full-access", starStar, "fail"),
            ("aws-iam-policy-no-cloudtrail-full-access", starStar, "fail"),
            ("aws-iam-policy-no-full-admin", scoped, "pass"),
            ("aws-iam-unattached-policy-no-full-admin", scoped, "not_applicable"),
            ("aws-iam-aws-managed-policy-no-full-admin", "arn:aws:iam::aws:policy/AdministratorAccess", "fail"),
            ("aws-iam-aws-managed-policy-no-full-admin", scoped, "not_applicable"),
        ]
        for (control, resource, expected) in policyExpectations {
            #expect(status(run, control, resource) == expected, "\(control) on \(resource)")
        }
        // The EBS default is on in eu-west-1 only.
        #expect(status(run, "aws-ec2-ebs-default-encryption", "arn:aws:ec2:eu-west-1:\(account):regional-settings") == "pass")
        #expect(status(run, "aws-ec2-ebs-default-encryption", "arn:aws:ec2:us-east-1:\(account):regional-settings") == "fail")
        // The account has a logging multi-region trail and a password policy that meets CIS.
        #expect(status(run, "aws-cloudtrail-multi-region-enabled", "arn:aws:iam::\(account):root") == "pass")
        #expect(status(run, "aws-iam-password-policy-min-length", "arn:aws:iam::\(account):root") == "pass")
    }

    @Test func resultsCarryObservedValuesRequirementsAndAFailingExitStatus() async throws {
        let run = try await Self.shared.value
        #expect(run.status == 1)
        let results = run.report["results"].asList
        #expect(results.count > 150)
        let statuses = Set(results.compactMap { $0["status"].stringValue })
        #expect(statuses.isSubset(of: ["pass", "fail", "error", "not_applicable"]))
        // The scan read everything, so nothing is an error, except where moto 5.2 leaves data out: its
        // credential report has no row for the root user, which a rule about root's last use needs.
        let errors = results.filter { $0["status"] == "error" }
        #expect(errors.map { $0["control"] } == ["aws-iam-root-not-used-recently"], "\(errors.prefix(5))")
        #expect(errors.first?["reason"].stringValue?.contains("credential_report") == true)
        let bucket = try #require(
            results.first { $0["control"] == "aws-s3-bucket-not-public" && $0["resource"] == "arn:aws:s3:::public-assets-sample" })
        #expect(bucket["severity"] == "critical")
        #expect(bucket["observed"].objectValue?.keys.contains("attributes.policy_is_public") == true)
        #expect(bucket["observed"]["attributes.policy"]["Statement"].asList.first?["Principal"] == "*")
        let frameworks = Set(bucket["requirements"].asList.compactMap { $0["framework"].stringValue })
        #expect(frameworks == ["soc2", "iso27001", "nis2", "dora"])
        // The report went to the file: stdout has a few lines of summary, not the report again.
        let summary = run.stdout.split(separator: "\n")
        #expect(summary.count <= 6, "\(run.stdout)")
        #expect(run.stdout.contains("failing controls: ") && run.stdout.contains(" critical"), "\(run.stdout)")
        #expect(summary.last?.hasPrefix("report: ") == true && summary.last?.hasSuffix("scan.json") == true)
        #expect(!run.stdout.contains("RESOURCE TYPE"))
    }

    @Test func frameworksAndSeverityNarrowTheRunAndFailOnSetsTheExitStatus() async throws {
        let env = try await SeededMoto.shared.value
        let out = try TestPaths.temporaryDirectory("controls-narrow").appendingPathComponent("scan.json")
        let creds = ["AWS_ENDPOINT_URL": env.moto.endpoint, "AWS_ACCESS_KEY_ID": "AKIACONTROLS00000002", "AWS_SECRET_ACCESS_KEY": "x"]
        let r = try await Attest.run(
            [
                "scan", "aws", "--regions", "us-east-1", "--services", "s3,ec2", "--frameworks", "nis2",
                "--severity", "critical", "--fail-on", "never", "--format", "json", "--output", out.path, "--quiet", "--no-evidence",
            ],
            environment: creds)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.isEmpty, "--quiet with --output prints nothing: \(r.stdout)")
        let report = try Attest.json(out)
        let results = report["results"].asList
        #expect(!results.isEmpty)
        #expect(results.allSatisfy { $0["severity"] == "critical" })
        #expect(results.allSatisfy { $0["requirements"].asList.contains { $0["framework"] == "nis2" } })
        #expect(report["frameworks"].asList.compactMap { $0["framework"].stringValue } == ["nis2"])
    }

    @Test func aServiceThatCouldNotBeReadMakesItsControlsErrorsNotPasses() async throws {
        let env = try await SeededMoto.shared.value
        let out = try TestPaths.temporaryDirectory("controls-gap").appendingPathComponent("scan.json")
        // An endpoint override for KMS that refuses connections: every KMS call fails.
        let r = try await Attest.run(
            [
                "scan", "aws", "--regions", "us-east-1", "--services", "kms", "--fail-on", "never",
                "--format", "json", "--output", out.path, "--quiet", "--no-evidence",
            ],
            environment: [
                "AWS_ENDPOINT_URL": env.moto.endpoint, "AWS_ENDPOINT_URL_KMS": "http://127.0.0.1:9",
                "AWS_ACCESS_KEY_ID": "AKIACONTROLS00000003", "AWS_SECRET_ACCESS_KEY": "x",
            ])
        #expect(r.status == 3, "\(r.stderr)")
        let results = try Attest.json(out)["results"].asList.filter { $0["resource_type"] == "aws.kms.key" }
        #expect(!results.isEmpty)
        #expect(results.allSatisfy { $0["status"] == "error" && $0["reason"].stringValue?.contains("kms") == true })
    }

    @Test func controlsWhoseServicesWereNotScannedAreNotEvaluatedNotFailed() async throws {
        let env = try await SeededMoto.shared.value
        let out = try TestPaths.temporaryDirectory("controls-not-evaluated").appendingPathComponent("scan.json")
        let store = out.deletingLastPathComponent().appendingPathComponent("evidence")
        let r = try await Attest.run(
            [
                "scan", "aws", "--regions", "us-east-1", "--services", "iam,s3", "--fail-on", "never",
                "--format", "json", "--output", out.path, "--evidence", store.path,
            ],
            environment: ["AWS_ENDPOINT_URL": env.moto.endpoint, "AWS_ACCESS_KEY_ID": "AKIACONTROLS00000004", "AWS_SECRET_ACCESS_KEY": "x"])
        // 3: moto's credential report has no root row (see above); nothing else is an error.
        #expect(r.status == 3, "\(r.stderr)")
        let report = try Attest.json(out)
        let errors = report["results"].asList.filter { $0["status"] == "error" }.compactMap { $0["control"].stringValue }
        #expect(errors == ["aws-iam-root-not-used-recently"])
        let skipped = report["controls"]["not_evaluated"].asList
        let ids = Set(skipped.compactMap { $0["control"].stringValue })
        // The account controls that read trails (and the CIS monitoring ones, their log metric
        // filters and alarms) judge nothing without CloudTrail: not a fail, not a pass.
        #expect(
            ids.isSuperset(of: [
                "aws-cloudtrail-multi-region-enabled", "aws-cloudtrail-s3-data-events-read", "aws-cloudtrail-s3-data-events-write",
            ]))
        #expect(ids.subtracting(ids.filter { $0.hasPrefix("aws-cloudtrail-") || $0.hasPrefix("aws-cloudwatch-alarm-") }).isEmpty, "\(ids)")
        #expect(skipped.allSatisfy { $0["reason"].stringValue?.contains("service cloudtrail was not scanned") == true })
        let results = report["results"].asList
        #expect(!results.contains { ids.contains($0["control"].stringValue ?? "") })
        // S3 brings S3 Control, so the account's Block Public Access is read and judged.
        #expect(report["scan"]["services"].asList.compactMap(\.stringValue).contains("s3-control"))
        let bpa = results.filter { $0["control"] == "aws-s3-account-public-access-block" }
        #expect(!bpa.isEmpty && bpa.allSatisfy { $0["status"] != "error" }, "\(bpa)")
        // Controls of services not scanned at all (EC2, KMS) simply do not run.
        #expect(!results.contains { ($0["resource_type"].stringValue ?? "").hasPrefix("aws.ec2.") })
        #expect(r.stdout.contains("· \(ids.count) control(s) not evaluated"), "\(r.stdout)")
        // The signed manifest says what the evidence does not cover.
        let manifest = try Attest.json(store.appendingPathComponent("_scans/0000000001.json"))
        #expect(Set(manifest["not_evaluated"].objectValue?.keys.map { $0 } ?? []) == ids)
    }

    @Test func aMistypedRegionIsAUsageErrorBeforeAnythingIsCollected() async throws {
        let env = try await SeededMoto.shared.value
        let r = try await Attest.run(
            ["scan", "aws", "--regions", "us-eats-1", "--no-evidence"],
            environment: ["AWS_ENDPOINT_URL": env.moto.endpoint, "AWS_ACCESS_KEY_ID": "AKIACONTROLS00000005", "AWS_SECRET_ACCESS_KEY": "x"])
        #expect(r.status == 2)
        #expect(r.stdout.isEmpty)
        let lines = r.stderr.split(separator: "\n").filter { !$0.hasPrefix("\u{1B}") && !$0.contains("scanning:") }
        #expect(lines.count == 1, "\(r.stderr)")
        #expect(r.stderr.contains("unknown region us-eats-1 (did you mean us-east-1?)"), "\(r.stderr)")
    }

    /// A control of the team's own with no framework mapping: it fails one bucket.
    static let unmappedControl = """
        id: team-no-public-assets
        title: No bucket is named public-assets
        description: d
        rationale: r
        severity: critical
        resource_types: [aws.s3.bucket]
        assert: "!resource.name.startsWith('public-assets')"
        observed: [name]
        remediation: {text: rename it}
        tests:
          - {name: other passes, resource: {name: logs}, expect: pass}
          - {name: public-assets fails, resource: {name: public-assets-x}, expect: fail}
        """

    @Test func theTableLeadsWithFailingControlsBySeverityAndListsUnmappedOnes() async throws {
        let env = try await SeededMoto.shared.value
        let dir = try TestPaths.temporaryDirectory("table")
        let controls = dir.appendingPathComponent("controls")
        try FileManager.default.createDirectory(at: controls, withIntermediateDirectories: true)
        try Self.unmappedControl.write(to: controls.appendingPathComponent("team-no-public-assets.yaml"), atomically: true, encoding: .utf8)
        let store = dir.appendingPathComponent("evidence")
        let key = dir.appendingPathComponent("signing.key")
        _ = try await Attest.run(["evidence", "keygen", "--out", key.path])
        let environment = [
            "AWS_ENDPOINT_URL": env.moto.endpoint, "AWS_ACCESS_KEY_ID": "AKIACONTROLS00000006", "AWS_SECRET_ACCESS_KEY": "x",
        ]
        let base = [
            "scan", "aws", "--regions", "us-east-1,eu-west-1", "--controls", controls.path, "--fail-on", "never", "--quiet",
        ]
        let r = try await Attest.run(base + ["--evidence", store.path, "--signing-key", key.path], environment: environment)
        #expect(r.status == 3, "\(r.stderr)")  // moto's credential report has no root row
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.count < 600, "the table is \(lines.count) lines")

        // Failing controls, most severe first, each resource once however many requirements it maps to.
        let start = try #require(lines.firstIndex { $0.hasPrefix("FAILING CONTROLS (") })
        let end = try #require(lines[start...].firstIndex { $0.isEmpty })
        let heads = lines[(start + 1)..<end].filter { !$0.hasPrefix(" ") }
        let rank = ["CRITICAL": 4, "HIGH": 3, "MEDIUM": 2, "LOW": 1, "INFO": 0]
        let severities = heads.compactMap { rank[String($0.prefix { $0 != " " })] }
        #expect(severities.count == heads.count && severities == severities.sorted(by: >), "\(heads)")
        let bucketPolicy = try #require(lines[start..<end].firstIndex { $0.contains(" aws-s3-bucket-not-public ") })
        #expect(lines[bucketPolicy + 1] == "    arn:aws:s3:::public-assets-sample")
        #expect(!lines[(bucketPolicy + 2)..<end].prefix { $0.hasPrefix(" ") }.contains("    arn:aws:s3:::public-assets-sample"))
        #expect(heads.contains { $0.contains("team-no-public-assets") && $0.hasSuffix("[no framework mapping]") })
        // Then one line per framework, the unmapped control with its counts, and the manifest names it.
        #expect(lines.contains { $0.hasPrefix("FRAMEWORKS (requirements)") })
        #expect(lines.contains("no framework mapping (1): results shown, named in the evidence manifest, not evidence for any requirement"))
        // Every seeded bucket but public-assets-sample passes the team's rule.
        let bucketCount = try await Self.shared.value.report["resources"].asList.filter { $0["type"] == "aws.s3.bucket" }.count
        #expect(lines.contains("  team-no-public-assets: \(bucketCount - 1) pass, 1 fail"), "\(lines.suffix(20))")
        #expect(!lines.contains { $0.hasPrefix("REQUIREMENT ") })
        let manifest = try Attest.json(store.appendingPathComponent("_scans/0000000001.json"))
        #expect(manifest["unmapped_controls"]["team-no-public-assets"] == ["pass": .int(Int64(bucketCount - 1)), "fail": 1])
        let verify = try await Attest.run(["evidence", "verify", "--evidence", store.path])
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")

        // --details: every requirement of every framework, and every failing resource.
        let details = try await Attest.run(base + ["--details", "--no-evidence"], environment: environment)
        #expect(details.stdout.contains("\nREQUIREMENT "))
        #expect(details.stdout.contains("CC6.6 "))
        #expect(!details.stdout.contains("more (--details)"))
    }
}
