import AttestAWSProvider
import AttestCEL
import AttestCollect
import AttestInventory
import Foundation
import Testing

@testable import AttestControls

/// A control compiled from YAML text, as a user would write it.
func control(_ yaml: String, file: String = "test-versioning.yaml") throws -> Control {
    try ControlLoader.load(text: yaml, file: file, environment: builtinEnvironment)
}

func bucket(_ name: String, region: String = "us-east-1", _ attributes: [String: JSONValue]) -> Resource {
    Resource(id: "arn:aws:s3:::\(name)", type: "aws.s3.bucket", account: "111122223333", region: region, name: name, attributes: attributes)
}

let versioningControl = """
    id: test-versioning
    title: Buckets are versioned
    description: d
    rationale: r
    severity: medium
    resource_types: [aws.s3.bucket]
    applies_if: "!resource.name.startsWith('scratch-')"
    assert: "resource.attributes.versioning == 'Enabled'"
    observed: [attributes.versioning]
    remediation: {text: turn it on}
    """

@Suite("Control engine")
struct ControlEngineTests {
    @Test func oneResultPerControlAndResourceWithEveryStatus() async throws {
        let graph = InventoryGraph(
            resources: [
                bucket("b-on", ["versioning": "Enabled"]),
                bucket("a-off", ["versioning": "Suspended"]),
                bucket("scratch-x", ["versioning": "Suspended"]),
                bucket("c-missing", [:]),
            ], edges: [])
        let c = try control(versioningControl)
        let engine = ControlEngine(controls: [c])
        let results = await engine.evaluate(graph: graph, now: Date())
        #expect(
            results.map(\.resourceID) == ["arn:aws:s3:::a-off", "arn:aws:s3:::b-on", "arn:aws:s3:::c-missing", "arn:aws:s3:::scratch-x"])
        #expect(results.map(\.status) == [.fail, .pass, .error, .notApplicable])
        #expect(results[0].observed(c, in: graph).map(\.value) == ["Suspended"])
        #expect(results[0].observed(c, in: graph).map(\.path) == ["attributes.versioning"])
        // Reading an attribute that was never collected is an error that says so, never a pass.
        #expect(results[2].reason?.contains("versioning") == true)
    }

    @Test func concurrentChunksGiveTheSameOrderedResultsAsOneTask() async throws {
        var resources: [Resource] = []
        for i in 0..<500 {
            resources.append(bucket(String(format: "b%04d", (i * 7919) % 500), ["versioning": i % 3 == 0 ? "Enabled" : "Off"]))
        }
        let graph = InventoryGraph(resources: resources, edges: [])
        let c = try control(versioningControl)
        let sequential = await ControlEngine(controls: [c], concurrency: 1, chunkSize: 10_000).evaluate(graph: graph, now: Date())
        let parallel = await ControlEngine(controls: [c], concurrency: 8, chunkSize: 7).evaluate(graph: graph, now: Date())
        #expect(sequential.count == 500)
        #expect(sequential.map(\.resourceID) == parallel.map(\.resourceID))
        #expect(sequential.map(\.status) == parallel.map(\.status))
        #expect(sequential.map(\.resourceID) == sequential.map(\.resourceID).sorted())
    }

    @Test func onlyTheAttributesRulesReadAreConvertedUnlessTheyUseTheWholeMap() async throws {
        #expect(
            ControlEngine.attributesRead(by: [
                "resource.attributes.a == 1 && resource.attributes .? b.orValue(2) > 1", "has(resource.attributes.c)",
            ]) == ["a", "b", "c"])
        #expect(ControlEngine.attributesRead(by: ["resource.attributes.size() > 2"]) == nil)
        #expect(ControlEngine.attributesRead(by: ["'x' in resource.attributes"]) == nil)
        #expect(ControlEngine.attributesRead(by: ["resource.attributes['a'] == 1"]) == nil)
        // Whichever way a rule reads them, the results are those of converting everything.
        let whole = try control(
            versioningControl.replacingOccurrences(
                of: "assert: \"resource.attributes.versioning == 'Enabled'\"",
                with: "assert: \"resource.attributes.size() == 2\""))
        let graph = InventoryGraph(resources: [bucket("x", ["versioning": "Enabled", "mfa_delete": "Disabled"])], edges: [])
        let results = await ControlEngine(controls: [
            whole,
            try control(
                versioningControl.replacingOccurrences(of: "id: test-versioning", with: "id: test-versioning-2"),
                file: "test-versioning-2.yaml"),
        ])
        .evaluate(graph: graph, now: Date())
        #expect(results.map(\.status) == [.pass, .pass])
    }

    @Test func collectionErrorsTurnDependentResultsIntoErrors() async throws {
        let graph = InventoryGraph(
            resources: [
                bucket("east", ["versioning": "Enabled"]),
                bucket("west", region: "eu-west-1", ["versioning": "Enabled"]),
                bucket("broken", ["versioning": .null]),
            ], edges: [])
        var gaps = ControlEngine.CollectionGaps()
        gaps.byTypeAndScope["aws.s3.bucket"] = [
            "111122223333": [
                "eu-west-1": "collection failed: s3 ListObjects in eu-west-1: AccessDenied",
                "ap-south-1": "collection failed: s3 in ap-south-1: Throttling",
            ]
        ]
        gaps.byResource["arn:aws:s3:::broken"] = "collection failed: s3 GetBucketVersioning: AccessDenied"
        let results = await ControlEngine(controls: [try control(versioningControl)]).evaluate(
            graph: graph, now: Date(), gaps: gaps)
        let byID = Dictionary(uniqueKeysWithValues: results.map { ($0.resourceID + "@" + $0.region, $0) })
        #expect(byID["arn:aws:s3:::east@us-east-1"]?.status == .pass)
        #expect(byID["arn:aws:s3:::west@eu-west-1"]?.status == .error)
        #expect(byID["arn:aws:s3:::broken@us-east-1"]?.status == .error)
        #expect(byID["arn:aws:s3:::broken@us-east-1"]?.reason?.contains("GetBucketVersioning") == true)
        // A region with no resources to blame still shows the control could not be evaluated there.
        let placeholder = try #require(byID["@ap-south-1"])
        #expect(placeholder.status == .error)
        #expect(placeholder.account == "111122223333")
        #expect(results.count == 4)
    }

    @Test func aControlReadingATypeWhoseCollectionFailedInTheAccountIsAnErrorThere() async throws {
        // An account-wide rule over resources('aws.s3.bucket'): a bucket whose call failed, or a
        // failed bucket list, leaves it nothing sure to judge in that account; other accounts are judged.
        let rule = """
            id: test-any-versioned
            title: Some bucket is versioned
            description: d
            rationale: r
            severity: low
            resource_types: [aws.iam.account]
            assert: "resources('aws.s3.bucket').exists(b, b.attributes.versioning == 'Enabled')"
            remediation: {text: t}
            tests:
              - {name: p, resource: {attributes: {}}, expect: pass, graph: {resources: [{id: b, type: aws.s3.bucket, attributes: {versioning: Enabled}}]}}
              - {name: f, resource: {attributes: {}}, expect: fail}
            """
        func account(_ id: String) -> Resource {
            Resource(id: "arn:aws:iam::\(id):root", type: "aws.iam.account", account: id, region: "global", name: id, attributes: [:])
        }
        let other = Resource(
            id: "arn:aws:s3:::other", type: "aws.s3.bucket", account: "444455556666", region: "us-east-1", name: "other",
            attributes: ["versioning": "Enabled"])
        let graph = InventoryGraph(
            resources: [
                account("111122223333"), account("444455556666"), bucket("east", ["versioning": "Enabled"]),
                bucket("broken", ["versioning": .null]), other,
            ],
            edges: [])
        var gaps = ControlEngine.CollectionGaps()
        gaps.byResource["arn:aws:s3:::broken"] = "collection failed: s3 GetBucketVersioning: AccessDenied"
        let engine = ControlEngine(controls: [try control(rule, file: "test-any-versioned.yaml")])
        let results = await engine.evaluate(graph: graph, now: Date(), gaps: gaps)
        let byAccount = Dictionary(uniqueKeysWithValues: results.map { ($0.account, $0) })
        #expect(byAccount["111122223333"]?.status == .error)
        #expect(byAccount["111122223333"]?.reason?.contains("aws.s3.bucket, which this control reads") == true)
        #expect(byAccount["444455556666"]?.status == .pass)
        var listing = ControlEngine.CollectionGaps()
        listing.byTypeAndScope["aws.s3.bucket"] = ["444455556666": ["us-east-1": "collection failed: s3 ListBuckets: AccessDenied"]]
        let listed = await engine.evaluate(graph: graph, now: Date(), gaps: listing)
        #expect(listed.map(\.status) == [.pass, .error], "\(listed.map(\.account))")
        #expect(await engine.evaluate(graph: graph, now: Date()).map(\.status) == [.pass, .pass])
    }

    @Test func gapsAreDerivedFromScanErrorsPerServiceRegionAndResource() throws {
        let spec = try SpecLoader.loadProvider(
            directory: repositoryRoot.appendingPathComponent("providers/aws"), provider: "aws",
            transforms: try TransformRegistry.generic.adding(AWSTransforms.all))
        let a = "111122223333"
        let gaps = ControlEngine.CollectionGaps(
            errors: [
                CollectionError(
                    service: "kms", account: a, region: "eu-west-1", operation: "ListKeys", code: "AccessDenied", message: "no"),
                CollectionError(service: "iam", account: a, region: "global", operation: "ListUsers", code: "Throttling", message: "slow"),
                CollectionError(
                    service: "s3", account: a, region: "us-east-1", operation: "GetBucketPolicy", code: "AccessDenied", message: "no",
                    resourceType: "aws.s3.bucket", resourceId: "arn:aws:s3:::x"),
            ], services: spec.services, regionalLevels: ["regional"])
        #expect(gaps.reason(type: "aws.kms.key", account: a, region: "eu-west-1") != nil)
        #expect(gaps.reason(type: "aws.kms.key", account: a, region: "us-east-1") == nil)
        // IAM is global: its failure affects its types wherever they are.
        #expect(gaps.reason(type: "aws.iam.user", account: a, region: "global") != nil)
        #expect(gaps.byResource["arn:aws:s3:::x"] != nil)
        #expect(gaps.reason(type: "aws.s3.bucket", account: a, region: "us-east-1") == nil)
        // A gap in one account never turns another account's results into errors.
        #expect(gaps.reason(type: "aws.kms.key", account: "444455556666", region: "eu-west-1") == nil)
        #expect(gaps.reason(type: "aws.iam.user", account: "444455556666", region: "global") == nil)
    }

    @Test func graphFunctionsFollowEdgesBothWays() async throws {
        let instance = Resource(
            id: "i-1", type: "aws.ec2.instance", account: "1", region: "r", name: "i-1", attributes: ["public_ip": "203.0.113.9"])
        let open = Resource(
            id: "sg-open", type: "aws.ec2.security-group", account: "1", region: "r", name: "open",
            attributes: [
                "ingress": [["protocol": "tcp", "from_port": 22, "to_port": 22, "cidrs": ["0.0.0.0/0"], "ipv6_cidrs": []]]
            ])
        let vpc = Resource(id: "vpc-1", type: "aws.ec2.vpc", account: "1", region: "r", name: "vpc-1")
        var graph = InventoryGraph(
            resources: [instance, open, vpc],
            edges: [
                Edge(from: "i-1", to: "sg-open", kind: "protected-by"), Edge(from: "i-1", to: "vpc-1", kind: "contained-in"),
                Edge(from: "i-1", to: "sg-elsewhere", kind: "protected-by"),
            ])
        func eval(_ expr: String, _ r: Resource) throws -> CELValue {
            try ControlTestRunner.evaluate(expression: expr, resource: r, graph: graph, environment: builtinEnvironment).get()
        }
        #expect(try eval("resource.related('protected-by').map(g, g.name)", instance) == .list([.string("open")]))
        #expect(try eval("resource.relatedIds('protected-by')", instance) == .list([.string("sg-elsewhere"), .string("sg-open")]))
        #expect(try eval("resource.referrers('contained-in').map(x, x.id)", vpc) == .list([.string("i-1")]))
        #expect(
            try eval("resource.related('protected-by').exists(g, aws.ingressOpenToInternet(g.attributes.ingress, 22))", instance)
                == .bool(true))
        #expect(try eval("resources('aws.ec2.vpc').size()", instance) == .int(1))
        graph.add(Resource(id: "vpc-other", type: "aws.ec2.vpc", account: "2", region: "r", name: "other"))
        #expect(try eval("resources('aws.ec2.vpc').size()", instance) == .int(1))
    }

    @Test func iamFunctionsSeePoliciesThroughGroupsAndAttachments() throws {
        let admin: JSONValue = ["Version": "2012-10-17", "Statement": [["Effect": "Allow", "Action": "*", "Resource": "*"]]]
        let user = Resource(
            id: "u", type: "aws.iam.user", account: "1", region: "global", name: "u",
            attributes: [
                "inline_policies": [
                    ["name": "p", "document": ["Statement": [["Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"]]]]
                ]
            ])
        let group = Resource(id: "g", type: "aws.iam.group", account: "1", region: "global", name: "g", attributes: ["inline_policies": []])
        let policy = Resource(
            id: "p-admin", type: "aws.iam.policy", account: "1", region: "global", name: "AdministratorAccess",
            attributes: ["document": admin])
        let graph = InventoryGraph(
            resources: [user, group, policy],
            edges: [
                Edge(from: "u", to: "g", kind: "member-of"), Edge(from: "g", to: "p-admin", kind: "has-policy"),
            ])
        let expr = "iam.policies(resource).exists(d, iam.isAdmin(d))"
        #expect(
            try ControlTestRunner.evaluate(expression: expr, resource: user, graph: graph, environment: builtinEnvironment).get()
                == .bool(true))
        #expect(
            try ControlTestRunner.evaluate(
                expression: "iam.policies(resource).size()", resource: user, graph: graph, environment: builtinEnvironment
            ).get() == .int(2))
        let alone = InventoryGraph(resources: [user], edges: [])
        #expect(
            try ControlTestRunner.evaluate(expression: expr, resource: user, graph: alone, environment: builtinEnvironment).get()
                == .bool(false))
        // A malformed document is an evaluation error, not a silent false.
        let broken = try ControlTestRunner.evaluate(expression: "iam.isAdmin('{not json')", resource: nil, environment: builtinEnvironment)
        #expect(throws: CELError.self) { try broken.get() }
    }

    @Test func daysSinceCountsWholeDaysToTheScanTime() throws {
        let now = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01T00:00:00Z
        func days(_ s: String) throws -> CELValue {
            try ControlTestRunner.evaluate(expression: "daysSince(\(s))", resource: nil, now: now).get()
        }
        #expect(try days("'2025-12-31T00:00:00Z'") == .int(1))
        #expect(try days("'2025-12-31T00:00:01Z'") == .int(0))
        #expect(try days("timestamp('2025-10-03T00:00:00Z')") == .int(90))
        #expect(throws: CELError.self) { try days("'N/A'") }
        #expect(throws: CELError.self) { try days("null") }
    }
}

