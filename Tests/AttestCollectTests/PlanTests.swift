import AttestAWSProvider
import AttestCEL
import AttestCollect
import AttestControls
import AttestCore
import AttestInventory
import AttestTerraform
import AttestTestSupport
import Foundation
import Testing

/// The plan fixtures: `terraform show -json` of real plans (Terraform 1.11, AWS provider 5.100),
/// made by `scripts/terraform-plan-fixtures.sh`.
enum PlanFixture {
    static func plan(_ name: String) -> URL {
        TestPaths.repository.appendingPathComponent("fixtures/terraform/aws/\(name)/plan.json")
    }

    static func directory(_ name: String) -> URL { TestPaths.repository.appendingPathComponent("fixtures/terraform/aws/\(name)") }

    static func mapping() throws -> PlanMapping {
        try PlanMapping.load(
            file: TestPaths.repository.appendingPathComponent("providers/terraform/aws.yaml"),
            transforms: try TransformRegistry.generic.adding(AWSTransforms.all))
    }

    static func graph(_ name: String) throws -> PlanGraph {
        let plan = try TerraformPlan.parse(Data(contentsOf: plan(name)), file: name)
        return PlanGraph.build(plan, mappings: [try mapping()])
    }

    /// `attest plan` over a fixture, as JSON.
    static func report(_ name: String, _ extra: [String] = []) async throws -> (JSONValue, ProcessResult) {
        let out = try TestPaths.temporaryDirectory("plan").appendingPathComponent("report.json")
        let r = try await Attest.run(["plan", plan(name).path, "--format", "json", "--output", out.path, "--quiet"] + extra)
        guard FileManager.default.fileExists(atPath: out.path) else { throw TestPeerError("no report: \(r.status) \(r.stderr)") }
        return (try Attest.json(out), r)
    }

    static let compliant = Task { try await report("compliant", ["--fail-on", "never"]) }
    static let noncompliant = Task { try await report("noncompliant", ["--fail-on", "never"]) }
}

extension JSONValue {
    var results: [JSONValue] { self["results"].asList }
    func result(_ control: String, _ resource: String) -> JSONValue? {
        results.first { $0["control"].stringValue == control && $0["resource"].stringValue == resource }
    }
}

