import AttestAWSProvider
import AttestAzureProvider
import AttestCollect
import AttestControls
import AttestCore
import AttestInventory
import AttestTestSupport
import Foundation
import Synchronization
import Testing

/// A ServiceCaller that answers from a table, for behaviour no emulator shows (moto's credential
/// report has no root row; paging loops; hostile items).
struct TableCaller: ServiceCaller {
    let answers: @Sendable (String, [String: JSONValue]) throws -> JSONValue

    func call(
        service: ServiceSpec, operation: OperationSpec, scope: CollectionScope, parameters: [String: JSONValue],
        context: JSONValue
    ) async throws -> JSONValue {
        try answers(operation.name, parameters)
    }

    func describe(_ error: any Error) -> (code: String, message: String) {
        if let e = error as? TableError { return (e.code, e.code) }
        return ("Error", "\(error)")
    }

    func action(service: ServiceSpec, operation: OperationSpec) -> String { "x:\(operation.name)" }
}

struct TableError: Error { var code: String }

@Suite("Collection engine")
struct EngineTests {
    static let target = CollectionTarget(
        accounts: [AccountTarget(id: "111122223333", homeRegion: "us-east-1", values: ["partition": "aws"])],
        scopes: [
            "global": [CollectionScope(account: "111122223333", region: "global")],
            "regional": [CollectionScope(account: "111122223333", region: "us-east-1")],
        ])

    @Test func credentialReportRowsMergeIntoUsersAndTheRootAccount() async throws {
        let spec = try SpecLoader.loadService(
            try String(contentsOf: TestPaths.iamSpec, encoding: .utf8), file: "iam.yaml", provider: "aws",
            transforms: try TransformRegistry.generic.adding(AWSTransforms.all))
        let csv = """
            user,arn,user_creation_time,password_enabled,password_last_used,mfa_active,access_key_1_active
            <root_account>,arn:aws:iam::111122223333:root,2020-01-01T00:00:00+00:00,not_supported,2026-11-01T10:00:00+00:00,false,true
            carol,arn:aws:iam::111122223333:user/carol,2021-01-01T00:00:00+00:00,true,N/A,false,false
            ghost,arn:aws:iam::111122223333:user/ghost,2021-01-01T00:00:00+00:00,true,N/A,true,false
            """
        let caller = TableCaller { op, params in
            switch op {
            case "ListUsers":
                return [
                    "Users": ["member": ["UserName": "carol", "Arn": "arn:aws:iam::111122223333:user/carol", "UserId": "AID1"]],
                    "IsTruncated": "false",
                ]
            case "GenerateCredentialReport": return ["State": "COMPLETE"]
            case "GetCredentialReport": return ["Content": .string(Data(csv.utf8).base64EncodedString()), "ReportFormat": "text/csv"]
            case "GetAccountPasswordPolicy", "GetLoginProfile": throw TableError(code: "NoSuchEntity")
            default: return [:]
            }
        }
        let result = await CollectionEngine(caller: caller).collect(services: [spec], target: Self.target)
        let g = result.graph
        #expect(result.errors.isEmpty, "\(result.errors)")
        #expect(g["arn:aws:iam::111122223333:root"]?.attributes["credential_report"]?["mfa_active"] == false)
        #expect(g["arn:aws:iam::111122223333:root"]?.attributes["credential_report"]?["access_key_1_active"] == true)
        #expect(g["arn:aws:iam::111122223333:root"]?.type == "aws.iam.account")
        #expect(g["arn:aws:iam::111122223333:user/carol"]?.attributes["credential_report"]?["password_enabled"] == true)
        // A row for a user the list did not return does not invent a resource.
        #expect(g["arn:aws:iam::111122223333:user/ghost"] == nil)
        // "Not configured" answers are values, not errors.
        #expect(g["arn:aws:iam::111122223333:root"]?.attributes["password_policy_configured"] == false)
        #expect(g["arn:aws:iam::111122223333:user/carol"]?.attributes["console_access"] == false)
    }

