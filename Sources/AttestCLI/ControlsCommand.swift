import ArgumentParser
import AttestCEL
import AttestCollect
import AttestControls
import AttestCore
import AttestInventory
import AttestReport
import AttestScan
import Foundation

/// `attest controls list|show|test|eval`: browse controls, run their inline tests, try a rule.
struct ControlsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "controls", abstract: "List, show and test controls; evaluate a CEL expression.",
        subcommands: [List.self, Show.self, Test.self, Eval.self, ControlsBenchCommand.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the controls (built-in and --controls directories).")
        @OptionGroup var source: ControlSourceOptions
        @Option(help: "Only controls mapped to this framework.") var framework: String?
        @Option(help: "Output format: table or json.") var format: OutputFormat = .table
        func validate() throws { try format.require([.table, .json]) }
        @Option(help: "Directory holding the provider specs.") var providers: String?
        @Flag(help: "Only the controls attest plan runs over a Terraform plan (plan: true, checked against the Terraform mappings).")
        var plan = false

        func run() async throws {
            let suite = try ControlSuite.load(source, providers: providers)
            var controls = suite.controls
            if plan {
                try PlanSetup.checkCoverage(controls, mappings: try PlanSetup.mappings(providers: providers))
                controls = controls.filter(\.planCapable)
            }
            if let framework {
                guard suite.frameworks.framework(framework) != nil else {
                    throw ConfigurationError(
                        "unknown framework \(framework) (known: \(suite.frameworks.frameworks.map(\.id).joined(separator: ", ")))")
                }
                controls = controls.filter { !suite.frameworks.requirements(of: $0.id, frameworks: [framework]).isEmpty }
            }
            switch format {
            case .json:
                let items: [JSONValue] = controls.map { c in
                    [
                        "id": .string(c.id), "title": .string(c.title), "severity": .string(c.severity.rawValue),
                        "resource_types": .array(c.resourceTypes.map(JSONValue.string)), "file": .string(c.file),
                        "plan": .bool(c.planCapable),
                    ]
                }
                print(JSONValue.array(items).serialized(pretty: true))
            case .table, .csv:  // csv is refused by validate()
                var rows: [[String]] = [["ID", "SEVERITY", "RESOURCE TYPES", "PLAN", "TITLE"]]
                for c in controls {
                    rows.append([c.id, c.severity.rawValue, c.resourceTypes.joined(separator: ","), c.planCapable ? "yes" : "-", c.title])
                }
                let what = plan ? "control(s) run at plan time (attest plan)" : "control(s)"
                print(TableReportFormat.render(rows) + "\(controls.count) \(what)", terminator: "\n")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one control: its rule, remediation, equivalents and framework requirements.")
        @Argument(help: "The control id.") var id: String
        @OptionGroup var source: ControlSourceOptions
        @Option(help: "Directory holding the provider specs.") var providers: String?

        func run() async throws {
            let suite = try ControlSuite.load(source, providers: providers)
            guard let c = suite.controls.first(where: { $0.id == id }) else {
                throw ConfigurationError("no control \(id) (see attest controls list)")
            }
            var out = "\(c.id) · \(c.severity.rawValue)\n\(c.title)\n\n\(c.description.trimmed)\n\nWhy: \(c.rationale.trimmed)\n\n"
            out += "Resource types: \(c.resourceTypes.joined(separator: ", "))\n"
            if let a = c.appliesIf { out += "Applies if: \(a.source.trimmed)\n" }
            out += "Assert: \(c.assertion.source.trimmed)\n"
            let params = c.parameters.merging(suite.config.controls.parameters[c.id] ?? [:]) { _, n in n }
            if !params.isEmpty { out += "Parameters: \(JSONValue.object(params).serialized())\n" }
            if !c.observed.isEmpty { out += "Observed: \(c.observed.map(\.description).joined(separator: ", "))\n" }
            out += "\nRemediation: \(c.remediation.text.trimmed)\n"
            if let cli = c.remediation.cli { out += "  CLI: \(cli.trimmed)\n" }
            if let tf = c.remediation.terraform {
                out += "  Terraform:\n" + tf.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n") + "\n"
            }
            for (k, v) in c.equivalents.sorted(by: { $0.key < $1.key }) where !v.isEmpty {
                out += "Equivalent \(k): \(v.joined(separator: ", "))\n"
            }
            let reqs = suite.frameworks.requirements(of: c.id)
            if !reqs.isEmpty {
                out += "Evidences: " + reqs.map { "\($0.framework) \($0.requirement)" }.joined(separator: ", ") + "\n"
            }
            for r in c.references { out += "See: \(r)\n" }
            out += "File: \(c.file) (\(c.tests.count) inline test(s))\n"
            print(TerminalText.safe(out), terminator: "")
        }
    }

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run controls' inline tests; exits 1 if any test's result differs from its expectation.")
        @Argument(help: "Control directories to test (default: the built-in controls and --controls directories).")
        var directories: [String] = []
        @OptionGroup var source: ControlSourceOptions
        @Option(help: "Directory holding the provider specs.") var providers: String?
        @Flag(help: "Print every test, not only failures.") var verbose = false

        func run() async throws {
            let controls: [Control]
            if directories.isEmpty {
                controls = try ControlSuite.load(source, providers: providers).controls
            } else {
                do {
                    controls = try ControlLoader.load(
                        directories: directories.map { URL(fileURLWithPath: $0) },
                        environment: try Providers.registry.ruleEnvironment())
                } catch let error as SpecError {
                    throw ConfigurationError("invalid control: \(error.description)")
                }
            }
            let outcomes = ControlTestRunner.run(controls)
            var failed = 0
            for o in outcomes {
                if !o.passed {
                    failed += 1
                    print(
                        "FAIL \(o.file):\(o.line): \(o.controlID): \(o.testName): expected \(o.expected.rawValue), got \(o.actual.rawValue)"
                            + (o.reason.map { " (\($0))" } ?? ""))
                } else if verbose {
                    print("ok   \(o.controlID): \(o.testName)")
                }
            }
            let untested = controls.filter { $0.tests.isEmpty }.map(\.id)
            for id in untested { print("WARN \(id): no inline tests") }
            print("\(outcomes.count - failed) of \(outcomes.count) test(s) passed over \(controls.count) control(s)")
            if failed > 0 { throw ExitCode(ExitStatus.findings) }
        }
    }

    struct Eval: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Evaluate a CEL expression, as a rule would, and print the value as JSON.",
            discussion:
                "Variables: resource (from --input), params (from --params), now. Example: attest controls eval --expr \"resource.attributes.versioning == 'Enabled'\" --input bucket.json"
        )
        @Option(help: "The CEL expression.") var expr: String
        @Option(
            help: "A resource as JSON (an object with type and attributes, or an attest scan report's resource); - reads standard input.")
        var input: String?
        @Option(help: "Parameters as a JSON object.") var params: String?
        @Option(help: "The time `now` stands for (RFC 3339; default: the current time).") var now: String?

        func run() async throws {
            var resource: Resource?
            if let input {
                // One resource: a bound keeps a mistaken or hostile input from costing gigabytes.
                let limit = Self.maxInputBytes
                let handle: FileHandle
                if input == "-" {
                    handle = FileHandle.standardInput
                } else {
                    guard let h = FileHandle(forReadingAtPath: input) else {
                        throw ConfigurationError("--input \(input): cannot read the file")
                    }
                    handle = h
                }
                let data = (try? handle.read(upToCount: limit + 1)) ?? Data()
                guard data.count <= limit else {
                    throw ConfigurationError("--input \(input): larger than \(limit / (1 << 20)) MiB; a resource is far smaller")
                }
                let json: JSONValue
                do { json = try JSONValue.parse(data) } catch { throw ConfigurationError("--input \(input): \(error)") }
                resource = try Self.resource(from: json)
            }
            var parameters: [String: JSONValue] = [:]
            if let params {
                guard case .object(let o)? = try? JSONValue.parse(params) else {
                    throw ConfigurationError("--params must be a JSON object")
                }
                parameters = o
            }
            var when = Date()
            if let now {
                guard let t = CELTimestamp(rfc3339: now) else { throw ConfigurationError("--now must be an RFC 3339 time") }
                when = Date(timeIntervalSince1970: TimeInterval(t.seconds))
            }
            let result: Result<CELValue, CELError>
            let environment = try Providers.registry.ruleEnvironment()
            do throws(CELSourceError) {
                result = try ControlTestRunner.evaluate(
                    expression: expr, resource: resource, params: parameters, now: when,
                    environment: environment)
            } catch {
                throw ConfigurationError("--expr:\(error.line):\(error.column): \(error.message)")
            }
            switch result {
            case .success(let value): print(value.json.serialized(pretty: true))
            case .failure(let error):
                FileHandle.standardError.write(Data("attest: evaluation error: \(error.message)\n".utf8))
                throw ExitCode(ExitStatus.findings)
            }
        }

        /// The largest `--input` read.
        static let maxInputBytes = 16 << 20

        static func resource(from json: JSONValue) throws -> Resource {
            guard case .object(let o) = json else { throw ConfigurationError("--input must be a JSON object") }
            var tags: [String: String] = [:]
            for (k, v) in o["tags"]?.objectValue ?? [:] { tags[k] = v.stringValue ?? "" }
            return Resource(
                id: o["id"]?.stringValue ?? "input", type: o["type"]?.stringValue ?? "",
                account: o["account"]?.stringValue ?? "", region: o["region"]?.stringValue ?? "",
                name: o["name"]?.stringValue ?? "", tags: tags,
                attributes: o["attributes"]?.objectValue ?? [:])
        }
    }
}

extension String {
    var trimmed: String { trimmingCharacters(in: .whitespacesAndNewlines) }
}
