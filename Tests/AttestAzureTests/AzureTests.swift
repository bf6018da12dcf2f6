import AttestAzure
import AttestAzureProvider
import AttestCollect
import AttestCore
import AttestHTTP
import AttestScan
import AttestTestSupport
import Foundation
import Logging
import Testing

/// A loopback Azure serving the official example responses as the estate: one shared by the
/// scan suites, one for the Resource Graph suite (a suite reconfigures its peer, and suites run
/// side by side).
enum VectorPeer {
    static let shared = Task { () throws -> AzurePeer in try await start() }
    static let forListing = Task { () throws -> AzurePeer in try await start() }

    static func start() async throws -> AzurePeer {
        let dir = try TestPaths.temporaryDirectory("azure-estate")
        let estate = dir.appendingPathComponent("vectors.json")
        _ = try await runProcess(
            "/usr/bin/env",
            [
                "python3", TestPaths.repository.appendingPathComponent("Tests/Support/azure/estate.py").path, "vectors",
                TestPaths.shared.appendingPathComponent("vectors/azure").path, estate.path,
            ])
        return try await AzurePeer.start(estate: estate)
    }
}

/// A transport of a session of its own, shut down after `body`.
func withTransport<T: Sendable>(_ body: (any HTTPTransport) async throws -> T) async throws -> T {
    try await ScanSession.withSession(environment: [:], userAgent: "attest-test") { session in
        try await body(try await session.transports.transport())
    }
}

@Suite("Entra ID token flows against a loopback token endpoint that verifies with PyJWT", .serialized)
struct EntraTokenTests {
    func chain(_ peer: AzurePeer, _ variables: [String: String], algorithm: AssertionAlgorithm = .ps256, transport: any HTTPTransport)
        throws
        -> EntraCredentialChain
    {
        var env = ["AZURE_TENANT_ID": AzurePeer.tenant, "AZURE_CLIENT_ID": AzurePeer.clientId, "AZURE_AUTHORITY_HOST": peer.endpoint]
        for (k, v) in variables { env[k] = v }
        return EntraCredentialChain(
            environment: env, endpoints: try AzureEndpoints(environment: env), transport: transport, algorithm: algorithm)
    }

    func tokenEntries(_ peer: AzurePeer, since count: Int) async throws -> [[String: Any]] {
        Array(try await peer.log().dropFirst(count)).filter {
            ($0["kind"] as? String) == "token" || ($0["kind"] as? String) == "managed-identity"
        }
    }

    @Test func clientSecretGetsATokenForTheARMScopeAndAWrongSecretIsOneLineWithTheAADSTSCode() async throws {
        let peer = try await VectorPeer.shared.value
        try await withTransport { transport in
            let before = try await peer.log().count
            let (provider, source) = try chain(peer, ["AZURE_CLIENT_SECRET": AzurePeer.clientSecret], transport: transport).resolve()
            #expect(source == .clientSecret(tenant: AzurePeer.tenant, clientId: AzurePeer.clientId))
            let token = try await provider.token(scope: AzureCloud.publicCloud.resourceManagerScope)
            #expect(token.token.value.hasPrefix("tok-"))
            // Cached: a second ask is no second request.
            _ = try await provider.token(scope: AzureCloud.publicCloud.resourceManagerScope)
            let entries = try await tokenEntries(peer, since: before)
            #expect(entries.count == 1)
            #expect(entries.first?["scope"] as? String == "https://management.azure.com/.default")
            #expect(entries.first?["ok"] as? Bool == true)

            let wrong = "not-the-secret-1234567890"
            let (bad, _) = try chain(peer, ["AZURE_CLIENT_SECRET": wrong], transport: transport).resolve()
            let error = await #expect(throws: EntraError.self) { try await bad.token(scope: AzureCloud.publicCloud.resourceManagerScope) }
            #expect(error?.code == "AADSTS7000215")
            #expect(error?.description.contains("AADSTS7000215: Invalid client secret provided") == true)
            #expect(error?.description.contains("\n") == false)
            #expect(error?.description.contains("Trace ID") == false)
            #expect(error?.description.contains(wrong) == false)
        }
    }

    @Test(arguments: [AssertionAlgorithm.ps256, .rs256])
    func certificateAssertionIsVerifiedByPyJWTWithTheThumbprintHeaderOfItsAlgorithm(_ algorithm: AssertionAlgorithm) async throws {
        let peer = try await VectorPeer.shared.value
        try await withTransport { transport in
            let before = try await peer.log().count
            let (provider, _) = try chain(
                peer, ["AZURE_CLIENT_CERTIFICATE_PATH": peer.certificatePath], algorithm: algorithm, transport: transport
            )
            .resolve()
            _ = try await provider.token(scope: AzureCloud.publicCloud.resourceManagerScope)
            let entry = try #require(try await tokenEntries(peer, since: before).first)
            #expect(entry["how"] as? String == "assertion-\(algorithm.rawValue)")
            #expect(entry["verified"] as? Bool == true)
            let header = entry["header"] as? [String] ?? []
            #expect(header.contains(algorithm == .ps256 ? "x5t#S256" : "x5t"))
            #expect(!header.contains(algorithm == .ps256 ? "x5t" : "x5t#S256"))
        }
    }

    @Test func anEncryptedKeyIsReadWithItsPasswordAndAWrongPasswordOrAStrangersKeyIsRefused() async throws {
        let peer = try await VectorPeer.shared.value
        try await withTransport { transport in
            let (provider, _) = try chain(
                peer,
                [
                    "AZURE_CLIENT_CERTIFICATE_PATH": peer.encryptedCertificatePath,
                    "AZURE_CLIENT_CERTIFICATE_PASSWORD": AzurePeer.certificatePassword,
                ],
                transport: transport
            ).resolve()
            _ = try await provider.token(scope: AzureCloud.publicCloud.resourceManagerScope)

            let wrong = #expect(throws: EntraError.self) {
                try chain(
                    peer,
                    [
                        "AZURE_CLIENT_CERTIFICATE_PATH": peer.encryptedCertificatePath,
                        "AZURE_CLIENT_CERTIFICATE_PASSWORD": "wrong-password",
                    ],
                    transport: transport
                ).resolve()
            }
            #expect(wrong?.description.contains("could not be decrypted") == true)
            let missing = #expect(throws: EntraError.self) {
                try chain(peer, ["AZURE_CLIENT_CERTIFICATE_PATH": peer.encryptedCertificatePath], transport: transport).resolve()
            }
            #expect(missing?.description.contains("AZURE_CLIENT_CERTIFICATE_PASSWORD") == true)

