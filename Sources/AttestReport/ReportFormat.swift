import AttestCollect
import AttestControls
import AttestCore
import AttestInventory
public import Foundation

/// One way to write a scan report: `table` and `json` today; SARIF, JUnit, OCSF, HTML and
/// Markdown plug in here as further conformances.
public protocol ReportFormat: Sendable {
    /// The name `--format` takes.
    var name: String { get }
    /// The report as the bytes to write.
    func render(_ report: ScanReport) throws -> Data
}

/// The report as one pretty-printed JSON document with sorted keys (`docs/scan-output.md`).
public struct JSONReportFormat: ReportFormat {
    public init() {}
    public var name: String { "json" }

    public func render(_ report: ScanReport) throws -> Data {
        Data((try JSONValueEncoder().encode(report).serialized(pretty: true) + "\n").utf8)
    }
}

/// The report for people: the inventory by type and region, what could not be read, and per
/// framework and requirement the pass/fail/error counts and the failing resources.
public struct TableReportFormat: ReportFormat {
    public init() {}
    public var name: String { "table" }

    public func render(_ report: ScanReport) throws -> Data { Data(TerminalText.safe(text(report)).utf8) }

    public func text(_ r: ScanReport) -> String {
        var out = ""
        let scan = r.scan
        out += "attest scan \(scan.provider) · account \(scan.account)\(scan.principal.map { " · \($0)" } ?? "")\n"
        out +=
            "scan \(scan.id) · \(scan.regions.count) region(s) · \(scan.services.count) service(s) · "
            + String(format: "%.1f s", scan.stats.durationSeconds) + " · \(scan.stats.calls) calls · \(scan.stats.retries) retries\n\n"
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
        if r.errors.isEmpty {
            out += "\ncomplete: every call succeeded\n"
        } else {
            out += "\nINCOMPLETE: \(r.errors.count) error(s)\n"
            let accounts = Set(r.errors.map(\.account)).count > 1
            var errorRows: [[String]] = [(accounts ? ["ACCOUNT"] : []) + ["SERVICE", "REGION", "OPERATION", "CODE", "RESOURCE", "MESSAGE"]]
            for e in r.errors.prefix(50) {
                errorRows.append(
                    (accounts ? [e.account] : []) + [
                        e.service, e.region, e.operation, e.code,
                        e.resourceId ?? e.parentId.map { "children of \($0)" } ?? e.resourceType ?? "-",
                        String(SecretScrubber.shared.scrub(e.message).prefix(100)),
                    ])
            }
            out += Self.render(errorRows)
            if r.errors.count > 50 { out += "… and \(r.errors.count - 50) more (use --format json for all)\n" }
        }
        if let controls = r.controls, let results = r.results, let frameworks = r.frameworks {
            out += "\n" + controlsText(controls, results: results, frameworks: frameworks)
        }
        return out
    }

    func controlsText(_ c: ScanReport.ControlsSummary, results: [ScanReport.Result], frameworks: [ScanReport.FrameworkSummary]) -> String {
        var out = "controls: \(c.evaluated) evaluated · \(c.results) results: "
        out +=
            "\(c.byStatus["pass"] ?? 0) pass · \(c.byStatus["fail"] ?? 0) fail · \(c.byStatus["error"] ?? 0) error · "
            + "\(c.byStatus["not_applicable"] ?? 0) not applicable\n"
        var failingByRequirement: [ScanReport.RequirementRef: [ScanReport.Result]] = [:]
        for result in results where result.status == .fail {
            for ref in result.requirements { failingByRequirement[ref, default: []].append(result) }
        }
        for framework in frameworks {
            let manual = framework.requirements.filter { $0.status == .manual }.count
            out += "\n\(framework.name): \(framework.title)\n"
            var rows: [[String]] = [["REQUIREMENT", "PASS", "FAIL", "ERROR", "STATUS", "TITLE"]]
            var failingLines: [String] = []
            for row in framework.requirements where row.status != .manual {
                rows.append([row.id, String(row.pass), String(row.fail), String(row.error), row.status.label, String(row.title.prefix(70))])
                let failing = failingByRequirement[ScanReport.RequirementRef(framework: framework.framework, requirement: row.id)] ?? []
                if !failing.isEmpty {
                    failingLines.append("  \(row.id):")
                    for f in failing.prefix(10) {
                        failingLines.append(
                            "    \(f.severity.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) \(f.control)  \(f.subject)")
                    }
                    if failing.count > 10 { failingLines.append("    … and \(failing.count - 10) more (use --format json for all)") }
                }
            }
            out += Self.render(rows)
            out += "\(manual) requirement(s) manual (no automated control; see attest frameworks coverage \(framework.framework))\n"
            if !failingLines.isEmpty { out += "failing resources:\n" + failingLines.joined(separator: "\n") + "\n" }
        }
        if !c.notEvaluated.isEmpty {
            out += "\nnot evaluated (\(c.notEvaluated.count)): their data was not collected\n"
            for n in c.notEvaluated { out += "  \(n.control): \(n.reason)\n" }
        }
        let errors = results.filter { $0.status == .error }
        if !errors.isEmpty {
            out += "\ncould not evaluate (\(errors.count)):\n"
            for r in errors.prefix(20) { out += "  \(r.control)  \(r.subject): \(SecretScrubber.shared.scrub(r.reason ?? ""))\n" }
            if errors.count > 20 { out += "  … and \(errors.count - 20) more (use --format json for all)\n" }
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
    public static let all: [any ReportFormat] = [TableReportFormat(), JSONReportFormat()]

    public static func named(_ name: String) -> (any ReportFormat)? { all.first { $0.name == name } }
}
