import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOHTTPCompression
import NIOPosix
public import NIOSSL
import Synchronization

/// The production transport: async-http-client with a shared connection pool, a timeout per
/// exchange, a cap on concurrent requests per host, and a bound on response size so a hostile
/// endpoint cannot exhaust memory.
public final class AsyncHTTPClientTransport: HTTPTransport {
    public struct Configuration: Sendable {
        /// Requests in flight to one host at a time.
        public var maxConcurrentPerHost: Int = 16
        public var connectTimeout: Duration = .seconds(10)
        /// The largest response body accepted.
        public var maxResponseBytes: Int = 256 * 1024 * 1024
        public var idleTimeout: Duration = .seconds(60)
        /// Certificates trusted for TLS instead of the system's (a TLS-inspecting proxy's CA);
        /// nil trusts the system store. Load them with ``AsyncHTTPClientTransport/certificates(inBundle:)``.
        public var trustRoots: [NIOSSLCertificate]?
        /// A body still arriving after the request's timeout may go on while it arrives at least
        /// this fast; slower, the exchange fails as a timeout.
        public var minimumBytesPerSecond: Int = 256 * 1024

        public init() {}
    }

    /// The certificates of a PEM bundle (`SSL_CERT_FILE`, `AWS_CA_BUNDLE`); a missing or
    /// unreadable file, or one without a certificate, is an error naming the file.
    public static func certificates(inBundle path: String) throws -> [NIOSSLCertificate] {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw TransportConfigurationError(description: "CA bundle \(path): no such readable file")
        }
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMFile(path)
        } catch {
            throw TransportConfigurationError(description: "CA bundle \(path): not a PEM certificate bundle (\(error))")
        }
        guard !certificates.isEmpty else {
            throw TransportConfigurationError(description: "CA bundle \(path): holds no certificate")
        }
        return certificates
    }

    private let client: HTTPClient
    private let ownsClient: Bool
    private let limiter: HostConcurrencyLimiter
    private let configuration: Configuration

    public init(configuration: Configuration = .init()) {
        var config = HTTPClient.Configuration()
        config.timeout = .init(connect: .init(configuration.connectTimeout), read: nil)
        config.connectionPool = .init(
            idleTimeout: .init(configuration.idleTimeout),
            concurrentHTTP1ConnectionsPerHostSoftLimit: configuration.maxConcurrentPerHost)
        // A failed connect fails the request at once: the attempt loop decides about retries
        // (async-http-client would otherwise retry silently until the request's deadline).
        config.connectionPool.retryConnectionEstablishment = false
        config.decompression = .enabled(limit: .ratio(100))
        config.redirectConfiguration = .disallow
        config.httpVersion = .automatic
        if let roots = configuration.trustRoots {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .certificates(roots)
            config.tlsConfiguration = tls
        }
        self.client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
        self.ownsClient = true
        self.limiter = HostConcurrencyLimiter(limit: configuration.maxConcurrentPerHost)
        self.configuration = configuration
    }

    deinit {
        // Non-blocking: a deinit may run on a cooperative or event-loop thread, where the
        // blocking syncShutdown must not be called. The pending shutdown keeps the client alive.
        if ownsClient { _ = client.shutdown() }
    }

    public func shutdown() async {
        try? await client.shutdown()
    }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        guard let url = URL(string: request.url), let host = url.host else {
            throw TransportError(.invalidURL, host: "?", detail: "not a valid URL")
        }
        let hostKey = "\(host):\(url.port ?? 0)"
        return try await limiter.withPermit(for: hostKey) {
            try await self.execute(request, host: host)
        }
    }

    private func execute(_ request: HTTPRequest, host: String) async throws -> HTTPResponse {
        let url = URL(string: request.url)
        let origin = url.map { "\($0.scheme ?? "https")://\(host)\($0.port.map { ":\($0)" } ?? "")" }
        var req = HTTPClientRequest(url: request.url)
        req.method = HTTPMethod(rawValue: request.method)
        for (name, value) in request.headers { req.headers.add(name: name, value: value) }
        if !request.body.isEmpty {
            req.body = .bytes(ByteBuffer(bytes: request.body))
        }
        do {
            let started = ContinuousClock.now
            let response = try await client.execute(req, timeout: .init(request.timeout))
            let body = try await collectBody(response.body, host: host, timeout: request.timeout, started: started)
            return HTTPResponse(
                status: Int(response.status.code),
                headers: response.headers.map { ($0.name, $0.value) },
                body: Array(buffer: body))
        } catch let error as TransportError {
            throw error
        } catch let error as HTTPClientError {
            throw TransportError(Self.kind(of: error), host: host, detail: String(describing: error))
        } catch  where Self.isRefused(error) {
            throw TransportError(.refused, host: host, detail: "connection refused", origin: origin)
        } catch is CancellationError {
            throw CancellationError()
        } catch let error as NIOSSLError {
            throw TransportError(.tls, host: host, detail: "\(error) (if a proxy inspects TLS, point SSL_CERT_FILE at its CA bundle)")
        } catch let error as BoringSSLError {
            throw TransportError(.tls, host: host, detail: "\(error) (if a proxy inspects TLS, point SSL_CERT_FILE at its CA bundle)")
        } catch {
            throw TransportError(.connect, host: host, detail: String(describing: error))
        }
    }

    /// Reads the body up to the size limit, within the request's timeout, or for longer while it
    /// keeps arriving at ``Configuration/minimumBytesPerSecond``: async-http-client's deadline
    /// covers only the response head, and a peer trickling bytes must not hold a scan forever.
    private func collectBody(
        _ body: HTTPClientResponse.Body, host: String, timeout: Duration,
        started: ContinuousClock.Instant
    ) async throws -> ByteBuffer {
        let received = ByteCount()
        let limit = configuration.maxResponseBytes
        let rate = max(1, configuration.minimumBytesPerSecond)
        return try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask {
                var buffer = ByteBuffer()
                for try await chunk in body {
                    let total = received.add(chunk.readableBytes)
                    if total > limit {
                        throw TransportError(.responseTooLarge, host: host, detail: "response body larger than \(limit) bytes")
                    }
                    buffer.writeImmutableBuffer(chunk)
                }
                return buffer
            }
            group.addTask {
                while true {
                    try await Task.sleep(for: .milliseconds(250))
                    let elapsed = ContinuousClock.now - started
                    let allowed = timeout + .seconds(Double(received.value) / Double(rate))
                    if elapsed > allowed { return nil }
                }
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let buffer = first else {
                throw TransportError(
                    .timeout, host: host,
                    detail:
                        "the response body was still arriving after \(Int(timeout.seconds)) s at under \(rate / 1024) KiB/s (\(received.value) bytes received)"
                )
            }
            return buffer
        }
    }

    /// A connection refused (ECONNREFUSED), as NIO reports it on its own or per address tried.
    static func isRefused(_ error: any Error) -> Bool {
        if let io = error as? IOError { return io.errnoCode == ECONNREFUSED }
        if let connection = error as? NIOConnectionError {
            return !connection.connectionErrors.isEmpty
                && connection.connectionErrors.allSatisfy { ($0.error as? IOError)?.errnoCode == ECONNREFUSED }
        }
        return false
    }

    static func kind(of error: HTTPClientError) -> TransportError.Kind {
        switch error {
        case .deadlineExceeded, .readTimeout, .connectTimeout, .writeTimeout: .timeout
        case .remoteConnectionClosed, .cancelled: .connectionClosed
        case .invalidURL, .emptyHost, .emptyScheme: .invalidURL
        default: .other
        }
    }
}

/// Bytes received so far, shared by the reader and its watchdog.
private final class ByteCount: Sendable {
    private let count = Atomic<Int>(0)
    var value: Int { count.load(ordering: .relaxed) }
    func add(_ n: Int) -> Int { count.wrappingAdd(n, ordering: .relaxed).newValue }
}

/// A transport setting that cannot be used (an unreadable CA bundle).
public struct TransportConfigurationError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(description: String) { self.description = description }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
