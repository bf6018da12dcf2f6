import AttestCollect
import AttestControls
public import AttestCore
public import AttestEvidence
import AttestInventory
public import Foundation

/// JUnit XML as CI servers read it (GitLab's test report, Jenkins): one test suite per control,
/// one test case per control × resource. A failure holds the observed values and the
/// remediation; what could not be evaluated is an error; excepted and not-applicable results
/// are skipped with the reason.
public struct JUnitReportFormat: ReportFormat {
    public init() {}
    public var name: String { "junit" }
    public var fileExtension: String { "junit.xml" }

    public func render(_ report: ScanReport) throws -> Data { Data(xml(report).utf8) }

    public func xml(_ report: ScanReport) -> String {
        let results = report.results ?? []
        let catalog = Dictionary((report.catalog ?? []).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var order: [String] = []
        var byControl: [String: [ScanReport.Result]] = [:]
        for r in results {
            if byControl[r.control] == nil { order.append(r.control) }
            byControl[r.control, default: []].append(r)
        }
        func count(_ rs: [ScanReport.Result], _ s: ResultStatus...) -> Int { rs.filter { s.contains($0.status) }.count }
        let a = XML.attribute
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out +=
            "<testsuites name=\"attest\" tests=\"\(results.count)\" failures=\"\(count(results, .fail))\" errors=\"\(count(results, .error))\" skipped=\"\(count(results, .excepted, .notApplicable, .unknown))\" time=\"\(report.scan.stats.durationSeconds)\">\n"
        for id in order {
            let rs = byControl[id]!
            let control = catalog[id]
            out +=
                "  <testsuite name=\(a(id)) tests=\"\(rs.count)\" failures=\"\(count(rs, .fail))\" errors=\"\(count(rs, .error))\" skipped=\"\(count(rs, .excepted, .notApplicable, .unknown))\" timestamp=\(a(String(report.scan.startedAt.prefix(19)))) time=\"0\">\n"
            out += "    <properties>\n"
            out += "      <property name=\"severity\" value=\(a(rs[0].severity.rawValue))/>\n"
            if let control { out += "      <property name=\"title\" value=\(a(control.title))/>\n" }
            out += "    </properties>\n"
            for r in rs {
                out += "    <testcase name=\(a(r.subject)) classname=\(a(id)) time=\"0\">"
                switch r.status {
                case .pass:
                    out += "</testcase>\n"
                    continue
                case .fail:
                    var message = "\(r.title): \(r.subject) in \(r.account)/\(r.region)"
                    if let w = r.warning { message = (w.enforceFrom.map { "warns only until \($0): " } ?? "warns only: ") + message }
                    var body =
                        "severity: \(r.severity.rawValue)\nresource: \(r.subject) (\(r.resourceType))\naccount: \(r.account)\nregion: \(r.region)\n"
                    if !r.observed.isEmpty {
                        body +=
                            "observed:\n"
                            + r.observed.keys.sorted().map { "  \($0) = \(r.observed[$0]!.serialized())" }.joined(separator: "\n") + "\n"
                    }
                    if let control {
                        body += "remediation: \(control.remediation)\n"
                        if let cli = control.remediationCLI { body += "cli: \(cli)\n" }
                        for ref in control.references { body += "see: \(ref)\n" }
                    }
                    out +=
                        "\n      <failure message=\(a(message)) type=\(a(r.warning == nil ? r.severity.rawValue : "warning"))>\(XML.text(body))</failure>\n    "
                case .error:
                    out += "\n      <error message=\(a(r.reason ?? "could not be evaluated")) type=\"error\"/>\n    "
                case .excepted:
                    let e = r.exception
                    let why =
                        e.map { "excepted until \($0.expires) by \($0.owner): \($0.justification)" + ($0.ticket.map { " (\($0))" } ?? "") }
                        ?? "excepted"
                    out += "\n      <skipped message=\(a(why))/>\n    "
                case .notApplicable:
                    out += "\n      <skipped message=\"not applicable\"/>\n    "
                case .unknown:
                    out += "\n      <skipped message=\(a(r.reason ?? "known only after apply"))/>\n    "
                }
                out += "</testcase>\n"
            }
            out += "  </testsuite>\n"
        }
        out += "</testsuites>\n"
        return out
    }
}

/// XML escaping (`MarkupText`), with attribute values quoted.
enum XML {
    static func text(_ s: String) -> String { MarkupText.escape(s) }

