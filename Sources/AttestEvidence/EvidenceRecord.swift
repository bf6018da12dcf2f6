public import AttestControls
public import AttestInventory
public import AttestCore
public import Foundation

/// What one scan hands to the evidence writer besides its results.
public struct EvidenceScan: Sendable {
    public var scanID: String
    public var startedAt: Date
    public var finishedAt: Date
    public var provider: String
    public var accounts: [String]
    public var toolVersion: String
    /// SHA-256 of the control catalogue that ran (every control's id, rule and parameters).
    public var controlCatalogueDigest: String
    /// SHA-256 of the configuration file, or of nothing when there was none.
    public var configDigest: String

    public init(scanID: String, startedAt: Date, finishedAt: Date, provider: String, accounts: [String], toolVersion: String,
                controlCatalogueDigest: String, configDigest: String) {
        self.scanID = scanID
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.provider = provider
        self.accounts = accounts
        self.toolVersion = toolVersion
        self.controlCatalogueDigest = controlCatalogueDigest
        self.configDigest = configDigest
    }
}

/// Builds OCSF Compliance Finding records (class 2003, OCSF 1.5.0) for control results.
///
/// One record per (framework requirement, control, resource): the standard and requirement, the
/// control and its rule, the status, the values the rule read, the resource, account, region,
/// the evaluation time and the scan. attest's own fields (the hash chain, the rule text, the
/// observed values by path) sit under `unmapped.attest`, where OCSF puts fields of the producer.
public enum EvidenceRecord {
    public static let ocsfVersion = "1.5.0"

    /// The part of a record that is the same for every requirement a result maps to.
    public struct ResultPart: Sendable {
        var common: [String: JSONValue]
        var unmapped: [String: JSONValue]
        var check: JSONValue
        var statusText: String
        var statusID: Int64
        /// attest's status: pass, fail, error, not_applicable.
        var result: String
    }

    public static func resultPart(_ r: ControlResult, control: Control?, graph: InventoryGraph, scan: EvidenceScan) -> ResultPart {
        let time = EvidenceTime.milliseconds(scan.startedAt)
        let (statusText, statusID): (String, Int64) = switch r.status {
        case .pass: ("Pass", 1)
        case .fail: ("Fail", 3)
        case .error: ("Error", 99)  // OCSF: with Other (99), the status text carries the source's value
        case .notApplicable: ("Not Applicable", 99)
        }
        let (severityText, severityID): (String, Int64) = switch r.severity {
        case .info: ("Informational", 1)
        case .low: ("Low", 2)
        case .medium: ("Medium", 3)
        case .high: ("High", 4)
        case .critical: ("Critical", 5)
        }
        var observed: [String: JSONValue] = [:]
        if let control { for (path, value) in r.observed(control, in: graph) { observed[path] = value } }
        let resourceName = r.resourceID.isEmpty ? nil : graph[r.resourceID]?.name
        var resource: [String: JSONValue] = [
            "type": .string(r.resourceType), "region": .string(r.region), "cloud_partition": .string(partition(r.region)),
        ]
        if r.resourceID.isEmpty {
            resource["uid"] = .string("\(r.resourceType):\(r.account):\(r.region)")
            resource["name"] = .string("every \(r.resourceType) in \(r.region) (not readable)")
        } else {
            resource["uid"] = .string(r.resourceID)
            if let resourceName { resource["name"] = .string(resourceName) }
        }
        if !observed.isEmpty { resource["data"] = .object(observed) }
        var finding: [String: JSONValue] = [
            "uid": .string("\(scan.scanID):\(EvidenceWriter.resultKey(r))"),
            "title": .string(control?.title ?? r.controlID), "created_time": .int(time),
            "types": ["Compliance"], "product_uid": "attest",
        ]
        if let d = control?.description, !d.isEmpty { finding["desc"] = .string(d) }
        var common: [String: JSONValue] = [
            "activity_id": 1, "activity_name": "Create", "category_uid": 2, "category_name": "Findings",
            "class_uid": 2003, "class_name": "Compliance Finding", "type_uid": 200_301, "type_name": "Compliance Finding: Create",
            "severity_id": .int(severityID), "severity": .string(severityText),
            "status_id": 1, "status": "New",
            "time": .int(time), "time_dt": .string(EvidenceTime.string(scan.startedAt)),
            "finding_info": .object(finding),
            "resources": [.object(resource)],
            "cloud": ["provider": "AWS", "region": .string(r.region), "account": ["uid": .string(r.account), "type": "AWS Account", "type_id": 10]],
        ]
        if let remediation = control?.remediation.text, !remediation.isEmpty {
            var rem: [String: JSONValue] = ["desc": .string(remediation)]
            if let refs = control?.references, !refs.isEmpty { rem["references"] = .array(refs.map { .string($0) }) }
            common["remediation"] = .object(rem)
        }
        var unmapped: [String: JSONValue] = [
            "scan_id": .string(scan.scanID), "control": .string(r.controlID), "result": .string(r.status.rawValue),
            "severity": .string(r.severity.rawValue), "resource_type": .string(r.resourceType),
            "observed": .object(observed), "exception": .null,
        ]
        if let control {
            unmapped["rule"] = .string(control.assertion.source)
            if let appliesIf = control.appliesIf { unmapped["applies_if"] = .string(appliesIf.source) }
        }
        if let reason = r.reason { unmapped["reason"] = .string(SecretScrubber.shared.scrub(reason)) }
        let check: JSONValue = [
            "uid": .string(r.controlID), "name": .string(control?.title ?? r.controlID), "severity_id": .int(severityID),
            "status": .string(statusText), "status_id": .int(statusID),
        ]
        return ResultPart(common: common, unmapped: unmapped, check: check, statusText: statusText, statusID: statusID,
                          result: r.status.rawValue)
    }

    /// The record for one requirement, with its place in the file's hash chain.
    public static func record(_ part: ResultPart, framework: Framework, requirement: Framework.Requirement, recordUID: String,
                              scan: EvidenceScan, sequence: Int, previousHash: String) -> JSONValue {
        var o = part.common
        var compliance: [String: JSONValue] = [
            "standards": [.string(framework.name)], "requirements": [.string(requirement.id)],
            "control": .string(part.unmapped["control"]?.stringValue ?? ""),
            "status": .string(part.statusText), "status_id": .int(part.statusID),
        ]
        compliance["checks"] = [part.check]
        if let reason = part.unmapped["reason"] { compliance["status_detail"] = reason }
        else if part.result == "not_applicable" { compliance["status_detail"] = "not applicable" }
        o["compliance"] = .object(compliance)
        o["metadata"] = [
            "version": .string(ocsfVersion), "uid": .string(recordUID), "correlation_uid": .string(scan.scanID),
            "sequence": .int(Int64(sequence)),
            "product": ["name": "attest", "vendor_name": "attest", "uid": "attest", "version": .string(scan.toolVersion)],
        ]
        var unmapped = part.unmapped
        unmapped["framework"] = .string(framework.id)
        unmapped["requirement"] = .string(requirement.id)
        unmapped["chain"] = ["sequence": .int(Int64(sequence)), "previous": .string(previousHash)]
        o["unmapped"] = ["attest": .object(unmapped)]
        return .object(o)
    }

    static func partition(_ region: String) -> String {
        if region.hasPrefix("cn-") { return "aws-cn" }
        if region.hasPrefix("us-gov-") { return "aws-us-gov" }
        return "aws"
    }
}

