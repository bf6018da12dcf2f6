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
    public var scopeLevels: [ScopeLevel] { [ScopeLevel("global", regional: false), ScopeLevel("regional", regional: true)] }

    public var transforms: [Transform] { AWSTransforms.all }

    public var ruleFunctions: [CELFunction] { AWSRuleFunctions.all }

    public var evidenceCloud: any EvidenceCloud { AWSEvidenceCloud() }

    /// `role_arn`/`external_id`: assume into the scanned account; `home_region`: where global
    /// services and STS are called; `ca_bundle`: the CA bundle to trust (as `AWS_CA_BUNDLE`).
    public var targetOptionKeys: [String] { ["role_arn", "external_id", "home_region", "ca_bundle"] }

    public func validate(_ spec: ProviderSpec) throws {
        try AWSServiceCaller.validate(spec)
    }

    public func connect(_ target: ScanTarget, spec: ProviderSpec, context: ConnectionContext) async throws -> any ProviderConnection {
        let session = try await AWSSession.make(target: target, context: context)
        return AWSConnection(client: session.client, homeRegion: session.homeRegion)
    }

    public func permissions(spec: ProviderSpec, services: [String]?) -> JSONValue {
        [
            "Version": "2012-10-17",
            "Statement": [
                [
                    "Sid": "AttestReadOnlyScan", "Effect": "Allow", "Resource": "*",
                    "Action": .array(Self.actions(spec: spec, services: services).map(JSONValue.string)),
                ]
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

/// An AWS connection: one signed client for the account the credentials reach.
public struct AWSConnection: ProviderConnection {
    public let client: AWSClient
    public let homeRegion: String

    public init(client: AWSClient, homeRegion: String) {
        self.client = client
        self.homeRegion = homeRegion
    }

    public var caller: any ServiceCaller { AWSServiceCaller(client: client, homeRegion: homeRegion) }

    /// Who am I (STS), which regions are enabled (EC2), narrowed by the target's regions. No
    /// identity means no scan; an unreadable region list falls back to what was asked.
    public func discover(spec: ProviderSpec, target: ScanTarget, engine: CollectionEngine) async throws -> Discovery {
        let caller = self.caller
        guard let identityCall = spec.discovery["identity"], let regionsCall = spec.discovery["regions"] else {
            throw ScanSetupError("providers/aws/provider.yaml needs the discovery calls identity and regions")
        }
        let home = CollectionScope(account: "", region: homeRegion)
        let identity: JSONValue
        do {
            identity = try await engine.discover(
                identityCall, in: spec, scope: home,
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
        guard let account = identity["Account"].stringValue, !account.isEmpty else {
            throw ScanSetupError("GetCallerIdentity answered without an account id")
        }
        let partition = identity["Arn"].stringValue.flatMap { $0.split(separator: ":").dropFirst().first.map(String.init) } ?? "aws"
        let accountTarget = AccountTarget(id: account, homeRegion: homeRegion, values: ["partition": .string(partition)])
        let context = CollectionEngine.baseContext(scope: CollectionScope(account: account, region: homeRegion), account: accountTarget)

        var errors: [CollectionError] = []
        var regions: [String]
        var answer: JSONValue?
        do {
            answer = try await engine.discover(
                regionsCall, in: spec, scope: CollectionScope(account: account, region: homeRegion),
                context: context)
        } catch {
            let (code, message) = caller.describe(error)
            errors.append(
                CollectionError(
                    kind: .discovery, service: regionsCall.service, account: account, region: homeRegion,
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
                            kind: .scopeUnavailable, service: regionsCall.service, account: account, region: r,
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
        let collection = CollectionTarget(
            accounts: [accountTarget],
            scopes: [
                "global": [CollectionScope(account: account, region: CollectionScope.global)],
                "regional": regions.map { CollectionScope(account: account, region: $0) },
            ])
        return Discovery(target: collection, principal: identity["Arn"].stringValue, regions: regions, errors: errors)
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

    /// Reads the target's profile, home region, role and CA bundle (`ca_bundle`, else the
    /// profile's `ca_bundle`, else `AWS_CA_BUNDLE`, else the session's default trust) and
    /// resolves credentials. A mistake is a ``ScanSetupError``.
    public static func make(target: ScanTarget, context: ConnectionContext) async throws -> AWSSession {
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
        } else if target.options["external_id"] != nil {
            throw ScanSetupError("\(target.origin): external_id needs role_arn")
        }
        return AWSSession(client: makeClient(provider), homeRegion: homeRegion)
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