    /// A quoted attribute value; newlines kept as character references.
    static func attribute(_ s: String) -> String {
        "\"" + text(s).replacingOccurrences(of: "\n", with: "&#10;").replacingOccurrences(of: "\r", with: "&#13;") + "\""
    }
}

/// OCSF 1.5.0 Detection Findings (class 2004) as one JSON array, one per failing or excepted
/// result, as Prowler's `json-ocsf` is: the finding's control, severity, resource, cloud
/// account and region, the observed values and the remediation. An excepted failure is
/// `Suppressed`, with its exception under `unmapped.attest`.
public struct OCSFReportFormat: ReportFormat {
    /// Provider id → how its accounts appear in OCSF (the providers' own, as in evidence records).
    public var clouds: [String: any EvidenceCloud]
    public init(clouds: [String: any EvidenceCloud] = [:]) { self.clouds = clouds }
    public var name: String { "ocsf" }
    public var fileExtension: String { "ocsf.json" }

    public static let ocsfVersion = "1.5.0"

    public func render(_ report: ScanReport) throws -> Data {
        Data((JSONValue.array(findings(report)).serialized(pretty: true) + "\n").utf8)
    }

    static func severity(_ s: Severity) -> (Int64, String) {
        switch s {
        case .info: (1, "Informational")
        case .low: (2, "Low")
        case .medium: (3, "Medium")
        case .high: (4, "High")
        case .critical: (5, "Critical")
        }
    }

    public func findings(_ report: ScanReport) -> [JSONValue] {
        let catalog = Dictionary((report.catalog ?? []).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let time = Int64(
            ((ISO8601DateFormatter.withFractions.date(from: report.scan.startedAt) ?? Date()).timeIntervalSince1970 * 1000).rounded())
        let names = Dictionary(report.resources.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        var out: [JSONValue] = []
        for r in report.results ?? [] where r.status == .fail || r.status == .excepted {
            let (severityID, severityText) = Self.severity(r.severity)
            let control = catalog[r.control]
            let provider = String(r.resourceType.prefix { $0 != "." })
            var resource: [String: JSONValue] = [
                "uid": .string(r.subject), "type": .string(r.resourceType), "region": .string(r.region),
                "cloud_partition": .null, "data": .object(r.observed),
            ]
            resource["cloud_partition"] = nil
            if let id = r.resource, let name = names[id], !name.isEmpty { resource["name"] = .string(name) }
            var finding: [String: JSONValue] = [
                "uid": .string("\(report.scan.id):\(r.control):\(r.subject)"), "title": .string(r.title),
                "types": ["Compliance"], "product_uid": "attest", "created_time": .int(time),
            ]
            if let control { finding["desc"] = .string(control.description) }
            var attest: [String: JSONValue] = [
                "control": .string(r.control), "status": .string(r.status.rawValue),
                "requirements": .array(r.requirements.map { .string("\($0.framework):\($0.requirement)") }),
            ]
            if let e = r.exception { attest["exception"] = e.json }
            if let blocks = r.blocks { attest["blocks"] = .bool(blocks) }
            if let from = r.warning?.enforceFrom { attest["enforce_from"] = .string(from) }
            var f: [String: JSONValue] = [
                "activity_id": 1, "activity_name": "Create", "category_uid": 2, "category_name": "Findings",
                "class_uid": 2004, "class_name": "Detection Finding", "type_uid": 200_401, "type_name": "Detection Finding: Create",
                "severity_id": .int(severityID), "severity": .string(severityText),
                "status_id": r.status == .excepted ? 3 : 1, "status": r.status == .excepted ? "Suppressed" : "New",
                "status_code": .string(r.status == .excepted ? "EXCEPTED" : "FAIL"),
                "time": .int(time), "time_dt": .string(report.scan.startedAt),
                "message": .string("\(r.title): \(r.subject)"),
                "finding_info": .object(finding),
                "resources": [.object(resource)],
                "cloud": cloud(provider: provider, account: r.account, region: r.region),
                "metadata": [
                    "version": .string(Self.ocsfVersion), "correlation_uid": .string(report.scan.id),
                    "product": ["name": "attest", "vendor_name": "attest", "uid": "attest", "version": .string(report.scan.toolVersion)],
                    "event_code": .string(r.control),
                ],
                "unmapped": ["attest": .object(attest)],
            ]
            if let control {
                var remediation: [String: JSONValue] = ["desc": .string(control.remediation)]
                if !control.references.isEmpty { remediation["references"] = .array(control.references.map { .string($0) }) }
                f["remediation"] = .object(remediation)
            }
            out.append(.object(f))
        }
        return out
    }
}

extension OCSFReportFormat {
    /// The provider's cloud object, with the account's name (its id when the provider gives
    /// none) and type, which Detection Findings' account object requires.
    func cloud(provider: String, account: String, region: String) -> JSONValue {
        var cloud =
            (clouds[provider] ?? PlainEvidenceCloud(provider: provider)).ocsfCloud(account: account, region: region).objectValue ?? [:]
        var a = cloud["account"]?.objectValue ?? ["uid": .string(account)]
        if a["name"] == nil { a["name"] = .string(account) }
        if a["type_id"] == nil {
            a["type_id"] = 99
            a["type"] = "Other"
        }
        cloud["account"] = .object(a)
        return .object(cloud)
    }
}

extension ISO8601DateFormatter {
    nonisolated(unsafe) static let withFractions: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f
    }()
}

/// One row per result, for spreadsheets: cells that a spreadsheet would run as a formula (a
/// resource name starting with `=`, `+`, `-`, `@`) are prefixed with `'`.
public struct CSVReportFormat: ReportFormat {
    public init() {}
    public var name: String { "csv" }

