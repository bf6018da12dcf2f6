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

    /// `project`: once per scanned project; `organization`: once per organization above them.
    public var scopeLevels: [ScopeLevel] { [ScopeLevel("project", regional: false), ScopeLevel("organization", regional: false)] }

    public var transforms: [Transform] { GCPTransforms.all }

    public var ruleFunctions: [CELFunction] { [] }

    public var evidenceCloud: any EvidenceCloud { GCPEvidenceCloud() }

    /// `credentials`: a credentials file, over `GOOGLE_APPLICATION_CREDENTIALS`; `organization` and
    /// `folder`: scan the projects under it; `impersonate`: the service account to impersonate;
    /// `listing`: `asset-inventory` (default: lists from Cloud Asset Inventory where it serves
    /// them) or `api` (every list from its own API).
    public var targetOptionKeys: [String] { ["credentials", "organization", "folder", "impersonate", "listing"] }

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
            environment: context.environment, endpoints: endpoints, transport: transport, file: target.options["credentials"],
            impersonate: target.options["impersonate"])
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
        let listingName = target.options["listing"] ?? "asset-inventory"
        guard ["asset-inventory", "api"].contains(listingName) else {
            throw ScanSetupError("\(target.origin): unknown listing \(listingName) (expected asset-inventory or api)")
        }
        var listing: AssetInventoryListing?
        if listingName == "asset-inventory", let a = spec.discovery["assets"], let p = spec.discovery["permissions"],
            let assetsService = spec.service(a.service), let assets = assetsService.operations[a.operation],
            let permissionsService = spec.service(p.service), let test = permissionsService.operations[p.operation]
        {
            listing = AssetInventoryListing(
                assets: (assetsService, assets), testPermissions: (permissionsService, test), logger: context.logger)
        }
        return GCPConnection(caller: GCPServiceCaller(client: client, listing: listing), source: resolved.source, listing: listing)
    }

    /// A custom role (`gcloud iam roles create --file`) holding every permission the specs call.
    public func permissions(spec: ProviderSpec, services: [String]?) -> JSONValue {
        let permissions = Set(
            spec.calledOperations(services: services).map { GCPServiceCaller.action(service: $0.service, operation: $0.operation) }
        ).sorted()
        return [
            "title": "attest read-only scanner",
            "description":
                "Every read attest's Google Cloud specs make, nothing else. The predefined roles roles/viewer, roles/iam.securityReviewer and roles/cloudasset.viewer cover them.",
            "stage": "GA",
            "includedPermissions": .array(permissions.map(JSONValue.string)),
        ]
    }
}

/// A Google Cloud connection: one token provider and the REST client.
public struct GCPConnection: ProviderConnection {
    public let caller: any ServiceCaller
    let source: GoogleCredentialSource
    let listing: AssetInventoryListing?

