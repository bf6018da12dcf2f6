import AttestHTTP
import Foundation
import HTTPTypes
import Hummingbird
public import HummingbirdCore
import Logging
import NIOCore

/// A request as a loopback handler sees it.
public struct LoopbackRequest: Sendable {
    public var method: String
    /// The path as received (still percent-encoded).
    public var path: String
    /// The raw query string, without `?`.
    public var query: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(method: String, path: String, query: String, headers: [(name: String, value: String)], body: [UInt8]) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }

    public func header(_ name: String) -> String? { headerValue(name, in: headers) }
}

public struct LoopbackResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public init(status: Int, contentType: String, text: String) {
        self.init(status: status, headers: [("Content-Type", contentType)], body: Array(text.utf8))
    }

    /// The same response with another status.
    public func withStatus(_ status: Int) -> LoopbackResponse {
        LoopbackResponse(status: status, headers: headers, body: body)
    }
}

/// An HTTP server on 127.0.0.1 and a free port, answering every request with a handler:
/// the replay server of `attest demo`, and the credential endpoints and fault peers of the tests.
public final class LoopbackServer: Sendable {
    public let port: Int
    public let scheme: String
    private let task: Task<Void, any Error>

    public var baseURL: String { "\(scheme)://127.0.0.1:\(port)" }

    private init(port: Int, scheme: String, task: Task<Void, any Error>) {
        self.port = port
        self.scheme = scheme
        self.task = task
    }

    /// - Parameter server: the HTTP server to run (`.http1()`; a TLS one from HummingbirdTLS,
    ///   with `scheme` `https`, for tests of certificate trust).
    public static func start(
        server: HTTPServerBuilder = .http1(), scheme: String = "http",
        _ handler: @escaping @Sendable (LoopbackRequest) async -> LoopbackResponse
    ) async throws -> LoopbackServer {
        let responder = CallbackResponder<BasicRequestContext> { request, _ in
            var request = request
            let buffer = try await request.collectBody(upTo: 64 * 1024 * 1024)
            var headers = request.headers.map { ($0.name.rawName, $0.value) }
            // HTTP types carry Host as the :authority pseudo-header; signatures need it back.
            if let authority = request.head.authority { headers.insert(("Host", authority), at: 0) }
            let incoming = LoopbackRequest(
                method: request.method.rawValue, path: request.uri.path, query: request.uri.query ?? "",
                headers: headers, body: Array(buffer: buffer))
            let answer = await handler(incoming)
            var fields = HTTPFields()
            for (name, value) in answer.headers {
                if let n = HTTPField.Name(name) { fields.append(HTTPField(name: n, value: value)) }
            }
            return Response(
                status: .init(code: answer.status), headers: fields,
                body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
        }
        let (portStream, portContinuation) = AsyncStream<Int>.makeStream()
        var logger = Logger(label: "attest.loopback")
        logger.logLevel = .critical
        let app = Application(
            responder: responder,
            server: server,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
                portContinuation.finish()
            },
            logger: logger)
        let task = Task { try await app.runService(gracefulShutdownSignals: []) }
        var port = 0
        for await p in portStream { port = p }
        guard port > 0 else {
            task.cancel()
            throw LoopbackServerError()
        }
        return LoopbackServer(port: port, scheme: scheme, task: task)
    }

    /// Runs `body` with a started server and stops it afterwards, whether `body` returns or throws.
    public static func with<T: Sendable>(
        _ handler: @escaping @Sendable (LoopbackRequest) async -> LoopbackResponse,
        _ body: (LoopbackServer) async throws -> T
    ) async throws -> T {
        let server = try await start(handler)
        do {
            let value = try await body(server)
            await server.stop()
            return value
        } catch {
            await server.stop()
            throw error
        }
    }

    public func stop() async {
        task.cancel()
        _ = try? await task.value
    }
}

public struct LoopbackServerError: Error, CustomStringConvertible {
    public var description: String { "could not start a loopback HTTP server" }
}
