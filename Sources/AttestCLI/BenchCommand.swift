import ArgumentParser
import AttestControls
import AttestCore
import AttestEvidence
import AttestInventory
import AttestScan
import Foundation

/// `attest controls bench`: evaluates every control over a synthetic inventory made by copying
/// a scanned inventory (each copy a separate account), and prints the figures. Run by
/// `bench/controls.sh`; never part of the tests.
struct ControlsBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmark the control engine on a synthetic inventory.", shouldDisplay: false)

    @Option(help: "A scan report (JSON) whose resources and edges are copied.") var inventory: String
    @Option(help: "Resources in the synthetic inventory.") var resources: Int = 1_000_000
    @Option(help: "Concurrent evaluation tasks (default: cores).") var concurrency: Int?
    @OptionGroup var source: ControlSourceOptions
    @Option(help: "Directory holding the provider specs.") var providers: String?
    @Option(help: "Also write the results as evidence into this (new) directory, then verify it.") var evidence: String?
    @Option(help: "Evidence for at most this many results (default: all).") var evidenceResults: Int?

    func run() async throws {
        let suite = try ControlSuite.load(source, providers: providers)
        guard let data = FileManager.default.contents(atPath: inventory), let report = try? JSONValue.parse(data) else {
            throw ConfigurationError("--inventory \(inventory): cannot read a scan report")
        }
        let template = try report["resources"].asList.map(ControlsCommand.Eval.resource(from:))
        let templateEdges = report["edges"].asList.map {
            Edge(from: $0["from"].stringValue ?? "", to: $0["to"].stringValue ?? "", kind: $0["kind"].stringValue ?? "")
        }
        guard !template.isEmpty else { throw ConfigurationError("--inventory has no resources") }

        let buildStart = Date()
        var graph = InventoryGraph()
        var copy = 0
        while graph.count < resources {
            let account = String(format: "%012d", 100_000_000_000 + copy)
            let suffix = "#\(copy)"
            for r in template where graph.count < resources {
                var c = r
                c.id += suffix
                c.account = account
                // A distinct attributes dictionary per resource, as a real inventory has.
                c.attributes["bench_copy"] = .int(Int64(copy))
                graph.add(c)
            }
            for e in templateEdges { graph.add(Edge(from: e.from + suffix, to: e.to + suffix, kind: e.kind)) }
            copy += 1
        }
        let buildSeconds = Date().timeIntervalSince(buildStart)

        let engine = ControlEngine(
            controls: suite.controls, parameterOverrides: suite.config.controls.parameters,
            concurrency: concurrency ?? ProcessInfo.processInfo.activeProcessorCount)
        let start = ContinuousClock.now
        let results = await engine.evaluate(graph: graph, now: Date())
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        var counts: [ResultStatus: Int] = [:]
        for r in results { counts[r.status, default: 0] += 1 }
        print(
            """
            resources:        \(graph.count) (\(copy) copies of \(template.count), \(graph.edges.count) edges; built in \(String(format: "%.1f", buildSeconds)) s)
            controls:         \(suite.controls.count)
            evaluations:      \(results.count) (pass \(counts[.pass] ?? 0), fail \(counts[.fail] ?? 0), error \(counts[.error] ?? 0), not applicable \(counts[.notApplicable] ?? 0))
            evaluation time:  \(String(format: "%.2f", seconds)) s
            evaluations/s:    \(Int(Double(results.count) / seconds))
            concurrency:      \(engine.concurrency)
            """)
        if let evidence { try await benchEvidence(results: results, graph: graph, suite: suite, directory: evidence) }
    }

    func benchEvidence(results all: ControlResults, graph: InventoryGraph, suite: ControlSuite, directory: String) async throws {
        if FileManager.default.fileExists(atPath: directory) {
            throw ConfigurationError("--evidence \(directory) exists; give a new directory")
        }
        let results = evidenceResults.map { ControlResults(Array(all.prefix($0))) } ?? all
        let store = LocalEvidenceStore(root: URL(fileURLWithPath: directory))
        let writer = EvidenceWriter(store: store, key: EvidenceSigningKey())
        let now = Date()
        let scan = EvidenceScan(
            scanID: EvidenceLayout.newScanID(startedAt: now), startedAt: now, finishedAt: now, provider: "aws",
            accounts: ["bench"], toolVersion: attestVersion, controlCatalogueDigest: "", configDigest: "",
            clouds: Providers.registry.evidenceClouds)
        let writeStart = ContinuousClock.now
        let written = try await writer.write(
            scan: scan, results: results, controls: Dictionary(uniqueKeysWithValues: suite.controls.map { ($0.id, $0) }),
            frameworks: suite.frameworks, graph: graph)
        let writeSeconds = Self.seconds(ContinuousClock.now - writeStart)
        let verifyStart = ContinuousClock.now
        let report = try await EvidenceVerifier(store: store).verify()
        let verifySeconds = Self.seconds(ContinuousClock.now - verifyStart)
        var bytes: Int64 = 0
        for key in try await store.list(prefix: "") {
            bytes += Int64((try? FileManager.default.attributesOfItem(atPath: directory + "/" + key)[.size] as? Int) ?? 0)
        }
        print(
            """
            evidence results: \(results.count)
            evidence records: \(written.manifest.recordCount) in \(written.manifest.files.count) files, \(String(format: "%.2f", Double(bytes) / 1e9)) GB on disk
            evidence write:   \(String(format: "%.1f", writeSeconds)) s (\(Int(Double(written.manifest.recordCount) / writeSeconds)) records/s)
            evidence verify:  \(String(format: "%.1f", verifySeconds)) s (\(report.isIntact ? "intact" : "\(report.findings.count) findings"))
            """)
    }

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
}
