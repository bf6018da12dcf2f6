import Foundation

/// One thing to scan: a provider with its credentials profile, and what to narrow to. A
/// `targets:` list in `attest.yaml` holds any number; `attest scan aws …` is one.
public struct ScanTarget: Sendable, Equatable {
    /// The provider id (`aws`).
    public var provider: String
    /// The credentials profile (an AWS profile), nil for the provider's default chain.
    public var profile: String?
    /// Accounts (subscriptions, projects) to scan; nil for those the credentials reach. For a
    /// single-account provider session, the account the credentials belong to must be listed.
    public var accounts: [String]?
    /// Regions (locations) to scan; nil for every enabled one.
    public var regions: [String]?
    /// Services to scan; nil for every service with a spec.
    public var services: [String]?
    /// Provider-specific settings (`role_arn`, `external_id`, `home_region`), checked against
    /// ``CloudProvider/targetOptionKeys``.
    public var options: [String: String]
    /// Where the target was defined, for messages: `attest.yaml:12`, `the command line`.
    public var origin: String

    public init(
        provider: String, profile: String? = nil, accounts: [String]? = nil, regions: [String]? = nil,
        services: [String]? = nil, options: [String: String] = [:], origin: String = "the command line"
    ) {
        self.provider = provider
        self.profile = profile
        self.accounts = accounts
        self.regions = regions
        self.services = services
        self.options = options
        self.origin = origin
    }
}

/// Parses a comma-separated list from a flag (`--regions eu-west-1,eu-central-1`): items trimmed,
/// empty ones dropped; nil when nothing is left. The one parser every list flag uses.
public enum CommaList {
    public static func parse(_ text: String?) -> [String]? {
        guard let text else { return nil }
        let items = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return items.isEmpty ? nil : items
    }
}
