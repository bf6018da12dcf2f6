import AttestAWS
import AttestCollect
import AttestCore
import AttestHTTP
import AttestInventory
import AttestReplay
import AttestScan
import AttestTestSupport
import Foundation
import Synchronization
import Testing

/// Rewrites chosen answers on their way back from a real server, to see what hostile or broken
/// responses do to a scan.
struct MutatingTransport: HTTPTransport {
    let base: any HTTPTransport
    let mutate: @Sendable (HTTPRequest, HTTPResponse) -> HTTPResponse

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        mutate(request, try await base.send(request))
    }
}

func operationName(_ request: HTTPRequest) -> String {
    if let target = request.header("X-Amz-Target") { return String(target.split(separator: ".").last ?? "") }
    let body = String(decoding: request.body, as: UTF8.self)
    if let action = body.split(separator: "&").first(where: { $0.hasPrefix("Action=") }) { return String(action.dropFirst(7)) }
    return request.method + " " + (URL(string: request.url)?.query ?? "")
}

@Suite("Record, replay and hostile input", .serialized)
struct ReplayAndHostileTests {
    @Test func truncatedAndMalformedResponsesBecomeErrorsNotCrashes() async throws {
        let env = try await SeededMoto.shared.value
        let deep = String(repeating: "[", count: 100_000)
        let deepXML = "<DescribeSecurityGroupsResponse>" + String(repeating: "<a>", count: 5_000) + "</DescribeSecurityGroupsResponse>"
        let hostile = MutatingTransport(base: AsyncHTTPClientTransport()) { request, response in
            var r = response
            switch operationName(request) {
            case "DescribeVolumes": r.body = Array(response.body.prefix(response.body.count / 2))  // truncated XML
            case "ListKeys": r.body = Array("{\"Keys\": [{\"KeyId\": ".utf8)  // truncated JSON
            case "DescribeTrails": r.body = Array(deep.utf8)  // nesting bomb
            case "DescribeSecurityGroups": r.body = Array(deepXML.utf8)  // unclosed, deep XML
            case "ListGroups": r.body = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7919) }  // binary garbage
            case "GetCallerIdentity", "DescribeRegions": break
            case "DescribeDBInstances": r.body = Array("<SomethingElseResponse><x/></SomethingElseResponse>".utf8)  // wrong envelope
            default:
                if request.url.hasSuffix("?acl=") { r.body = Array("<AccessControlPolicy><Owner><ID>x</ID>".utf8) }
            }
            return r
        }
        let result = try await ScanHarness.scan(ScanHarness.client(endpoint: env.moto.endpoint, transport: hostile))
        let malformed = Dictionary(grouping: result.errors.filter { $0.code == "MalformedResponse" }, by: \.operation)
        #expect(
            Set(malformed.keys) == [
                "DescribeVolumes", "ListKeys", "DescribeTrails", "DescribeSecurityGroups", "ListGroups",
                "DescribeDBInstances", "GetBucketAcl",
            ])
        #expect(result.errors.allSatisfy { $0.code == "MalformedResponse" }, "\(result.errors)")
        #expect(malformed["GetBucketAcl"]?.count == 3)
        #expect(malformed["GetBucketAcl"]?.allSatisfy { $0.resourceId?.hasPrefix("arn:aws:s3:::") == true } == true)
        #expect(!result.isComplete)
        // Everything the broken answers did not touch is still there.
        #expect(result.graph.resources(ofType: "aws.iam.user").count == 2)
        #expect(result.graph.resources(ofType: "aws.s3.bucket").count == 3)
        #expect(result.graph.resources(ofType: "aws.ec2.instance").count == 2)
        #expect(result.graph.resources(ofType: "aws.ec2.volume").isEmpty)
        #expect(result.graph.resources(ofType: "aws.kms.key").isEmpty)
        #expect(result.graph.resources(ofType: "aws.iam.group").isEmpty)
    }

    @Test func aRecordedScanReplaysToTheSameInventoryWithoutSecrets() async throws {
        let env = try await SeededMoto.shared.value
        let secret = "recording-secret-\(UUID().uuidString)"
        let token = "recording-session-token-\(UUID().uuidString)"
        let dir = try TestPaths.temporaryDirectory("fixtures")
        let recorder = RecordingTransport(base: AsyncHTTPClientTransport(), store: FixtureStore(directory: dir))
        let live = try await ScanHarness.scan(
            ScanHarness.client(
                endpoint: env.moto.endpoint, transport: recorder,
                accessKey: "ASIARECORDING0000001", secret: secret, sessionToken: token))
        #expect(live.isComplete)

        var text = ""
        for case let url as URL in FileManager.default.enumerator(at: dir, includingPropertiesForKeys: nil)!
        where url.pathExtension == "json" {
            text += try String(contentsOf: url, encoding: .utf8)
        }
        #expect(text.count > 10_000)
        #expect(!text.contains(secret))
        #expect(!text.contains(token))
        #expect(!text.contains("Signature="))
        #expect(!text.contains("AWS4-HMAC-SHA256"))

        let replay = try await ReplayServer.start(
            fixtures: try FixtureStore(directory: dir).loadAll(),
            verifying: ["AKIAREPLAY0000000001": "replay-secret-key-0001"])
        let replayed = try await ScanHarness.scan(
            ScanHarness.client(
                endpoint: replay.baseURL, accessKey: "AKIAREPLAY0000000001",
                secret: "replay-secret-key-0001"))
        #expect(replayed.errors.isEmpty, "\(replayed.errors)")
        #expect(ScanHarness.shape(replayed.graph) == ScanHarness.shape(live.graph))

        // The replay server checks signatures as AWS does: a wrong secret is refused.
        let refused = await #expect(throws: ScanSetupError.self) {
            _ = try await ScanHarness.scan(
                ScanHarness.client(endpoint: replay.baseURL, accessKey: "AKIAREPLAY0000000001", secret: "wrong-secret-0001"))
        }
        #expect(refused?.description.contains("SignatureDoesNotMatch") == true)
        await replay.stop()
    }

    @Test func noSecretReachesOutputLogsOrFixturesAtTraceLevel() async throws {
        let env = try await SeededMoto.shared.value
        let secret = "cli-secret-\(UUID().uuidString)"
        let token = "cli-session-token-\(UUID().uuidString)"
        let dir = try TestPaths.temporaryDirectory("secrets")
        let report = dir.appendingPathComponent("scan.json")
        let signingKey = dir.appendingPathComponent("signing.key").path
        #expect(try await Attest.run(["evidence", "keygen", "--out", signingKey]).status == 0)
        let r = try await Attest.run(
            [
                "scan", "aws", "--fail-on", "never", "--regions", "us-east-1", "--log-level", "trace", "--format", "json",
                "--output", report.path, "--record", dir.appendingPathComponent("rec").path,
                "--evidence", dir.appendingPathComponent("evidence").path, "--signing-key", signingKey,
            ],
            environment: [
                "AWS_ENDPOINT_URL": env.moto.endpoint, "AWS_ACCESS_KEY_ID": "ASIACLITEST000000001",
                "AWS_SECRET_ACCESS_KEY": secret, "AWS_SESSION_TOKEN": token,
            ])
        // 3, not 0: moto's credential report has no root row, so one root-user control cannot be evaluated.
        #expect(r.status == 3, "\(r.stderr.suffix(500))")
        #expect(r.stderr.contains("1 control result(s) could not be evaluated"))
        var everything = r.stdout + r.stderr + (try String(contentsOf: report, encoding: .utf8))
        for case let url as URL in FileManager.default.enumerator(at: dir.appendingPathComponent("rec"), includingPropertiesForKeys: nil)!
        where url.pathExtension == "json" {
            everything += try String(contentsOf: url, encoding: .utf8)
        }
        // The evidence (records and manifests) carries none either.
        var evidence = ""
        for case let url as URL in FileManager.default.enumerator(
            at: dir.appendingPathComponent("evidence"), includingPropertiesForKeys: nil)!
        where ["json", "jsonl"].contains(url.pathExtension) {
            evidence += try String(contentsOf: url, encoding: .utf8)
        }
        #expect(evidence.count > 10_000)
        everything += evidence
        #expect(everything.count > 10_000)
        #expect(!everything.contains(secret))
        #expect(!everything.contains(token))
        #expect(!everything.contains(SecretScrubberProbe.percentEncoded(token)))
        // Application secrets in the account (a Lambda environment variable) are not copied either.
        #expect(everything.contains("DB_PASSWORD"))
        #expect(!everything.contains("sample-db-password-not-a-real-one"))
    }

    @Test func theDemoScansTheRecordedAccountOffline() async throws {
        let out = try TestPaths.temporaryDirectory("demo").appendingPathComponent("demo.json")
        let r = try await Attest.run(["demo", "--cloud", "aws", "--format", "json", "--output", out.path])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try Attest.json(out)
        #expect(report["scan"]["complete"] == true)
        #expect(report["scan"]["account"] == "123456789012")
        let types = report["resources"].asList.compactMap { $0["type"].stringValue }
        // The base seed and every area (scripts/record-sample-account.sh seeds with --areas).
        #expect(types.count == 163)
        #expect(Set(types).count == 50)
        #expect(report["edges"].asList.count == 117)
        // The demo and its exit status agree: everything read, every control judged (the
        // recording has the root user's credential report row and the vaults' key types), so 0.
        #expect(report["controls"]["by_status"]["error"] == 0)
        #expect(report["controls"]["not_evaluated"] == [])
        #expect(report["errors"] == [])
        #expect(r.stdout.contains("complete: every call succeeded"))
        #expect(r.stdout.contains(" · 0 error · "), "\(r.stdout)")
    }
}

