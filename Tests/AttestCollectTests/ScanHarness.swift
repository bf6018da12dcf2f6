import AttestAWS
import AttestAWSProvider
import AttestCEL
import AttestCollect
import AttestCore
import AttestEvidence
import AttestHTTP
import AttestInventory
import AttestScan
import AttestTestSupport
import Foundation

/// The seeded sample account in one moto_server shared by the read-only tests of a run.
struct SeededMoto: Sendable {
    let moto: MotoServer
    let seed: [String: String]

    static let shared = Task<SeededMoto, any Error> {
        let moto = try await MotoServer.start()
        let seed = try await moto.seed()
        return SeededMoto(moto: moto, seed: seed.compactMapValues { $0 as? String })
    }

    /// The sample account with every area seeded too (`seed.py --areas`), in a moto of its own.
    static let withAreas = Task<SeededMoto, any Error> {
        let moto = try await MotoServer.start()
        let seed = try await moto.seed(areas: true)
        return SeededMoto(moto: moto, seed: seed.compactMapValues { $0 as? String })
    }

    var account: String { seed["account"]! }
    func id(_ key: String) -> String { seed[key]! }
}

/// One AWS scan as the pipeline makes it (discovery, then every spec), without controls.
struct HarnessScan: Sendable {
    var account: String
    var regions: [String]
    var services: [String]
    var graph: InventoryGraph
    var errors: [CollectionError]
    var isComplete: Bool { errors.isEmpty }
}

/// AWS with the connection made from a given client (a test transport, fixed keys), everything
/// else as shipped.
struct ClientAWSProvider: CloudProvider {
    let client: AWSClient
    let base = AWSProvider()
    var id: String { base.id }
    var scopeLevels: [ScopeLevel] { base.scopeLevels }
    var transforms: [Transform] { base.transforms }
    var ruleFunctions: [CELFunction] { base.ruleFunctions }
    var evidenceCloud: any EvidenceCloud { base.evidenceCloud }
    var targetOptionKeys: [String] { base.targetOptionKeys }
    func validate(_ spec: ProviderSpec) throws { try base.validate(spec) }
    func connect(_ target: ScanTarget, spec: ProviderSpec, context: ConnectionContext) async throws -> any ProviderConnection {
        AWSConnection(client: client, homeRegion: target.options["home_region"] ?? "us-east-1")
    }
    func permissions(spec: ProviderSpec, services: [String]?) -> JSONValue { base.permissions(spec: spec, services: services) }
}

enum ScanHarness {
    static let regions = ["us-east-1", "eu-west-1"]

    static func providerSpec() throws -> ProviderSpec {
        let spec = try SpecLoader.loadProvider(
            directory: TestPaths.repository.appendingPathComponent("providers/aws"), provider: "aws",
            transforms: try TransformRegistry.generic.adding(AWSTransforms.all))
        try spec.validateScopes(levels: AWSProvider().scopeLevels.map(\.name))
        try AWSProvider().validate(spec)
        return spec
    }

    static func client(
        endpoint: String, transport: any HTTPTransport = AsyncHTTPClientTransport(),
        accessKey: String = "AKIAEXAMPLETESTKEY01", secret: String = "test-secret-key-that-is-long-enough",
        sessionToken: String? = nil, retry: RetryPolicy = RetryPolicy(baseDelay: .milliseconds(5), maxDelay: .milliseconds(80))
    ) -> AWSClient {
        AWSClient(
            transport: transport,
            credentials: StaticCredentialProvider(
                AWSCredentials(
                    accessKeyId: accessKey, secretAccessKey: secret,
                    sessionToken: sessionToken, source: "test")),
            endpoints: AWSEndpointResolver(environment: ["AWS_ENDPOINT_URL": endpoint]), retryPolicy: retry)
    }

    /// Scans through the real pipeline with `client`.
    /// The services the base seed (`seed.py` without `--areas`) is about; the harness scans these
    /// unless told otherwise, so its exact-inventory tests are not moved by every new service.
    static let baseServices = ["iam", "s3", "s3-control", "ec2", "kms", "cloudtrail", "rds", "lambda"]

    static func scan(_ client: AWSClient, regions: [String]? = regions, services: [String]? = baseServices) async throws -> HarnessScan {
        let registry = try ProviderRegistry([ClientAWSProvider(client: client)])
        let pipeline = ScanPipeline(registry: registry, specs: ["aws": try providerSpec()], plan: nil)
        let outcome = try await ScanSession.withSession(environment: [:], userAgent: "attest-test") { session in
            try await pipeline.run([ScanTarget(provider: "aws", regions: regions, services: services)], in: session)
        }
        let target = outcome.targets[0]
        return HarnessScan(
            account: target.accounts.first ?? "", regions: target.regions, services: target.services,
            graph: outcome.graph, errors: outcome.errors)
    }

    /// The graph reduced to what must be identical between two scans of the same account:
    /// ids, types, regions, names, tags, edges (attributes compared separately where stable).
    static func shape(_ graph: InventoryGraph) -> [String] {
        graph.sortedResources.map { "\($0.type) \($0.id) \($0.region) \($0.name) \($0.tags.sorted { $0.key < $1.key })" }
            + graph.sortedEdges.map { "edge \($0.from) -\($0.kind)-> \($0.to)" }
    }
}
