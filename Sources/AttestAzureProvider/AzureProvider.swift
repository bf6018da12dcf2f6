import AttestAzure
public import AttestCEL
public import AttestCollect
public import AttestCore
public import AttestEvidence
import AttestHTTP
public import AttestScan
import Foundation
import Logging

/// Azure behind the scan pipeline: Entra ID tokens found as azure-identity finds them, the
/// subscriptions the identity can read, the specs under `providers/azure/`.
///
/// Every subscription is an account of the scan; its services are collected at the
/// `subscription` level (ARM lists span every location), and resources carry their location as
/// their region. The Entra ID tenant the subscriptions belong to is an account too, collected
/// once at the `tenant` level through Microsoft Graph.
public struct AzureProvider: CloudProvider {
    public init() {}

    public var id: String { "azure" }

    /// `subscription`: once per scanned subscription; `tenant`: once per tenant of those
    /// subscriptions (Microsoft Graph).
    public var scopeLevels: [ScopeLevel] { [ScopeLevel("subscription", regional: false), ScopeLevel("tenant", regional: false)] }

    public var transforms: [Transform] { AzureTransforms.all }

    public var ruleFunctions: [CELFunction] { AzureRuleFunctions.all }

    public var evidenceCloud: any EvidenceCloud { AzureEvidenceCloud() }

    /// `cloud`: AzureCloud, AzureUSGovernment or AzureChinaCloud; `assertion_algorithm`: PS256
    /// (default) or RS256 for certificate assertions; `listing`: `resource-graph` (default: the
    /// lists marked `resource_graph` come from one Resource Graph query) or `arm`.
    public var targetOptionKeys: [String] { ["cloud", "assertion_algorithm", "listing"] }

    public func validate(_ spec: ProviderSpec) throws {
        try AzureServiceCaller.validate(spec)
    }

    public func connect(_ target: ScanTarget, spec: ProviderSpec, context: ConnectionContext) async throws -> any ProviderConnection {
        let cloudName = target.options["cloud"] ?? "AzureCloud"
        guard let cloud = AzureCloud.named(cloudName) else {
            throw ScanSetupError(
                "\(target.origin): unknown cloud \(cloudName) (expected one of: \(AzureCloud.all.map(\.name).joined(separator: ", ")))")
        }
        let algorithmName = target.options["assertion_algorithm"] ?? context.environment["ATTEST_AZURE_ASSERTION_ALGORITHM"] ?? "PS256"
        guard let algorithm = AssertionAlgorithm(name: algorithmName) else {
            throw ScanSetupError("\(target.origin): unknown assertion algorithm \(algorithmName) (expected PS256 or RS256)")
        }
        let endpoints: AzureEndpoints
        do {
            endpoints = try AzureEndpoints(cloud: cloud, environment: context.environment)
        } catch {
            throw ScanSetupError("\(error)")
        }
        let transport: any HTTPTransport
        do {
            transport = try await context.transports.transport(caBundle: nonEmpty(context.environment["ATTEST_AZURE_CA_BUNDLE"]))
        } catch {
            throw ScanSetupError("\(error)")
        }
        let chain = EntraCredentialChain(environment: context.environment, endpoints: endpoints, transport: transport, algorithm: algorithm)
        let resolved: (provider: any BearerTokenProvider, source: EntraCredentialSource)
        do {
            resolved = try chain.resolve()
        } catch let error as EntraError {
            throw ScanSetupError(error.description)
        }
        let listingName = target.options["listing"] ?? "resource-graph"
        guard ["resource-graph", "arm"].contains(listingName) else {
            throw ScanSetupError("\(target.origin): unknown listing \(listingName) (expected resource-graph or arm)")
        }
        func client(_ base: String, _ scope: String) -> ARMClient {
            ARMClient(
                baseURL: base, scope: scope, tokens: resolved.provider, transport: transport, retryPolicy: context.retryPolicy,
                counters: context.counters, logger: context.logger, userAgent: context.userAgent)
        }
        let plain = AzureServiceCaller(clients: [
            "arm": client(endpoints.resourceManager, cloud.resourceManagerScope),
            "graph": client(endpoints.graph, cloud.graphScope),
            "keyvault": ARMClient(
                baseURL: cloud.keyVaultAudience, scope: cloud.keyVaultScope, tokens: resolved.provider, transport: transport,
                retryPolicy: context.retryPolicy, counters: context.counters, logger: context.logger, userAgent: context.userAgent,
                vaults: endpoints),
        ])
        var listing: ResourceGraphListing?
        if listingName == "resource-graph", let q = spec.discovery["resource_graph"], let p = spec.discovery["permissions"],
            let service = spec.service(q.service), let query = service.operations[q.operation],
            let permissions = spec.service(p.service)?.operations[p.operation]
        {
            listing = ResourceGraphListing(caller: plain, service: service, query: query, permissions: permissions, logger: context.logger)
        }
        return AzureConnection(
            caller: AzureServiceCaller(clients: plain.clients, listing: listing), listing: listing,
            source: resolved.source, tenant: Self.tenant(of: resolved.source, environment: context.environment), cloud: cloud)
    }

