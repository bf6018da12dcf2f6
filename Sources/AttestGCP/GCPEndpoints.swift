public import AttestCore
import Foundation

/// Where each Google API is reached: `https://<api>.googleapis.com`, unless
/// `CLOUDSDK_API_ENDPOINT_OVERRIDES_<API>` (gcloud's convention; the value replaces
/// `https://<api>.googleapis.com/`) or `ATTEST_GCP_ENDPOINT` (one base URL for every API, the rest
/// of the path unchanged) says otherwise; the per-API override wins. `http://` only on loopback.
public struct GCPEndpoints: Sendable, Equatable {
    /// `ATTEST_GCP_ENDPOINT`, without its trailing slash.
    public var common: String?
    /// API name (lower case: `compute`, `storage`, `oauth2`) → base URL.
    public var overrides: [String: String]
    /// The metadata server's host (`GCE_METADATA_HOST`, google-auth's variable).
    public var metadataHost: String

    public init(environment: [String: String]) throws {
        common = try EndpointVariable.checked(environment["ATTEST_GCP_ENDPOINT"], variable: "ATTEST_GCP_ENDPOINT")
        var overrides: [String: String] = [:]
        let prefix = "CLOUDSDK_API_ENDPOINT_OVERRIDES_"
        for (name, value) in environment where name.hasPrefix(prefix) && name.count > prefix.count {
            overrides[String(name.dropFirst(prefix.count)).lowercased()] = try EndpointVariable.checked(value, variable: name)
        }
        self.overrides = overrides
        let host = environment["GCE_METADATA_HOST"]?.trimmingCharacters(in: .whitespaces) ?? ""
        guard host.isEmpty || Self.isMetadataHost(host) else {
            throw EndpointVariable.ConfigurationError(
                description:
                    "GCE_METADATA_HOST=\(host): the metadata server is reached over plain HTTP, so only metadata.google.internal, 169.254.169.254 or a loopback host is accepted"
            )
        }
        metadataHost = host.isEmpty ? "metadata.google.internal" : host
    }

    /// The base URL of an API (`compute` → `https://compute.googleapis.com`).
    public func base(api: String) -> String {
        overrides[api.lowercased()] ?? common ?? "https://\(api.lowercased()).googleapis.com"
    }

    /// A Google API URL (`https://oauth2.googleapis.com/token`) moved to its endpoint; nil for a
    /// URL that is not `https://<api>.googleapis.com/…`.
    public func relocate(_ url: String) -> String? {
        guard let u = URLComponents(string: url), u.scheme == "https", let host = u.host?.lowercased(), host.hasSuffix(".googleapis.com"),
            u.user == nil, u.port == nil || u.port == 443
        else { return nil }
        let api = String(host.dropLast(".googleapis.com".count))
        guard !api.isEmpty, !api.contains("."), api.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else { return nil }
        return base(api: api) + u.percentEncodedPath + (u.percentEncodedQuery.map { "?" + $0 } ?? "")
    }

    static func isMetadataHost(_ host: String) -> Bool {
        let name = host.split(separator: ":").first.map(String.init) ?? host
        return ["metadata.google.internal", "169.254.169.254"].contains(name.lowercased()) || LoopbackHost.contains(name)
    }
}
