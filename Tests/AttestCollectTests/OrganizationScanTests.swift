import AttestCore
import AttestScan
import AttestTestSupport
import Foundation
import Testing

/// `attest scan aws --org` against a moto organization (`Tests/Support/moto/organization.py`):
/// nested OUs, SCPs at different levels, an allow-list OU, and an account whose role the scanner
/// may not assume. moto checks every scan request's signature against the keys it issued.
@Suite("AWS organization scans", .serialized)
struct OrganizationScanTests {
    struct Org: Sendable {
        let moto: MotoServer
        let key: String
        let secret: String
        let management: String
        let accounts: [String: String]
        let units: [String: String]

        var environment: [String: String] {
            ["AWS_ENDPOINT_URL": moto.endpoint, "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret]
        }
        func id(_ name: String) -> String { name == "management" ? management : accounts[name]! }
    }

    static let budget = 150
    static let shared = Task<Org, any Error> {
        let moto = try await MotoServer.start(authAfter: budget)
        let seed = try await moto.seedOrganization(budget: budget)
        let scanner = try #require(seed["scanner"] as? [String: String])
        return Org(
            moto: moto, key: scanner["access_key_id"]!, secret: scanner["secret_access_key"]!,
            management: try #require(seed["management"] as? String),
            accounts: try #require(seed["accounts"] as? [String: String]), units: try #require(seed["ous"] as? [String: String]))
    }

    /// Lambda is left out: moto cannot check the signature of its rest-json requests with authentication on.
    static let services = "organizations,iam,s3,s3-control,ec2,cloudtrail"

    func scan(_ extra: [String], controls: Bool = false, _ org: Org) async throws -> (ProcessResult, JSONValue) {
        // A report folder that does not exist yet is made.
        let out = try TestPaths.temporaryDirectory().appendingPathComponent("reports/nightly/scan.json")
        let r = try await Attest.run(
            [
                "scan", "aws", "--org", "--regions", "us-east-1,eu-west-1", "--services", Self.services, "--format", "json", "--output",
                out.path,
                "--no-evidence", "--no-history",
            ] + (controls ? [] : ["--no-controls"]) + extra,
            environment: org.environment)
        let report = FileManager.default.fileExists(atPath: out.path) ? try Attest.json(out) : .null
        return (r, report)
    }

    func accounts(_ report: JSONValue) -> Set<String> { Set(report["scan"]["accounts"].asList.compactMap(\.stringValue)) }

    @Test func theWholeOrganizationIsScannedAndTheBlockedAccountIsAnError() async throws {
        let org = try await Self.shared.value
        let (r, report) = try await scan([], org)
        #expect(r.status == 3, "\(r.stderr)")
        #expect(accounts(report) == Set(["management", "standalone", "prod-app", "sandbox-dev"].map(org.id)))
        let errors = report["errors"].asList
        #expect(errors.count == 1, "\(errors)")
        #expect(errors.first?["kind"] == "account_unavailable")
        #expect(errors.first?["account"] == .string(org.id("blocked")))
        #expect(errors.first?["message"].stringValue?.contains("OrganizationAccountAccessRole") == true)
        #expect(r.stderr.contains("5/5 accounts"), "\(r.stderr)")
        // Each member's resources are its own: the bucket made in prod-app is in prod-app.
        let resources = report["resources"].asList
        let bucket = resources.first { $0["type"] == "aws.s3.bucket" && $0["name"] == "prod-app-public-assets" }
        #expect(bucket?["account"] == .string(org.id("prod-app")))
        // The organization: every account where it sits, with its ancestors; every SCP with its targets.
        let nodes = resources.filter { $0["type"] == "aws.organizations.account" }
        #expect(nodes.count == 5)
        let prod = nodes.first { $0["account"] == .string(org.id("prod-app")) }
        #expect(prod?["attributes"]["ancestors"].asList.last == .string(org.units["prod"]!))
        #expect(prod?["attributes"]["ancestors"].asList.count == 3)
        #expect(nodes.first { $0["account"] == .string(org.management) }?["attributes"]["is_management"] == true)
        let policies = resources.filter { $0["type"] == "aws.organizations.policy" }
        let full = policies.first { $0["name"] == "FullAWSAccess" }
        #expect(full?["attributes"]["targets"].asList.contains(.string(org.units["sandbox"]!)) == false)
        #expect(policies.contains { $0["name"] == "RCPFullAWSAccess" && $0["attributes"]["type"] == "RESOURCE_CONTROL_POLICY" })
        #expect(
            Set(resources.filter { $0["type"] == "aws.organizations.ou" }.compactMap { $0["name"].stringValue }) == [
                "workloads", "prod", "sandbox",
            ])
    }

