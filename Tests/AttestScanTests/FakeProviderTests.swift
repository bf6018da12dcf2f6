import AttestCollect
import AttestControls
import AttestCore
import AttestEvidence
import AttestInventory
import AttestScan
import AttestTestSupport
import Foundation
import Synchronization
import Testing

/// A second provider, FakeCloud (`Tests/Support/FakeCloud.swift` and `Tests/Support/fakecloud/`),
/// scanned through the same pipeline as AWS: its specs, caller, transform, rule function and
/// evidence cloud object plug in through `CloudProvider` alone.
final class Lines: Sendable { let value = Mutex<[String]>([]) }

@Suite("The pipeline with a second provider")
struct FakeProviderTests {
    static let accounts = [
        FakeCloud.Account(
            id: "acct-a", secret: "secret-a",
            owners: [("ann", "Ann", "ann@example.com"), ("bob", "Bob", "bob@elsewhere.test")],
            widgets: [
                "north": [
                    FakeCloud.Widget(id: "w1", name: "alpha", encrypted: true, owner: "ann", isPublic: false),
                    FakeCloud.Widget(id: "w2", name: "beta", encrypted: false, owner: "bob", isPublic: true),
                    FakeCloud.Widget(id: "w3", name: "gamma", encrypted: true, owner: "ann", isPublic: nil),
                ],
                "south": [FakeCloud.Widget(id: "w4", name: "delta", encrypted: false, owner: "ann", isPublic: nil)],
            ]),
        FakeCloud.Account(
            id: "acct-b", secret: "secret-b", owners: [("cy", "Cy", "cy@example.com")],
            widgets: [
                "north": [FakeCloud.Widget(id: "w9", name: "omega", encrypted: true, owner: "cy", isPublic: false)],
                "south": [FakeCloud.Widget(id: "w8", name: "hidden", encrypted: false, owner: "cy", isPublic: nil)],
            ],
            deniedRegions: ["south"]),
    ]

    static func loaded() throws -> (ProviderRegistry, ProviderSpec, ControlPlan) {
        let registry = try ProviderRegistry([FakeCloudProvider()])
        let provider = FakeCloudProvider()
        let spec = try SpecLoader.loadProvider(
            directory: TestPaths.fakeCloud.appendingPathComponent("providers/fake"), provider: "fake",
            transforms: try registry.transforms(for: provider))
        try spec.validateScopes(levels: provider.scopeLevels.map(\.name))
        try provider.validate(spec)
        let controls = try ControlLoader.load(
            directories: [TestPaths.fakeCloud.appendingPathComponent("controls")],
            environment: try registry.ruleEnvironment())
        let frameworks = try FrameworkSet(directory: TestPaths.repository.appendingPathComponent("controls/frameworks"), controls: controls)
        return (registry, spec, ControlPlan(controls: controls, frameworks: frameworks, failThreshold: .high))
    }

    @Test func twoAccountsScanIntoOneGraphOneResultSetAndOneVerifiedEvidenceScan() async throws {
        try await FakeCloud.with(Self.accounts) { cloud in try await scanTwoAccounts(cloud) }
    }

