import AttestAWSProvider
import AttestCollect
import AttestTestSupport
import Foundation
import Testing

@Suite("Provider specs")
struct SpecLoaderTests {
    @Test func theShippedAWSSpecsLoadAndValidate() throws {
        let spec = try ScanHarness.providerSpec()
        try AWSServiceCaller.validate(spec)
        #expect(
            Set(spec.services.map(\.id)) == [
                "access-analyzer", "acm", "apigateway", "backup", "cloudfront", "cloudtrail", "cloudwatch", "config", "dynamodb", "ec2",
                "ecr", "efs", "eks", "elbv2", "guardduty", "iam", "kms", "lambda", "logs", "opensearch", "organizations", "rds", "redshift",
                "s3", "s3-control", "secretsmanager", "securityhub", "sns", "sqs", "sts",
            ])
        #expect(spec.discovery.keys.sorted() == ["identity", "regions"])
    }

    static let base = """
        service: demo
        settings: {protocol: json, target_prefix: Demo}
        operations:
          ListThings: {items: "Things[]"}
        resources:
          - type: test.thing
            list: ListThings
            id: "thing/{item.Id}"

        """

    @Test(arguments: [
        ("  - type: test.other\n    list: ListMissing\n    id: x\n", 10, "operation ListMissing is not declared"),
        ("  - type: test.other\n    list: ListThings\n    id: \"x/{item.Id\"\n", 11, "unclosed '{'"),
        (
            "  - type: test.other\n    list: ListThings\n    id: x\n    attributes:\n      a: {path: x, transform: nope}\n", 13,
            "unknown transform nope"
        ),
        (
            "  - type: test.other\n    list: ListThings\n    id: x\n    enrich:\n      - {name: item, operation: ListThings}\n", 13,
            "enrichment name item is reserved"
        ),
        ("  - type: test.other\n    idd: x\n", 10, "unknown key idd"),
        ("  - type: test.other\n    id: x\n", 9, "needs list:"),
        ("  - type: [unclosed\n", 10, "YAML syntax error"),
    ])
    func mistakesNameTheFileAndLine(_ extra: String, _ line: Int, _ message: String) {
        do {
            _ = try SpecLoader.loadService(Self.base + extra, file: "providers/test/demo.yaml", provider: "test")
            Issue.record("no error for \(message)")
        } catch let error as SpecError {
            #expect(error.file == "providers/test/demo.yaml")
            #expect(error.line == line, "\(error)")
            #expect(error.message.contains(message), "\(error)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func unknownAWSSettingsAreRefused() throws {
        let text = Self.base.replacingOccurrences(of: "target_prefix: Demo", with: "target_prefix: Demo, protocl: json")
        let service = try SpecLoader.loadService(text, file: "providers/aws/demo.yaml", provider: "aws")
        let error = #expect(throws: SpecError.self) {
            try AWSServiceCaller.validate(ProviderSpec(provider: "aws", services: [service], discovery: [:]))
        }
        #expect(error?.line == 2)
        #expect(error?.message.contains("unknown setting protocl") == true)
    }

    @Test func anIncludedServiceMustExist() throws {
        let directory = try TestPaths.temporaryDirectory("spec-includes")
        try "provider: test\ndiscovery: {}\n".write(
            to: directory.appendingPathComponent("provider.yaml"), atomically: true, encoding: .utf8)
        let text = Self.base.replacingOccurrences(of: "service: demo\n", with: "service: demo\nincludes: [demo-control]\n")
        try text.write(to: directory.appendingPathComponent("demo.yaml"), atomically: true, encoding: .utf8)
        let error = #expect(throws: SpecError.self) { try SpecLoader.loadProvider(directory: directory, provider: "test") }
        #expect(error?.file == "providers/test/demo.yaml")
        #expect(error?.line == 2)
        #expect(error?.message.contains("includes demo-control, which no service spec declares") == true, "\(String(describing: error))")
    }
}

/// YAML from a file a user (or an attacker) wrote: never exponential, never echoed whole.
@Suite("Hostile YAML")
struct HostileYAMLTests {
    @Test func anchorsAndAliasesAreRefusedBeforeTheyExpand() {
        // Nine levels of nine aliases: a billion nodes if expanded.
        var lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        for i in 1...9 { lines.append("l\(i): &l\(i) [" + Array(repeating: "*l\(i - 1)", count: 9).joined(separator: ", ") + "]") }
        let bomb = "controls:\n  parameters:\n    x:\n" + lines.map { "      " + $0 }.joined(separator: "\n") + "\n"
        #expect { _ = try SpecLoader.parse(bomb, file: "attest.yaml") } throws: {
            ($0 as? SpecError)?.line == 4 && ($0 as? SpecError)?.message.contains("anchors and aliases") == true
        }
        #expect(throws: SpecError.self) { _ = try SpecLoader.parse("a: &x 1\nb: *x\n", file: "x.yaml") }
        #expect(throws: Never.self) { _ = try SpecLoader.parse("a: 'x & y'\nb: \"*not an alias\"\n", file: "x.yaml") }
    }

    @Test func aDuplicateKeyNamesItsOwnLineAndNotTheFile() {
        let text = "controls:\n  disabled: []\n  parameters: {}\n  disabled: [x]\n"
        #expect { _ = try SpecLoader.parse(text, file: "attest.yaml") } throws: {
            guard let e = $0 as? SpecError else { return false }
            return e.line == 4 && e.message.contains("duplicate key disabled") && !e.message.contains("parameters")
        }
    }

    @Test func anErrorInAVeryLongLineIsOneShortLine() {
        let text = "a: " + String(repeating: "x", count: 1_000_000) + "\nb: [\n"
        #expect { _ = try SpecLoader.parse(text, file: "big.yaml") } throws: {
            guard let e = $0 as? SpecError else { return false }
            return e.description.count < 300 && !e.description.contains("\n") && e.line > 1
        }
    }
}