    public static let header = [
        "control", "title", "severity", "status", "blocks", "resource", "resource_type", "account", "region", "requirements",
        "reason", "observed", "exception_owner", "exception_ticket", "exception_expires", "exception_source", "enforce_from",
    ]

    public func render(_ report: ScanReport) throws -> Data {
        let rows = (report.results ?? []).map { r -> [String] in
            [
                r.control, r.title, r.severity.rawValue, r.status.rawValue, r.blocks.map { $0 ? "yes" : "no" } ?? "", r.subject,
                r.resourceType, r.account, r.region, r.requirements.map { "\($0.framework):\($0.requirement)" }.joined(separator: " "),
                r.reason ?? "", r.observed.isEmpty ? "" : JSONValue.object(r.observed).serialized(), r.exception?.owner ?? "",
                r.exception?.ticket ?? "", r.exception?.expires ?? "", r.exception?.source ?? "", r.warning?.enforceFrom ?? "",
            ]
        }
        return Data(CSVText.text(header: Self.header, rows: rows).utf8)
    }
}

/// RFC 4180 CSV with formula cells neutralised.
public enum CSVText {
    public static func text(header: [String], rows: [[String]]) -> String {
        func field(_ raw: String) -> String {
            var s = raw
            if let first = s.first, "=+-@\t\r".contains(first) { s = "'" + s }
            return s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        return ([header] + rows).map { $0.map(field).joined(separator: ",") }.joined(separator: "\n") + "\n"
    }
}

/// A short summary for a pull-request comment or a job summary: the verdict, the counts, new
/// failures first (against a baseline report), the top failing controls with links to their
/// remediation, and the exceptions that need attention.
public struct MarkdownReportFormat: ReportFormat {
    /// A previous JSON report: failures not in it are new.
    public var baseline: Baseline?
    public init(baseline: Baseline? = nil) { self.baseline = baseline }
    public var name: String { "markdown" }
    public var fileExtension: String { "md" }

    static let shownControls = 10
    static let shownNew = 20

    /// The failures of an earlier report, as (control, account, region, subject) keys.
    public struct Baseline: Sendable {
        public var failures: Set<String>
        public var scanID: String

