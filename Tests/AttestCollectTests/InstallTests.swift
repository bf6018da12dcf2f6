import AttestCore
import AttestTestSupport
import Foundation
import Testing

/// The README's install step: `scripts/install.sh` puts the binary in PREFIX/bin and its data in
/// PREFIX/share/attest, and the installed binary, found on PATH and run from an unrelated
/// directory, finds that data and nothing of the checkout.
@Suite("An installed attest")
struct InstallTests {
    struct Installed: Sendable {
        let prefix: URL
        let home: URL
    }

    static let installed = Task<Installed, any Error> {
        let root = try TestPaths.temporaryDirectory("install")
        let prefix = root.appendingPathComponent("prefix")
        let r = try await runProcessCapturing(
            "/bin/bash",
            [
                TestPaths.repository.appendingPathComponent("scripts/install.sh").path, "--binary", TestPaths.attestBinary.path,
                "--prefix", prefix.path,
            ],
            environment: ["PATH": "/usr/bin:/bin"], currentDirectory: root)
        guard r.status == 0 else { throw TestPeerError("install.sh failed: \(r.stderr)") }
        let home = root.appendingPathComponent("home")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        return Installed(prefix: prefix, home: home)
    }

    /// Runs the installed `attest` by name, from a new empty directory, with nothing pointing at the checkout.
    func attest(_ arguments: [String], _ installed: Installed) async throws -> ProcessResult {
        let cwd = try TestPaths.temporaryDirectory("install-cwd")
        return try await runProcessCapturing(
            "/usr/bin/env", ["attest"] + arguments,
            environment: [
                "PATH": installed.prefix.appendingPathComponent("bin").path + ":/usr/bin:/bin", "HOME": installed.home.path,
                "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            ], currentDirectory: cwd)
    }

    @Test func theInstalledBinaryFindsItsDataFromAnyDirectory() async throws {
        let installed = try await Self.installed.value
        let share = installed.prefix.appendingPathComponent("share/attest")
        for dir in [
            "providers/aws/provider.yaml", "providers/gcp/provider.yaml", "controls/frameworks", "fixtures/aws/sample-account",
            "fixtures/azure/sample-subscription", "fixtures/gcp/sample-project", "config/attest.example.yaml",
        ] {
            #expect(FileManager.default.fileExists(atPath: share.appendingPathComponent(dir).path), "\(dir)")
        }
        let shipped = try ["aws", "azure", "gcp"].reduce(0) { total, provider in
            total
                + (try FileManager.default.subpathsOfDirectory(
                    atPath: TestPaths.repository.appendingPathComponent("controls/\(provider)").path
                )
                .filter { $0.hasSuffix(".yaml") }.count)
        }

        let list = try await attest(["controls", "list"], installed)
        #expect(list.status == 0, "\(list.stderr)")
        #expect(list.stdout.contains("\(shipped) control(s)"), "\(list.stdout.suffix(200))")

        let permissions = try await attest(["permissions", "aws"], installed)
        #expect(permissions.status == 0, "\(permissions.stderr)")
        #expect(try JSONValue.parse(permissions.stdout)["Statement"].asList.isEmpty == false)

        let coverage = try await attest(["frameworks", "list"], installed)
        #expect(coverage.status == 0, "\(coverage.stderr)")
        #expect(coverage.stdout.contains("nis2"))
    }

    @Test func theDemoRunsFromTheInstall() async throws {
        let installed = try await Self.installed.value
        let out = try TestPaths.temporaryDirectory("install-demo").appendingPathComponent("demo.json")
        let demo = try await attest(["demo", "--format", "json", "--output", out.path], installed)
        #expect([0, 1, 3].contains(demo.status), "\(demo.stderr)")
        #expect(!demo.stderr.contains("cannot find"), "\(demo.stderr)")
        let report = try JSONValue.parse(Data(contentsOf: out))
        #expect(report["scan"]["stats"]["resources"].intValue ?? 0 > 30)
        #expect(report["results"].asList.count > 150)
    }

    @Test func aFirstRunSaysInOneLineWhatItCreates() async throws {
        let installed = try await Self.installed.value
        let home = try TestPaths.temporaryDirectory("first-run-home")
        let cwd = try TestPaths.temporaryDirectory("first-run")
        func demo() async throws -> ProcessResult {
            try await runProcessCapturing(
                "/usr/bin/env", ["attest", "demo", "--evidence", "./evidence", "--quiet"],
                environment: ["PATH": installed.prefix.appendingPathComponent("bin").path + ":/usr/bin:/bin", "HOME": home.path],
                currentDirectory: cwd)
        }
        let first = try await demo()
        #expect(first.status == 0, "\(first.stderr)")
        let said = first.stderr.split(separator: "\n").filter { $0.contains("evidence goes to") }
        #expect(said.count == 1, "\(first.stderr)")
        let line = String(said.first ?? "")
        let store = cwd.appendingPathComponent("evidence").standardizedFileURL.path
        let key = home.appendingPathComponent(".config/attest/evidence-signing.key").path
        #expect(line.contains("\(store) (new store)"), "\(line)")
        #expect(line.contains("signed with \(key) (new key ed25519:"), "\(line)")
        #expect(line.contains("--no-evidence"))
        #expect(FileManager.default.fileExists(atPath: key))
        // Said once: the second run creates nothing and says nothing of it.
        let second = try await demo()
        #expect(second.status == 0)
        #expect(!second.stderr.contains("evidence goes to"), "\(second.stderr)")
    }

    /// The README's evidence walkthrough, exactly as written, with the installed binary and from
    /// a directory that is not the checkout: every command must succeed.
    @Test func theReadmeWalkthroughRunsAsWritten() async throws {
        let installed = try await Self.installed.value
        let readme = try String(contentsOf: TestPaths.repository.appendingPathComponent("README.md"), encoding: .utf8)
        let lines = readme.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let marker = try #require(lines.firstIndex { $0.hasPrefix("<!-- walkthrough:") })
        #expect(lines[marker + 1] == "```sh")
        let end = try #require(lines[(marker + 2)...].firstIndex { $0 == "```" })
        let script = lines[(marker + 2)..<end].joined(separator: "\n")
        #expect(script.contains("attest evidence verify --package"))
        let home = try TestPaths.temporaryDirectory("walkthrough-home")
        let r = try await runProcessCapturing(
            "/bin/bash", ["-euo", "pipefail", "-c", script],
            environment: [
                "PATH": installed.prefix.appendingPathComponent("bin").path + ":/usr/bin:/bin", "HOME": home.path,
                "TMPDIR": home.path,
            ], currentDirectory: try TestPaths.temporaryDirectory("walkthrough"))
        #expect(r.status == 0, "\(r.stdout.suffix(1500)) \(r.stderr.suffix(1500))")
        #expect(r.stdout.contains("record(s)"))
        #expect(r.stdout.contains("OK"), "\(r.stdout.suffix(800))")
        #expect(!r.stdout.contains("FAILED"))
    }

    /// Runs the README's block after `<!-- marker:` exactly as written (its first line, which
    /// makes a temporary directory, replaced by a directory this test names), with the installed
    /// binary on PATH. Returns the directory and what the script printed.
    func runReadmeBlock(_ marker: String) async throws -> (URL, ProcessResult) {
        let installed = try await Self.installed.value
        let readme = try String(contentsOf: TestPaths.repository.appendingPathComponent("README.md"), encoding: .utf8)
        let lines = readme.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let start = try #require(lines.firstIndex { $0.hasPrefix("<!-- \(marker):") })
        #expect(lines[start + 1] == "```sh")
        let end = try #require(lines[(start + 2)...].firstIndex { $0 == "```" })
        #expect(lines[start + 2] == "cd \"$(mktemp -d)\"")
        let cwd = try TestPaths.temporaryDirectory(marker)
        let body = lines[(start + 3)..<end].joined(separator: "\n")
        let home = try TestPaths.temporaryDirectory("\(marker)-home")
        let r = try await runProcessCapturing(
            "/bin/bash", ["-euo", "pipefail", "-c", body],
            environment: [
                "PATH": installed.prefix.appendingPathComponent("bin").path + ":/usr/bin:/bin", "HOME": home.path, "TMPDIR": home.path,
            ], currentDirectory: cwd)
        #expect(r.status == 0, "\(marker): \(r.stdout.suffix(1500)) \(r.stderr.suffix(1500))")
        return (cwd, r)
    }

    /// The README's CI guardrail section: every command succeeds and the SARIF it writes
    /// validates against the official schema.
    @Test func theReadmeCIWalkthroughRunsAsWrittenAndItsSARIFValidates() async throws {
        let (cwd, r) = try await runReadmeBlock("ci-walkthrough")
        #expect(r.stdout.contains("exit 1: blocking failures at or above high"))
        #expect(r.stdout.contains("### New failures since scan"))
        for name in ["attest.sarif", "attest.junit.xml", "attest.ocsf.json", "attest.csv", "attest.md", "attest.json"] {
            #expect(FileManager.default.fileExists(atPath: cwd.appendingPathComponent("out/\(name)").path), "\(name)")
        }
        let schema = TestPaths.shared.appendingPathComponent("vectors/sarif/sarif-schema-2.1.0.json").path
        for sarif in [cwd.appendingPathComponent("demo.sarif"), cwd.appendingPathComponent("out/attest.sarif")] {
            let s = try await consumer("sarif", sarif, [schema])
            #expect(s["rules"].intValue ?? 0 > 50)
            #expect(s["results"].intValue ?? 0 > 0)
        }
    }

    /// The README's continuous-scan section: two scans in the history, their diff, and a watch
    /// process serving metrics, stopped with SIGTERM.
    @Test func theReadmeContinuousWalkthroughRunsAsWritten() async throws {
        let (cwd, r) = try await runReadmeBlock("continuous-walkthrough")
        #expect(r.stdout.contains("diff "), "\(r.stdout)")
        #expect(r.stdout.contains("attest_scans_total{outcome=\"complete\"} 1"), "\(r.stdout)")
        #expect(r.stdout.contains("attest_resources 163"), "\(r.stdout)")
        #expect(FileManager.default.fileExists(atPath: cwd.appendingPathComponent("last.json").path))
        #expect(r.stderr.contains("watch stopped"))
    }

    /// The README's audit section: the scan's HTML report and the audit period's report.
    @Test func theReadmeAuditWalkthroughRunsAsWritten() async throws {
        let (cwd, r) = try await runReadmeBlock("audit-walkthrough")
        #expect(r.stdout.contains("2 signed scan(s)"), "\(r.stdout)")
        for name in ["report.html", "soc2-audit.html"] {
            let text = try String(contentsOf: cwd.appendingPathComponent(name), encoding: .utf8)
            #expect(text.hasPrefix("<!DOCTYPE html>"))
            #expect(!text.contains("<script"))
        }
        #expect(FileManager.default.fileExists(atPath: TestPaths.repository.appendingPathComponent("docs/report-demo.png").path))
    }

    /// The README's plan-time section, with the plans installed with attest.
    @Test func theReadmePlanWalkthroughRunsAsWritten() async throws {
        let (cwd, r) = try await runReadmeBlock("plan-walkthrough")
        #expect(r.stdout.contains("exit 1: blocking failures at or above high"), "\(r.stdout)")
        #expect(r.stdout.contains("control(s) run at plan time"), "\(r.stdout)")
        let unknown = r.stdout.split(separator: "\n").compactMap { Int($0) }.first ?? 0
        #expect(unknown >= 5, "\(r.stdout)")
        let sarif = try Attest.json(cwd.appendingPathComponent("out/attest.sarif"))
        let uris =
            sarif["runs"].asList.first?["results"].asList.compactMap {
                $0["locations"].asList.first?["physicalLocation"]["artifactLocation"]["uri"].stringValue
            } ?? []
        #expect(uris.contains { $0.hasSuffix("/modules/sg/main.tf") }, "\(uris)")
    }

    @Test func withoutItsDataTheBinarySaysWhereItLooked() async throws {
        // A copy of the binary alone, in a prefix with no share/attest: it must not fall back on the checkout.
        let prefix = try TestPaths.temporaryDirectory("install-bare")
        let bin = prefix.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: TestPaths.attestBinary, to: bin.appendingPathComponent("attest"))
        let r = try await attest(["controls", "list"], Installed(prefix: prefix, home: prefix))
        #expect(r.status == 2)
        #expect(r.stderr.contains("cannot find the aws provider specs"), "\(r.stderr)")
        #expect(r.stderr.contains("ATTEST_HOME"))
    }
}
