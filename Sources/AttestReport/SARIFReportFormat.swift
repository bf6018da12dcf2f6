import AttestCollect
import AttestControls
import AttestCore
import AttestInventory
import Crypto
public import Foundation

/// SARIF 2.1.0, as GitHub code scanning reads it: one rule per control (help text, remediation,
/// severity as level and `security-severity`), one result per failing or excepted resource,
/// located by the resource's id (`artifactLocation.uri` and a logical location) with a stable
/// fingerprint, so alerts group per resource across runs. Excepted results carry an accepted
/// external suppression with the exception's owner, justification and expiry. What could not be
/// read or evaluated is in the invocation's notifications, and `executionSuccessful` says
/// whether the scan was complete.
public struct SARIFReportFormat: ReportFormat {
    public init() {}
    public var name: String { "sarif" }
    public var fileExtension: String { "sarif" }

    static let schema = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

    public func render(_ report: ScanReport) throws -> Data {
        Data((document(report).serialized(pretty: true) + "\n").utf8)
    }

    /// SARIF levels from severities: critical and high are errors, medium a warning, the rest notes.
    static func level(_ s: Severity) -> String {
        switch s {
        case .critical, .high: "error"
        case .medium: "warning"
        case .low, .info: "note"
        }
    }

    /// GitHub's scale: over 9 critical, 7 to 8.9 high, 4 to 6.9 medium, 0.1 to 3.9 low.
    static func securitySeverity(_ s: Severity) -> String {
        switch s {
        case .critical: "9.5"
        case .high: "8.0"
        case .medium: "5.5"
        case .low: "3.0"
        case .info: "0.0"
        }
    }

    /// A resource id as a URI reference: characters a URI cannot hold are percent-encoded.
    static func uri(_ id: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~:/?#[]@!$&'()*+,;=")
        let ascii = CharacterSet(charactersIn: Unicode.Scalar(0)...Unicode.Scalar(127))
        return id.addingPercentEncoding(withAllowedCharacters: allowed.intersection(ascii)) ?? id
    }

