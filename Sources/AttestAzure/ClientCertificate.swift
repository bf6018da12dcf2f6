import AttestCore
import Crypto
public import Foundation
import _CryptoExtras

/// The certificate of an app registration with its RSA private key, read from a PEM file as
/// azure-identity reads `AZURE_CLIENT_CERTIFICATE_PATH`: a private key (PKCS#8, PKCS#1, or
/// PKCS#8 encrypted with PBES2 under `AZURE_CLIENT_CERTIFICATE_PASSWORD`) and the certificates
/// after it. The certificate used is the one whose public key is the private key's.
public struct ClientCertificate: Sendable {
    let key: _RSA.Signing.PrivateKey
    /// The DER bytes of the certificate matching the key.
    public let certificateDER: [UInt8]
    /// Every certificate in the file, matching one first: the `x5c` chain.
    public let chainDER: [[UInt8]]

    /// A PEM file that cannot be used, named with what is wrong (never with key material).
    public struct LoadError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    public init(pem text: String, password: String?, file: String) throws {
        let blocks = PEMBlock.all(in: text)
        var key: _RSA.Signing.PrivateKey?
        var certificates: [[UInt8]] = []
        for block in blocks {
            switch block.label {
            case "CERTIFICATE": certificates.append(block.der)
            case "PRIVATE KEY", "RSA PRIVATE KEY":
                guard key == nil else { continue }
                if block.legacyEncrypted {
                    throw LoadError(
                        description:
                            "\(file): the private key is encrypted in OpenSSL's legacy format (Proc-Type: 4,ENCRYPTED); convert it with openssl pkcs8 -topk8 -v2 aes-256-cbc"
                    )
                }
                do {
                    key = try _RSA.Signing.PrivateKey(pemRepresentation: block.pem)
                } catch {
                    throw LoadError(description: "\(file): the private key is not an RSA key attest can read")
                }
            case "ENCRYPTED PRIVATE KEY":
                guard key == nil else { continue }
                guard let password, !password.isEmpty else {
                    throw LoadError(description: "\(file): the private key is encrypted; set AZURE_CLIENT_CERTIFICATE_PASSWORD")
                }
                let der = try EncryptedPrivateKey.decrypt(block.der, password: password, file: file)
                do {
                    key = try _RSA.Signing.PrivateKey(derRepresentation: der)
                } catch {
                    throw LoadError(description: "\(file): the decrypted private key is not an RSA key attest can read")
                }
            default: continue
            }
        }
        guard let key else { throw LoadError(description: "\(file): no private key (expected a PEM PRIVATE KEY block)") }
        guard !certificates.isEmpty else { throw LoadError(description: "\(file): no certificate (expected a PEM CERTIFICATE block)") }
        // The certificate holds the key's SubjectPublicKeyInfo verbatim.
        let spki = [UInt8](key.publicKey.derRepresentation)
        guard let match = certificates.firstIndex(where: { $0.contains(subsequence: spki) }) else {
            throw LoadError(description: "\(file): no certificate in the file holds the private key's public key")
        }
        self.key = key
        certificateDER = certificates[match]
        chainDER = [certificates[match]] + certificates.enumerated().filter { $0.offset != match }.map(\.element)
    }

    /// Reads and parses a PEM file.
    public static func load(path: String, password: String?) throws -> ClientCertificate {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw LoadError(description: "AZURE_CLIENT_CERTIFICATE_PATH: cannot read \(path)")
        }
        return try ClientCertificate(pem: text, password: password, file: path)
    }

    /// `x5t#S256`: the base64url SHA-256 thumbprint of the certificate.
    public var sha256Thumbprint: String { Base64URL.encode(Array(SHA256.hash(data: certificateDER))) }
    /// `x5t`: the base64url SHA-1 thumbprint.
    public var sha1Thumbprint: String { Base64URL.encode(Array(Insecure.SHA1.hash(data: certificateDER))) }

    func sign(_ input: [UInt8], algorithm: AssertionAlgorithm) throws -> [UInt8] {
        let padding: _RSA.Signing.Padding = algorithm == .ps256 ? .PSS : .insecurePKCS1v1_5
        return Array(try key.signature(for: SHA256.hash(data: input), padding: padding).rawRepresentation)
    }
}

/// The signature algorithm of a client assertion: PS256 with `x5t#S256`, as Entra ID documents
/// today, or RS256 with `x5t`, the older form.
public enum AssertionAlgorithm: String, Sendable, CaseIterable {
    case ps256 = "PS256"
    case rs256 = "RS256"