            // A key the app registration does not hold: the peer's PyJWT check refuses the assertion.
            let (stranger, _) = try chain(peer, ["AZURE_CLIENT_CERTIFICATE_PATH": peer.strangerCertificatePath], transport: transport)
                .resolve()
            let refused = await #expect(throws: EntraError.self) {
                try await stranger.token(scope: AzureCloud.publicCloud.resourceManagerScope)
            }
            #expect(refused?.code == "AADSTS700027")
        }
    }

    @Test func workloadIdentityRereadsTheFederatedTokenFileOnEveryRequest() async throws {
        let peer = try await VectorPeer.shared.value
        let file = try TestPaths.temporaryDirectory("wif").appendingPathComponent("token")
        try await withTransport { transport in
            let before = try await peer.log().count
            let (provider, source) = try chain(peer, ["AZURE_FEDERATED_TOKEN_FILE": file.path], transport: transport).resolve()
            guard case .workloadIdentity = source else {
                Issue.record("expected workload identity, got \(source)")
                return
            }
            try await peer.writeFederatedToken(to: file, subject: "repo:example/app:ref:refs/heads/main")
            _ = try await provider.token(scope: AzureCloud.publicCloud.resourceManagerScope)
            // The platform rotates the file; the next request (another scope) sends the new token.
            try await peer.writeFederatedToken(to: file, subject: "repo:example/app:environment:prod")
            _ = try await provider.token(scope: AzureCloud.publicCloud.graphScope)
            let subjects = try await tokenEntries(peer, since: before).compactMap { $0["subject"] as? String }
            #expect(subjects == ["repo:example/app:ref:refs/heads/main", "repo:example/app:environment:prod"])
        }
    }

    @Test func managedIdentityFromTheInstanceMetadataServiceAndFromAppService() async throws {
        let peer = try await VectorPeer.shared.value
        try await withTransport { transport in
            let before = try await peer.log().count
            let env = ["AZURE_POD_IDENTITY_AUTHORITY_HOST": peer.endpoint]
            let imds = EntraCredentialChain(environment: env, endpoints: try AzureEndpoints(environment: env), transport: transport)
            let (instance, source) = try imds.resolve()
            #expect(source == .instanceManagedIdentity(clientId: nil))
            let token = try await instance.token(scope: AzureCloud.publicCloud.resourceManagerScope)
            #expect(token.expiration.map { $0 > Date().addingTimeInterval(600) } == true)

            let appEnv = ["IDENTITY_ENDPOINT": "\(peer.endpoint)/msi/token", "IDENTITY_HEADER": AzurePeer.identityHeader]
            let app = EntraCredentialChain(environment: appEnv, endpoints: try AzureEndpoints(environment: appEnv), transport: transport)
            let (appService, appSource) = try app.resolve()
            #expect(appSource == .appServiceManagedIdentity(endpoint: "\(peer.endpoint)/msi/token"))
            _ = try await appService.token(scope: AzureCloud.publicCloud.resourceManagerScope)
            let hows = try await tokenEntries(peer, since: before).filter { ($0["kind"] as? String) == "managed-identity" }
                .compactMap { $0["how"] as? String }
            #expect(hows == ["imds", "app-service"])
        }
    }

    @Test func endpointsAcceptHTTPOnlyOnLoopbackAndSovereignCloudsSwitchHostsAndScopes() throws {
        #expect(throws: AzureEndpoints.ConfigurationError.self) {
            try AzureEndpoints(environment: ["ATTEST_AZURE_ARM_ENDPOINT": "http://management.example.com"])
        }
        #expect(throws: AzureEndpoints.ConfigurationError.self) { try AzureEndpoints(environment: ["AZURE_AUTHORITY_HOST": "not a url"]) }
        let local = try AzureEndpoints(environment: ["ATTEST_AZURE_ARM_ENDPOINT": "http://127.0.0.1:8080/"])
        #expect(local.resourceManager == "http://127.0.0.1:8080")
        let gov = try AzureEndpoints(cloud: .usGovernment, environment: [:])
        #expect(gov.tokenURL(tenant: "t") == "https://login.microsoftonline.us/t/oauth2/v2.0/token")
        #expect(gov.resourceManager == "https://management.usgovcloudapi.net")
        #expect(AzureCloud.usGovernment.resourceManagerScope == "https://management.usgovcloudapi.net/.default")
        #expect(AzureCloud.china.graphScope == "https://microsoftgraph.chinacloudapi.cn/.default")
        #expect(throws: EntraError.self) {
            try EntraCredentialChain(
                environment: ["AZURE_CLIENT_SECRET": "x", "AZURE_TENANT_ID": "../evil"], endpoints: try AzureEndpoints(environment: [:]),
                transport: FailingTransport()
            ).source()
        }
    }
}

struct FailingTransport: HTTPTransport {
    func send(_ request: HTTPRequest) async throws -> HTTPResponse { throw TransportError(.refused, host: "none", detail: "") }
}

@Suite("attest scan azure against the loopback ARM serving the official examples", .serialized)
struct AzureScanTests {
    func scan(_ peer: AzurePeer, _ args: [String], env extra: [String: String] = [:]) async throws -> ProcessResult {
        var env = peer.environment
        env["HOME"] = "/nonexistent"
        for (k, v) in extra { env[k] = v }
        return try await runAttestOnPath(["scan", "azure"] + args, environment: env)
    }

    @Test func aScanPagesRetriesThrottlingRefreshesAnExpiredTokenAndReportsAForbiddenSubscriptionAsErrors() async throws {
        let peer = try await VectorPeer.shared.value
        let storage = "/subscriptions/291bba3f-e0a5-47bc-a099-3bdcb2a50a05/providers/microsoft.storage/storageaccounts"
        try await peer.configure([
            "forbidden_subscriptions": ["72ac930a-f34e-42d8-b06d-dc2a9e12ed71"], "throttle_once": [storage], "expire_after_calls": 25,
        ])
        defer { Task { try? await peer.configure(["forbidden_subscriptions": [], "throttle_once": [], "expire_after_calls": 0]) } }
        let before = try await peer.log().count
        let out = try TestPaths.temporaryDirectory("azure-scan").appendingPathComponent("report.json")
        // ARM lists only: the throttled list must be an ARM list (Resource Graph has its own suite).
        let result = try await scan(
            peer,
            ["--listing", "arm", "--format", "json", "--output", out.path, "--quiet", "--no-evidence", "--no-history", "--no-controls"])
        #expect(result.status == 3, "stderr: \(result.stderr)")
        let report = try JSONValue.parse(Data(contentsOf: out))
        let resources = report["resources"].asList
        let types = Set(resources.compactMap { $0["type"].stringValue })
        for type in [
            "azure.resources.subscription", "azure.storage.account", "azure.network.nsg", "azure.keyvault.vault", "azure.sql.server",
            "azure.web.site", "azure.security.pricing", "azure.compute.disk", "azure.containerservice.managed-cluster",
        ] {
            #expect(types.contains(type), "\(type) missing from \(types.sorted())")
        }
        // Ids are lower-cased ARM ids; every resource of the readable subscription, none of the forbidden one's.
        #expect(resources.allSatisfy { ($0["id"].stringValue ?? "") == ($0["id"].stringValue ?? "").lowercased() })
        // The forbidden subscription has only its one-per-subscription nodes (their reads are errors).
        let singletons: Set<String> = [
            "azure.resources.subscription", "azure.monitor.activity-log-settings", "azure.security.contact-settings",
        ]
        #expect(
            resources.filter { $0["account"].stringValue == "72ac930a-f34e-42d8-b06d-dc2a9e12ed71" }.allSatisfy {
                singletons.contains($0["type"].stringValue ?? "")
            })
        let accounts = resources.filter { $0["type"].stringValue == "azure.storage.account" }
        #expect(accounts.count == items("Microsoft.Storage/2025-08-01/StorageAccountList.json"))

