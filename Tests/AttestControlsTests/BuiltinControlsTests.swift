import AttestAWSProvider
import AttestAzureProvider
import AttestCEL
import Foundation
import Testing

@testable import AttestControls

/// The environment the shipped controls compile in: the graph functions, AWS's and Azure's.
let builtinEnvironment = try! RuleEnvironment.make(providerFunctions: AWSRuleFunctions.all + AzureRuleFunctions.all)

/// The shipped catalogue: every control loads, every inline test gives its expected result,
/// and every framework lists every requirement with the controls that evidence it.
@Suite("Built-in controls and framework catalogues")
struct BuiltinControlsTests {
    static let controls: [Control] =
        (try? ControlLoader.load(
            directories: [repositoryRoot.appendingPathComponent("controls")],
            environment: builtinEnvironment)) ?? []

    @Test func everyBuiltinControlLoads() throws {
        let controls = try ControlLoader.load(
            directories: [repositoryRoot.appendingPathComponent("controls")], environment: builtinEnvironment)
        #expect(controls.filter { $0.provider == "aws" }.count >= 60)
        for c in controls {
            #expect(c.tests.contains { $0.expect == .pass }, "\(c.id) has no passing example")
            #expect(c.tests.contains { $0.expect == .fail }, "\(c.id) has no failing example")
            // controls/<provider>/<service>/<id>.yaml; account-wide controls sit with the service they are about.
            let folder = URL(fileURLWithPath: c.file).deletingLastPathComponent()
            #expect(
                folder.deletingLastPathComponent().lastPathComponent == c.provider, "\(c.id) is filed under the wrong provider: \(c.file)")
            #expect(
                c.id.hasPrefix("\(c.provider)-\(folder.lastPathComponent)-") || folder.lastPathComponent == c.service,
                "\(c.id) is filed under the wrong service: \(c.file)")
            // What was read is evidence; only rules that look across the graph may have nothing of their own to record.
            let graphRule = ["resources(", "related", "referrers", "iam.policies"].contains { c.assertion.source.contains($0) }
            #expect(!c.observed.isEmpty || graphRule, "\(c.id) records nothing as observed")
        }
    }

    @Test func everyInlineTestGivesItsExpectedResult() {
        let outcomes = ControlTestRunner.run(Self.controls)
        #expect(outcomes.count >= 180)
        for o in outcomes where !o.passed {
            Issue.record(
                "\(o.file):\(o.line): \(o.controlID) / \(o.testName): expected \(o.expected.rawValue), got \(o.actual.rawValue) \(o.reason ?? "")"
            )
        }
    }

    @Test func frameworksAreCompleteAndMapEveryControl() throws {
        let set = try FrameworkSet(directory: repositoryRoot.appendingPathComponent("controls/frameworks"), controls: Self.controls)
        let soc2 = try #require(set.framework("soc2"))
        let iso = try #require(set.framework("iso27001"))
        let nis2 = try #require(set.framework("nis2"))
        let dora = try #require(set.framework("dora"))
        #expect(soc2.requirements.count >= 61)
        #expect(iso.requirements.filter { $0.id.hasPrefix("A.") }.count == 93)
        for point in "abcdefghij" { #expect(nis2.requirement("21.2.\(point)") != nil, "NIS2 21(2)(\(point)) missing") }
        for article in 5...16 {
            #expect(
                dora.requirements.contains { $0.id == "\(article)" || $0.id.hasPrefix("\(article).") }, "DORA Article \(article) missing")
        }
        for framework in [soc2, iso, nis2, dora] {
            #expect(
                framework.requirements.contains { $0.isManual },
                "\(framework.id): a scanner cannot evidence everything; manual requirements must be listed")
            for control in Self.controls {
                #expect(
                    !set.requirements(of: control.id, frameworks: [framework.id]).isEmpty,
                    "\(control.id) maps to nothing in \(framework.id)")
            }
        }
    }

    /// Mappings moved from the catalogues into the controls' `frameworks:` keys; the file beside
    /// this test lists every mapping, first as the catalogues had it before the move. Adding a
    /// mapping to a control (or a control) adds its line there, so a review sees every change.
    @Test func everyMappingIsListedInMappingsTSV() throws {
        let set = try FrameworkSet(directory: repositoryRoot.appendingPathComponent("controls/frameworks"), controls: Self.controls)
        var now: [String] = []
        for control in Self.controls {
            for r in set.requirements(of: control.id) { now.append("\(control.id)\t\(r.framework)\t\(r.requirement)") }
        }
        let file = repositoryRoot.appendingPathComponent("Tests/AttestControlsTests/mappings.tsv")
        let before = try String(contentsOf: file, encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("#") }.map(String.init)
        #expect(Set(now).subtracting(before).sorted() == [], "mappings added")
        #expect(Set(before).subtracting(now).sorted() == [], "mappings lost")
        #expect(now.count == before.count)
    }
}
