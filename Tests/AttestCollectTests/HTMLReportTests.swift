import AttestCore
import AttestTestSupport
import Foundation
import Testing

/// The path of Debian's chromium (installed by `scripts/install-test-deps.sh`).
func chromiumPath() throws -> String {
    for candidate in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] where FileManager.default.isExecutableFile(atPath: candidate) {
        return candidate
    }
    throw TestPeerError("chromium is not installed: run scripts/install-test-deps.sh")
}

/// Runs headless chromium offline (every host name unresolvable) with its console on stderr.
func chromium(_ arguments: [String], home: URL) async throws -> ProcessResult {
    try await runProcessCapturing(
        try chromiumPath(),
        [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--v=0",
            "--user-data-dir=\(home.appendingPathComponent("chromium-profile").path)",
        ] + arguments, environment: ["HOME": home.path, "PATH": "/usr/bin:/bin"])
}

@Suite("The HTML report, opened in a real browser")
struct HTMLReportTests {
    struct Demo: Sendable {
        let dir: URL
        let html: URL
        let report: JSONValue
    }

    /// The demo with exceptions and evidence, as HTML and JSON from the same scan.
    static let shared = Task { () throws -> Demo in
        let dir = try TestPaths.temporaryDirectory("html-report")
        try Data(demoExceptions.utf8).write(to: dir.appendingPathComponent("exceptions.yaml"))
        let key = try await Attest.run(["evidence", "keygen", "--out", dir.appendingPathComponent("k.pem").path])
        guard key.status == 0 else { throw TestPeerError("keygen exited \(key.status): \(key.stderr)") }
        let r = try await Attest.run(
            [
                "demo", "--exceptions", dir.appendingPathComponent("exceptions.yaml").path, "--evidence",
                dir.appendingPathComponent("evidence").path, "--signing-key", dir.appendingPathComponent("k.pem").path,
                "--format", "html,json", "--output-dir", dir.path, "--quiet",
            ])
        guard r.status == 0 else { throw TestPeerError("demo exited \(r.status): \(r.stderr)") }
        return Demo(
            dir: dir, html: dir.appendingPathComponent("attest.html"), report: try Attest.json(dir.appendingPathComponent("attest.json")))
    }

    @Test func itIsSelfContainedAndWellFormed() async throws {
        let d = try await Self.shared.value
        let out = try await runProcessCapturing(
            "/usr/bin/env", ["python3", TestPaths.repository.appendingPathComponent("Tests/Support/ci/check_html.py").path, d.html.path])
        #expect(out.status == 0, "\(out.stdout) \(out.stderr)")
        let check = try JSONValue.parse(out.stdout)
        #expect(check["errors"].asList.isEmpty)
        #expect(check["external"].asList.isEmpty, "\(check["external"])")
        #expect(check["scripts"] == 0)
        #expect(check["links"].asList.isEmpty, "only https references are links: \(check["links"])")
        #expect(check["doctype"] == true)
        #expect(check["sections"] == ["summary", "frameworks", "failing", "exceptions", "inventory", "evidence"])
    }

    @Test func itHoldsWhatAnAuditorReads() async throws {
        let d = try await Self.shared.value
        let html = try String(contentsOf: d.html, encoding: .utf8)
        // Every framework and requirement, failing controls with observed values and remediation.
        for framework in d.report["frameworks"].asList {
            #expect(html.contains("<b>\(framework["name"].stringValue!)</b>"))
            for requirement in framework["requirements"].asList.filter({ $0["status"] != "manual" }).prefix(3) {
                #expect(html.contains("<td>\(requirement["id"].stringValue!)</td>"))
            }
        }
        let failing = Set(d.report["results"].asList.filter { $0["status"] == "fail" }.compactMap { $0["control"].stringValue })
        for id in failing { #expect(html.contains("<code>\(id)</code>"), "\(id)") }
        #expect(html.contains("Failing controls (\(failing.count))"))
        // In the frameworks, each control with its own counts (pass / fail / excepted / error).
        let imds = d.report["results"].asList.filter { $0["control"] == "aws-ec2-instance-imdsv2" }
        let tally = ["pass", "fail", "excepted", "error"].map { s in String(imds.filter { $0["status"].stringValue == s }.count) }
        #expect(
            html.contains("<code class=\"f\">aws-ec2-instance-imdsv2 <small>\(tally.joined(separator: "/"))</small></code>"), "\(tally)")
        #expect(html.contains("<b>Remediation.</b> Require IMDSv2"))
        #expect(html.contains("<code>attributes.metadata_options.http_tokens</code> = <code>&quot;optional&quot;</code>"))
        // Exceptions with owners and expiry; the counts; the evidence seal of this very scan.
        #expect(html.contains("<td>platform-team@example.com</td>"))
        #expect(html.contains("Expired (their failures count again)"))
        #expect(html.contains("<span class=\"n\">\(d.report["controls"]["by_status"]["excepted"].intValue!)</span> excepted"))
        let seal = d.report["evidence"]
        #expect(seal["records"].intValue ?? 0 > 0)
        #expect(html.contains("<code>\(seal["chain_head"].stringValue!)</code>"))
        #expect(html.contains(seal["manifest"].stringValue!))
        let verify = try await Attest.run(["evidence", "verify", "--evidence", d.dir.appendingPathComponent("evidence").path])
        #expect(verify.stdout.contains(seal["chain_head"].stringValue!), "\(verify.stdout)")
    }

