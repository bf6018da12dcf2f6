public import AttestAWS
public import AttestCEL
public import AttestCollect
public import AttestCore
public import AttestEvidence
import AttestHTTP
public import AttestScan
import Foundation
import Logging

/// AWS behind the scan pipeline: SigV4 credentials found as the AWS CLI finds them, the
/// account and enabled regions from STS and EC2, the specs under `providers/aws/`, the IAM and
/// network rule functions, the `s3://` evidence store.
public struct AWSProvider: CloudProvider {
    public init() {}

    public var id: String { "aws" }

    /// `global`: once per account, called in the home region (IAM, S3's bucket list).
    /// `regional`: once per enabled region of each account.
    /// `organization`: once per organization scan (`--org`), in the management account, before
    /// the member accounts are entered.
    public var scopeLevels: [ScopeLevel] {
        [
            ScopeLevel("global", regional: false), ScopeLevel("regional", regional: true),
            ScopeLevel("organization", regional: false, perAccount: false),
        ]
    }

    public var transforms: [Transform] { AWSTransforms.all }

    public var ruleFunctions: [CELFunction] { AWSRuleFunctions.all }

    public var evidenceCloud: any EvidenceCloud { AWSEvidenceCloud() }

    /// `role_arn`/`external_id`: assume into the scanned account; `home_region`: where global
    /// services and STS are called; `ca_bundle`: the CA bundle to trust (as `AWS_CA_BUNDLE`);
    /// `org` (`true`) with `role_name`, `exclude_accounts`, `ous`, `shard` and
    /// `account_concurrency`: scan every account of the organization (``OrganizationScanOptions``).
    public var targetOptionKeys: [String] {
        ["role_arn", "external_id", "home_region", "ca_bundle"] + OrganizationScanOptions.keys
    }

    public func validate(_ spec: ProviderSpec) throws {
        try AWSServiceCaller.validate(spec)
    }

    public func connect(_ target: ScanTarget, spec: ProviderSpec, context: ConnectionContext) async throws -> any ProviderConnection {
        let organization = try OrganizationScanOptions(target: target)
        let session = try await AWSSession.make(target: target, context: context, organizationScan: organization != nil)
        return AWSConnection(session: session, organization: organization)
    }

    public func permissions(spec: ProviderSpec, services: [String]?) -> JSONValue {
        ["Version": "2012-10-17", "Statement": [Self.scanStatement(Self.actions(spec: spec, services: services))]]
    }

    /// The statement granting a scan's read-only actions.
    static func scanStatement(_ actions: [String]) -> JSONValue {
        ["Sid": "AttestReadOnlyScan", "Effect": "Allow", "Resource": "*", "Action": .array(actions.map(JSONValue.string))]
    }

    /// What an organization scan needs: in the management account (or delegated administrator)
    /// the Organizations reads, `sts:AssumeRole` on the member accounts' role and the scan of
    /// its own account; in each member account a role with the scan's actions, trusting that account.
    public static func organizationPermissions(
        spec: ProviderSpec, services: [String]?, roleName: String, managementAccount: String?, externalId: String?
    ) -> JSONValue {
        let organizations = Set(spec.services.filter { $0.scope == "organization" }.map(\.id))
        let scanned =
            services.map { $0.filter { !organizations.contains($0) } } ?? spec.services.map(\.id).filter { !organizations.contains($0) }
        let memberActions = actions(spec: spec, services: scanned)
        let organizationActions = actions(spec: spec, services: Array(organizations))
        let trusted = managementAccount ?? "MANAGEMENT_ACCOUNT_ID"
        var trustStatement: [String: JSONValue] = [
            "Effect": "Allow", "Principal": ["AWS": .string("arn:aws:iam::\(trusted):root")], "Action": "sts:AssumeRole",
        ]
        if let externalId { trustStatement["Condition"] = ["StringEquals": ["sts:ExternalId": .string(externalId)]] }
        let trust = JSONValue.object(trustStatement)
        return [
            "management_account": [
                "Version": "2012-10-17",
                "Statement": [
                    [
                        "Sid": "AttestReadOrganization", "Effect": "Allow", "Resource": "*",
                        "Action": .array(organizationActions.map(JSONValue.string)),
                    ],
                    [
                        "Sid": "AttestEnterMemberAccounts", "Effect": "Allow", "Action": "sts:AssumeRole",
                        "Resource": .string("arn:aws:iam::*:role/\(roleName)"),
                    ],
                    scanStatement(memberActions),
                ],
            ],
            "member_accounts": [
                "role_name": .string(roleName),
                "policy": ["Version": "2012-10-17", "Statement": [scanStatement(memberActions)]],
                "trust_policy": ["Version": "2012-10-17", "Statement": [trust]],
            ],
        ]
    }