    @Test func aFailedEnrichmentIsAnErrorAndTheResourceIsKept() async throws {
        let spec = try SpecLoader.loadService(
            try String(contentsOf: TestPaths.iamSpec, encoding: .utf8), file: "iam.yaml", provider: "aws",
            transforms: try TransformRegistry.generic.adding(AWSTransforms.all))
        let caller = TableCaller { op, params in
            switch op {
            case "ListUsers": return ["Users": ["member": [["UserName": "dave", "Arn": "arn:aws:iam::111122223333:user/dave"]]]]
            case "ListMFADevices": throw TableError(code: "AccessDenied")
            case "GenerateCredentialReport": return ["State": "COMPLETE"]
            case "GetCredentialReport": throw TableError(code: "AccessDenied")
            default: return [:]
            }
        }
        let result = await CollectionEngine(caller: caller).collect(services: [spec], target: Self.target)
        #expect(result.graph["arn:aws:iam::111122223333:user/dave"] != nil)
        let denied = result.errors.filter { $0.code == "AccessDenied" }
        #expect(denied.contains { $0.operation == "ListMFADevices" && $0.resourceId == "arn:aws:iam::111122223333:user/dave" })
        #expect(denied.contains { $0.operation == "GetCredentialReport" && $0.resourceType == "aws.iam.user" })
    }

    @Test func aPagingLoopStopsWithAnError() async throws {
        let yaml = """
            service: loop
            settings: {protocol: json}
            operations:
              ListThings: {items: "Things[]", paginate: {input: Marker, output: NextMarker}}
            resources:
              - type: test.thing
                list: ListThings
                id: "thing/{item.Id}"
            """
        let spec = try SpecLoader.loadService(yaml, file: "loop.yaml", provider: "test")
        let caller = TableCaller { _, params in
            ["Things": [["Id": .string(params["Marker"]?.stringValue ?? "first")]], "NextMarker": "same-token-every-time"]
        }
        let result = await CollectionEngine(caller: caller).collect(services: [spec], target: Self.target)
        #expect(result.errors.count == 1)
        #expect(result.errors.first?.message.contains("already returned") == true)
    }

    @Test func itemsWithoutAnIdAreReportedNotInvented() async throws {
        let yaml = """
            service: odd
            settings: {protocol: json}
            operations:
              ListThings: {items: "Things[]"}
            resources:
              - type: test.thing
                list: ListThings
                id: "thing/{item.Id}"
            """
        let spec = try SpecLoader.loadService(yaml, file: "odd.yaml", provider: "test")
        let caller = TableCaller { _, _ in ["Things": [["Id": "a"], ["Name": "no id"], "a string", ["Id": ["nested": 1]]]] }
        let result = await CollectionEngine(caller: caller).collect(services: [spec], target: Self.target)
        #expect(result.graph.count == 1)
        #expect(result.errors.filter { $0.code == "MissingIdentifier" }.count == 3)
    }

    static let treeSpec = """
        service: tree
        settings: {protocol: json}
        operations:
          ListRoots: {items: "Roots[]"}
          ListChildren: {items: "Children[]"}
          ListMembers: {items: "Members[]"}
        resources:
          - type: test.root
            list: ListRoots
            id: "root/{item.Id}"
            attributes: {id: item.Id}
          - type: test.unit
            parent: test.root
            descend: true
            list: {operation: ListChildren, parameters: {ParentId: "{parent.attributes.id}"}}
            id: "unit/{item.Id}"
            attributes: {id: item.Id, parent_id: parent.attributes.id}
            edges:
              - {kind: child-of, to: "{parent.id}"}
          - type: test.member
            parent: test.unit
            list: {operation: ListMembers, parameters: {ParentId: "{parent.attributes.id}"}}
            id: "member/{item.Id}"
            account: "{item.Id}"
            attributes: {id: item.Id}
        """