        /// Reads a JSON report written by `--format json` (any later schema: only the results are read).
        public init(json data: Data, file: String) throws {
            guard let value = try? JSONValue.parse(data),
                value["schema_version"].intValue != nil, let results = value["results"].arrayValue
            else { throw SpecError(file: file, line: 1, message: "--baseline: not a JSON report of attest (--format json, with controls)") }
            scanID = value["scan"]["id"].stringValue ?? ""
            failures = []
            for r in results {
                let status = r["status"].stringValue
                guard status == "fail" || status == "excepted" else { continue }
                let subject = r["resource"].stringValue ?? r["parent"].stringValue ?? r["resource_type"].stringValue ?? ""
                failures.insert(
                    Self.key(r["control"].stringValue ?? "", r["account"].stringValue ?? "", r["region"].stringValue ?? "", subject))
            }
        }

        static func key(_ control: String, _ account: String, _ region: String, _ subject: String) -> String {
            [control, account, region, subject].joined(separator: "\u{0}")
        }

        func contains(_ r: ScanReport.Result) -> Bool {
            failures.contains(Self.key(r.control, r.account, r.region, r.resource ?? r.parent ?? r.resourceType))
        }
    }

    public func render(_ report: ScanReport) throws -> Data { Data(text(report).utf8) }

