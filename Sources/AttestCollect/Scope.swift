public import AttestCore

/// Where one unit of collection runs: an account (an AWS account, an Azure subscription, a
/// Google Cloud project) and, inside it, a region or location, or `global`.
public struct CollectionScope: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// The region of a scope that has none: account-wide services (IAM, ARM subscriptions).
    public static let global = "global"

    public var account: String
    public var region: String

    public init(account: String, region: String) {
        self.account = account
        self.region = region
    }

    public var isGlobal: Bool { region == Self.global }

    public static func < (a: CollectionScope, b: CollectionScope) -> Bool { (a.account, a.region) < (b.account, b.region) }

    public var description: String { "\(account)/\(region)" }

    /// True when `other` lies inside this scope: the same account, and this scope is global or
    /// has the same region.
    public func contains(_ other: CollectionScope) -> Bool {
        other.account == account && (isGlobal || other.region == region)
    }
}

/// One account of a collection, with what its templates need.
public struct AccountTarget: Sendable {
    public var id: String
    /// Where calls of global (account-wide) services are made, and the `home_region` of templates.
    public var homeRegion: String
    /// Values templates may name besides `account`, `region` and `home_region`: AWS's
    /// `partition`, Azure's `tenant`.
    public var values: [String: JSONValue]
    /// Scanned because the target's accounts belong to it (Azure's Entra ID tenant), so a target
    /// that lists accounts need not list this one.
    public var implied: Bool

    public init(id: String, homeRegion: String, values: [String: JSONValue] = [:], implied: Bool = false) {
        self.id = id
        self.homeRegion = homeRegion
        self.values = values
        self.implied = implied
    }
}

/// Who and where a collection runs against: the accounts, and for each scope level a provider
/// defines (AWS: `global`, `regional`), the scopes of that level. A service spec names its level
/// (`scope:`); a resource spec may fan out over a lower level (`fan_out:`).
public struct CollectionTarget: Sendable {
    public var accounts: [AccountTarget]
    /// Scope level → scopes, e.g. `regional` → every (account, enabled region).
    public var scopes: [String: [CollectionScope]]

    public init(accounts: [AccountTarget], scopes: [String: [CollectionScope]]) {
        self.accounts = accounts
        self.scopes = scopes
    }

    public func account(_ id: String) -> AccountTarget? { accounts.first { $0.id == id } }

    /// The scopes of `level` inside `scope` (``CollectionScope/contains(_:)``).
    public func scopes(_ level: String, inside scope: CollectionScope) -> [CollectionScope] {
        (scopes[level] ?? []).filter { scope.contains($0) }
    }
}
