import Foundation
import Testing

@testable import AttestSigV4

/// One case of the upstream AWS SigV4 test suite (`../shared/vectors/sigv4/<name>/`).
struct SigV4Vector: CustomTestStringConvertible, Sendable {
    let name: String
    let directory: URL
    var testDescription: String { name }

    static let root: URL = {
        var dir = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { dir.deleteLastPathComponent() }
        return dir.deletingLastPathComponent().appendingPathComponent("shared/vectors/sigv4")
    }()

    static let all: [SigV4Vector] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.sorted().compactMap { name in
            let dir = root.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: dir.appendingPathComponent("context.json").path) else { return nil }
            return SigV4Vector(name: name, directory: dir)
        }
    }()

    func file(_ name: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
    }

    struct Context: Decodable {
        struct Credentials: Decodable {
            var accessKeyId: String
            var secretAccessKey: String
            var token: String?
        }
        var credentials: Credentials
        var expirationInSeconds: Int
        var normalize: Bool
        var region: String
        var service: String
        var signBody: Bool
        var timestamp: String
        var omitSessionToken: Bool?
    }

    func context() throws -> Context {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase  // the vectors' keys are snake_case
        return try decoder.decode(Context.self, from: Data(try file("context.json").utf8))
    }

    /// Parses `request.txt`: request line, headers (with folded continuation lines), body.
    func request() throws -> SigningRequest {
        let text = try file("request.txt")
        var lines = text.components(separatedBy: "\n")
        let requestLine = lines.removeFirst()
        let method = String(requestLine.prefix { $0 != " " })
        var target = String(requestLine.dropFirst(method.count + 1))
        if target.hasSuffix(" HTTP/1.1") { target.removeLast(" HTTP/1.1".count) }
        var headers: [(name: String, value: String)] = []
        var bodyLines: [String] = []
        var inBody = false
        for line in lines {
            if inBody {
                bodyLines.append(line)
                continue
            }
            if line.isEmpty {
                inBody = true
                continue
            }
            if line.first == " " || line.first == "\t", !headers.isEmpty {
                headers[headers.count - 1].value += "\n" + line
                continue
            }
            let colon = line.firstIndex(of: ":")!
            headers.append((String(line[..<colon]), String(line[line.index(after: colon)...])))
        }
        let (path, query) = Self.splitTarget(target)
        let body = Array(bodyLines.joined(separator: "\n").utf8)
        return SigningRequest(method: method, path: path, query: query, headers: headers, payload: .bytes(body))
    }

    static func splitTarget(_ target: String) -> (String, [(name: String, value: String)]) {
        guard let q = target.firstIndex(of: "?") else { return (target, []) }
        let path = String(target[..<q])
        let query = target[target.index(after: q)...].split(separator: "&").map { pair -> (name: String, value: String) in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (s: Substring) in s.removingPercentEncoding ?? String(s) }
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
        return (path, query)
    }

    func signer(_ ctx: Context) -> SigV4Signer {
        // The suite encodes the path once and signs the body hash header only when asked.
        SigV4Signer(
            service: ctx.service, region: ctx.region, doubleEncodePath: false, normalizePath: ctx.normalize,
            signContentHeader: ctx.signBody, omitSessionTokenFromSignature: ctx.omitSessionToken ?? false)
    }

    func date(_ ctx: Context) -> Date { ISO8601DateFormatter().date(from: ctx.timestamp)! }

    func credentials(_ ctx: Context) -> SigningCredentials {
        SigningCredentials(
            accessKeyId: ctx.credentials.accessKeyId, secretAccessKey: ctx.credentials.secretAccessKey,
            sessionToken: ctx.credentials.token)
    }
}

@Suite("SigV4 upstream vectors")
struct SigV4VectorTests {
    @Test func suiteIsPresent() {
        #expect(SigV4Vector.all.count == 38)
    }

    @Test("header signing", arguments: SigV4Vector.all)
    func headerSigning(_ vector: SigV4Vector) throws {
        let ctx = try vector.context()
        let result = vector.signer(ctx).sign(try vector.request(), credentials: vector.credentials(ctx), date: vector.date(ctx))
        #expect(result.canonicalRequest == (try vector.file("header-canonical-request.txt")))
        #expect(result.stringToSign == (try vector.file("header-string-to-sign.txt")))
        #expect(result.signature == (try vector.file("header-signature.txt")).trimmingCharacters(in: .whitespacesAndNewlines))
        let signed = try vector.file("header-signed-request.txt")
        #expect(signed.contains("Authorization:" + result.authorization!))
    }