        let errors = report["errors"].asList
        #expect(!errors.isEmpty)
        #expect(
            errors.allSatisfy {
                $0["account"].stringValue == "72ac930a-f34e-42d8-b06d-dc2a9e12ed71" && $0["code"].stringValue == "AuthorizationFailed"
            })

        let log = Array(try await peer.log().dropFirst(before))
        let arm = log.filter { ($0["kind"] as? String) == "arm" }
        #expect(arm.allSatisfy { ($0["api_version"] as? String)?.isEmpty == false }, "a call without api-version")
        #expect(arm.contains { ($0["page"] as? Int ?? 0) >= 1 }, "no list went past its first page")
        #expect(arm.contains { $0["throttled"] as? Bool == true })
        #expect(arm.filter { $0["path"] as? String == storage }.count >= 2, "the throttled list was not retried")
        #expect(arm.contains { $0["expired"] as? Bool == true })
        let tokens = log.filter { ($0["kind"] as? String) == "token" && $0["ok"] as? Bool == true }
        #expect(tokens.count >= 2, "an expired token was not replaced")
        #expect(!(result.stdout + result.stderr).contains(AzurePeer.clientSecret))
    }

    func items(_ vector: String) -> Int {
        let url = TestPaths.shared.appendingPathComponent("vectors/azure/\(vector)")
        return (try? JSONValue.parse(Data(contentsOf: url)))?["responses"]["200"]["body"]["value"].asList.count ?? -1
    }

    @Test func aWrongSecretIsExitTwoWithTheAADSTSLineAndNoSecret() async throws {
        let peer = try await VectorPeer.shared.value
        let result = try await scan(peer, ["--no-evidence", "--no-history"], env: ["AZURE_CLIENT_SECRET": "wrong-secret-value-123456"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("AADSTS7000215"), "\(result.stderr)")
        #expect(!result.stderr.contains("wrong-secret-value-123456"))
        #expect(result.stderr.split(separator: "\n").count <= 2)
    }

    @Test func unknownSubscriptionsAreErrorResultsAndABadCloudOrIdIsRefusedBeforeAnyCall() async throws {
        let peer = try await VectorPeer.shared.value
        let result = try await scan(
            peer,
            [
                "--subscriptions", "291bba3f-e0a5-47bc-a099-3bdcb2a50a05,00000000-1111-2222-3333-444444444444", "--format", "json",
                "--quiet",
                "--no-evidence", "--no-history", "--services", "security", "--no-controls",
            ])
        #expect(result.status == 3, "\(result.stderr)")
        let report = try JSONValue.parse(result.stdout)
        let errors = report["errors"].asList
        #expect(
            errors.contains {
                $0["code"].stringValue == "SubscriptionNotFound" && $0["account"].stringValue == "00000000-1111-2222-3333-444444444444"
            })
        let bad = try await scan(peer, ["--cloud", "Mars"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("Mars"))
        let notGuid = try await scan(peer, ["--subscriptions", "prod"])
        #expect(notGuid.status == 2)
        #expect(notGuid.stderr.contains("not a subscription id"))
    }

    @Test func theOfficialSubscriptionsAnswerWithItsForeignNextLinkIsRefusedNotFollowed() async throws {
        let peer = try await VectorPeer.shared.value
        let vector = TestPaths.shared.appendingPathComponent("vectors/azure/Microsoft.Resources/2022-12-01/GetSubscriptions.json").path
        try await peer.configure(["raw_answers": ["/subscriptions": vector]])
        defer { Task { try? await peer.configure(["raw_answers": [String: String]()]) } }
        let result = try await scan(peer, ["--no-evidence", "--no-history", "--no-controls"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("points to http://nextlink"), "\(result.stderr)")
    }

    @Test func permissionsListEveryActionTheSpecsCall() async throws {
        let result = try await runAttestOnPath(["permissions", "azure"], environment: ["HOME": "/nonexistent"])
        #expect(result.status == 0)
        let role = try JSONValue.parse(result.stdout)
        let actions = role["Actions"].asList.compactMap(\.stringValue)
        #expect(actions.contains("Microsoft.Storage/storageAccounts/read"))
        #expect(actions.contains("Microsoft.Security/pricings/read"))
        #expect(actions.allSatisfy { $0.hasSuffix("/read") })
        #expect(role["AssignableScopes"].asList.first?.stringValue == "/subscriptions/{subscriptionId}")
        // The vault data plane's reads are data actions, not actions.
        #expect(
            role["DataActions"].asList.compactMap(\.stringValue) == [
                "Microsoft.KeyVault/vaults/keys/read", "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
            ])
        #expect(!actions.contains { $0.contains("data:") || $0.hasPrefix("Microsoft.KeyVault/vaults/keys") })
        // Microsoft Graph application permissions, for the Entra ID reads.
        let graph = Set(role["x-attest-graph-application-permissions"].asList.compactMap(\.stringValue))
        #expect(graph == ["Policy.Read.All", "User.Read.All", "AuditLog.Read.All", "RoleManagement.Read.Directory"])
        let entraOnly = try JSONValue.parse(
            try await runAttestOnPath(["permissions", "azure", "--services", "storage"], environment: ["HOME": "/nonexistent"]).stdout)
        #expect(entraOnly["x-attest-graph-application-permissions"].isNull)
    }

    @Test func theTenantIsReadThroughGraphWithItsOwnTokenAndRoleAssignmentsPointAtItsUsers() async throws {
        let peer = try await VectorPeer.shared.value
        let before = try await peer.log().count
        let out = try TestPaths.temporaryDirectory("azure-entra").appendingPathComponent("report.json")
        let result = try await scan(
            peer,
            [
                "--services", "entra,authorization", "--format", "json", "--output", out.path, "--quiet", "--no-evidence", "--no-history",
                "--no-controls",
            ])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try JSONValue.parse(Data(contentsOf: out))
        let tenant = "/tenants/\(AzurePeer.tenant)"
        let byId = Dictionary(report["resources"].asList.map { ($0["id"].stringValue ?? "", $0) }) { a, _ in a }
        #expect(byId[tenant]?["attributes"]["security_defaults_enabled"] == .bool(false))
        #expect(byId[tenant]?["attributes"]["default_user_role_permissions"]["allowed_to_create_apps"] == .bool(true))
        #expect(byId[tenant]?["account"].stringValue == AzurePeer.tenant)
        let users = report["resources"].asList.filter { $0["type"].stringValue == "azure.entra.user" }
        #expect(users.count == 3, "the users list pages with @odata.nextLink (page size 2)")
        #expect(users.contains { $0["attributes"]["user_type"].stringValue == "Guest" })
        let admin = byId["\(tenant)/userregistrationdetails/87d349ed-44d7-43e1-9a83-5f2406dee5bd"]
        #expect(admin?["attributes"]["is_admin"] == .bool(true) && admin?["attributes"]["is_mfa_registered"] == .bool(true))
        let role = report["resources"].asList.first { $0["type"].stringValue == "azure.entra.directory-role" }
        #expect(role?["attributes"]["member_ids"].asList.compactMap(\.stringValue) == ["87d349ed-44d7-43e1-9a83-5f2406dee5bd"])
        // The official role-assignment example's principal becomes an edge to the tenant's directory object.
        let edges = report["edges"].asList.filter { $0["kind"].stringValue == "assigned-to" }
        // (In the subscription's own tenant: the official subscriptions name tenants of their own.)
        #expect(
            !edges.isEmpty
                && edges.allSatisfy {
                    let to = $0["to"].stringValue ?? ""
                    return to.hasPrefix("/tenants/") && to.contains("/directoryobjects/")
                })
        let log = Array(try await peer.log().dropFirst(before))
        let graph = log.filter { ($0["kind"] as? String) == "graph" }
        #expect(graph.count >= 7 && graph.allSatisfy { $0["status"] as? Int == 200 }, "\(graph)")
        #expect(graph.contains { ($0["page"] as? Int ?? 0) >= 1 })
        let scopes = Set(log.filter { ($0["kind"] as? String) == "token" }.compactMap { $0["scope"] as? String })
        #expect(scopes.isSuperset(of: ["https://graph.microsoft.com/.default", "https://management.azure.com/.default"]))
    }

    @Test func managementGroupsAreCollectedAndTheirAssignmentsCountOnlyForTheSubscriptionsBelowThem() async throws {
        let peer = try await VectorPeer.shared.value
        let result = try await scan(
            peer, ["--services", "management,resources,authorization", "--format", "json", "--quiet", "--no-evidence", "--no-history"])
        #expect(result.status == 1, "\(result.stderr)")
        let report = try JSONValue.parse(result.stdout)
        #expect(report["errors"].asList.isEmpty, "\(report["errors"].serialized())")
        let platform = "/providers/microsoft.management/managementgroups/platform"
        let root = "/providers/microsoft.management/managementgroups/\(AzurePeer.tenant)"
        let groups = report["resources"].asList.filter { $0["type"].stringValue == "azure.management.group" }
        #expect(Set(groups.compactMap { $0["id"].stringValue }) == [platform, root])
        #expect(groups.allSatisfy { $0["account"].stringValue == AzurePeer.tenant })
        let edges = report["edges"].asList.map {
            "\($0["from"].stringValue ?? "") \($0["kind"].stringValue ?? "") \($0["to"].stringValue ?? "")"
        }
        #expect(edges.contains("\(platform) in-management-group \(root)"))
        #expect(edges.contains("\(platform) contains /subscriptions/291bba3f-e0a5-47bc-a099-3bdcb2a50a05"))
        // The initiative assigned at the platform group: one resource, the tenant's, assigned at the group.
        let assignments = report["resources"].asList.filter { $0["type"].stringValue == "azure.authorization.policy-assignment" }
        #expect(assignments.count == 1 && assignments.first?["account"].stringValue == AzurePeer.tenant)
        #expect(edges.contains { $0.hasSuffix("assigned-at \(platform)") })
        // It applies to the subscription below the group, not to the other one.
        var mcsb: [String: String] = [:]
        for r in report["results"].asList where r["control"].stringValue == "azure-resources-mcsb-policy-enforced" {
            mcsb[r["resource"].stringValue ?? ""] = r["status"].stringValue
        }
        #expect(
            mcsb == [
                "/subscriptions/291bba3f-e0a5-47bc-a099-3bdcb2a50a05": "pass",
                "/subscriptions/72ac930a-f34e-42d8-b06d-dc2a9e12ed71": "fail",
            ])
    }

    @Test func keysAndSecretsComeFromTheVaultDataPlaneAndARefusedVaultIsAnErrorForItsKeysOnly() async throws {
        let peer = try await VectorPeer.shared.value
        try await peer.configure(["forbidden_paths": ["/sample-vault.vault.azure.net/secrets"]])
        defer { Task { try? await peer.configure(["forbidden_paths": [String]()]) } }
        let before = try await peer.log().count
        let result = try await scan(peer, ["--services", "keyvault", "--format", "json", "--quiet", "--no-evidence", "--no-history"])
        #expect(result.status == 1, "findings (exit 1) win over an incomplete scan: \(result.stderr)")
        let report = try JSONValue.parse(result.stdout)
        #expect(report["scan"]["complete"] == false)
        let errors = report["errors"].asList
        #expect(!errors.isEmpty)
        #expect(
            errors.allSatisfy {
                $0["resource_type"].stringValue == "azure.keyvault.secret" && $0["code"].stringValue == "Forbidden"
                    && !($0["message"].stringValue ?? "").contains("\n")
            }, "\(errors)")
        // The vaults themselves, and the keys, are still judged.
        #expect(
            report["results"].asList.contains {
                $0["control"].stringValue == "azure-keyvault-vault-recoverable" && $0["status"].stringValue != "error"
            })
        let log = Array(try await peer.log().dropFirst(before))
        let vault = log.filter { ($0["kind"] as? String) == "vault" }
        #expect(vault.contains { ($0["path"] as? String) == "/sample-vault.vault.azure.net/keys" && $0["status"] as? Int == 200 })
        #expect(vault.allSatisfy { ($0["api_version"] as? String) == "7.4" })
        let scopes = Set(log.filter { ($0["kind"] as? String) == "token" }.compactMap { $0["scope"] as? String })
        #expect(scopes.contains("https://vault.azure.net/.default"))
        #expect(!(result.stdout + result.stderr).contains(AzurePeer.clientSecret))
    }

    @Test func aVaultURIOutsideTheCloudsVaultDomainIsNeverCalled() async throws {
        let endpoints = try AzureEndpoints(environment: [:])
        #expect(
            try endpoints.keyVaultURL("https://kv-1.vault.azure.net/keys?api-version=7.4")
                == "https://kv-1.vault.azure.net/keys?api-version=7.4")
        for hostile in [
            "http://kv.vault.azure.net/keys", "https://kv.vault.azure.net.evil.test/keys", "https://evil.test/kv.vault.azure.net/keys",
            "https://user@kv.vault.azure.net/keys", "https://kv.vault.azure.net:8443/keys", "https://.vault.azure.net/keys",
            "kv.vault.azure.net/keys",
        ] {
            #expect(throws: AzureEndpoints.ConfigurationError.self, "\(hostile)") { try endpoints.keyVaultURL(hostile) }
        }
        let china = try AzureEndpoints(cloud: .china, environment: [:])
        #expect(throws: AzureEndpoints.ConfigurationError.self) { try china.keyVaultURL("https://kv.vault.azure.net/keys") }
        let routed = try AzureEndpoints(environment: ["ATTEST_AZURE_KEYVAULT_ENDPOINT": "http://127.0.0.1:9"])
        #expect(
            try routed.keyVaultURL("https://KV-1.vault.azure.net/keys?api-version=7.4&$skiptoken=2")
                == "http://127.0.0.1:9/kv-1.vault.azure.net/keys?api-version=7.4&$skiptoken=2")
        #expect(throws: AzureEndpoints.ConfigurationError.self) {
            try AzureEndpoints(environment: ["ATTEST_AZURE_KEYVAULT_ENDPOINT": "http://vault.example.com"])
        }
        // A vault list answering a hostile vault URI: its keys and secrets are errors, and the host is never asked.
        let peer = try await VectorPeer.shared.value
        let vectors = try JSONValue.parse(
            Data(
                contentsOf: TestPaths.shared.appendingPathComponent(
                    "vectors/azure/Microsoft.KeyVault/2026-02-01/listVaultBySubscription.json")))
        var vaults = vectors["responses"]["200"]["body"]["value"].asList
        guard case .object(var vault) = vaults.first, case .object(var properties) = vault["properties"] else {
            Issue.record("the official vault list has no vault")
            return
        }
        properties["vaultUri"] = "https://collector.evil.test/"
        vault["properties"] = .object(properties)
        vaults[0] = .object(vault)
        let list = "/subscriptions/291bba3f-e0a5-47bc-a099-3bdcb2a50a05/providers/microsoft.keyvault/vaults"
        let routes: [String: Any] = [
            list: ["items": try JSONSerialization.jsonObject(with: Data(JSONValue.array(vaults).serialized().utf8))]
        ]
        try await peer.configure(["routes": routes])
        defer { Task { try? await peer.configure(["routes": [String: Any]()]) } }
        let result = try await scan(
            peer,
            [
                "--subscriptions", "291bba3f-e0a5-47bc-a099-3bdcb2a50a05", "--services", "keyvault", "--format", "json", "--quiet",
                "--no-evidence", "--no-history", "--no-controls",
            ])
        #expect(result.status == 3, "\(result.stderr)")
        let errors = try JSONValue.parse(result.stdout)["errors"].asList
        #expect(
            errors.count == 2 && errors.allSatisfy { ($0["message"].stringValue ?? "").contains("not a vault of AzureCloud") }, "\(errors)")
    }

    @Test func subnetsAreNodesInTheirVNetSoNICsAndNSGsMeetThem() async throws {
        let peer = try await VectorPeer.shared.value
        let result = try await scan(
            peer, ["--services", "network", "--format", "json", "--quiet", "--no-evidence", "--no-history", "--no-controls"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try JSONValue.parse(result.stdout)
        let vnets = report["resources"].asList.filter { $0["type"].stringValue == "azure.network.vnet" }
        let subnets = Set(
            report["resources"].asList.filter { $0["type"].stringValue == "azure.network.subnet" }.compactMap { $0["id"].stringValue })
        // Every subnet a VNet lists is a node, with an edge back to its VNet.
        let listed = Set(vnets.flatMap { $0["attributes"]["subnets"].asList.compactMap { $0["id"].stringValue } })
        #expect(!listed.isEmpty && subnets == listed)
        let inVNet = report["edges"].asList.filter { $0["kind"].stringValue == "in-vnet" }
        #expect(Set(inVNet.compactMap { $0["from"].stringValue }) == subnets)
        let vnetIds = Set(vnets.compactMap { $0["id"].stringValue })
        #expect(inVNet.allSatisfy { vnetIds.contains($0["to"].stringValue ?? "") })
    }

    @Test func aTenantWithoutTheRegistrationReportHasErrorsForRegistrationsOnly() async throws {
        let peer = try await VectorPeer.shared.value
        try await peer.configure([
            "forbidden_paths": ["/v1.0/reports/"], "graph_forbidden_code": "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
        ])
        defer {
            Task { try? await peer.configure(["forbidden_paths": [String](), "graph_forbidden_code": "Authorization_RequestDenied"]) }
        }
        let result = try await scan(peer, ["--services", "entra", "--format", "json", "--quiet", "--no-evidence", "--no-history"])
        #expect(result.status != 2, "\(result.stderr)")
        let report = try JSONValue.parse(result.stdout)
        let errors = report["errors"].asList
        #expect(errors.count == 1)
        #expect(errors.first?["code"].stringValue == "Authentication_RequestFromNonPremiumTenantOrB2CTenant")
        #expect(errors.first?["resource_type"].stringValue == "azure.entra.user-registration")
        let results = report["results"].asList
        #expect(results.contains { $0["status"].stringValue == "error" })
        // Only controls on registrations are errors; the users and the tenant are still judged.
        let resources = Dictionary(report["resources"].asList.map { ($0["id"].stringValue ?? "", $0["type"].stringValue ?? "") }) { a, _ in
            a
        }
        for r in results where r["status"].stringValue == "error" {
            #expect(resources[r["resource"].stringValue ?? ""] == nil, "\(r["control"]) errs on a collected resource")
        }
        #expect(
            results.contains { resources[$0["resource"].stringValue ?? ""] == "azure.entra.user" && $0["status"].stringValue != "error" })
    }
}

