import AttestCore
import Foundation

/// An Azure cloud: where tokens come from and which endpoints and audiences its APIs have.
/// `--cloud` picks one; the public cloud is the default.
public struct AzureCloud: Sendable, Equatable {
    /// The name `--cloud` takes (`AzureCloud`, `AzureUSGovernment`, `AzureChinaCloud`), as the az CLI spells them.
    public var name: String
    /// The Entra ID authority host: tokens come from `{authority}/{tenant}/oauth2/v2.0/token`.
    public var authorityHost: String
    /// Azure Resource Manager's base URL.
    public var resourceManager: String
    /// ARM's token audience (the scope is `{audience}/.default`).
    public var resourceManagerAudience: String
    /// Microsoft Graph's base URL, which is also its audience.
    public var graph: String
    /// The Key Vault data plane's audience (`https://vault.azure.net`).
    public var keyVaultAudience: String
    /// The DNS suffix of vault hosts (`.vault.azure.net`): a vault URI an API answers must end
    /// with it before a data-plane token is sent there.
    public var keyVaultDNSSuffix: String

    public static let publicCloud = AzureCloud(
        name: "AzureCloud", authorityHost: "https://login.microsoftonline.com",
        resourceManager: "https://management.azure.com", resourceManagerAudience: "https://management.azure.com",
        graph: "https://graph.microsoft.com", keyVaultAudience: "https://vault.azure.net",
        keyVaultDNSSuffix: ".vault.azure.net")
    public static let usGovernment = AzureCloud(
        name: "AzureUSGovernment", authorityHost: "https://login.microsoftonline.us",
        resourceManager: "https://management.usgovcloudapi.net", resourceManagerAudience: "https://management.usgovcloudapi.net",
        graph: "https://graph.microsoft.us", keyVaultAudience: "https://vault.usgovcloudapi.net",
        keyVaultDNSSuffix: ".vault.usgovcloudapi.net")
    public static let china = AzureCloud(
        name: "AzureChinaCloud", authorityHost: "https://login.chinacloudapi.cn",
        resourceManager: "https://management.chinacloudapi.cn", resourceManagerAudience: "https://management.chinacloudapi.cn",
        graph: "https://microsoftgraph.chinacloudapi.cn", keyVaultAudience: "https://vault.azure.cn",
        keyVaultDNSSuffix: ".vault.azure.cn")

    public static let all = [publicCloud, usGovernment, china]

    /// The cloud of a `--cloud` value, matched case-insensitively.
    public static func named(_ name: String) -> AzureCloud? {
        all.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }
    }

    /// The `.default` scope of an audience: `https://management.azure.com/.default`.
    public static func defaultScope(_ audience: String) -> String {
        (audience.hasSuffix("/") ? String(audience.dropLast()) : audience) + "/.default"
    }

    public var resourceManagerScope: String { Self.defaultScope(resourceManagerAudience) }
    public var graphScope: String { Self.defaultScope(graph) }
    public var keyVaultScope: String { Self.defaultScope(keyVaultAudience) }
}

/// The endpoints a scan uses: the cloud's, with the overrides of the environment
/// (`AZURE_AUTHORITY_HOST`, `ATTEST_AZURE_ARM_ENDPOINT`, `ATTEST_AZURE_GRAPH_ENDPOINT`,
/// `ATTEST_AZURE_KEYVAULT_ENDPOINT`). The audiences stay the cloud's, so a loopback ARM is asked
/// with the token a real one takes.
public struct AzureEndpoints: Sendable, Equatable {
    public var cloud: AzureCloud
    public var authorityHost: String
    public var resourceManager: String
    public var graph: String
    /// Where vault data-plane calls go instead of each vault's host, with that host as the first
    /// path segment (`{endpoint}/kv.vault.azure.net/keys`); nil: the vault's own host.
    public var keyVault: String?

    /// A mistake in an endpoint variable: not a URL, or `http://` to a host that is not loopback.
    public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    public init(cloud: AzureCloud = .publicCloud, environment: [String: String]) throws {
        self.cloud = cloud
        authorityHost = try Self.checked(environment["AZURE_AUTHORITY_HOST"], variable: "AZURE_AUTHORITY_HOST") ?? cloud.authorityHost
        resourceManager =
            try Self.checked(environment["ATTEST_AZURE_ARM_ENDPOINT"], variable: "ATTEST_AZURE_ARM_ENDPOINT") ?? cloud.resourceManager
        graph = try Self.checked(environment["ATTEST_AZURE_GRAPH_ENDPOINT"], variable: "ATTEST_AZURE_GRAPH_ENDPOINT") ?? cloud.graph
        keyVault = try Self.checked(environment["ATTEST_AZURE_KEYVAULT_ENDPOINT"], variable: "ATTEST_AZURE_KEYVAULT_ENDPOINT")
    }

    /// The URL a vault data-plane call is sent to: `url` (a vault URI an API answered, or a paging
    /// link of the vault) must be `https://` to a host ending with the cloud's vault suffix, and
    /// goes there, or to the `ATTEST_AZURE_KEYVAULT_ENDPOINT` override with the host as the first
    /// path segment. Anything else is refused and never receives a token.
    public func keyVaultURL(_ url: String) throws -> String {
        guard let u = URLComponents(string: url), u.scheme?.lowercased() == "https", let host = u.host?.lowercased(),
            host.hasSuffix(cloud.keyVaultDNSSuffix), host.count > cloud.keyVaultDNSSuffix.count,
            host.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." }), u.user == nil, u.password == nil,
            u.port == nil || u.port == 443
        else {
            throw ConfigurationError(
                description: "\(url) is not a vault of \(cloud.name) (https://<name>\(cloud.keyVaultDNSSuffix)); not called")
        }
        guard let base = keyVault else { return url }
        let rest = u.percentEncodedPath + (u.percentEncodedQuery.map { "?" + $0 } ?? "")
        return base + "/" + host + (rest.hasPrefix("/") ? rest : "/" + rest)
    }

    /// The token URL of a tenant.
    public func tokenURL(tenant: String) -> String { "\(authorityHost)/\(tenant)/oauth2/v2.0/token" }

    /// A base URL from a variable (``EndpointVariable/checked(_:variable:)``).
    public static func checked(_ value: String?, variable: String) throws -> String? {
        do {
            return try EndpointVariable.checked(value, variable: variable)
        } catch let error as EndpointVariable.ConfigurationError {
            throw ConfigurationError(description: error.description)
        }
    }

    /// `scheme://host[:port]` of a URL, lower-cased, with the default port dropped: what a
    /// paging link must share with the endpoint before a token is sent to it.
    public static func origin(_ url: String) -> String? {
        guard let u = URL(string: url), let scheme = u.scheme?.lowercased(), let host = u.host?.lowercased() else { return nil }
        let port = u.port.flatMap { (scheme == "https" && $0 == 443) || (scheme == "http" && $0 == 80) ? nil : $0 }
        return "\(scheme)://\(host)\(port.map { ":\($0)" } ?? "")"
    }
}
