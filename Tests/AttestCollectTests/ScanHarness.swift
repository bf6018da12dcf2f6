import AttestAWS
import AttestCollect
import AttestHTTP
import AttestInventory
import AttestTestSupport
import Foundation

/// The seeded sample account in one moto_server shared by the read-only tests of a run.
struct SeededMoto: Sendable {
    let moto: MotoServer
    let seed: [String: String]

    static let shared = Task<SeededMoto, any Error> {
        let moto = try await MotoServer.start()
        let seed = try moto.seed()
        return SeededMoto(moto: moto, seed: seed.compactMapValues { $0 as? String })
    }

    var account: String { seed["account"]! }
    func id(_ key: String) -> String { seed[key]! }
}

enum ScanHarness {
    static let regions = ["us-east-1", "eu-west-1"]

    static func providerSpec() throws -> ProviderSpec {
        try SpecLoader.loadProvider(directory: TestPaths.repository.appendingPathComponent("providers/aws"), provider: "aws")
    }

    static func client(endpoint: String, transport: any HTTPTransport = AsyncHTTPClientTransport(),
                       accessKey: String = "AKIAEXAMPLETESTKEY01", secret: String = "test-secret-key-that-is-long-enough",
                       sessionToken: String? = nil, retry: RetryPolicy = RetryPolicy(baseDelay: .milliseconds(5), maxDelay: .milliseconds(80))) -> AWSClient {
        AWSClient(transport: transport,
                  credentials: StaticCredentialProvider(AWSCredentials(accessKeyId: accessKey, secretAccessKey: secret,
                                                                       sessionToken: sessionToken, source: "test")),
                  endpoints: AWSEndpointResolver(environment: ["AWS_ENDPOINT_URL": endpoint]), retryPolicy: retry)
    }

    static func scan(_ client: AWSClient, regions: [String] = regions, services: [String]? = nil) async throws -> ScanResult {
        try await AWSScanner(spec: providerSpec(), client: client)
            .scan(AWSScanRequest(regions: regions, services: services, homeRegion: "us-east-1"))
    }

    /// The graph reduced to what must be identical between two scans of the same account:
    /// ids, types, regions, names, tags, edges (attributes compared separately where stable).
    static func shape(_ graph: InventoryGraph) -> [String] {
        graph.sortedResources.map { "\($0.type) \($0.id) \($0.region) \($0.name) \($0.tags.sorted { $0.key < $1.key })" }
            + graph.sortedEdges.map { "edge \($0.from) -\($0.kind)-> \($0.to)" }
    }
}