/// The repository root, from this file's location.
let repositoryRoot: URL = {
    var dir = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { dir.deleteLastPathComponent() }
    return dir
}()

@Suite("Rules that cost too much")
struct CostLimitEngineTests {
    @Test func aRuleOverItsBudgetIsAnErrorResultNamingTheControlAndTheOthersRun() async throws {
        let hungry = try control(
            versioningControl
                .replacingOccurrences(of: "id: test-versioning", with: "id: test-hungry")
                .replacingOccurrences(
                    of: "assert: \"resource.attributes.versioning == 'Enabled'\"",
                    with: "assert: \"lists.range(1000).map(a, lists.range(1000).map(b, lists.range(1000).map(c, a + b + c))).size() > 0\""),
            file: "test-hungry.yaml")
        let graph = InventoryGraph(resources: [bucket("b-on", ["versioning": "Enabled"])], edges: [])
        let results = await ControlEngine(controls: [hungry, try control(versioningControl)]).evaluate(graph: graph, now: Date())
        #expect(results.map(\.controlID) == ["test-hungry", "test-versioning"])
        #expect(results[0].status == .error)
        #expect(results[0].reason?.contains("control test-hungry") == true, "\(results[0].reason ?? "")")
        #expect(results[0].reason?.contains("cost limit exceeded") == true)
        #expect(results[1].status == .pass)
    }
}
