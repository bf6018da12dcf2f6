import AttestCore
import AttestGCP
import AttestTestSupport
import Foundation
import Testing

/// One loopback Google Cloud for the suites: the seeded estate (`fixtures/gcp/seeded.py`).
enum SeededGCP {
    /// For the scan suite, which reconfigures it.
    static let shared = Task { () throws -> GCPPeer in try await start() }
    /// For the seeded-estate suite alone (suites run side by side).
    static let forSeeded = Task { () throws -> GCPPeer in try await start() }
    /// For the credential suite alone.
    static let forCredentials = Task { () throws -> GCPPeer in try await start() }
    /// For the federation and impersonation suite, which configures the peer's STS.
    static let forFederation = Task { () throws -> GCPPeer in try await start() }
    /// For the organization suite.
    static let forOrganization = Task { () throws -> GCPPeer in try await start() }
    /// For the Asset Inventory listing suite, which reconfigures it.
    static let forListing = Task { () throws -> GCPPeer in try await start() }

    static func start() async throws -> GCPPeer {
        let dir = try TestPaths.temporaryDirectory("gcp-estate")
        let file = dir.appendingPathComponent("seeded.json")
        _ = try await runProcess(
            "/usr/bin/env", ["python3", TestPaths.repository.appendingPathComponent("fixtures/gcp/seeded.py").path, file.path])
        var estate = try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any] ?? [:]
        let seed = estate.removeValue(forKey: "seed") as? [[String: Any]] ?? []
        estate.removeValue(forKey: "projects")
        return try await GCPPeer.start(seed: seed, config: estate)
    }

    static func scan(_ peer: GCPPeer, _ args: [String], env extra: [String: String] = [:]) async throws -> ProcessResult {
        var env = peer.environment
        for (k, v) in extra { env[k] = v }
        return try await runAttestOnPath(["scan", "gcp"] + args, environment: env)
    }
}

@Suite("Google endpoints")
struct GCPEndpointTests {
    @Test func everyAPIMovesToTheCommonEndpointAndAPerAPIOverrideWins() throws {
        let none = try GCPEndpoints(environment: [:])
        #expect(none.base(api: "compute") == "https://compute.googleapis.com")
        #expect(none.relocate("https://oauth2.googleapis.com/token") == "https://oauth2.googleapis.com/token")
        let moved = try GCPEndpoints(environment: [
            "ATTEST_GCP_ENDPOINT": "http://127.0.0.1:9/", "CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE": "https://storage.example.test/",
        ])
        #expect(moved.base(api: "compute") == "http://127.0.0.1:9")
        #expect(moved.base(api: "storage") == "https://storage.example.test")
        #expect(moved.relocate("https://oauth2.googleapis.com/token") == "http://127.0.0.1:9/token")
        // Only Google API hosts are moved; anything else is not a Google endpoint.
        for hostile in [
            "https://oauth2.googleapis.com.evil.test/token", "http://oauth2.googleapis.com/token", "https://evil.test/token",
            "https://a.b.googleapis.com/token",
        ] {
            #expect(moved.relocate(hostile) == nil, "\(hostile)")
        }
        #expect(throws: EndpointVariable.ConfigurationError.self) {
            try GCPEndpoints(environment: ["ATTEST_GCP_ENDPOINT": "http://gcp.example.test"])
        }
        #expect(throws: EndpointVariable.ConfigurationError.self) {
            try GCPEndpoints(environment: ["GCE_METADATA_HOST": "evil.example.test"])
        }
        #expect(try GCPEndpoints(environment: ["GCE_METADATA_HOST": "127.0.0.1:8080"]).metadataHost == "127.0.0.1:8080")
    }
}

@Suite("Google credentials against a loopback token endpoint that verifies with google-auth", .serialized)
struct GoogleCredentialTests {
    @Test func aServiceAccountAssertionIsVerifiedByGoogleAuthAndAStrangersKeyIsRefusedOnOneLine() async throws {
        let peer = try await SeededGCP.forCredentials.value
        let before = try await peer.log().count
        let ok = try await SeededGCP.scan(
            peer, ["--projects", "good-project", "--services", "storage", "--no-controls", "--quiet", "--no-evidence", "--no-history"])
        #expect(ok.status == 0, "\(ok.stderr)")
        let tokens = Array(try await peer.log().dropFirst(before)).filter { ($0["kind"] as? String) == "token" }
        #expect(tokens.contains { $0["verified"] as? Bool == true && ($0["status"] as? Int) == 200 })
        let header = tokens.first?["header"] as? [String: Any]
        #expect(header?["kid"] as? String == GCPPeer.keyId && header?["alg"] as? String == "RS256")

        let stranger = try await SeededGCP.scan(
            peer, ["--projects", "good-project", "--no-evidence", "--no-history"],
            env: ["GOOGLE_APPLICATION_CREDENTIALS": peer.strangerKeyFile])
        #expect(stranger.status == 2)
        #expect(stranger.stderr.contains("invalid_grant") && stranger.stderr.contains("Invalid JWT Signature"), "\(stranger.stderr)")
        #expect(stranger.stderr.split(separator: "\n").count <= 2)
        let key = try JSONValue.parse(Data(contentsOf: URL(fileURLWithPath: peer.strangerKeyFile)))["private_key"].stringValue ?? "x"
        let body = key.split(separator: "\n").dropFirst().first.map(String.init) ?? "x"
        #expect(!(stranger.stdout + stranger.stderr).contains(body))
    }

