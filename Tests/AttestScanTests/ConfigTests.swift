import AttestAWSProvider
import AttestAzureProvider
import AttestCollect
import AttestControls
import AttestScan
import AttestTestSupport
import Foundation
import Testing

/// `attest.yaml` is read with one strict model: a typo anywhere is an error at its line.
@Suite("The config file")
struct ConfigTests {
    let registry = try! ProviderRegistry([AWSProvider(), FakeCloudProvider()])

    func error(_ text: String) -> SpecError? {
        do {
            _ = try AttestConfig(text: text, file: "/x/attest.yaml", registry: registry)
            return nil
        } catch { return error as? SpecError }
    }

    @Test func anUnknownKeyAtAnyLevelNamesItsLineAndTheKnownKeys() throws {
        let top = try #require(error("controls:\n  disabled: []\nevidenc:\n  path: ./e\n"))
        #expect(top.line == 3)
        #expect(top.message.contains("unknown key evidenc"))
        #expect(top.message.contains("controls, evidence, targets"))
        // The cases a new user hits: a singular, a capital, a typo.
        for key in ["control", "Controls", "target"] { #expect(error("\(key):\n  disabled: [x]\n")?.line == 1, "\(key)") }
        #expect(error("evidence:\n  path: e\n  signing-key: k\n")?.line == 3)
        #expect(error("controls:\n  disable: [x]\n")?.message.contains("disabled, parameters, directories") == true)
        let target = try #require(error("targets:\n  - provider: aws\n    regoins: [eu-west-1]\n"))
        #expect(target.line == 3)
        #expect(target.message.contains("role_arn"))  // the provider's own option keys are among the known ones
        #expect(error("targets:\n  - provider: nope\n")?.message.contains("unknown provider nope (known: aws, fake)") == true)
        #expect(error("targets:\n  - regions: [eu-west-1]\n")?.message.contains("needs provider") == true)
        #expect(error("targets:\n  - provider: aws\n    regions: []\n")?.message.contains("at least one") == true)
        #expect(error("evidence:\n  retention_days: forever\n")?.line == 2)
    }

    @Test func anEmptyFileOrOneWithCommentsOnlyIsTheDefault() throws {
        for text in ["", "\n\n", "# nothing yet\n", "---\n"] {
            let config = try AttestConfig(text: text, file: "/x/attest.yaml", registry: registry)
            #expect(config.targets.isEmpty && config.controls.disabled.isEmpty && config.evidence.path == nil)
        }
    }

    @Test func targetsAreReadWithTheirOriginAndTheProvidersOptions() throws {
        let config = try AttestConfig(
            text: """
                targets:
                  - provider: aws
                    profile: audit
                    regions: [eu-west-1, eu-central-1]
                    services: [iam, s3]
                    role_arn: arn:aws:iam::111122223333:role/Audit
                    external_id: XYZ
                  - provider: fake
                    accounts: [acct-a]
                    label: second
                evidence:
                  path: store
                """, file: "/x/attest.yaml", registry: registry)
        #expect(
            config.targets == [
                ScanTarget(
                    provider: "aws", profile: "audit", regions: ["eu-west-1", "eu-central-1"], services: ["iam", "s3"],
                    options: ["role_arn": "arn:aws:iam::111122223333:role/Audit", "external_id": "XYZ"], origin: "/x/attest.yaml:2"),
                ScanTarget(provider: "fake", accounts: ["acct-a"], options: ["label": "second"], origin: "/x/attest.yaml:8"),
            ])
        // Relative paths are the config file's neighbours.
        #expect(config.evidence.path == "/x/store")
    }
}

@Suite("The shipped example config")
struct ExampleConfigTests {
    @Test func theExampleConfigIsValid() throws {
        let registry = try ProviderRegistry([AWSProvider()])
        let path = TestPaths.repository.appendingPathComponent("config/attest.example.yaml").path
        let config = try AttestConfig(text: try String(contentsOfFile: path, encoding: .utf8), file: path, registry: registry)
        #expect(config.targets.map(\.provider) == ["aws"])
        #expect(config.controls.disabled.count == 2)
        #expect(config.evidence.path?.hasSuffix("config/evidence") == true)
        #expect(config.controls.enforcement["aws-ec2-instance-imdsv2"] == Enforcement(mode: .warn, enforceFrom: "2027-03-01"))
        #expect(config.exceptionMaximumDays == 365 && config.exceptionExpiringSoonDays == 14)
    }

    /// The example exceptions file reads, and names only controls that exist.
    @Test func theExampleExceptionsFileIsValid() throws {
        let path = TestPaths.repository.appendingPathComponent("config/exceptions.example.yaml").path
        let entries = try ExceptionSet.load(file: path)
        #expect(entries.count == 2)
        #expect(entries[1].tags == ["env": "sandbox"])
        let environment = try ProviderRegistry([AWSProvider(), AzureProvider()]).ruleEnvironment()
        let ids = try ControlLoader.load(
            directories: [TestPaths.repository.appendingPathComponent("controls")], environment: environment
        ).map(\.id)
        try ExceptionSet(exceptions: entries).check(against: ids)
    }
}

@Suite("Exceptions in the config file")
struct ConfigExceptionTests {
    let registry = try! ProviderRegistry([AWSProvider()])

    @Test func anInlineListIsReadWithThePolicysMaximum() throws {
        let text = """
            exception_policy: {max_days: 30, expiring_soon_days: 7}
            exceptions:
              - control: aws-s3-bucket-versioning
                owner: o@example.com
                justification: j
                created: 2026-11-01
                expires: 2026-11-20
            """
        let config = try AttestConfig(text: text, file: "/x/attest.yaml", registry: registry)
        #expect(config.exceptions?.count == 1)
        #expect(config.exceptions?.first?.source == "/x/attest.yaml:3")
        #expect(config.exceptionExpiringSoonDays == 7)
        let tooLong = text.replacingOccurrences(of: "2026-11-20", with: "2027-01-20")
        #expect { try AttestConfig(text: tooLong, file: "/x/attest.yaml", registry: registry) } throws: { e in
            let e = e as! SpecError
            return e.line == 7 && e.message.contains("at most 30 days")
        }
    }

    @Test func aPathIsResolvedAgainstTheConfigsFolder() throws {
        let config = try AttestConfig(text: "exceptions: policy/exceptions.yaml", file: "/x/attest.yaml", registry: registry)
        #expect(config.exceptionsFile == "/x/policy/exceptions.yaml")
        #expect(config.exceptions == nil)
    }

    @Test func aBadPolicyValueNamesItsLine() {
        #expect {
            try AttestConfig(text: "exception_policy:\n  max_days: forever", file: "/x/attest.yaml", registry: registry)
        } throws: { e in
            let e = e as! SpecError
            return e.line == 2 && e.message.contains("exception_policy.max_days must be a whole number of days from 1 to 3650")
        }
    }
}
