import AttestCollect
import AttestCore
import AttestInventory
import Foundation
import Testing

@testable import AttestControls

/// 2026-12-01T12:00:00Z, the clock every test here reads.
let exceptionNow = ISO8601DateFormatter().date(from: "2026-12-01T12:00:00Z")!

func exceptions(_ yaml: String, file: String = "exceptions.yaml", maximumDays: Int = 365) throws -> [ControlException] {
    try ExceptionSet.parse(text: yaml, file: file, maximumDays: maximumDays)
}

/// One entry with the required fields, and `extra` lines added to it.
func entry(control: String, _ extra: String = "", created: String = "2026-11-01", expires: String = "2027-03-31") -> String {
    """
    exceptions:
      - control: \(control)
        owner: platform-team@example.com
        justification: legacy buckets, replaced in Q3
        ticket: SEC-1234
        created: \(created)
        expires: \(expires)
    \(extra.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
    """
}

func failing(_ control: String, _ resource: Resource) -> ControlResult {
    ControlResult(
        controlID: control, resourceID: resource.id, resourceType: resource.type, account: resource.account, region: resource.region,
        status: .fail, severity: .medium)
}

@Suite("Exceptions: the file")
struct ExceptionFileTests {
    @Test func theDocumentedShapeIsRead() throws {
        let e = try exceptions(entry(control: "aws-s3-bucket-versioning", "resources: [\"arn:aws:s3:::legacy-*\"]"))
        #expect(e.count == 1)
        #expect(e[0].control == "aws-s3-bucket-versioning")
        #expect(e[0].resources == ["arn:aws:s3:::legacy-*"])
        #expect(e[0].owner == "platform-team@example.com")
        #expect(e[0].ticket == "SEC-1234")
        #expect(e[0].expires == "2027-03-31")
        #expect(e[0].source == "exceptions.yaml:2")
    }

    /// Every rejection names the file and the line of the entry or field at fault.
    @Test(arguments: [
        ("owner", "an exception needs owner:", 2),
        ("expires", "an exception needs expires:", 2),
        ("justification", "an exception needs justification:", 2),
        ("created", "an exception needs created:", 2),
    ])
    func aMissingRequiredFieldIsRefusedWithItsLine(field: String, message: String, line: Int) throws {
        let text = entry(control: "c").split(separator: "\n").filter { !$0.contains("\(field):") }.joined(separator: "\n")
        #expect {
            try exceptions(text)
        } throws: { e in
            let e = e as! SpecError
            return e.file == "exceptions.yaml" && e.line == line && e.message.contains(message)
        }
    }

    @Test func anExpiryPastTheMaximumIsRefusedAtItsLine() throws {
        #expect {
            try exceptions(entry(control: "c", created: "2026-01-01", expires: "2027-06-01"))
        } throws: { e in
            let e = e as! SpecError
            return e.line == 7 && e.message.contains("516 days after created") && e.message.contains("at most 365 days")
        }
        // The maximum is the config's.
        #expect(throws: SpecError.self) {
            try exceptions(entry(control: "c", created: "2026-11-01", expires: "2027-01-01"), maximumDays: 30)
        }
        #expect(try exceptions(entry(control: "c", created: "2026-11-01", expires: "2026-11-30"), maximumDays: 30).count == 1)
    }

    @Test func badDatesAndAnExpiryBeforeItsCreationAreRefused() {
        #expect { try exceptions(entry(control: "c", expires: "2027-02-30")) } throws: {
            ($0 as! SpecError).message.contains("expires must be a date YYYY-MM-DD, not 2027-02-30")
        }
        #expect { try exceptions(entry(control: "c", expires: "31/03/2027")) } throws: { ($0 as! SpecError).line == 7 }
        #expect { try exceptions(entry(control: "c", created: "2027-01-02", expires: "2027-01-01")) } throws: {
            ($0 as! SpecError).message.contains("is before created")
        }
    }

    @Test func anUnknownKeyIsRefusedWithTheKnownOnes() {
        #expect { try exceptions(entry(control: "c", "resource: [x]")) } throws: { e in
            let e = e as! SpecError
            return e.line == 8 && e.message.contains("unknown key resource") && e.message.contains("resources")
        }
    }

    static let ids = ["aws-s3-bucket-versioning", "aws-s3-bucket-logging", "aws-ec2-volume-encrypted"]

    @Test func anUnknownControlIsRefusedWithTheNearestName() throws {
        let set = ExceptionSet(exceptions: try exceptions(entry(control: "aws-s3-bucket-versionig")))
        #expect { try set.check(against: Self.ids) } throws: { e in
            let e = e as! SpecError
            return e.file == "exceptions.yaml" && e.line == 2
                && e.message == "unknown control aws-s3-bucket-versionig (did you mean aws-s3-bucket-versioning?)"
        }
        let glob = ExceptionSet(exceptions: try exceptions(entry(control: "gcp-*")))
        #expect { try glob.check(against: Self.ids) } throws: { ($0 as! SpecError).message == "the glob gcp-* matches no control" }
    }

    @Test func aGlobOverEveryControlAndEveryResourceIsRefused() throws {
        for (control, extra) in [("\"*\"", ""), ("aws-*", "resources: [\"*\"]"), ("\"*\"", "resources: [\"**\", \"x\"]")] {
            let set = ExceptionSet(exceptions: try exceptions(entry(control: control, extra)))
            #expect { try set.check(against: Self.ids) } throws: { e in
                let e = e as! SpecError
                return e.line == 2 && e.message.contains("would except every control on every resource")
            }
        }
        // Narrowed by account, region, tag or resource, or naming some controls only: accepted.
        for (control, extra) in [
            ("\"*\"", "accounts: [\"111122223333\"]"), ("\"*\"", "regions: [eu-west-1]"), ("\"*\"", "tags: {env: sandbox}"),
            ("aws-s3-*", ""), ("\"*\"", "resources: [\"arn:aws:s3:::legacy-*\"]"),
        ] {
            try ExceptionSet(exceptions: try exceptions(entry(control: control, extra))).check(against: Self.ids)
        }
    }
}

