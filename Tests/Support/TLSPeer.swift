public import AttestReplay
import Foundation
import HummingbirdCore
import HummingbirdTLS
import NIOSSL

/// A private certificate authority and a server certificate for 127.0.0.1 it signed, made with
/// openssl for one test: what a TLS-inspecting proxy presents.
public struct TestCertificateAuthority: Sendable {
    /// The CA certificate (PEM): the bundle a client must trust.
    public let bundle: String
    public let serverCertificate: String
    public let serverKey: String

    public static func make() async throws -> TestCertificateAuthority {
        let dir = try TestPaths.temporaryDirectory("attest-ca")
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        _ = try await runProcess(
            "/usr/bin/env",
            [
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path("ca.key"),
                "-out", path("ca.pem"), "-days", "2", "-subj", "/CN=attest test CA",
            ])
        _ = try await runProcess(
            "/usr/bin/env",
            [
                "openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", path("server.key"),
                "-out", path("server.csr"), "-subj", "/CN=127.0.0.1",
            ])
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n".write(
            toFile: path("ext.cnf"), atomically: true, encoding: .utf8)
        _ = try await runProcess(
            "/usr/bin/env",
            [
                "openssl", "x509", "-req", "-in", path("server.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"),
                "-CAcreateserial", "-out", path("server.pem"), "-days", "2", "-extfile", path("ext.cnf"),
            ])
        return TestCertificateAuthority(bundle: path("ca.pem"), serverCertificate: path("server.pem"), serverKey: path("server.key"))
    }

    /// An HTTPS server on 127.0.0.1 presenting the server certificate.
    public func server(_ handler: @escaping @Sendable (LoopbackRequest) async -> LoopbackResponse) async throws -> LoopbackServer {
        let chain = try NIOSSLCertificate.fromPEMFile(serverCertificate).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: serverKey, format: .pem)
        let tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        return try await LoopbackServer.start(server: .tls(.http1(), tlsConfiguration: tls), scheme: "https", handler)
    }
}
