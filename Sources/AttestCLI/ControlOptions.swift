import ArgumentParser
import AttestCollect
import AttestControls
import AttestCore
import AttestInventory
import Foundation

/// Options shared by every command that loads controls.
struct ControlSourceOptions: ParsableArguments {
    @Option(name: .customLong("controls"), help: ArgumentHelp("A directory of your own controls, in addition to the built-in ones (repeatable).", valueName: "dir"))
    var controlDirectories: [String] = []

    @Option(help: "Config file (default: attest.yaml in the current directory, if present).")
    var config: String?

    @Flag(help: "Leave out the built-in controls (use only --controls directories).")
    var noBuiltinControls = false
}

/// Options that choose which controls a scan runs and how results become an exit status.
struct ControlRunOptions: ParsableArguments {
    @Option(help: "Comma-separated frameworks to report on: soc2, iso27001, nis2, dora (default: all). Only controls mapped to them run.")
    var frameworks: String?

    @Option(help: "Comma-separated severities to run: critical, high, medium, low, info (default: all).")
    var severity: String?

    @Option(help: "Exit 1 when a control at or above this severity fails: critical, high, medium, low, info, or never (default: info for scans, never for the demo).")
    var failOn: String?

    @Flag(help: "Collect the inventory only; run no controls.")
    var noControls = false

    func severities() throws -> Set<Severity>? {
        guard let severity else { return nil }
        var set: Set<Severity> = []
        for item in severity.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) where !item.isEmpty {
            guard let s = Severity(rawValue: item) else {
                throw ValidationError("--severity: unknown severity \(item) (use critical, high, medium, low, info)")
            }
            set.insert(s)
        }
        return set
    }

    func failThreshold(default fallback: String = "info") throws -> Severity? {
        let failOn = self.failOn ?? fallback
        if failOn.lowercased() == "never" { return nil }
        guard let s = Severity(rawValue: failOn.lowercased()) else {
            throw ValidationError("--fail-on: use critical, high, medium, low, info or never, not \(failOn)")
        }
        return s
    }

    func frameworkIDs() -> Set<String>? {
        guard let frameworks else { return nil }
        let ids = frameworks.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
        return ids.isEmpty ? nil : Set(ids)
    }
}

/// The controls and frameworks a command works with, after config and selection.
struct ControlSuite {
    var controls: [Control]
    var frameworks: FrameworkSet
    var config: ControlConfig
    var directories: [URL]

    /// Loads the built-in controls (`controls/` beside the provider specs) and the user's
    /// directories, applies the config, and loads the framework catalogues.
    static func load(_ options: ControlSourceOptions, providers: String?) throws -> ControlSuite {
        do {
            var config = ControlConfig()
            if let path = options.config {
                guard FileManager.default.fileExists(atPath: path) else { throw ConfigurationError("--config \(path): no such file") }
                config = try ControlConfig(file: path)
            } else if FileManager.default.fileExists(atPath: "attest.yaml") {
                config = try ControlConfig(file: "attest.yaml")
            }
            let builtin = try builtinDirectory(providers: providers)
            let userDirectories = options.controlDirectories.map { URL(fileURLWithPath: $0) } + config.directories
            // The catalogues name built-in controls, so those are always loaded to check them.
            let all = try ControlLoader.load(directories: [builtin] + userDirectories)
            var controls = try config.apply(to: all)
            if options.noBuiltinControls {
                let builtinFiles = builtin.standardizedFileURL.path + "/"
                controls.removeAll { URL(fileURLWithPath: $0.file).standardizedFileURL.path.hasPrefix(builtinFiles) }
            }
            let directories = (options.noBuiltinControls ? [] : [builtin]) + userDirectories
            let frameworks = try FrameworkSet(directory: builtin.appendingPathComponent("frameworks"), controls: all)
                .keeping(controls: Set(controls.map(\.id)))
            return ControlSuite(controls: controls, frameworks: frameworks, config: config, directories: directories)
        } catch let error as SpecError {
            throw ConfigurationError("invalid control or config: \(error.description)")
        }
    }

    static func builtinDirectory(providers: String?) throws -> URL {
        if let home = ProcessInfo.processInfo.environment["ATTEST_CONTROLS"] { return URL(fileURLWithPath: home) }
        let dir = try ProviderLocator.root(override: providers).appendingPathComponent("controls")
        guard FileManager.default.fileExists(atPath: dir.appendingPathComponent("frameworks").path) else {
            throw ConfigurationError("cannot find the built-in controls (\(dir.path)); set ATTEST_CONTROLS")
        }
        return dir
    }

    /// The controls a scan runs: those of the selected severities and, when frameworks are
    /// chosen, those mapped to at least one of them.
    func selected(_ run: ControlRunOptions) throws -> (controls: [Control], frameworks: FrameworkSet) {
        let severities = try run.severities()
        var chosen = controls.filter { severities?.contains($0.severity) ?? true }
        var frameworkSet = frameworks
        if let ids = run.frameworkIDs() {
            for id in ids where frameworks.framework(id) == nil {
                throw ConfigurationError("--frameworks: unknown framework \(id) (known: \(frameworks.frameworks.map(\.id).joined(separator: ", ")))")
            }
            frameworkSet = frameworks.limited(to: ids)
            chosen = chosen.filter { !frameworkSet.requirements(of: $0.id, frameworks: ids).isEmpty }
        }
        return (chosen, frameworkSet)
    }
}

/// What a scan evaluates after collection.
struct ControlPlan {
    var controls: [Control]
    var frameworks: FrameworkSet
    var parameterOverrides: [String: [String: JSONValue]]
    /// Failures at or above this severity make the exit status 1; nil never does.
    var failThreshold: Severity?

    static func make(source: ControlSourceOptions, run: ControlRunOptions, providers: String?, defaultFailOn: String = "info") throws -> ControlPlan? {
        if run.noControls { return nil }
        let suite = try ControlSuite.load(source, providers: providers)
        let (controls, frameworks) = try suite.selected(run)
        return ControlPlan(controls: controls, frameworks: frameworks, parameterOverrides: suite.config.parameters,
                           failThreshold: try run.failThreshold(default: defaultFailOn))
    }
}

/// The controls' results for one scan, with what reports need to show them.
struct ControlEvaluation {
    var plan: ControlPlan
    var results: ControlResults
    var controlsByID: [String: Control]
    /// The inventory the results were evaluated over (observed values are read from it).
    var graph: InventoryGraph

    func count(_ status: ResultStatus) -> Int { results.reduce(0) { $0 + ($1.status == status ? 1 : 0) } }

    /// True when a control at or above the plan's threshold failed.
    var hasBlockingFailures: Bool {
        guard let threshold = plan.failThreshold else { return false }
        return results.contains { $0.status == .fail && $0.severity >= threshold }
    }
}