    @Test func gcloudUserCredentialsAndTheMetadataServerGiveTokensToo() async throws {
        let peer = try await SeededGCP.forCredentials.value
        // gcloud's application_default_credentials.json, found through CLOUDSDK_CONFIG.
        let config = try TestPaths.temporaryDirectory("gcloud-config")
        try FileManager.default.copyItem(
            atPath: peer.userCredentialsFile, toPath: config.appendingPathComponent("application_default_credentials.json").path)
        let before = try await peer.log().count
        let user = try await SeededGCP.scan(
            peer, ["--projects", "good-project", "--services", "compute", "--no-controls", "--quiet", "--no-evidence", "--no-history"],
            env: ["GOOGLE_APPLICATION_CREDENTIALS": "", "CLOUDSDK_CONFIG": config.path])
        #expect(user.status == 0, "\(user.stderr)")
        // Nothing configured: the metadata server (GCE_METADATA_HOST), asked with Metadata-Flavor: Google.
        let metadata = try await SeededGCP.scan(
            peer, ["--projects", "good-project", "--services", "compute", "--no-controls", "--quiet", "--no-evidence", "--no-history"],
            env: ["GOOGLE_APPLICATION_CREDENTIALS": "", "GCE_METADATA_HOST": "127.0.0.1:\(peer.port)"])
        #expect(metadata.status == 0, "\(metadata.stderr)")
        let log = Array(try await peer.log().dropFirst(before))
        #expect(log.contains { ($0["grant"] as? String) == "refresh_token" && ($0["status"] as? Int) == 200 })
        #expect(log.contains { ($0["kind"] as? String) == "metadata" && ($0["status"] as? Int) == 200 })
        #expect(!(user.stdout + user.stderr).contains(GCPPeer.refreshToken))
        let refused = try await SeededGCP.scan(peer, ["--projects", "good-project"], env: ["GCE_METADATA_HOST": "metadata.evil.test"])
        #expect(refused.status == 2 && refused.stderr.contains("GCE_METADATA_HOST"))
        // Nothing at all (off Google Cloud, the metadata server's name does not resolve): say how to give credentials.
        let nothing = try await SeededGCP.scan(
            peer, ["--projects", "good-project", "--no-evidence", "--no-history"],
            env: ["GOOGLE_APPLICATION_CREDENTIALS": "", "GCE_METADATA_HOST": "127.0.0.1:9"])
        #expect(nothing.status == 2, "\(nothing.stderr)")
        #expect(nothing.stderr.contains("the metadata server at 127.0.0.1:9"), "\(nothing.stderr)")
    }
}