/// Listing through Azure Resource Graph: one query for the marked lists of every subscription,
/// used only where the caller's permissions allow the list's read, ARM lists otherwise.
@Suite("Azure Resource Graph listing", .serialized)
struct ResourceGraphListingTests {
    func scan(_ peer: AzurePeer, _ args: [String]) async throws -> (ProcessResult, JSONValue, [[String: Any]]) {
        var env = peer.environment
        env["HOME"] = "/nonexistent"
        let before = try await peer.log().count
        let out = try TestPaths.temporaryDirectory("azure-rg").appendingPathComponent("report.json")
        let result = try await runAttestOnPath(
            ["scan", "azure", "--format", "json", "--output", out.path, "--quiet", "--no-evidence", "--no-history"] + args,
            environment: env)
        let report = (try? JSONValue.parse(Data(contentsOf: out))) ?? .null
        return (result, report, Array(try await peer.log().dropFirst(before)))
    }

    static let markedPaths = ["/providers/microsoft.storage/storageaccounts", "/providers/microsoft.network/networksecuritygroups"]

    func outcome(_ report: JSONValue) -> (resources: [String: JSONValue], results: [String: String]) {
        var resources: [String: JSONValue] = [:]
        for r in report["resources"].asList { resources[r["id"].stringValue ?? ""] = r }
        var results: [String: String] = [:]
        for r in report["results"].asList {
            results["\(r["control"].stringValue ?? "") \(r["resource"].stringValue ?? "")"] = r["status"].stringValue
        }
        return (resources, results)
    }

