public import AttestCore
public import Foundation

/// A mistake in a plan file: not JSON, not a plan, or a format this reader does not know.
public struct PlanError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var message: String
    public var description: String { "\(file): \(message)" }
    public init(file: String, _ message: String) {
        self.file = file
        self.message = message
    }
}

/// `terraform show -json PLANFILE` (format_version 1.x; OpenTofu writes the same): the planned
/// changes of managed resources and the configuration their expressions come from.
public struct TerraformPlan: Sendable {
    public var file: String
    public var formatVersion: String
    public var terraformVersion: String?
    public var changes: [ResourceChange]
    public var root: ConfigurationModule
    /// Provider configuration key (`aws`, `aws.west`, `module.net:aws`) → its expressions.
    public var providerConfigs: [String: JSONValue]

    /// One entry of `resource_changes`.
    public struct ResourceChange: Sendable {
        public var address: String
        /// `module.net.module.sg` (instance keys kept), empty for the root module.
        public var moduleAddress: String
        public var mode: String
        public var type: String
        public var name: String
        public var index: JSONValue
        public var providerName: String
        public var actions: [String]
        public var before: JSONValue
        public var after: JSONValue
        public var afterUnknown: JSONValue
        public var afterSensitive: JSONValue

        /// Created by this plan (also when replaced): attributes the provider computes take the
        /// values a new resource gets.
        public var isCreate: Bool { actions.contains("create") }
        /// Only deleted: not judged, the resource will be gone.
        public var isDeleteOnly: Bool { actions == ["delete"] || actions == ["forget"] }

        /// The module calls on the way to the resource, without instance keys (`["net", "sg"]`).
        public var modulePath: [String] { TerraformAddress.moduleCalls(moduleAddress).map(\.name) }
    }

    /// Reads a plan; a file that is not a plan, or of a format version other than 1.x, is a ``PlanError``.
    public static func parse(_ data: Data, file: String) throws -> TerraformPlan {
        let json: JSONValue
        do { json = try JSONValue.parse(data) } catch {
            throw PlanError(file: file, "not JSON: \(error); give the output of terraform show -json PLANFILE")
        }
        guard case .object(let top) = json else { throw PlanError(file: file, "not a Terraform plan (expected a JSON object)") }
        guard let version = top["format_version"]?.stringValue else {
            throw PlanError(file: file, "not a Terraform plan: no format_version; give the output of terraform show -json PLANFILE")
        }
        guard version.split(separator: ".").first == "1" else {
            throw PlanError(file: file, "plan format_version \(version) is not supported (attest reads 1.x)")
        }
        guard top["resource_changes"] != nil || top["planned_values"] != nil else {
            if top["values"] != nil {
                throw PlanError(file: file, "this is a state (terraform show -json without a plan file), not a plan")
            }
            throw PlanError(file: file, "not a Terraform plan: no resource_changes")
        }
        var changes: [ResourceChange] = []
        for (i, item) in (top["resource_changes"]?.asList ?? []).enumerated() {
            guard let address = item["address"].stringValue, let type = item["type"].stringValue else {
                throw PlanError(file: file, "resource_changes[\(i)] has no address or type")
            }
            let change = item["change"]
            changes.append(
                ResourceChange(
                    address: address, moduleAddress: item["module_address"].stringValue ?? "",
                    mode: item["mode"].stringValue ?? "managed", type: type,
                    name: item["name"].stringValue ?? "", index: item["index"], providerName: item["provider_name"].stringValue ?? "",
                    actions: change["actions"].asList.compactMap(\.stringValue), before: change["before"], after: change["after"],
                    afterUnknown: change["after_unknown"], afterSensitive: change["after_sensitive"]))
        }
        let configuration = top["configuration"] ?? .null
        var providers: [String: JSONValue] = [:]
        for (key, value) in configuration["provider_config"].objectValue ?? [:] { providers[key] = value }
        return TerraformPlan(
            file: file, formatVersion: version, terraformVersion: top["terraform_version"]?.stringValue, changes: changes,
            root: ConfigurationModule(configuration["root_module"]), providerConfigs: providers)
    }

    /// The configuration module a resource change belongs to.
    public func module(_ path: [String]) -> ConfigurationModule? {
        var module = root
        for name in path {
            guard let next = module.calls[name]?.module else { return nil }
            module = next
        }
        return module
    }
}

/// One module of `configuration`: its resources' expressions, outputs and calls.
public struct ConfigurationModule: Sendable {
    /// `aws_s3_bucket.logs` → the resource's configuration (`expressions`, `provider_config_key`).
    public var resources: [String: JSONValue] = [:]
    public var outputs: [String: JSONValue] = [:]
    public var calls: [String: ModuleCall] = [:]

    public struct ModuleCall: Sendable {
        public var source: String
        public var expressions: JSONValue
        public var module: ConfigurationModule
    }

    init(_ json: JSONValue) {
        for r in json["resources"].asList {
            guard let address = r["address"].stringValue else { continue }
            resources[address] = r
        }
        outputs = json["outputs"].objectValue ?? [:]
        for (name, call) in json["module_calls"].objectValue ?? [:] {
            calls[name] = ModuleCall(
                source: call["source"].stringValue ?? "", expressions: call["expressions"], module: ConfigurationModule(call["module"]))
        }
    }
}

/// Terraform addresses: `module.a["x"].module.b.aws_s3_bucket.c[0]`.
public enum TerraformAddress {
    /// The module calls of a module address, each with its instance key text (`["x"]`, `[0]`, or empty).
    public static func moduleCalls(_ moduleAddress: String) -> [(name: String, key: String)] {
        var out: [(String, String)] = []
        let parts = segments(moduleAddress)
        var i = 0
        while i + 1 < parts.count {
            guard parts[i] == "module" else { break }
            let (name, key) = splitKey(parts[i + 1])
            out.append((name, key))
            i += 2
        }
        return out
    }

    /// Splits at dots outside brackets and quotes: `a.b["x.y"].c` → `a`, `b["x.y"]`, `c`.
    public static func segments(_ text: String) -> [String] {
        var out: [String] = []
        var current = ""
        var depth = 0
        var inQuote = false
        var escaped = false
        for ch in text {
            if inQuote {
                current.append(ch)
                if escaped { escaped = false } else if ch == "\\" { escaped = true } else if ch == "\"" { inQuote = false }
                continue
            }
            switch ch {
            case "\"": inQuote = true
            case "[": depth += 1
            case "]": depth -= 1
            case "." where depth == 0:
                out.append(current)
                current = ""
                continue
            default: break
            }
            current.append(ch)
        }
        if !current.isEmpty { out.append(current) }
        return out
    }

    /// `this["web"]` → (`this`, `["web"]`).
    public static func splitKey(_ segment: String) -> (String, String) {
        guard let open = segment.firstIndex(of: "[") else { return (segment, "") }
        return (String(segment[..<open]), String(segment[open...]))
    }

    /// The module address of a resource address: everything before the resource's type and name.
    public static func modulePrefix(of address: String) -> String {
        let parts = segments(address)
        var i = 0
        var prefix: [String] = []
        while i + 1 < parts.count, parts[i] == "module" {
            prefix += [parts[i], parts[i + 1]]
            i += 2
        }
        return prefix.joined(separator: ".")
    }
}