@Suite("Exceptions: applied to results")
struct ExceptionApplyTests {
    static let legacy = Resource(
        id: "arn:aws:s3:::legacy-logs", type: "aws.s3.bucket", account: "111122223333", region: "eu-west-1", name: "legacy-logs",
        tags: ["env": "prod", "team": "data-platform"])
    static let other = Resource(
        id: "arn:aws:s3:::app-data", type: "aws.s3.bucket", account: "444455556666", region: "us-east-1", name: "app-data",
        tags: ["env": "dev"])
    static let graph = InventoryGraph(resources: [legacy, other], edges: [])

    func apply(_ yaml: String, _ results: [ControlResult], expiringSoonDays: Int = 14) throws -> (ControlResults, ExceptionUsage) {
        let set = ExceptionSet(exceptions: try exceptions(yaml), expiringSoonDays: expiringSoonDays)
        return set.apply(
            to: ControlResults(results), graph: Self.graph, controls: Set(results.map(\.controlID)), now: exceptionNow)
    }

    func statuses(_ r: ControlResults) -> [String: ResultStatus] {
        Dictionary(uniqueKeysWithValues: r.map { ("\($0.controlID) \($0.resourceID)", $0.status) })
    }

    /// Each selector alone covers the legacy bucket and not the other.
    @Test(arguments: [
        "resources: [\"arn:aws:s3:::legacy-logs\"]", "resources: [\"arn:aws:s3:::legacy-*\"]", "accounts: [\"111122223333\"]",
        "regions: [eu-west-1]", "regions: [\"eu-*\"]", "tags: {env: prod}", "tags: {team: \"data-*\", env: prod}",
    ])
    func aSelectorCoversOnlyWhatItNames(selector: String) throws {
        let (results, usage) = try apply(
            entry(control: "aws-s3-bucket-versioning", selector),
            [failing("aws-s3-bucket-versioning", Self.legacy), failing("aws-s3-bucket-versioning", Self.other)])
        #expect(statuses(results)["aws-s3-bucket-versioning \(Self.legacy.id)"] == .excepted)
        #expect(statuses(results)["aws-s3-bucket-versioning \(Self.other.id)"] == .fail)
        #expect(results.first { $0.status == .excepted }?.exception == 0)
        #expect(usage.exceptedByControl == ["aws-s3-bucket-versioning": 1])
        #expect(usage.stale.isEmpty && usage.expired.isEmpty)
    }