    @Test func chromiumRendersItOfflineWithNoConsoleErrors() async throws {
        let d = try await Self.shared.value
        let home = try TestPaths.temporaryDirectory("chromium-home")
        let dom = try await chromium(["--dump-dom", d.html.absoluteString], home: home)
        #expect(dom.status == 0, "\(dom.stderr.suffix(2000))")
        #expect(dom.stdout.contains("Failing controls"))
        #expect(dom.stdout.contains("Evidence integrity"))
        let console = dom.stderr.split(separator: "\n").filter { $0.contains("CONSOLE") }
        #expect(console.isEmpty, "\(console)")
        let png = home.appendingPathComponent("report.png")
        let shot = try await chromium(["--screenshot=\(png.path)", "--window-size=1280,1800", d.html.absoluteString], home: home)
        #expect(shot.status == 0, "\(shot.stderr.suffix(2000))")
        let bytes = try Data(contentsOf: png)
        #expect(bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        #expect(bytes.count > 20_000, "a blank page is a few kilobytes")
    }

    @Test func hostileNamesStayText() async throws {
        let d = try await Self.shared.value
        _ = d
        let dir = try TestPaths.temporaryDirectory("html-hostile")
        let html = dir.appendingPathComponent("r.html")
        // A resource name is whatever an API returned: here through an exception's justification and
        // owner, the free text a config carries into the report.
        let yaml = demoExceptions.replacingOccurrences(
            of: "justification: MFA delete needs the root user; Object Lock replaces it",
            with: "justification: \"<script>alert(1)</script><img src=x onerror=alert(2)>\"")
        let file = dir.appendingPathComponent("exceptions.yaml")
        try Data(yaml.utf8).write(to: file)
        let r = try await Attest.run(["demo", "--exceptions", file.path, "--format", "html", "--output", html.path, "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        let text = try String(contentsOf: html, encoding: .utf8)
        #expect(!text.contains("<script>"))
        #expect(!text.contains("<img"))
        #expect(text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
    }
}

@Suite("The audit-period report")
struct AuditPeriodReportTests {
    @Test func twoScansOfEvidenceBecomeOneVerifiedReportABrowserRenders() async throws {
        let dir = try TestPaths.temporaryDirectory("audit-report")
        let key = dir.appendingPathComponent("k.pem")
        _ = try await Attest.run(["evidence", "keygen", "--out", key.path])
        try Data(demoExceptions.utf8).write(to: dir.appendingPathComponent("exceptions.yaml"))
        let store = dir.appendingPathComponent("evidence")
        for _ in 0..<2 {
            let r = try await Attest.run(
                [
                    "demo", "--evidence", store.path, "--signing-key", key.path, "--exceptions",
                    dir.appendingPathComponent("exceptions.yaml").path, "--quiet",
                ])
            #expect(r.status == 0, "\(r.stderr)")
        }
        let html = dir.appendingPathComponent("soc2.html")
        let r = try await Attest.run(["evidence", "report", "--evidence", store.path, "--framework", "soc2", "--out", html.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("2 signed scan(s)"))
        let text = try String(contentsOf: html, encoding: .utf8)
        let verify = try await Attest.run(["evidence", "verify", "--evidence", store.path, "--format", "json"])
        let head = try JSONValue.parse(verify.stdout)
        // Every SOC 2 requirement with evidence, each with its saved queries; the exceptions; the chain head verify prints.
        #expect(text.contains("id=\"req-CC6.1\""))
        #expect(text.contains("requirement=cc6.1/year=*/month=*/day=*/*.jsonl"))
        #expect(text.contains("WHERE framework = &#39;soc2&#39; AND requirement = &#39;cc6.1&#39;"))
        #expect(text.contains("<td>platform-team@example.com</td>"))
        #expect(text.contains("The evidence read verifies"))
        let digest = try #require(head["head"]["sha256"].stringValue)
        #expect(text.contains("manifest 2, <code>\(digest)</code>"), "\(head)")
        let check = try await runProcessCapturing(
            "/usr/bin/env", ["python3", TestPaths.repository.appendingPathComponent("Tests/Support/ci/check_html.py").path, html.path])
        let parsed = try JSONValue.parse(check.stdout)
        #expect(parsed["errors"].asList.isEmpty && parsed["external"].asList.isEmpty && parsed["scripts"] == 0)
        #expect(parsed["sections"] == ["trend", "requirements", "exceptions", "integrity"])
        let home = try TestPaths.temporaryDirectory("audit-chromium")
        let dom = try await chromium(["--dump-dom", html.absoluteString], home: home)
        #expect(dom.status == 0 && dom.stdout.contains("Failing requirements per scan"))
        #expect(dom.stderr.split(separator: "\n").filter { $0.contains("CONSOLE") }.isEmpty)
        // A mistyped framework is refused with the known ones.
        let typo = try await Attest.run(["evidence", "report", "--evidence", store.path, "--framework", "soc3", "--out", html.path])
        #expect(typo.status == 2, "\(typo.stderr)")
    }
}
