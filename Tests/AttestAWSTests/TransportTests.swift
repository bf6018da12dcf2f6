import AttestHTTP
import AttestReplay
import Foundation
import Synchronization
import Testing

@Suite("HTTP transport")
struct TransportTests {
    @Test func concurrentRequestsToOneHostAreCapped() async throws {
        let load = Mutex((current: 0, peak: 0, served: 0))
        let server = try await LoopbackServer.start { _ in
            load.withLock {
                $0.current += 1
                $0.peak = max($0.peak, $0.current)
            }
            try? await Task.sleep(for: .milliseconds(30))
            load.withLock {
                $0.current -= 1
                $0.served += 1
            }
            return LoopbackResponse(status: 200, contentType: "text/plain", text: "ok")
        }
        var config = AsyncHTTPClientTransport.Configuration()
        config.maxConcurrentPerHost = 4
        let transport = AsyncHTTPClientTransport(configuration: config)
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<40 {
                group.addTask { try await transport.send(HTTPRequest(method: "GET", url: server.baseURL + "/x")).status }
            }
            for try await status in group { #expect(status == 200) }
        }
        let seen = load.withLock { $0 }
        #expect(seen.served == 40)
        #expect(seen.peak <= 4)
        #expect(seen.peak >= 2)
        await transport.shutdown()
        await server.stop()
    }

    @Test func slowAnswersTimeOutAndOversizedOnesAreRefused() async throws {
        let server = try await LoopbackServer.start { request in
            if request.path == "/slow" { try? await Task.sleep(for: .seconds(3)) }
            return LoopbackResponse(status: 200, headers: [], body: Array(repeating: 65, count: request.path == "/big" ? 2_000_000 : 10))
        }
        var config = AsyncHTTPClientTransport.Configuration()
        config.maxResponseBytes = 1_000_000
        let transport = AsyncHTTPClientTransport(configuration: config)
        await #expect {
            try await transport.send(HTTPRequest(method: "GET", url: server.baseURL + "/slow", timeout: .milliseconds(300)))
        } throws: {
            ($0 as? TransportError)?.kind == .timeout
        }
        await #expect { try await transport.send(HTTPRequest(method: "GET", url: server.baseURL + "/big")) } throws: {
            ($0 as? TransportError)?.kind == .responseTooLarge
        }
        #expect(try await transport.send(HTTPRequest(method: "GET", url: server.baseURL + "/small")).body.count == 10)
        await transport.shutdown()
        await server.stop()
    }
}