    @Test func oneQueryServesTheMarkedListsOverSeveralPagesAndTheScanIsTheSameAsWithARMLists() async throws {
        let peer = try await VectorPeer.forListing.value
        try await peer.configure(["rg_page_size": 4])
        defer { Task { try? await peer.configure(["rg_page_size": 1000]) } }
        let (graphRun, graphReport, graphLog) = try await scan(peer, [])
        let (armRun, armReport, armLog) = try await scan(peer, ["--listing", "arm"])
        #expect(graphRun.status == armRun.status, "\(graphRun.stderr)")
        let (a, b) = (outcome(graphReport), outcome(armReport))
        #expect(a.resources.count == b.resources.count && a.resources.count > 40)
        for (id, resource) in b.resources { #expect(a.resources[id] == resource, "\(id) differs") }
        #expect(a.results == b.results)
        let queries = graphLog.filter { ($0["kind"] as? String) == "resource-graph" }
        #expect(queries.count >= 2, "the query did not page")
        #expect(Set(queries.compactMap { $0["page"] as? Int }).count == queries.count)
        let listed = graphLog.filter { e in Self.markedPaths.contains { ((e["path"] as? String) ?? "").hasSuffix($0) } }
        #expect(listed.isEmpty, "marked lists still went to ARM: \(listed)")
        #expect(graphLog.count < armLog.count, "\(graphLog.count) calls against \(armLog.count)")
        #expect(graphReport["scan"]["stats"]["calls"].intValue.map { $0 < armReport["scan"]["stats"]["calls"].intValue ?? 0 } == true)
    }

    @Test func aListTheCallersPermissionsDoNotAllowIsAnARMListAndItsRefusalAnErrorResult() async throws {
        let peer = try await VectorPeer.forListing.value
        let sub = "291bba3f-e0a5-47bc-a099-3bdcb2a50a05"
        // Reader without storage reads: Resource Graph would leave the accounts out silently.
        try await peer.configure([
            "permissions": [sub: [["actions": ["*/read"], "notActions": ["Microsoft.Storage/storageAccounts/read"]]]],
            "forbidden_paths": ["/subscriptions/\(sub)/providers/microsoft.storage/storageaccounts"],
        ])
        defer { Task { try? await peer.configure(["permissions": [String: Any](), "forbidden_paths": [String]()]) } }
        let (result, report, log) = try await scan(peer, ["--services", "storage,network", "--no-controls"])
        #expect(result.status == 3, "\(result.stderr)")
        let errors = report["errors"].asList
        #expect(errors.contains { $0["account"].stringValue == sub && $0["resource_type"].stringValue == "azure.storage.account" })
        #expect(errors.allSatisfy { $0["account"].stringValue == sub })
        #expect(log.contains { ($0["path"] as? String) == "/subscriptions/\(sub)/providers/microsoft.storage/storageaccounts" })
        // The other subscription's lists, and this one's NSGs, still come from the query.
        #expect(!log.contains { (($0["path"] as? String) ?? "").hasSuffix("/providers/microsoft.network/networksecuritygroups") })
        #expect(
            report["resources"].asList.contains { $0["type"].stringValue == "azure.storage.account" && $0["account"].stringValue != sub })
    }

