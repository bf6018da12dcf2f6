public import AttestCore
public import Foundation

/// A credential that may expire: SigV4 keys with a session token, a bearer token.
public protocol ExpiringCredential: Sendable {
    /// When it stops working; nil when it does not expire.
    var expiration: Date? { get }
}

extension ExpiringCredential {
    /// True when it expires within `interval` seconds of `now`.
    public func expires(within interval: TimeInterval, now: Date = Date()) -> Bool {
        guard let expiration else { return false }
        return expiration.timeIntervalSince(now) < interval
    }
}

/// Caches a credential and fetches a new one a while before it expires, one fetch at a time
/// however many callers are waiting. If a fetch fails while the cached credential is still
/// valid, the cached one is used (for the caller that started the fetch and for every waiter).
///
/// Every credential family uses it: AWS keys from STS, the container endpoint or instance
/// metadata, and the bearer tokens of Entra ID and Google.
public actor SingleFlightRefresher<Credential: ExpiringCredential> {
    private let fetch: @Sendable () async throws -> Credential
    private let refreshWindow: TimeInterval
    private let now: @Sendable () -> Date
    private var cached: Credential?
    private var inFlight: Task<Credential, any Error>?
    /// How many fetches were started; exposed for tests.
    public private(set) var fetchCount = 0

    /// - Parameters:
    ///   - refreshWindow: fetch again when the cached credential expires within this many seconds.
    ///   - fetch: obtains a fresh credential.
    public init(
        refreshWindow: TimeInterval = 300, now: @escaping @Sendable () -> Date = { Date() },
        fetch: @escaping @Sendable () async throws -> Credential
    ) {
        self.fetch = fetch
        self.refreshWindow = refreshWindow
        self.now = now
    }

    /// A credential that is valid for at least the refresh window, or the cached one if a
    /// fetch failed and it is still valid.
    public func current() async throws -> Credential {
        if let cached, !cached.expires(within: refreshWindow, now: now()) { return cached }
        if let inFlight {
            do {
                return try await inFlight.value
            } catch {
                if let fallback = stillValid() { return fallback }
                throw error
            }
        }
        let fetch = self.fetch
        let task = Task { try await fetch() }
        inFlight = task
        fetchCount += 1
        defer { inFlight = nil }
        do {
            let fresh = try await task.value
            cached = fresh
            return fresh
        } catch {
            if let fallback = stillValid() { return fallback }
            throw error
        }
    }

    /// Drops the cached credential when `refused` says it is the one a server refused as expired
    /// or revoked: the next ``current()`` fetches a fresh one, with no fallback to the dropped one.
    /// A credential fetched since (by another caller refused at the same time) is kept.
    public func invalidate(where refused: (Credential) -> Bool) {
        if let cached, refused(cached) { self.cached = nil }
    }

    private func stillValid() -> Credential? {
        guard let cached, !cached.expires(within: 0, now: now()) else { return nil }
        return cached
    }
}

/// An OAuth 2.0 access token (Entra ID, Google), sent as `Authorization: Bearer …`.
public struct BearerToken: ExpiringCredential, CustomStringConvertible {
    public var token: Secret
    public var expiration: Date?
    /// Where it came from, for messages: "client secret", "metadata server", …
    public var source: String

    public init(token: String, expiration: Date?, source: String) {
        self.token = Secret(token)
        self.expiration = expiration
        self.source = source
    }

    /// The header value; read only where the header is set.
    public var authorization: String { "Bearer \(token.value)" }

    public var description: String { "BearerToken(source: \(source)\(expiration.map { ", expires \($0)" } ?? ""))" }
}

/// Hands out bearer tokens for a scope (an audience), refreshing them as needed.
public protocol BearerTokenProvider: Sendable {
    func token(scope: String) async throws -> BearerToken
    /// Forgets `refused`, the cached token of `scope` that a server refused as expired: the next
    /// ``token(scope:)`` fetches a new one. Providers that cache nothing do nothing.
    func invalidate(scope: String, refused: BearerToken) async
}

extension BearerTokenProvider {
    public func invalidate(scope: String, refused: BearerToken) async {}
}

/// Caches one token per scope through a ``SingleFlightRefresher`` each, so a provider that
/// talks to a token endpoint is asked once per scope and expiry, however many calls wait.
public actor RefreshingBearerTokenProvider: BearerTokenProvider {
    private let base: any BearerTokenProvider
    private let refreshWindow: TimeInterval
    private let now: @Sendable () -> Date
    private var refreshers: [String: SingleFlightRefresher<BearerToken>] = [:]

    public init(_ base: any BearerTokenProvider, refreshWindow: TimeInterval = 300, now: @escaping @Sendable () -> Date = { Date() }) {
        self.base = base
        self.refreshWindow = refreshWindow
        self.now = now
    }

    public func token(scope: String) async throws -> BearerToken {
        let refresher: SingleFlightRefresher<BearerToken>
        if let existing = refreshers[scope] {
            refresher = existing
        } else {
            let base = self.base
            refresher = SingleFlightRefresher(refreshWindow: refreshWindow, now: now) { try await base.token(scope: scope) }
            refreshers[scope] = refresher
        }
        return try await refresher.current()
    }

    public func invalidate(scope: String, refused: BearerToken) async {
        await refreshers[scope]?.invalidate { $0.token == refused.token }
    }
}
