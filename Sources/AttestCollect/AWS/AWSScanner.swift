import AttestAWS
import AttestCore
import AttestHTTP
import AttestInventory
import Foundation
import Logging

/// What a user asked to scan.
public struct AWSScanRequest: Sendable {
    /// Limit to these regions (nil: every enabled region).
    public var regions: [String]?
    /// Limit to these services (nil: every service with a spec).
    public var services: [String]?
    public var homeRegion: String

    public init(regions: [String]? = nil, services: [String]? = nil, homeRegion: String = "us-east-1") {
        self.regions = regions
        self.services = services
        self.homeRegion = homeRegion
    }
}

/// The outcome of a scan: the graph, what could not be read, and when and where it ran.
public struct ScanResult: Sendable {
    public var id: String
    public var provider: String
    public var account: String
    public var principal: String?
    public var regions: [String]
    public var services: [String]
    public var startedAt: Date
    public var finishedAt: Date
    public var graph: InventoryGraph
    public var errors: [CollectionError]
    public var calls: Int
    public var retries: Int

    /// A scan is complete when nothing failed to be read.
    public var isComplete: Bool { errors.isEmpty }
}

/// A scan that could not start: no identity, unknown service, bad region list.
public struct ScanSetupError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = SecretScrubber.shared.scrub(description) }
}

/// Runs an AWS scan: who am I (STS), which regions are enabled (EC2), then every service spec.
public struct AWSScanner: Sendable {
    public let spec: ProviderSpec
    public let client: AWSClient
    public var unitConcurrency = 12
    public var itemConcurrency = 8
    let logger: Logger

    public init(spec: ProviderSpec, client: AWSClient, logger: Logger = Logger(label: "attest.scan")) {
        self.spec = spec
        self.client = client
        self.logger = logger
    }

    public func scan(_ request: AWSScanRequest, progress: (any CollectionProgress)? = nil) async throws -> ScanResult {
        let started = Date()
        try AWSServiceCaller.validate(spec)
        let caller = AWSServiceCaller(client: client)
        var services = spec.services.filter { !$0.resources.isEmpty }
        if let wanted = request.services {
            let known = Set(services.map(\.id))
            let unknown = wanted.filter { !known.contains($0) }
            guard unknown.isEmpty else {
                throw ScanSetupError("unknown service \(unknown.joined(separator: ", ")) (known: \(known.sorted().joined(separator: ", ")))")
            }
            services = services.filter { wanted.contains($0.id) }
        }

        // Identity: fails the scan outright, since nothing else can work without it.
        let identity: JSONValue
        do {
            identity = try await discover("identity", caller: caller, region: request.homeRegion)
        } catch {
            let (code, message) = caller.describe(error)
            throw ScanSetupError("cannot establish the caller identity: \(code): \(message)")
        }
        guard let account = identity["Account"].stringValue, !account.isEmpty else {
            throw ScanSetupError("GetCallerIdentity answered without an account id")
        }
        let partition = identity["Arn"].stringValue.flatMap { $0.split(separator: ":").dropFirst().first.map(String.init) } ?? "aws"

        // Regions: the enabled ones, narrowed by --regions; an unreadable list falls back to what was asked.
        var errors: [CollectionError] = []
        var regions: [String]
        do {
            let answer = try await discover("regions", caller: caller, region: request.homeRegion)
            let enabled = answer.asList.compactMap(\.stringValue).sorted()
            if let wanted = request.regions {
                let unknown = wanted.filter { !enabled.contains($0) }
                for r in unknown {
                    errors.append(CollectionError(service: "ec2", region: r, operation: "DescribeRegions", code: "RegionNotEnabled",
                                                  message: "region \(r) is not enabled for this account; not scanned"))
                }
                regions = Array(Set(wanted.filter { enabled.contains($0) })).sorted()
            } else {
                regions = enabled
            }
        } catch {
            let (code, message) = caller.describe(error)
            errors.append(CollectionError(service: "ec2", region: request.homeRegion, operation: "DescribeRegions", code: code,
                                          message: "could not list enabled regions: \(message)"))
            regions = (request.regions ?? [request.homeRegion]).sorted()
        }

        let engine = CollectionEngine(caller: caller, unitConcurrency: unitConcurrency, itemConcurrency: itemConcurrency,
                                      progress: progress, logger: logger)
        let collected = await engine.collect(
            services: services,
            target: CollectionTarget(account: account, partition: partition, homeRegion: request.homeRegion, regions: regions))
        return ScanResult(id: UUID().uuidString.lowercased(), provider: "aws", account: account,
                          principal: identity["Arn"].stringValue, regions: regions, services: services.map(\.id).sorted(),
                          startedAt: started, finishedAt: Date(), graph: collected.graph,
                          errors: (errors + collected.errors).sorted(), calls: client.counters.calls, retries: client.counters.retries)
    }

    func discover(_ name: String, caller: AWSServiceCaller, region: String) async throws -> JSONValue {
        guard let call = spec.discovery[name], let service = spec.service(call.service),
              let op = service.operations[call.operation] else {
            throw ScanSetupError("providers/aws/provider.yaml has no discovery call \(name)")
        }
        var params: [String: JSONValue] = [:]
        for (k, v) in call.parameters {
            switch v {
            case .json(let j): params[k] = j
            case .template(let t): params[k] = .string(t.description)
            }
        }
        let answer = try await caller.call(service: service, operation: op, region: region, parameters: params, context: .object([:]))
        if let items = call.items { return .array(items.values(in: answer)) }
        return answer
    }

    /// The least-privilege IAM policy for a scan of `services`: every action the specs call, nothing else.
    public static func permissions(spec: ProviderSpec, services wanted: [String]? = nil) -> [String] {
        var actions: Set<String> = []
        for call in spec.discovery.values {
            if let s = spec.service(call.service), let op = s.operations[call.operation] { actions.insert(AWSServiceCaller.action(service: s, operation: op)) }
        }
        for s in spec.services where wanted == nil || wanted!.contains(s.id) {
            for r in s.resources {
                var calls: [CallSpec] = r.list.map { [$0] } ?? []
                calls += r.enrich.map(\.call)
                for c in calls {
                    for name in [c.operation] + c.before.map(\.operation) {
                        if let op = s.operations[name] { actions.insert(AWSServiceCaller.action(service: s, operation: op)) }
                    }
                }
            }
        }
        return actions.sorted()
    }
}