/// The Azure half of `attest demo`: the subscriptions recorded from the seeded estate
/// (`fixtures/azure/seeded.py`), replayed through the Entra ID token flow.
@Suite("The Azure demo")
struct AzureDemoTests {
    @Test func theDemoReplaysTheRecordedSubscriptionsWithTheirSeededFindings() async throws {
        let out = try TestPaths.temporaryDirectory("demo-azure").appendingPathComponent("demo.json")
        let r = try await Attest.run(["demo", "--cloud", "azure", "--format", "json", "--output", out.path])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try Attest.json(out)
        #expect(report["scan"]["complete"] == true)
        #expect(report["errors"] == [])
        #expect(report["controls"]["by_status"]["error"] == 0)
        // The recording is the seeded estate's: the same controls fail on the same resources.
        let expectations = try JSONValue.parse(
            Data(contentsOf: TestPaths.repository.appendingPathComponent("fixtures/azure/seeded-expectations.json")))["fail"]
        var names: [String: String] = [:]
        for resource in report["resources"].asList { names[resource["id"].stringValue ?? ""] = resource["name"].stringValue }
        var failures: [String: Set<String>] = [:]
        for result in report["results"].asList where result["status"].stringValue == "fail" {
            failures[names[result["resource"].stringValue ?? ""] ?? "", default: []].insert(result["control"].stringValue ?? "")
        }
        let expected = (expectations.objectValue ?? [:]).mapValues { Set($0.asList.compactMap(\.stringValue)) }
        #expect(failures == expected)
        #expect(report["resources"].asList.contains { $0["type"].stringValue == "azure.entra.tenant" })
        #expect(report["resources"].asList.contains { $0["type"].stringValue == "azure.management.group" })
        #expect(
            !r.stdout.contains("attest-demo-client-secret-not-a-real-credential")
                && !r.stderr.contains("attest-demo-client-secret-not-a-real-credential"))
    }

    @Test func theDemoScansEveryCloudByDefault() async throws {
        let out = try TestPaths.temporaryDirectory("demo-both").appendingPathComponent("demo.json")
        let r = try await Attest.run(["demo", "--format", "json", "--output", out.path, "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try Attest.json(out)
        #expect(report["scan"]["complete"] == true)
        #expect(report["scan"]["provider"] == "aws,azure,gcp")
        let accounts = Set(report["scan"]["accounts"].asList.compactMap(\.stringValue))
        #expect(
            accounts.contains("123456789012") && accounts.contains("11111111-1111-4111-8111-111111111111")
                && accounts.contains("good-project"))
        let bad = try await Attest.run(["demo", "--cloud", "mars"])
        #expect(bad.status == 2)
    }

    @Test func theReplayIssuesTokensOnlyForTheSecretAndChecksThemOnEveryCall() async throws {
        let entra = EntraTokenCheck(tenant: "t1", clientId: "app", clientSecret: "right-secret")
        let fixture = Fixture(
            request: .init(
                service: "arm", region: "global", method: "GET", path: "/subscriptions", query: "api-version=2022-12-01", body: ""),
            response: .init(status: 200, headers: ["content-type": "application/json"], body: #"{"value":[]}"#))
        try await ReplayServer.withServer(fixtures: [fixture.key: fixture], tokens: entra) { server in
            let transport = AsyncHTTPClientTransport()
            func token(_ secret: String, scope: String) async throws -> HTTPResponse {
                try await transport.send(
                    HTTPRequest(
                        method: "POST", url: server.baseURL + "/t1/oauth2/v2.0/token",
                        headers: [("Content-Type", "application/x-www-form-urlencoded")],
                        body: Array(
                            "grant_type=client_credentials&client_id=app&client_secret=\(secret)&scope=\(scope.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)"
                                .utf8)))
            }
            func list(_ bearer: String?) async throws -> HTTPResponse {
                try await transport.send(
                    HTTPRequest(
                        method: "GET", url: server.baseURL + "/subscriptions?api-version=2022-12-01",
                        headers: bearer.map { [("Authorization", "Bearer \($0)")] } ?? []))
            }
            let wrong = try await token("wrong-secret", scope: "https://management.azure.com/.default")
            #expect(wrong.status == 401 && wrong.bodyText.contains("AADSTS7000215"))
            let arm = try JSONValue.parse(Data(try await token("right-secret", scope: "https://management.azure.com/.default").body))
            let graph = try JSONValue.parse(Data(try await token("right-secret", scope: "https://graph.microsoft.com/.default").body))
            #expect(try await list(arm["access_token"].stringValue).status == 200)
            #expect(try await list(nil).status == 401)
            #expect(try await list("made-up-token").status == 401)
            let misused = try await list(graph["access_token"].stringValue)
            #expect(misused.status == 401 && misused.bodyText.contains("Invalid audience"))
            await transport.shutdown()
        }
    }
}

enum SecretScrubberProbe {
    static func percentEncoded(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? s }
}

/// Values an API answers never become paths or host names unchecked.
@Suite("Hostile values from an API")
struct HostileValueTests {
    @Test func aHostileBucketLocationCannotWriteOutsideTheRecordFolder() async throws {
        let env = try await SeededMoto.shared.value
        let upstream = AsyncHTTPClientTransport()
        let locations = ["../../../x", "evil.example.com/x?"]
        let served = Counter()
        let proxy = try await LoopbackServer.start { request in
            if request.query == "location" || request.query == "location=" {
                let value = locations[served.next() % locations.count]
                return LoopbackResponse(
                    status: 200, contentType: "application/xml",
                    text:
                        #"<?xml version="1.0" encoding="UTF-8"?><LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">\#(value)</LocationConstraint>"#
                )
            }
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
            let dir = try TestPaths.temporaryDirectory("hostile-record")
            let record = dir.appendingPathComponent("a/b/c/record")
            let out = dir.appendingPathComponent("scan.json")
            let r = try await Attest.run(
                [
                    "scan", "aws", "--services", "s3", "--regions", "us-east-1", "--no-controls", "--format", "json", "--output", out.path,
                    "--quiet", "--record", record.path,
                ],
                environment: [
                    "AWS_ENDPOINT_URL": proxy.baseURL, "AWS_ACCESS_KEY_ID": "AKIAHOSTILE000000001", "AWS_SECRET_ACCESS_KEY": "hostile",
                ])
            #expect(r.status == 3, "\(r.stderr)")
            // Nothing landed anywhere but the record folder (and the report).
            let everything = FileManager.default.enumerator(atPath: dir.path)?.allObjects.compactMap { $0 as? String } ?? []
            let outside = everything.filter { !$0.hasPrefix("a/b/c/record") && $0 != "scan.json" && !["a", "a/b", "a/b/c"].contains($0) }
            #expect(outside == [], "\(outside)")
            #expect(everything.filter { $0.hasPrefix("a/b/c/record/") }.allSatisfy { !$0.contains("..") && !$0.contains("evil") })
            // The calls that would have gone there are errors naming the bad value, not crashes.
            let report = try Attest.json(out)
            let bad = report["errors"].asList.filter { $0["code"] == "InvalidEndpoint" }
            #expect(!bad.isEmpty)
            #expect(bad.allSatisfy { $0["message"].stringValue?.contains("is not an AWS region name") == true })
        } catch {
            await proxy.stop()
            await upstream.shutdown()
            throw error
        }
        await proxy.stop()
        await upstream.shutdown()
    }
}

final class Counter: Sendable {
    private let value = Mutex(0)
    func next() -> Int {
        value.withLock { v in
            defer { v += 1 }
            return v
        }
    }
}
