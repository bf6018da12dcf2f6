import AttestCollect
import AttestControls
import AttestCore
import AttestInventory
public import Foundation

/// One way to write a scan report: table, JSON, SARIF, JUnit, OCSF, CSV and Markdown
/// (`docs/scan-output.md`); a new format is one more conformance.
public protocol ReportFormat: Sendable {
    /// The name `--format` takes.
    var name: String { get }
    /// The file name's extension under `--output-dir` (`attest.<extension>`).
    var fileExtension: String { get }
    /// The report as the bytes to write.
    func render(_ report: ScanReport) throws -> Data
}

extension ReportFormat {
    public var fileExtension: String { name }
}

/// The report as one pretty-printed JSON document with sorted keys (`docs/scan-output.md`).
public struct JSONReportFormat: ReportFormat {
    public init() {}
    public var name: String { "json" }

    public func render(_ report: ScanReport) throws -> Data {
        Data((try JSONValueEncoder().encode(report).serialized(pretty: true) + "\n").utf8)
    }
}

/// The report for people, in the order an engineer acts on it: the inventory and what could not
/// be read, then the failing controls by severity, each with its failing resources once (not once
/// per framework requirement), then one line per framework. `details` adds every requirement of
/// every framework and lifts the caps on listed resources and errors.
public struct TableReportFormat: ReportFormat {
    public var details: Bool
    public init(details: Bool = false) { self.details = details }
    public var name: String { "table" }
    public var fileExtension: String { "txt" }

    /// Resources listed under one failing control, and errors listed, unless `details`.
    static let shownResources = 5
    static let shownErrors = 20

    public func render(_ report: ScanReport) throws -> Data { Data(TerminalText.safe(text(report)).utf8) }

    public func text(_ r: ScanReport) -> String {
        var out = header(r) + "\n"
        var rows: [[String]] = [["RESOURCE TYPE", "COUNT", "REGIONS"]]
        var byType: [String: [String: Int]] = [:]
        for res in r.resources { byType[res.type, default: [:]][res.region, default: 0] += 1 }
        for type in byType.keys.sorted() {
            let regions = byType[type]!
            let total = regions.values.reduce(0, +)
            rows.append([type, String(total), regions.keys.sorted().map { "\($0) (\(regions[$0]!))" }.joined(separator: ", ")])
        }
        rows.append(["total", String(r.resources.count), "\(r.edges.count) edges"])
        out += Self.render(rows)
        out += "\n" + Self.collectionLine(r) + "\n"
        if !r.errors.isEmpty {
            let accounts = Set(r.errors.map(\.account)).count > 1
            var errorRows: [[String]] = [(accounts ? ["ACCOUNT"] : []) + ["SERVICE", "REGION", "OPERATION", "CODE", "RESOURCE", "MESSAGE"]]
            let shown = details ? r.errors.count : 50
            for e in r.errors.prefix(shown) {
                errorRows.append(
                    (accounts ? [e.account] : []) + [
                        e.service, e.region, e.operation, e.code,
                        e.resourceId ?? e.parentId.map { "children of \($0)" } ?? e.resourceType ?? "-",
                        String(SecretScrubber.shared.scrub(e.message).prefix(details ? 1000 : 100)),
                    ])
            }
            out += Self.render(errorRows)
            if r.errors.count > shown { out += "… and \(r.errors.count - shown) more (--details, or --format json)\n" }
        }
        if let controls = r.controls, let results = r.results, let frameworks = r.frameworks {
            out += "\n" + controlsText(controls, results: results, frameworks: frameworks)
        }
        return out
    }

    /// The few lines stdout gets when the report went to a file (`--output`).
    public func summary(_ r: ScanReport, writtenTo paths: [String]) -> String {
        var out = header(r)
        out += Self.collectionLine(r) + "\n"
        if let c = r.controls, let results = r.results {
            out += Self.controlsLine(c) + "\n"
            let failing = Self.failingControls(results)
            if !failing.isEmpty {
                let bySeverity = Dictionary(grouping: failing, by: \.severity)
                let parts = Severity.allCases.reversed().compactMap { s in bySeverity[s].map { "\($0.count) \(s.rawValue)" } }
                out += "failing controls: " + parts.joined(separator: " · ")
                out += c.failOn == "never" ? "\n" : " · \(c.blocking) blocking failure(s) at or above \(c.failOn)\n"
            }
            out += Self.exceptionLines(c)
        }
        for path in paths { out += "report: \(path)\n" }
        return TerminalText.safe(out)
    }

