import AttestAWS
import AttestCLI
import AttestCollect
import AttestCore
import AttestHTTP
import AttestReplay
import AttestTestSupport
import Foundation
import Testing

/// Runs the built `attest` binary as a user would, with an environment of its own.
enum Attest {
    /// Runs `attest` found on `PATH` from a fresh empty directory (see `runAttestOnPath`).
    static func run(_ arguments: [String], environment: [String: String] = [:], in directory: URL? = nil) async throws
        -> ProcessResult
    {
        var env = [
            "HOME": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        ]
        env.merge(environment) { _, new in new }
        return try await runAttestOnPath(arguments, environment: env, in: directory)
    }

    static func json(_ path: URL) throws -> JSONValue { try JSONValue.parse(Data(contentsOf: path)) }
}

@Suite("attest against moto with request authentication on", .serialized)
struct AuthenticatedMotoTests {
    struct Env: Sendable {
        let moto: MotoServer
        let key: String
        let secret: String
    }

    /// moto checks every request after the first three (the seed's own user setup) against the IAM
    /// keys it issued: a signature attest gets wrong is refused, as AWS would.
    static let shared = Task<Env, any Error> {
        let moto = try await MotoServer.start(authAfter: 3)
        let seed = try await moto.seed(auth: true)
        let scanner = try #require(seed["scanner"] as? [String: String])
        return Env(moto: moto, key: scanner["access_key_id"]!, secret: scanner["secret_access_key"]!)
    }

    @Test func aCorrectKeyScansTheWholeAccount() async throws {
        let env = try await Self.shared.value
        let out = try TestPaths.temporaryDirectory().appendingPathComponent("scan.json")
        // Lambda is left out: moto 5.2 cannot verify the signature of any Lambda (rest-json) request
        // when its authentication is on, boto3's included.
        let r = try await Attest.run(
            [
                "scan", "aws", "--no-controls", "--regions", "us-east-1,eu-west-1", "--services",
                "iam,s3,s3-control,ec2,kms,cloudtrail,rds",
                "--format", "json", "--output", out.path,
            ],
            environment: ["AWS_ENDPOINT_URL": env.moto.endpoint, "AWS_ACCESS_KEY_ID": env.key, "AWS_SECRET_ACCESS_KEY": env.secret])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try Attest.json(out)
        #expect(report["scan"]["complete"] == true)
        #expect(report["scan"]["principal"] == "arn:aws:iam::123456789012:user/attest-scanner")
        #expect(report["errors"] == [])
        // The sample account plus the scanner's own user and key.
        #expect(report["resources"].asList.count == 46)
        #expect(r.stdout.contains("complete: every call succeeded"))
    }

    @Test func aWrongSecretFailsWithAClearReason() async throws {
        let env = try await Self.shared.value
        let wrong = "definitely-not-the-secret-\(UUID().uuidString)"
        let r = try await Attest.run(
            ["scan", "aws", "--regions", "us-east-1", "--quiet", "--no-evidence"],
            environment: ["AWS_ENDPOINT_URL": env.moto.endpoint, "AWS_ACCESS_KEY_ID": env.key, "AWS_SECRET_ACCESS_KEY": wrong])
        #expect(r.status == 2)
        #expect(r.stderr.contains("SignatureDoesNotMatch"))
        #expect(r.stderr.split(separator: "\n").count == 1)
        #expect(!r.stderr.contains(wrong) && !r.stdout.contains(wrong))
        #expect(r.stdout.isEmpty)
    }