    @Test func aQueryThatFailsOrRepeatsItsSkipTokenLeavesEveryListToARM() async throws {
        let peer = try await VectorPeer.forListing.value
        let (_, armReport, _) = try await scan(peer, ["--listing", "arm", "--services", "storage,network,compute", "--no-controls"])
        // Refused, then answered with the official next-page example, whose $skipToken never changes.
        let vector = TestPaths.shared.appendingPathComponent("vectors/azure/Microsoft.ResourceGraph/2024-04-01/ResourcesNextPageQuery.json")
        for config: [String: Any] in [
            ["forbidden_paths": ["/providers/microsoft.resourcegraph"]],
            ["raw_answers": ["/providers/microsoft.resourcegraph/resources": vector.path]],
        ] {
            try await peer.configure(config)
            let (result, report, log) = try await scan(peer, ["--services", "storage,network,compute", "--no-controls"])
            try await peer.configure(["forbidden_paths": [String](), "raw_answers": [String: String]()])
            #expect(result.status == 0, "\(config): \(result.stderr)")
            #expect(outcome(report).resources == outcome(armReport).resources)
            #expect(log.contains { (($0["path"] as? String) ?? "").hasSuffix("/providers/microsoft.storage/storageaccounts") })
        }
    }

    @Test func theOfficialQueryAnswersAreReadAndThePageTokenGoesBackInTheOptions() async throws {
        let next = try JSONValue.parse(
            Data(
                contentsOf: TestPaths.shared.appendingPathComponent(
                    "vectors/azure/Microsoft.ResourceGraph/2024-04-01/ResourcesNextPageQuery.json")))
        let basic = try JSONValue.parse(
            Data(
                contentsOf: TestPaths.shared.appendingPathComponent(
                    "vectors/azure/Microsoft.ResourceGraph/2024-04-01/ResourcesBasicQuery.json")
            ))
        let transport = ScriptedTransport(answers: [
            "permissions": #"{"value":[{"actions":["*/read"],"notActions":[]}]}"#,
            "first": next["responses"]["200"]["body"].serialized(), "second": basic["responses"]["200"]["body"].serialized(),
        ])
        let spec = try SpecLoader.loadProvider(
            directory: TestPaths.repository.appendingPathComponent("providers/azure"), provider: "azure",
            transforms: try TransformRegistry.generic.adding(AzureProvider().transforms))
        let service = try #require(spec.service("resources"))
        let client = ARMClient(baseURL: "https://management.azure.com", scope: "s", tokens: StaticTokens(), transport: transport)
        let listing = ResourceGraphListing(
            caller: AzureServiceCaller(clients: ["arm": client]), service: service,
            query: try #require(service.operations["QueryResources"]), permissions: try #require(service.operations["ListPermissions"]),
            logger: Logger(label: "test"))
        let sub = "cfbbd179-59d2-4052-aa06-9270a38aa9d6"
        await listing.prepare(subscriptions: [sub], types: ["microsoft.network/networkinterfaces", "microsoft.compute/disks"])
        let nics = await listing.rows(
            type: "microsoft.network/networkinterfaces", subscription: sub, readAction: "Microsoft.Network/networkInterfaces/read")
        #expect(nics?.compactMap { $0["name"].stringValue } == ["myNetworkInterface"])
        let disks = await listing.rows(type: "Microsoft.Compute/disks", subscription: sub, readAction: "Microsoft.Compute/disks/read")
        #expect(disks?.count == 1)
        let requests = transport.requests()
        let queries = requests.filter { $0.method == "POST" }
        #expect(queries.count == 2)
        let second = try JSONValue.parse(Data(queries[1].body))
        #expect(second["options"]["$skipToken"] == next["responses"]["200"]["body"]["$skipToken"])
        #expect(second["subscriptions"] == [.string(sub)])
        #expect(second["query"].stringValue?.hasPrefix("Resources | where type in~ (") == true)
        #expect(queries.allSatisfy { $0.url.contains("api-version=2024-04-01") })
        #expect(requests.contains { $0.url.contains("/subscriptions/\(sub)/providers/Microsoft.Authorization/permissions") })
    }

