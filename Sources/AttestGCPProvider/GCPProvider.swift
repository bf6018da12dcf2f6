public import AttestCEL
public import AttestCollect
public import AttestCore
public import AttestEvidence
import AttestGCP
import AttestHTTP
public import AttestScan
import Foundation

/// Google Cloud behind the scan pipeline: tokens found as Application Default Credentials finds
/// them, the projects the credential can see, the specs under `providers/gcp/`.
///
/// Every project is an account of the scan; its services are collected at the `project` level
/// (project-wide lists), and resources carry their location as their region.
public struct GCPProvider: CloudProvider {
    public init() {}

    public var id: String { "gcp" }

    /// `project`: once per scanned project.
    public var scopeLevels: [ScopeLevel] { [ScopeLevel("project", regional: false)] }

    public var transforms: [Transform] { GCPTransforms.all }

    public var ruleFunctions: [CELFunction] { [] }

    public var evidenceCloud: any EvidenceCloud { GCPEvidenceCloud() }

    /// `credentials`: a credentials file, over `GOOGLE_APPLICATION_CREDENTIALS`.
    public var targetOptionKeys: [String] { ["credentials"] }

    public func validate(_ spec: ProviderSpec) throws {
        try GCPServiceCaller.validate(spec)
    }

    public func connect(_ target: ScanTarget, spec: ProviderSpec, context: ConnectionContext) async throws -> any ProviderConnection {
        let endpoints: GCPEndpoints
        do {
            endpoints = try GCPEndpoints(environment: context.environment)
        } catch {
            throw ScanSetupError("\(error)")
        }
        let transport: any HTTPTransport
        do {
            transport = try await context.transports.transport(caBundle: nonEmpty(context.environment["ATTEST_GCP_CA_BUNDLE"]))
        } catch {
            throw ScanSetupError("\(error)")
        }
        let chain = GoogleCredentialChain(
            environment: context.environment, endpoints: endpoints, transport: transport, file: target.options["credentials"])
        let resolved: (provider: any BearerTokenProvider, source: GoogleCredentialSource)
        do {
            resolved = try chain.resolve()
        } catch let error as GoogleAuthError {
            throw ScanSetupError(error.description)
        }
        // Google asks for 30 s after a quota error; ATTEST_GCP_QUOTA_RETRY_SECONDS lowers it (tests).
        let floor = context.environment["ATTEST_GCP_QUOTA_RETRY_SECONDS"].flatMap(Double.init).map { Duration.milliseconds(Int($0 * 1000)) }
        let client = GoogleClient(
            endpoints: endpoints, tokens: resolved.provider, transport: transport, retryPolicy: context.retryPolicy,
            counters: context.counters, logger: context.logger, userAgent: context.userAgent, quotaRetryFloor: floor ?? .seconds(30))
        return GCPConnection(caller: GCPServiceCaller(client: client), source: resolved.source)
    }

    /// A custom role (`gcloud iam roles create --file`) holding every permission the specs call.
    public func permissions(spec: ProviderSpec, services: [String]?) -> JSONValue {
        let permissions = Set(
            spec.calledOperations(services: services).map { GCPServiceCaller.action(service: $0.service, operation: $0.operation) }
        ).sorted()
        return [
            "title": "attest read-only scanner",
            "description":
                "Every read attest's Google Cloud specs make, nothing else. The predefined roles roles/viewer and roles/iam.securityReviewer cover them.",
            "stage": "GA",
            "includedPermissions": .array(permissions.map(JSONValue.string)),
        ]
    }
}

/// A Google Cloud connection: one token provider and the REST client.
public struct GCPConnection: ProviderConnection {
    public let caller: any ServiceCaller
    let source: GoogleCredentialSource