    @Test func descendWalksATreeToTheBottomAndAccountNamesTheMembersAccount() async throws {
        let spec = try SpecLoader.loadService(Self.treeSpec, file: "tree.yaml", provider: "test")
        // r ─ a ─ b ─ c, and r ─ d: four levels of units; members under b and d.
        let children: [String: [String]] = ["r": ["a", "d"], "a": ["b"], "b": ["c"]]
        let members: [String: [String]] = ["b": ["444455556666"], "d": ["777788889999"]]
        let caller = TableCaller { op, params in
            let parent = params["ParentId"]?.stringValue ?? ""
            switch op {
            case "ListRoots": return ["Roots": [["Id": "r"]]]
            case "ListChildren": return ["Children": .array((children[parent] ?? []).map { ["Id": .string($0)] })]
            default: return ["Members": .array((members[parent] ?? []).map { ["Id": .string($0)] })]
            }
        }
        let result = await CollectionEngine(caller: caller).collect(services: [spec], target: Self.target)
        #expect(result.errors.isEmpty)
        #expect(Set(result.graph.resources(ofType: "test.unit").map(\.id)) == ["unit/a", "unit/b", "unit/c", "unit/d"])
        #expect(result.graph["unit/c"]?.attributes["parent_id"] == "b")
        #expect(result.graph.edges(from: "unit/c").map(\.to) == ["unit/b"])
        #expect(result.graph.edges(from: "unit/a").map(\.to) == ["root/r"])
        // Members of units at any depth, each in its own account; the others stay in the scope's.
        #expect(result.graph["member/444455556666"]?.account == "444455556666")
        #expect(result.graph["member/777788889999"]?.account == "777788889999")
        #expect(result.graph["unit/a"]?.account == "111122223333")
    }

    @Test func aCycleOrAnEndlessTreeInTheAnswersEnds() async throws {
        let spec = try SpecLoader.loadService(Self.treeSpec, file: "tree.yaml", provider: "test")
        // a's child is a again (a cycle), and every x-unit has one new child forever.
        let calls = Mutex(0)
        let caller = TableCaller { op, params in
            let parent = params["ParentId"]?.stringValue ?? ""
            switch op {
            case "ListRoots": return ["Roots": [["Id": "r"]]]
            case "ListChildren":
                calls.withLock { $0 += 1 }
                if parent == "r" { return ["Children": [["Id": "a"], ["Id": "x0"]]] }
                if parent == "a" { return ["Children": [["Id": "a"]]] }
                return ["Children": [["Id": .string("x\(Int(parent.dropFirst())! + 1)")]]]
            default: return ["Members": []]
            }
        }
        let result = await CollectionEngine(caller: caller).collect(services: [spec], target: Self.target)
        let units = result.graph.resources(ofType: "test.unit").count
        #expect(units > 2 && units < 100, "\(units) units")
        #expect(calls.withLock { $0 } < 100)
    }

    @Test func descendNeedsAParentAndAList() throws {
        let yaml = """
            service: bad
            settings: {protocol: json}
            operations:
              ListThings: {items: "Things[]"}
            resources:
              - type: test.thing
                descend: true
                list: ListThings
                id: "thing/{item.Id}"
            """
        #expect(throws: SpecError.self) { try SpecLoader.loadService(yaml, file: "bad.yaml", provider: "test") }
    }
}

extension TestPaths {
    static var iamSpec: URL { repository.appendingPathComponent("providers/aws/iam.yaml") }
}

/// The defects a review of the first engine found, each pinned down.
@Suite("Collection gaps land where the data is missing")
struct CollectionGapTests {
    static let a = "111122223333"

    static func iam() throws -> ServiceSpec {
        try SpecLoader.loadService(
            try String(contentsOf: TestPaths.iamSpec, encoding: .utf8), file: "iam.yaml", provider: "aws",
            transforms: try TransformRegistry.generic.adding(AWSTransforms.all))
    }

