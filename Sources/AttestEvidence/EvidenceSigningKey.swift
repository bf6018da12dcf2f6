import Crypto
public import Foundation

/// The Ed25519 key that signs scan manifests. Keys are stored as PEM (PKCS #8 for the private
/// key, SubjectPublicKeyInfo for the public key), so `openssl pkey` reads them too.
public struct EvidenceSigningKey: Sendable {
    let key: Curve25519.Signing.PrivateKey

    public init() { key = Curve25519.Signing.PrivateKey() }

    /// Reads a private key from PEM text (or the bare base64 of the 32-byte seed).
    public init(pem text: String, source: String) throws {
        guard let der = PEM.decode(text, label: "PRIVATE KEY") ?? Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines))
        else {
            throw EvidenceKeyError("\(source): not an Ed25519 private key in PEM (BEGIN PRIVATE KEY)")
        }
        let seed: Data
        if der.count == 32 {
            seed = der
        } else if der.count == PEM.pkcs8Prefix.count + 32, der.prefix(PEM.pkcs8Prefix.count) == PEM.pkcs8Prefix {
            seed = der.suffix(32)
        } else {
            throw EvidenceKeyError("\(source): not an Ed25519 private key (expected PKCS #8 with OID 1.3.101.112)")
        }
        do { key = try Curve25519.Signing.PrivateKey(rawRepresentation: seed) } catch {
            throw EvidenceKeyError("\(source): invalid Ed25519 key")
        }
    }

    public var publicKey: EvidencePublicKey { EvidencePublicKey(key: key.publicKey) }

    /// PKCS #8 PEM. Holds the secret: written only to a file only its owner can read.
    public var privatePEM: String { PEM.encode(PEM.pkcs8Prefix + key.rawRepresentation, label: "PRIVATE KEY") }

    public func signature(for data: Data) throws -> Data { try key.signature(for: data) }

    /// Reads the key from the environment or a file, in this order: `ATTEST_EVIDENCE_SIGNING_KEY`
    /// (the PEM itself), `ATTEST_EVIDENCE_SIGNING_KEY_FILE`, the config's `evidence.signing_key`,
    /// then the default file. Nil when none exists.
    public static func load(environment: [String: String], configuredFile: String?) throws -> (key: EvidenceSigningKey, source: String)? {
        if let pem = environment["ATTEST_EVIDENCE_SIGNING_KEY"], !pem.isEmpty {
            return (try EvidenceSigningKey(pem: pem, source: "ATTEST_EVIDENCE_SIGNING_KEY"), "ATTEST_EVIDENCE_SIGNING_KEY")
        }
        for path in [environment["ATTEST_EVIDENCE_SIGNING_KEY_FILE"], configuredFile].compactMap({ $0 }) where !path.isEmpty {
            return (try read(path), path)
        }
        let path = defaultPath(environment: environment)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return (try read(path), path)
    }

    static func read(_ path: String) throws -> EvidenceSigningKey {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw EvidenceKeyError("cannot read the evidence signing key \(path): \(error.localizedDescription)")
        }
        return try EvidenceSigningKey(pem: text, source: path)
    }

    /// `$XDG_CONFIG_HOME/attest/evidence-signing.key`, or under `~/.config`.
    public static func defaultPath(environment: [String: String]) -> String {
        let base =
            environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.config")
        return base + "/attest/evidence-signing.key"
    }

    /// Writes the private key to `path` readable by its owner only; refuses to replace a key.
    public func write(to path: String) throws {
        let url = URL(fileURLWithPath: path)
        try? FileManager.default.createDirectory(
            at: url.deletingLastPathComponent(), withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST { throw EvidenceKeyError("\(path) already exists; attest does not replace a signing key") }
            throw EvidenceKeyError("cannot create \(path): \(String(cString: strerror(errno)))")
        }
        let bytes = Array(privatePEM.utf8)
        let written = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        fsync(fd)
        close(fd)
        guard written == bytes.count else { throw EvidenceKeyError("cannot write \(path)") }
    }
}

/// The public half, which verifies manifests and is stored beside the evidence.
public struct EvidencePublicKey: Sendable, Equatable {
    let key: Curve25519.Signing.PublicKey

    init(key: Curve25519.Signing.PublicKey) { self.key = key }

    public init(pem text: String, source: String) throws {
        guard let der = PEM.decode(text, label: "PUBLIC KEY"), der.count == PEM.spkiPrefix.count + 32,
            der.prefix(PEM.spkiPrefix.count) == PEM.spkiPrefix,
            let key = try? Curve25519.Signing.PublicKey(rawRepresentation: der.suffix(32))
        else {
            throw EvidenceKeyError("\(source): not an Ed25519 public key in PEM (BEGIN PUBLIC KEY)")
        }
        self.key = key
    }

    public static func == (a: Self, b: Self) -> Bool { a.key.rawRepresentation == b.key.rawRepresentation }

    public var pem: String { PEM.encode(PEM.spkiPrefix + key.rawRepresentation, label: "PUBLIC KEY") }

    /// `ed25519:` and the first 16 bytes of the SHA-256 of the raw key, in hex.
    public var id: String {
        "ed25519:" + SHA256.hash(data: key.rawRepresentation).prefix(16).map { String(format: "%02x", $0) }.joined()
    }

    public func isValid(signature: Data, for data: Data) -> Bool { key.isValidSignature(signature, for: data) }
}

public struct EvidenceKeyError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

enum PEM {
    /// DER of PKCS #8 PrivateKeyInfo for Ed25519 up to the 32-byte seed (RFC 8410).
    static let pkcs8Prefix = Data([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20])
    /// DER of SubjectPublicKeyInfo for Ed25519 up to the 32-byte key (RFC 8410).
    static let spkiPrefix = Data([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00])

    static func encode(_ der: Data, label: String) -> String {
        let b64 = der.base64EncodedString()
        var lines: [String] = []
        var i = b64.startIndex
        while i < b64.endIndex {
            let j = b64.index(i, offsetBy: 64, limitedBy: b64.endIndex) ?? b64.endIndex
            lines.append(String(b64[i..<j]))
            i = j
        }
        return "-----BEGIN \(label)-----\n" + lines.joined(separator: "\n") + "\n-----END \(label)-----\n"
    }

    static func decode(_ text: String, label: String) -> Data? {
        let begin = "-----BEGIN \(label)-----"
        let end = "-----END \(label)-----"
        guard let b = text.range(of: begin), let e = text.range(of: end, range: b.upperBound..<text.endIndex) else { return nil }
        let body = text[b.upperBound..<e.lowerBound].filter { !$0.isWhitespace }
        return Data(base64Encoded: String(body))
    }
}