    /// The generated policy is enough and nothing is missing: moto enforces IAM policies, so a user
    /// holding exactly `attest permissions aws` scans without one AccessDenied. S3 is left out
    /// because moto checks S3 calls against their operation names (s3:GetBucketEncryption) where
    /// AWS documents other action names (s3:GetEncryptionConfiguration), which attest follows.
    @Test func theGeneratedPolicyIsExactlyEnough() async throws {
        let env = try await Self.shared.value
        let services = "iam,ec2,kms,cloudtrail,rds"
        let policy = try await Attest.run(["permissions", "aws", "--services", services])
        #expect(policy.status == 0)
        let document = try JSONValue.parse(policy.stdout)
        let actions = document["Statement"].asList.first?["Action"].asList.compactMap(\.stringValue) ?? []
        #expect(actions.contains("iam:GenerateCredentialReport"))
        #expect(actions.contains("sts:GetCallerIdentity"))
        #expect(actions.contains("ec2:DescribeRegions"))
        #expect(!actions.contains { $0.hasPrefix("s3:") })
        #expect(actions == actions.sorted())

        func user(_ name: String, _ doc: JSONValue) async throws -> (String, String) {
            let out = try await env.moto.python(
                """
                iam = client("iam", key="\(env.key)", secret="\(env.secret)")
                iam.create_user(UserName="\(name)")
                iam.put_user_policy(UserName="\(name)", PolicyName="scan", PolicyDocument=json.dumps(json.loads(sys.argv[1]) if len(sys.argv) > 1 else \(doc.serialized())))
                k = iam.create_access_key(UserName="\(name)")["AccessKey"]
                print(k["AccessKeyId"] + " " + k["SecretAccessKey"])
                """
            ).split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            return (out[0], out[1])
        }
        let (key, secret) = try await user("least-privilege", document)
        let scan = try await Attest.run(
            ["scan", "aws", "--no-controls", "--regions", "us-east-1,eu-west-1", "--services", services, "--quiet"],
            environment: ["AWS_ENDPOINT_URL": env.moto.endpoint, "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret])
        #expect(scan.status == 0, "\(scan.stdout)\n\(scan.stderr)")

        // Without the KMS actions the scan goes on, reports exactly the KMS calls as errors, exits 3.
        var withoutKMS = document
        let kept = actions.filter { !$0.hasPrefix("kms:") }.map(JSONValue.string)
        withoutKMS = ["Version": "2012-10-17", "Statement": [["Effect": "Allow", "Resource": "*", "Action": .array(kept)]]]
        let (key2, secret2) = try await user("no-kms", withoutKMS)
        let out = try TestPaths.temporaryDirectory().appendingPathComponent("partial.json")
        let partial = try await Attest.run(
            [
                "scan", "aws", "--no-controls", "--regions", "us-east-1,eu-west-1", "--services", services, "--format", "json",
                "--output", out.path, "--quiet",
            ],
            environment: ["AWS_ENDPOINT_URL": env.moto.endpoint, "AWS_ACCESS_KEY_ID": key2, "AWS_SECRET_ACCESS_KEY": secret2])
        #expect(partial.status == 3)
        #expect(partial.stderr.contains("scan incomplete"))
        let report = try Attest.json(out)
        #expect(report["scan"]["complete"] == false)
        let errors = report["errors"].asList
        #expect(errors.count == 2)
        #expect(errors.allSatisfy { $0["service"] == "kms" && $0["operation"] == "ListKeys" && $0["code"] == "AccessDenied" })
        #expect(Set(errors.compactMap { $0["region"].stringValue }) == ["eu-west-1", "us-east-1"])
        #expect(report["resources"].asList.contains { $0["type"] == "aws.iam.user" })
    }
}

@Suite("attest command line")
struct CommandLineTests {
    @Test func usageAndConfigurationErrorsExitTwoWithOneLine() async throws {
        let empty = try TestPaths.temporaryDirectory("not-a-store").path
        let keys = ["AWS_ACCESS_KEY_ID": "AKIAREFUSED000000001", "AWS_SECRET_ACCESS_KEY": "x"]
        let cases: [([String], [String: String], String)] = [
            // Nothing listens there: one line at once, not 30 s of retries.
            (
                ["scan", "aws", "--quiet"], keys.merging(["AWS_ENDPOINT_URL": "http://127.0.0.1:1"]) { $1 },
                "attest: cannot reach http://127.0.0.1:1 (connection refused)"
            ),
            (
                ["evidence", "query", "--evidence", empty, "--framework", "soc3"], [:],
                "unknown framework soc3 (known: dora, iso27001, nis2, soc2)"
            ),
            (
                ["evidence", "query", "--evidence", empty, "--framework", "soc2", "--requirement", "CC9.9"], [:],
                "unknown requirement CC9.9 of soc2 (nearest: CC9.1, CC9.2"
            ),
            (["evidence", "summary", "--evidence", empty, "--framework", "nis3"], [:], "unknown framework nis3"),
            (
                ["evidence", "export", "--evidence", empty, "--framework", "pci", "--out", empty + "/p.tar.gz"], [:],
                "unknown framework pci"
            ),
            (["evidence", "query", "--evidence", empty], [:], "is not an evidence store"),
            (["controls", "list", "--framework", "bogus"], [:], "unknown framework bogus (known: soc2, iso27001, nis2, dora)"),
            (["controls", "list", "--controls", "/nonexistent/controls"], [:], "controls directory /nonexistent/controls does not exist"),
            (["scan", "aws", "--format", "xml"], [:], "format"),
            (["scan", "aws", "--format", "sarfi"], [:], "--format: unknown format sarfi (did you mean sarif?)"),
            (["scan", "aws", "--format", "json,csv"], [:], "several formats need --output-dir DIR"),
            (["scan", "aws", "--output", "a", "--output-dir", "b"], [:], "--output and --output-dir: give one"),
            (["scan", "aws", "--log-level", "bogus"], [:], "log-level"),
            (["scan", "aws", "--fail-on", "sometimes"], [:], "fail-on"),
            (["scan"], [:], "nothing to scan"),
            (["scan", "aws", "--external-id", "x"], [:], "--external-id needs --role-arn"),
            (["scan", "aws", "--role-arn", "not-an-arn"], [:], "must be an ARN"),
            (["scan", "aws", "--bogus"], [:], "bogus"),
            (["scan", "aws"], [:], "no AWS credentials found"),
            (["scan", "aws", "--profile", "nosuch"], [:], "profile nosuch"),
            (["scan", "aws"], ["AWS_ACCESS_KEY_ID": "AKIAONLYHALF"], "must be set together"),
            (["permissions", "aws", "--services", "s3,nosuch"], [:], "unknown service nosuch"),
            (
                ["scan", "aws", "--providers", "/nonexistent/dir"], ["AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"],
                "/nonexistent/dir"
            ),
        ]
        for (args, env, expected) in cases {
            let r = try await Attest.run(args, environment: env)
            #expect(r.status == 2, "\(args): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains(expected), "\(args): \(r.stderr)")
            #expect(r.stderr.trimmingCharacters(in: .newlines).split(separator: "\n").count == 1, "\(args): \(r.stderr)")
        }
    }

    @Test func aScanThatCannotStartLeavesNoEvidenceStoreAndNoKey() async throws {
        let dir = try TestPaths.temporaryDirectory("no-trace")
        let r = try await Attest.run(["scan", "aws"], environment: ["HOME": dir.path], in: dir)
        #expect(r.status == 2)
        #expect(r.stderr.contains("no AWS credentials found"))
        #expect(!r.stderr.contains("evidence goes to"), "\(r.stderr)")
        let left = try FileManager.default.subpathsOfDirectory(atPath: dir.path)
        #expect(left.filter { !$0.hasPrefix(".config") || $0.hasSuffix(".key") }.isEmpty, "\(left)")
    }

    @Test func aBrokenSpecNamesTheFileAndLine() async throws {
        let dir = try TestPaths.temporaryDirectory().appendingPathComponent("aws")
        try FileManager.default.copyItem(at: TestPaths.repository.appendingPathComponent("providers/aws"), to: dir)
        let kms = dir.appendingPathComponent("kms.yaml")
        var text = try String(contentsOf: kms, encoding: .utf8)
        text = text.replacingOccurrences(of: "    list: ListKeys", with: "    lsit: ListKeys")
        try text.write(to: kms, atomically: true, encoding: .utf8)
        let r = try await Attest.run(["permissions", "aws", "--providers", dir.path])
        #expect(r.status == 2)
        let line = try #require(text.components(separatedBy: "\n").firstIndex { $0.contains("lsit:") }) + 1
        #expect(r.stderr.contains("providers/aws/kms.yaml:\(line): unknown key lsit"), "\(r.stderr)")
    }

    @Test func theConfigsTargetsAreScannedIntoOneReport() async throws {
        let env = try await SeededMoto.shared.value
        let dir = try TestPaths.temporaryDirectory("targets")
        try """
        targets:
          - provider: aws
            regions: [us-east-1]
            services: [kms]
          - provider: aws
            home_region: eu-west-1
            regions: [eu-west-1]
            services: [s3]
        """.write(to: dir.appendingPathComponent("attest.yaml"), atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("scan.json")
        let r = try await runAttestOnPath(
            ["scan", "--no-controls", "--format", "json", "--output", out.path, "--quiet"],
            environment: [
                "PATH": "/usr/bin:/bin", "HOME": dir.path, "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                "AWS_ENDPOINT_URL": env.moto.endpoint, "AWS_ACCESS_KEY_ID": "AKIATARGETS000000001",
                "AWS_SECRET_ACCESS_KEY": "targets-secret",
            ], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        let report = try Attest.json(out)
        #expect(report["scan"]["targets"].asList.map { $0["origin"].stringValue ?? "" } == ["attest.yaml:2", "attest.yaml:5"])
        // s3 brings s3-control, and with it the account's Block Public Access (on aws.iam.account).
        #expect(report["scan"]["services"] == ["kms", "s3", "s3-control"])
        #expect(report["scan"]["regions"] == ["eu-west-1", "us-east-1"])
        let types = Set(report["resources"].asList.compactMap { $0["type"].stringValue })
        #expect(types == ["aws.kms.key", "aws.s3.bucket", "aws.iam.account"])
        #expect(report["resources"].asList.filter { $0["type"] == "aws.s3.bucket" }.count == 3)
    }

    @Test func helpAndVersionExitZero() async throws {
        #expect(try await Attest.run(["--version"]).stdout.contains(attestVersion))
        let help = try await Attest.run(["scan", "aws", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("--role-arn"))
    }
}

@Suite("Assuming a role into the scanned account")
struct AssumeRoleCommandTests {
    @Test func roleArnAndExternalIdAssumeIntoTheAccount() async throws {
        let env = try await SeededMoto.shared.value
        let out = try TestPaths.temporaryDirectory().appendingPathComponent("role.json")
        let r = try await Attest.run(
            [
                "scan", "aws", "--no-controls", "--role-arn", "arn:aws:iam::123456789012:role/app-role", "--external-id", "ext-123",
                "--regions", "us-east-1", "--services", "kms", "--format", "json", "--output", out.path, "--quiet",
            ],
            environment: [
                "AWS_ENDPOINT_URL": env.moto.endpoint, "AWS_ACCESS_KEY_ID": "AKIASOURCE0000000001",
                "AWS_SECRET_ACCESS_KEY": "source-secret-key-0001",
            ])
        #expect(r.status == 0, "\(r.stderr)")
        let principal = try Attest.json(out)["scan"]["principal"].stringValue ?? ""
        #expect(principal.hasPrefix("arn:aws:sts::123456789012:assumed-role/app-role/attest-"))
    }
}

/// A proxy that inspects TLS presents its own CA's certificates: attest trusts them through
/// `AWS_CA_BUNDLE` (or a profile's `ca_bundle`, or `SSL_CERT_FILE`), and refuses them otherwise.
@Suite("AWS behind a TLS-inspecting proxy")
struct TLSProxyTests {
    @Test func theProxysBundleIsTrustedThroughAWSCABundle() async throws {
        let env = try await SeededMoto.shared.value
        let ca = try await TestCertificateAuthority.make()
        let upstream = AsyncHTTPClientTransport()
        let proxy = try await ca.server { request in
            let url = env.moto.endpoint + request.path + (request.query.isEmpty ? "" : "?" + request.query)
            let forwarded = HTTPRequest(
                method: request.method, url: url, headers: request.headers.filter { $0.name.lowercased() != "host" },
                body: request.body)
            guard let answer = try? await upstream.send(forwarded) else { return LoopbackResponse(status: 502) }
            return LoopbackResponse(
                status: answer.status, headers: answer.headers.filter { $0.name.lowercased() != "content-length" },
                body: answer.body)
        }
        do {
            let args = ["scan", "aws", "--services", "kms", "--regions", "us-east-1", "--no-controls", "--format", "json", "--quiet"]
            let base = [
                "AWS_ENDPOINT_URL": proxy.baseURL, "AWS_ACCESS_KEY_ID": "AKIAPROXY00000000001", "AWS_SECRET_ACCESS_KEY": "proxy-secret",
            ]
            let trusted = try await Attest.run(args, environment: base.merging(["AWS_CA_BUNDLE": ca.bundle]) { _, n in n })
            #expect(trusted.status == 0, "\(trusted.stderr)")
            let report = try JSONValue.parse(Data(trusted.stdout.utf8))
            #expect(report["resources"].asList.filter { $0["type"] == "aws.kms.key" }.count == 2)

            // The same through a profile's ca_bundle, and through SSL_CERT_FILE.
            let dir = try TestPaths.temporaryDirectory("ca-profile")
            let config = dir.appendingPathComponent("config")
            try
                "[profile proxied]\naws_access_key_id = AKIAPROXY00000000002\naws_secret_access_key = proxy-secret-2\nca_bundle = \(ca.bundle)\n"
                .write(to: config, atomically: true, encoding: .utf8)
            let viaProfile = try await Attest.run(
                args + ["--profile", "proxied"],
                environment: base.merging(["AWS_CONFIG_FILE": config.path]) { _, n in n })
            #expect(viaProfile.status == 0, "\(viaProfile.stderr)")
            let viaSSLCertFile = try await Attest.run(args, environment: base.merging(["SSL_CERT_FILE": ca.bundle]) { _, n in n })
            #expect(viaSSLCertFile.status == 0, "\(viaSSLCertFile.stderr)")

            // Without the bundle: refused on one line, naming TLS and what to set.
            let refused = try await Attest.run(args, environment: base)
            #expect(refused.status == 2)
            #expect(refused.stderr.contains("TLSError"), "\(refused.stderr)")
            #expect(refused.stderr.contains("SSL_CERT_FILE"))
            #expect(refused.stderr.trimmingCharacters(in: .newlines).split(separator: "\n").count == 1, "\(refused.stderr)")

            // A bundle that is not there is a usage error naming it.
            let missing = try await Attest.run(args, environment: base.merging(["AWS_CA_BUNDLE": "/nonexistent/bundle.pem"]) { _, n in n })
            #expect(missing.status == 2)
            #expect(missing.stderr.contains("/nonexistent/bundle.pem"), "\(missing.stderr)")
        } catch {
            await proxy.stop()
            await upstream.shutdown()
            throw error
        }
        await proxy.stop()
        await upstream.shutdown()
    }
}
