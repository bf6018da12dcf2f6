import AttestCore
import AttestHistory
import AttestTestSupport
import Foundation
import Testing

/// Two scans of a moto account changed in between, recorded in the scan history and compared
/// with `attest diff`.
@Suite("Scan history and drift", .serialized)
struct HistoryTests {
    struct Run: Sendable {
        let history: URL
        let diff: JSONValue
        let table: String
        let list: JSONValue
        let account: String
        /// The second scan's report (JSON) and its HTML.
        let report: JSONValue
        let html: String
    }

    static let shared = Task { () throws -> Run in
        // An emulator of its own: the changes would break the seeded account other suites read.
        let moto = try await MotoServer.start()
        defer { moto.stop() }
        let account = try await moto.python(
            """
            s3 = client("s3")
            for b in ["data-bucket", "old-bucket"]:
                s3.create_bucket(Bucket=b)
            s3.put_public_access_block(Bucket="data-bucket", PublicAccessBlockConfiguration={
                "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
            iam = client("iam")
            iam.create_user(UserName="deployer")
            iam.create_access_key(UserName="deployer")
            ec2 = client("ec2")
            vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
            ec2.create_security_group(GroupName="web", Description="web servers", VpcId=vpc)
            print(client("sts").get_caller_identity()["Account"], end="")
            """)
        let dir = try TestPaths.temporaryDirectory("history")
        let history = dir.appendingPathComponent("history.sqlite")
        let env = ["AWS_ENDPOINT_URL": moto.endpoint, "AWS_ACCESS_KEY_ID": "AKIAHISTORY000000001", "AWS_SECRET_ACCESS_KEY": "history"]
        func scan() async throws {
            let r = try await Attest.run(
                [
                    "scan", "aws", "--regions", "us-east-1", "--services", "s3,iam,ec2", "--fail-on", "never", "--no-evidence",
                    "--history", history.path, "--format", "json,html", "--output-dir", dir.path, "--quiet",
                ], environment: env)
            guard r.status == 0 || r.status == 3 else { throw TestPeerError("scan exited \(r.status): \(r.stderr)") }
        }
        try await scan()
        try await moto.python(
            """
            s3 = client("s3")
            s3.delete_public_access_block(Bucket="data-bucket")
            s3.put_bucket_policy(Bucket="data-bucket", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data-bucket/*"}]}))
            s3.delete_bucket(Bucket="old-bucket")
            iam = client("iam")
            old = iam.list_access_keys(UserName="deployer")["AccessKeyMetadata"][0]["AccessKeyId"]
            iam.create_access_key(UserName="deployer")
            iam.delete_access_key(UserName="deployer", AccessKeyId=old)
            ec2 = client("ec2")
            sg = ec2.describe_security_groups(GroupNames=["web"])["SecurityGroups"][0]["GroupId"]
            ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
            """)
        try await scan()
        let diff = try await Attest.run(["diff", "--history", history.path, "--format", "json"])
        guard diff.status == 0 else { throw TestPeerError("diff exited \(diff.status): \(diff.stderr)") }
        let table = try await Attest.run(["diff", "--history", history.path])
        let list = try await Attest.run(["history", "list", "--history", history.path, "--format", "json"])
        return Run(
            history: history, diff: try JSONValue.parse(diff.stdout), table: table.stdout, list: try JSONValue.parse(list.stdout),
            account: account, report: try Attest.json(dir.appendingPathComponent("attest.json")),
            html: try String(contentsOf: dir.appendingPathComponent("attest.html"), encoding: .utf8))
    }

    @Test func bothScansAreListedNewestFirst() async throws {
        let run = try await Self.shared.value
        let scans = run.list.asList
        #expect(scans.count == 2)
        #expect(scans[0]["sequence"] == 2 && scans[1]["sequence"] == 1)
        #expect(scans.allSatisfy { $0["accounts"] == .array([.string(run.account)]) })
        #expect(run.diff["from"]["id"] == scans[1]["id"])
        #expect(run.diff["to"]["id"] == scans[0]["id"])
    }