    /// The projects to scan: `--projects` (each read with `GetProject`; one that cannot be read is
    /// an error for that project), or every active project `SearchProjects` finds, narrowed to
    /// those under `--organization` or `--folder`. The organizations above the scanned projects
    /// that the credential can see are scanned too (the `organization` scope, implied accounts).
    public func discover(spec: ProviderSpec, target: ScanTarget, engine: CollectionEngine) async throws -> Discovery {
        func operation(_ name: String) throws -> (ServiceSpec, OperationSpec, DiscoveryCall) {
            guard let call = spec.discovery[name], let service = spec.service(call.service), let op = service.operations[call.operation]
            else {
                throw ScanSetupError("providers/gcp/provider.yaml needs the discovery calls projects, project, folders and organizations")
            }
            return (service, op, call)
        }
        let search = try operation("projects")
        let get = try operation("project")
        let folderSearch = try operation("folders")
        let organizationSearch = try operation("organizations")
        let none = CollectionScope(account: "", region: CollectionScope.global)
        var errors: [CollectionError] = []
        func setupError(_ error: any Error, _ what: String) -> any Error {
            if error is CancellationError || Task.isCancelled { return CancellationError() }
            if let error = error as? TransportError, error.kind == .refused { return ScanSetupError(error.description) }
            if let error = error as? GoogleAuthError { return ScanSetupError(error.description) }
            let (code, message) = caller.describe(error)
            return ScanSetupError("cannot \(what): \(code): \(message)")
        }
        /// Every page of a search.
        func searchAll(_ s: (ServiceSpec, OperationSpec, DiscoveryCall)) async throws -> [JSONValue] {
            var parameters: [String: JSONValue] = [:]
            var seen: Set<String> = []
            var out: [JSONValue] = []
            for _ in 0..<1_000 {
                let page = try await caller.call(service: s.0, operation: s.1, scope: none, parameters: parameters, context: [:])
                out += (s.2.items ?? s.1.items ?? ValuePath("items[]")).values(in: page)
                guard let next = page["nextPageToken"].stringValue, !next.isEmpty, seen.insert(next).inserted else { break }
                parameters["pageToken"] = .string(next)
            }
            return out
        }
        let organizationOption = target.options["organization"].map { "organizations/" + $0 }
        let folderOption = target.options["folder"].map { "folders/" + $0 }
        let under = organizationOption ?? folderOption

        // Folders and organizations give each project its ancestry. Without --organization or
        // --folder, a credential that may not search them still scans its projects.
        var folders: [JSONValue] = []
        var organizations: [JSONValue] = []
        do {
            folders = try await searchAll(folderSearch)
            organizations = try await searchAll(organizationSearch)
        } catch {
            let failure = setupError(error, "search the folders and organizations")
            if failure is CancellationError || under != nil { throw failure }
            let (code, message) = caller.describe(error)
            errors.append(
                CollectionError(
                    kind: .discovery, service: folderSearch.2.service, account: "", region: CollectionScope.global,
                    operation: folderSearch.2.operation, code: code,
                    message: "the folders and organizations could not be searched (\(message)); projects have no ancestry"))
        }
        var parents: [String: String] = [:]
        for f in folders {
            if let name = f["name"].stringValue, let parent = f["parent"].stringValue { parents[name] = parent }
        }
        let ancestry = (caller as? GCPServiceCaller)?.ancestry ?? GCPAncestry()
        ancestry.record(parents)

        var projects: [JSONValue] = []
        if let wanted = target.accounts {
            for id in wanted {
                do {
                    projects.append(
                        try await caller.call(
                            service: get.0, operation: get.1, scope: none, parameters: ["project": .string(id)], context: [:]))
                } catch let error as GoogleServiceError where [403, 404].contains(error.httpStatus) {
                    errors.append(
                        CollectionError(
                            kind: .scopeUnavailable, service: get.2.service, account: id, region: CollectionScope.global,
                            operation: get.2.operation, code: error.status,
                            message: "project \(id) cannot be read by this credential (\(error.message)); not scanned"))
                } catch {
                    throw setupError(error, "read project \(id)")
                }
            }
        } else {
            do {
                projects = try await searchAll(search)
            } catch {
                throw setupError(error, "search the projects")
            }
        }
        var accounts: [AccountTarget] = []
        var organizationIds: [String] = []
        for p in projects {
            guard let id = p["projectId"].stringValue, !accounts.contains(where: { $0.id == id }) else { continue }
            let parent = p["parent"].stringValue ?? ""
            let ancestors = parent.isEmpty ? [] : ancestry.ancestors(of: parent)
            if let under, !ancestors.contains(under) { continue }
            let state = p["state"].stringValue ?? "ACTIVE"
            guard state == "ACTIVE" else {
                if target.accounts != nil {
                    errors.append(
                        CollectionError(
                            kind: .scopeUnavailable, service: get.2.service, account: id, region: CollectionScope.global,
                            operation: get.2.operation, code: "PROJECT_NOT_ACTIVE", message: "project \(id) is \(state); not scanned"))
                }
                continue
            }
            if let org = ancestors.last, org.hasPrefix("organizations/"), !organizationIds.contains(org) { organizationIds.append(org) }
            // name: "projects/<number>"
            let number = p["name"].stringValue.map { String($0.split(separator: "/").last ?? "") } ?? ""
            accounts.append(
                AccountTarget(
                    id: id, homeRegion: CollectionScope.global,
                    // An unknown parent stays unset: its attribute is null and no child-of edge is made.
                    values: [
                        "project_number": .string(number), "project_name": .string(p["displayName"].stringValue ?? id),
                        "project_parent": parent.isEmpty ? .null : .string(parent),
                        "project_ancestors": .array(ancestors.map(JSONValue.string)),
                    ]))
        }
        if accounts.isEmpty, errors.isEmpty || under != nil {
            if let under {
                throw ScanSetupError("this credential can see no active project under \(under)")
            }
            throw ScanSetupError("this credential can see no active project (give it roles/viewer on one, or name them with --projects)")
        }
        // The organizations above the scanned projects that the credential can see.
        var organizationAccounts: [AccountTarget] = []
        for org in organizationIds {
            guard let seen = organizations.first(where: { $0["name"].stringValue == org }) else { continue }
            let number = String(org.dropFirst("organizations/".count))
            organizationAccounts.append(
                AccountTarget(
                    id: number, homeRegion: CollectionScope.global,
                    values: ["organization_name": .string(seen["displayName"].stringValue ?? org)], implied: true))
        }
        let principal: String =
            switch source {
            case .serviceAccount(let email, _): "serviceAccount:\(email)"
            case .authorizedUser: "gcloud user credentials"
            case .metadataServer: "the metadata server's service account"
            case .externalAccount(let audience): "workload identity federation (\(audience))"
            case .impersonated(let email): "serviceAccount:\(email) (impersonated)"
            }
        if let listing {
            let marked = AssetInventoryListing.marked(in: spec, services: target.services)
            var numbers: [String: String] = [:]
            for a in accounts { numbers[a.id] = a.values["project_number"]?.stringValue }
            await listing.prepare(projects: numbers, types: marked.types, permissions: marked.permissions)
        }
        return Discovery(
            target: CollectionTarget(
                accounts: accounts + organizationAccounts,
                scopes: [
                    "project": accounts.map { CollectionScope(account: $0.id, region: CollectionScope.global) },
                    "organization": organizationAccounts.map { CollectionScope(account: $0.id, region: CollectionScope.global) },
                ]),
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