    static func controls(_ ids: [String]) throws -> [Control] {
        let environment = try RuleEnvironment.make(providerFunctions: AWSRuleFunctions.all + AzureRuleFunctions.all)
        return try ControlLoader.load(directories: [TestPaths.repository.appendingPathComponent("controls")], environment: environment)
            .filter { ids.contains($0.id) }
    }

    @Test func aFailedChildListBlamesTheChildTypeOfThatParentNotTheParent() async throws {
        let caller = TableCaller { op, params in
            switch op {
            case "ListUsers":
                return [
                    "Users": [
                        "member": [
                            ["UserName": "dave", "Arn": .string("arn:aws:iam::\(Self.a):user/dave")],
                            ["UserName": "erin", "Arn": .string("arn:aws:iam::\(Self.a):user/erin")],
                        ]
                    ]
                ]
            case "ListAccessKeys":
                if params["UserName"] == "dave" { throw TableError(code: "AccessDenied") }
                return [
                    "AccessKeyMetadata": [
                        "member": [
                            [
                                "AccessKeyId": "AKIAERIN", "UserName": "erin", "Status": "Active",
                                "CreateDate": "2026-11-01T00:00:00Z",
                            ]
                        ]
                    ]
                ]
            case "GenerateCredentialReport": return ["State": "COMPLETE"]
            case "GetCredentialReport", "GetAccountPasswordPolicy", "GetLoginProfile", "GetAccountSummary":
                throw TableError(code: "NoSuchEntity")
            default: return [:]
            }
        }
        let spec = try Self.iam()
        let result = await CollectionEngine(caller: caller).collect(services: [spec], target: EngineTests.target)
        let failed = try #require(result.errors.first { $0.operation == "ListAccessKeys" })
        #expect(failed.resourceType == "aws.iam.access-key")
        #expect(failed.parentId == "arn:aws:iam::\(Self.a):user/dave")
        #expect(failed.resourceId == nil)

        let gaps = ControlEngine.CollectionGaps(
            errors: result.errors.filter { $0.operation == "ListAccessKeys" }, services: [spec],
            regionalLevels: ["regional"])
        let results = await ControlEngine(controls: try Self.controls(["aws-iam-access-key-rotated", "aws-iam-user-console-mfa"]))
            .evaluate(graph: result.graph, now: Date(timeIntervalSince1970: 1_764_547_200), gaps: gaps)
        // Dave's own controls are judged: his user was read.
        let daves = results.filter { $0.resourceID == "arn:aws:iam::\(Self.a):user/dave" }
        #expect(!daves.isEmpty && daves.allSatisfy { $0.status != .error })
        // Erin's key was read and is judged; dave's keys are one error result that names him.
        #expect(results.first { $0.resourceID == "arn:aws:iam::\(Self.a):access-key/AKIAERIN" }?.status == .pass)
        let unknown = results.filter { $0.status == .error }
        #expect(unknown.map(\.controlID) == ["aws-iam-access-key-rotated"])
        #expect(unknown.first?.parentID == "arn:aws:iam::\(Self.a):user/dave")
        #expect(unknown.first?.subject == "aws.iam.access-key of arn:aws:iam::\(Self.a):user/dave")
        #expect(unknown.first?.reason?.contains("ListAccessKeys") == true)
    }