    public func text(_ report: ScanReport) -> String {
        let scan = report.scan
        var out =
            report.plan.map { "## attest plan: \(Markdown.escape($0.file))\n\n" }
            ?? "## attest: \(Markdown.escape(scan.provider)) account \(Markdown.escape(scan.account))\n\n"
        guard let c = report.controls, let results = report.results else {
            return out + "Inventory only: \(scan.stats.resources) resources, \(scan.stats.errors) error(s).\n"
        }
        let failOn = c.failOn
        if c.blocking > 0 {
            out += "**❌ \(c.blocking) blocking failure(s)** (at or above `\(failOn)`)"
        } else {
            out += "**✅ no blocking failure**" + (failOn == "never" ? " (`--fail-on never`)" : " (at or above `\(failOn)`)")
        }
        if !scan.complete { out += " · ⚠️ incomplete: \(scan.stats.errors) error(s) reading the account" }
        if let unknown = c.byStatus["unknown"], unknown > 0 { out += " · \(unknown) result(s) known only after apply" }
        out += "\n\n"
        let n = { (s: String) in c.byStatus[s] ?? 0 }
        out += "| pass | fail | excepted | error | not applicable | controls |\n|---:|---:|---:|---:|---:|---:|\n"
        out += "| \(n("pass")) | \(n("fail")) | \(n("excepted")) | \(n("error")) | \(n("not_applicable")) | \(c.evaluated) |\n\n"

        let failures = results.filter { $0.status == .fail }
        if let baseline {
            let new = failures.filter { !baseline.contains($0) }.sorted { ($0.severity, $1.control) > ($1.severity, $0.control) }
            out += "### New failures since scan \(Markdown.code(baseline.scanID)) (\(new.count))\n\n"
            if new.isEmpty { out += "None.\n\n" }
            for r in new.prefix(Self.shownNew) {
                out += "- **\(r.severity.rawValue)** \(Markdown.code(r.control)) \(Markdown.code(r.subject))"
                out += r.blocks == true ? "" : " (does not block)"
                out += "\n"
            }
            if new.count > Self.shownNew { out += "- … and \(new.count - Self.shownNew) more\n" }
            if !new.isEmpty { out += "\n" }
        }

        let catalog = Dictionary((report.catalog ?? []).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var byControl: [String: [ScanReport.Result]] = [:]
        for r in failures { byControl[r.control, default: []].append(r) }
        let top = byControl.keys.sorted { a, b in
            let (x, y) = (byControl[a]!, byControl[b]!)
            return (x[0].severity, x.count, b) > (y[0].severity, y.count, a)
        }
        if !top.isEmpty {
            out += "### Top failing controls\n\n| severity | control | failing | remediation |\n|---|---|---:|---|\n"
            for id in top.prefix(Self.shownControls) {
                let rs = byControl[id]!
                let info = catalog[id]
                var name = Markdown.code(id)
                if let link = info?.references.first, link.hasPrefix("https://") { name = "[\(name)](\(Markdown.url(link)))" }
                let warned = rs[0].warning.map { w in w.enforceFrom.map { " (warns until \($0))" } ?? " (warns only)" } ?? ""
                let remediation = (info?.remediation ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
                let fix = Markdown.escape(remediation.count > 160 ? String(remediation.prefix(159)) + "…" : remediation)
                out += "| \(rs[0].severity.rawValue) | \(name) \(Markdown.escape(rs[0].title))\(warned) | \(rs.count) | \(fix) |\n"
            }
            if top.count > Self.shownControls {
                out += "\n… and \(top.count - Self.shownControls) more failing control(s) in the full report.\n"
            }
            out += "\n"
        }
        if !c.warned.isEmpty {
            out += "### Warned controls (do not block yet)\n\n"
            for w in c.warned {
                out += "- \(Markdown.code(w.control)): \(w.failures) failure(s), "
                out += w.enforceFrom.map { "blocks from \($0)" } ?? "warns until the config changes"
                out += "\n"
            }
            out += "\n"
        }
        let x = c.exceptions
        if !(x.applied.isEmpty && x.expired.isEmpty && x.stale.isEmpty && x.expiringSoon.isEmpty) {
            out += "### Exceptions\n\n"
            for e in x.expired {
                out +=
                    "- ⛔ expired \(e.exception.expires): \(Markdown.code(e.exception.control)) (\(Markdown.escape(e.exception.owner))), \(e.results) failure(s) count again\n"
            }
            for e in x.expiringSoon {
                out +=
                    "- ⏳ expires \(e.exception.expires) (\(e.daysLeft ?? 0) day(s)): \(Markdown.code(e.exception.control)) (\(Markdown.escape(e.exception.owner)))\n"
            }
            for e in x.stale {
                out += "- 🧹 stale (matches no failure): \(Markdown.code(e.exception.control)) at \(Markdown.code(e.exception.source))\n"
            }
            let excepted = c.exceptedByControl.sorted { ($0.value, $1.key) > ($1.value, $0.key) }
            if !excepted.isEmpty {
                out +=
                    "- excepted results by control: " + excepted.map { "\(Markdown.code($0.key)) \($0.value)" }.joined(separator: ", ")
                    + "\n"
            }
            out += "\n"
        }
        out +=
            "<sub>scan \(Markdown.code(scan.id)) · attest \(Markdown.escape(scan.toolVersion)) · \(scan.stats.resources) resources · \(scan.stats.calls) calls</sub>\n"
        return out
    }
}

/// Escaping for text from APIs and config placed in Markdown.
enum Markdown {
    /// Markdown and HTML metacharacters escaped, newlines flattened: a resource name cannot
    /// open a link, an image, a table cell or a tag.
    static func escape(_ s: String) -> String {
        var out = ""
        let flat = s.split(whereSeparator: { $0.isNewline || $0 == "\t" }).joined(separator: " ")
        for ch in TerminalText.safe(flat, singleLine: true) {
            switch ch {
            case "\\", "`", "*", "_", "[", "]", "(", ")", "#", "|", "!", "~", "{", "}": out += "\\\(ch)"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            default: out.append(ch)
            }
        }
        return out
    }

    /// Inline code that a backtick inside cannot close; pipes escaped for tables.
    static func code(_ s: String) -> String {
        let flat = TerminalText.safe(s, singleLine: true).replacingOccurrences(of: "`", with: "ˋ")
            .replacingOccurrences(of: "|", with: "\\|")
        return "`\(flat)`"
    }

    /// A link target with the characters that would end it encoded.
    static func url(_ s: String) -> String {
        s.replacingOccurrences(of: "(", with: "%28").replacingOccurrences(of: ")", with: "%29")
            .replacingOccurrences(of: " ", with: "%20").replacingOccurrences(of: "|", with: "%7C")
    }
}