@Suite("attest scan gcp against gcplocal behind the loopback peer", .serialized)
struct GCPScanTests {
    @Test func aScanPagesRetriesAQuotaErrorReplacesARefusedTokenAndReportsAForbiddenProjectAsErrors() async throws {
        let peer = try await SeededGCP.shared.value
        let firewalls = "/compute/v1/projects/good-project/global/firewalls"
        try await peer.configure([
            "forbidden_projects": ["bad-project"], "throttle_once": [firewalls], "expire_after_calls": 6, "page_size": 1,
        ])
        defer {
            Task {
                try? await peer.configure([
                    "forbidden_projects": [String](), "throttle_once": [String](), "expire_after_calls": 0, "page_size": 2,
                ])
            }
        }
        let before = try await peer.log().count
        // Every list from its own API (the throttled and paged firewall list is one of them).
        let result = try await SeededGCP.scan(
            peer, ["--listing", "api", "--format", "json", "--quiet", "--no-evidence", "--no-history", "--no-controls"])
        #expect(result.status == 3, "\(result.stderr)")
        let report = try JSONValue.parse(result.stdout)
        let errors = report["errors"].asList
        #expect(
            !errors.isEmpty
                && errors.allSatisfy { $0["account"].stringValue == "bad-project" && $0["code"].stringValue == "PERMISSION_DENIED" })
        let types = Set(
            report["resources"].asList.filter { $0["account"].stringValue == "good-project" }.compactMap { $0["type"].stringValue })
        #expect(
            types.isSuperset(of: [
                "gcp.resourcemanager.project", "gcp.storage.bucket", "gcp.compute.firewall", "gcp.compute.network",
                "gcp.iam.service-account", "gcp.compute.instance", "gcp.compute.subnetwork",
            ]))
        // The instance, from the aggregated list, named and placed by its selfLink and zone, with its edges.
        let web = report["resources"].asList.first { $0["name"].stringValue == "web-1" && $0["type"].stringValue == "gcp.compute.instance" }
        #expect(web?["id"].stringValue == "//compute.googleapis.com/projects/good-project/zones/europe-west1-b/instances/web-1")
        #expect(web?["region"].stringValue == "europe-west1-b")
        let edges = Set(report["edges"].asList.map { "\($0["kind"].stringValue ?? "") \($0["to"].stringValue ?? "")" })
        #expect(
            edges.contains(
                "runs-as //iam.googleapis.com/projects/good-project/serviceAccounts/app-runner@good-project.iam.gserviceaccount.com"))
        #expect(edges.contains("in-subnetwork //compute.googleapis.com/projects/good-project/regions/europe-west1/subnetworks/prod-subnet"))
        // IAM policy members: a service account joined by its full name, a user as written.
        #expect(
            edges.contains(
                "grants-role-to //iam.googleapis.com/projects/good-project/serviceAccounts/app-runner@good-project.iam.gserviceaccount.com")
        )
        #expect(edges.contains("grants-role-to user:alice@example.com"))
        #expect(report["resources"].asList.allSatisfy { ($0["id"].stringValue ?? "").hasPrefix("//") }, "ids are full resource names")
        let log = Array(try await peer.log().dropFirst(before)).filter { ($0["kind"] as? String) == "api" }
        #expect(log.contains { $0["throttled"] as? Bool == true })
        #expect(log.filter { ($0["path"] as? String) == firewalls }.count >= 2, "the quota error was not retried")
        #expect(log.contains { $0["page_token"] is String }, "no list went past its first page")
        #expect(log.contains { $0["expired"] as? Bool == true })
        let tokens = Array(try await peer.log().dropFirst(before)).filter {
            ($0["kind"] as? String) == "token" && ($0["status"] as? Int) == 200
        }
        #expect(tokens.count >= 2, "a refused token was not replaced")
        #expect(log.allSatisfy { $0["discovery"] == nil }, "answers outside the discovery documents: \(log.compactMap { $0["discovery"] })")
    }

    @Test func projectsComeFromTheSearchOrTheFlagAndAnUnknownOneIsAnErrorForIt() async throws {
        let peer = try await SeededGCP.shared.value
        let all = try await SeededGCP.scan(
            peer, ["--services", "iam", "--format", "json", "--quiet", "--no-evidence", "--no-history", "--no-controls"])
        #expect(all.status == 0, "\(all.stderr)")
        // The projects, and the organization above them.
        #expect(
            Set(try JSONValue.parse(all.stdout)["scan"]["accounts"].asList.compactMap(\.stringValue))
                == ["good-project", "bad-project", "424242424242"])
        let named = try await SeededGCP.scan(
            peer,
            [
                "--projects", "good-project,missing-project", "--services", "iam", "--format", "json", "--quiet", "--no-evidence",
                "--no-history", "--no-controls",
            ])
        #expect(named.status == 3, "\(named.stderr)")
        let errors = try JSONValue.parse(named.stdout)["errors"].asList
        #expect(errors.count == 1 && errors.first?["account"].stringValue == "missing-project")
        let bad = try await SeededGCP.scan(peer, ["--projects", "Not_A_Project"])
        #expect(bad.status == 2 && bad.stderr.contains("not a project id"))
    }

    @Test func theDiscoveryCheckCatchesAnAnswerOutsideTheSchema() async throws {
        // The check the other tests rely on must see a field the method's schema lacks and a wrong type.
        let peer = try await SeededGCP.shared.value
        let path = "/v1/projects/good-project/serviceAccounts"
        try await peer.configure([
            "extra_overrides": [
                path: ["accounts": [["email": "x@good-project.iam.gserviceaccount.com", "disabled": "no", "madeUpField": 1]]]
            ]
        ])
        defer { Task { try? await peer.configure(["extra_overrides": [String: Any]()]) } }
        let before = try await peer.log().count
        _ = try await SeededGCP.scan(
            peer, ["--projects", "good-project", "--services", "iam", "--no-controls", "--quiet", "--no-evidence", "--no-history"])
        let entry = Array(try await peer.log().dropFirst(before)).first { ($0["path"] as? String) == path }
        let problems = (entry?["discovery"] as? [String]) ?? []
        #expect(problems.contains { $0.contains("madeUpField") && $0.contains("not in the schema") }, "\(problems)")
        #expect(problems.contains { $0.contains("disabled") && $0.contains("boolean") }, "\(problems)")
    }

    @Test func permissionsListEveryPermissionTheSpecsCall() async throws {
        let result = try await runAttestOnPath(["permissions", "gcp"], environment: ["HOME": "/nonexistent"])
        #expect(result.status == 0)
        let role = try JSONValue.parse(result.stdout)
        let permissions = Set(role["includedPermissions"].asList.compactMap(\.stringValue))
        #expect(
            permissions.isSuperset(of: [
                "storage.buckets.list", "storage.buckets.getIamPolicy", "compute.firewalls.list", "iam.serviceAccountKeys.list",
                "resourcemanager.projects.getIamPolicy",
            ]))
        #expect(permissions.allSatisfy { $0.split(separator: ".").count == 3 })
    }
}