    @Test func discoveryRendersTemplatesWithTheOperationsDefaults() async throws {
        let yaml = """
            service: things
            scope: global
            operations:
              Describe: {parameters: {Mode: full, Limit: 50}}
            resources: []
            """
        let spec = ProviderSpec(
            provider: "test", services: [try SpecLoader.loadService(yaml, file: "things.yaml", provider: "test")],
            discovery: [
                "regions": DiscoveryCall(
                    service: "things", operation: "Describe", items: nil,
                    parameters: ["Owner": .template(try Template("{account}")), "Limit": .json(5)])
            ])
        let seen = Box()
        let caller = TableCaller { _, params in
            seen.value.withLock { $0 = params }
            return ["ok": true]
        }
        _ = try await CollectionEngine(caller: caller).discover(
            spec.discovery["regions"]!, in: spec,
            scope: CollectionScope(account: Self.a, region: "us-east-1"),
            context: ["account": .string(Self.a)])
        // The call's own parameters win over the operation's defaults; templates are rendered.
        #expect(seen.value.withLock { $0 } == ["Mode": "full", "Limit": 5, "Owner": .string(Self.a)])
    }

    @Test func aDiscoveryFailureBlamesNoResourceType() throws {
        let errors = [
            CollectionError(
                kind: .discovery, service: "ec2", account: Self.a, region: "us-east-1", operation: "DescribeRegions",
                code: "AccessDenied", message: "could not list enabled regions"),
            CollectionError(
                kind: .scopeUnavailable, service: "ec2", account: Self.a, region: "xx-nowhere-1", operation: "DescribeRegions",
                code: "RegionNotEnabled", message: "not enabled"),
        ]
        let services = try [("ec2", "regional", "aws.ec2.vpc"), ("iam", "global", "aws.iam.user")].map { id, scope, type in
            try SpecLoader.loadService(
                "service: \(id)\nscope: \(scope)\nresources:\n  - {type: \(type), singleton: true, id: x}\n",
                file: "\(id).yaml", provider: "aws")
        }
        let gaps = ControlEngine.CollectionGaps(errors: errors, services: services, regionalLevels: ["regional"])
        // The home region's EC2 results stay judged.
        #expect(gaps.reason(type: "aws.ec2.vpc", account: Self.a, region: "us-east-1") == nil)
        // A region that was asked for but not scanned is unknown for every regional type, and only there.
        #expect(gaps.reason(type: "aws.ec2.vpc", account: Self.a, region: "xx-nowhere-1")?.contains("RegionNotEnabled") == true)
        #expect(gaps.reason(type: "aws.iam.user", account: Self.a, region: "global") == nil)
    }

    @Test func pollAttemptsAndIntervalsMustBeNumbers() throws {
        func spec(_ poll: String) -> String {
            """
            service: s
            operations:
              Gen: {}
              List: {items: "x[]"}
            resources:
              - type: t.s.r
                list: {operation: List, before: [{operation: Gen, path: State, until: DONE, \(poll)}]}
                id: "{item}"
            """
        }
        #expect(throws: Never.self) { _ = try SpecLoader.loadService(spec("attempts: 5, interval: 0.5"), file: "s.yaml", provider: "t") }
        for (poll, message) in [
            ("attempts: five", "attempts must be"), ("attempts: 0", "attempts must be"),
            ("interval: soon", "interval must be"), ("interval: -1", "interval must be"),
        ] {
            #expect { _ = try SpecLoader.loadService(spec(poll), file: "s.yaml", provider: "t") } throws: {
                ($0 as? SpecError)?.message.contains(message) == true && ($0 as? SpecError)?.line == 7
            }
        }
    }
}

final class Box: Sendable { let value = Mutex<[String: JSONValue]>([:]) }

/// Counts the calls in flight; a call of `rendezvous` waits (up to a few seconds) until another
/// call is in flight with it, so overlap is observed, not timed.
final class InFlightCaller: ServiceCaller, Sendable {
    struct State {
        var inFlight = 0
        var most = 0
        var order: [String] = []
    }
    let state = Mutex(State())
    let rendezvous: Set<String>
    let answers: @Sendable (String) throws -> JSONValue

    init(rendezvous: Set<String>, answers: @escaping @Sendable (String) throws -> JSONValue) {
        self.rendezvous = rendezvous
        self.answers = answers
    }

