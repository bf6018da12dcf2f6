import AttestCollect
import AttestCore
import AttestGCP
import AttestTestSupport
import Foundation
import Testing

@testable import AttestGCPProvider

/// Workload identity federation (an `external_account` file: the subject token from a file or a
/// URL, the STS exchange, then impersonation) and `--impersonate-service-account`, against the
/// loopback peer's STS and IAM Credentials.
@Suite("Google workload identity federation and impersonation", .serialized)
struct GoogleFederationTests {
    static let audience = "//iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/ci/providers/github"
    static let subjectType = "urn:ietf:params:oauth:token-type:jwt"
    static let subjectToken = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOmV4YW1wbGUvYXR0ZXN0In0.c3ViamVjdC10b2tlbi1zaWduYXR1cmU"
    static let scanner = "attest-scanner@good-project.iam.gserviceaccount.com"

    func configured() async throws -> GCPPeer {
        let peer = try await SeededGCP.forFederation.value
        try await peer.configure([
            "wif_audience": Self.audience, "subject_token_type": Self.subjectType, "subject_token": Self.subjectToken,
            "impersonable": [Self.scanner],
        ])
        return peer
    }

    func federationFile(_ peer: GCPPeer, source: [String: Any], impersonate: Bool = true) throws -> String {
        var file: [String: Any] = [
            "type": "external_account", "audience": Self.audience, "subject_token_type": Self.subjectType,
            "token_url": "https://sts.googleapis.com/v1/token", "credential_source": source,
        ]
        if impersonate {
            file["service_account_impersonation_url"] =
                "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/\(Self.scanner):generateAccessToken"
        }
        let url = try TestPaths.temporaryDirectory("wif").appendingPathComponent("external-account.json")
        try JSONSerialization.data(withJSONObject: file).write(to: url)
        return url.path
    }

    static let args = ["--projects", "good-project", "--services", "storage", "--no-controls", "--quiet", "--no-evidence", "--no-history"]

    @Test func aFileSubjectTokenIsExchangedAtSTSThenForTheServiceAccountsToken() async throws {
        let peer = try await configured()
        let subject = try TestPaths.temporaryDirectory("wif-subject").appendingPathComponent("token")
        try Data((Self.subjectToken + "\n").utf8).write(to: subject)
        let file = try federationFile(peer, source: ["file": subject.path])
        let before = try await peer.log().count
        let result = try await SeededGCP.scan(peer, Self.args, env: ["GOOGLE_APPLICATION_CREDENTIALS": file])
        #expect(result.status == 0, "\(result.stderr)")
        let log = Array(try await peer.log().dropFirst(before))
        let sts = log.filter { ($0["kind"] as? String) == "sts" }
        #expect(sts.count == 1 && sts.first?["verified"] as? Bool == true, "\(sts)")
        // With impersonation the federated token only needs to call IAM Credentials.
        #expect(sts.first?["sts_scope"] as? String == "https://www.googleapis.com/auth/cloud-platform")
        let impersonation = log.filter { ($0["kind"] as? String) == "impersonation" }
        #expect(impersonation.count == 1 && impersonation.first?["caller"] as? String == "federated")
        #expect(impersonation.first?["impersonated"] as? String == Self.scanner)
        let api = log.filter { ($0["kind"] as? String) == "api" }
        #expect(!api.isEmpty && api.allSatisfy { ($0["token_how"] as? String) == "impersonated:\(Self.scanner)" })
        #expect(!(result.stdout + result.stderr).contains(Self.subjectToken))
    }