@Suite("attest plan over real Terraform plans")
struct PlanTests {
    @Test func everyPlanCapableControlPassesInTheCompliantPlanAndFailsInTheNoncompliantOne() async throws {
        let list = try await Attest.run(["controls", "list", "--plan", "--format", "json"])
        #expect(list.status == 0, "\(list.stderr)")
        let planCapable = try JSONValue.parse(list.stdout).asList.compactMap { $0["id"].stringValue }
        #expect(planCapable.count >= 50)
        let (good, goodRun) = try await PlanFixture.compliant.value
        let (bad, _) = try await PlanFixture.noncompliant.value
        #expect(goodRun.status == 0, "\(goodRun.stderr)")
        for id in planCapable {
            let mine = good.results.filter { $0["control"].stringValue == id }
            #expect(mine.contains { $0["status"] == "pass" }, "\(id) passes nowhere in the compliant plan")
            #expect(
                !mine.contains { ["fail", "error", "unknown"].contains($0["status"].stringValue ?? "") },
                "\(id) in the compliant plan: \(mine.filter { $0["status"] != "pass" }.map { "\($0["resource"]) \($0["status"])" })")
            #expect(
                bad.results.contains { $0["control"].stringValue == id && $0["status"] == "fail" },
                "\(id) fails nowhere in the noncompliant plan")
        }
        // Controls about runtime state do not run over a plan.
        #expect(!good.results.contains { $0["control"] == "aws-iam-root-mfa-enabled" })
        #expect(good["plan"]["controls_not_plan_capable"].intValue ?? 0 > 20)
        #expect(good["plan"]["actions"]["create"] == 65)
    }

    @Test func splitResourcesMergeIntoTheirBucket() throws {
        let g = try PlanFixture.graph("compliant")
        let bucket = try #require(g.graph["aws_s3_bucket.data"])
        #expect(bucket.type == "aws.s3.bucket")
        // From aws_s3_bucket_versioning, _public_access_block, _server_side_encryption_configuration,
        // _logging, _object_lock_configuration and _policy: none of it is in the bucket's own planned values.
        #expect(bucket.attributes["versioning"] == "Enabled")
        #expect(bucket.attributes["mfa_delete"] == "Enabled")
        #expect(bucket.attributes["public_access_block"]?["restrict_public_buckets"] == true)
        #expect(bucket.attributes["default_encryption"] == ["aws:kms"])
        #expect(bucket.attributes["logging_enabled"] == true)
        #expect(bucket.attributes["logging_target_bucket"] == "aws_s3_bucket.access_logs")
        #expect(bucket.attributes["object_lock_enabled"] == "Enabled")
        #expect(bucket.attributes["policy"]?["Statement"].asList.isEmpty == false)
        #expect(bucket.unknownAttributes == nil)
        #expect(g.graph.edges(from: "aws_s3_bucket.data", kind: "logs-to").map(\.to) == ["aws_s3_bucket.access_logs"])
        // Split resources make no node of their own.
        #expect(g.graph["aws_s3_bucket_versioning.data"] == nil)
    }

    @Test func securityGroupRulesComeFromInlineBlocksAndBothRuleResources() throws {
        let g = try PlanFixture.graph("noncompliant")
        func ports(_ id: String) -> [String] {
            (g.graph[id]?.attributes["ingress"]?.asList ?? []).map {
                "\($0["protocol"].stringValue ?? "?") \($0["from_port"].stringValue ?? "*")-\($0["to_port"].stringValue ?? "*") \(($0["cidrs"].asList + $0["ipv6_cidrs"].asList).compactMap(\.stringValue).joined(separator: ","))"
            }.sorted()
        }
        #expect(!ports("aws_security_group.open_inline").isEmpty)
        // aws_security_group_rule (ingress only: the egress rule goes to egress) and aws_vpc_security_group_ingress_rule.
        let rules = ports("aws_security_group.open_rules")
        #expect(rules.count == 3, "\(rules)")
        #expect(rules.contains { $0.hasPrefix("tcp 22-22") && $0.hasSuffix("::/0") })
        #expect(g.graph["aws_security_group.open_rules"]?.attributes["egress"]?.asList.count == 1)
        let vpcRules = ports("aws_security_group.open_vpc_rules")
        #expect(vpcRules.count == 4, "\(vpcRules)")
        #expect(vpcRules.contains { $0.hasPrefix("-1 *-*") })
    }

    @Test func modulesNestTwoLevelsAndReferencesCrossThem() async throws {
        let g = try PlanFixture.graph("modules")
        let web = "module.network.module.sg.aws_security_group.this[\"web\"]"
        #expect(g.graph[web] != nil)
        // vpc_id = var.vpc_id in module.sg is module.network's aws_vpc.this.
        #expect(g.graph.edges(from: web, kind: "contained-in").map(\.to) == ["module.network.aws_vpc.this"])
        #expect(g.graph.referrers(of: "module.network.aws_vpc.this", kind: "monitors").map(\.id) == ["module.network.aws_flow_log.this"])
        #expect(g.sources[web]?.modulePath == ["network", "sg"])
        let (report, _) = try await PlanFixture.report("modules", ["--fail-on", "never"])
        #expect(
            report.result("aws-ec2-sg-no-ssh-from-internet", "module.network.module.sg.aws_security_group.this[\"ssh\"]")?["status"]
                == "fail")
        #expect(report.result("aws-vpc-flow-logs-enabled", "module.network.aws_vpc.this")?["status"] == "pass")
    }

    @Test func valuesKnownOnlyAfterApplyAreUnknownWithTheAttributeNamed() async throws {
        let (report, run) = try await PlanFixture.report("unknowns", ["--fail-on", "never"])
        #expect(run.status == 0, "\(run.stderr)")
        // The bucket policy comes from a data source that waits for the bucket's ARN.
        let deny = try #require(report.result("aws-s3-bucket-deny-http", "aws_s3_bucket.b"))
        #expect(deny["status"] == "unknown")
        #expect(deny["reason"] == "known only after apply: attributes.policy")
        // A CIDR from an Elastic IP not allocated yet; a root volume left to the account's EBS default.
        #expect(report.result("aws-ec2-sg-no-ssh-from-internet", "aws_security_group.u")?["status"] == "unknown")
        #expect(report.result("aws-ec2-volume-encrypted", "aws_instance.i.root_block_device[0]")?["status"] == "unknown")
        // kms_key_id = aws_kms_key.k.arn is unknown, but it names the key: the trail is encrypted.
        #expect(report.result("aws-cloudtrail-kms-encryption", "aws_cloudtrail.t")?["status"] == "pass")
        #expect(report.result("aws-cloudtrail-kms-encryption", "aws_cloudtrail.t")?["observed"]["attributes.kms_key_id"] == "aws_kms_key.k")
        #expect(
            report["edges"].asList.contains {
                $0["from"] == "aws_cloudtrail.t" && $0["kind"] == "encrypted-by" && $0["to"] == "aws_kms_key.k"
            })
        // Values decided by what is known still decide: versioning is known though the bucket's ARN is not.
        #expect(report.result("aws-s3-bucket-versioning", "aws_s3_bucket.b")?["status"] != "unknown")
        #expect(report["controls"]["by_status"]["unknown"].intValue ?? 0 >= 5)
        // Unknown results are not failures: --fail-on counts only failures.
        let failures = report.results.filter { $0["status"] == "fail" }.count
        let (_, gated) = try await PlanFixture.report("unknowns", ["--fail-on", "critical"])
        let criticalFailures = report.results.filter { $0["status"] == "fail" && $0["severity"] == "critical" }.count
        #expect(gated.status == (criticalFailures > 0 ? 1 : 0), "\(failures) failures, \(criticalFailures) critical")
    }

    @Test func unknownFollowsCELsRulesForAndOrAndComprehensions() async throws {
        var resource = Resource(
            id: "aws_s3_bucket.x", type: "aws.s3.bucket", account: "unknown", region: "eu-west-1", name: "x",
            attributes: ["policy": nil, "versioning": "Enabled", "tags": ["a": "b"]])
        resource.unknownAttributes = ["policy"]
        func status(_ rule: String) async throws -> ResultStatus {
            let control = try ControlLoader.load(
                text: """
                    id: t
                    title: t
                    description: t
                    rationale: t
                    severity: low
                    resource_types: [aws.s3.bucket]
                    assert: "\(rule)"
                    remediation: {text: t}
                    """, file: "t.yaml")
            let results = await ControlEngine(controls: [control]).evaluate(
                graph: InventoryGraph(resources: [resource], edges: []), now: Date())
            return try #require(results.first).status
        }
        #expect(try await status("resource.attributes.policy != null") == .unknown)
        #expect(try await status("resource.attributes.versioning == 'Enabled' || resource.attributes.policy != null") == .pass)
        #expect(try await status("resource.attributes.versioning == 'Suspended' && resource.attributes.policy != null") == .fail)
        #expect(try await status("resource.attributes.versioning == 'Enabled' && resource.attributes.policy != null") == .unknown)
        #expect(try await status("[1, 2].exists(i, i == 2 || resource.attributes.policy == null)") == .pass)
        #expect(try await status("has(resource.attributes.policy)") == .pass)
        // An error and an unknown: the unknown is reported (once known, the error may vanish).
        #expect(try await status("resource.attributes.nope == 1 || resource.attributes.policy == null") == .unknown)
    }

    @Test func deletedResourcesAreNotJudgedAndNoOpAndUpdatesAre() async throws {
        let (report, _) = try await PlanFixture.report("lifecycle", ["--fail-on", "never"])
        let judged = Set(report.results.compactMap { $0["resource"].stringValue })
        #expect(!judged.contains("aws_security_group.open"))  // deleted
        #expect(!judged.contains("aws_iam_account_password_policy.this"))  // deleted
        #expect(judged.contains("aws_security_group.db"))  // replaced
        #expect(judged.contains("aws_s3_bucket.logs"))  // no-op
        // The update suspends versioning: judged as it will be.
        #expect(report.result("aws-s3-bucket-versioning", "aws_s3_bucket.logs")?["status"] == "fail")
        #expect(report["plan"]["actions"]["delete"] == 2)
        #expect(report["plan"]["actions"]["no-op"] == 5)
        #expect(report["plan"]["actions"]["replace"] == 1)
        // An existing role's literal policy ARN is the policy node in the plan.
        #expect(report["edges"].asList.contains { $0["from"] == "aws_iam_role.app" && $0["to"] == "aws_iam_policy.app" })
        #expect(!report.results.contains { $0["status"] == "error" }, "\(report.results.filter { $0["status"] == "error" })")
    }

    @Test func policyDocumentsFromJSONTextHeredocsAndDataSources() throws {
        let g = try PlanFixture.graph("iam")
        let policies = g.graph.resources(ofType: "aws.iam.policy")
        #expect(policies.count == 4)
        #expect(policies.allSatisfy { $0.attributes["document"]?["Statement"].asList.isEmpty == false })
        let roles = g.graph.resources(ofType: "aws.iam.role")
        #expect(roles.allSatisfy { $0.attributes["trust_policy"]?["Statement"].asList.isEmpty == false })
        // aws_iam_user_policy becomes the user's inline policy.
        #expect(g.graph.resources(ofType: "aws.iam.user").first?.attributes["inline_policies"]?.asList.count == 1)
        // aws_iam_group_policy becomes the group's.
        let group = try #require(g.graph.resources(ofType: "aws.iam.group").first)
        #expect(group.attributes["inline_policies"]?.asList.first?["document"]["Statement"].asList.isEmpty == false)
        #expect(g.unmapped.isEmpty, "\(g.unmapped)")
    }

    @Test func sensitiveValuesAreNeverPrinted() async throws {
        // The fixture's database password is in clear text in the plan, marked sensitive.
        let text = try String(contentsOf: PlanFixture.plan("unknowns"), encoding: .utf8)
        #expect(text.contains("not-a-real-secret-123"))
        // A sensitive value a rule reads: the trail's bucket name, marked sensitive in a copy.
        var plan = try JSONValue.parse(Data(contentsOf: PlanFixture.plan("unknowns")))
        plan = Self.markSensitive(plan, address: "aws_db_instance.d", attribute: "engine")
        let dir = try TestPaths.temporaryDirectory("plan-sensitive")
        let file = dir.appendingPathComponent("plan.json")
        try Data(plan.serialized().utf8).write(to: file)
        for format in ["json", "sarif", "junit", "table", "markdown", "csv", "ocsf", "html"] {
            let r = try await Attest.run(["plan", file.path, "--format", format, "--fail-on", "never"])
            #expect(r.status == 0, "\(format): \(r.stderr)")
            #expect(!r.stdout.contains("not-a-real-secret-123") && !r.stderr.contains("not-a-real-secret-123"), "\(format)")
            if format == "json" {
                let report = try JSONValue.parse(r.stdout)
                let db = report["resources"].asList.first { $0["id"] == "aws_db_instance.d" }
                #expect(db?["attributes"]["engine"] == "(sensitive)")
                // The rule still read the value: IAM authentication applies to the engine.
                #expect(report.result("aws-rds-instance-iam-auth", "aws_db_instance.d")?["status"] != "not_applicable")
                #expect(!r.stdout.contains("\"postgres\""))
            }
        }
    }

    static func markSensitive(_ plan: JSONValue, address: String, attribute: String) -> JSONValue {
        guard case .object(var top) = plan else { return plan }
        top["resource_changes"] = .array(
            plan["resource_changes"].asList.map { change in
                guard change["address"].stringValue == address, case .object(var c) = change, case .object(var inner) = change["change"]
                else { return change }
                var sensitive = inner["after_sensitive"]?.objectValue ?? [:]
                sensitive[attribute] = true
                inner["after_sensitive"] = .object(sensitive)
                c["change"] = .object(inner)
                return .object(c)
            })
        return .object(top)
    }

    @Test func resultsPointAtTheResourceBlockInSARIF() async throws {
        let dir = try TestPaths.temporaryDirectory("plan-sarif")
        let sarif = dir.appendingPathComponent("plan.sarif")
        let tfDir = PlanFixture.directory("modules")
        let r = try await Attest.run([
            "plan", PlanFixture.plan("modules").path, "--tf-dir", tfDir.path, "--format", "sarif", "--output", sarif.path, "--quiet",
            "--fail-on", "high",
        ])
        #expect(r.status == 1, "an open SSH port is high: \(r.stderr)")
        let seen = try await consumer(
            "sarif", sarif, [TestPaths.shared.appendingPathComponent("vectors/sarif/sarif-schema-2.1.0.json").path])
        let doc = try Attest.json(sarif)
        let results = doc["runs"].asList[0]["results"].asList
        let ssh = try #require(results.first { $0["ruleId"] == "aws-ec2-sg-no-ssh-from-internet" })
        let location = ssh["locations"].asList[0]["physicalLocation"]
        let file = try #require(location["artifactLocation"]["uri"].stringValue)
        #expect(file == tfDir.path + "/modules/sg/main.tf")
        let lines = try String(contentsOf: URL(fileURLWithPath: file), encoding: .utf8).split(
            separator: "\n", omittingEmptySubsequences: false)
        let line = try #require(location["region"]["startLine"].intValue)
        #expect(lines[Int(line) - 1].hasPrefix("resource \"aws_security_group\" \"this\""))
        #expect(seen["results"].intValue == Int64(results.count))
        // A root-module resource: the root's file.
        let bucket = try #require(
            results.first { $0["locations"].asList[0]["logicalLocations"].asList[0]["fullyQualifiedName"] == "aws_s3_bucket.flow_logs" })
        let bucketFile = try #require(bucket["locations"].asList[0]["physicalLocation"]["artifactLocation"]["uri"].stringValue)
        #expect(bucketFile.hasPrefix(tfDir.path + "/") && bucketFile.hasSuffix(".tf"))
    }

    @Test func junitSkipsUnknownsAndExceptionsMatchAddresses() async throws {
        let dir = try TestPaths.temporaryDirectory("plan-junit")
        try """
        exceptions:
          - control: aws-s3-bucket-*
            resources: ["aws_s3_bucket.b"]
            owner: platform-team@example.com
            justification: "bucket b is a fixture"
            created: 2026-11-01
            expires: 2027-10-31
        """.write(to: dir.appendingPathComponent("exceptions.yaml"), atomically: true, encoding: .utf8)
        let r = try await Attest.run([
            "plan", PlanFixture.plan("unknowns").path, "--exceptions", dir.appendingPathComponent("exceptions.yaml").path,
            "--format", "junit,json,markdown", "--output-dir", dir.appendingPathComponent("out").path, "--fail-on", "never",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try Attest.json(dir.appendingPathComponent("out/attest.json"))
        let excepted = report.results.filter { $0["status"] == "excepted" }
        #expect(!excepted.isEmpty && excepted.allSatisfy { $0["resource"] == "aws_s3_bucket.b" })
        let junit = try await consumer("junit", dir.appendingPathComponent("out/attest.junit.xml"))
        let unknown = report.results.filter { $0["status"] == "unknown" }.count
        #expect(junit["skipped"].intValue ?? 0 >= Int64(unknown + excepted.count))
        #expect(junit["skipped_messages"].asList.contains { $0.stringValue?.hasPrefix("known only after apply") == true })
        let markdown = try String(contentsOf: dir.appendingPathComponent("out/attest.md"), encoding: .utf8)
        #expect(markdown.contains("attest plan"))
    }

    @Test func badPlansAreRefusedWithTheFileNamed() async throws {
        let dir = try TestPaths.temporaryDirectory("plan-bad")
        func write(_ name: String, _ text: String) throws -> String {
            let url = dir.appendingPathComponent(name)
            try text.write(to: url, atomically: true, encoding: .utf8)
            return url.path
        }
        let cases: [(String, String)] = [
            (try write("not-json.json", "Terraform will perform the following actions:"), "not JSON"),
            (try write("state.json", #"{"format_version": "1.0", "values": {"root_module": {}}}"#), "this is a state"),
            (try write("v2.json", #"{"format_version": "2.0", "resource_changes": []}"#), "format_version 2.0 is not supported"),
            (try write("array.json", "[]"), "not a Terraform plan"),
            (dir.appendingPathComponent("missing.json").path, "no such plan file"),
        ]
        for (path, message) in cases {
            let r = try await Attest.run(["plan", path])
            #expect(r.status == 2, "\(path): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains(message) && r.stderr.contains(URL(fileURLWithPath: path).lastPathComponent), "\(r.stderr)")
        }
        let flags = try await Attest.run(["plan", PlanFixture.plan("iam").path, "--tf-dir", dir.appendingPathComponent("nope").path])
        #expect(flags.status == 2 && flags.stderr.contains("--tf-dir"))
    }

    @Test func hostilePlansAreRecordedNotCrashedOn() async throws {
        let dir = try TestPaths.temporaryDirectory("plan-hostile")
        var base = try JSONValue.parse(Data(contentsOf: PlanFixture.plan("noncompliant")))
        // Every value of every planned resource replaced by a value of another kind, one kind at a time.
        for (n, replacement) in [JSONValue.string("x"), .int(7), .array([.null]), .object(["a": .bool(true)]), .null].enumerated() {
            guard case .object(var top) = base else { return }
            top["resource_changes"] = .array(
                base["resource_changes"].asList.map { change in
                    guard case .object(var c) = change, case .object(var inner) = change["change"],
                        case .object(let after) = inner["after"] ?? .null
                    else { return change }
                    inner["after"] = .object(after.mapValues { _ in replacement })
                    inner["after_unknown"] = n == 2 ? .bool(true) : .array([])
                    c["change"] = .object(inner)
                    return .object(c)
                })
            base = .object(top)
            let file = dir.appendingPathComponent("hostile-\(n).json")
            try Data(base.serialized().utf8).write(to: file)
            let r = try await Attest.run(["plan", file.path, "--format", "json", "--fail-on", "never"])
            #expect([0, 3].contains(r.status), "\(n): \(r.status) \(r.stderr.suffix(500))")
            #expect((try? JSONValue.parse(r.stdout))?["results"].asList.isEmpty == false, "\(n)")
            base = try JSONValue.parse(Data(contentsOf: PlanFixture.plan("noncompliant")))
        }
        // Addresses with quotes, brackets and dots in their keys; a reference cycle through modules.
        let odd = #"""
            {"format_version":"1.2","resource_changes":[
              {"address":"module.a[\"x.y\"].aws_s3_bucket.b[\"]\\\"[\"]","module_address":"module.a[\"x.y\"]","mode":"managed",
               "type":"aws_s3_bucket","name":"b","index":"]\"[","change":{"actions":["create"],"after":{"bucket":"b"},"after_unknown":{"versioning":true}}},
              {"address":"aws_s3_bucket_versioning.v","mode":"managed","type":"aws_s3_bucket_versioning","name":"v",
               "change":{"actions":["create"],"after":{"bucket":null,"versioning_configuration":"oops"},"after_unknown":{}}}],
             "configuration":{"root_module":{"resources":[{"address":"aws_s3_bucket_versioning.v","expressions":{"bucket":{"references":["var.x","module.a.out","module.a.out"]}}}],
               "module_calls":{"a":{"source":"./a","expressions":{"x":{"references":["var.x"]}},"module":{"outputs":{"out":{"expression":{"references":["module.a.out"]}}}}}}}}}
            """#
        let file = dir.appendingPathComponent("odd.json")
        try odd.write(to: file, atomically: true, encoding: .utf8)
        let r = try await Attest.run(["plan", file.path, "--format", "json", "--fail-on", "never"])
        #expect([0, 3].contains(r.status), "\(r.status) \(r.stderr)")
        let report = try JSONValue.parse(r.stdout)
        #expect(report["resources"].asList.first?["id"] == "module.a[\"x.y\"].aws_s3_bucket.b[\"]\\\"[\"]")
        #expect(report["plan"]["notes"].asList.count == 1, "the versioning's bucket is not in the plan")
    }

    @Test func standardInputAndTheTableSummary() async throws {
        let r = try await runProcessCapturing(
            "/bin/sh", ["-c", "attest plan - --fail-on never < '\(PlanFixture.plan("modules").path)'"],
            environment: ["PATH": TestPaths.pathDirectory.path + ":/usr/bin:/bin", "HOME": try TestPaths.temporaryDirectory("home").path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("attest plan (standard input) · terraform 1.11.4"))
        #expect(r.stdout.contains("planned: 10 create"))
        #expect(r.stdout.contains("not judged (no mapping): aws_subnet 2"))
    }
}

@Suite("attest plan and Checkov over the same plans")
struct CheckovComparisonTests {
    /// Checkov 3.3.30 in a virtual environment of its own (`scripts/install-test-deps.sh`): its
    /// pins would downgrade boto3 and botocore in the Python the other tests use.
    static func checkov() throws -> String {
        let env = ProcessInfo.processInfo.environment
        var candidates = [env["ATTEST_CHECKOV"]].compactMap { $0 }
        if let home = env["HOME"] { candidates.append(home + "/.cache/attest/checkov/bin/checkov") }
        candidates.append("/opt/attest-checkov/bin/checkov")
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw TestPeerError(
                "Checkov is not installed: run scripts/install-test-deps.sh (looked at \(candidates.joined(separator: ", ")))")
        }
        return found
    }

    @Test func everyExplainedDifferenceIsInTheDocs() throws {
        let tsv = try String(contentsOf: TestPaths.repository.appendingPathComponent("docs/checkov-differences.tsv"), encoding: .utf8)
        let doc = try String(contentsOf: TestPaths.repository.appendingPathComponent("docs/plan.md"), encoding: .utf8)
        let rows = tsv.split(separator: "\n").dropFirst().map { $0.split(separator: "\t", omittingEmptySubsequences: false) }
        #expect(!rows.isEmpty)
        for row in rows {
            #expect(row.count == 4, "\(row)")
            #expect(
                doc.contains("| `\(row[0])` | \(row[1]) | `\(row[2])` | \(row[3]) |"), "docs/plan.md lacks: \(row.joined(separator: " "))")
        }
    }

    @Test func verdictsAgreeWithCheckovOrTheDifferenceIsExplained() async throws {
        let checkov = try Self.checkov()
        let dir = try TestPaths.temporaryDirectory("plan-checkov")
        var arguments = [
            TestPaths.repository.appendingPathComponent("Tests/Support/plan/compare_checkov.py").path, "--controls",
            TestPaths.repository.appendingPathComponent("controls").path, "--differences",
            TestPaths.repository.appendingPathComponent("docs/checkov-differences.tsv").path,
        ]
        for name in ["compliant", "noncompliant", "modules", "unknowns", "iam", "lifecycle"] {
            let attestOut = dir.appendingPathComponent("\(name).attest.json")
            let r = try await Attest.run([
                "plan", PlanFixture.plan(name).path, "--format", "json", "--output", attestOut.path, "--quiet", "--fail-on", "never",
            ])
            #expect(r.status == 0, "\(name): \(r.stderr)")
            // Not --quiet: with it Checkov's JSON leaves out the checks that passed.
            let c = try await runProcessCapturing(
                checkov,
                [
                    "-f", PlanFixture.plan(name).path, "--framework", "terraform_plan", "-o", "json", "--compact", "--skip-download",
                    "--soft-fail",
                ],
                environment: ["HOME": dir.path, "PATH": "/usr/bin:/bin", "LOG_LEVEL": "ERROR"])
            #expect(c.status == 0, "checkov \(name): \(c.stderr.suffix(1000))")
            let checkovOut = dir.appendingPathComponent("\(name).checkov.json")
            try Data(c.stdout.utf8).write(to: checkovOut)
            arguments += ["--attest", attestOut.path, "--checkov", checkovOut.path, "--plan", PlanFixture.plan(name).path, "--label", name]
        }
        let compared = try await runProcessCapturing("/usr/bin/env", ["python3"] + arguments)
        #expect(compared.status == 0, "\(compared.stdout.prefix(6000)) \(compared.stderr.suffix(2000))")
        // The comparison is not empty: most verdicts are compared, and agree.
        let agreements = compared.stdout.split(separator: "\n").first { $0.hasPrefix("agreements: ") }
        let count = agreements.flatMap { Int($0.dropFirst("agreements: ".count).prefix { $0.isNumber }) } ?? 0
        #expect(count >= 150, "\(agreements ?? "no summary")")
    }
}
