import AttestCore
import AttestTestSupport
import Foundation
import Testing

/// `attest controls …` and `attest frameworks …` run as a user runs them.
@Suite("controls and frameworks commands")
struct ControlCommandTests {
    /// The built-in controls of every provider, one file each.
    static let shipped = ["aws", "azure", "gcp"].reduce(0) { total, provider in
        total
            + ((try? FileManager.default.subpathsOfDirectory(
                atPath: TestPaths.repository.appendingPathComponent("controls/\(provider)").path))?
                .filter { $0.hasSuffix(".yaml") }.count ?? 0)
    }

    func attest(_ arguments: [String]) async throws -> ProcessResult {
        try await runAttestOnPath(arguments, environment: ["HOME": "/nonexistent"])
    }

    @Test func listAndShowDescribeTheCatalogue() async throws {
        let list = try await attest(["controls", "list"])
        #expect(list.status == 0, "\(list.stderr)")
        #expect(list.stdout.contains("aws-s3-bucket-not-public"))
        #expect(Self.shipped > 80 && list.stdout.contains("\(Self.shipped) control(s)"))
        let json = try await attest(["controls", "list", "--framework", "nis2", "--format", "json"])
        #expect(try JSONValue.parse(json.stdout).asList.count == Self.shipped)

        let show = try await attest(["controls", "show", "aws-ec2-instance-imdsv2"])
        #expect(show.status == 0)
        for expected in [
            "Assert:", "http_tokens", "Remediation:", "Equivalent prowler: ec2_instance_imdsv2_enabled", "Evidences:", "soc2", "iso27001",
        ] {
            #expect(show.stdout.contains(expected), "missing \(expected)")
        }
        let missing = try await attest(["controls", "show", "no-such-control"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("no control no-such-control"))
    }

    @Test func controlsTestRunsInlineTestsAndFailsOnAWrongExpectation() async throws {
        let builtin = try await attest(["controls", "test"])
        #expect(builtin.status == 0, "\(builtin.stdout.suffix(2000))")
        #expect(builtin.stdout.contains("of") && builtin.stdout.contains("test(s) passed over \(Self.shipped) control(s)"))

        let dir = try temporaryControlsDirectory([
            "team-tagged.yaml": """
            id: team-tagged
            title: Buckets carry a team tag
            description: d
            rationale: r
            severity: low
            resource_types: [aws.s3.bucket]
            assert: "'team' in resource.tags"
            observed: [tags]
            remediation: {text: tag it}
            tests:
              - name: tagged passes
                resource: {tags: {team: data}}
                expect: pass
              - name: untagged is wrongly expected to pass
                resource: {tags: {}}
                expect: pass
            """
        ])
        let r = try await attest(["controls", "test", dir.path])
        #expect(r.status == 1)
        #expect(
            r.stdout.contains(
                "FAIL \(dir.path)/team-tagged.yaml:14: team-tagged: untagged is wrongly expected to pass: expected pass, got fail"))
        #expect(r.stdout.contains("1 of 2 test(s) passed"))

        let broken = try temporaryControlsDirectory([
            "bad-rule.yaml": """
            id: bad-rule
            title: t
            description: d
            rationale: r
            severity: low
            resource_types: [aws.s3.bucket]
            assert: "resource.attributes.versioning == "
            remediation: {text: x}
            """
        ])
        let b = try await attest(["controls", "test", broken.path])
        #expect(b.status == 2)
        #expect(b.stderr.contains("\(broken.path)/bad-rule.yaml:7:"), "\(b.stderr)")
    }

