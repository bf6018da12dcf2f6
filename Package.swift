// swift-tools-version:6.2
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "attest",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "attest", targets: ["attest"]),
        .library(name: "AttestCollect", targets: ["AttestCollect"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.30.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.0"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.100.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.20.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.0.0"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.30.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.20.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.1.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
    ],
    targets: [
        // Values shared by every layer: JSON-like values, paths into them, templates, secret scrubbing.
        .target(name: "AttestCore", swiftSettings: strict),
        // HTTP transport seam: the protocol, the async-http-client implementation, retries, recording.
        .target(
            name: "AttestHTTP",
            dependencies: [
                "AttestCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTPCompression", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // AWS Signature Version 4, pure functions over a request description.
        .target(
            name: "AttestSigV4",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        // The AWS adapter: credentials, endpoints, wire protocols, the signed client.
        .target(
            name: "AttestAWS",
            dependencies: [
                "AttestCore", "AttestHTTP", "AttestSigV4",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The inventory graph: typed nodes and edges, lookups both ways.
        .target(name: "AttestInventory", dependencies: ["AttestCore"], swiftSettings: strict),
        // Data-driven collection: provider specs (YAML) executed by generic code into the graph.
        .target(
            name: "AttestCollect",
            dependencies: [
                "AttestCore", "AttestInventory",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The Common Expression Language: parser, checker and evaluator over JSON-like values.
        .target(name: "AttestCEL", swiftSettings: strict),
        // IAM policy documents and network rules, analysed for rules (admin, public, open ports).
        .target(name: "AttestPolicy", dependencies: ["AttestCore"], swiftSettings: strict),
        // Controls as code: control files, framework catalogues, the rule functions and the concurrent engine.
        .target(
            name: "AttestControls",
            dependencies: [
                "AttestCore", "AttestCEL", "AttestInventory", "AttestCollect",
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict
        ),
        // Evidence: OCSF records in Hive partitions, hash chains, signed manifests, stores (local, S3), queries, packages.
        .target(
            name: "AttestEvidence",
            dependencies: [
                "AttestCore", "AttestControls", "AttestInventory",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // The scan pipeline: the CloudProvider seam, targets, sessions, collect → evaluate → sinks, the config model.
        .target(
            name: "AttestScan",
            dependencies: [
                "AttestCore", "AttestHTTP", "AttestCEL", "AttestInventory", "AttestCollect", "AttestControls", "AttestEvidence",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The typed scan report and the ReportFormat seam (table, json, sarif, junit, ocsf, csv, markdown).
        .target(
            name: "AttestReport",
            dependencies: [
                "AttestCore", "AttestInventory", "AttestCollect", "AttestControls", "AttestEvidence", "AttestScan", "AttestHTTP",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        // Terraform plans: the plan JSON, the mapping of Terraform resources to inventory nodes, the plan's graph.
        .target(
            name: "AttestTerraform",
            dependencies: ["AttestCore", "AttestInventory", "AttestCollect", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict
        ),
        // Scan history in SQLite: scans, resource versions stored once per change, results; the diff between two scans.
        .target(
            name: "AttestHistory",
            dependencies: [
                "AttestCore", "AttestInventory", "AttestControls", "AttestScan",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        // AWS behind the pipeline: the CloudProvider, its caller, discovery, transforms, rule functions, S3 evidence store.
        .target(
            name: "AttestAWSProvider",
            dependencies: [
                "AttestCore", "AttestHTTP", "AttestAWS", "AttestCEL", "AttestCollect", "AttestControls", "AttestEvidence",
                "AttestInventory", "AttestPolicy", "AttestScan",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The Azure adapter: clouds and endpoints, Entra ID token flows (secret, certificate assertion,
        // workload identity, managed identity), the ARM client.
        .target(
            name: "AttestAzure",
            dependencies: [
                "AttestCore", "AttestHTTP",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Azure behind the pipeline: the CloudProvider, its caller, subscription discovery, transforms, rule functions.
        .target(
            name: "AttestAzureProvider",
            dependencies: [
                "AttestCore", "AttestHTTP", "AttestAzure", "AttestCEL", "AttestCollect", "AttestControls", "AttestEvidence",
                "AttestInventory", "AttestScan",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The Google Cloud adapter: endpoints, Application Default Credentials (service-account
        // assertions, gcloud user credentials, the metadata server), the REST client.
        .target(
            name: "AttestGCP",
            dependencies: [
                "AttestCore", "AttestHTTP",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Google Cloud behind the pipeline: the CloudProvider, its caller, project discovery, transforms.
        .target(
            name: "AttestGCPProvider",
            dependencies: [
                "AttestCore", "AttestHTTP", "AttestGCP", "AttestCEL", "AttestCollect", "AttestEvidence", "AttestScan",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Recorded responses: the fixture format and a loopback server that replays them.
        .target(
            name: "AttestReplay",
            dependencies: [
                "AttestCore", "AttestHTTP", "AttestSigV4",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The commands, as a library so tests can drive them.
        .target(
            name: "AttestCLI",
            dependencies: [
                "AttestCore", "AttestHTTP", "AttestAWS", "AttestInventory", "AttestCollect", "AttestReplay", "AttestCEL",
                "AttestControls", "AttestEvidence", "AttestScan", "AttestReport", "AttestAWSProvider", "AttestHistory", "AttestTerraform",
                "AttestAzure", "AttestAzureProvider", "AttestGCP", "AttestGCPProvider",
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(name: "attest", dependencies: ["AttestCLI"], swiftSettings: strict),

        // Test peers shared by the test targets: moto_server, loopback credential endpoints, fault injection.
        .target(
            name: "AttestTestSupport",
            dependencies: [
                "AttestCore", "AttestHTTP", "AttestReplay", "AttestSigV4", "AttestCollect", "AttestScan", "AttestEvidence",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Tests/Support",
            exclude: ["moto", "evidence", "fakecloud", "ci", "plan", "azure"],
            swiftSettings: strict
        ),
        .testTarget(name: "AttestCoreTests", dependencies: ["AttestCore"], swiftSettings: strict),
        .testTarget(
            name: "AttestHTTPTests",
            dependencies: ["AttestHTTP", "AttestCore", "AttestTestSupport", "AttestReplay", "AttestScan"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "AttestScanTests",
            dependencies: ["AttestScan", "AttestCollect", "AttestControls", "AttestCore", "AttestEvidence", "AttestInventory",
                           "AttestTestSupport", "AttestReport", "AttestAWSProvider", "AttestAzureProvider",
                           .product(name: "Yams", package: "Yams")],
            swiftSettings: strict
        ),
        .testTarget(name: "AttestSigV4Tests", dependencies: ["AttestSigV4"], swiftSettings: strict),
        .testTarget(name: "AttestCELTests", dependencies: ["AttestCEL"], exclude: ["conformance-skips.txt"], swiftSettings: strict),
        .testTarget(name: "AttestPolicyTests", dependencies: ["AttestPolicy"], swiftSettings: strict),
        .testTarget(
            name: "AttestControlsTests",
            dependencies: ["AttestControls", "AttestCEL", "AttestInventory", "AttestCollect", "AttestTestSupport", "AttestCLI", "attest",
                           "AttestAWSProvider", "AttestAzureProvider", "AttestScan"],
            exclude: ["mappings.tsv"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "AttestAWSTests",
            dependencies: ["AttestAWS", "AttestHTTP", "AttestTestSupport", "AttestReplay", "AttestSigV4", "AttestScan", "AttestAWSProvider"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "AttestAzureTests",
            dependencies: ["AttestAzure", "AttestAzureProvider", "AttestHTTP", "AttestCore", "AttestTestSupport", "AttestScan", "AttestCollect",
                           "AttestControls", "AttestInventory", "AttestEvidence", "AttestReport", "AttestCLI", "attest", "AttestCEL"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "AttestGCPTests",
            dependencies: ["AttestGCP", "AttestGCPProvider", "AttestHTTP", "AttestCore", "AttestTestSupport", "AttestScan", "AttestCollect",
                           "AttestCLI", "attest", "AttestReplay", .product(name: "_CryptoExtras", package: "swift-crypto")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "AttestCollectTests",
            dependencies: ["AttestCollect", "AttestInventory", "AttestAWS", "AttestTestSupport", "AttestReplay", "AttestCLI", "AttestControls",
                           "AttestEvidence", "attest", "AttestAWSProvider", "AttestScan", "AttestReport", "AttestHTTP", "AttestHistory",
                           "AttestTerraform", "AttestCEL", "AttestAzureProvider"],
            swiftSettings: strict
        ),
    ]
)
