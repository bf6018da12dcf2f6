public import AttestCore
public import AttestHTTP
public import Foundation

/// A set of AWS credentials. The secret parts are ``Secret`` values and never print.
public struct AWSCredentials: ExpiringCredential, CustomStringConvertible {
    public var accessKeyId: String
    public var secretAccessKey: Secret
    public var sessionToken: Secret?
    public var expiration: Date?
    /// Where they came from, for messages: "environment", "profile dev", "web identity", …
    public var source: String

    public init(
        accessKeyId: String, secretAccessKey: String, sessionToken: String? = nil, expiration: Date? = nil,
        source: String
    ) {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = Secret(secretAccessKey)
        self.sessionToken = sessionToken.flatMap { $0.isEmpty ? nil : Secret($0) }
        self.expiration = expiration
        self.source = source
    }

    public var description: String {
        "AWSCredentials(\(accessKeyId), source: \(source)\(expiration.map { ", expires \($0)" } ?? ""))"
    }
}

/// Something that hands out credentials, refreshing them as needed.
public protocol AWSCredentialProvider: Sendable {
    func credentials() async throws -> AWSCredentials
}

/// A credential source that is configured but failed, or no source at all. The message says
/// which source and why, never the secret.
public struct CredentialError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = SecretScrubber.shared.scrub(description) }
}

/// Fixed credentials.
public struct StaticCredentialProvider: AWSCredentialProvider {
    public let value: AWSCredentials
    public init(_ value: AWSCredentials) { self.value = value }
    public func credentials() async throws -> AWSCredentials { value }
}

/// Caches temporary credentials and refreshes them a few minutes before they expire, one
/// refresh at a time however many requests are waiting (``SingleFlightRefresher``).
public struct RefreshingCredentialProvider: AWSCredentialProvider {
    private let refresher: SingleFlightRefresher<AWSCredentials>

    public init(
        _ base: any AWSCredentialProvider, refreshWindow: TimeInterval = 300,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        refresher = SingleFlightRefresher(refreshWindow: refreshWindow, now: now) { try await base.credentials() }
    }

    public func credentials() async throws -> AWSCredentials { try await refresher.current() }

    /// How many times the base provider was asked; exposed for tests.
    public var refreshCount: Int { get async { await refresher.fetchCount } }
}

enum CredentialJSON {
    /// Decodes the `{AccessKeyId, SecretAccessKey, Token|SessionToken, Expiration}` shape used by the
    /// container endpoint, IMDS and `credential_process`.
    static func decode(_ value: JSONValue, source: String) throws -> AWSCredentials {
        guard let key = value["AccessKeyId"].stringValue, let secret = value["SecretAccessKey"].stringValue,
            !key.isEmpty, !secret.isEmpty
        else {
            throw CredentialError("\(source): the answer has no AccessKeyId/SecretAccessKey")
        }
        let token = value["Token"].stringValue ?? value["SessionToken"].stringValue
        let expiration = value["Expiration"].stringValue.flatMap(parseDate)
        return AWSCredentials(accessKeyId: key, secretAccessKey: secret, sessionToken: token, expiration: expiration, source: source)
    }

    static func parseDate(_ s: String) -> Date? {
        let f = ISO8601DateFormatter()
        if let d = f.date(from: s) { return d }
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.date(from: s)
    }
}