    @Test func aControlGlobCoversTheControlsItMatches() throws {
        let (results, _) = try apply(
            entry(control: "aws-s3-*", "tags: {env: prod}"),
            [
                failing("aws-s3-bucket-versioning", Self.legacy), failing("aws-s3-bucket-logging", Self.legacy),
                failing("aws-ec2-volume-encrypted", Self.legacy),
            ])
        let s = statuses(results)
        #expect(s["aws-s3-bucket-versioning \(Self.legacy.id)"] == .excepted)
        #expect(s["aws-s3-bucket-logging \(Self.legacy.id)"] == .excepted)
        #expect(s["aws-ec2-volume-encrypted \(Self.legacy.id)"] == .fail)
    }

    @Test func onlyFailuresAreExceptedPassesAndErrorsStayWhatTheyAre() throws {
        var pass = failing("aws-s3-bucket-versioning", Self.legacy)
        pass.status = .pass
        var error = failing("aws-s3-bucket-logging", Self.legacy)
        error.status = .error
        let (results, usage) = try apply(entry(control: "aws-s3-*", "regions: [eu-west-1]"), [pass, error])
        #expect(results.map(\.status) == [.pass, .error])
        // It covered no failure although its controls ran: stale.
        #expect(usage.stale == [0])
    }

    @Test func anExpiredExceptionNoLongerAppliesAndIsListed() throws {
        let (results, usage) = try apply(
            entry(control: "aws-s3-bucket-versioning", created: "2026-06-01", expires: "2026-11-30"),
            [failing("aws-s3-bucket-versioning", Self.legacy), failing("aws-s3-bucket-versioning", Self.other)])
        #expect(results.map(\.status) == [.fail, .fail])
        #expect(usage.expired == [0])
        #expect(usage.failingAgain[0] == 2)
        #expect(usage.stale.isEmpty)
    }

    @Test func anExceptionAppliesThroughTheWholeOfItsExpiryDay() throws {
        let (results, usage) = try apply(
            entry(control: "aws-s3-bucket-versioning", created: "2026-06-01", expires: "2026-12-01"),
            [failing("aws-s3-bucket-versioning", Self.legacy)])
        #expect(results.map(\.status) == [.excepted])
        #expect(usage.expiringSoon == [0])
        #expect(usage.exceptions[0].daysLeft(at: exceptionNow) == 0)
    }

    @Test func oneEndingWithinTheWindowIsFlaggedAndOneBeyondItIsNot() throws {
        let soon = try apply(
            entry(control: "aws-s3-bucket-versioning", expires: "2026-12-14"), [failing("aws-s3-bucket-versioning", Self.legacy)])
        #expect(soon.1.expiringSoon == [0])
        #expect(soon.0.map(\.status) == [.excepted])
        let later = try apply(
            entry(control: "aws-s3-bucket-versioning", expires: "2026-12-20"), [failing("aws-s3-bucket-versioning", Self.legacy)])
        #expect(later.1.expiringSoon.isEmpty)
        let wider = try apply(
            entry(control: "aws-s3-bucket-versioning", expires: "2026-12-20"), [failing("aws-s3-bucket-versioning", Self.legacy)],
            expiringSoonDays: 30)
        #expect(wider.1.expiringSoon == [0])
    }

    @Test func anExceptionThatMatchesNothingIsStaleUnlessItsControlDidNotRun() throws {
        let yaml = entry(control: "aws-s3-bucket-versioning", "resources: [\"arn:aws:s3:::gone-*\"]")
        let (_, usage) = try apply(yaml, [failing("aws-s3-bucket-versioning", Self.legacy)])
        #expect(usage.stale == [0])
        // Its control was not evaluated in this scan (another framework, another service): not stale.
        let (_, notRun) = try apply(yaml, [failing("aws-ec2-volume-encrypted", Self.legacy)])
        #expect(notRun.stale.isEmpty)
    }

