import AttestCore
import AttestReport
import AttestTestSupport
import Foundation
import Testing

/// A report whose one failing resource has a name an attacker chose (a tag, a bucket name): every
/// format must keep it inert for its consumer.
@Suite("Report formats with hostile resource names")
struct HostileReportFormatTests {
    static func report(resource: String) throws -> ScanReport {
        let id = JSONValue.string(resource).serialized()
        let text = """
            {"schema_version": 1,
             "scan": {"id": "s1", "provider": "aws", "started_at": "2026-12-01T12:00:00.000Z", "finished_at": "2026-12-01T12:00:01.000Z",
                      "tool": "attest", "tool_version": "0.1.0", "account": "123456789012", "accounts": ["123456789012"],
                      "regions": ["us-east-1"], "services": ["s3"], "targets": [], "complete": true,
                      "stats": {"resources": 1, "edges": 0, "errors": 0, "calls": 1, "retries": 0, "duration_seconds": 1}},
             "resources": [{"id": \(id), "type": "aws.s3.bucket", "account": "123456789012", "region": "us-east-1", "name": \(id), "tags": {}, "attributes": {}}],
             "edges": [], "errors": [],
             "controls": {"evaluated": 1, "results": 1, "by_status": {"fail": 1}, "fail_on": "high", "not_evaluated": [], "blocking": 1,
                          "excepted_by_control": {}, "exceptions": {"applied": [], "expired": [], "stale": [], "expiring_soon": []}, "warned": []},
             "results": [{"control": "aws-s3-bucket-versioning", "title": "Buckets are versioned", "resource": \(id), "resource_type": "aws.s3.bucket",
                          "account": "123456789012", "region": "us-east-1", "status": "fail", "severity": "high",
                          "observed": {"attributes.versioning": \(id)}, "requirements": [], "blocks": true}],
             "frameworks": [],
             "catalog": [{"id": "aws-s3-bucket-versioning", "title": "Buckets are versioned", "description": "d", "severity": "high",
                          "remediation": "turn it on", "references": ["https://docs.aws.amazon.com/AmazonS3/latest/userguide/Versioning.html"]}]}
            """
        return try JSONDecoder().decode(ScanReport.self, from: Data(text.utf8))
    }

    static let hostile = "=HYPERLINK(\"http://evil\")</failure><script>alert(1)</script>\u{1}\u{1b}[31m](http://evil) | `x` \n<img src=x>"

    @Test func junitStaysWellFormedAndKeepsTheName() async throws {
        let xml = try JUnitReportFormat().render(try Self.report(resource: Self.hostile))
        let file = try TestPaths.temporaryDirectory("junit-hostile").appendingPathComponent("r.xml")
        try xml.write(to: file)
        let out = try await runProcessCapturing(
            "/usr/bin/env",
            [
                "python3", "-c",
                "import junitparser,sys,json; x=junitparser.JUnitXml.fromfile(sys.argv[1]); print(json.dumps([c.name for s in x for c in s]))",
                file.path,
            ])
        #expect(out.status == 0, "\(out.stderr)")
        let names = try JSONValue.parse(out.stdout).asList.compactMap(\.stringValue)
        #expect(names.count == 1)
        // Control characters XML cannot hold are replaced; everything else survives as text.
        #expect(names.first?.contains("</failure><script>alert(1)</script>") == true)
        #expect(names.first?.contains("\u{1}") == false)
    }

    @Test func markdownKeepsTheNameInsideOneCodeSpan() throws {
        let baseline = try MarkdownReportFormat.Baseline(
            json: Data(#"{"schema_version": 1, "scan": {"id": "b0"}, "results": []}"#.utf8), file: "b.json")
        let md = String(
            decoding: try MarkdownReportFormat(baseline: baseline).render(try Self.report(resource: Self.hostile)), as: UTF8.self)
        #expect(md.contains("**❌ 1 blocking failure(s)** (at or above `high`)"))
        let lines = md.split(separator: "\n", omittingEmptySubsequences: false)
        let new = lines.filter { $0.hasPrefix("- **high** `aws-s3-bucket-versioning`") }
        #expect(new.count == 1, "\(md)")
        // The name cannot close its code span (so no link, tag or cell opens), nor break the line.
        #expect(new.first?.filter { $0 == "`" }.count == 4)
        #expect(new.first?.hasSuffix("` ") == false)
        #expect(!md.contains("\u{1b}") && !md.contains("\u{1}"))
        #expect(!lines.contains { $0.hasPrefix("<img") })
    }

    @Test func csvNeutralisesFormulasAndQuotes() throws {
        let csv = String(decoding: try CSVReportFormat().render(try Self.report(resource: Self.hostile)), as: UTF8.self)
        #expect(csv.contains(",\"'=HYPERLINK(\"\"http://evil\"\")"))
        #expect(!csv.contains(",=HYPERLINK"))
    }

    @Test func sarifStaysValidWithTheNameAsAURIReference() async throws {
        let data = try SARIFReportFormat().render(try Self.report(resource: Self.hostile))
        let doc = try JSONValue.parse(data)
        let location = doc["runs"].asList[0]["results"].asList[0]["locations"].asList[0]
        let uri = location["physicalLocation"]["artifactLocation"]["uri"].stringValue ?? ""
        #expect(!uri.contains(" ") && !uri.contains("<") && !uri.contains("\n") && !uri.contains("\"") && !uri.contains("`"))
        #expect(location["logicalLocations"].asList[0]["fullyQualifiedName"].stringValue == Self.hostile)
        let file = try TestPaths.temporaryDirectory("sarif-hostile").appendingPathComponent("r.sarif")
        try data.write(to: file)
        let out = try await runProcessCapturing(
            "/usr/bin/env",
            [
                "python3", TestPaths.repository.appendingPathComponent("Tests/Support/ci/validate_outputs.py").path, "sarif", file.path,
                TestPaths.shared.appendingPathComponent("vectors/sarif/sarif-schema-2.1.0.json").path,
            ])
        #expect(out.status == 0, "\(out.stdout) \(out.stderr)")
    }
}
