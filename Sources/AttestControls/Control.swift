public import AttestCEL
public import AttestInventory
public import Foundation

/// How bad a failure is. Ordered: `info` < `low` < … < `critical`.
public enum Severity: String, Sendable, Codable, CaseIterable, Comparable {
    case info, low, medium, high, critical

    public static func < (a: Severity, b: Severity) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// The outcome of one control on one resource.
public enum ResultStatus: String, Sendable, Codable, CaseIterable {
    case pass, fail, error
    case notApplicable = "not_applicable"
    /// A failure covered by an exception that has not expired (``ControlException``).
    case excepted
    /// The rule read a value known only after apply (a Terraform plan's `after_unknown`): never
    /// a pass or a fail, and not counted by `--fail-on`. The reason names the attributes.
    case unknown
}

/// A declarative control, loaded from `controls/<provider>/<service>/<id>.yaml`.
public struct Control: Sendable, Identifiable {
    public struct Remediation: Sendable, Codable {
        public var text: String
        public var cli: String?
        public var terraform: String?
    }

    public var id: String
    public var title: String
    public var description: String
    public var rationale: String
    public var severity: Severity
    public var resourceTypes: [String]
    /// Default parameter values, before overrides from config.
    public var parameters: [String: JSONValue]
    public var appliesIf: CELProgram?
    public var assertion: CELProgram
    /// Other resource types the rules read through the graph (a trail's bucket through
    /// `related('logs-to')`): with `resources('type')` calls in the rules, what decides which
    /// services a scan must have collected for the control to be evaluated.
    public var reads: [String] = []
    /// Paths into the resource (`attributes.versioning`) recorded as what was observed.
    public var observed: [ValuePath]
    public var remediation: Remediation
    public var references: [String]
    /// Matching ids in other catalogues: `cis_aws`, `prowler`.
    public var equivalents: [String: [String]]
    /// The requirements this control evidences (framework id → requirement ids): the one place
    /// a mapping is written; the catalogues list requirements only.
    public var frameworks: [String: [String]]
    /// The line of each framework's entry, for error messages.
    public var frameworkLines: [String: Int] = [:]
    /// `plan: true`: the rules read only what a Terraform plan holds, so `attest plan` runs the
    /// control over a plan's resources as it runs over a scan's.
    public var planCapable: Bool = false
    /// `enforcement: warn` (with `enforce_from`) in the file or the config; nil enforces.
    public var enforcement: Enforcement?
    public var tests: [ControlTest]
    /// The file it was loaded from, and the line of its `assert`.
    public var file: String
    public var assertLine: Int

    /// `aws` for `aws.s3.bucket`.
    public var provider: String { resourceTypes.first.map { String($0.prefix { $0 != "." }) } ?? "" }
    /// `s3` for `aws.s3.bucket`.
    public var service: String {
        guard let type = resourceTypes.first else { return "" }
        let parts = type.split(separator: ".")
        return parts.count > 1 ? String(parts[1]) : ""
    }
}

/// An inline example: a small graph, the resource under test and the expected status.
public struct ControlTest: Sendable {
    public var name: String
    public var resource: Resource
    public var graph: InventoryGraph
    public var parameters: [String: JSONValue]
    public var now: Date
    public var expect: ResultStatus
    public var line: Int
}
