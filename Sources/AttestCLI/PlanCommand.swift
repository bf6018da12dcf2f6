import ArgumentParser
import AttestCEL
import AttestCollect
import AttestControls
import AttestCore
import AttestInventory
import AttestReport
import AttestScan
import AttestTerraform
import Foundation

/// `attest plan PLAN.json`: the same control files that judge a scan, over a Terraform plan.
struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan", abstract: "Evaluate the plan-capable controls over a Terraform plan (terraform show -json PLANFILE).",
        discussion: """
            Resources being deleted are not judged; no-op resources are judged as they will be. A rule that reads a value \
            known only after apply is "unknown" (never a pass or a fail, not counted by --fail-on), with the attribute named. \
            Exit status: 0 nothing blocks, 1 a failure at or above --fail-on, 2 a mistake in the plan, flags, config, \
            controls or exceptions, 3 a result could not be evaluated.
            """)

    @Argument(
        help: ArgumentHelp("The plan as JSON: terraform show -json PLANFILE > plan.json (- reads standard input).", valueName: "plan"))
    var planFile: String

    @Option(
        help: ArgumentHelp(
            "The Terraform sources the plan was made from: results get the file and line of their resource block.", valueName: "dir"))
    var tfDir: String?

    @Option(help: "Directory holding the provider specs and the Terraform mappings (providers/terraform).")
    var providers: String?

    @OptionGroup var output: OutputOptions
    @OptionGroup var controlSource: ControlSourceOptions
    @OptionGroup var controlRun: ControlRunOptions

    func validate() throws {
        if controlRun.noControls { throw ValidationError("--no-controls: a plan is only read to be judged") }
        if output.timeLimit != nil { throw ValidationError("--time-limit applies to scans; a plan is read from a file") }
        if let tfDir {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: tfDir, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("--tf-dir: no such directory \(tfDir)")
            }
        }
    }

    func run() async throws {
        LogSetup.bootstrap(level: output.logLevel)
        let startedAt = Date()
        let config = try AttestCLIConfig.load(controlSource.config)
        let suite = try ControlSuite.load(controlSource, providers: providers, config: config)
        guard let controlPlan = try suite.plan(controlRun, defaultFailOn: .info) else { throw ExitCode(ExitStatus.usage) }
        let destinations = try output.destinations()
        let mappings = try PlanSetup.mappings(providers: providers)
        try PlanSetup.checkCoverage(controlPlan.controls, mappings: mappings)

        let plan = try PlanSetup.readPlan(planFile)
        let built = PlanGraph.build(plan, mappings: mappings)
        let planControls = controlPlan.controls.filter(\.planCapable)
        var evaluated = controlPlan
        evaluated.controls = planControls
        let engine = ControlEngine(controls: planControls, parameterOverrides: controlPlan.parameterOverrides)
        var results = await engine.evaluate(graph: built.graph, now: startedAt)
        let (excepted, usage) = controlPlan.exceptions.apply(
            to: results, graph: built.graph, controls: Set(planControls.map(\.id)), now: startedAt)
        results = excepted
        // Sensitive values were read by the rules; nothing prints them.
        let shown = PlanSetup.redacted(built.graph, sensitive: built.sensitive)
        var evaluation = ControlEvaluation(plan: evaluated, results: results, graph: shown, evaluatedAt: startedAt)
        evaluation.exceptionUsage = usage
        let accounts = Set(shown.resources.values.map(\.account)).sorted()
        let regions = Set(shown.resources.values.map(\.region)).sorted()
        var outcome = ScanOutcome(
            id: UUID().uuidString.lowercased(), startedAt: startedAt, finishedAt: Date(),
            targets: [
                ScannedTarget(
                    provider: mappings.map(\.provider).sorted().joined(separator: ","), origin: "terraform plan \(plan.file)",
                    accounts: accounts, principal: nil, regions: regions,
                    services: Set(planControls.map(\.service)).sorted())
            ], graph: shown, errors: [], calls: 0, retries: 0)
        outcome.evaluation = evaluation

        var report = ScanReport(outcome, toolVersion: attestVersion)
        report.plan = ScanReport.PlanSummary(
            file: plan.file, formatVersion: plan.formatVersion, terraformVersion: plan.terraformVersion, actions: built.actions,
            unmapped: built.unmapped, notes: built.notes, controlsNotPlanCapable: controlPlan.controls.count - planControls.count)
        if let tfDir {
            let locator = SourceLocator(directory: tfDir, plan: plan)
            var cache: [String: ScanReport.SourceLocation?] = [:]
            for i in (report.results ?? []).indices {
                guard let id = report.results?[i].resource, let source = built.sources[id] else { continue }
                if cache[source.address] == nil {
                    cache[source.address] = locator.locate(type: source.terraformType, name: source.name, modulePath: source.modulePath)
                        .map { ScanReport.SourceLocation(file: $0.file, line: $0.line) }
                }
                report.results?[i].location = cache[source.address] ?? nil
            }
        }
        for note in built.notes where !output.quiet { Diagnostics.line(note) }

        try ReportSink.write(report, to: destinations, summaryOnStdout: !output.quiet)
        if evaluation.hasBlockingFailures { throw ExitCode(ExitStatus.findings) }
        if evaluation.count(.error) > 0 {
            Diagnostics.line("\(evaluation.count(.error)) control result(s) could not be evaluated")
            throw ExitCode(ExitStatus.incomplete)
        }
        throw ExitCode(ExitStatus.complete)
    }
}

