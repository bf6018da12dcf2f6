import Crypto
public import Foundation

/// What the signer needs to know about a request. The path is the *raw* (decoded) path and the
/// query items are raw names and values; the signer does all percent-encoding itself, exactly as
/// the request must go on the wire.
public struct SigningRequest: Sendable {
    public var method: String
    /// Decoded path, e.g. `/my bucket/key`.
    public var path: String
    /// Decoded query items, in any order; duplicates allowed.
    public var query: [(name: String, value: String)]
    /// Headers as sent; names in any case; duplicates allowed.
    public var headers: [(name: String, value: String)]
    /// The body, or a precomputed payload hash (`UNSIGNED-PAYLOAD` for S3 streaming).
    public var payload: Payload

    public enum Payload: Sendable {
        case bytes([UInt8])
        case hash(String)
    }

    public init(
        method: String, path: String, query: [(name: String, value: String)] = [],
        headers: [(name: String, value: String)] = [], payload: Payload = .bytes([])
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.payload = payload
    }
}

/// The access key material for one signature.
public struct SigningCredentials: Sendable {
    public var accessKeyId: String
    public var secretAccessKey: String
    public var sessionToken: String?

    public init(accessKeyId: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }
}

/// AWS Signature Version 4 (`AWS4-HMAC-SHA256`).
///
/// Produces either the headers to add (`Authorization`, `X-Amz-Date`, optionally
/// `X-Amz-Content-Sha256` and `X-Amz-Security-Token`) or the query items of a presigned URL.
public struct SigV4Signer: Sendable {
    public var service: String
    public var region: String
    /// Encode the canonical path a second time. True for every service except S3.
    public var doubleEncodePath: Bool
    /// Remove `.`/`..` segments and repeated slashes from the canonical path. False for S3.
    public var normalizePath: Bool
    /// Add and sign `x-amz-content-sha256` (required by S3).
    public var signContentHeader: Bool
    /// Add the session token after signing instead of signing it (some services' legacy behaviour).
    public var omitSessionTokenFromSignature: Bool

    public init(
        service: String, region: String, doubleEncodePath: Bool? = nil, normalizePath: Bool? = nil,
        signContentHeader: Bool? = nil, omitSessionTokenFromSignature: Bool = false
    ) {
        self.service = service
        self.region = region
        let isS3 = service == "s3" || service == "s3-object-lambda"
        self.doubleEncodePath = doubleEncodePath ?? !isS3
        self.normalizePath = normalizePath ?? !isS3
        self.signContentHeader = signContentHeader ?? isS3
        self.omitSessionTokenFromSignature = omitSessionTokenFromSignature
    }

    public static let algorithm = "AWS4-HMAC-SHA256"
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// Intermediate values of a signature, exposed for tests and diagnostics (never logged).
    public struct Signature: Sendable {
        public var canonicalRequest: String
        public var stringToSign: String
        public var signature: String
        public var signedHeaders: String
        /// Headers to add to the request (header signing) or query items to add (presigning).
        public var headersToAdd: [(name: String, value: String)]
        public var queryToAdd: [(name: String, value: String)]
        /// The complete `Authorization` header value (header signing only).
        public var authorization: String?
    }

    // MARK: Header signing