    /// Every IAM action the specs call for a scan of `services` (nil: all), nothing else.
    public static func actions(spec: ProviderSpec, services wanted: [String]? = nil) -> [String] {
        Set(spec.calledOperations(services: wanted).map { AWSServiceCaller.action(service: $0.service, operation: $0.operation) }).sorted()
    }

    public func openEvidenceStore(_ url: String, options: EvidenceStoreOptions, context: ConnectionContext) async throws -> (
        any EvidenceStore
    )? {
        guard url.hasPrefix("s3://") else { return nil }
        guard let (bucket, prefix) = S3EvidenceStore.parse(url) else {
            throw ScanSetupError("evidence destination \(url): expected s3://bucket/prefix")
        }
        let target = ScanTarget(
            provider: id, profile: options.profile, options: options.region.map { ["home_region": $0] } ?? [:],
            origin: "evidence \(url)")
        let session = try await AWSSession.make(target: target, context: context)
        return S3EvidenceStore(
            client: session.client, bucket: bucket, prefix: prefix, region: options.region ?? session.homeRegion,
            retentionDays: options.retentionDays ?? 365)
    }
}

/// An AWS connection: one signed client for the account the credentials reach, and with `--org`
/// one per member account entered (an assumed role), chosen by each call's account.
public struct AWSConnection: ProviderConnection {
    public let client: AWSClient
    public let homeRegion: String
    let session: AWSSession?
    let organization: OrganizationScanOptions?
    let memberClients = AccountClients()

    public init(client: AWSClient, homeRegion: String) {
        self.client = client
        self.homeRegion = homeRegion
        self.session = nil
        self.organization = nil
    }

    init(session: AWSSession, organization: OrganizationScanOptions?) {
        self.client = session.client
        self.homeRegion = session.homeRegion
        self.session = session
        self.organization = organization
    }

    public var caller: any ServiceCaller { AWSServiceCaller(client: client, homeRegion: homeRegion, accounts: memberClients) }

    /// Who am I (STS), which regions are enabled (EC2), narrowed by the target's regions. No
    /// identity means no scan; an unreadable region list falls back to what was asked. With
    /// `--org`: the organization first, then every chosen account entered (``OrganizationScan``).
    public func discover(spec: ProviderSpec, target: ScanTarget, engine: CollectionEngine) async throws -> Discovery {
        let calls = try DiscoveryCalls(spec: spec)
        let (identity, partition) = try await self.identity(calls, spec: spec, engine: engine, account: "")
        guard let account = identity["Account"].stringValue, !account.isEmpty else {
            throw ScanSetupError("GetCallerIdentity answered without an account id")
        }
        if let organization, let session {
            return try await OrganizationScan(
                options: organization, session: session, calls: calls, spec: spec, target: target, engine: engine,
                clients: memberClients, connection: self
            ).discover(management: account, principal: identity["Arn"].stringValue, partition: partition)
        }
        let accountTarget = AccountTarget(id: account, homeRegion: homeRegion, values: ["partition": .string(partition)])
        let (regions, errors) = try await self.regions(calls, spec: spec, target: target, engine: engine, account: accountTarget)
        return Discovery(
            target: CollectionTarget(accounts: [accountTarget], scopes: Self.scopes(account: account, regions: regions)),
            principal: identity["Arn"].stringValue, regions: regions, errors: errors)
    }

    static func scopes(account: String, regions: [String]) -> [String: [CollectionScope]] {
        [
            "global": [CollectionScope(account: account, region: CollectionScope.global)],
            "regional": regions.map { CollectionScope(account: account, region: $0) },
        ]
    }

    struct DiscoveryCalls {
        var identity: DiscoveryCall
        var regions: DiscoveryCall

        init(spec: ProviderSpec) throws {
            guard let identityCall = spec.discovery["identity"], let regionsCall = spec.discovery["regions"] else {
                throw ScanSetupError("providers/aws/provider.yaml needs the discovery calls identity and regions")
            }
            identity = identityCall
            regions = regionsCall
        }
    }

