import ArgumentParser
import AttestControls
import AttestCore
import AttestReport
import Foundation

/// `attest frameworks list|coverage`: which requirements controls evidence, and which are manual.
struct FrameworksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "frameworks", abstract: "Compliance frameworks and how much of each the controls cover.",
        subcommands: [List.self, Coverage.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the frameworks with requirements covered automatically vs manual.")
        @OptionGroup var source: ControlSourceOptions
        @Option(help: "Output format: table or json.") var format: OutputFormat = .table
        func validate() throws { try format.require([.table, .json]) }
        @Option(help: "Directory holding the provider specs.") var providers: String?

        func run() async throws {
            let suite = try ControlSuite.load(source, providers: providers)
            let fs = suite.frameworks.frameworks
            switch format {
            case .json:
                print(
                    JSONValue.array(
                        fs.map { f in
                            [
                                "id": .string(f.id), "name": .string(f.name), "title": .string(f.title),
                                "requirements": .int(Int64(f.requirements.count)),
                                "automated": .int(Int64(f.requirements.filter { !$0.isManual }.count)),
                                "manual": .int(Int64(f.requirements.filter(\.isManual).count)),
                            ]
                        }
                    ).serialized(pretty: true))
            case .table, .csv:  // csv is refused by validate()
                var rows: [[String]] = [["ID", "REQUIREMENTS", "AUTOMATED", "MANUAL", "FRAMEWORK"]]
                for f in fs {
                    let automated = f.requirements.filter { !$0.isManual }.count
                    rows.append([
                        f.id, String(f.requirements.count), String(automated), String(f.requirements.count - automated),
                        "\(f.name): \(f.title)",
                    ])
                }
                print(TableReportFormat.render(rows), terminator: "")
            }
        }
    }

    struct Coverage: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every requirement of a framework, with the controls that evidence it or 'manual'.")
        @Argument(help: "Framework ids (default: all).") var frameworks: [String] = []
        @OptionGroup var source: ControlSourceOptions
        @Option(help: "Output format: table or json.") var format: OutputFormat = .table
        func validate() throws { try format.require([.table, .json]) }
        @Option(help: "Directory holding the provider specs.") var providers: String?

        func run() async throws {
            let suite = try ControlSuite.load(source, providers: providers)
            for id in frameworks where suite.frameworks.framework(id) == nil {
                throw ConfigurationError(
                    "unknown framework \(id) (known: \(suite.frameworks.frameworks.map(\.id).joined(separator: ", ")))")
            }
            let chosen = suite.frameworks.frameworks.filter { frameworks.isEmpty || frameworks.contains($0.id) }
            switch format {
            case .json:
                print(
                    JSONValue.array(
                        chosen.map { f in
                            [
                                "framework": .string(f.id),
                                "requirements": .array(
                                    f.requirements.map { r in
                                        [
                                            "id": .string(r.id), "title": .string(r.title), "group": r.group.map(JSONValue.string) ?? .null,
                                            "coverage": .string(r.isManual ? "manual" : "automated"),
                                            "controls": .array(r.controls.map(JSONValue.string)),
                                        ]
                                    }),
                            ]
                        }
                    ).serialized(pretty: true))
            case .table, .csv:  // csv is refused by validate()
                var out = ""
                for f in chosen {
                    let automated = f.requirements.filter { !$0.isManual }.count
                    out +=
                        "\(f.name): \(f.title)\n\(automated) of \(f.requirements.count) requirement(s) evidenced automatically, \(f.requirements.count - automated) manual\n"
                    // The controls last: the column that grows, named in full (attest controls show ID).
                    var rows: [[String]] = [["REQUIREMENT", "TITLE", "CONTROLS"]]
                    for r in f.requirements {
                        rows.append([r.id, String(r.title.prefix(60)), r.isManual ? "manual" : r.controls.sorted().joined(separator: ", ")])
                    }
                    out += TableReportFormat.render(rows) + "\n"
                }
                print(out, terminator: "")
            }
        }
    }
}