    @Test func aURLSubjectTokenInAJSONFieldWorksWithoutImpersonationAndABadOneIsRefusedOnOneLine() async throws {
        let peer = try await configured()
        let file = try federationFile(
            peer,
            source: [
                "url": "\(peer.endpoint)/subject-token", "headers": ["Metadata": "True"],
                "format": ["type": "json", "subject_token_field_name": "access_token"],
            ], impersonate: false)
        let before = try await peer.log().count
        let result = try await SeededGCP.scan(peer, Self.args, env: ["GOOGLE_APPLICATION_CREDENTIALS": file])
        #expect(result.status == 0, "\(result.stderr)")
        let log = Array(try await peer.log().dropFirst(before))
        #expect(log.contains { ($0["kind"] as? String) == "subject-token" && ($0["status"] as? Int) == 200 })
        let api = log.filter { ($0["kind"] as? String) == "api" }
        #expect(!api.isEmpty && api.allSatisfy { ($0["token_how"] as? String) == "federated" })

        // A subject token STS does not accept: exit 2 with Google's error, the token nowhere.
        let wrong = try TestPaths.temporaryDirectory("wif-wrong").appendingPathComponent("token")
        try Data("not-the-identity-providers-token".utf8).write(to: wrong)
        let refused = try await SeededGCP.scan(
            peer, Self.args, env: ["GOOGLE_APPLICATION_CREDENTIALS": try federationFile(peer, source: ["file": wrong.path])])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("invalid_grant") && refused.stderr.contains("subject token is invalid"), "\(refused.stderr)")
        #expect(refused.stderr.split(separator: "\n").count <= 2)
        #expect(!(refused.stdout + refused.stderr).contains("not-the-identity-providers-token"))
        // A plain-http subject-token URL off loopback is refused before anything is sent.
        let far = try await SeededGCP.scan(
            peer, Self.args,
            env: ["GOOGLE_APPLICATION_CREDENTIALS": try federationFile(peer, source: ["url": "http://idp.example.test/token"])])
        #expect(far.status == 2 && far.stderr.contains("must be https"), "\(far.stderr)")
    }

    @Test func impersonateServiceAccountAsksIAMCredentialsWithTheKeysToken() async throws {
        let peer = try await configured()
        let before = try await peer.log().count
        let result = try await SeededGCP.scan(peer, Self.args + ["--impersonate-service-account", Self.scanner])
        #expect(result.status == 0, "\(result.stderr)")
        let log = Array(try await peer.log().dropFirst(before))
        let grant = log.first { ($0["kind"] as? String) == "token" }
        #expect(grant?["verified"] as? Bool == true)
        #expect(log.contains { ($0["kind"] as? String) == "impersonation" && ($0["caller"] as? String) == "service-account" })
        #expect(
            log.filter { ($0["kind"] as? String) == "api" }.allSatisfy { ($0["token_how"] as? String) == "impersonated:\(Self.scanner)" })

        let denied = try await SeededGCP.scan(
            peer, Self.args + ["--impersonate-service-account", "someone@good-project.iam.gserviceaccount.com"])
        #expect(denied.status == 2)
        #expect(denied.stderr.contains("PERMISSION_DENIED") && denied.stderr.contains("getAccessToken"), "\(denied.stderr)")
        let malformed = try await SeededGCP.scan(peer, Self.args + ["--impersonate-service-account", "not-an-email"])
        #expect(malformed.status == 2 && malformed.stderr.contains("not a service account email"))
    }
}

/// `--organization` and `--folder` choose projects through the folders' ancestry; the
/// organization above them is scanned once, with its folders.
@Suite("Google Cloud organizations and folders", .serialized)
struct GCPOrganizationTests {
    static let args = [
        "--services", "resourcemanager,organization", "--format", "json", "--quiet", "--no-evidence", "--no-history", "--no-controls",
    ]

    func accounts(_ result: ProcessResult) throws -> Set<String> {
        Set(try JSONValue.parse(result.stdout)["scan"]["accounts"].asList.compactMap(\.stringValue))
    }

    @Test func theOrganizationAndFolderFlagsChooseTheProjectsUnderThemThroughNestedFolders() async throws {
        let peer = try await SeededGCP.forOrganization.value
        let org = try await SeededGCP.scan(peer, ["--organization", "424242424242"] + Self.args)
        #expect(org.status == 0, "\(org.stderr)")
        #expect(try accounts(org).isSuperset(of: ["good-project", "bad-project"]))
        let report = try JSONValue.parse(org.stdout)
        let resources = report["resources"].asList
        let organization = resources.first { $0["type"].stringValue == "gcp.resourcemanager.organization" }
        #expect(organization?["id"].stringValue == "//cloudresourcemanager.googleapis.com/organizations/424242424242")
        #expect(organization?["attributes"]["display_name"].stringValue == "example.com")
        #expect(organization?["attributes"]["members"].asList.contains("group:gcp-admins@example.com") == true)
        #expect(
            Set(resources.filter { $0["type"].stringValue == "gcp.resourcemanager.folder" }.compactMap { $0["name"].stringValue })
                == ["production", "engineering", "sandboxes"])
        let bad = resources.first { $0["type"].stringValue == "gcp.resourcemanager.project" && $0["name"].stringValue == "bad-project" }
        #expect(
            bad?["attributes"]["ancestors"].asList.compactMap(\.stringValue) == [
                "folders/1003", "folders/1002", "organizations/424242424242",
            ])
        let edges = Set(
            report["edges"].asList.map { "\($0["from"].stringValue ?? "") \($0["kind"].stringValue ?? "") \($0["to"].stringValue ?? "")" })
        #expect(
            edges.contains("//cloudresourcemanager.googleapis.com/folders/1003 child-of //cloudresourcemanager.googleapis.com/folders/1002")
        )
        #expect(edges.contains { $0.hasSuffix("child-of //cloudresourcemanager.googleapis.com/folders/1003") && $0.contains("/projects/") })

        let production = try await SeededGCP.scan(peer, ["--folder", "1001"] + Self.args)
        #expect(production.status == 0, "\(production.stderr)")
        #expect(try accounts(production).subtracting(["424242424242"]) == ["good-project"])
        let engineering = try await SeededGCP.scan(peer, ["--folder", "1002"] + Self.args)
        #expect(try accounts(engineering).subtracting(["424242424242"]) == ["bad-project"], "a project two folders down")
        let empty = try await SeededGCP.scan(peer, ["--folder", "999"] + Self.args)
        #expect(empty.status == 2 && empty.stderr.contains("no active project under folders/999"), "\(empty.stderr)")
    }

    @Test func aCredentialThatMayNotSearchFoldersStillScansItsProjectsButNotAnOrganization() async throws {
        let peer = try await SeededGCP.forOrganization.value
        try await peer.configure(["forbid_folder_search": true])
        defer { Task { try? await peer.configure(["forbid_folder_search": false]) } }
        let plain = try await SeededGCP.scan(peer, Self.args)
        #expect(plain.status == 3, "\(plain.stderr)")
        #expect(try accounts(plain).isSuperset(of: ["good-project", "bad-project"]))
        let errors = try JSONValue.parse(plain.stdout)["errors"].asList
        #expect(errors.contains { $0["kind"].stringValue == "discovery" && $0["code"].stringValue == "PERMISSION_DENIED" })
        let org = try await SeededGCP.scan(peer, ["--organization", "424242424242"] + Self.args)
        #expect(org.status == 2 && org.stderr.contains("cannot search the folders and organizations"), "\(org.stderr)")
        let both = try await SeededGCP.scan(peer, ["--organization", "424242424242", "--projects", "good-project"] + Self.args)
        #expect(both.status == 2 && both.stderr.contains("give one of them"))
        let letters = try await SeededGCP.scan(peer, ["--folder", "folders/12"] + Self.args)
        #expect(letters.status == 2 && letters.stderr.contains("is not a number"))
    }
}