    @Test func theBucketMadePublicAndThePortOpenedAreRegressionsWithTheirDrift() async throws {
        let run = try await Self.shared.value
        let regressed = run.diff["regressed"].asList
        let ssh = regressed.first { $0["control"] == "aws-ec2-sg-no-ssh-from-internet" }
        #expect(ssh?["before"] == "pass" && ssh?["after"] == "fail", "\(regressed)")
        #expect(ssh?["resource"].stringValue?.contains(":security-group/sg-") == true)
        #expect(regressed.contains { $0["control"] == "aws-s3-bucket-not-public" && $0["resource"] == "arn:aws:s3:::data-bucket" })
        let changed = run.diff["changed_resources"].asList
        let bucket = changed.first { $0["id"] == "arn:aws:s3:::data-bucket" }
        let paths = bucket?["changes"].asList.compactMap { $0["path"].stringValue } ?? []
        #expect(paths.contains { $0.hasPrefix("attributes.policy") }, "\(paths)")
        #expect(paths.contains { $0.hasPrefix("attributes.public_access_block") }, "\(paths)")
        let group = changed.first {
            $0["id"].stringValue?.contains(":security-group/") == true
                && $0["changes"].asList.contains { $0["path"].stringValue?.contains("ingress") == true }
        }
        #expect(group != nil, "\(changed.map { $0["id"] })")
        #expect(run.table.contains("REGRESSED"))
        #expect(run.table.contains("CHANGED RESOURCES (drift)"))
    }

    @Test func theSecondScansReportShowsItsDriftSinceTheFirst() async throws {
        let run = try await Self.shared.value
        let drift = run.report["drift"]
        #expect(drift["previous_scan"] == run.diff["from"]["id"])
        #expect(drift["regressed"].asList.contains { $0["control"] == "aws-ec2-sg-no-ssh-from-internet" && $0["before"] == "pass" })
        #expect(drift["removed_resources"].asList.contains("arn:aws:s3:::old-bucket"))
        #expect(drift["changed_resources"].asList.count == run.diff["changed_resources"].asList.count)
        #expect(run.html.contains("<section id=\"drift\"><h2>Since the previous scan</h2>"))
        // The trend: both scans' failures, this one last.
        let trend = run.report["trend"].asList
        #expect(trend.count == 2)
        #expect(trend.last?["scan"] == run.report["scan"]["id"])
        #expect(run.html.contains("Failures per scan (last 2, this one last)"))
        #expect(
            run.html.contains("<td>regressed</td><td>high</td><td><code>aws-ec2-sg-no-ssh-from-internet</code></td>"),
            "\(run.html.prefix(0))")
    }

    @Test func theRemovedBucketAndTheRotatedKeyAppearAsRemovedAndNewResources() async throws {
        let run = try await Self.shared.value
        let removed = run.diff["removed_resources"].asList.compactMap { $0["id"].stringValue }
        #expect(removed.contains("arn:aws:s3:::old-bucket"), "\(removed)")
        let keyType = { (r: JSONValue) in r["type"].stringValue?.contains("access-key") == true }
        #expect(run.diff["removed_resources"].asList.contains(where: keyType), "\(removed)")
        #expect(run.diff["new_resources"].asList.contains(where: keyType), "\(run.diff["new_resources"])")
        // The removed bucket's failures went with it, and are said so, not counted as fixed.
        #expect(run.diff["failures_gone_with_their_resource"].asList.contains { $0["resource"] == "arn:aws:s3:::old-bucket" })
        #expect(!run.diff["fixed"].asList.contains { $0["resource"] == "arn:aws:s3:::old-bucket" })
    }

    @Test func anUnchangedResourceIsStoredOnce() async throws {
        let run = try await Self.shared.value
        let out = try await runProcess(
            "/usr/bin/env",
            [
                "python3", "-c",
                "import sqlite3,sys,json; c=sqlite3.connect(sys.argv[1]); print(json.dumps([c.execute(q).fetchone()[0] for q in ['select count(*) from scan_resource','select count(*) from resource_version','select count(distinct resource_id) from scan_resource']]))",
                run.history.path,
            ])
        let counts = try JSONValue.parse(out).asList.compactMap(\.intValue)
        #expect(counts.count == 3)
        // Two scans' memberships, but versions only for what changed: fewer than one per membership.
        #expect(counts[1] < counts[0], "\(counts)")
        #expect(counts[1] >= counts[2])
    }

    @Test func mistakesAreOneLineWithExitTwo() async throws {
        let run = try await Self.shared.value
        let missing = try await Attest.run(["diff", "--history", "/nonexistent/h.sqlite"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("no scan history at /nonexistent/h.sqlite"), "\(missing.stderr)")
        let unknown = try await Attest.run(["diff", "nope", "nada", "--history", run.history.path])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("no scan nope in"), "\(unknown.stderr)")
        let one = try await Attest.run(["diff", "abc", "--history", run.history.path])
        #expect(one.status == 2)
        // A scan id may be shortened to a unique prefix.
        let ids = run.list.asList.compactMap { $0["id"].stringValue }
        let short = try await Attest.run(["diff", String(ids[1].prefix(8)), String(ids[0].prefix(8)), "--history", run.history.path])
        #expect(short.status == 0, "\(short.stderr)")
    }
}

