import AttestCollect
import Foundation

/// Finds the provider specs: `--providers`, then `ATTEST_HOME/providers`, then a `providers/`
/// folder beside or above the executable (a checkout or an install prefix's `share/attest`),
/// then the current directory.
enum ProviderLocator {
    static func load(_ provider: String, override: String?) throws -> ProviderSpec {
        let dir = try directory(provider, override: override)
        let spec = try SpecLoader.loadProvider(directory: dir, provider: provider)
        if provider == "aws" { try AWSServiceCaller.validate(spec) }
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
        var roots: [URL] = []
        if let home = ProcessInfo.processInfo.environment["ATTEST_HOME"] { roots.append(URL(fileURLWithPath: home)) }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            roots.append(dir)
            roots.append(dir.appendingPathComponent("share/attest"))
            dir.deleteLastPathComponent()
        }
        roots.append(URL(fileURLWithPath: fm.currentDirectoryPath))
        for root in roots {
            let candidate = root.appendingPathComponent("providers").appendingPathComponent(provider)
            if fm.fileExists(atPath: candidate.appendingPathComponent("provider.yaml").path) { return candidate }
        }
        throw ConfigurationError("cannot find the \(provider) provider specs; pass --providers DIR or set ATTEST_HOME")
    }

    /// The repository (or install) root holding `providers/` and `fixtures/`.
    static func root(override: String?) throws -> URL {
        try directory("aws", override: override).deletingLastPathComponent().deletingLastPathComponent()
    }
}