    public init?(name: String) {
        guard let a = Self.allCases.first(where: { $0.rawValue.caseInsensitiveCompare(name) == .orderedSame }) else { return nil }
        self = a
    }
}

/// A signed JWT client assertion (RFC 7523) for the token endpoint.
public enum ClientAssertion {
    /// `aud` = the token URL, `iss` = `sub` = the client id, a fresh `jti`, `nbf` = `iat` = now,
    /// `exp` = now + `lifetime` (at most 10 minutes).
    public static func make(
        certificate: ClientCertificate, clientId: String, tokenURL: String, algorithm: AssertionAlgorithm = .ps256,
        sendChain: Bool = false, now: Date = Date(), lifetime: TimeInterval = 600
    ) throws -> String {
        var header: [String: JSONValue] = ["alg": .string(algorithm.rawValue), "typ": "JWT"]
        switch algorithm {
        case .ps256: header["x5t#S256"] = .string(certificate.sha256Thumbprint)
        case .rs256: header["x5t"] = .string(certificate.sha1Thumbprint)
        }
        if sendChain { header["x5c"] = .array(certificate.chainDER.map { .string(Data($0).base64EncodedString()) }) }
        let issued = Int(now.timeIntervalSince1970)
        let claims: JSONValue = [
            "aud": .string(tokenURL), "iss": .string(clientId), "sub": .string(clientId),
            "jti": .string(UUID().uuidString.lowercased()), "nbf": .int(Int64(issued)), "iat": .int(Int64(issued)),
            "exp": .int(Int64(issued + Int(min(lifetime, 600)))),
        ]
        let input =
            Base64URL.encode(Array(JSONValue.object(header).serialized().utf8)) + "."
            + Base64URL.encode(Array(claims.serialized().utf8))
        let signature = Base64URL.encode(try certificate.sign(Array(input.utf8), algorithm: algorithm))
        let assertion = input + "." + signature
        SecretScrubber.shared.register(assertion)
        SecretScrubber.shared.register(signature)
        return assertion
    }
}

/// One `-----BEGIN X-----` block of a PEM file.
struct PEMBlock {
    var label: String
    var der: [UInt8]
    var pem: String
    /// `Proc-Type: 4,ENCRYPTED`: a key encrypted the pre-PKCS#8 way, which is not read.
    var legacyEncrypted = false

    static func all(in text: String) -> [PEMBlock] {
        var out: [PEMBlock] = []
        var label: String?
        var body = ""
        var legacyEncrypted = false
        for raw in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("-----BEGIN "), line.hasSuffix("-----") {
                label = String(line.dropFirst(11).dropLast(5))
                body = ""
                legacyEncrypted = false
            } else if line.hasPrefix("-----END "), let current = label {
                if let der = Data(base64Encoded: body) {
                    let wrapped = stride(from: 0, to: body.count, by: 64).map { i -> String in
                        let start = body.index(body.startIndex, offsetBy: i)
                        return String(body[start..<(body.index(start, offsetBy: 64, limitedBy: body.endIndex) ?? body.endIndex)])
                    }
                    let pem = "-----BEGIN \(current)-----\n" + wrapped.joined(separator: "\n") + "\n-----END \(current)-----\n"
                    out.append(PEMBlock(label: current, der: Array(der), pem: pem, legacyEncrypted: legacyEncrypted))
                }
                label = nil
            } else if label != nil, line.contains(":") {
                if line.replacingOccurrences(of: " ", with: "").hasPrefix("Proc-Type:4,ENCRYPTED") { legacyEncrypted = true }
            } else if label != nil {
                body += line
            }
        }
        return out
    }
}

