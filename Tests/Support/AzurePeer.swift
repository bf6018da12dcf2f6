public import Foundation

/// The loopback Azure (`Tests/Support/azure/azure_peer.py`): an Entra ID token endpoint that
/// verifies every client assertion with PyJWT, the managed identity endpoints, and ARM answering
/// from an estate file. One test certificate (and an encrypted copy of its key) and one CI OIDC
/// issuer key are made per peer with openssl.
public final class AzurePeer: Sendable {
    public let port: Int
    public let process: Process
    public let directory: URL
    public static let tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    public static let clientId = "6b0c3e1a-58b4-4b57-a2d7-9d1a3b8c2f01"
    public static let clientSecret = "attest-test-client-secret-9f8e7d6c"
    public static let identityHeader = "attest-test-identity-header-1a2b3c"
    public static let certificatePassword = "attest-test-pem-password"

    public var endpoint: String { "http://127.0.0.1:\(port)" }
    /// PEM with the private key and the certificate, as `AZURE_CLIENT_CERTIFICATE_PATH` takes.
    public var certificatePath: String { directory.appendingPathComponent("client.pem").path }
    /// The same with the key encrypted (PBES2, AES-256-CBC) under ``certificatePassword``.
    public var encryptedCertificatePath: String { directory.appendingPathComponent("client-encrypted.pem").path }
    /// A second key and certificate the app registration does not know.
    public var strangerCertificatePath: String { directory.appendingPathComponent("stranger.pem").path }
    public var oidcKeyPath: String { directory.appendingPathComponent("oidc-key.pem").path }

    init(port: Int, process: Process, directory: URL) {
        self.port = port
        self.process = process
        self.directory = directory
    }

    /// Starts a peer answering from `estate` (an estate JSON file, see `azure/estate.py`).
    public static func start(estate: URL, config: [String: Any] = [:]) async throws -> AzurePeer {
        let dir = try TestPaths.temporaryDirectory("azure-peer")
        func openssl(_ args: [String]) async throws { _ = try await runProcess("/usr/bin/env", ["openssl"] + args) }
        for name in ["client", "stranger"] {
            let key = dir.appendingPathComponent("\(name)-key.pem").path
            let cert = dir.appendingPathComponent("\(name)-cert.pem").path
            try await openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key])
            try await openssl(["req", "-x509", "-key", key, "-subj", "/CN=attest-\(name)", "-days", "2", "-out", cert])
            let pem = try String(contentsOfFile: key, encoding: .utf8) + (try String(contentsOfFile: cert, encoding: .utf8))
            try pem.write(toFile: dir.appendingPathComponent("\(name).pem").path, atomically: true, encoding: .utf8)
        }
        let encryptedKey = dir.appendingPathComponent("client-key-encrypted.pem").path
        try await openssl([
            "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", dir.appendingPathComponent("client-key.pem").path, "-out", encryptedKey,
            "-passout", "pass:\(certificatePassword)",
        ])
        try
            (try String(contentsOfFile: encryptedKey, encoding: .utf8)
            + (try String(contentsOfFile: dir.appendingPathComponent("client-cert.pem").path, encoding: .utf8)))
            .write(toFile: dir.appendingPathComponent("client-encrypted.pem").path, atomically: true, encoding: .utf8)
        let oidcKey = dir.appendingPathComponent("oidc-key.pem").path
        try await openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", oidcKey])
        let oidcPublic = try await runProcess("/usr/bin/env", ["openssl", "pkey", "-in", oidcKey, "-pubout"])

        var settings: [String: Any] = [
            "tenant": tenant, "client_id": clientId, "client_secret": clientSecret, "identity_header": identityHeader,
            "oidc_issuer": "https://token.actions.githubusercontent.com", "oidc_public_key": oidcPublic, "page_size": 2,
        ]
        for (k, v) in config { settings[k] = v }
        let configURL = dir.appendingPathComponent("config.json")
        try JSONSerialization.data(withJSONObject: settings).write(to: configURL)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let script = TestPaths.repository.appendingPathComponent("Tests/Support/azure/azure_peer.py").path
        process.arguments = [
            "python3", "-c", MotoServer.launcher, "python3", script, estate.path, dir.appendingPathComponent("client-cert.pem").path,
            configURL.path,
        ]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        StartedServers.add(process)
        let port = try await Task.detached { () throws -> Int in
            var buffer = Data()
            while true {
                let chunk = out.fileHandleForReading.availableData
                if chunk.isEmpty {
                    throw TestPeerError("azure_peer.py exited before it was ready; is PyJWT installed? run scripts/install-test-deps.sh")
                }
                buffer.append(chunk)
                let text = String(decoding: buffer, as: UTF8.self)
                if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("READY ") }), let p = Int(line.dropFirst(6)) {
                    return p
                }
            }
        }.value
        return AzurePeer(port: port, process: process, directory: dir)
    }

    public func stop() {
        if process.isRunning { kill(-process.processIdentifier, SIGKILL) }
    }

    /// The variables a scan reads to reach this peer, with the client secret.
    public var environment: [String: String] {
        [
            "AZURE_TENANT_ID": Self.tenant, "AZURE_CLIENT_ID": Self.clientId, "AZURE_CLIENT_SECRET": Self.clientSecret,
            "AZURE_AUTHORITY_HOST": endpoint, "ATTEST_AZURE_ARM_ENDPOINT": endpoint, "ATTEST_AZURE_GRAPH_ENDPOINT": endpoint,
            "ATTEST_AZURE_KEYVAULT_ENDPOINT": endpoint,
        ]
    }

    /// Merges settings into the peer's configuration (faults, token lifetime, page size).
    public func configure(_ settings: [String: Any]) async throws {
        let body = String(decoding: try JSONSerialization.data(withJSONObject: settings), as: UTF8.self)
        _ = try await runProcessCapturing(
            "/usr/bin/env",
            [
                "curl", "-sS", "--max-time", "10", "-X", "POST", "-H", "Content-Type: application/json", "--data-binary", body,
                "\(endpoint)/_peer/config",
            ],
            slotted: false)
    }

    /// Every request the peer answered, in order.
    public func log() async throws -> [[String: Any]] {
        let out = try await runProcessCapturing(
            "/usr/bin/env", ["curl", "-sS", "--max-time", "10", "\(endpoint)/_peer/log"], slotted: false)
        return (try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [[String: Any]]) ?? []
    }

    /// A federated token as a CI's OIDC issuer signs it (RS256, audience api://AzureADTokenExchange), written to `file`.
    public func writeFederatedToken(to file: URL, subject: String) async throws {
        let code = """
            import jwt, sys, time
            key = open(sys.argv[1]).read()
            now = int(time.time())
            print(jwt.encode({"iss": "https://token.actions.githubusercontent.com", "aud": "api://AzureADTokenExchange",
                              "sub": sys.argv[2], "iat": now, "nbf": now, "exp": now + 600}, key, algorithm="RS256",
                             headers={"kid": "ci-key-1"}))
            """
        let token = try await runProcess("/usr/bin/env", ["python3", "-c", code, oidcKeyPath, subject])
        try token.trimmingCharacters(in: .whitespacesAndNewlines).write(to: file, atomically: true, encoding: .utf8)
    }
}