    @Test("presigned query signing", arguments: SigV4Vector.all)
    func querySigning(_ vector: SigV4Vector) throws {
        let ctx = try vector.context()
        let result = vector.signer(ctx).presign(
            try vector.request(), credentials: vector.credentials(ctx),
            date: vector.date(ctx), expires: ctx.expirationInSeconds)
        #expect(result.canonicalRequest == (try vector.file("query-canonical-request.txt")))
        #expect(result.stringToSign == (try vector.file("query-string-to-sign.txt")))
        #expect(result.signature == (try vector.file("query-signature.txt")).trimmingCharacters(in: .whitespacesAndNewlines))
        // Every query item we add appears, encoded, in the expected signed request line.
        let requestLine = try vector.file("query-signed-request.txt").components(separatedBy: "\n")[0]
        for item in result.queryToAdd {
            #expect(requestLine.contains("\(item.name)=\(SigV4Signer.uriEncode(item.value))"))
        }
    }
}

@Suite("SigV4 behaviour beyond the suite")
struct SigV4BehaviourTests {
    let credentials = SigningCredentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")

    @Test func nonS3ServicesEncodeThePathTwice() {
        let signer = SigV4Signer(service: "lambda", region: "us-east-1")
        #expect(signer.canonicalURI("/2015-03-31/functions/my fn:1/invocations") == "/2015-03-31/functions/my%2520fn%253A1/invocations")
    }

    @Test func s3EncodesOnceAndDoesNotNormalise() {
        let signer = SigV4Signer(service: "s3", region: "us-east-1")
        #expect(signer.canonicalURI("/bucket/a/../b c") == "/bucket/a/../b%20c")
        #expect(signer.canonicalURI("/bucket//x") == "/bucket//x")
    }

    @Test func s3SignsThePayloadHashHeader() {
        let signer = SigV4Signer(service: "s3", region: "eu-west-1")
        let req = SigningRequest(
            method: "GET", path: "/b", headers: [("Host", "s3.eu-west-1.amazonaws.com")],
            payload: .hash(SigV4Signer.unsignedPayload))
        let sig = signer.sign(req, credentials: credentials, date: Date(timeIntervalSince1970: 1_440_938_160))
        #expect(sig.signedHeaders == "host;x-amz-content-sha256;x-amz-date")
        #expect(sig.canonicalRequest.hasSuffix("\nUNSIGNED-PAYLOAD"))
        #expect(sig.headersToAdd.contains { $0.name == "X-Amz-Content-Sha256" && $0.value == "UNSIGNED-PAYLOAD" })
    }

    @Test func sessionTokenIsSignedAsAHeader() {
        let signer = SigV4Signer(service: "sts", region: "us-east-1")
        let creds = SigningCredentials(accessKeyId: "ASIA1", secretAccessKey: "secret", sessionToken: "tok/en+=")
        let sig = signer.sign(
            SigningRequest(method: "POST", path: "/", headers: [("Host", "sts.amazonaws.com")]),
            credentials: creds, date: Date(timeIntervalSince1970: 0))
        #expect(sig.signedHeaders == "host;x-amz-date;x-amz-security-token")
        #expect(sig.canonicalRequest.contains("x-amz-security-token:tok/en+=\n"))
    }

    @Test func queryEncodingUsesPercent20AndSortsByEncodedName() {
        let q = SigV4Signer.canonicalQuery([("b", "x y"), ("a", "2"), ("a", "1"), ("c~", "*")])
        #expect(q == "a=1&a=2&b=x%20y&c~=%2A")
    }

    @Test func differentSecretsGiveDifferentSignatures() {
        let signer = SigV4Signer(service: "iam", region: "us-east-1")
        let req = SigningRequest(method: "GET", path: "/", headers: [("Host", "iam.amazonaws.com")])
        let date = Date(timeIntervalSince1970: 1_700_000_000)
        let a = signer.sign(req, credentials: credentials, date: date).signature
        let b = signer.sign(req, credentials: SigningCredentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "other"), date: date)
            .signature
        #expect(a != b)
        #expect(a.count == 64)
    }
}