/// PKCS#8 `EncryptedPrivateKeyInfo` with PBES2 (PBKDF2 with HMAC-SHA-1/256/512, AES-CBC), which
/// `openssl pkcs8 -topk8` and OpenSSL 3 write by default.
enum EncryptedPrivateKey {
    static func decrypt(_ der: [UInt8], password: String, file: String) throws -> [UInt8] {
        func fail(_ what: String) -> ClientCertificate.LoadError {
            ClientCertificate.LoadError(description: "\(file): the encrypted private key \(what)")
        }
        do {
            var outer = DER(der)
            var top = try outer.sequence()
            var algorithm = try top.sequence()
            guard try algorithm.oid() == "1.2.840.113549.1.5.13" else { throw fail("is not PBES2 (only PBES2 is supported)") }
            var params = try algorithm.sequence()
            var kdf = try params.sequence()
            guard try kdf.oid() == "1.2.840.113549.1.5.12" else { throw fail("uses a key derivation other than PBKDF2") }
            var kdfParams = try kdf.sequence()
            let salt = try kdfParams.octetString()
            let iterations = try kdfParams.integer()
            var keyLength: Int?
            var hash: KDF.Insecure.PBKDF2.HashFunction = .insecureSHA1
            if kdfParams.peekTag == 0x02 { keyLength = try kdfParams.integer() }
            if kdfParams.peekTag == 0x30 {
                var prf = try kdfParams.sequence()
                switch try prf.oid() {
                case "1.2.840.113549.2.7": hash = .insecureSHA1
                case "1.2.840.113549.2.9": hash = .sha256
                case "1.2.840.113549.2.10": hash = .sha384
                case "1.2.840.113549.2.11": hash = .sha512
                default: throw fail("uses an unsupported PBKDF2 hash")
                }
            }
            var scheme = try params.sequence()
            let cipher = try scheme.oid()
            let size: Int
            switch cipher {
            case "2.16.840.1.101.3.4.1.2": size = 16
            case "2.16.840.1.101.3.4.1.22": size = 24
            case "2.16.840.1.101.3.4.1.42": size = 32
            default: throw fail("uses a cipher other than AES-CBC")
            }
            let iv = try scheme.octetString()
            let encrypted = try top.octetString()
            guard iterations > 0, iterations <= 10_000_000, keyLength.map({ $0 == size }) ?? true else {
                throw fail("has invalid parameters")
            }
            let key = try KDF.Insecure.PBKDF2.deriveKey(
                from: Array(password.utf8), salt: salt, using: hash, outputByteCount: size, unsafeUncheckedRounds: iterations)
            do {
                return Array(try AES._CBC.decrypt(encrypted, using: key, iv: try AES._CBC.IV(ivBytes: iv)))
            } catch {
                throw fail("could not be decrypted: wrong AZURE_CLIENT_CERTIFICATE_PASSWORD?")
            }
        } catch let error as ClientCertificate.LoadError {
            throw error
        } catch {
            throw fail("is not valid DER")
        }
    }
}

/// A minimal DER reader: enough for PBES2 parameters.
struct DER {
    struct Malformed: Error {}
    var bytes: ArraySlice<UInt8>

    init(_ bytes: [UInt8]) { self.bytes = bytes[...] }
    init(slice: ArraySlice<UInt8>) { bytes = slice }

    var peekTag: UInt8? { bytes.first }

    mutating func element(_ tag: UInt8) throws -> ArraySlice<UInt8> {
        guard let t = bytes.first, t == tag else { throw Malformed() }
        var i = bytes.index(after: bytes.startIndex)
        guard i < bytes.endIndex else { throw Malformed() }
        var length = Int(bytes[i])
        i += 1
        if length & 0x80 != 0 {
            let count = length & 0x7f
            guard (1...4).contains(count), bytes.endIndex - i >= count else { throw Malformed() }
            length = 0
            for _ in 0..<count {
                length = length << 8 | Int(bytes[i])
                i += 1
            }
        }
        guard length >= 0, bytes.endIndex - i >= length else { throw Malformed() }
        let content = bytes[i..<(i + length)]
        bytes = bytes[(i + length)...]
        return content
    }

    mutating func sequence() throws -> DER { DER(slice: try element(0x30)) }
    mutating func octetString() throws -> [UInt8] { Array(try element(0x04)) }

    mutating func integer() throws -> Int {
        let content = try element(0x02)
        guard !content.isEmpty, content.count <= 8 else { throw Malformed() }
        return content.reduce(0) { $0 << 8 | Int($1) }
    }

    mutating func oid() throws -> String {
        let content = Array(try element(0x06))
        guard let first = content.first else { throw Malformed() }
        var parts = [Int(first) / 40, Int(first) % 40]
        var value = 0
        for b in content.dropFirst() {
            value = value << 7 | Int(b & 0x7f)
            if b & 0x80 == 0 {
                parts.append(value)
                value = 0
            }
        }
        return parts.map(String.init).joined(separator: ".")
    }
}

extension Array where Element == UInt8 {
    func contains(subsequence: [UInt8]) -> Bool {
        guard !subsequence.isEmpty, subsequence.count <= count else { return false }
        for start in 0...(count - subsequence.count) where self[start] == subsequence[0] {
            if self[start..<(start + subsequence.count)].elementsEqual(subsequence) { return true }
        }
        return false
    }
}
