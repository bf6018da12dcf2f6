public import Foundation

/// The loopback Google Cloud (`Tests/Support/gcp/gcp_peer.py`): gcplocal behind a token
/// endpoint that verifies every service-account assertion with google-auth, bearer checks,
/// Resource Manager v3 and faults, with every answer checked against the discovery documents.
/// One service-account key (and a second one Google does not know) is made per peer with openssl.
public final class GCPPeer: Sendable {
    public let port: Int
    public let process: Process
    public let directory: URL
    public static let clientEmail = "attest-scanner@seed-project.iam.gserviceaccount.com"
    public static let keyId = "3f1e2d4c5b6a79880716253443526170aabbccdd"
    public static let userClientId = "32555940559.apps.googleusercontent.com"
    public static let userClientSecret = "attest-test-gcloud-client-secret"
    public static let refreshToken = "1//attest-test-refresh-token-5e6f7a8b"

    public var endpoint: String { "http://127.0.0.1:\(port)" }
    /// A service-account key file, as the IAM API creates it.
    public var keyFile: String { directory.appendingPathComponent("key.json").path }
    /// The same account, signed with a key Google does not know.
    public var strangerKeyFile: String { directory.appendingPathComponent("stranger.json").path }
    /// gcloud's `authorized_user` credentials.
    public var userCredentialsFile: String { directory.appendingPathComponent("adc.json").path }

    init(port: Int, process: Process, directory: URL) {
        self.port = port
        self.process = process
        self.directory = directory
    }

    /// Starts a peer seeded with `seed` (gcplocal create calls: `{method, path, body}`).
    public static func start(seed: [[String: Any]] = [], config: [String: Any] = [:]) async throws -> GCPPeer {
        let dir = try TestPaths.temporaryDirectory("gcp-peer")
        func openssl(_ args: [String]) async throws { _ = try await runProcess("/usr/bin/env", ["openssl"] + args) }
        var certificate = ""
        for name in ["client", "stranger"] {
            let key = dir.appendingPathComponent("\(name)-key.pem").path
            let cert = dir.appendingPathComponent("\(name)-cert.pem").path
            try await openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key])
            try await openssl(["req", "-x509", "-key", key, "-subj", "/CN=\(clientEmail)", "-days", "2", "-out", cert])
            if name == "client" { certificate = try String(contentsOfFile: cert, encoding: .utf8) }
            let file: [String: Any] = [
                "type": "service_account", "project_id": "seed-project", "private_key_id": keyId,
                "private_key": try String(contentsOfFile: key, encoding: .utf8), "client_email": clientEmail,
                "client_id": "104820395623478000001", "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                "token_uri": "https://oauth2.googleapis.com/token", "universe_domain": "googleapis.com",
            ]
            try JSONSerialization.data(withJSONObject: file).write(
                to: dir.appendingPathComponent(name == "client" ? "key.json" : "stranger.json"))
        }
        let adc: [String: Any] = [
            "type": "authorized_user", "client_id": userClientId, "client_secret": userClientSecret, "refresh_token": refreshToken,
        ]
        try JSONSerialization.data(withJSONObject: adc).write(to: dir.appendingPathComponent("adc.json"))
        var settings: [String: Any] = [
            "client_email": clientEmail, "key_id": keyId, "cert_pem": certificate, "client_id": userClientId,
            "client_secret": userClientSecret, "refresh_token": refreshToken, "page_size": 2, "seed": seed,
            "discovery_dir": TestPaths.shared.appendingPathComponent("vectors/gcp/discovery").path,
        ]
        for (k, v) in config { settings[k] = v }
        let configURL = dir.appendingPathComponent("config.json")
        try JSONSerialization.data(withJSONObject: settings).write(to: configURL)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let script = TestPaths.repository.appendingPathComponent("Tests/Support/gcp/gcp_peer.py").path
        process.arguments = ["python3", "-c", MotoServer.launcher, "python3", script, configURL.path]
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
                    throw TestPeerError(
                        "gcp_peer.py exited before it was ready; are google-auth and gcplocal installed? run scripts/install-test-deps.sh")
                }
                buffer.append(chunk)
                let text = String(decoding: buffer, as: UTF8.self)
                if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("READY ") }), let p = Int(line.dropFirst(6)) {
                    return p
                }
            }
        }.value
        return GCPPeer(port: port, process: process, directory: dir)
    }

    public func stop() {
        if process.isRunning { kill(-process.processIdentifier, SIGKILL) }
    }

    /// The APIs reached through their own `CLOUDSDK_API_ENDPOINT_OVERRIDES_<API>` (a `/_api/<api>/`
    /// prefix the peer strips, so it checks each answer against that API's discovery document);
    /// the others go through `ATTEST_GCP_ENDPOINT`.
    public static let overriddenAPIs = [
        "sqladmin", "cloudkms", "logging", "monitoring", "container", "bigquery", "dns", "orgpolicy", "serviceusage", "cloudasset",
        "essentialcontacts", "sts",
        "iamcredentials",
    ]

    /// The variables a scan reads to reach this peer with the service-account key.
    public var environment: [String: String] {
        var env = [
            "GOOGLE_APPLICATION_CREDENTIALS": keyFile, "ATTEST_GCP_ENDPOINT": endpoint, "ATTEST_GCP_QUOTA_RETRY_SECONDS": "1",
            "HOME": "/nonexistent",
        ]
        for api in Self.overriddenAPIs { env["CLOUDSDK_API_ENDPOINT_OVERRIDES_\(api.uppercased())"] = "\(endpoint)/_api/\(api)/" }
        return env
    }

    /// Merges settings into the peer's configuration.
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
}