    @Test func evalPrintsTheValueAsJSONAndPositionsErrors() async throws {
        let dir = try temporaryControlsDirectory([:])
        let input = dir.appendingPathComponent("sg.json")
        try """
        {"type": "aws.ec2.security-group", "attributes": {"ingress": [{"protocol": "tcp", "from_port": 20, "to_port": 25,
          "cidrs": ["0.0.0.0/0"], "ipv6_cidrs": []}]}}
        """.write(to: input, atomically: true, encoding: .utf8)
        let r = try await attest([
            "controls", "eval", "--input", input.path, "--expr",
            "[22, 443].map(p, aws.ingressOpenToInternet(resource.attributes.ingress, p))",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try JSONValue.parse(r.stdout) == [true, false])
        let days = try await attest(["controls", "eval", "--now", "2026-03-01T00:00:00Z", "--expr", "daysSince('2026-01-01T00:00:00Z')"])
        #expect(days.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "59")
        let times = try await attest(["controls", "eval", "--expr", "[timestamp('2026-01-02T03:04:05.5Z'), duration('90s')]"])
        #expect(try JSONValue.parse(times.stdout) == ["2026-01-02T03:04:05.5Z", "90s"])
        let parse = try await attest(["controls", "eval", "--expr", "1 +"])
        #expect(parse.status == 2)
        #expect(parse.stderr.contains("--expr:1:"))
        let runtime = try await attest(["controls", "eval", "--expr", "1 / 0"])
        #expect(runtime.status == 1)
        #expect(runtime.stderr.contains("evaluation error"))
    }

    @Test func frameworksListAndCoverageShowAutomatedAndManualRequirements() async throws {
        let list = try await attest(["frameworks", "list", "--format", "json"])
        #expect(list.status == 0)
        let frameworks = try JSONValue.parse(list.stdout).asList
        #expect(frameworks.compactMap { $0["id"].stringValue } == ["soc2", "iso27001", "nis2", "dora"])
        for f in frameworks {
            #expect(f["automated"].intValue! > 0 && f["manual"].intValue! > 0)
            #expect(f["automated"].intValue! + f["manual"].intValue! == f["requirements"].intValue!)
        }
        let coverage = try await attest(["frameworks", "coverage", "iso27001", "--format", "json"])
        let requirements = try JSONValue.parse(coverage.stdout).asList.first?["requirements"].asList ?? []
        #expect(requirements.count == 93)
        let cryptography = try #require(requirements.first { $0["id"] == "A.8.24" })
        #expect(cryptography["coverage"] == "automated")
        #expect(cryptography["controls"].asList.contains("aws-ec2-volume-encrypted"))
        #expect(requirements.first { $0["id"] == "A.7.1" }?["coverage"] == "manual")
        let table = try await attest(["frameworks", "coverage", "soc2"])
        #expect(table.stdout.contains("CC6.1") && table.stdout.contains("manual"))
        // The table names the controls behind a requirement, not only how many there are.
        let cc66 = try #require(table.stdout.split(separator: "\n").first { $0.hasPrefix("CC6.6 ") })
        #expect(cc66.contains("aws-s3-bucket-not-public"), "\(cc66)")
        #expect(try await attest(["frameworks", "coverage", "pci"]).status == 2)
    }

    @Test func configDisablesOverridesAndNamesTheLineOfAMistake() async throws {
        let dir = try temporaryControlsDirectory([
            "attest.yaml": """
            controls:
              disabled: [aws-s3-bucket-object-lock]
              parameters:
                aws-iam-access-key-rotated:
                  max_age_days: 30
            """,
            "typo.yaml": """
            controls:
              parameters:
                aws-iam-access-key-rotated:
                  max_age: 30
            """,
        ])
        let list = try await attest(["controls", "list", "--config", dir.appendingPathComponent("attest.yaml").path])
        #expect(list.status == 0, "\(list.stderr)")
        #expect(!list.stdout.contains("aws-s3-bucket-object-lock"))
        #expect(list.stdout.contains("\(Self.shipped - 1) control(s)"))
        let show = try await attest([
            "controls", "show", "aws-iam-access-key-rotated", "--config", dir.appendingPathComponent("attest.yaml").path,
        ])
        #expect(show.stdout.contains("\"max_age_days\":30"))
        let typo = try await attest(["controls", "list", "--config", dir.appendingPathComponent("typo.yaml").path])
        #expect(typo.status == 2)
        #expect(typo.stderr.contains("typo.yaml:4:"), "\(typo.stderr)")
        #expect(typo.stderr.contains("max_age_days"))
    }
}

@Suite("Control mistakes a user makes")
struct ControlMistakeTests {
    func attest(_ arguments: [String]) async throws -> ProcessResult {
        try await runAttestOnPath(arguments, environment: ["HOME": "/nonexistent"])
    }

    static let body = """
        title: t
        description: d
        rationale: r
        severity: low
        assert: "true"
        remediation: {text: x}
        """

    @Test func aResourceTypeNothingCollectsIsAnErrorAtItsLine() async throws {
        let dir = try temporaryControlsDirectory([
            "my-nope.yaml": "id: my-nope\nresource_types: [aws.s3.bucket, aws.nope.nothing]\n" + Self.body
        ])
        let r = try await attest(["controls", "list", "--controls", dir.path])
        #expect(r.status == 2)
        #expect(r.stderr.contains("my-nope.yaml:2: aws.nope.nothing is not a resource type the aws specs collect"), "\(r.stderr)")
        let other = try temporaryControlsDirectory(["my-other.yaml": "id: my-other\nresource_types: [oci.storage.bucket]\n" + Self.body])
        let unknown = try await attest(["controls", "list", "--controls", other.path])
        #expect(unknown.stderr.contains("unknown provider oci (known: aws, azure, gcp)"), "\(unknown.stderr)")
    }

    @Test func controlCharactersNeverReachTheTerminalRaw() async throws {
        let dir = try temporaryControlsDirectory(["evil.yaml": "id: \"evil\\e[2J\"\nresource_types: [aws.s3.bucket]\n" + Self.body])
        let r = try await attest(["controls", "list", "--controls", dir.path])
        #expect(r.status == 2)
        #expect(!r.stderr.contains("\u{1B}"), "\(r.stderr.debugDescription)")
        #expect(r.stderr.contains("\\u{1b}[2J"), "\(r.stderr.debugDescription)")
    }

    @Test func anOversizedInputIsRefusedBeforeItIsRead() async throws {
        let dir = try temporaryControlsDirectory([:])
        let big = dir.appendingPathComponent("big.json")
        _ = FileManager.default.createFile(atPath: big.path, contents: nil)
        let handle = try FileHandle(forWritingTo: big)
        let chunk = Data(repeating: 0x20, count: 1 << 20)
        for _ in 0..<20 { try handle.write(contentsOf: chunk) }
        try handle.close()
        let r = try await attest(["controls", "eval", "--expr", "true", "--input", big.path])
        #expect(r.status == 2)
        #expect(r.stderr.contains("larger than 16 MiB"), "\(r.stderr)")
    }
}
