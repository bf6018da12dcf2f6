import AttestCollect
import AttestCore
import AttestInventory
import Foundation

/// The scan report in its two forms. The JSON schema is documented in `docs/scan-output.md`.
enum ScanReport {
    static let schemaVersion: Int64 = 1

    static func timestamp(_ d: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: d)
    }

    static func json(_ r: ScanResult, evaluation: ControlEvaluation? = nil) -> JSONValue {
        let resources: [JSONValue] = r.graph.sortedResources.map { res in
            [
                "id": .string(res.id), "type": .string(res.type), "account": .string(res.account), "region": .string(res.region),
                "name": .string(res.name), "tags": .object(res.tags.mapValues(JSONValue.string)), "attributes": .object(res.attributes),
            ]
        }
        let edges: [JSONValue] = r.graph.sortedEdges.map { ["from": .string($0.from), "to": .string($0.to), "kind": .string($0.kind)] }
        let errors: [JSONValue] = r.errors.map { e in
            var o: [String: JSONValue] = [
                "service": .string(e.service), "region": .string(e.region), "operation": .string(e.operation),
                "code": .string(e.code), "message": .string(SecretScrubber.shared.scrub(e.message)),
            ]
            if let t = e.resourceType { o["resource_type"] = .string(t) }
            if let id = e.resourceId { o["resource_id"] = .string(id) }
            return .object(o)
        }
        var scan: [String: JSONValue] = [
            "id": .string(r.id), "provider": .string(r.provider), "started_at": .string(timestamp(r.startedAt)),
            "finished_at": .string(timestamp(r.finishedAt)), "tool": "attest", "tool_version": .string(attestVersion),
            "account": .string(r.account), "regions": .array(r.regions.map(JSONValue.string)),
            "services": .array(r.services.map(JSONValue.string)), "complete": .bool(r.isComplete),
            "stats": [
                "resources": .int(Int64(r.graph.count)), "edges": .int(Int64(r.graph.edges.count)), "errors": .int(Int64(r.errors.count)),
                "calls": .int(Int64(r.calls)), "retries": .int(Int64(r.retries)),
                "duration_seconds": .double((r.finishedAt.timeIntervalSince(r.startedAt) * 1000).rounded() / 1000),
            ],
        ]
        if let p = r.principal { scan["principal"] = .string(p) }
        var report: JSONValue = ["schema_version": .int(schemaVersion), "scan": .object(scan), "resources": .array(resources),
                                 "edges": .array(edges), "errors": .array(errors)]
        if let evaluation, case .object(var o) = report {
            o["controls"] = ControlReport.summaryJSON(evaluation)
            o["results"] = .array(ControlReport.resultsJSON(evaluation))
            o["frameworks"] = .array(ControlReport.frameworksJSON(evaluation))
            report = .object(o)
        }
        return report
    }

    static func table(_ r: ScanResult, evaluation: ControlEvaluation? = nil) -> String {
        var out = ""
        let duration = String(format: "%.1f s", r.finishedAt.timeIntervalSince(r.startedAt))
        out += "attest scan \(r.provider) · account \(r.account)\(r.principal.map { " · \($0)" } ?? "")\n"
        out += "scan \(r.id) · \(r.regions.count) region(s) · \(r.services.count) service(s) · \(duration) · \(r.calls) calls · \(r.retries) retries\n\n"
        var rows: [[String]] = [["RESOURCE TYPE", "COUNT", "REGIONS"]]
        var byType: [String: [String: Int]] = [:]
        for res in r.graph.resources.values { byType[res.type, default: [:]][res.region, default: 0] += 1 }
        for type in byType.keys.sorted() {
            let regions = byType[type]!
            let total = regions.values.reduce(0, +)
            let list = regions.keys.sorted().map { "\($0) (\(regions[$0]!))" }.joined(separator: ", ")
            rows.append([type, String(total), list])
        }
        rows.append(["total", String(r.graph.count), "\(r.graph.edges.count) edges"])
        out += render(rows)
        if r.errors.isEmpty {
            out += "\ncomplete: every call succeeded\n"
        } else {
            out += "\nINCOMPLETE: \(r.errors.count) error(s)\n"
            var errorRows: [[String]] = [["SERVICE", "REGION", "OPERATION", "CODE", "RESOURCE", "MESSAGE"]]
            for e in r.errors.prefix(50) {
                errorRows.append([e.service, e.region, e.operation, e.code, e.resourceId ?? e.resourceType ?? "-",
                                  String(SecretScrubber.shared.scrub(e.message).prefix(100))])
            }
            out += render(errorRows)
            if r.errors.count > 50 { out += "… and \(r.errors.count - 50) more (use --format json for all)\n" }
        }
        if let evaluation { out += "\n" + ControlReport.table(evaluation) }
        return out
    }

    static func render(_ rows: [[String]]) -> String {
        guard let first = rows.first else { return "" }
        var widths = Array(repeating: 0, count: first.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        return rows.map { row in
            row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}