/// The seeded estate: every control fails exactly on the resources
/// `fixtures/gcp/seeded-expectations.json` names and passes (or does not apply) elsewhere.
@Suite("The seeded Google Cloud estate", .serialized)
struct GCPSeededEstateTests {
    @Test func everyControlFailsExactlyWhereTheEstateIsMisconfiguredAndPassesOnTheTwin() async throws {
        let peer = try await SeededGCP.forSeeded.value
        let before = try await peer.log().count
        let result = try await SeededGCP.scan(peer, ["--format", "json", "--quiet", "--no-evidence", "--no-history"])
        #expect(result.status == 1, "\(result.stderr)")
        let report = try JSONValue.parse(result.stdout)
        #expect(report["errors"].asList.isEmpty, "\(report["errors"].serialized())")
        var names: [String: String] = [:]
        for r in report["resources"].asList { names[r["id"].stringValue ?? ""] = r["name"].stringValue }
        var statuses: [String: Set<String>] = [:]
        var failures: [String: Set<String>] = [:]
        for r in report["results"].asList {
            let control = r["control"].stringValue ?? ""
            let status = r["status"].stringValue ?? ""
            statuses[control, default: []].insert(status)
            #expect(status != "error", "\(control): error")
            if status == "fail" { failures[names[r["resource"].stringValue ?? ""] ?? "", default: []].insert(control) }
        }
        // seeded-expectations.json and one file per area (seeded-expectations-<area>.json), merged.
        let fixtures = TestPaths.repository.appendingPathComponent("fixtures/gcp")
        var expected: [String: Set<String>] = [:]
        var oneSided: [String: JSONValue] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: fixtures.path).sorted()
        where name.hasPrefix("seeded-expectations") && name.hasSuffix(".json") {
            let file = try JSONValue.parse(Data(contentsOf: fixtures.appendingPathComponent(name)))
            for (resource, controls) in file["fail"].objectValue ?? [:] {
                expected[resource, default: []].formUnion(controls.asList.compactMap(\.stringValue))
            }
            for (k, v) in file["one_sided"].objectValue ?? [:] { oneSided[k] = v }
        }
        for name in Set(expected.keys).union(failures.keys).sorted() {
            let want = expected[name] ?? []
            let got = failures[name] ?? []
            #expect(
                got == want, "\(name): unexpected failures \(got.subtracting(want).sorted()), missing \(want.subtracting(got).sorted())")
        }
        let controls = try FileManager.default.subpathsOfDirectory(atPath: TestPaths.repository.appendingPathComponent("controls/gcp").path)
            .filter { $0.hasSuffix(".yaml") }.map { String($0.split(separator: "/").last!.dropLast(5)) }
        #expect(!controls.isEmpty)
        for control in controls {
            #expect(oneSided[control] != nil || statuses[control]?.contains("fail") == true, "\(control) never failed")
            #expect(statuses[control]?.contains("pass") == true, "\(control) never passed")
        }
        let log = Array(try await peer.log().dropFirst(before)).filter { ($0["kind"] as? String) == "api" }
        #expect(log.allSatisfy { $0["discovery"] == nil }, "answers outside the discovery documents: \(log.compactMap { $0["discovery"] })")
    }
}