    static func tenant(of source: EntraCredentialSource, environment: [String: String]) -> String? {
        switch source {
        case .clientSecret(let t, _), .clientCertificate(let t, _, _), .workloadIdentity(let t, _, _): t
        default: environment["AZURE_TENANT_ID"]
        }
    }

    /// A custom role definition (`az role definition create --role-definition …`) holding every
    /// action the specs call, or the built-in roles that cover them.
    public func permissions(spec: ProviderSpec, services: [String]?) -> JSONValue {
        let operations = spec.calledOperations(services: services)
        func names(_ keep: (OperationSpec, String) -> Bool) -> [JSONValue] {
            Set(
                operations.map { (op: $0.operation, action: AzureServiceCaller.action(service: $0.service, operation: $0.operation)) }
                    .filter { keep($0.op, $0.action) }.map(\.action)
            ).sorted().map(JSONValue.string)
        }
        let arm = names { op, action in action.hasPrefix("Microsoft.") && !AzureServiceCaller.isDataAction(op) }
        let data = names { op, _ in AzureServiceCaller.isDataAction(op) }
        let graph = names { _, action in !action.hasPrefix("Microsoft.") }
        var role: [String: JSONValue] = [
            "Name": "attest read-only scanner",
            "IsCustom": true,
            "Description":
                "Every read attest's Azure specs make, nothing else. The built-in Reader role covers the Actions; the DataActions (key and secret metadata on the Key Vault data plane) need Key Vault Reader, or on a vault with access policies an access policy allowing key and secret List. The Microsoft Graph application permissions (x-attest-graph-application-permissions) are granted to the app registration, with admin consent.",
            "Actions": .array(arm),
            "NotActions": [],
            "DataActions": .array(data),
            "NotDataActions": [],
            "AssignableScopes": ["/subscriptions/{subscriptionId}"],
        ]
        if !graph.isEmpty {
            role["x-attest-graph-application-permissions"] = .array(graph)
        }
        return .object(role)
    }

    /// Every permission the specs call for a scan of `services` (nil: all), sorted.
    public static func actions(spec: ProviderSpec, services wanted: [String]? = nil) -> [String] {
        Set(spec.calledOperations(services: wanted).map { AzureServiceCaller.action(service: $0.service, operation: $0.operation) })
            .sorted()
    }
}

/// An Azure connection: one token provider, the ARM and Graph clients.
public struct AzureConnection: ProviderConnection {
    public let caller: any ServiceCaller
    let listing: ResourceGraphListing?
    let source: EntraCredentialSource
    let tenant: String?
    let cloud: AzureCloud