@Suite("Scan history: retention")
struct HistoryRetentionTests {
    func snapshot(_ id: String, _ start: String, versioning: String) -> HistorySnapshot {
        HistorySnapshot(
            id: id, startedAt: start, finishedAt: start, provider: "aws", accounts: ["1"], complete: true, errors: 0,
            resources: [
                .init(id: "b1", type: "aws.s3.bucket", document: ["attributes": ["versioning": .string(versioning)]]),
                .init(id: "b2", type: "aws.s3.bucket", document: ["attributes": ["versioning": "Enabled"]]),
            ],
            results: [.init(control: "c", subject: "b1", account: "1", region: "us-east-1", status: "pass", severity: "low")])
    }

    @Test func scansPastTheRetentionAreRemovedWithTheVersionsOnlyTheyKept() throws {
        let path = try TestPaths.temporaryDirectory("retention").appendingPathComponent("h.sqlite").path
        let store = try HistoryStore(path: path)
        try store.record(snapshot("old", "2026-01-01T00:00:00.000Z", versioning: "Suspended"))
        try store.record(snapshot("new", "2026-03-01T00:00:00.000Z", versioning: "Enabled"))
        #expect(try store.scans().map(\.id) == ["new", "old"])
        let removed = try store.prune(before: ISO8601DateFormatter().date(from: "2026-02-01T00:00:00Z")!)
        #expect(removed == 1)
        #expect(try store.scans().map(\.id) == ["new"])
        #expect(try store.lastTwo() == nil)
        // The suspended version of b1 was kept by the old scan only: it is gone; b2's version is shared and stays.
        let out = try runProcessBlockingForTest(
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute('select count(*) from resource_version').fetchone()[0])",
            path)
        #expect(out == "2")
    }

    @Test func aFailureCoveredByAnExceptionIsNewlyExceptedNotFixed() throws {
        let path = try TestPaths.temporaryDirectory("excepted-diff").appendingPathComponent("h.sqlite").path
        let store = try HistoryStore(path: path)
        func snap(_ id: String, _ start: String, _ status: String) -> HistorySnapshot {
            HistorySnapshot(
                id: id, startedAt: start, finishedAt: start, provider: "aws", accounts: ["1"], complete: true, errors: 0, resources: [],
                results: [.init(control: "c", subject: "b1", account: "1", region: "r", status: status, severity: "low")])
        }
        try store.record(snap("a", "2026-01-01T00:00:00.000Z", "fail"))
        try store.record(snap("b", "2026-01-02T00:00:00.000Z", "excepted"))
        let (a, b) = try #require(try store.lastTwo())
        let d = try store.diff(a, b)
        #expect(d.newlyExcepted.map(\.subject) == ["b1"])
        #expect(d.fixed.isEmpty && d.regressed.isEmpty && d.stillFailing == 0)
        // And back: the exception expired, the failure is a regression.
        try store.record(snap("c", "2026-01-03T00:00:00.000Z", "fail"))
        let (b2, c) = try #require(try store.lastTwo())
        #expect(try store.diff(b2, c).regressed.map(\.before) == ["excepted"])
    }

    func runProcessBlockingForTest(_ code: String, _ arg: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", code, arg]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
