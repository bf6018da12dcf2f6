public import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

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

        public init() {}
    }

    private let client: HTTPClient
    private let ownsClient: Bool
    private let limiter: HostConcurrencyLimiter
    private let configuration: Configuration

    public init(configuration: Configuration = .init()) {
        var config = HTTPClient.Configuration()
        config.timeout = .init(connect: .init(configuration.connectTimeout), read: nil)
        config.connectionPool = .init(idleTimeout: .init(configuration.idleTimeout),
                                      concurrentHTTP1ConnectionsPerHostSoftLimit: configuration.maxConcurrentPerHost)
        config.decompression = .enabled(limit: .ratio(100))
        config.redirectConfiguration = .disallow
        config.httpVersion = .automatic
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
        var req = HTTPClientRequest(url: request.url)
        req.method = HTTPMethod(rawValue: request.method)
        for (name, value) in request.headers { req.headers.add(name: name, value: value) }
        if !request.body.isEmpty {
            req.body = .bytes(ByteBuffer(bytes: request.body))
        }
        do {
            let response = try await client.execute(req, timeout: .init(request.timeout))
            let body: ByteBuffer
            do {
                body = try await response.body.collect(upTo: configuration.maxResponseBytes)
            } catch is NIOTooManyBytesError {
                throw TransportError(.responseTooLarge, host: host,
                                     detail: "response body larger than \(configuration.maxResponseBytes) bytes")
            }
            return HTTPResponse(status: Int(response.status.code),
                                headers: response.headers.map { ($0.name, $0.value) },
                                body: Array(buffer: body))
        } catch let error as TransportError {
            throw error
        } catch let error as HTTPClientError {
            throw TransportError(Self.kind(of: error), host: host, detail: String(describing: error))
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw TransportError(.connect, host: host, detail: String(describing: error))
        }
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

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