    /// GetCallerIdentity in `account`'s client (`""`: the target's own credentials) and the partition from its ARN.
    func identity(_ calls: DiscoveryCalls, spec: ProviderSpec, engine: CollectionEngine, account: String) async throws -> (
        JSONValue, String
    ) {
        let identity: JSONValue
        do {
            identity = try await engine.discover(
                calls.identity, in: spec, scope: CollectionScope(account: account, region: homeRegion),
                context: [
                    "region": .string(homeRegion),
                    "home_region": .string(homeRegion),
                ])
        } catch let error as TransportError where error.kind == .refused {
            // The first call of the scan: nothing listens at the endpoint, so say only that.
            throw ScanSetupError(error.description)
        } catch {
            // A scan stopped while it asks who it is (a watch told to stop) is abandoned, not misconfigured.
            if error is CancellationError || Task.isCancelled { throw CancellationError() }
            let (code, message) = caller.describe(error)
            throw ScanSetupError("cannot establish the caller identity: \(code): \(message)")
        }
        let partition = identity["Arn"].stringValue.flatMap { $0.split(separator: ":").dropFirst().first.map(String.init) } ?? "aws"
        return (identity, partition)
    }

    /// The enabled regions of one account, narrowed by the target's; a region asked for that is
    /// not enabled is an error of that account, an unknown one a setup error.
    func regions(_ calls: DiscoveryCalls, spec: ProviderSpec, target: ScanTarget, engine: CollectionEngine, account: AccountTarget)
        async throws -> ([String], [CollectionError])
    {
        let regionsCall = calls.regions
        let context = CollectionEngine.baseContext(scope: CollectionScope(account: account.id, region: homeRegion), account: account)
        var errors: [CollectionError] = []
        var regions: [String]
        var answer: JSONValue?
        do {
            answer = try await engine.discover(
                regionsCall, in: spec, scope: CollectionScope(account: account.id, region: homeRegion), context: context)
        } catch {
            let (code, message) = caller.describe(error)
            errors.append(
                CollectionError(
                    kind: .discovery, service: regionsCall.service, account: account.id, region: homeRegion,
                    operation: regionsCall.operation, code: code, message: "could not list enabled regions: \(message)"))
        }
        if let answer {
            let listed = RegionList(answer)
            if let wanted = target.regions {
                // A name the partition does not have is a typo: refused before any collection call.
                let unknown = Set(wanted).subtracting(listed.all).sorted()
                if !unknown.isEmpty, !listed.all.isEmpty { throw ScanSetupError(listed.unknownMessage(unknown)) }
                for r in Set(wanted).sorted() where !listed.enabled.contains(r) {
                    errors.append(
                        CollectionError(
                            kind: .scopeUnavailable, service: regionsCall.service, account: account.id, region: r,
                            operation: regionsCall.operation, code: "RegionNotEnabled",
                            message:
                                "region \(r) is not enabled for this account (opt-in status \(listed.optIn[r] ?? "unknown")); not scanned"))
                }
                regions = Array(Set(wanted.filter { listed.enabled.contains($0) })).sorted()
            } else {
                regions = listed.enabled.sorted()
            }
        } else {
            regions = Array(Set(target.regions ?? [homeRegion])).sorted()
        }
        return (regions, errors)
    }
}

/// How AWS results appear in OCSF evidence.
public struct AWSEvidenceCloud: EvidenceCloud {
    public init() {}

    public func ocsfCloud(account: String, region: String) -> JSONValue {
        ["provider": "AWS", "region": .string(region), "account": ["uid": .string(account), "type": "AWS Account", "type_id": 10]]
    }

    public func partition(region: String) -> String? {
        if region.hasPrefix("cn-") { return "aws-cn" }
        if region.hasPrefix("us-gov-") { return "aws-us-gov" }
        return "aws"
    }
}

/// The wired-up AWS client for one target: transport, credentials, endpoints.
public struct AWSSession: Sendable {
    public var client: AWSClient
    public var homeRegion: String
    /// A client signing with other credentials over the same transport, endpoints and clock.
    var makeClient: @Sendable (any AWSCredentialProvider) -> AWSClient
    /// The credentials `client` signs with.
    var credentials: (any AWSCredentialProvider)?