    public func sign(_ request: SigningRequest, credentials: SigningCredentials, date: Date) -> Signature {
        let (amzDate, day) = Self.timestamps(date)
        let payloadHash = Self.payloadHash(request.payload)

        var headers = request.headers
        var added: [(name: String, value: String)] = []
        added.append(("X-Amz-Date", amzDate))
        if signContentHeader, !headers.contains(where: { $0.name.lowercased() == "x-amz-content-sha256" }) {
            added.append(("X-Amz-Content-Sha256", payloadHash))
        }
        if let token = credentials.sessionToken, !omitSessionTokenFromSignature {
            added.append(("X-Amz-Security-Token", token))
        }
        headers.append(contentsOf: added)

        let (canonicalHeaders, signedHeaders) = Self.canonicalHeaders(headers)
        let canonicalRequest = [
            request.method.uppercased(),
            canonicalURI(request.path),
            Self.canonicalQuery(request.query),
            canonicalHeaders,
            signedHeaders,
            payloadHash,
        ].joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = Self.stringToSign(amzDate: amzDate, scope: scope, canonicalRequest: canonicalRequest)
        let signature = Self.signature(
            secret: credentials.secretAccessKey, day: day, region: region,
            service: service, stringToSign: stringToSign)
        let authorization =
            "\(Self.algorithm) Credential=\(credentials.accessKeyId)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
        if let token = credentials.sessionToken, omitSessionTokenFromSignature {
            added.append(("X-Amz-Security-Token", token))
        }
        added.append(("Authorization", authorization))
        return Signature(
            canonicalRequest: canonicalRequest, stringToSign: stringToSign, signature: signature,
            signedHeaders: signedHeaders, headersToAdd: added, queryToAdd: [], authorization: authorization)
    }

    // MARK: Presigning

    public func presign(_ request: SigningRequest, credentials: SigningCredentials, date: Date, expires: Int) -> Signature {
        let (amzDate, day) = Self.timestamps(date)
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let (canonicalHeaders, signedHeaders) = Self.canonicalHeaders(request.headers)
        var authQuery: [(name: String, value: String)] = [
            ("X-Amz-Algorithm", Self.algorithm),
            ("X-Amz-Credential", "\(credentials.accessKeyId)/\(scope)"),
            ("X-Amz-Date", amzDate),
            ("X-Amz-SignedHeaders", signedHeaders),
            ("X-Amz-Expires", String(expires)),
        ]
        if let token = credentials.sessionToken, !omitSessionTokenFromSignature {
            authQuery.append(("X-Amz-Security-Token", token))
        }
        let payloadHash = Self.payloadHash(request.payload)
        let canonicalRequest = [
            request.method.uppercased(),
            canonicalURI(request.path),
            Self.canonicalQuery(request.query + authQuery),
            canonicalHeaders,
            signedHeaders,
            payloadHash,
        ].joined(separator: "\n")
        let stringToSign = Self.stringToSign(amzDate: amzDate, scope: scope, canonicalRequest: canonicalRequest)
        let signature = Self.signature(
            secret: credentials.secretAccessKey, day: day, region: region,
            service: service, stringToSign: stringToSign)
        if let token = credentials.sessionToken, omitSessionTokenFromSignature {
            authQuery.append(("X-Amz-Security-Token", token))
        }
        authQuery.append(("X-Amz-Signature", signature))
        return Signature(
            canonicalRequest: canonicalRequest, stringToSign: stringToSign, signature: signature,
            signedHeaders: signedHeaders, headersToAdd: [], queryToAdd: authQuery, authorization: nil)
    }

    // MARK: Canonical forms

    /// The canonical URI: normalised when asked, each segment encoded once, and a second time for
    /// services other than S3.
    public func canonicalURI(_ rawPath: String) -> String {
        var path = rawPath.isEmpty ? "/" : rawPath
        if normalizePath { path = Self.normalize(path) }
        var encoded = Self.encodePath(path)
        if doubleEncodePath { encoded = Self.encodePath(encoded) }
        return encoded
    }