    func scanTwoAccounts(_ cloud: FakeCloud) async throws {
        let (registry, spec, plan) = try Self.loaded()
        let store = LocalEvidenceStore(root: try TestPaths.temporaryDirectory("fake-evidence"))
        let lines = Lines()
        let evidence = EvidenceScanSink(
            writer: EvidenceWriter(store: store, key: EvidenceSigningKey()), toolVersion: "test",
            configDigest: "", clouds: registry.evidenceClouds
        ) { line in lines.value.withLock { $0.append(line) } }
        let pipeline = ScanPipeline(registry: registry, specs: ["fake": spec], plan: plan, sinks: [evidence])
        let environment = ["FAKE_CLOUD_URL": cloud.baseURL, "FAKE_CLOUD_SECRET_A": "secret-a", "FAKE_CLOUD_SECRET_B": "secret-b"]
        let outcome = try await ScanSession.withSession(environment: environment, userAgent: "attest-test") { session in
            try await pipeline.run(
                [
                    ScanTarget(provider: "fake", profile: "a", options: ["label": "first"], origin: "target a"),
                    ScanTarget(provider: "fake", profile: "b", origin: "target b"),
                ], in: session)
        }

        // One graph: both accounts, owners, quotas fanned out per region, paged widgets, edges.
        let g = outcome.graph
        #expect(outcome.accounts == ["acct-a", "acct-b"])
        #expect(outcome.targets.map(\.principal) == ["client-acct-a", "client-acct-b"])
        #expect(
            g.resources(ofType: "fake.widgets.widget").map(\.id) == [
                "fake:acct-a:north:widget/w1", "fake:acct-a:north:widget/w2", "fake:acct-a:north:widget/w3",
                "fake:acct-a:south:widget/w4", "fake:acct-b:north:widget/w9",
            ])
        #expect(
            g.resources(ofType: "fake.directory.quota").map { "\($0.id)=\($0.attributes["widgets"]?.intValue ?? -1)" } == [
                "fake:acct-a:north:quota=30", "fake:acct-a:south:quota=10", "fake:acct-b:north:quota=10", "fake:acct-b:south:quota=10",
            ])
        #expect(g.resources(ofType: "fake.directory.quota").map(\.region) == ["north", "south", "north", "south"])
        #expect(g.resources(ofType: "fake.directory.owner").allSatisfy { $0.region == "global" })
        #expect(g["fake:acct-a:north:widget/w2"]?.attributes["public"] == true)
        #expect(g["fake:acct-a:north:widget/w3"]?.attributes["public"] == .null)  // absent_on NotFound: no policy, no error
        #expect(g["fake:acct-a:north:widget/w1"]?.attributes["label"] == "ALPHA")  // the provider's transform
        #expect(g.edges(from: "fake:acct-a:north:widget/w2").map(\.to) == ["fake:acct-a:owner/bob"])

        // What could not be read: exactly account b's south widgets.
        #expect(
            outcome.errors.map { "\($0.account)/\($0.region) \($0.service) \($0.operation) \($0.code)" } == [
                "acct-b/south widgets ListWidgets AccessDenied"
            ])

        // One result set: account b's gap in south is one error result there, and turns nothing
        // else into an error, in its own account or the other.
        let results = try #require(outcome.evaluation).results
        func status(_ control: String, _ subject: String) -> String? {
            results.first { $0.controlID == control && $0.subject == subject }?.status.rawValue
        }
        let encrypted = "fake-widgets-widget-encrypted"
        let owner = "fake-widgets-owner-in-company"
        #expect(status(encrypted, "fake:acct-a:north:widget/w1") == "pass")
        #expect(status(encrypted, "fake:acct-a:north:widget/w2") == "fail")
        #expect(status(encrypted, "fake:acct-a:south:widget/w4") == "fail")
        #expect(status(encrypted, "fake:acct-b:north:widget/w9") == "pass")
        #expect(status(owner, "fake:acct-a:north:widget/w1") == "pass")
        #expect(status(owner, "fake:acct-a:north:widget/w2") == "fail")  // the provider's rule function
        let gap = results.filter { $0.status == .error }
        #expect(gap.map { "\($0.controlID) \($0.account)/\($0.region)" } == ["\(owner) acct-b/south", "\(encrypted) acct-b/south"])
        #expect(gap.allSatisfy { $0.reason?.contains("AccessDenied") == true })
        #expect(results.count == 12)
        #expect(outcome.verdict() == .findings)

        // One evidence scan over both accounts, verified, each record naming its cloud.
        #expect(lines.value.withLock { $0 }.count == 1)
        let report = try await EvidenceVerifier(store: store).verify()
        #expect(report.isIntact, "\(report.findings)")
        #expect(report.scans.count == 1)
        let manifest = try #require(try await EvidenceIndex.manifests(in: store, from: nil, to: nil).last)
        #expect(manifest.accounts == ["acct-a", "acct-b"])
        #expect(manifest.provider == "fake")
        // soc2 CC6.1 holds both controls' 12 results, iso27001 A.8.24 the encryption control's 6.
        #expect(report.records == 18)
        let file = try #require(manifest.files.first { $0.framework == "soc2" })
        let record = try JSONValue.parse(
            try #require(try await store.read(file.key)).split(separator: 0x0A).first.map { Data($0) } ?? Data())
        #expect(record["cloud"]["provider"] == "FakeCloud")
        #expect(record["cloud_partition"] == .null)

        // The bearer token was fetched once per account, whatever the number of calls.
        #expect(cloud.requests.filter { $0 == "POST /token" }.count == 2)
        #expect(cloud.requests.count > 20)
    }

    @Test func aTimeLimitStopsWhatIsStillRunningAndKeepsWhatWasRead() async throws {
        let stalled = [
            FakeCloud.Account(
                id: "acct-s", secret: "secret-s", owners: [("ann", "Ann", "ann@example.com")],
                widgets: [
                    "north": [FakeCloud.Widget(id: "w1", name: "a", encrypted: true, owner: "ann", isPublic: false)],
                    "south": [FakeCloud.Widget(id: "w2", name: "b", encrypted: true, owner: "ann", isPublic: false)],
                ],
                stalledRegions: ["south"])
        ]
        try await FakeCloud.with(stalled) { cloud in
            let (registry, spec, plan) = try Self.loaded()
            var pipeline = ScanPipeline(registry: registry, specs: ["fake": spec], plan: plan)
            // Long enough for the answering region on a loaded machine; the stalled one never answers.
            pipeline.timeLimit = .seconds(6)
            let outcome = try await ScanSession.withSession(
                environment: ["FAKE_CLOUD_URL": cloud.baseURL, "FAKE_CLOUD_SECRET_S": "secret-s"], userAgent: "attest-test"
            ) { session in
                try await pipeline.run([ScanTarget(provider: "fake", profile: "s")], in: session)
            }
            #expect(outcome.timedOut)
            // What answered is kept; the stalled list is an error saying why, and the scan is incomplete.
            #expect(outcome.graph["fake:acct-s:north:widget/w1"] != nil)
            #expect(outcome.errors.map { "\($0.region) \($0.operation) \($0.code)" } == ["south ListWidgets TimeLimit"])
            #expect(outcome.errors.first?.message.contains("time limit (6 s)") == true)
            #expect(outcome.evaluation?.results.contains { $0.region == "south" && $0.status == .error } == true)
            #expect(outcome.verdict() != .clean)
        }
    }

    @Test func theGenericTargetsNameNoProvider() throws {
        // No provider-specific code in the generic targets: no AWS module imported, no AWS literal.
        let generic = [
            "AttestCollect", "AttestControls", "AttestEvidence", "AttestScan", "AttestReport", "AttestInventory", "AttestHTTP",
            "AttestCore",
        ]
        let forbidden = [
            "import AttestAWS", "import AttestSigV4", "import AttestPolicy", "import AttestAWSProvider", "\"aws\"", "\"AWS\"",
            "provider == ",
        ]
        var found: [String] = []
        for target in generic {
            let dir = TestPaths.repository.appendingPathComponent("Sources/\(target)")
            for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) where name.hasSuffix(".swift") {
                let text = try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
                for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                    for f in forbidden where line.contains(f) && !line.trimmingCharacters(in: .whitespaces).hasPrefix("///") {
                        found.append("\(target)/\(name):\(n + 1): \(line)")
                    }
                }
            }
        }
        #expect(found == [])
    }
}
