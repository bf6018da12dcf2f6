import AttestControls
import AttestCore
import Foundation

/// How control results appear in scan reports: a `results` array in JSON, and per framework
/// and requirement the pass/fail counts and failing resources in the table.
enum ControlReport {
    static func summaryJSON(_ e: ControlEvaluation) -> JSONValue {
        var counts: [String: JSONValue] = [:]
        for status in ResultStatus.allCases { counts[status.rawValue] = .int(Int64(e.count(status))) }
        return ["evaluated": .int(Int64(e.plan.controls.count)), "results": .int(Int64(e.results.count)),
                "by_status": .object(counts),
                "fail_on": e.plan.failThreshold.map { .string($0.rawValue) } ?? .string("never")]
    }

    static func resultsJSON(_ e: ControlEvaluation) -> [JSONValue] {
        var requirementsCache: [String: JSONValue] = [:]
        return e.results.map { r in
            let control = e.controlsByID[r.controlID]
            var observed: [String: JSONValue] = [:]
            if let control { for (path, value) in r.observed(control, in: e.graph) { observed[path] = value } }
            let requirements: JSONValue
            if let cached = requirementsCache[r.controlID] {
                requirements = cached
            } else {
                requirements = .array(e.plan.frameworks.requirements(of: r.controlID).map {
                    ["framework": .string($0.framework), "requirement": .string($0.requirement)]
                })
                requirementsCache[r.controlID] = requirements
            }
            var o: [String: JSONValue] = [
                "control": .string(r.controlID), "title": .string(control?.title ?? ""),
                "resource": r.resourceID.isEmpty ? .null : .string(r.resourceID), "resource_type": .string(r.resourceType),
                "account": .string(r.account), "region": .string(r.region), "status": .string(r.status.rawValue),
                "severity": .string(r.severity.rawValue), "observed": .object(observed), "requirements": requirements,
            ]
            if let reason = r.reason { o["reason"] = .string(SecretScrubber.shared.scrub(reason)) }
            return .object(o)
        }
    }

    struct RequirementRow {
        var framework: String
        var id: String
        var title: String
        var manual: Bool
        var counts: [ResultStatus: Int] = [:]
        var failing: [(severity: String, control: String, resource: String)] = []

        var verdict: String {
            if manual { return "manual" }
            if (counts[.fail] ?? 0) > 0 { return "FAILING" }
            if (counts[.error] ?? 0) > 0 { return "incomplete" }
            if (counts[.pass] ?? 0) > 0 { return "passing" }
            return "no resources"
        }
    }

    /// Per framework, one row per requirement with counts over the results of its controls.
    static func requirementRows(_ e: ControlEvaluation) -> [(framework: String, title: String, rows: [RequirementRow])] {
        var byControl: [String: [ControlResult]] = [:]
        for r in e.results { byControl[r.controlID, default: []].append(r) }
        return e.plan.frameworks.frameworks.map { framework in
            let rows = framework.requirements.map { requirement in
                var row = RequirementRow(framework: framework.id, id: requirement.id, title: requirement.title, manual: requirement.isManual)
                for controlID in requirement.controls {
                    for r in byControl[controlID] ?? [] {
                        row.counts[r.status, default: 0] += 1
                        if r.status == .fail {
                            row.failing.append((r.severity.rawValue, controlID, r.resourceID.isEmpty ? "\(r.resourceType) in \(r.region)" : r.resourceID))
                        }
                    }
                }
                return row
            }
            return (framework.id, "\(framework.name): \(framework.title)", rows)
        }
    }

    static func frameworksJSON(_ e: ControlEvaluation) -> [JSONValue] {
        requirementRows(e).map { f in
            [
                "framework": .string(f.framework),
                "requirements": .array(f.rows.map { row in
                    [
                        "id": .string(row.id), "title": .string(row.title), "status": .string(row.verdict.lowercased().replacingOccurrences(of: " ", with: "_")),
                        "pass": .int(Int64(row.counts[.pass] ?? 0)), "fail": .int(Int64(row.counts[.fail] ?? 0)),
                        "error": .int(Int64(row.counts[.error] ?? 0)),
                        "not_applicable": .int(Int64(row.counts[.notApplicable] ?? 0)),
                    ]
                }),
            ]
        }
    }

    static func table(_ e: ControlEvaluation) -> String {
        var out = "controls: \(e.plan.controls.count) evaluated · \(e.results.count) results: "
        out += "\(e.count(.pass)) pass · \(e.count(.fail)) fail · \(e.count(.error)) error · \(e.count(.notApplicable)) not applicable\n"
        for framework in requirementRows(e) {
            let manual = framework.rows.filter(\.manual).count
            out += "\n\(framework.title)\n"
            var rows: [[String]] = [["REQUIREMENT", "PASS", "FAIL", "ERROR", "STATUS", "TITLE"]]
            var failingLines: [String] = []
            for row in framework.rows where !row.manual {
                rows.append([row.id, String(row.counts[.pass] ?? 0), String(row.counts[.fail] ?? 0), String(row.counts[.error] ?? 0),
                             row.verdict, String(row.title.prefix(70))])
                if !row.failing.isEmpty {
                    failingLines.append("  \(row.id):")
                    for f in row.failing.prefix(10) { failingLines.append("    \(f.severity.padding(toLength: 8, withPad: " ", startingAt: 0)) \(f.control)  \(f.resource)") }
                    if row.failing.count > 10 { failingLines.append("    … and \(row.failing.count - 10) more (use --format json for all)") }
                }
            }
            out += ScanReport.render(rows)
            out += "\(manual) requirement(s) manual (no automated control; see attest frameworks coverage \(framework.framework))\n"
            if !failingLines.isEmpty { out += "failing resources:\n" + failingLines.joined(separator: "\n") + "\n" }
        }
        let errors = e.results.filter { $0.status == .error }
        if !errors.isEmpty {
            out += "\ncould not evaluate (\(errors.count)):\n"
            for r in errors.prefix(20) {
                out += "  \(r.controlID)  \(r.resourceID.isEmpty ? "\(r.resourceType) in \(r.region)" : r.resourceID): \(SecretScrubber.shared.scrub(r.reason ?? ""))\n"
            }
            if errors.count > 20 { out += "  … and \(errors.count - 20) more (use --format json for all)\n" }
        }
        return out
    }
}