    /// The path as it goes on the wire: each segment percent-encoded once.
    public static func encodePath(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false)
            .map { uriEncode(String($0)) }
            .joined(separator: "/")
    }

    static func normalize(_ path: String) -> String {
        var output: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            if segment == "." { continue }
            if segment == ".." {
                if !output.isEmpty { output.removeLast() }
                continue
            }
            output.append(segment)
        }
        var result = "/" + output.joined(separator: "/")
        let endsWithSlash = path.hasSuffix("/") || path.hasSuffix("/.") || path.hasSuffix("/..")
        if endsWithSlash && result != "/" { result += "/" }
        return result
    }

    public static func canonicalQuery(_ items: [(name: String, value: String)]) -> String {
        let encoded: [(String, String)] = items.map { (uriEncode($0.name), uriEncode($0.value)) }
        let sorted = encoded.sorted { (a: (String, String), b: (String, String)) -> Bool in
            a.0 == b.0 ? a.1 < b.1 : a.0 < b.0
        }
        return sorted.map { (pair: (String, String)) -> String in pair.0 + "=" + pair.1 }.joined(separator: "&")
    }

    /// Headers excluded from signing: changed by proxies or added by the HTTP client.
    static let unsignedHeaders: Set<String> = [
        "authorization", "user-agent", "expect", "x-amzn-trace-id", "connection", "transfer-encoding",
    ]

    static func canonicalHeaders(_ headers: [(name: String, value: String)]) -> (String, String) {
        var merged: [String: [String]] = [:]
        for (name, value) in headers {
            let key = name.lowercased()
            guard !unsignedHeaders.contains(key) else { continue }
            merged[key, default: []].append(trimAll(value))
        }
        let names = merged.keys.sorted()
        let canonical = names.map { "\($0):\(merged[$0]!.joined(separator: ","))\n" }.joined()
        return (canonical, names.joined(separator: ";"))
    }

    /// Trims a header value and folds every run of white space (including folded lines) to one space.
    static func trimAll(_ value: String) -> String {
        var out = ""
        var pendingSpace = false
        for ch in value {
            if ch == " " || ch == "\t" || ch == "\n" || ch == "\r" {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace {
                    out.append(" ")
                    pendingSpace = false
                }
                out.append(ch)
            }
        }
        return out
    }

    static func stringToSign(amzDate: String, scope: String, canonicalRequest: String) -> String {
        [algorithm, amzDate, scope, hexSHA256(Array(canonicalRequest.utf8))].joined(separator: "\n")
    }

    static func signature(secret: String, day: String, region: String, service: String, stringToSign: String) -> String {
        var key = SymmetricKey(data: Array("AWS4\(secret)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
        }
        let mac = HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: key)
        return hex(mac)
    }

    static func payloadHash(_ payload: SigningRequest.Payload) -> String {
        switch payload {
        case .hash(let h): h
        case .bytes(let b): b.isEmpty ? emptyPayloadHash : hexSHA256(b)
        }
    }

    public static func hexSHA256(_ bytes: [UInt8]) -> String { hex(SHA256.hash(data: bytes)) }

    static func hex<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// RFC 3986 encoding as SigV4 wants it: unreserved characters stay, everything else `%XX` upper-case.
    public static func uriEncode(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
                UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%"
                out += String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }

    static func timestamps(_ date: Date) -> (amzDate: String, day: String) {
        let c = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: date)
        let day = String(format: "%04d%02d%02d", c.year!, c.month!, c.day!)
        let amz = day + String(format: "T%02d%02d%02dZ", c.hour!, c.minute!, c.second!)
        return (amz, day)
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

extension SigV4Signer {
    /// The signature of a request whose headers already include everything signed (`x-amz-date`,
    /// a token, a payload hash): what a server computes to check a request it received.
    public func signature(ofSignedRequest request: SigningRequest, secretAccessKey: String, amzDate: String) -> String {
        let day = String(amzDate.prefix(8))
        let (canonicalHeaders, signedHeaders) = Self.canonicalHeaders(request.headers)
        let canonicalRequest = [
            request.method.uppercased(), canonicalURI(request.path), Self.canonicalQuery(request.query),
            canonicalHeaders, signedHeaders, Self.payloadHash(request.payload),
        ].joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = Self.stringToSign(amzDate: amzDate, scope: scope, canonicalRequest: canonicalRequest)
        return Self.signature(secret: secretAccessKey, day: day, region: region, service: service, stringToSign: stringToSign)
    }
}
