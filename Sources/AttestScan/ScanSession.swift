import AttestCore
public import AttestHTTP
import Foundation
public import Logging

/// The HTTP transports of a session: one per trust configuration (the system's, or a CA
/// bundle's), created on first use and shut down together when the session ends.
public actor TransportPool {
    private var transports: [String: AsyncHTTPClientTransport] = [:]
    private var isShutDown = false
    private let defaultBundle: String?
    private let wrap: (@Sendable (any HTTPTransport) -> any HTTPTransport)?

    /// - Parameters:
    ///   - defaultBundle: the CA bundle trusted when a provider names none (`SSL_CERT_FILE`).
    ///   - wrap: wraps every transport handed out (recording with `--record`).
    public init(defaultBundle: String? = nil, wrap: (@Sendable (any HTTPTransport) -> any HTTPTransport)? = nil) {
        self.defaultBundle = defaultBundle
        self.wrap = wrap
    }

    /// The transport that trusts `caBundle` (a PEM file), or the session's default trust.
    public func transport(caBundle: String? = nil) throws -> any HTTPTransport {
        guard !isShutDown else { throw TransportConfigurationError(description: "the scan session has ended") }
        let bundle = caBundle ?? defaultBundle
        let key = bundle ?? ""
        let base: AsyncHTTPClientTransport
        if let existing = transports[key] {
            base = existing
        } else {
            var configuration = AsyncHTTPClientTransport.Configuration()
            if let bundle { configuration.trustRoots = try AsyncHTTPClientTransport.certificates(inBundle: bundle) }
            base = AsyncHTTPClientTransport(configuration: configuration)
            transports[key] = base
        }
        return wrap.map { $0(base) } ?? base
    }

    /// Shuts every transport down; later requests for one fail.
    public func shutdown() async {
        isShutDown = true
        let all = Array(transports.values)
        transports = [:]
        for t in all { await t.shutdown() }
    }
}

/// The resources a scan needs for its whole run: transports, counters, the environment. Made
/// and ended only by ``withSession(environment:userAgent:retryPolicy:logger:wrapTransport:_:)``,
/// which shuts the HTTP clients down on every path, as async-http-client requires.
public struct ScanSession: Sendable {
    public let environment: [String: String]
    public let transports: TransportPool
    public let counters: CallCounters
    public let retryPolicy: RetryPolicy
    public let userAgent: String
    public let logger: Logger

    /// The context a provider's connection is made in.
    public var connectionContext: ConnectionContext {
        ConnectionContext(
            environment: environment, transports: transports, counters: counters, retryPolicy: retryPolicy,
            userAgent: userAgent, logger: logger)
    }

    /// Runs `body` with a session and ends it afterwards, whether `body` returns or throws.
    /// `SSL_CERT_FILE` in `environment` names the CA bundle trusted by default.
    public static func withSession<T: Sendable>(
        environment: [String: String], userAgent: String, retryPolicy: RetryPolicy = RetryPolicy(),
        logger: Logger = Logger(label: "attest.scan"), wrapTransport: (@Sendable (any HTTPTransport) -> any HTTPTransport)? = nil,
        _ body: (ScanSession) async throws -> T
    ) async throws -> T {
        let bundle = environment["SSL_CERT_FILE"].flatMap { $0.isEmpty ? nil : $0 }
        if let bundle { _ = try AsyncHTTPClientTransport.certificates(inBundle: bundle) }  // a bad bundle fails before anything runs
        // One pacer per session: every target's calls share the buckets of their keys.
        var policy = retryPolicy
        if policy.pacer == nil { policy.pacer = AdaptivePacer() }
        let session = ScanSession(
            environment: environment, transports: TransportPool(defaultBundle: bundle, wrap: wrapTransport),
            counters: CallCounters(), retryPolicy: policy, userAgent: userAgent, logger: logger)
        do {
            let value = try await body(session)
            await session.transports.shutdown()
            return value
        } catch {
            await session.transports.shutdown()
            throw error
        }
    }
}
