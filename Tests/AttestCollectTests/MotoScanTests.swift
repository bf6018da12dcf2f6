import AttestAWS
import AttestCollect
import AttestCore
import AttestHTTP
import AttestInventory
import AttestScan
import AttestTestSupport
import Foundation
import Testing

/// End to end against a real AWS emulator: seed the sample account, scan it through the signed
/// client, and check the exact inventory, edges and the attributes controls will read.
@Suite("Scan of a seeded moto account", .serialized)
struct MotoScanTests {
    @Test func inventoryHasExactlyTheSeededResources() async throws {
        let env = try await SeededMoto.shared.value
        let result = try await ScanHarness.scan(ScanHarness.client(endpoint: env.moto.endpoint))
        #expect(result.errors.isEmpty, "errors: \(result.errors)")
        #expect(result.isComplete)
        #expect(result.account == "123456789012")
        #expect(result.regions == ["eu-west-1", "us-east-1"])

        let counts = Dictionary(uniqueKeysWithValues: result.graph.countsByType.map { ($0.type, $0.count) })
        #expect(
            counts == [
                "aws.cloudtrail.trail": 2, "aws.ec2.flow-log": 1, "aws.ec2.instance": 2, "aws.ec2.network-acl": 3,
                "aws.ec2.regional-settings": 2, "aws.ec2.security-group": 5, "aws.ec2.snapshot": 1, "aws.ec2.volume": 4,
                "aws.ec2.vpc": 3, "aws.iam.access-key": 1, "aws.iam.account": 1, "aws.iam.group": 1,
                "aws.iam.instance-profile": 1, "aws.iam.policy": 3, "aws.iam.role": 2, "aws.lambda.function": 1, "aws.iam.user": 2,
                "aws.kms.key": 2,
                "aws.rds.db-instance": 2, "aws.rds.db-snapshot": 3, "aws.s3.bucket": 3,
            ])

        let a = env.account
        let g = result.graph
        let expectedIds = [
            "arn:aws:iam::\(a):root", "arn:aws:iam::\(a):user/alice", "arn:aws:iam::\(a):user/bob",
            "arn:aws:iam::\(a):group/admins", "arn:aws:iam::\(a):role/app-role", env.id("instance_profile"),
            env.id("customer_policy"), "arn:aws:iam::aws:policy/AdministratorAccess",
            "arn:aws:iam::\(a):access-key/\(env.id("bob_access_key"))",
            "arn:aws:s3:::audit-logs-sample", "arn:aws:s3:::access-logs-sample", "arn:aws:s3:::public-assets-sample",
            env.id("kms_rotated"), env.id("kms_unrotated"),
            "arn:aws:ec2:us-east-1:\(a):vpc/\(env.id("vpc"))",
            "arn:aws:ec2:us-east-1:\(a):security-group/\(env.id("sg_ssh"))",
            "arn:aws:ec2:us-east-1:\(a):security-group/\(env.id("sg_web"))",
            "arn:aws:ec2:us-east-1:\(a):instance/\(env.id("instance_legacy"))",
            "arn:aws:ec2:us-east-1:\(a):instance/\(env.id("instance_hardened"))",
            "arn:aws:ec2:us-east-1:\(a):volume/\(env.id("volume_plain"))",
            "arn:aws:ec2:us-east-1:\(a):volume/\(env.id("volume_encrypted"))",
            "arn:aws:ec2:us-east-1::snapshot/\(env.id("snapshot"))",
            "arn:aws:ec2:us-east-1:\(a):regional-settings", "arn:aws:ec2:eu-west-1:\(a):regional-settings",
            "arn:aws:cloudtrail:us-east-1:\(a):trail/single-region", "arn:aws:cloudtrail:us-east-1:\(a):trail/org-wide",
            "arn:aws:rds:us-east-1:\(a):db:public-db", "arn:aws:rds:us-east-1:\(a):db:private-db",
            "arn:aws:rds:us-east-1:\(a):snapshot:private-db-manual", env.id("lambda_function"), env.id("lambda_role"),
        ]
        for id in expectedIds { #expect(g[id] != nil, "missing \(id)") }
        #expect(g["arn:aws:s3:::public-assets-sample"]?.region == "eu-west-1")
        #expect(g["arn:aws:s3:::audit-logs-sample"]?.region == "us-east-1")
        #expect(g["arn:aws:iam::\(a):user/alice"]?.region == "global")
    }