    func header(_ r: ScanReport) -> String {
        let scan = r.scan
        if let plan = r.plan {
            let actions = ["create", "update", "replace", "delete", "no-op", "read"].compactMap { a in plan.actions[a].map { "\($0) \(a)" }
            }
            var out = "attest plan \(plan.file)\(plan.terraformVersion.map { " · terraform \($0)" } ?? "")\n"
            out += "\(scan.stats.resources) resource(s) judged · planned: \(actions.joined(separator: ", "))\n"
            if !plan.unmapped.isEmpty {
                out +=
                    "not judged (no mapping): "
                    + plan.unmapped.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + "\n"
            }
            return out
        }
        return "attest scan \(scan.provider) · account \(scan.account)\(scan.principal.map { " · \($0)" } ?? "")\n"
            // Azure lists span every location: no regions are scanned one by one, so none are counted.
            + "scan \(scan.id) · \(scan.regions.isEmpty ? "" : "\(scan.regions.count) region(s) · ")\(scan.services.count) service(s) · "
            + String(format: "%.1f s", scan.stats.durationSeconds) + " · \(scan.stats.calls) calls · \(scan.stats.retries) retries\n"
    }

    static func collectionLine(_ r: ScanReport) -> String {
        if r.plan != nil { return "read: the plan (no cloud calls)" }
        return r.errors.isEmpty ? "complete: every call succeeded" : "INCOMPLETE: \(r.errors.count) error(s) (what could not be read)"
    }

    static func controlsLine(_ c: ScanReport.ControlsSummary) -> String {
        "controls: \(c.evaluated) evaluated · \(c.results) results: "
            + "\(c.byStatus["pass"] ?? 0) pass · \(c.byStatus["fail"] ?? 0) fail · \(c.byStatus["error"] ?? 0) error · "
            + "\(c.byStatus["not_applicable"] ?? 0) not applicable"
            + ((c.byStatus["excepted"] ?? 0) > 0 ? " · \(c.byStatus["excepted"]!) excepted" : "")
            + ((c.byStatus["unknown"] ?? 0) > 0 ? " · \(c.byStatus["unknown"]!) unknown until apply" : "")
            + (c.notEvaluated.isEmpty ? "" : " · \(c.notEvaluated.count) control(s) not evaluated")
    }

    /// What the exceptions did and which need attention: expired, stale, ending soon, and how
    /// many results each control had excepted. Empty when the scan had no exceptions.
    static func exceptionLines(_ c: ScanReport.ControlsSummary) -> String {
        let x = c.exceptions
        guard !(x.applied.isEmpty && x.expired.isEmpty && x.stale.isEmpty && x.expiringSoon.isEmpty) else { return "" }
        var out = "exceptions: \(x.applied.count) applied (\(x.applied.reduce(0) { $0 + $1.results }) result(s))"
        out += " · \(x.expired.count) expired · \(x.stale.count) stale · \(x.expiringSoon.count) expiring soon\n"
        func describe(_ e: ControlException) -> String {
            "\(e.control) (owner \(e.owner)\(e.ticket.map { ", \($0)" } ?? "")) at \(e.source)"
        }
        for e in x.expired {
            out += "  EXPIRED \(e.exception.expires): \(describe(e.exception)): \(e.results) failure(s) count again\n"
        }
        for e in x.expiringSoon {
            out += "  expires \(e.exception.expires) (\(e.daysLeft ?? 0) day(s) left): \(describe(e.exception))\n"
        }
        for e in x.stale { out += "  stale, covers no failure (remove it): \(describe(e.exception))\n" }
        let excepted = c.exceptedByControl.sorted { ($0.value, $1.key) > ($1.value, $0.key) }
        if !excepted.isEmpty {
            out += "  excepted by control: " + excepted.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + "\n"
        }
        return out
    }

    /// One failing control: its failing resources, each once.
    struct FailingControl {
        var control: String
        var title: String
        var severity: Severity
        var subjects: [String]
        var mapped: Bool
        var warning: ScanReport.Result.Warning?
    }

    /// Failing controls, most severe first, then by id.
    static func failingControls(_ results: [ScanReport.Result]) -> [FailingControl] {
        var byControl: [String: FailingControl] = [:]
        var seen: [String: Set<String>] = [:]
        for result in results where result.status == .fail {
            var entry =
                byControl[result.control]
                ?? FailingControl(
                    control: result.control, title: result.title, severity: result.severity, subjects: [],
                    mapped: !result.requirements.isEmpty, warning: result.warning)
            if seen[result.control, default: []].insert(result.subject).inserted { entry.subjects.append(result.subject) }
            byControl[result.control] = entry
        }
        return byControl.values.sorted { ($0.severity, $1.control) > ($1.severity, $0.control) }
    }