    @Test func azureActionPatternsMatchAsRBACDoes() {
        let reader: [JSONValue] = [["actions": ["*/read"], "notActions": []]]
        #expect(ResourceGraphListing.allows("Microsoft.Storage/storageAccounts/read", reader))
        #expect(!ResourceGraphListing.allows("Microsoft.Storage/storageAccounts/listKeys/action", reader))
        let storage: [JSONValue] = [["actions": ["Microsoft.Storage/*"], "notActions": ["microsoft.storage/storageaccounts/READ"]]]
        #expect(!ResourceGraphListing.allows("Microsoft.Storage/storageAccounts/read", storage))
        #expect(ResourceGraphListing.allows("Microsoft.Storage/storageAccounts/blobServices/read", storage))
        let two: [JSONValue] = storage + [["actions": ["*"], "notActions": []]]
        #expect(ResourceGraphListing.allows("Microsoft.Storage/storageAccounts/read", two), "another role grants it")
        #expect(!ResourceGraphListing.allows("Microsoft.Compute/disks/read", storage))
    }
}

/// Answers ARM calls from a script: permissions, then the first and second query pages.
final class ScriptedTransport: HTTPTransport, @unchecked Sendable {
    let answers: [String: String]
    private let lock = NSLock()
    private var seen: [HTTPRequest] = []

    init(answers: [String: String]) { self.answers = answers }

    func requests() -> [HTTPRequest] { lock.withLock { seen } }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let queries = lock.withLock { () -> Int in
            seen.append(request)
            return seen.filter { $0.method == "POST" }.count
        }
        let key = request.method == "POST" ? (queries == 1 ? "first" : "second") : "permissions"
        return HTTPResponse(status: 200, headers: [("Content-Type", "application/json")], body: Array((answers[key] ?? "{}").utf8))
    }
}

@Suite("The ARM client and its read budget")
struct ARMClientTests {
    @Test func aPagingLinkToAnotherHostIsNotFollowed() throws {
        let client = ARMClient(
            baseURL: "https://management.azure.com", scope: "s", tokens: StaticTokens(), transport: FailingTransport())
        #expect(throws: ARMResponseError.self) {
            try client.url(for: ARMRequest(pathOrURL: "http://nextlink", apiVersion: nil, operation: "List", service: "x"))
        }
        #expect(throws: ARMResponseError.self) {
            try client.url(
                for: ARMRequest(pathOrURL: "https://management.azure.com.evil.test/x", apiVersion: nil, operation: "List", service: "x"))
        }
        let same = try client.url(
            for: ARMRequest(
                pathOrURL: "https://MANAGEMENT.azure.com:443/subscriptions/a?api-version=1&%24skiptoken=2", apiVersion: nil,
                operation: "List", service: "x"))
        #expect(same == "https://MANAGEMENT.azure.com:443/subscriptions/a?api-version=1&%24skiptoken=2")
        let built = try client.url(
            for: ARMRequest(
                pathOrURL: "/subscriptions/{id}/x y", query: [("$filter", "type eq 'CustomRole'")], apiVersion: "2022-04-01",
                operation: "L", service: "x"))
        #expect(
            built
                == "https://management.azure.com/subscriptions/%7Bid%7D/x%20y?api-version=2022-04-01&%24filter=type%20eq%20%27CustomRole%27"
        )
    }

    @Test func armErrorsAreTypedAndThrottlingAndExpiredTokensAreRetried() {
        let body = Array(#"{"error":{"code":"AuthorizationFailed","message":"no access\nsecond line"}}"#.utf8)
        guard case .failure(let e as ARMServiceError, .done) = ARMClient.interpret(HTTPResponse(status: 403, body: body)) else {
            Issue.record("403 should be final")
            return
        }
        #expect(e.code == "AuthorizationFailed")
        #expect(!e.message.contains("\n"))
        guard
            case .failure(_, .retry(true, let after)) = ARMClient.interpret(
                HTTPResponse(status: 429, headers: [("Retry-After", "7")], body: []))
        else {
            Issue.record("429 should be retried")
            return
        }
        #expect(after == .seconds(7))
        let expired = Array(#"{"error":{"code":"ExpiredAuthenticationToken","message":"expired"}}"#.utf8)
        guard case .failure(_, .retry(false, _)) = ARMClient.interpret(HTTPResponse(status: 401, body: expired)) else {
            Issue.record("an expired token should be retried with a new one")
            return
        }
        guard case .failure(_, .done) = ARMClient.interpret(HTTPResponse(status: 200, body: Array("<html>".utf8))) else {
            Issue.record("a body that is not JSON is an error")
            return
        }
    }

    @Test func theReadBudgetNarrowsWhenARMSaysReadsRunLowAndWidensWhenTheyRecover() {
        let budget = ReadBudget()
        #expect(budget.width(subscription: "s") == ReadBudget.normalWidth)
        budget.observe(remaining: 80, subscription: "s")
        #expect(budget.width(subscription: "s") == 4)
        budget.observe(remaining: 10, subscription: "s")
        #expect(budget.width(subscription: "s") == 1)
        budget.observe(remaining: 150, subscription: "s")
        #expect(budget.width(subscription: "s") == 1)
        budget.observe(remaining: 240, subscription: "s")
        #expect(budget.width(subscription: "s") == ReadBudget.normalWidth)
        #expect(budget.width(subscription: "other") == ReadBudget.normalWidth)
    }
}

struct StaticTokens: BearerTokenProvider {
    func token(scope: String) async throws -> BearerToken { BearerToken(token: "static-token-for-tests", expiration: nil, source: "test") }
}

/// The seeded estate (`fixtures/azure/seeded.py`): every control fails exactly on the resources
/// `fixtures/azure/seeded-expectations.json` names for it and passes (or does not apply) on
/// everything else, including each misconfiguration's correct twin in the good subscription.
@Suite("The seeded Azure estate", .serialized)
struct AzureSeededEstateTests {
    @Test func everyControlFailsExactlyWhereTheEstateIsMisconfiguredAndPassesOnTheTwin() async throws {
        let dir = try TestPaths.temporaryDirectory("azure-seeded")
        let source = dir.appendingPathComponent("seeded-source.json")
        let estate = dir.appendingPathComponent("seeded.json")
        _ = try await runProcess(
            "/usr/bin/env", ["python3", TestPaths.repository.appendingPathComponent("fixtures/azure/seeded.py").path, source.path])
        _ = try await runProcess(
            "/usr/bin/env",
            [
                "python3", TestPaths.repository.appendingPathComponent("Tests/Support/azure/estate.py").path, "seeded", source.path,
                estate.path,
            ])
        let peer = try await AzurePeer.start(estate: estate)
        defer { peer.stop() }
        var env = peer.environment
        env["HOME"] = "/nonexistent"
        let out = dir.appendingPathComponent("report.json")
        let result = try await runAttestOnPath(
            ["scan", "azure", "--format", "json", "--output", out.path, "--quiet", "--no-evidence", "--no-history"], environment: env)
        #expect(result.status == 1, "\(result.stderr)")
        let report = try JSONValue.parse(Data(contentsOf: out))
        #expect(report["errors"].asList.isEmpty, "\(report["errors"].serialized())")
        // The estate has one tenant, whose default answers are misconfigured: a second scan of
        // the tenant alone, with its good answers served instead, judges the tenant controls the
        // other way.
        let goodTenant = try JSONSerialization.jsonObject(with: Data(contentsOf: estate)) as? [String: Any]
        try await peer.configure(["routes": goodTenant?["good_tenant"] ?? [:]])
        let goodOut = dir.appendingPathComponent("good-tenant.json")
        let goodRun = try await runAttestOnPath(
            [
                "scan", "azure", "--services", "entra", "--format", "json", "--output", goodOut.path, "--quiet", "--no-evidence",
                "--no-history",
            ],
            environment: env)
        let goodReport = try JSONValue.parse(Data(contentsOf: goodOut))
        #expect(goodReport["errors"].asList.isEmpty, "\(goodReport["errors"].serialized())")
        let tenantId = "/tenants/\(AzurePeer.tenant)"
        var goodTenantFailures: [String] = []
        var tenantResults: [JSONValue] = []
        for r in goodReport["results"].asList where r["resource"].stringValue == tenantId {
            tenantResults.append(r)
            if r["status"].stringValue != "pass" { goodTenantFailures.append(r["control"].stringValue ?? "") }
        }
        #expect(!tenantResults.isEmpty && goodTenantFailures.isEmpty, "the good tenant: \(goodTenantFailures) (exit \(goodRun.status))")
        let expectations = try JSONValue.parse(
            Data(contentsOf: TestPaths.repository.appendingPathComponent("fixtures/azure/seeded-expectations.json")))["fail"]
        var names: [String: String] = [:]
        for r in report["resources"].asList { names[r["id"].stringValue ?? ""] = r["name"].stringValue }
        var statuses: [String: Set<String>] = [:]
        for r in tenantResults { statuses[r["control"].stringValue ?? "", default: []].insert(r["status"].stringValue ?? "") }
        var failures: [String: Set<String>] = [:]
        for r in report["results"].asList {
            let control = r["control"].stringValue ?? ""
            let status = r["status"].stringValue ?? ""
            let name = names[r["resource"].stringValue ?? ""] ?? ""
            statuses[control, default: []].insert(status)
            #expect(status != "error", "\(control) on \(name): error")
            if status == "fail" { failures[name, default: []].insert(control) }
        }
        let expected = (expectations.objectValue ?? [:]).mapValues { Set($0.asList.compactMap(\.stringValue)) }
        for name in Set(expected.keys).union(failures.keys).sorted() {
            let want = expected[name] ?? []
            let got = failures[name] ?? []
            #expect(
                got == want,
                "\(name): unexpected failures \(got.subtracting(want).sorted()), missing failures \(want.subtracting(got).sorted())")
        }
        // Every Azure control judged the estate both ways.
        let controls = try FileManager.default.subpathsOfDirectory(
            atPath: TestPaths.repository.appendingPathComponent("controls/azure").path
        )
        .filter { $0.hasSuffix(".yaml") }.map { String($0.split(separator: "/").last!.dropLast(5)) }
        #expect(controls.count >= 60)
        let oneSided =
            try JSONValue.parse(
                Data(contentsOf: TestPaths.repository.appendingPathComponent("fixtures/azure/seeded-expectations.json")))["one_sided"]
            .objectValue ?? [:]
        for control in controls {
            #expect(oneSided[control] != nil || statuses[control]?.contains("fail") == true, "\(control) never failed in the seeded estate")
            #expect(statuses[control]?.contains("pass") == true, "\(control) never passed in the seeded estate")
        }
        #expect(!(result.stdout + result.stderr).contains(AzurePeer.clientSecret))
    }
}

