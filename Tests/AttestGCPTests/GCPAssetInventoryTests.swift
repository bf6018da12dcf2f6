import AttestCore
import AttestTestSupport
import Foundation
import Testing

/// Cloud Asset Inventory listing: the lists the specs mark `asset_type` come from one paged
/// `assets.list` per project, where the caller may make the list it replaces, and the inventory
/// and results are those of the per-API lists.
@Suite("Google Cloud lists from Cloud Asset Inventory", .serialized)
struct GCPAssetInventoryTests {
    static let args = ["--format", "json", "--quiet", "--no-evidence", "--no-history"]

    struct Run {
        var report: JSONValue
        var status: Int32
        var calls: [[String: Any]]
    }

    func scan(_ peer: GCPPeer, _ extra: [String] = []) async throws -> Run {
        let before = try await peer.log().count
        let result = try await SeededGCP.scan(peer, Self.args + extra)
        let calls = Array(try await peer.log().dropFirst(before)).filter { ($0["kind"] as? String) == "api" }
        return Run(report: try JSONValue.parse(result.stdout), status: result.status, calls: calls)
    }

    /// Every resource with its attributes, tags and edges, and every result, for comparison.
    func inventory(_ report: JSONValue) -> (resources: [String: String], results: Set<String>, edges: Set<String>) {
        var resources: [String: String] = [:]
        // KMS locations are the scaffolding of the key-ring lists: through Asset Inventory only
        // those holding key rings are seen.
        for r in report["resources"].asList where r["type"].stringValue != "gcp.kms.location" {
            resources[r["id"].stringValue ?? ""] = JSONValue.object(["attributes": r["attributes"], "tags": r["tags"], "type": r["type"]])
                .serialized()
        }
        let results = Set(
            report["results"].asList.map {
                "\($0["control"].stringValue ?? "") \($0["resource"].stringValue ?? "") \($0["status"].stringValue ?? "")"
            })
        let edges = Set(report["edges"].asList.map { $0.serialized() })
        return (resources, results, edges)
    }

    func paths(_ run: Run) -> [String] { run.calls.compactMap { $0["path"] as? String } }

    @Test func assetInventoryGivesTheSameInventoryAndResultsAsThePerAPIListsWithFewerCalls() async throws {
        let peer = try await SeededGCP.forListing.value
        try await peer.configure(["asset_page_size": 7])
        defer { Task { try? await peer.configure(["asset_page_size": 1000]) } }
        let assets = try await scan(peer)
        let api = try await scan(peer, ["--listing", "api"])
        #expect(assets.status == api.status)
        #expect(assets.report["errors"].asList.isEmpty, "\(assets.report["errors"].serialized())")
        let a = inventory(assets.report)
        let b = inventory(api.report)
        #expect(
            Set(a.resources.keys) == Set(b.resources.keys),
            "only through Asset Inventory: \(Set(a.resources.keys).subtracting(b.resources.keys).sorted()), only per API: \(Set(b.resources.keys).subtracting(a.resources.keys).sorted())"
        )
        for (id, value) in a.resources where b.resources[id] != value {
            Issue.record("\(id) differs: \(value) vs \(b.resources[id] ?? "none")")
        }
        #expect(a.results == b.results)
        #expect(a.edges == b.edges)
        // Several Asset Inventory pages per project, and none of the lists it replaced.
        let listed = paths(assets)
        #expect(listed.filter { $0.hasSuffix("/assets") }.count > 2, "\(listed.filter { $0.hasSuffix("/assets") })")
        #expect(assets.calls.contains { $0["page_token"] is String && ($0["path"] as? String ?? "").hasSuffix("/assets") })
        for replaced in [
            "/compute/v1/projects/good-project/global/firewalls", "/compute/v1/projects/bad-project/aggregated/instances",
            "/v1/projects/good-project/locations", "/storage/v1/b", "/v1/projects/good-project/instances",
        ] {
            #expect(!listed.contains(replaced), "\(replaced) was listed per API")
            #expect(paths(api).contains(replaced), "\(replaced) is not a per-API list of the estate")
        }
        #expect(assets.calls.count < api.calls.count, "\(assets.calls.count) calls through Asset Inventory, \(api.calls.count) per API")
        #expect(assets.calls.allSatisfy { $0["discovery"] == nil }, "\(assets.calls.compactMap { $0["discovery"] })")
    }

    @Test func aListTheCallerMayNotMakeAndADisabledAssetInventoryGoBackToTheAPI() async throws {
        let peer = try await SeededGCP.forListing.value
        // The caller may not list firewalls: Asset Inventory would show them anyway, so the
        // per-API list is made, and refused as the API refuses it.
        try await peer.configure([
            "denied_permissions": ["compute.firewalls.list"],
            "extra_overrides": [
                "/compute/v1/projects/bad-project/global/firewalls": [
                    "_status": 403, "_code": "PERMISSION_DENIED",
                    "_message": "Required 'compute.firewalls.list' permission for 'projects/bad-project'",
                    "_reason": "forbidden",
                ]
            ],
        ])
        let denied = try await scan(peer, ["--no-controls"])
        try await peer.configure(["denied_permissions": [String](), "extra_overrides": [String: Any]()])
        #expect(denied.status == 3)
        #expect(paths(denied).contains("/compute/v1/projects/bad-project/global/firewalls"))
        #expect(!paths(denied).contains("/compute/v1/projects/bad-project/global/networks"))
        let errors = denied.report["errors"].asList
        #expect(errors.count == 1 && errors.first?["operation"].stringValue == "ListFirewalls", "\(errors)")

        try await peer.configure(["asset_inventory_disabled": true])
        defer { Task { try? await peer.configure(["asset_inventory_disabled": false]) } }
        let disabled = try await scan(peer, ["--no-controls"])
        #expect(disabled.status == 0, "\(disabled.report["errors"].serialized())")
        #expect(paths(disabled).contains("/compute/v1/projects/good-project/global/firewalls"))
        let api = try await scan(peer, ["--no-controls", "--listing", "api"])
        #expect(Set(inventory(disabled.report).resources.keys) == Set(inventory(api.report).resources.keys))
        let bad = try await SeededGCP.scan(peer, ["--listing", "graph"])
        #expect(bad.status == 2 && bad.stderr.contains("asset-inventory"))
    }
}