    static func fingerprint(_ r: ScanReport.Result) -> String {
        let key = "\(r.control)\u{0}\(r.account)\u{0}\(r.region)\u{0}\(r.subject)"
        return SHA256.hash(data: Data(key.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    func document(_ report: ScanReport) -> JSONValue {
        let catalog = report.catalog ?? []
        let ruleIndex = Dictionary(uniqueKeysWithValues: catalog.enumerated().map { ($0.element.id, $0.offset) })
        let requirementsByControl = Dictionary(
            (report.results ?? []).map { ($0.control, $0.requirements) }, uniquingKeysWith: { first, _ in first })
        let rules: [JSONValue] = catalog.map { c in
            var help = c.remediation
            if let cli = c.remediationCLI { help += "\n\nCLI:\n" + cli }
            if let tf = c.remediationTerraform { help += "\n\nTerraform:\n" + tf }
            var markdown = "**Remediation**\n\n" + Markdown.escape(c.remediation)
            if let cli = c.remediationCLI { markdown += "\n\n```sh\n" + cli + "\n```" }
            if let tf = c.remediationTerraform { markdown += "\n\n```hcl\n" + tf + "\n```" }
            if !c.references.isEmpty { markdown += "\n\n" + c.references.map { "- <\($0)>" }.joined(separator: "\n") }
            let requirements = (requirementsByControl[c.id] ?? []).map { JSONValue.string("\($0.framework):\($0.requirement)") }
            var rule: [String: JSONValue] = [
                "id": .string(c.id), "name": .string(Self.ruleName(c.id)),
                "shortDescription": ["text": .string(c.title)],
                "fullDescription": ["text": .string(c.description)],
                "help": ["text": .string(help), "markdown": .string(markdown)],
                "defaultConfiguration": ["level": .string(Self.level(c.severity))],
                "properties": [
                    "security-severity": .string(Self.securitySeverity(c.severity)), "severity": .string(c.severity.rawValue),
                    "tags": .array([.string("security"), .string("attest")] + requirements), "precision": "very-high",
                ],
            ]
            if let first = c.references.first { rule["helpUri"] = .string(first) }
            return .object(rule)
        }
        var results: [JSONValue] = []
        for r in report.results ?? [] where r.status == .fail || r.status == .excepted {
            var message = "\(r.title): \(r.subject) in \(r.account)/\(r.region)"
            if !r.observed.isEmpty {
                message +=
                    " (observed: " + r.observed.keys.sorted().map { "\($0) = \(r.observed[$0]!.serialized())" }.joined(separator: ", ")
                    + ")"
            }
            if let w = r.warning { message += w.enforceFrom.map { "; warns only, blocks from \($0)" } ?? "; warns only" }
            var properties: [String: JSONValue] = [
                "account": .string(r.account), "region": .string(r.region), "resource_type": .string(r.resourceType),
                "status": .string(r.status.rawValue), "observed": .object(r.observed),
            ]
            if let blocks = r.blocks { properties["blocks"] = .bool(blocks) }
            if let from = r.warning?.enforceFrom { properties["enforce_from"] = .string(from) }
            var result: [String: JSONValue] = [
                "ruleId": .string(r.control), "level": .string(Self.level(r.severity)), "kind": "fail",
                "message": ["text": .string(message)],
                "locations": [
                    [
                        // A plan's result with --tf-dir points at its resource block, so the pull request's diff is annotated.
                        "physicalLocation": [
                            "artifactLocation": ["uri": .string(r.location?.file ?? Self.uri(r.subject))],
                            "region": ["startLine": .int(Int64(r.location?.line ?? 1))],
                        ],
                        "logicalLocations": [
                            ["fullyQualifiedName": .string(r.subject), "kind": "resource", "name": .string(r.resourceType)]
                        ],
                    ]
                ],
                "partialFingerprints": ["attestResult/v1": .string(Self.fingerprint(r))],
                "properties": .object(properties),
            ]
            if let index = ruleIndex[r.control] { result["ruleIndex"] = .int(Int64(index)) }
            if let e = r.exception {
                var justification = "\(e.justification) (owner \(e.owner), expires \(e.expires)"
                if let ticket = e.ticket { justification += ", ticket \(ticket)" }
                justification += ", \(e.source))"
                result["suppressions"] = [["kind": "external", "status": "accepted", "justification": .string(justification)]]
            }
            results.append(.object(result))
        }
        var notifications: [JSONValue] = []
        for e in report.errors {
            notifications.append([
                "level": "error",
                "message": [
                    "text": .string(
                        "could not read \(e.service) \(e.operation) in \(e.account)/\(e.region): \(e.code): \(SecretScrubber.shared.scrub(e.message))"
                    )
                ],
            ])
        }
        for r in report.results ?? [] where r.status == .error {
            var n: [String: JSONValue] = [
                "level": "error",
                "message": ["text": .string("\(r.control) could not evaluate \(r.subject): \(r.reason ?? "")")],
                "associatedRule": ["id": .string(r.control)],
            ]
            if let index = ruleIndex[r.control] { n["associatedRule"] = ["id": .string(r.control), "index": .int(Int64(index))] }
            notifications.append(.object(n))
        }
        let invocation: [String: JSONValue] = [
            "executionSuccessful": .bool(report.scan.complete && !(report.results ?? []).contains { $0.status == .error }),
            "startTimeUtc": .string(report.scan.startedAt), "endTimeUtc": .string(report.scan.finishedAt),
            "toolExecutionNotifications": .array(notifications),
        ]
        let run: [String: JSONValue] = [
            "tool": [
                "driver": [
                    "name": "attest", "version": .string(report.scan.toolVersion), "semanticVersion": .string(report.scan.toolVersion),
                    "rules": .array(rules),
                ]
            ],
            // GitHub keeps one set of alerts per category: one per provider and account.
            "automationDetails": ["id": .string("attest/\(report.scan.provider)/\(report.scan.account)/")],
            "invocations": [.object(invocation)],
            "results": .array(results),
            "properties": ["scan_id": .string(report.scan.id), "accounts": .array(report.scan.accounts.map { .string($0) })],
        ]
        return ["$schema": .string(Self.schema), "version": "2.1.0", "runs": [.object(run)]]
    }

    /// `aws-s3-bucket-versioning` → `AwsS3BucketVersioning` (SARIF's rule names are identifiers).
    static func ruleName(_ id: String) -> String {
        id.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }
}