    func call(
        service: ServiceSpec, operation: OperationSpec, scope: CollectionScope, parameters: [String: JSONValue], context: JSONValue
    ) async throws -> JSONValue {
        state.withLock {
            $0.inFlight += 1
            $0.most = max($0.most, $0.inFlight)
            $0.order.append(operation.name)
        }
        defer { state.withLock { $0.inFlight -= 1 } }
        if rendezvous.contains(operation.name) {
            for _ in 0..<300 where state.withLock({ $0.inFlight }) < 2 { try await Task.sleep(for: .milliseconds(10)) }
        }
        return try answers(operation.name)
    }

    func describe(_ error: any Error) -> (code: String, message: String) {
        if let e = error as? TableError { return (e.code, e.code) }
        return ("Error", "\(error)")
    }

    func action(service: ServiceSpec, operation: OperationSpec) -> String { "s3:\(operation.name)" }
}

@Suite("Enrichments in waves")
struct EnrichmentWaveTests {
    @Test func theBucketsEnrichmentsWaitOnlyForWhatTheyRead() throws {
        let spec = try SpecLoader.loadService(
            try String(contentsOf: TestPaths.repository.appendingPathComponent("providers/aws/s3.yaml"), encoding: .utf8), file: "s3.yaml",
            provider: "aws", transforms: try TransformRegistry.generic.adding(AWSTransforms.all))
        let bucket = try #require(spec.resources.first { $0.type == "aws.s3.bucket" })
        let names = bucket.enrichmentWaves.map { $0.map { bucket.enrich[$0].name } }
        // The region first (every other call is made there), then all at once, then the
        // policy status, which is asked only when there is a policy.
        #expect(names.first == ["bucket_region"])
        #expect(names.count == 3)
        #expect(names[1].contains("policy") && names[1].contains("versioning") && names[1].count == 8)
        #expect(names[2] == ["policy_status"])
    }

    @Test func independentCallsOverlapAndAPolicyStatusIsAskedOnlyForAPolicy() async throws {
        let spec = try SpecLoader.loadService(
            try String(contentsOf: TestPaths.repository.appendingPathComponent("providers/aws/s3.yaml"), encoding: .utf8), file: "s3.yaml",
            provider: "aws", transforms: try TransformRegistry.generic.adding(AWSTransforms.all))
        let caller = InFlightCaller(rendezvous: ["GetBucketVersioning", "GetBucketAcl"]) { op in
            switch op {
            case "ListBuckets": return ["Buckets": ["Bucket": ["Name": "quiet", "CreationDate": "2026-01-01T00:00:00Z"]]]
            case "GetBucketLocation": return "eu-west-1"
            case "GetBucketVersioning": return ["Status": "Enabled"]
            case "GetBucketPolicy": throw TableError(code: "NoSuchBucketPolicy")
            case "GetBucketPolicyStatus": return ["IsPublic": "true"]
            default: return [:]
            }
        }
        let target = CollectionTarget(
            accounts: [AccountTarget(id: "111122223333", homeRegion: "us-east-1", values: ["partition": "aws"])],
            scopes: ["global": [CollectionScope(account: "111122223333", region: "global")]])
        let result = await CollectionEngine(caller: caller).collect(services: [spec], target: target)
        let bucket = try #require(result.graph["arn:aws:s3:::quiet"])
        #expect(bucket.region == "eu-west-1")
        #expect(bucket.attributes["versioning"] == "Enabled")
        #expect(bucket.attributes["policy"] == .null && bucket.attributes["policy_is_public"] == .null)
        let state = caller.state.withLock { $0 }
        #expect(state.most >= 2, "enrichments of one bucket ran one at a time")
        #expect(!state.order.contains("GetBucketPolicyStatus"))
        // The location is asked before anything that is sent to the bucket's region.
        #expect(state.order.firstIndex(of: "GetBucketLocation")! < state.order.firstIndex(of: "GetBucketVersioning")!)
    }
}
