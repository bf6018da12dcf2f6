import AttestCEL
public import AttestControls
public import AttestCore
public import AttestInventory
public import Foundation

/// How a provider's accounts and regions appear in OCSF records: the `cloud` object and the
/// resource's `cloud_partition`. Each provider supplies its own (AWS: `"provider": "AWS"`,
/// an `AWS Account`, the partition of the region).
public protocol EvidenceCloud: Sendable {
    /// The OCSF `cloud` object for a result in `account` and `region`.
    func ocsfCloud(account: String, region: String) -> JSONValue
    /// The partition (`cloud_partition`) of a region, if the provider has partitions.
    func partition(region: String) -> String?
}

/// The `cloud` object of a provider that gave none: its id, the region and the account.
public struct PlainEvidenceCloud: EvidenceCloud {
    public var provider: String
    public init(provider: String) { self.provider = provider }
    public func ocsfCloud(account: String, region: String) -> JSONValue {
        ["provider": .string(provider), "region": .string(region), "account": ["uid": .string(account)]]
    }
    public func partition(region: String) -> String? { nil }
}

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
    /// Provider id → how its results name their cloud; a result's provider is its resource
    /// type's first part (`aws` of `aws.s3.bucket`).
    public var clouds: [String: any EvidenceCloud]
    /// Controls the scan did not evaluate (a service they need was not scanned) → why; named
    /// in the signed manifest, so the evidence says what it does not cover.
    public var notEvaluated: [String: String] = [:]
    /// The scan's exceptions; an excepted result's ``ControlResult/exception`` indexes them.
    public var exceptions: [ControlException] = []
    /// The exceptions that covered failures, with control id → results excepted (manifest).
    public var exceptionCounts: [(exception: ControlException, excepted: [String: Int])] = []

    public init(
        scanID: String, startedAt: Date, finishedAt: Date, provider: String, accounts: [String], toolVersion: String,
        controlCatalogueDigest: String, configDigest: String, clouds: [String: any EvidenceCloud] = [:]
    ) {
        self.clouds = clouds
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
/// control and its rule, the status, the values the rule read (`resources[0].data`), the
/// resource, account, region, the evaluation time and the scan. Descriptions and remediation
/// are left to the control catalogue and an audit package's methodology, which keeps records
/// small (they are repeated for every requirement a control maps to). attest's own fields (the hash chain, the rule text) sit
/// under `unmapped.attest`, where OCSF puts fields of the producer.
public enum EvidenceRecord {
    public static let ocsfVersion = "1.5.0"

    /// The part of a record that is the same for every requirement a result maps to, already
    /// serialised: a result maps to about nine requirements, so this is done once, not nine times.
    public struct ResultPart: Sendable {
        /// The top-level members (without braces): class, severity, time, finding, resources, cloud.
        var head: String
        /// `compliance` members after standards and requirements: control, status, checks.
        var complianceTail: String
        /// `unmapped.attest` members before framework, requirement and chain.
        var unmappedHead: String
        /// attest's status: pass, fail, error, not_applicable.
        var result: String
        /// `<scan>:<control>:<resource>`: with the framework and requirement, the record's uid.
        var resultUID: String
    }

    static func members(_ o: [String: JSONValue]) -> String {
        String(JSONValue.object(o).serialized().dropFirst().dropLast())
    }

    public static func resultPart(_ r: ControlResult, control: Control?, graph: InventoryGraph, scan: EvidenceScan) -> ResultPart {
        let time = EvidenceTime.milliseconds(scan.startedAt)
        let (statusText, statusID): (String, Int64) =
            switch r.status {
            case .pass: ("Pass", 1)
            case .fail: ("Fail", 3)
            case .error: ("Error", 99)  // OCSF: with Other (99), the status text carries the source's value
            case .notApplicable: ("Not Applicable", 99)
            case .unknown: ("Unknown", 0)  // OCSF compliance status 0: Unknown (plans only; they write no evidence)
            case .excepted: ("Fail", 3)  // the check failed; the finding is suppressed by an exception
            }
        let (severityText, severityID): (String, Int64) =
            switch r.severity {
            case .info: ("Informational", 1)
            case .low: ("Low", 2)
            case .medium: ("Medium", 3)
            case .high: ("High", 4)
            case .critical: ("Critical", 5)
            }
        var observed: [String: JSONValue] = [:]
        if let control { for (path, value) in r.observed(control, in: graph) { observed[path] = value } }
        let resourceName = r.resourceID.isEmpty ? nil : graph[r.resourceID]?.name
        let providerID = String(r.resourceType.prefix { $0 != "." })
        let cloud = scan.clouds[providerID] ?? PlainEvidenceCloud(provider: providerID)
        var resource: [String: JSONValue] = ["type": .string(r.resourceType), "region": .string(r.region)]
        if let partition = cloud.partition(region: r.region) { resource["cloud_partition"] = .string(partition) }
        if let parent = r.parentID {
            resource["uid"] = .string("\(r.resourceType):\(parent)")
            resource["name"] = .string("every \(r.resourceType) of \(parent) (not readable)")
        } else if r.resourceID.isEmpty {
            resource["uid"] = .string("\(r.resourceType):\(r.account):\(r.region)")
            resource["name"] = .string("every \(r.resourceType) in \(r.region) (not readable)")
        } else {
            resource["uid"] = .string(r.resourceID)
            if let resourceName { resource["name"] = .string(resourceName) }
        }
        if !observed.isEmpty { resource["data"] = .object(observed) }
        let finding: [String: JSONValue] = [
            "uid": .string("\(scan.scanID):\(EvidenceWriter.resultKey(r))"),
            "title": .string(control?.title ?? r.controlID), "created_time": .int(time),
            "types": ["Compliance"], "product_uid": "attest",
        ]
        let common: [String: JSONValue] = [
            "activity_id": 1, "activity_name": "Create", "category_uid": 2, "category_name": "Findings",
            "class_uid": 2003, "class_name": "Compliance Finding", "type_uid": 200_301, "type_name": "Compliance Finding: Create",
            "severity_id": .int(severityID), "severity": .string(severityText),
            "status_id": r.status == .excepted ? 3 : 1, "status": r.status == .excepted ? "Suppressed" : "New",
            "time": .int(time), "time_dt": .string(EvidenceTime.string(scan.startedAt)),
            "finding_info": .object(finding),
            "resources": [.object(resource)],
            "cloud": cloud.ocsfCloud(account: r.account, region: r.region),
        ]
        var unmapped: [String: JSONValue] = [
            "scan_id": .string(scan.scanID), "control": .string(r.controlID), "result": .string(r.status.rawValue),
            "severity": .string(r.severity.rawValue), "resource_type": .string(r.resourceType),
            "exception": r.exception.flatMap { $0 < scan.exceptions.count ? scan.exceptions[$0].json : nil } ?? .null,
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
        var compliance: [String: JSONValue] = [
            "control": .string(r.controlID), "status": .string(statusText), "status_id": .int(statusID), "checks": [check],
        ]
        if let reason = unmapped["reason"] {
            compliance["status_detail"] = reason
        } else if r.status == .notApplicable {
            compliance["status_detail"] = "not applicable"
        }
        return ResultPart(
            head: members(common), complianceTail: members(compliance), unmappedHead: members(unmapped),
            result: r.status.rawValue, resultUID: "\(scan.scanID):\(EvidenceWriter.resultKey(r))")
    }

    /// What is the same for every record of one requirement file.
    public struct RequirementPart: Sendable {
        var complianceHead: String
        var metadataHead: String
        var unmappedTail: String
        var uidPrefix: String

        public init(framework: Framework, requirement: Framework.Requirement, scan: EvidenceScan) {
            complianceHead = members(["standards": [.string(framework.name)], "requirements": [.string(requirement.id)]])
            metadataHead = members([
                "version": .string(ocsfVersion), "correlation_uid": .string(scan.scanID),
                "product": ["name": "attest", "vendor_name": "attest", "uid": "attest", "version": .string(scan.toolVersion)],
            ])
            unmappedTail = members(["framework": .string(framework.id), "requirement": .string(requirement.id)])
            uidPrefix = "\(framework.id):\(requirement.id):"
        }
    }

    /// The record for one requirement, with its place in the file's hash chain, as one line of
    /// JSON (no newline).
    public static func line(_ part: ResultPart, _ requirement: RequirementPart, sequence: Int, previousHash: String) -> Data {
        var out = "{"
        out.reserveCapacity(part.head.utf8.count + part.complianceTail.utf8.count + part.unmappedHead.utf8.count + 700)
        out += part.head
        out += ",\"compliance\":{"
        out += requirement.complianceHead
        out += ","
        out += part.complianceTail
        out += "},\"metadata\":{"
        out += requirement.metadataHead
        out += ",\"sequence\":\(sequence),\"uid\":"
        out += JSONValue.string(requirement.uidPrefix + part.resultUID).serialized()
        out += "},\"unmapped\":{\"attest\":{"
        out += part.unmappedHead
        out += ","
        out += requirement.unmappedTail
        out += ",\"chain\":{\"previous\":\"\(previousHash)\",\"sequence\":\(sequence)}}}}"
        return Data(out.utf8)
    }
}
