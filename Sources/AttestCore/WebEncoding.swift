public import Foundation

/// Base64 with the URL alphabet and no padding (RFC 7515).
public enum Base64URL {
    public static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    public static func decode(_ text: String) -> [UInt8]? {
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s).map(Array.init)
    }
}

/// `application/x-www-form-urlencoded` and query strings: everything but unreserved characters percent-encoded.
public enum FormEncoding {
    static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    public static func encode(_ pairs: [(String, String)]) -> String {
        pairs.map { "\(escape($0.0))=\(escape($0.1))" }.joined(separator: "&")
    }

    public static func escape(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: unreserved) ?? s }
}

/// A base URL given in an environment variable (`ATTEST_AZURE_ARM_ENDPOINT`, `ATTEST_GCP_ENDPOINT`).
public enum EndpointVariable {
    /// A mistake in an endpoint variable: not a URL, or `http://` to a host that is not loopback.
    public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
        public var description: String
        public init(description: String) { self.description = description }
    }

    /// The value without its trailing slash; nil when unset. `https://` for any host, `http://`
    /// only for loopback hosts (a token must never travel in clear text).
    public static func checked(_ value: String?, variable: String) throws -> String? {
        guard var value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        while value.hasSuffix("/") { value.removeLast() }
        guard let url = URL(string: value), let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty else {
            throw ConfigurationError(description: "\(variable)=\(value) is not a URL (expected https://host)")
        }
        switch scheme {
        case "https": return value
        case "http" where LoopbackHost.contains(host): return value
        case "http":
            throw ConfigurationError(description: "\(variable)=\(value): http:// is accepted only for loopback hosts; use https://")
        default: throw ConfigurationError(description: "\(variable)=\(value): expected an https:// URL")
        }
    }
}
