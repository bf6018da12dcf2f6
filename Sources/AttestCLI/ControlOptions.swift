import ArgumentParser
import AttestCEL
import AttestCollect
import AttestControls
import AttestCore
import AttestInventory
import AttestScan
import Foundation

/// Options shared by every command that loads controls.
struct ControlSourceOptions: ParsableArguments {
    @Option(
        name: .customLong("controls"),
        help: ArgumentHelp("A directory of your own controls, in addition to the built-in ones (repeatable).", valueName: "dir"))
    var controlDirectories: [String] = []

    @Option(help: "Config file (default: attest.yaml in the current directory, if present).")
    var config: String?

    @Flag(help: "Leave out the built-in controls (use only --controls directories).")
    var noBuiltinControls = false
}

/// `--fail-on`: a severity, or `never`.
enum FailOn: String, ExpressibleByArgument, CaseIterable {
    case critical, high, medium, low, info, never

    var threshold: Severity? { Severity(rawValue: rawValue) }
}

/// Options that choose which controls a scan runs and how results become an exit status.
struct ControlRunOptions: ParsableArguments {
    @Option(help: "Comma-separated frameworks to report on: soc2, iso27001, nis2, dora (default: all). Only controls mapped to them run.")
    var frameworks: String?

    @Option(help: "Comma-separated severities to run: critical, high, medium, low, info (default: all).")
    var severity: String?

    @Option(
        help:
            "Exit 1 when a control at or above this severity fails: critical, high, medium, low, info, or never (default: info for scans, never for the demo)."
    )
    var failOn: FailOn?

    @Flag(help: "Collect the inventory only; run no controls.")
    var noControls = false

    @Option(
        help: ArgumentHelp(
            "Exceptions file (default: exceptions: in the config, else config/exceptions.yaml in the current directory, if present).",
            valueName: "file"))
    var exceptions: String?

    func validate() throws { _ = try severities() }

    func severities() throws -> Set<Severity>? {
        guard let items = CommaList.parse(severity) else { return nil }
        var set: Set<Severity> = []
        for item in items.map({ $0.lowercased() }) {
            guard let s = Severity(rawValue: item) else {
                throw ValidationError("--severity: unknown severity \(item) (use critical, high, medium, low, info)")
            }
            set.insert(s)
        }
        return set
    }

    func frameworkIDs() -> Set<String>? { CommaList.parse(frameworks).map { Set($0.map { $0.lowercased() }) } }
}

/// The controls and frameworks a command works with, after config and selection.
struct ControlSuite {
    var controls: [Control]
    var frameworks: FrameworkSet
    var config: AttestConfig
    var directories: [URL]
    /// The CEL environment the controls were compiled in (graph functions and every provider's).
    var environment: CELEnvironment
    /// Every control loaded, before config and selection: what exceptions may name.
    var allControlIDs: [String] = []

