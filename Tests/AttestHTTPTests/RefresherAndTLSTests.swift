import AttestCore
import AttestHTTP
import AttestReplay
import AttestScan
import AttestTestSupport
import Foundation
import Synchronization
import Testing

/// A token endpoint stand-in: hands out numbered tokens, slowly, counting how often it is asked.
final class CountingTokenSource: BearerTokenProvider {
    let asked = Mutex(0)
    let lifetime: TimeInterval
    let failing = Mutex(false)

    init(lifetime: TimeInterval) { self.lifetime = lifetime }

    func token(scope: String) async throws -> BearerToken {
        let n = asked.withLock { n -> Int in
            n += 1
            return n
        }
        try await Task.sleep(for: .milliseconds(50))
        if failing.withLock({ $0 }) { throw TransportError(.connect, host: "login", detail: "down") }
        return BearerToken(token: "token-\(scope)-\(n)-abcdefgh", expiration: Date().addingTimeInterval(lifetime), source: "test")
    }
}

@Suite("Single-flight credential refresh")
struct RefresherTests {
    @Test func manyWaitersShareOneFetchPerScope() async throws {
        let source = CountingTokenSource(lifetime: 3600)
        let provider = RefreshingBearerTokenProvider(source)
        let tokens = await withTaskGroup(of: String.self) { group in
            for i in 0..<40 { group.addTask { (try? await provider.token(scope: i % 2 == 0 ? "arm" : "graph").token.value) ?? "" } }
            var all: [String] = []
            for await t in group { all.append(t) }
            return all
        }
        #expect(source.asked.withLock { $0 } == 2)
        #expect(Set(tokens).count == 2)
        #expect(tokens.allSatisfy { $0.hasPrefix("token-") })
    }

    @Test func aTokenCloseToExpiryIsRefreshedAndAFailedRefreshKeepsAValidOne() async throws {
        // Lives 100 s, refreshed 300 s before expiry: every call is a refresh.
        let source = CountingTokenSource(lifetime: 100)
        let refresher = SingleFlightRefresher<BearerToken>(refreshWindow: 300) { try await source.token(scope: "s") }
        let first = try await refresher.current()
        let second = try await refresher.current()
        #expect(first.token != second.token)
        #expect(await refresher.fetchCount == 2)
        // The endpoint goes down: the still-valid token is used, for the caller and for waiters.
        source.failing.withLock { $0 = true }
        let kept = try await refresher.current()
        #expect(kept.token == second.token)
        // A token's value never prints.
        #expect("\(kept)".contains("token-") == false)
        #expect(SecretScrubber.shared.scrub("Authorization: \(kept.authorization)").contains("token-s") == false)
    }

    @Test func anExpiredTokenIsNotUsedWhenTheRefreshFails() async throws {
        let source = CountingTokenSource(lifetime: -1)
        let refresher = SingleFlightRefresher<BearerToken>(refreshWindow: 0) { try await source.token(scope: "s") }
        _ = try await refresher.current()
        source.failing.withLock { $0 = true }
        await #expect(throws: TransportError.self) { _ = try await refresher.current() }
    }
}

/// Users behind a TLS-inspecting proxy trust its CA through a bundle: `SSL_CERT_FILE` for every
/// provider, and a provider's own (AWS: `AWS_CA_BUNDLE`, a profile's `ca_bundle`).
@Suite("Custom CA bundles")
struct CABundleTests {
    @Test func aServerSignedByAPrivateCAIsTrustedOnlyWithItsBundle() async throws {
        let ca = try await TestCertificateAuthority.make()
        let server = try await ca.server { _ in LoopbackResponse(status: 200, contentType: "text/plain", text: "hello over TLS") }
        do {
            let request = HTTPRequest(method: "GET", url: server.baseURL + "/", timeout: .seconds(10))
            var trusting = AsyncHTTPClientTransport.Configuration()
            trusting.trustRoots = try AsyncHTTPClientTransport.certificates(inBundle: ca.bundle)
            let client = AsyncHTTPClientTransport(configuration: trusting)
            let answer = try await client.send(request)
            #expect(answer.status == 200)
            #expect(answer.bodyText == "hello over TLS")
            await client.shutdown()

            // The system's trust store does not know the private CA: a TLS error, not retried.
            let plain = AsyncHTTPClientTransport()
            let refused = await #expect(throws: TransportError.self) { _ = try await plain.send(request) }
            #expect(refused?.kind == .tls)
            #expect(refused?.isTransient == false)
            #expect(refused?.description.contains("SSL_CERT_FILE") == true)
            await plain.shutdown()

            // A session trusts SSL_CERT_FILE by default.
            let body = try await ScanSession.withSession(environment: ["SSL_CERT_FILE": ca.bundle], userAgent: "t") { session in
                try await session.transports.transport().send(request).bodyText
            }
            #expect(body == "hello over TLS")
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    @Test func aBundleThatCannotBeReadIsAClearError() async throws {
        let dir = try TestPaths.temporaryDirectory("bundle")
        let notPEM = dir.appendingPathComponent("not.pem")
        try "not a certificate".write(to: notPEM, atomically: true, encoding: .utf8)
        for (path, expected) in [("/nonexistent/ca.pem", "no such readable file"), (notPEM.path, "not a PEM certificate bundle")] {
            #expect { _ = try AsyncHTTPClientTransport.certificates(inBundle: path) } throws: {
                ($0 as? TransportConfigurationError)?.description.contains(expected) == true && "\($0)".contains(path)
            }
            // A session refuses it before anything runs.
            await #expect(throws: TransportConfigurationError.self) {
                try await ScanSession.withSession(environment: ["SSL_CERT_FILE": path], userAgent: "t") { _ in }
            }
        }
    }
}