    @Test func theFirstCoveringExceptionInFileOrderIsTheOneCarried() throws {
        let yaml = """
            exceptions:
              - control: aws-s3-bucket-versioning
                resources: ["arn:aws:s3:::legacy-*"]
                owner: first@example.com
                justification: a
                created: 2026-11-01
                expires: 2027-01-31
              - control: "aws-s3-*"
                accounts: ["111122223333"]
                owner: second@example.com
                justification: b
                created: 2026-11-01
                expires: 2027-01-31
            """
        let (results, usage) = try apply(yaml, [failing("aws-s3-bucket-versioning", Self.legacy)])
        #expect(results.first?.exception == 0)
        #expect(usage.exceptions[results.first!.exception!].owner == "first@example.com")
        #expect(usage.stale == [1])
    }

    @Test func globsMatchWholeStringsWithStarsAndQuestionMarks() {
        #expect(Glob.matches("arn:aws:s3:::legacy-*", "arn:aws:s3:::legacy-logs"))
        #expect(!Glob.matches("arn:aws:s3:::legacy-*", "arn:aws:s3:::app-legacy-logs"))
        #expect(Glob.matches("*-logs", "arn:aws:s3:::legacy-logs"))
        #expect(Glob.matches("vol-????", "vol-1a2b"))
        #expect(!Glob.matches("vol-????", "vol-1a2b3"))
        #expect(Glob.matches("a*b*c", "aXXbYYc"))
        #expect(!Glob.matches("a*b*c", "aXXbYY"))
        // Linear time on a pattern that backtracks badly in a naive matcher.
        #expect(!Glob.matches(String(repeating: "a*", count: 50) + "b", String(repeating: "a", count: 5_000)))
    }
}

@Suite("Warn, then enforce")
struct EnforcementTests {
    static let base = """
        id: test-new-guardrail
        title: t
        description: d
        rationale: r
        severity: high
        resource_types: [aws.s3.bucket]
        assert: "true"
        remediation: {text: fix}
        """

    @Test func aControlFileCanWarnUntilADate() throws {
        let c = try control(Self.base + "\nenforcement: warn\nenforce_from: 2027-01-15", file: "test-new-guardrail.yaml")
        #expect(c.enforcement == Enforcement(mode: .warn, enforceFrom: "2027-01-15"))
        #expect(c.enforcement!.warnsOnly(at: exceptionNow))
        #expect(!c.enforcement!.warnsOnly(at: ISO8601DateFormatter().date(from: "2027-01-15T00:00:00Z")!))
        let undated = try control(Self.base + "\nenforcement: warn", file: "test-new-guardrail.yaml")
        #expect(undated.enforcement!.warnsOnly(at: .distantFuture))
    }

    @Test func mistakesInEnforcementNameTheLine() {
        for (extra, message, line) in [
            ("enforcement: later", "enforcement must be warn or enforce, not later", 9),
            ("enforce_from: 2027-01-15", "enforce_from needs enforcement: warn", 9),
            ("enforcement: warn\nenforce_from: soon", "enforce_from must be a date YYYY-MM-DD, not soon", 10),
            ("enforcement: enforce\nenforce_from: 2027-01-15", "enforce_from only applies with enforcement: warn", 10),
        ] {
            #expect {
                try control(Self.base + "\n" + extra, file: "test-new-guardrail.yaml")
            } throws: { e in
                let e = e as! SpecError
                return e.message == message && e.line == line
            }
        }
    }

    @Test func theConfigSetsOrLiftsAControlsEnforcement() throws {
        let c = try control(Self.base + "\nenforcement: warn", file: "test-new-guardrail.yaml")
        let config = try ControlConfig(
            text: """
                controls:
                  enforcement:
                    test-new-guardrail: {enforcement: enforce}
                """, file: "attest.yaml")
        #expect(try config.apply(to: [c])[0].enforcement == Enforcement(mode: .enforce))
        let typo = try ControlConfig(
            text: """
                controls:
                  enforcement:
                    test-new-guardrial: {enforcement: warn, enforce_from: 2027-02-01}
                """, file: "attest.yaml")
        #expect { try typo.apply(to: [c]) } throws: { e in
            let e = e as! SpecError
            return e.line == 3 && e.message.contains("unknown control test-new-guardrial (did you mean test-new-guardrail?)")
        }
    }
}