    @Test func edgesOfTheSeededResourcesAreExact() async throws {
        let env = try await SeededMoto.shared.value
        let result = try await ScanHarness.scan(ScanHarness.client(endpoint: env.moto.endpoint))
        let g = result.graph
        let a = env.account
        let vpc = "arn:aws:ec2:us-east-1:\(a):vpc/\(env.id("vpc"))"
        let ssh = "arn:aws:ec2:us-east-1:\(a):security-group/\(env.id("sg_ssh"))"
        let web = "arn:aws:ec2:us-east-1:\(a):security-group/\(env.id("sg_web"))"
        let legacy = "arn:aws:ec2:us-east-1:\(a):instance/\(env.id("instance_legacy"))"
        let hardened = "arn:aws:ec2:us-east-1:\(a):instance/\(env.id("instance_hardened"))"
        let key = env.id("kms_rotated")
        let admin = "arn:aws:iam::aws:policy/AdministratorAccess"

        func out(_ id: String) -> Set<String> { Set(g.edges(from: id).map { "\($0.kind) \($0.to)" }) }

        #expect(out("arn:aws:iam::\(a):user/alice") == ["member-of arn:aws:iam::\(a):group/admins"])
        #expect(out("arn:aws:iam::\(a):user/bob") == ["has-policy \(admin)"])
        #expect(out("arn:aws:iam::\(a):group/admins") == ["has-policy \(admin)"])
        #expect(out("arn:aws:iam::\(a):role/app-role") == ["has-policy \(env.id("customer_policy"))"])
        #expect(out(env.id("instance_profile")) == ["has-role arn:aws:iam::\(a):role/app-role"])
        #expect(out("arn:aws:iam::\(a):access-key/\(env.id("bob_access_key"))") == ["owned-by arn:aws:iam::\(a):user/bob"])
        #expect(out(legacy) == ["contained-in \(vpc)", "protected-by \(ssh)", "uses-instance-profile \(env.id("instance_profile"))"])
        #expect(out(hardened) == ["contained-in \(vpc)", "protected-by \(web)"])
        #expect(out(web) == ["contained-in \(vpc)", "allows-traffic-from \(ssh)"])
        #expect(out(ssh) == ["contained-in \(vpc)"])
        #expect(
            out("arn:aws:ec2:us-east-1:\(a):volume/\(env.id("volume_encrypted"))") == ["attached-to \(hardened)", "encrypted-by \(key)"])
        #expect(out("arn:aws:ec2:us-east-1:\(a):volume/\(env.id("volume_plain"))").isEmpty)
        #expect(
            out("arn:aws:ec2:us-east-1::snapshot/\(env.id("snapshot"))") == [
                "snapshot-of arn:aws:ec2:us-east-1:\(a):volume/\(env.id("volume_plain"))"
            ])
        #expect(out("arn:aws:s3:::audit-logs-sample") == ["logs-to arn:aws:s3:::access-logs-sample", "encrypted-by \(key)"])
        #expect(out("arn:aws:s3:::public-assets-sample").isEmpty)
        #expect(out("arn:aws:cloudtrail:us-east-1:\(a):trail/single-region") == ["logs-to arn:aws:s3:::audit-logs-sample"])
        #expect(
            out("arn:aws:cloudtrail:us-east-1:\(a):trail/org-wide") == ["logs-to arn:aws:s3:::audit-logs-sample", "encrypted-by \(key)"])
        #expect(out("arn:aws:rds:us-east-1:\(a):db:private-db").contains("encrypted-by \(key)"))
        #expect(out("arn:aws:rds:us-east-1:\(a):db:private-db").contains("protected-by \(web)"))
        #expect(
            out("arn:aws:rds:us-east-1:\(a):snapshot:private-db-manual") == [
                "snapshot-of arn:aws:rds:us-east-1:\(a):db:private-db", "encrypted-by \(key)",
            ])
        let flowLog = try #require(g.resources(ofType: "aws.ec2.flow-log").first)
        #expect(out(flowLog.id) == ["monitors \(vpc)"])

        // Lookups work both ways.
        #expect(g.referrers(of: ssh, kind: "protected-by").map(\.id) == [legacy])
        #expect(g.neighbours(of: legacy, kind: "protected-by").map(\.id) == [ssh])
        #expect(out(env.id("lambda_function")) == ["uses-role \(env.id("lambda_role"))"])
        #expect(g.edges.count == 40)
    }

    @Test func attributesRecordWhatControlsWillRead() async throws {
        let env = try await SeededMoto.shared.value
        let g = try await ScanHarness.scan(ScanHarness.client(endpoint: env.moto.endpoint)).graph
        let a = env.account

        let publicBucket = try #require(g["arn:aws:s3:::public-assets-sample"]).attributes
        #expect(publicBucket["policy"]?["Statement"].asList.first?["Principal"] == "*")
        #expect(publicBucket["public_access_block"] == .null)
        #expect(publicBucket["default_encryption"] == [])
        #expect(publicBucket["logging_enabled"] == false)
        let auditBucket = try #require(g["arn:aws:s3:::audit-logs-sample"]).attributes
        #expect(auditBucket["public_access_block"]?["block_public_policy"] == true)
        #expect(auditBucket["public_access_block"]?["restrict_public_buckets"] == true)
        #expect(auditBucket["versioning"] == "Enabled")
        #expect(auditBucket["default_encryption"] == ["aws:kms"])
        #expect(auditBucket["logging_target_bucket"] == "access-logs-sample")
        #expect(g["arn:aws:s3:::audit-logs-sample"]?.tags == ["purpose": "audit"])

        let ssh = try #require(g["arn:aws:ec2:us-east-1:\(a):security-group/\(env.id("sg_ssh"))"]).attributes
        let ingress = ssh["ingress"]?.asList ?? []
        #expect(ingress.contains { $0["from_port"] == 22 && $0["cidrs"] == ["0.0.0.0/0"] })
        #expect(ingress.contains { $0["from_port"] == 3389 && $0["cidrs"] == ["0.0.0.0/0"] })

        #expect(g["arn:aws:ec2:us-east-1:\(a):volume/\(env.id("volume_plain"))"]?.attributes["encrypted"] == false)
        #expect(g["arn:aws:ec2:us-east-1:\(a):volume/\(env.id("volume_encrypted"))"]?.attributes["encrypted"] == true)
        #expect(
            g["arn:aws:ec2:us-east-1:\(a):instance/\(env.id("instance_legacy"))"]?.attributes["metadata_options"]?["http_tokens"]
                == "optional")
        #expect(
            g["arn:aws:ec2:us-east-1:\(a):instance/\(env.id("instance_hardened"))"]?.attributes["metadata_options"]?["http_tokens"]
                == "required")
        #expect(g["arn:aws:ec2:eu-west-1:\(a):regional-settings"]?.attributes["ebs_encryption_by_default"] == true)
        #expect(g["arn:aws:ec2:us-east-1:\(a):regional-settings"]?.attributes["ebs_encryption_by_default"] == false)

        #expect(g[env.id("kms_rotated")]?.attributes["rotation_enabled"] == true)
        #expect(g[env.id("kms_unrotated")]?.attributes["rotation_enabled"] == false)
        #expect(g[env.id("kms_rotated")]?.attributes["key_manager"] == "CUSTOMER")
        // JSON protocols send epoch seconds; every timestamp is normalised to ISO 8601.
        #expect(g[env.id("kms_rotated")]?.attributes["created"]?.stringValue?.hasSuffix("Z") == true)

        let single = try #require(g["arn:aws:cloudtrail:us-east-1:\(a):trail/single-region"]).attributes
        #expect(single["multi_region"] == false)
        #expect(single["log_file_validation"] == false)
        #expect(single["is_logging"] == true)
        let org = try #require(g["arn:aws:cloudtrail:us-east-1:\(a):trail/org-wide"]).attributes
        #expect(org["multi_region"] == true)
        #expect(org["log_file_validation"] == true)

        let alice = try #require(g["arn:aws:iam::\(a):user/alice"]).attributes
        let bob = try #require(g["arn:aws:iam::\(a):user/bob"]).attributes
        #expect(alice["mfa_enabled"] == true)
        #expect(bob["mfa_enabled"] == false)
        #expect(bob["console_access"] == true)
        #expect(bob["attached_policies"] == ["arn:aws:iam::aws:policy/AdministratorAccess"])
        #expect(bob["inline_policies"]?.asList.first?["document"]["Statement"].asList.first?["Action"] == "s3:GetObject")
        #expect(bob["credential_report"]?["mfa_active"] == false)
        #expect(bob["credential_report"]?["access_key_1_active"] == true)
        #expect(alice["credential_report"]?["mfa_active"] == true)
        #expect(g["arn:aws:iam::\(a):user/alice"]?.tags == ["team": "platform"])

        let account = try #require(g["arn:aws:iam::\(a):root"]).attributes
        #expect(account["password_policy"]?["minimum_length"] == 14)
        #expect(account["summary"]?["Users"] == 3 || account["summary"]?["Users"] == 2)
        #expect(account["s3_public_access_block"] == .null)

        let role = try #require(g["arn:aws:iam::\(a):role/app-role"]).attributes
        #expect(role["trust_policy"]?["Statement"].asList.first?["Principal"]["Service"] == "ec2.amazonaws.com")
        let admin = try #require(g["arn:aws:iam::aws:policy/AdministratorAccess"]).attributes
        #expect(admin["document"]?["Statement"].asList.first?["Action"] == "*")
        #expect(admin["managed_by"] == "aws")

        // Lambda speaks rest-json; only the names of environment variables are kept.
        let fn = try #require(g[env.id("lambda_function")]).attributes
        #expect(fn["runtime"] == "python3.12")
        #expect(fn["environment_variable_names"] == ["DB_PASSWORD"])
        #expect(fn["policy"]?["Statement"].asList.first?["Principal"] == "*")
        #expect(!fn.values.map { $0.serialized() }.joined().contains("sample-db-password"))

        #expect(g["arn:aws:rds:us-east-1:\(a):db:public-db"]?.attributes["publicly_accessible"] == true)
        #expect(g["arn:aws:rds:us-east-1:\(a):db:public-db"]?.attributes["storage_encrypted"] == false)
        #expect(g["arn:aws:rds:us-east-1:\(a):db:private-db"]?.attributes["storage_encrypted"] == true)
    }

    @Test func servicesAndRegionsNarrowTheScan() async throws {
        let env = try await SeededMoto.shared.value
        let result = try await ScanHarness.scan(
            ScanHarness.client(endpoint: env.moto.endpoint), regions: ["eu-west-1"], services: ["s3", "ec2"])
        // S3 brings S3 Control: the account's Block Public Access, which S3 controls read.
        #expect(result.services == ["ec2", "s3", "s3-control"])
        #expect(
            Set(result.graph.resources.values.map(\.type)).isSubset(of: [
                "aws.iam.account", "aws.s3.bucket", "aws.ec2.vpc", "aws.ec2.security-group", "aws.ec2.network-acl",
                "aws.ec2.regional-settings",
            ]))
        // S3 is global: every bucket, wherever it lives.
        #expect(result.graph.resources(ofType: "aws.s3.bucket").count == 3)
        #expect(result.graph.resources(ofType: "aws.ec2.regional-settings").map(\.region) == ["eu-west-1"])

        await #expect(throws: ScanSetupError.self) {
            _ = try await ScanHarness.scan(ScanHarness.client(endpoint: env.moto.endpoint), services: ["s3", "nosuch"])
        }
        // A region that exists but is not enabled (moto lists ap-east-1 as not-opted-in) is
        // reported, not silently dropped; one the partition does not have is a typo, refused
        // before anything is collected.
        let odd = try await ScanHarness.scan(
            ScanHarness.client(endpoint: env.moto.endpoint), regions: ["eu-west-1", "ap-east-1"], services: ["kms"])
        #expect(odd.errors.map(\.code) == ["RegionNotEnabled"])
        #expect(odd.errors.first?.region == "ap-east-1")
        #expect(odd.errors.first?.kind == .scopeUnavailable)
        #expect(!odd.isComplete)
        let typo = await #expect(throws: ScanSetupError.self) {
            _ = try await ScanHarness.scan(
                ScanHarness.client(endpoint: env.moto.endpoint), regions: ["eu-west-1", "us-eats-1"], services: ["kms"])
        }
        #expect(typo?.description.contains("unknown region us-eats-1 (did you mean us-east-1?)") == true, "\(String(describing: typo))")
        // With no --regions, the regions not opted in are left out.
        let all = try await ScanHarness.scan(ScanHarness.client(endpoint: env.moto.endpoint), regions: nil, services: ["kms"])
        #expect(!all.regions.contains("ap-east-1") && all.regions.contains("us-east-1"), "\(all.regions)")
    }

    @Test func throttlingAndDroppedConnectionsYieldTheIdenticalInventory() async throws {
        let env = try await SeededMoto.shared.value
        let baseline = try await ScanHarness.scan(ScanHarness.client(endpoint: env.moto.endpoint))
        let faults = FaultInjectingTransport(base: AsyncHTTPClientTransport(), throttleRate: 0.3, dropRate: 0.05, seed: 7)
        let client = ScanHarness.client(
            endpoint: env.moto.endpoint, transport: faults,
            retry: RetryPolicy(maxAttempts: 12, maxConnectionAttempts: 12, baseDelay: .milliseconds(2), maxDelay: .milliseconds(40)))
        let faulty = try await ScanHarness.scan(client)
        #expect(faulty.errors.isEmpty, "errors: \(faulty.errors)")
        #expect(ScanHarness.shape(faulty.graph) == ScanHarness.shape(baseline.graph))
        #expect(faults.throttled > 30)
        #expect(faults.dropped > 0)
        #expect(client.counters.retries >= faults.throttled)
        #expect(client.counters.throttled > 0)
        // The attributes must match too, apart from the values moto recomputes on each read.
        let volatile: Set<String> = ["summary", "credential_report", "latest_delivery_time", "password_last_used"]
        for res in baseline.graph.sortedResources {
            let other = try #require(faulty.graph[res.id])
            #expect(
                res.attributes.filter { !volatile.contains($0.key) } == other.attributes.filter { !volatile.contains($0.key) }, "\(res.id)")
        }
    }

    @Test func anUnreachableServiceIsAnErrorAndTheScanGoesOn() async throws {
        let env = try await SeededMoto.shared.value
        let closed = try freePort()
        var config = AsyncHTTPClientTransport.Configuration()
        config.connectTimeout = .seconds(1)
        let client = AWSClient(
            transport: AsyncHTTPClientTransport(configuration: config),
            credentials: StaticCredentialProvider(
                AWSCredentials(accessKeyId: "AKIAEXAMPLETESTKEY01", secretAccessKey: "test-secret-key-that-is-long-enough", source: "test")),
            endpoints: AWSEndpointResolver(environment: [
                "AWS_ENDPOINT_URL": env.moto.endpoint, "AWS_ENDPOINT_URL_KMS": "http://127.0.0.1:\(closed)",
            ]),
            retryPolicy: RetryPolicy(maxAttempts: 8, maxConnectionAttempts: 2, baseDelay: .milliseconds(1), maxDelay: .milliseconds(5)))
        let result = try await ScanHarness.scan(client, services: ["kms", "cloudtrail"])
        #expect(result.errors.count == 2)
        #expect(result.errors.allSatisfy { $0.service == "kms" && $0.operation == "ListKeys" && $0.code == "Unreachable" })
        #expect(result.errors.allSatisfy { $0.message.contains("cannot reach http://127.0.0.1:\(closed) (connection refused)") })
        #expect(result.graph.resources(ofType: "aws.cloudtrail.trail").count == 2)
        #expect(!result.isComplete)
        // Nothing listens there: a refused connection is not retried.
        #expect(client.counters.retries == 0)
    }
}