/// Loading what `attest plan` needs, each mistake a one-line error (exit 2).
enum PlanSetup {
    /// Every `providers/terraform/<provider>.yaml` of a registered provider, with that provider's transforms.
    static func mappings(providers: String?) throws -> [PlanMapping] {
        let dir = try directory(providers: providers)
        var out: [PlanMapping] = []
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir.path))?.filter { $0.hasSuffix(".yaml") }.sorted() ?? []
        for file in files {
            let id = String(file.dropLast(".yaml".count))
            guard let provider = Providers.registry.provider(id) else { continue }
            do {
                out.append(
                    try PlanMapping.load(
                        file: dir.appendingPathComponent(file), transforms: try Providers.registry.transforms(for: provider)))
            } catch let error as SpecError {
                throw ConfigurationError("invalid Terraform mapping: \(error.description)")
            }
        }
        guard !out.isEmpty else { throw ConfigurationError("no Terraform mapping in \(dir.path) (expected aws.yaml)") }
        return out
    }

    static func directory(providers: String?) throws -> URL {
        if let providers {
            let url = URL(fileURLWithPath: providers)
            for candidate in [url.appendingPathComponent("terraform"), url.appendingPathComponent("providers/terraform")]
            where FileManager.default.fileExists(atPath: candidate.path) {
                return candidate
            }
        }
        return try ProviderLocator.root(override: providers).appendingPathComponent("providers/terraform")
    }

    /// A control that says `plan: true` must read only what the mappings give its types: a
    /// mistake there would make every plan's result an error, so it is refused up front.
    static func checkCoverage(_ controls: [Control], mappings: [PlanMapping]) throws {
        var attributes: [String: Set<String>] = [:]
        for m in mappings { attributes.merge(m.attributesByType) { $0.union($1) } }
        for control in controls where control.planCapable {
            // It runs over the types a plan can hold; those it reads through the graph must all be there.
            let judged = control.resourceTypes.filter { attributes[$0] != nil }
            guard !judged.isEmpty else {
                throw ConfigurationError(
                    "\(control.file):\(control.assertLine): \(control.id) says plan: true, but no Terraform resource maps to \(control.resourceTypes.joined(separator: ", "))"
                )
            }
            for type in control.reads where attributes[type] == nil {
                throw ConfigurationError(
                    "\(control.file):\(control.assertLine): \(control.id) says plan: true and reads \(type), but no Terraform resource maps to it"
                )
            }
            let types = judged + control.reads
            guard
                let read = ControlEngine.attributesRead(by: [control.assertion.source, control.appliesIf?.source ?? ""])
            else { continue }
            let given = types.reduce(into: Set<String>()) { $0.formUnion(attributes[$1] ?? []) }
            if let missing = read.subtracting(given).sorted().first {
                throw ConfigurationError(
                    "\(control.file):\(control.assertLine): \(control.id) says plan: true, but the Terraform mapping gives no attribute \(missing) to \(types.joined(separator: ", "))"
                )
            }
        }
    }

    static func readPlan(_ path: String) throws -> TerraformPlan {
        let data: Data
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard FileManager.default.fileExists(atPath: path) else { throw ConfigurationError("\(path): no such plan file") }
            do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
                throw ConfigurationError("\(path): cannot read: \(error.localizedDescription)")
            }
        }
        do {
            return try TerraformPlan.parse(data, file: path == "-" ? "(standard input)" : path)
        } catch let error as PlanError {
            throw ConfigurationError(error.description)
        }
    }

    /// The graph with sensitive attributes' values replaced, for every output.
    static func redacted(_ graph: InventoryGraph, sensitive: [String: Set<String>]) -> InventoryGraph {
        guard !sensitive.isEmpty else { return graph }
        var resources = Array(graph.resources.values)
        for i in resources.indices {
            for name in sensitive[resources[i].id] ?? [] where resources[i].attributes[name] != nil {
                resources[i].attributes[name] = .string("(sensitive)")
            }
        }
        return InventoryGraph(resources: resources, edges: Array(graph.edges))
    }
}