    public init(client: AWSClient, homeRegion: String) {
        self.client = client
        self.homeRegion = homeRegion
        self.makeClient = { [client] in client.with(credentials: $0) }
    }

    /// A client for `roleArn`, assumed with this session's credentials (refreshed before they expire).
    func assuming(_ roleArn: String, externalId: String?) -> AWSClient {
        let base = credentials.map(makeClient) ?? client
        return makeClient(
            RefreshingCredentialProvider(
                AssumeRoleCredentialProvider(roleArn: roleArn, externalId: externalId, region: homeRegion, client: base)))
    }

    /// Reads the target's profile, home region, role and CA bundle (`ca_bundle`, else the
    /// profile's `ca_bundle`, else `AWS_CA_BUNDLE`, else the session's default trust) and
    /// resolves credentials. A mistake is a ``ScanSetupError``.
    public static func make(target: ScanTarget, context: ConnectionContext, organizationScan: Bool = false) async throws -> AWSSession {
        let environment = context.environment
        let files: SharedConfigFiles
        do {
            files = try SharedConfigFiles.load(environment: environment)
        } catch {
            throw ScanSetupError("\(error)")
        }
        let profileName = AWSCredentialChain.profileName(environment: environment, explicitProfile: target.profile)
        let profile = files.profiles[profileName] ?? [:]
        let homeRegion =
            target.options["home_region"] ?? AWSCredentialChain.region(environment: environment, files: files, profile: profileName)
        let bundle = target.options["ca_bundle"] ?? nonEmpty(profile["ca_bundle"]) ?? nonEmpty(environment["AWS_CA_BUNDLE"])
        let transport: any HTTPTransport
        do {
            transport = try await context.transports.transport(caBundle: bundle)
        } catch {
            throw ScanSetupError("\(error)")
        }
        let endpoints = AWSEndpointResolver(environment: environment, profileEndpointURL: profile["endpoint_url"])
        let clock = ClockOffset()
        let makeClient: @Sendable (any AWSCredentialProvider) -> AWSClient = { creds in
            AWSClient(
                transport: transport, credentials: creds, endpoints: endpoints, retryPolicy: context.retryPolicy,
                counters: context.counters, clock: clock, logger: context.logger, userAgent: context.userAgent)
        }
        let chain = AWSCredentialChain(
            environment: environment, explicitProfile: target.profile, files: files, region: homeRegion,
            transport: transport, makeClient: makeClient)
        var provider: any AWSCredentialProvider
        do {
            provider = try await chain.resolve()
        } catch let error as CredentialError {
            throw ScanSetupError(error.description)
        }
        if let roleArn = target.options["role_arn"] {
            provider = RefreshingCredentialProvider(
                AssumeRoleCredentialProvider(
                    roleArn: roleArn, externalId: target.options["external_id"], region: homeRegion, client: makeClient(provider)))
        } else if target.options["external_id"] != nil, !organizationScan {
            throw ScanSetupError("\(target.origin): external_id needs role_arn (or org)")
        }
        var session = AWSSession(client: makeClient(provider), homeRegion: homeRegion)
        session.makeClient = makeClient
        session.credentials = provider
        return session
    }
}

private func nonEmpty(_ s: String?) -> String? {
    guard let s = s?.trimmingCharacters(in: .whitespaces), !s.isEmpty else { return nil }
    return s
}

/// DescribeRegions with `AllRegions`: every region of the partition and its opt-in status.
struct RegionList {
    var all: Set<String> = []
    var enabled: Set<String> = []
    var optIn: [String: String] = [:]

    init(_ answer: JSONValue) {
        for item in answer.asList {
            // An older spec (or an emulator) may answer with bare names: each is enabled.
            guard let name = item["regionName"].stringValue ?? item.stringValue else { continue }
            let status = item["optInStatus"].stringValue ?? "opt-in-not-required"
            all.insert(name)
            optIn[name] = status
            if status != "not-opted-in" { enabled.insert(name) }
        }
    }

    /// `unknown region us-eats-1 (did you mean us-east-1?); the partition has: …`
    func unknownMessage(_ unknown: [String]) -> String {
        let known = all.sorted()
        let parts = unknown.map { name in
            EditDistance.nearest(to: name, in: known).map { "\(name) (did you mean \($0)?)" } ?? name
        }
        return "unknown region \(parts.joined(separator: ", ")); this partition has \(known.joined(separator: ", "))"
    }
}