    @Test func theGuardrailsInForceAreJudgedPerAccount() async throws {
        let org = try await Self.shared.value
        let config = try TestPaths.temporaryDirectory().appendingPathComponent("attest.yaml")
        try """
        controls:
          parameters:
            aws-scp-restrict-regions: {approved_regions: [us-east-1, eu-west-1]}
        """.write(to: config, atomically: true, encoding: .utf8)
        let (r, report) = try await scan(["--config", config.path], controls: true, org)
        #expect(r.status == 1, "\(r.stderr)")
        func status(_ control: String, _ account: String) -> String? {
            report["results"].asList.first {
                $0["control"] == .string(control) && $0["account"] == .string(org.id(account))
                    && $0["resource_type"] == "aws.organizations.account"
            }?["status"].stringValue
        }
        // Hand-computed: deny-tampering on workloads (so on blocked and prod-app), the region SCP on
        // prod, the allow-list on sandbox (ec2 and s3 only: everything else denied by omission).
        let expected: [(String, [String: String])] = [
            (
                "aws-scp-deny-leave-organization",
                ["standalone": "fail", "blocked": "pass", "prod-app": "pass", "sandbox-dev": "pass", "management": "not_applicable"]
            ),
            ("aws-scp-deny-cloudtrail-tampering", ["standalone": "fail", "blocked": "pass", "prod-app": "pass", "sandbox-dev": "pass"]),
            (
                "aws-scp-restrict-regions",
                ["standalone": "fail", "blocked": "fail", "prod-app": "pass", "sandbox-dev": "fail", "management": "not_applicable"]
            ),
            ("aws-scp-deny-config-tampering", ["standalone": "fail", "blocked": "fail", "prod-app": "fail", "sandbox-dev": "pass"]),
        ]
        for (control, byAccount) in expected {
            for (account, want) in byAccount {
                #expect(status(control, account) == want, "\(control) on \(account)")
            }
        }
        // The blocked account's own data is unknown: its per-account controls are errors, not passes.
        let blocked = report["results"].asList.filter {
            $0["account"] == .string(org.id("blocked")) && $0["resource_type"] != "aws.organizations.account"
        }
        #expect(!blocked.isEmpty)
        #expect(blocked.allSatisfy { $0["status"] == "error" }, "\(blocked.prefix(3))")
    }

    @Test func shardsPartitionTheAccountsAndTogetherMakeTheWhole() async throws {
        let org = try await Self.shared.value
        let (_, whole) = try await scan(["--exclude-accounts", org.id("blocked")], org)
        var union: Set<String> = []
        var resourceIDs: Set<String> = []
        var orgAccountNodes = 0
        for i in 0..<3 {
            let (r, part) = try await scan(["--exclude-accounts", org.id("blocked"), "--shard", "\(i)/3"], org)
            #expect(r.status == 0, "\(r.stderr)")
            let mine = accounts(part)
            #expect(union.isDisjoint(with: mine), "shard \(i) repeats an account")
            union.formUnion(mine)
            for resource in part["resources"].asList {
                resourceIDs.insert(resource["id"].stringValue ?? "")
                if resource["type"] == "aws.organizations.account" { orgAccountNodes += 1 }
            }
            #expect(mine.allSatisfy { AccountShard.shard(of: $0, count: 3) == i })
        }
        #expect(union == accounts(whole))
        #expect(resourceIDs == Set(whole["resources"].asList.compactMap { $0["id"].stringValue }))
        #expect(orgAccountNodes == 4, "each account's organization node is in its own shard only")
    }

    @Test func accountsAndOUsNarrowTheScan() async throws {
        let org = try await Self.shared.value
        let (r1, underWorkloads) = try await scan(["--ous", org.units["workloads"]!], org)
        #expect(r1.status == 3, "the blocked account is under workloads: \(r1.stderr)")
        #expect(accounts(underWorkloads) == [org.id("prod-app")])
        let (r2, two) = try await scan(["--accounts", "\(org.id("standalone")),\(org.id("sandbox-dev"))"], org)
        #expect(r2.status == 0, "\(r2.stderr)")
        #expect(accounts(two) == [org.id("standalone"), org.id("sandbox-dev")])
    }

    @Test func mistakesAreRefusedBeforeAnyAccountIsEntered() async throws {
        let org = try await Self.shared.value
        for (args, message) in [
            (["--accounts", "000000000000"], "not in organization"),
            (["--ous", "ou-zzzz-00000000"], "not an organizational unit"),
            (["--shard", "3/3"], "--shard"),
            (["--exclude-accounts", "12345"], "not an AWS account id"),
            (["--role-name", "arn:aws:iam::1:role/x"], "not an IAM role name"),
        ] {
            let (r, _) = try await scan(args, org)
            #expect(r.status == 2, "\(args): \(r.stderr)")
            #expect(r.stderr.contains(message), "\(args): \(r.stderr)")
        }
        let r = try await Attest.run(["scan", "aws", "--shard", "0/2"], environment: org.environment)
        #expect(r.status == 2)
        #expect(r.stderr.contains("--shard needs --org"), "\(r.stderr)")
    }