@Suite("Google Cloud transforms")
struct GCPTransformTests {
    @Test func keyNamesDurationsSinkDestinationsAndEngines() {
        #expect(
            GCPTransforms.kmsKey("projects/p/locations/europe-west1/keyRings/r/cryptoKeys/k/cryptoKeyVersions/3")
                == "//cloudkms.googleapis.com/projects/p/locations/europe-west1/keyRings/r/cryptoKeys/k")
        #expect(
            GCPTransforms.kmsKey("//cloudkms.googleapis.com/projects/p/locations/l/keyRings/r/cryptoKeys/k")
                == "//cloudkms.googleapis.com/projects/p/locations/l/keyRings/r/cryptoKeys/k")
        #expect(GCPTransforms.kmsKey("arbitrary text") == .null)
        #expect(GCPTransforms.kmsKey("") == .null)
        #expect(GCPTransforms.durationSeconds("7776000s") == 7_776_000)
        #expect(GCPTransforms.durationSeconds("3.5s") == 3)
        #expect(GCPTransforms.durationSeconds("90d") == .null)
        #expect(GCPTransforms.durationSeconds("1e300s") == .null)
        #expect(
            GCPTransforms.sinkDestination("storage.googleapis.com/audit-logs") == "//storage.googleapis.com/projects/_/buckets/audit-logs")
        #expect(
            GCPTransforms.sinkDestination("bigquery.googleapis.com/projects/p/datasets/logs")
                == "//bigquery.googleapis.com/projects/p/datasets/logs")
        #expect(GCPTransforms.sinkDestination("evil.example.test/x") == .null)
        #expect(GCPTransforms.sinkDestination("storage.googleapis.com/") == .null)
        #expect(
            GCPTransforms.iamMember("serviceAccount:ci@bad-project.iam.gserviceaccount.com")
                == "//iam.googleapis.com/projects/bad-project/serviceAccounts/ci@bad-project.iam.gserviceaccount.com")
        #expect(
            GCPTransforms.iamMember("serviceAccount:service-222222222222@compute-system.iam.gserviceaccount.com")
                == "serviceAccount:service-222222222222@compute-system.iam.gserviceaccount.com")
        #expect(GCPTransforms.iamMember("user:alice@example.com") == "user:alice@example.com")
        #expect(GCPTransforms.iamMember("allUsers") == "allUsers")
        #expect(
            GCPTransforms.iamMember("serviceAccount:123-compute@developer.gserviceaccount.com")
                == "serviceAccount:123-compute@developer.gserviceaccount.com")
        let engine = GCPTransforms.all.first { $0.name == "sql-engine" }!
        #expect(engine.apply("POSTGRES_16", [:]) == "postgres")
        #expect(engine.apply("SQLSERVER_2022_STANDARD", [:]) == "sqlserver")
        #expect(engine.apply("MYSQL_8_0", [:]) == "mysql")
        #expect(engine.apply("ORACLE", [:]) == .null)
    }
}
