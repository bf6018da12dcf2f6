import AttestCore
import AttestTestSupport
import Foundation
import Testing

/// Cloud Storage answered by a second emulator, gcp-storage-emulator (PyPI), in place of
/// gcplocal's: the bucket spec and controls must read another implementation's answers the
/// same way, and every answer is still checked against the discovery document.
@Suite("Cloud Storage against gcp-storage-emulator")
struct GCPStorageEmulatorTests {
    static func bucket(_ name: String, _ settings: [String: Any], iam: [[String: Any]]) -> [[String: Any]] {
        [
            ["method": "POST", "path": "/storage/v1/b?project=good-project", "body": ["name": name]],
            ["method": "PATCH", "path": "/storage/v1/b/\(name)", "body": settings],
            ["method": "PUT", "path": "/storage/v1/b/\(name)/iam", "body": ["bindings": iam]],
        ]
    }

    @Test func bucketsFromTheSecondEmulatorAreReadAndJudgedLikeGcplocals() async throws {
        let seed =
            Self.bucket(
                "emu-private",
                [
                    "iamConfiguration": ["uniformBucketLevelAccess": ["enabled": true], "publicAccessPrevention": "enforced"],
                    "versioning": ["enabled": true], "logging": ["logBucket": "emu-logs"],
                ], iam: [["role": "roles/storage.objectViewer", "members": ["group:readers@example.com"]]])
            + Self.bucket(
                "emu-public", ["iamConfiguration": ["uniformBucketLevelAccess": ["enabled": false]], "versioning": ["enabled": false]],
                iam: [["role": "roles/storage.objectViewer", "members": ["allUsers"]]])
        let peer = try await GCPPeer.start(
            seed: [["path": "/v1/projects", "body": ["projectId": "good-project", "name": "good-project"]]],
            config: ["storage_emulator": true, "storage_emulator_seed": seed, "project_numbers": ["good-project": "111111111111"]])
        defer { peer.stop() }
        let before = try await peer.log().count
        let result = try await runAttestOnPath(
            [
                "scan", "gcp", "--projects", "good-project", "--services", "storage", "--listing", "api", "--format", "json", "--quiet",
                "--no-evidence", "--no-history",
            ], environment: peer.environment)
        #expect(result.status == 1, "\(result.stderr)")
        let report = try JSONValue.parse(result.stdout)
        #expect(report["errors"].asList.isEmpty, "\(report["errors"].serialized())")
        let buckets = Dictionary(
            uniqueKeysWithValues: report["resources"].asList.filter { $0["type"].stringValue == "gcp.storage.bucket" }.map {
                ($0["name"].stringValue ?? "", $0["attributes"])
            })
        #expect(Set(buckets.keys) == ["emu-private", "emu-public"])
        #expect(buckets["emu-private"]?["uniform_bucket_level_access"] == true)
        #expect(buckets["emu-private"]?["public_access_prevention"] == "enforced")
        #expect(buckets["emu-private"]?["versioning"] == true)
        #expect(buckets["emu-private"]?["logging_bucket"] == "emu-logs")
        #expect(buckets["emu-public"]?["iam_members"].asList.contains("allUsers") == true)
        var statuses: [String: String] = [:]
        for r in report["results"].asList {
            let name = (r["resource"].stringValue ?? "").split(separator: "/").last.map(String.init) ?? ""
            statuses["\(r["control"].stringValue ?? "") \(name)"] = r["status"].stringValue
        }
        for control in ["gcp-storage-bucket-not-public", "gcp-storage-bucket-uniform-access", "gcp-storage-bucket-versioning"] {
            #expect(statuses["\(control) emu-private"] == "pass", "\(control)")
            #expect(statuses["\(control) emu-public"] == "fail", "\(control)")
        }
        let calls = Array(try await peer.log().dropFirst(before)).filter { ($0["kind"] as? String) == "api" }
        #expect(calls.contains { ($0["path"] as? String) == "/storage/v1/b/emu-public/iam" })
        #expect(calls.allSatisfy { $0["discovery"] == nil }, "\(calls.compactMap { $0["discovery"] })")
    }
}