    /// The subscriptions the identity can read (every page of `GET /subscriptions`), narrowed to
    /// the target's accounts; one asked for but not readable is an error for that subscription.
    public func discover(spec: ProviderSpec, target: ScanTarget, engine: CollectionEngine) async throws -> Discovery {
        guard let call = spec.discovery["subscriptions"], let service = spec.service(call.service),
            let op = service.operations[call.operation]
        else {
            throw ScanSetupError("providers/azure/provider.yaml needs the discovery call subscriptions")
        }
        var listed: [JSONValue] = []
        var parameters: [String: JSONValue] = [:]
        var seen: Set<String> = []
        let scope = CollectionScope(account: "", region: CollectionScope.global)
        do {
            for _ in 0..<1_000 {
                let page = try await caller.call(service: service, operation: op, scope: scope, parameters: parameters, context: [:])
                listed += (call.items ?? op.items ?? ValuePath("value[]")).values(in: page)
                guard let next = page["nextLink"].stringValue, !next.isEmpty, seen.insert(next).inserted else { break }
                parameters["nextLink"] = .string(next)
            }
        } catch let error as TransportError where error.kind == .refused {
            throw ScanSetupError(error.description)
        } catch {
            if error is CancellationError || Task.isCancelled { throw CancellationError() }
            let (code, message) = caller.describe(error)
            throw ScanSetupError("cannot list the subscriptions: \(code): \(message)")
        }
        var byId: [String: JSONValue] = [:]
        for s in listed {
            if let id = s["subscriptionId"].stringValue?.lowercased() { byId[id] = s }
        }
        var errors: [CollectionError] = []
        var chosen: [String]
        if let wanted = target.accounts {
            chosen = []
            for w in wanted.map({ $0.lowercased() }) where !chosen.contains(w) {
                if byId[w] != nil {
                    chosen.append(w)
                } else {
                    errors.append(
                        CollectionError(
                            kind: .scopeUnavailable, service: call.service, account: w, region: CollectionScope.global,
                            operation: call.operation, code: "SubscriptionNotFound",
                            message: "subscription \(w) is not among those this identity can read; not scanned"))
                }
            }
        } else {
            chosen = byId.keys.sorted()
        }
        var usable: [String] = []
        for id in chosen {
            let state = byId[id]?["state"].stringValue ?? "Enabled"
            if ["Disabled", "Deleted"].contains(state) {
                errors.append(
                    CollectionError(
                        kind: .scopeUnavailable, service: call.service, account: id, region: CollectionScope.global,
                        operation: call.operation, code: "SubscriptionNotEnabled",
                        message: "subscription \(id) is \(state); not scanned"))
            } else {
                usable.append(id)
            }
        }
        if usable.isEmpty, errors.isEmpty {
            throw ScanSetupError("this identity can read no subscription (give it Reader on at least one)")
        }
        func tenantOf(_ id: String) -> String { (byId[id]?["tenantId"].stringValue ?? tenant ?? "").lowercased() }
        var accounts = usable.map { id in
            AccountTarget(
                id: id, homeRegion: CollectionScope.global,
                values: ["tenant": .string(tenantOf(id)), "subscription_name": .string(byId[id]?["displayName"].stringValue ?? id)])
        }
        // The token is the credential's tenant's, so Graph reads that tenant (for a managed
        // identity, whose tenant is not configured, the subscriptions' tenant). A tenant given as
        // a domain name is replaced by the GUID the subscriptions name.
        let configured = tenant?.lowercased()
        let listedTenant = usable.map(tenantOf).first { UUID(uuidString: $0) != nil }
        let chosenTenant = configured.flatMap { UUID(uuidString: $0) != nil ? $0 : nil } ?? listedTenant ?? configured
        let tenants = [chosenTenant].compactMap { $0 }.filter { !$0.isEmpty }
        accounts += tenants.map {
            AccountTarget(id: $0, homeRegion: CollectionScope.global, values: ["tenant": .string($0)], implied: true)
        }
        await listing?.prepare(subscriptions: usable, types: ResourceGraphListing.types(in: spec, services: target.services))
        let principal: String
        switch source {
        case .clientSecret(let t, let c), .clientCertificate(let t, let c, _), .workloadIdentity(let t, let c, _):
            principal = "app \(c) in tenant \(t) (\(source.label))"
        case .appServiceManagedIdentity, .instanceManagedIdentity:
            principal = source.label
        }
        return Discovery(
            target: CollectionTarget(
                accounts: accounts,
                scopes: [
                    "subscription": usable.map { CollectionScope(account: $0, region: CollectionScope.global) },
                    "tenant": tenants.map { CollectionScope(account: $0, region: CollectionScope.global) },
                ]),
            principal: principal, regions: [], errors: errors)
    }
}

/// How Azure results appear in OCSF evidence: the subscription as the account.
public struct AzureEvidenceCloud: EvidenceCloud {
    public init() {}

    public func ocsfCloud(account: String, region: String) -> JSONValue {
        [
            "provider": "Azure", "region": .string(region),
            "account": ["uid": .string(account), "type": "Azure Subscription", "type_id": 99],
        ]
    }

    public func partition(region: String) -> String? { nil }
}

private func nonEmpty(_ s: String?) -> String? {
    guard let s = s?.trimmingCharacters(in: .whitespaces), !s.isEmpty else { return nil }
    return s
}
