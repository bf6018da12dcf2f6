import AttestCore
import AttestHTTP
import AttestTestSupport
import Foundation
import Testing

/// A peer that answers at a trickle: headers at once, then one byte every half second of a body it
/// says is 100 MB. A plain TCP server, since no HTTP framework sends so slowly on purpose.
final class TricklingPeer: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let done = DispatchSemaphore(value: 0)

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        listener = fd
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 4) == 0 else { throw TestPeerError("cannot listen") }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        port = Int(UInt16(bigEndian: addr.sin_port))
        let server = self.listener
        let done = self.done
        Thread {
            let client = accept(server, nil, nil)
            guard client >= 0 else { return }
            var buffer = [UInt8](repeating: 0, count: 4096)
            _ = read(client, &buffer, buffer.count)
            let head = Array("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000000\r\n\r\n".utf8)
            _ = head.withUnsafeBytes { send(client, $0.baseAddress, head.count, Int32(MSG_NOSIGNAL)) }
            for _ in 0..<240 {
                if done.wait(timeout: .now() + 0.5) == .success { break }
                var byte: UInt8 = 0x61
                if send(client, &byte, 1, Int32(MSG_NOSIGNAL)) < 0 { break }
            }
            close(client)
        }.start()
    }

    func stop() {
        done.signal()
        close(listener)
    }
}

@Suite("Slow peers")
struct SlowPeerTests {
    @Test func aTricklingBodyEndsAsATimeoutNotAHang() async throws {
        let peer = try TricklingPeer()
        defer { peer.stop() }
        let transport = AsyncHTTPClientTransport()
        let request = HTTPRequest(method: "GET", url: "http://127.0.0.1:\(peer.port)/", timeout: .seconds(2))
        // A watchdog turns a hang into a failure instead of a stuck test run.
        let outcome: Result<HTTPResponse, any Error>? = await withTaskGroup(of: Result<HTTPResponse, any Error>?.self) { group in
            group.addTask { await Result(catching: { try await transport.send(request) }) }
            group.addTask {
                try? await Task.sleep(for: .seconds(30))
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        await transport.shutdown()
        guard let outcome else {
            Issue.record("the exchange was still running after 30 s")
            return
        }
        #expect(throws: TransportError.self) { try outcome.get() }
        if case .failure(let error as TransportError) = outcome {
            #expect(error.kind == .timeout)
            #expect(error.description.contains("still arriving"), "\(error)")
        }
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
