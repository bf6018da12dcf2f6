import AttestAWSProvider
import AttestAzureProvider
import AttestCollect
import AttestGCPProvider
import AttestScan
import Foundation

/// The providers this build of attest knows.
enum Providers {
    // Force-try: the registry refuses only duplicate ids, transforms or rule functions, a
    // programming error that every test run would hit at once.
    static let registry = try! ProviderRegistry([AWSProvider(), AzureProvider(), GCPProvider()])
}

/// Finds the provider specs: `--providers`, then `ATTEST_HOME/providers`, then a `providers/`
/// folder beside or above the executable (a checkout, or an install prefix's `share/attest`),
/// then the current directory.
enum ProviderLocator {
    /// Loads a provider's specs and checks them with the provider's own rules (scope levels,
    /// wire settings). A mistake names the file and line.
    static func load(_ id: String, override: String?) throws -> ProviderSpec {
        guard let provider = Providers.registry.provider(id) else {
            throw ConfigurationError("unknown provider \(id) (known: \(Providers.registry.ids.joined(separator: ", ")))")
        }
        let dir = try directory(id, override: override)
        let spec = try SpecLoader.loadProvider(directory: dir, provider: id, transforms: try Providers.registry.transforms(for: provider))
        try spec.validateScopes(levels: provider.scopeLevels.map(\.name))
        try provider.validate(spec)
        return spec
    }

    static func directory(_ provider: String, override: String?) throws -> URL {
        let fm = FileManager.default
        if let override {
            let url = URL(fileURLWithPath: override)
            let candidate = fm.fileExists(atPath: url.appendingPathComponent(provider).path) ? url.appendingPathComponent(provider) : url
            guard fm.fileExists(atPath: candidate.path) else { throw ConfigurationError("--providers \(override): no such directory") }
            return candidate
        }
        for root in searchRoots() {
            let candidate = root.appendingPathComponent("providers").appendingPathComponent(provider)
            if fm.fileExists(atPath: candidate.appendingPathComponent("provider.yaml").path) { return candidate }
        }
        throw ConfigurationError(
            "cannot find the \(provider) provider specs; pass --providers DIR or set ATTEST_HOME to the folder holding providers/ and controls/"
        )
    }

    /// `ATTEST_HOME`, the executable's folder and up to five above it (each also with
    /// `share/attest`), then the current directory.
    static func searchRoots() -> [URL] {
        var roots: [URL] = []
        if let home = ProcessInfo.processInfo.environment["ATTEST_HOME"], !home.isEmpty { roots.append(URL(fileURLWithPath: home)) }
        var dir = executable().deletingLastPathComponent()
        for _ in 0..<6 {
            roots.append(dir)
            roots.append(dir.appendingPathComponent("share/attest"))
            dir.deleteLastPathComponent()
        }
        roots.append(URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        return roots
    }

    /// The running executable, with symlinks resolved: `/proc/self/exe` on Linux (argv[0] is just
    /// `attest` when it was found on PATH), else argv[0].
    static func executable() -> URL {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return URL(fileURLWithPath: path)
        }
        return URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    }

    /// The root (a checkout or an install prefix) holding `providers/`, `controls/` and `fixtures/`.
    static func root(override: String?) throws -> URL {
        var firstError: (any Error)?
        for id in Providers.registry.ids {
            do { return try directory(id, override: override).deletingLastPathComponent().deletingLastPathComponent() } catch {
                firstError = firstError ?? error
            }
        }
        throw firstError ?? ConfigurationError("no provider is registered")
    }
}