@Suite("Azure specs and credential files refused with a clear error")
struct AzureSpecErrorTests {
    func provider(_ service: String) throws -> ProviderSpec {
        ProviderSpec(
            provider: "azure", services: [try SpecLoader.loadService(service, file: "providers/azure/x.yaml", provider: "azure")],
            discovery: [:])
    }

    @Test func anOperationWithoutAnAPIVersionOrAnActionOrAnUnknownSettingNamesItsLine() throws {
        let noVersion =
            "service: x\nscope: subscription\noperations:\n  ListThings:\n    action: Microsoft.X/things/read\n    path: /subscriptions/{account}/things\n"
        let e1 = #expect(throws: SpecError.self) { try AzureServiceCaller.validate(try provider(noVersion)) }
        #expect(
            e1?.description
                == "providers/azure/x.yaml:5: operation ListThings has no api-version (set settings.api_version or the operation's query api-version)"
        )
        let noAction =
            "service: x\nscope: subscription\nsettings: {api_version: \"2024-01-01\"}\noperations:\n  ListThings:\n    path: /things\n"
        let e2 = #expect(throws: SpecError.self) { try AzureServiceCaller.validate(try provider(noAction)) }
        #expect(e2?.description.contains("ListThings needs an action") == true)
        let typo = "service: x\nscope: subscription\nsettings: {api_versoin: \"2024-01-01\"}\n"
        let e3 = #expect(throws: SpecError.self) { try AzureServiceCaller.validate(try provider(typo)) }
        #expect(e3?.description.hasPrefix("providers/azure/x.yaml:3: unknown setting api_versoin") == true)
    }

    @Test func anUnknownIdsValueInTheDiscoveryFileIsRefused() throws {
        let dir = try TestPaths.temporaryDirectory("azure-ids")
        try "provider: azure\nids: sideways\n".write(to: dir.appendingPathComponent("provider.yaml"), atomically: true, encoding: .utf8)
        let e = #expect(throws: SpecError.self) { try SpecLoader.loadProvider(directory: dir, provider: "azure") }
        #expect(e?.description == "providers/azure/provider.yaml:2: ids: expected case-insensitive or case-sensitive, not sideways")
    }

    @Test func aLegacyEncryptedKeyOrAFileWithoutACertificateIsRefusedByName() throws {
        let legacy =
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00112233445566778899AABBCCDDEEFF\n\nAAAA\n-----END RSA PRIVATE KEY-----\n"
        let e1 = #expect(throws: ClientCertificate.LoadError.self) { try ClientCertificate(pem: legacy, password: nil, file: "app.pem") }
        #expect(e1?.description.contains("app.pem: the private key is encrypted in OpenSSL's legacy format") == true)
        let e2 = #expect(throws: ClientCertificate.LoadError.self) {
            try ClientCertificate(pem: "nothing here", password: nil, file: "app.pem")
        }
        #expect(e2?.description == "app.pem: no private key (expected a PEM PRIVATE KEY block)")
    }
}