    func controlsText(_ c: ScanReport.ControlsSummary, results: [ScanReport.Result], frameworks: [ScanReport.FrameworkSummary]) -> String {
        var out = Self.controlsLine(c) + "\n"
        out += Self.exceptionLines(c)

        let failing = Self.failingControls(results)
        if !failing.isEmpty {
            out += "\nFAILING CONTROLS (\(failing.count)), most severe first\n"
            for f in failing {
                var unmapped = f.mapped ? "" : "  [no framework mapping]"
                if let w = f.warning { unmapped += w.enforceFrom.map { "  [warns only; blocks from \($0)]" } ?? "  [warns only]" }
                out += "\(f.severity.rawValue.uppercased().padding(toLength: 8, withPad: " ", startingAt: 0)) \(f.control)  \(f.title)"
                out += "  (\(f.subjects.count) resource(s))\(unmapped)\n"
                let shown = details ? f.subjects.count : Self.shownResources
                for subject in f.subjects.prefix(shown) { out += "    \(TerminalText.safe(subject, singleLine: true))\n" }
                if f.subjects.count > shown { out += "    … and \(f.subjects.count - shown) more (--details)\n" }
            }
        }

        if !frameworks.isEmpty {
            out += "\nFRAMEWORKS (requirements)\n"
            var rows: [[String]] = [["FRAMEWORK", "FAILING", "INCOMPLETE", "EXCEPTED", "PASSING", "NO RESOURCES", "MANUAL", "TITLE"]]
            for framework in frameworks {
                let count = { (v: RequirementVerdict) in String(framework.requirements.filter { $0.status == v }.count) }
                rows.append([
                    framework.name, count(.failing), count(.incomplete), count(.excepted), count(.passing), count(.noResources),
                    count(.manual), String(framework.title.prefix(70)),
                ])
            }
            out += Self.render(rows)
            if details {
                for framework in frameworks {
                    out += "\n\(framework.name): \(framework.title)\n"
                    var rows: [[String]] = [["REQUIREMENT", "PASS", "FAIL", "EXCEPTED", "ERROR", "STATUS", "CONTROLS", "TITLE"]]
                    for row in framework.requirements where row.status != .manual {
                        rows.append([
                            row.id, String(row.pass), String(row.fail), String(row.excepted), String(row.error), row.status.label,
                            String(row.controls.count), String(row.title.prefix(70)),
                        ])
                    }
                    out += Self.render(rows)
                    let manual = framework.requirements.filter { $0.status == .manual }.count
                    out += "\(manual) requirement(s) manual (no automated control; see attest frameworks coverage \(framework.framework))\n"
                }
            } else {
                out += "each requirement: --details, or attest frameworks coverage ID\n"
            }
        }

        // Controls that ran with no framework mapping: their results are above, and the evidence
        // manifest names them (they evidence no requirement, so they have no record file).
        var unmapped: [String: [ResultStatus: Int]] = [:]
        for result in results where result.requirements.isEmpty { unmapped[result.control, default: [:]][result.status, default: 0] += 1 }
        if !unmapped.isEmpty {
            out +=
                "\nno framework mapping (\(unmapped.count)): results shown, named in the evidence manifest, not evidence for any requirement\n"
            for id in unmapped.keys.sorted() {
                let counts = unmapped[id]!
                let parts = ResultStatus.allCases.compactMap { s in counts[s].map { "\($0) \(s.rawValue)" } }
                out += "  \(id): \(parts.joined(separator: ", "))\n"
            }
        }
        if !c.notEvaluated.isEmpty {
            out += "\nnot evaluated (\(c.notEvaluated.count)): their data was not collected\n"
            for n in c.notEvaluated { out += "  \(n.control): \(n.reason)\n" }
        }
        let errors = results.filter { $0.status == .error }
        if !errors.isEmpty {
            let shown = details ? errors.count : Self.shownErrors
            out += "\ncould not evaluate (\(errors.count)):\n"
            for r in errors.prefix(shown) { out += "  \(r.control)  \(r.subject): \(SecretScrubber.shared.scrub(r.reason ?? ""))\n" }
            if errors.count > shown { out += "  … and \(errors.count - shown) more (--details)\n" }
        }
        return out
    }

    /// Columns padded to their widest cell; the last column is not padded.
    public static func render(_ rows: [[String]]) -> String {
        let rows = safe(rows)
        guard let first = rows.first else { return "" }
        var widths = Array(repeating: 0, count: first.count)
        for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        return rows.map { row in
            row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }

    /// Every cell escaped for the terminal (a resource name from an API may hold ESC bytes).
    static func safe(_ rows: [[String]]) -> [[String]] {
        rows.map { $0.map { TerminalText.safe($0, singleLine: true) } }
    }
}

/// The formats `--format` offers, by name.
public enum ReportFormats {
    public static let all: [any ReportFormat] = [
        TableReportFormat(), JSONReportFormat(), SARIFReportFormat(), JUnitReportFormat(), OCSFReportFormat(), CSVReportFormat(),
        MarkdownReportFormat(), HTMLReportFormat(),
    ]

    public static func named(_ name: String) -> (any ReportFormat)? { all.first { $0.name == name } }
}