    @Test func evidenceNamesEveryAccountScanned() async throws {
        let org = try await Self.shared.value
        let dir = try TestPaths.temporaryDirectory()
        let out = dir.appendingPathComponent("scan.json")
        let key = dir.appendingPathComponent("signing.key")
        let keygen = try await Attest.run(["evidence", "keygen", "--out", key.path])
        try #require(keygen.status == 0, "\(keygen.stderr)")
        let r = try await Attest.run(
            [
                "scan", "aws", "--org", "--exclude-accounts", org.id("blocked"), "--regions", "us-east-1", "--services",
                "organizations,iam",
                "--format", "json", "--output", out.path, "--evidence", dir.appendingPathComponent("evidence").path,
                "--signing-key", key.path, "--no-history", "--fail-on", "never",
            ],
            environment: org.environment)
        #expect(r.status == 0 || r.status == 3, "\(r.stderr)")
        let manifests = try FileManager.default.subpathsOfDirectory(atPath: dir.appendingPathComponent("evidence").path)
            .filter { $0.hasPrefix("_scans/") && $0.hasSuffix(".json") }
        let manifest = try Attest.json(dir.appendingPathComponent("evidence").appendingPathComponent(try #require(manifests.first)))
        #expect(
            Set(manifest["accounts"].asList.compactMap(\.stringValue))
                == Set(["management", "standalone", "prod-app", "sandbox-dev"].map(org.id)))
    }
}

@Suite("Permissions for organization scans")
struct OrganizationPermissionsTests {
    @Test func theManagementAndMemberPoliciesSayWhatEachSideNeeds() async throws {
        let r = try await Attest.run([
            "permissions", "aws", "--org", "--role-name", "AttestAudit", "--management-account", "111122223333", "--external-id", "xyz",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let doc = try JSONValue.parse(r.stdout)
        let management = doc["management_account"]["Statement"].asList
        let actions = Set(
            management.flatMap { $0["Action"].asList.compactMap(\.stringValue) + [$0["Action"].stringValue].compactMap { $0 } })
        #expect(
            actions.isSuperset(of: [
                "organizations:ListAccountsForParent", "organizations:ListOrganizationalUnitsForParent",
                "organizations:DescribePolicy", "organizations:ListTargetsForPolicy", "sts:AssumeRole", "s3:GetBucketPolicy",
            ]))
        let assume = management.first { $0["Action"] == "sts:AssumeRole" }
        #expect(assume?["Resource"] == "arn:aws:iam::*:role/AttestAudit")
        let member = doc["member_accounts"]
        #expect(member["role_name"] == "AttestAudit")
        let memberActions = member["policy"]["Statement"].asList.flatMap { $0["Action"].asList.compactMap(\.stringValue) }
        #expect(!memberActions.isEmpty && !memberActions.contains { $0.hasPrefix("organizations:") }, "members read no organization")
        #expect(memberActions.contains("iam:GetAccountAuthorizationDetails"))
        let trust = member["trust_policy"]["Statement"].asList.first
        #expect(trust?["Principal"]["AWS"] == "arn:aws:iam::111122223333:root")
        #expect(trust?["Condition"]["StringEquals"]["sts:ExternalId"] == "xyz")
        let bad = try await Attest.run(["permissions", "aws", "--role-name", "x"])
        #expect(bad.status == 2 && bad.stderr.contains("need --org"), "\(bad.stderr)")
    }
}

@Suite("Account shards")
struct AccountShardTests {
    @Test func parsing() {
        #expect(AccountShard("0/1") == AccountShard(index: 0, count: 1))
        #expect(AccountShard(" 2 / 8 ") == AccountShard(index: 2, count: 8))
        for bad in ["", "1", "1/", "/2", "2/2", "-1/2", "0/0", "a/b", "1/2/3"] { #expect(AccountShard(bad) == nil, "\(bad)") }
    }

    @Test func everyAccountIsInExactlyOneShardAndStaysThereWhenOthersAreAdded() {
        let accounts = (0..<2000).map { String(format: "%012d", 100_000_000_000 + $0 * 7919) }
        let shards = (0..<8).map { AccountShard(index: $0, count: 8) }
        var counts = [Int](repeating: 0, count: 8)
        for a in accounts {
            let holders = shards.filter { $0.contains(a) }
            #expect(holders.count == 1)
            counts[holders[0].index] += 1
        }
        // Spread: every shard within a third of the mean.
        #expect(counts.allSatisfy { abs($0 - 250) < 84 }, "\(counts)")
        // Fixed across runs and machines (not Swift's seeded Hasher).
        #expect(AccountShard.shard(of: "123456789012", count: 1000) == AccountShard.shard(of: "123456789012", count: 1000))
    }
}
