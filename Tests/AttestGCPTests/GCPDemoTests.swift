import AttestCore
import AttestReplay
import AttestTestSupport
import Foundation
import Testing
import _CryptoExtras

@testable import AttestGCP

/// The Google Cloud part of `attest demo`: the projects recorded from the seeded estate
/// (`fixtures/gcp/seeded.py`), replayed behind a token endpoint that verifies the demo's
/// assertions against a key made for the run.
@Suite("The Google Cloud demo")
struct GCPDemoTests {
    @Test func theDemoReplaysTheRecordedProjectsWithTheirSeededFindings() async throws {
        let out = try TestPaths.temporaryDirectory("demo-gcp").appendingPathComponent("demo.json")
        let r = try await runAttestOnPath(
            ["demo", "--cloud", "gcp", "--format", "json", "--output", out.path], environment: ["HOME": "/nonexistent"])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try JSONValue.parse(Data(contentsOf: out))
        #expect(report["scan"]["complete"] == true)
        #expect(report["errors"] == [])
        #expect(report["controls"]["by_status"]["error"] == 0)
        // The recording is the seeded estate's: the same controls fail on the same resources.
        let fixtures = TestPaths.repository.appendingPathComponent("fixtures/gcp")
        var expected: [String: Set<String>] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: fixtures.path).sorted()
        where name.hasPrefix("seeded-expectations") && name.hasSuffix(".json") {
            for (resource, controls) in try JSONValue.parse(Data(contentsOf: fixtures.appendingPathComponent(name)))["fail"].objectValue
                ?? [:]
            {
                expected[resource, default: []].formUnion(controls.asList.compactMap(\.stringValue))
            }
        }
        var names: [String: String] = [:]
        for resource in report["resources"].asList { names[resource["id"].stringValue ?? ""] = resource["name"].stringValue }
        // Two controls judge ages against the scan's time, while the recording's dates stay as
        // recorded: a key recorded as new grows old. They are left out of the comparison.
        let ageing: Set<String> = ["gcp-iam-service-account-key-rotated", "gcp-kms-key-rotation"]
        expected = expected.mapValues { $0.subtracting(ageing) }.filter { !$0.value.isEmpty }
        var failures: [String: Set<String>] = [:]
        for result in report["results"].asList
        where result["status"].stringValue == "fail" && !ageing.contains(result["control"].stringValue ?? "") {
            failures[names[result["resource"].stringValue ?? ""] ?? "", default: []].insert(result["control"].stringValue ?? "")
        }
        #expect(failures == expected)
        #expect(report["resources"].asList.contains { $0["type"].stringValue == "gcp.resourcemanager.organization" })
        #expect(!(r.stdout + r.stderr).contains("PRIVATE KEY"))
    }

    @Test func theReplayIssuesTokensOnlyForAssertionsSignedWithTheDemoKey() async throws {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let stranger = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let email = "attest-demo@attest-demo.iam.gserviceaccount.com"
        let audience = "https://oauth2.googleapis.com/token"
        let check = GoogleTokenCheck(clientEmail: email, keyId: "k1", audience: audience, publicKey: key.publicKey)
        func assertion(_ signer: _RSA.Signing.PrivateKey, kid: String = "k1", iss: String = email) throws -> String {
            let file: JSONValue = [
                "type": "service_account", "private_key_id": .string(kid), "private_key": .string(signer.pemRepresentation),
                "client_email": .string(iss), "token_uri": .string(audience),
            ]
            return try ServiceAccountKey(json: file, file: "test").assertion(
                scope: "https://www.googleapis.com/auth/cloud-platform.read-only", now: Date())
        }
        func request(_ assertion: String) -> LoopbackRequest {
            LoopbackRequest(
                method: "POST", path: "/token", query: "", headers: [("Content-Type", "application/x-www-form-urlencoded")],
                body: Array("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=\(assertion)".utf8))
        }
        let good = check.tokenAnswer(request(try assertion(key)))
        #expect(good.status == 200)
        let token = try JSONValue.parse(Data(good.body))["access_token"].stringValue ?? ""
        #expect(
            check.problem(
                with: LoopbackRequest(
                    method: "GET", path: "/v3/projects:search", query: "", headers: [("Authorization", "Bearer \(token)")], body: []))
                == nil)
        #expect(
            check.problem(
                with: LoopbackRequest(
                    method: "GET", path: "/v3/projects:search", query: "", headers: [("Authorization", "Bearer ya29.made-up")], body: []))?
                .status == 401)
        #expect(
            check.problem(with: LoopbackRequest(method: "GET", path: "/v3/projects:search", query: "", headers: [], body: []))?.status
                == 401)
        for (refused, why) in [
            (try assertion(stranger), "Signature"), (try assertion(key, kid: "k2"), "kid"),
            (try assertion(key, iss: "x@y.iam.gserviceaccount.com"), "iss"),
        ] {
            let answer = check.tokenAnswer(request(refused))
            #expect(answer.status == 400 && String(decoding: answer.body, as: UTF8.self).contains(why), "\(why)")
        }
    }
}