    /// The projects to scan: `--projects` (each read with `GetProject`; one that cannot be read is
    /// an error for that project), or every active project `SearchProjects` finds.
    public func discover(spec: ProviderSpec, target: ScanTarget, engine: CollectionEngine) async throws -> Discovery {
        guard let search = spec.discovery["projects"], let get = spec.discovery["project"], let service = spec.service(search.service),
            let searchOp = service.operations[search.operation], let getOp = spec.service(get.service)?.operations[get.operation]
        else {
            throw ScanSetupError("providers/gcp/provider.yaml needs the discovery calls projects and project")
        }
        let none = CollectionScope(account: "", region: CollectionScope.global)
        var projects: [JSONValue] = []
        var errors: [CollectionError] = []
        func setupError(_ error: any Error, _ what: String) -> any Error {
            if error is CancellationError || Task.isCancelled { return CancellationError() }
            if let error = error as? TransportError, error.kind == .refused { return ScanSetupError(error.description) }
            if let error = error as? GoogleAuthError { return ScanSetupError(error.description) }
            let (code, message) = caller.describe(error)
            return ScanSetupError("cannot \(what): \(code): \(message)")
        }
        if let wanted = target.accounts {
            for id in wanted {
                do {
                    projects.append(
                        try await caller.call(
                            service: service, operation: getOp, scope: none, parameters: ["project": .string(id)], context: [:]))
                } catch let error as GoogleServiceError where [403, 404].contains(error.httpStatus) {
                    errors.append(
                        CollectionError(
                            kind: .scopeUnavailable, service: get.service, account: id, region: CollectionScope.global,
                            operation: get.operation, code: error.status,
                            message: "project \(id) cannot be read by this credential (\(error.message)); not scanned"))
                } catch {
                    throw setupError(error, "read project \(id)")
                }
            }
        } else {
            var parameters: [String: JSONValue] = [:]
            var seen: Set<String> = []
            do {
                for _ in 0..<1_000 {
                    let page = try await caller.call(
                        service: service, operation: searchOp, scope: none, parameters: parameters, context: [:])
                    projects += (search.items ?? searchOp.items ?? ValuePath("projects[]")).values(in: page)
                    guard let next = page["nextPageToken"].stringValue, !next.isEmpty, seen.insert(next).inserted else { break }
                    parameters["pageToken"] = .string(next)
                }
            } catch {
                throw setupError(error, "search the projects")
            }
        }
        var accounts: [AccountTarget] = []
        for p in projects {
            guard let id = p["projectId"].stringValue, !accounts.contains(where: { $0.id == id }) else { continue }
            let state = p["state"].stringValue ?? "ACTIVE"
            guard state == "ACTIVE" else {
                if target.accounts != nil {
                    errors.append(
                        CollectionError(
                            kind: .scopeUnavailable, service: get.service, account: id, region: CollectionScope.global,
                            operation: get.operation, code: "PROJECT_NOT_ACTIVE", message: "project \(id) is \(state); not scanned"))
                }
                continue
            }
            // name: "projects/<number>"
            let number = p["name"].stringValue.map { String($0.split(separator: "/").last ?? "") } ?? ""
            accounts.append(
                AccountTarget(
                    id: id, homeRegion: CollectionScope.global,
                    values: [
                        "project_number": .string(number), "project_name": .string(p["displayName"].stringValue ?? id),
                        "project_parent": .string(p["parent"].stringValue ?? ""),
                    ]))
        }
        if accounts.isEmpty, errors.isEmpty {
            throw ScanSetupError("this credential can see no active project (give it roles/viewer on one, or name them with --projects)")
        }
        let principal: String =
            switch source {
            case .serviceAccount(let email, _): "serviceAccount:\(email)"
            case .authorizedUser: "gcloud user credentials"
            case .metadataServer: "the metadata server's service account"
            }
        return Discovery(
            target: CollectionTarget(
                accounts: accounts, scopes: ["project": accounts.map { CollectionScope(account: $0.id, region: CollectionScope.global) }]),
            principal: principal, regions: [], errors: errors)
    }
}

/// How Google Cloud results appear in OCSF evidence: the project as the account.
public struct GCPEvidenceCloud: EvidenceCloud {
    public init() {}

    public func ocsfCloud(account: String, region: String) -> JSONValue {
        [
            "provider": "GCP", "region": .string(region),
            "account": ["uid": .string(account), "type": "GCP Project", "type_id": 99],
        ]
    }

    public func partition(region: String) -> String? { nil }
}

private func nonEmpty(_ s: String?) -> String? {
    guard let s = s?.trimmingCharacters(in: .whitespaces), !s.isEmpty else { return nil }
    return s
}