    /// Loads the built-in controls (`controls/` beside the provider specs) and the user's
    /// directories, applies the config, and loads the framework catalogues.
    static func load(_ options: ControlSourceOptions, providers: String?, config loaded: AttestConfig? = nil) throws -> ControlSuite {
        do {
            let config = try loaded ?? AttestConfig.load(explicit: options.config, registry: Providers.registry)
            let builtin = try builtinDirectory(providers: providers)
            let userDirectories = options.controlDirectories.map { URL(fileURLWithPath: $0) } + config.controls.directories
            for dir in userDirectories {
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDirectory), isDirectory.boolValue else {
                    throw ConfigurationError("controls directory \(dir.path) does not exist")
                }
            }
            let environment = try Providers.registry.ruleEnvironment()
            let all = try ControlLoader.load(
                directories: [builtin] + userDirectories, environment: environment,
                resourceTypes: try Self.resourceTypes(providers: providers))
            var controls = try config.controls.apply(to: all)
            if options.noBuiltinControls {
                let builtinFiles = builtin.standardizedFileURL.path + "/"
                controls.removeAll { URL(fileURLWithPath: $0.file).standardizedFileURL.path.hasPrefix(builtinFiles) }
            }
            let directories = (options.noBuiltinControls ? [] : [builtin]) + userDirectories
            let frameworks = try FrameworkSet(directory: builtin.appendingPathComponent("frameworks"), controls: all)
                .keeping(controls: Set(controls.map(\.id)))
            return ControlSuite(
                controls: controls, frameworks: frameworks, config: config, directories: directories, environment: environment,
                allControlIDs: all.map(\.id))
        } catch let error as SpecError {
            throw ConfigurationError("invalid control or config: \(error.description)")
        }
    }

    /// Provider id → the resource types its specs collect, for every provider whose specs are found.
    static func resourceTypes(providers: String?) throws -> [String: Set<String>] {
        var out: [String: Set<String>] = [:]
        for id in Providers.registry.ids {
            let spec = try ProviderLocator.load(id, override: providers)
            out[id] = Set(spec.services.flatMap { $0.resources.map(\.type) })
        }
        return out
    }

    static func builtinDirectory(providers: String?) throws -> URL {
        if let home = ProcessInfo.processInfo.environment["ATTEST_CONTROLS"] { return URL(fileURLWithPath: home) }
        let dir = try ProviderLocator.root(override: providers).appendingPathComponent("controls")
        guard FileManager.default.fileExists(atPath: dir.appendingPathComponent("frameworks").path) else {
            throw ConfigurationError("cannot find the built-in controls (\(dir.path)); set ATTEST_HOME or ATTEST_CONTROLS")
        }
        return dir
    }

    /// The exceptions a scan applies: `--exceptions`, else the config's `exceptions:` (a list or
    /// a file), else `config/exceptions.yaml` in the current directory; each checked against
    /// every loaded control.
    func exceptionSet(_ run: ControlRunOptions) throws -> ExceptionSet {
        let maximum = config.exceptionMaximumDays
        var entries: [ControlException] = []
        do {
            if let file = run.exceptions {
                guard FileManager.default.fileExists(atPath: file) else {
                    throw SpecError(file: file, line: 1, message: "no such exceptions file")
                }
                entries = try ExceptionSet.load(file: file, maximumDays: maximum)
            } else if let inline = config.exceptions {
                entries = inline
            } else if let file = config.exceptionsFile {
                guard FileManager.default.fileExists(atPath: file) else {
                    throw SpecError(file: config.file ?? file, line: 1, message: "exceptions: no such file \(file)")
                }
                entries = try ExceptionSet.load(file: file, maximumDays: maximum)
            } else if FileManager.default.fileExists(atPath: Self.defaultExceptionsFile) {
                entries = try ExceptionSet.load(file: Self.defaultExceptionsFile, maximumDays: maximum)
            }
            let set = ExceptionSet(exceptions: entries, maximumDays: maximum, expiringSoonDays: config.exceptionExpiringSoonDays)
            try set.check(against: allControlIDs)
            return set
        } catch let error as SpecError {
            throw ConfigurationError("invalid exception: \(error.description)")
        }
    }

    static let defaultExceptionsFile = "config/exceptions.yaml"

    /// The controls a scan runs: those of the selected severities and, when frameworks are
    /// chosen, those mapped to at least one of them.
    func selected(_ run: ControlRunOptions) throws -> (controls: [Control], frameworks: FrameworkSet) {
        let severities = try run.severities()
        var chosen = controls.filter { severities?.contains($0.severity) ?? true }
        var frameworkSet = frameworks
        if let ids = run.frameworkIDs() {
            for id in ids.sorted() where frameworks.framework(id) == nil {
                throw ConfigurationError(
                    "--frameworks: unknown framework \(id) (known: \(frameworks.frameworks.map(\.id).joined(separator: ", ")))")
            }
            frameworkSet = frameworks.limited(to: ids)
            chosen = chosen.filter { !frameworkSet.requirements(of: $0.id, frameworks: ids).isEmpty }
        }
        return (chosen, frameworkSet)
    }

    /// What a scan evaluates; nil with `--no-controls`.
    func plan(_ run: ControlRunOptions, defaultFailOn: FailOn) throws -> ControlPlan? {
        if run.noControls { return nil }
        let (controls, frameworks) = try selected(run)
        return ControlPlan(
            controls: controls, frameworks: frameworks, parameterOverrides: config.controls.parameters,
            failThreshold: (run.failOn ?? defaultFailOn).threshold, exceptions: try exceptionSet(run))
    }
}
