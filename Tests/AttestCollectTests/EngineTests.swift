import AttestCollect
import AttestCore
import AttestInventory
import Foundation
import Testing

/// A ServiceCaller that answers from a table, for behaviour no emulator shows (moto's credential
/// report has no root row; paging loops; hostile items).
struct TableCaller: ServiceCaller {
    let answers: @Sendable (String, [String: JSONValue]) throws -> JSONValue

    func call(service: ServiceSpec, operation: OperationSpec, scope: CollectionScope, parameters: [String: JSONValue],
              context: JSONValue) async throws -> JSONValue {
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
        scopes: ["global": [CollectionScope(account: "111122223333", region: "global")],
                 "regional": [CollectionScope(account: "111122223333", region: "us-east-1")]])

    @Test func credentialReportRowsMergeIntoUsersAndTheRootAccount() async throws {
        let spec = try SpecLoader.loadService(try String(contentsOf: TestPaths.iamSpec, encoding: .utf8), file: "iam.yaml", provider: "aws")
        let csv = """
        user,arn,user_creation_time,password_enabled,password_last_used,mfa_active,access_key_1_active
        <root_account>,arn:aws:iam::111122223333:root,2020-01-01T00:00:00+00:00,not_supported,2026-11-01T10:00:00+00:00,false,true
        carol,arn:aws:iam::111122223333:user/carol,2021-01-01T00:00:00+00:00,true,N/A,false,false
        ghost,arn:aws:iam::111122223333:user/ghost,2021-01-01T00:00:00+00:00,true,N/A,true,false
        """
        let caller = TableCaller { op, params in
            switch op {
            case "ListUsers": return ["Users": ["member": ["UserName": "carol", "Arn": "arn:aws:iam::111122223333:user/carol", "UserId": "AID1"]], "IsTruncated": "false"]
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
        let spec = try SpecLoader.loadService(try String(contentsOf: TestPaths.iamSpec, encoding: .utf8), file: "iam.yaml", provider: "aws")
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
}

extension TestPaths {
    static var iamSpec: URL { repository.appendingPathComponent("providers/aws/iam.yaml") }
}

import AttestTestSupport
