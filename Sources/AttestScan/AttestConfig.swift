import AttestCollect
public import AttestControls
public import Foundation

/// The `evidence:` section of the config file.
public struct EvidenceConfig: Sendable {
    /// A directory or a store URL (`s3://bucket/prefix`).
    public var path: String?
    public var signingKey: String?
    /// Days each object is locked against deletion in an object store.
    public var retentionDays: Int?
    /// The object store's region.
    public var region: String?

    public init(path: String? = nil, signingKey: String? = nil, retentionDays: Int? = nil, region: String? = nil) {
        self.path = path
        self.signingKey = signingKey
        self.retentionDays = retentionDays
        self.region = region
    }

    public static let keys = ["path", "signing_key", "retention_days", "region"]
}

/// The `history:` section of the config file.
public struct HistoryConfig: Sendable {
    /// The SQLite file, resolved against the config file's folder.
    public var path: String?
    /// Scans older than this are removed after each scan; nil keeps every scan.
    public var retentionDays: Int?
    public init() {}
}

/// The whole of `attest.yaml`, read with one strict model: an unknown key at any level is an
/// error naming the file, the line and the keys that are known. Every key is optional, so an
/// empty file is a valid (empty) configuration.
public struct AttestConfig: Sendable {
    public static let topKeys = ["controls", "evidence", "targets", "exceptions", "exception_policy", "history"]
    public static let targetKeys = ["provider", "profile", "accounts", "regions", "services"]

    /// The file it was read from; nil when there was none.
    public var file: String?
    public var controls = ControlConfig()
    public var evidence = EvidenceConfig()
    public var targets: [ScanTarget] = []
    /// `exceptions:` as a list in this file; nil when absent (or given as a file).
    public var exceptions: [ControlException]?
    /// `exceptions:` as a path to an exceptions file, resolved against this file's folder.
    public var exceptionsFile: String?
    /// `exception_policy:`: the longest an exception may last and when one is flagged as ending soon.
    public var exceptionMaximumDays = 365
    public var exceptionExpiringSoonDays = 14
    /// `history:`: where scans are recorded and for how long.
    public var history = HistoryConfig()

    public init() {}

    /// `explicit` (`--config`), else `attest.yaml` in the current directory if present, else
    /// the empty configuration. `registry` checks each target's provider and its option keys.
    public static func load(explicit: String?, registry: ProviderRegistry) throws -> AttestConfig {
        let path: String
        if let explicit {
            guard FileManager.default.fileExists(atPath: explicit) else {
                throw SpecError(file: explicit, line: 1, message: "no such config file")
            }
            path = explicit
        } else if FileManager.default.fileExists(atPath: "attest.yaml") {
            path = "attest.yaml"
        } else {
            return AttestConfig()
        }
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw SpecError(file: path, line: 1, message: "cannot read the config file: \(error.localizedDescription)")
        }
        return try AttestConfig(text: text, file: path, registry: registry)
    }

    public init(text: String, file: String, registry: ProviderRegistry) throws {
        self.file = file
        controls.file = file
        // Blank or comments only: every key takes its default.
        guard
            text.split(whereSeparator: \.isNewline).contains(where: {
                let line = $0.trimmingCharacters(in: .whitespaces)
                return !line.isEmpty && !line.hasPrefix("#") && line != "---"
            })
        else { return }
        let root = try SpecLoader.parse(text, file: file)
        let top = try root.map(Self.topKeys)
        controls = try ControlConfig(section: top.node("controls"), file: file)
        if let node = top.node("evidence") { evidence = try Self.evidence(node, file: file) }
        if let h = try top.optionalMap("history", allowed: ["path", "retention_days"]) {
            if let n = h.node("path") {
                let p = try n.string()
                history.path =
                    p.hasPrefix("/")
                    ? p
                    : p.hasPrefix("~/")
                        ? NSHomeDirectory() + p.dropFirst(1)
                        : URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent(p).standardizedFileURL.path
            }
            if let n = h.node("retention_days") {
                guard let d = Int(try n.string()), (1...36_500).contains(d) else {
                    throw n.error("history.retention_days must be a whole number of days from 1 to 36500")
                }
                history.retentionDays = d
            }
        }
        if let policy = try top.optionalMap("exception_policy", allowed: ["max_days", "expiring_soon_days"]) {
            func days(_ key: String, _ range: ClosedRange<Int>) throws -> Int? {
                guard let n = policy.node(key) else { return nil }
                guard let d = Int(try n.string()), range.contains(d) else {
                    throw n.error("exception_policy.\(key) must be a whole number of days from \(range.lowerBound) to \(range.upperBound)")
                }
                return d
            }
            exceptionMaximumDays = try days("max_days", 1...3650) ?? exceptionMaximumDays
            exceptionExpiringSoonDays = try days("expiring_soon_days", 0...365) ?? exceptionExpiringSoonDays
        }
        if let node = top.node("exceptions") {
            if (try? node.sequence()) == nil {
                let path = try node.string()
                exceptionsFile =
                    path.hasPrefix("/") ? path : URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent(path).path
            } else {
                exceptions = try ExceptionSet.entries(node, maximumDays: exceptionMaximumDays)
            }
        }
        for item in try top.node("targets")?.sequence() ?? [] {
            targets.append(try Self.target(item, file: file, registry: registry))
        }
    }

    static func evidence(_ node: YAMLNode, file: String) throws -> EvidenceConfig {
        let m = try node.map(EvidenceConfig.keys)
        var config = EvidenceConfig()
        let base = URL(fileURLWithPath: file).deletingLastPathComponent()
        func resolve(_ p: String) -> String {
            if p.contains("://") || p.hasPrefix("/") { return p }
            if p.hasPrefix("~/") { return NSHomeDirectory() + p.dropFirst(1) }
            return base.appendingPathComponent(p).standardizedFileURL.path
        }
        if let n = m.node("path") { config.path = resolve(try n.string()) }
        if let n = m.node("signing_key") { config.signingKey = resolve(try n.string()) }
        if let n = m.node("region") { config.region = try n.string() }
        if let n = m.node("retention_days") {
            guard let days = Int(try n.string()), (0...36_500).contains(days) else {
                throw n.error("evidence.retention_days must be a whole number of days from 0 to 36500")
            }
            config.retentionDays = days
        }
        return config
    }

    static func target(_ node: YAMLNode, file: String, registry: ProviderRegistry) throws -> ScanTarget {
        let any = try node.map(nil)
        guard let providerNode = any.node("provider") else {
            throw node.error("a target needs provider: (one of \(registry.ids.joined(separator: ", ")))")
        }
        let id = try providerNode.string()
        guard let provider = registry.provider(id) else {
            throw providerNode.error("unknown provider \(id) (known: \(registry.ids.joined(separator: ", ")))")
        }
        let m = try node.map(targetKeys + provider.targetOptionKeys)
        func list(_ key: String) throws -> [String]? {
            guard let n = m.node(key) else { return nil }
            let items = try n.sequence().map { try $0.string() }
            guard !items.isEmpty else { throw n.error("\(key) must name at least one (leave it out for all)") }
            return items
        }
        var options: [String: String] = [:]
        for key in provider.targetOptionKeys { if let n = m.node(key) { options[key] = try n.string() } }
        return ScanTarget(
            provider: id, profile: try m.optionalString("profile"), accounts: try list("accounts"),
            regions: try list("regions"), services: try list("services"), options: options,
            origin: "\(file):\(node.line)")
    }
}
