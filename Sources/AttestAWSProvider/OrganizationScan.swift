import AttestAWS
import AttestCollect
import AttestCore
import AttestInventory
public import AttestScan
import Foundation
import Synchronization

/// What an organization scan (`attest scan aws --org`) enters, from a target's options.
public struct OrganizationScanOptions: Sendable, Equatable {
    /// The target option keys: `org: "true"`, then the rest.
    public static let keys = ["org", "role_name", "exclude_accounts", "ous", "shard", "account_concurrency"]
    public static let defaultRoleName = "OrganizationAccountAccessRole"

    /// The role assumed in each member account (the management account is scanned with the credentials themselves).
    public var roleName = Self.defaultRoleName
    public var externalId: String?
    /// Only these accounts (the target's `accounts`), nil for all.
    public var accounts: Set<String>?
    public var excluded: Set<String> = []
    /// Only accounts under these OUs (at any depth), empty for all.
    public var units: [String] = []
    public var shard: AccountShard?
    /// Accounts entered at once.
    public var concurrency = 8

    /// Nil when the target is not an organization scan; a ``ScanSetupError`` for options that
    /// make no sense (a malformed account id, an OU id, a shard, `role_name` without `org`).
    public init?(target: ScanTarget) throws {
        let o = target.options
        let org = o["org"].map { ["true", "yes", "1"].contains($0.lowercased()) } ?? false
        guard org else {
            for key in Self.keys.dropFirst() where o[key] != nil {
                throw ScanSetupError("\(target.origin): \(key) needs org (an organization scan, --org)")
            }
            return nil
        }
        func list(_ key: String) -> [String] {
            (o[key] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        if let name = o["role_name"] {
            // A role name, or a path and name (`audit/attest-scan`): no ARN, no spaces.
            guard !name.isEmpty, !name.hasPrefix("arn:"), name.range(of: #"^[\w+=,.@/-]{1,512}$"#, options: .regularExpression) != nil
            else {
                throw ScanSetupError(
                    "\(target.origin): role_name \(name.debugDescription) is not an IAM role name (give the name; attest adds the account)")
            }
            roleName = name.hasPrefix("/") ? String(name.dropFirst()) : name
        }
        externalId = o["external_id"]
        accounts = target.accounts.map(Set.init)
        excluded = Set(list("exclude_accounts"))
        for id in (accounts ?? []).union(excluded).sorted() where !Self.isAccountID(id) {
            throw ScanSetupError("\(target.origin): \(id.debugDescription) is not an AWS account id (12 digits)")
        }
        units = list("ous")
        for unit in units
        where unit.range(of: #"^(ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|r-[0-9a-z]{4,32})$"#, options: .regularExpression) == nil {
            throw ScanSetupError("\(target.origin): \(unit.debugDescription) is not an organizational unit id (ou-…) or root id (r-…)")
        }
        if let text = o["shard"] {
            guard let shard = AccountShard(text) else {
                throw ScanSetupError(
                    "\(target.origin): shard \(text.debugDescription) is not INDEX/COUNT with 0 ≤ INDEX < COUNT (e.g. 0/4)")
            }
            self.shard = shard
        }
        if let text = o["account_concurrency"] {
            guard let n = Int(text), (1...64).contains(n) else {
                throw ScanSetupError("\(target.origin): account_concurrency must be a number from 1 to 64, not \(text.debugDescription)")
            }
            concurrency = n
        }
    }

    static func isAccountID(_ s: String) -> Bool { s.count == 12 && s.allSatisfy(\.isASCII) && s.allSatisfy(\.isNumber) }
}

/// The signed clients of the member accounts an organization scan entered, by account id.
final class AccountClients: Sendable {
    private let clients = Mutex<[String: AWSClient]>([:])

    func client(for account: String) -> AWSClient? { clients.withLock { $0[account] } }
    func set(_ client: AWSClient?, for account: String) { clients.withLock { $0[account] = client } }
}

/// The discovery of an organization scan: the organization's tree, accounts and policies are
/// collected first from the management account (the `organization` scope level,
/// `providers/aws/organizations.yaml`); then the accounts chosen (active, `--accounts`,
/// `--exclude-accounts`, `--ous`, `--shard`) are entered concurrently, each by assuming
/// `role_name` in it, and scanned like a single account. An account that cannot be entered is an
/// `account_unavailable` error of that account; the others go on.
struct OrganizationScan {
    var options: OrganizationScanOptions
    var session: AWSSession
    var calls: AWSConnection.DiscoveryCalls
    var spec: ProviderSpec
    var target: ScanTarget
    var engine: CollectionEngine
    var clients: AccountClients
    var connection: AWSConnection

    static let accountType = "aws.organizations.account"

    func discover(management: String, principal: String?, partition: String) async throws -> Discovery {
        guard let service = spec.service("organizations") else {
            throw ScanSetupError("--org needs providers/aws/organizations.yaml (the organization's spec)")
        }
        let home = session.homeRegion
        let managementTarget = AccountTarget(id: management, homeRegion: home, values: ["partition": .string(partition)])
        var organization = await engine.collect(
            services: [service],
            target: CollectionTarget(
                accounts: [managementTarget],
                scopes: ["organization": [CollectionScope(account: management, region: CollectionScope.global)]]))
        // Without the organization or its root nothing can be chosen: the credentials are not the
        // management account's (or a delegated administrator's), or Organizations is not in use.
        if let failure = organization.errors.first(where: { ["DescribeOrganization", "ListRoots"].contains($0.operation) }) {
            throw ScanSetupError(
                "--org: cannot read the organization with the credentials of account \(management): \(failure.code): \(failure.message) (use the management account or a delegated administrator)"
            )
        }
        let tree = OrganizationTree(organization.graph)
        var graph = tree.annotated(organization.graph)

        let active = tree.accounts.filter { $0.status == "ACTIVE" }
        let known = Set(tree.accounts.map(\.id))
        let unknown = (options.accounts ?? []).union(options.excluded).subtracting(known).sorted()
        if !unknown.isEmpty {
            throw ScanSetupError("--org: account \(unknown.joined(separator: ", ")) is not in organization \(tree.organizationID ?? "?")")
        }
        let units = Set(tree.unitIDs).union(tree.rootIDs)
        if let missing = options.units.first(where: { !units.contains($0) }) {
            throw ScanSetupError("--org: \(missing) is not an organizational unit of organization \(tree.organizationID ?? "?")")
        }
        let chosen = active.filter { account in
            if let only = options.accounts, !only.contains(account.id) { return false }
            if options.excluded.contains(account.id) { return false }
            if !options.units.isEmpty, !options.units.contains(where: { (account.ancestors + [account.parent]).contains($0) }) {
                return false
            }
            if let shard = options.shard, !shard.contains(account.id) { return false }
            return true
        }.map(\.id).sorted()
        // A shard keeps the accounts it scans: every shard's nodes together are the organization's once.
        if options.shard != nil || options.accounts != nil || !options.excluded.isEmpty || !options.units.isEmpty {
            let keep = Set(chosen)
            graph = graph.filtered { $0.type != Self.accountType || keep.contains($0.account) }
            organization.errors = organization.errors.filter {
                $0.resourceType != Self.accountType || $0.parentId != nil || keep.contains($0.account)
            }
        }
        organization.graph = graph

        engine.progress?.accountsPlanned(chosen.count)
        let entered = await boundedMap(chosen, width: options.concurrency) { account in
            let result = await enter(account, management: management, partition: partition)
            engine.progress?.accountEntered()
            return result
        }
        var accounts: [AccountTarget] = []
        var scopes: [String: [CollectionScope]] = ["global": [], "regional": []]
        var errors: [CollectionError] = []
        var regions: Set<String> = []
        for outcome in entered {
            switch outcome {
            case .entered(let account, let accountRegions, let accountErrors):
                accounts.append(account)
                for (level, list) in AWSConnection.scopes(account: account.id, regions: accountRegions) {
                    scopes[level, default: []] += list
                }
                regions.formUnion(accountRegions)
                errors += accountErrors
            case .unavailable(let error):
                errors.append(error)
            case .setupFailed(let error):
                throw error
            }
        }
        return Discovery(
            target: CollectionTarget(accounts: accounts, scopes: scopes), principal: principal, regions: regions.sorted(),
            errors: errors, collected: organization)
    }

    enum Entered: Sendable {
        case entered(AccountTarget, [String], [CollectionError])
        case unavailable(CollectionError)
        case setupFailed(ScanSetupError)
    }

    /// Assumes the role in `account` (the management account keeps the credentials), checks who
    /// that makes us and lists the account's regions.
    func enter(_ account: String, management: String, partition: String) async -> Entered {
        let roleArn = "arn:\(partition):iam::\(account):role/\(options.roleName)"
        if account != management {
            clients.set(session.assuming(roleArn, externalId: options.externalId).with(pacingScope: account), for: account)
        }
        let accountTarget = AccountTarget(id: account, homeRegion: session.homeRegion, values: ["partition": .string(partition)])
        do {
            let identity = try await engine.discover(
                calls.identity, in: spec, scope: CollectionScope(account: account, region: session.homeRegion),
                context: ["region": .string(session.homeRegion), "home_region": .string(session.homeRegion)])
            guard identity["Account"].stringValue == account else {
                clients.set(nil, for: account)
                return .unavailable(
                    unavailable(
                        account, code: "WrongAccount",
                        message: "assuming \(roleArn) gave credentials of account \(identity["Account"].stringValue ?? "?")"))
            }
            let (regions, errors) = try await connection.regions(calls, spec: spec, target: target, engine: engine, account: accountTarget)
            return .entered(accountTarget, regions, errors)
        } catch let error as ScanSetupError {
            return .setupFailed(error)
        } catch {
            clients.set(nil, for: account)
            let (code, message) = connection.caller.describe(error)
            let what = account == management ? "the management account" : "assuming \(roleArn)"
            return .unavailable(
                unavailable(
                    account, code: code, message: "not scanned: \(what) failed: \(message)",
                    operation: account == management ? "GetCallerIdentity" : "AssumeRole"))
        }
    }

    func unavailable(_ account: String, code: String, message: String, operation: String = "AssumeRole") -> CollectionError {
        CollectionError(
            kind: .accountUnavailable, service: "sts", account: account, region: CollectionScope.global,
            operation: operation, code: code, message: message)
    }
}

/// An organization as collected: where each account and OU sits, and which account manages it.
struct OrganizationTree {
    struct Account {
        var id: String
        var status: String
        var parent: String
        /// From the root down to the parent's parent.
        var ancestors: [String]
    }

    var organizationID: String?
    var managementAccount: String?
    var rootIDs: [String] = []
    var unitIDs: [String] = []
    var parentOfUnit: [String: String] = [:]
    var accounts: [Account] = []

    init(_ graph: InventoryGraph) {
        for r in graph.resources.values.sorted(by: { $0.id < $1.id }) {
            switch r.type {
            case "aws.organizations.organization":
                organizationID = r.attributes["id"]?.stringValue
                managementAccount = r.attributes["master_account_id"]?.stringValue
            case "aws.organizations.root":
                if let id = r.attributes["id"]?.stringValue { rootIDs.append(id) }
            case "aws.organizations.ou":
                if let id = r.attributes["id"]?.stringValue {
                    unitIDs.append(id)
                    parentOfUnit[id] = r.attributes["parent_id"]?.stringValue
                }
            default: break
            }
        }
        for r in graph.resources.values where r.type == OrganizationScan.accountType {
            guard let id = r.attributes["id"]?.stringValue, let parent = r.attributes["parent_id"]?.stringValue else { continue }
            accounts.append(
                Account(
                    id: id, status: r.attributes["state"]?.stringValue ?? r.attributes["status"]?.stringValue ?? "", parent: parent,
                    ancestors: ancestors(of: parent)))
        }
        accounts.sort { $0.id < $1.id }
    }

    /// The ids above `unit`, from the root down (a cycle in a hostile answer ends the walk).
    func ancestors(of unit: String) -> [String] {
        var chain: [String] = []
        var seen: Set<String> = [unit]
        var next = parentOfUnit[unit]
        while let id = next, seen.insert(id).inserted {
            chain.append(id)
            next = parentOfUnit[id]
        }
        return chain.reversed()
    }

    /// The graph with each account's `ancestors` (root first, then each OU down to its parent)
    /// and `is_management`.
    func annotated(_ graph: InventoryGraph) -> InventoryGraph {
        var out = InventoryGraph()
        for var r in graph.resources.values {
            if r.type == OrganizationScan.accountType, let parent = r.attributes["parent_id"]?.stringValue {
                r.attributes["ancestors"] = .array((ancestors(of: parent) + [parent]).map(JSONValue.string))
                r.attributes["is_management"] = managementAccount.map { .bool($0 == r.attributes["id"]?.stringValue) } ?? .null
            }
            out.add(r)
        }
        for e in graph.edges { out.add(e) }
        return out
    }
}

extension InventoryGraph {
    /// The resources that satisfy `keep`, with the edges from them.
    func filtered(_ keep: (Resource) -> Bool) -> InventoryGraph {
        var out = InventoryGraph()
        for r in resources.values where keep(r) { out.add(r) }
        for e in edges where out[e.from] != nil { out.add(e) }
        return out
    }
}
