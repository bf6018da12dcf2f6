import AttestCore
import AttestHTTP
import AttestSigV4
import Crypto
public import Foundation

/// One recorded exchange, stored as a JSON file. Requests are reduced to what identifies the call
/// (service, region, method, path, query and body without any signing material), so a replay
/// matches them whatever the credentials or the time.
public struct Fixture: Sendable, Codable, Equatable {
    public struct Request: Sendable, Codable, Equatable {
        public var service: String
        public var region: String
        public var method: String
        /// Decoded path, path-style for S3.
        public var path: String
        /// Canonical query: sorted, without `X-Amz-*` signing parameters.
        public var query: String
        public var target: String?
        /// The body with form parameters sorted, or canonical JSON.
        public var body: String

        public init(
            service: String, region: String, method: String, path: String, query: String, target: String? = nil, body: String
        ) {
            (self.service, self.region, self.method, self.path, self.query, self.target, self.body) =
                (service, region, method, path, query, target, body)
        }
    }

    public struct Response: Sendable, Codable, Equatable {
        public var status: Int
        public var headers: [String: String]
        public var body: String

        public init(status: Int, headers: [String: String], body: String) {
            (self.status, self.headers, self.body) = (status, headers, body)
        }
    }

    public var request: Request
    public var response: Response

    public init(request: Request, response: Response) {
        self.request = request
        self.response = response
    }

    /// A name that says what the call was: `ListUsers`, `GET-location`, …
    public var operation: String {
        if let target = request.target, let dot = target.lastIndex(of: ".") { return String(target[target.index(after: dot)...]) }
        if let action = FixtureKey.formValue("Action", in: request.body) { return action }
        if ["arm", "graph", "keyvault"].contains(request.service) {
            return request.method + "-" + (request.path.split(separator: "/").last.map(String.init) ?? "root")
        }
        let sub = request.query.split(separator: "&").first.map { String($0.split(separator: "=").first ?? "") } ?? ""
        return request.method + (sub.isEmpty ? "" : "-" + sub)
    }

    public var key: String { FixtureKey.hash(request) }
}

enum FixtureKey {
    static func hash(_ r: Fixture.Request) -> String {
        let text = [r.service, r.region, r.method, r.path, r.query, r.target ?? "", r.body].joined(separator: "\n")
        return SHA256.hash(data: Array(text.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    static func formValue(_ name: String, in body: String) -> String? {
        for pair in body.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            if kv.first.map(String.init) == name { return kv.count > 1 ? String(kv[1]).removingPercentEncoding : "" }
        }
        return nil
    }

    /// Reduces an HTTP request to its fixture identity.
    static func request(
        method: String, host: String, rawPath: String, rawQuery: String,
        headers: [(name: String, value: String)], body: [UInt8]
    ) -> Fixture.Request {
        func header(_ n: String) -> String? { headerValue(n, in: headers) }
        var service = "unsigned"
        var region = "-"
        if let auth = header("Authorization"), let range = auth.range(of: "Credential=") {
            let scope = auth[range.upperBound...].prefix { $0 != "," && $0 != " " }.split(separator: "/")
            if scope.count >= 5 {
                region = String(scope[2])
                service = String(scope[3])
            }
        } else if header("Authorization")?.hasPrefix("Bearer ya29.") == true {
            // Google's access tokens start with ya29.
            service = "google"
            region = "global"
        } else if header("Authorization")?.hasPrefix("Bearer ") == true {
            // Azure: Microsoft Graph under /v1.0/, a vault's data plane under /<vault host>/, Resource Manager elsewhere.
            let first = rawPath.split(separator: "/").first.map { $0.lowercased() } ?? ""
            service = rawPath.hasPrefix("/v1.0/") ? "graph" : first.hasSuffix(".vault.azure.net") ? "keyvault" : "arm"
            region = "global"
        }
        var path = rawPath.removingPercentEncoding ?? rawPath
        // Virtual-hosted S3 (bucket.s3.region.amazonaws.com) is stored path-style.
        if service == "s3", let dot = host.firstIndex(of: "."), host[dot...].hasPrefix(".s3.") || host[dot...].hasPrefix(".s3-") {
            path = "/" + host[..<dot] + (path == "/" ? "" : path)
        }
        let query = rawQuery.split(separator: "&").map(String.init)
            .filter { !$0.lowercased().hasPrefix("x-amz-") }
            .map { part -> String in
                let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let name = kv[0].removingPercentEncoding ?? String(kv[0])
                let value = kv.count > 1 ? (kv[1].removingPercentEncoding ?? String(kv[1])) : ""
                return "\(name)=\(value)"
            }
            .sorted().joined(separator: "&")
        let text = String(decoding: body, as: UTF8.self)
        let normalized: String
        let contentType = header("Content-Type") ?? ""
        if contentType.hasPrefix("application/x-www-form-urlencoded") {
            normalized = text.split(separator: "&").map { part -> String in
                let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let name = kv[0].removingPercentEncoding ?? String(kv[0])
                let value = kv.count > 1 ? (kv[1].replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(kv[1])) : ""
                return "\(name)=\(value)"
            }.sorted().joined(separator: "&")
        } else if contentType.contains("json"), let json = try? JSONValue.parse(Data(body)) {
            normalized = json.serialized()
        } else {
            normalized = text
        }
        return Fixture.Request(
            service: service, region: region, method: method.uppercased(), path: path, query: query,
            target: header("X-Amz-Target"), body: SecretScrubber.shared.scrub(normalized))
    }
}

/// A directory of fixtures: `<dir>/<service>/<region>/<operation>-<key>.json`.
public struct FixtureStore: Sendable {
    public let directory: URL

    public init(directory: URL) {
        self.directory = directory
    }

    public func write(_ fixture: Fixture) throws {
        // Service, region and operation come from the request, and so from values an API
        // answered (a bucket's region): each becomes one plain path component, never a path.
        let folder = directory.appendingPathComponent(Self.component(fixture.request.service))
            .appendingPathComponent(Self.component(fixture.request.region))
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(fixture)
        try data.write(to: folder.appendingPathComponent("\(Self.component(fixture.operation))-\(fixture.key).json"), options: .atomic)
    }

    /// `text` as one file-name component: letters, digits, `.`, `_` and `-` kept, anything else
    /// `_`, at most 80 characters, and never `.` or `..`.
    static func component(_ text: String) -> String {
        var out = String(
            text.unicodeScalars.prefix(80).map { s -> Character in
                switch s {
                case "a"..."z", "A"..."Z", "0"..."9", ".", "_", "-": Character(s)
                default: "_"
                }
            })
        if out.isEmpty || out.allSatisfy({ $0 == "." }) { out = "_" + out }
        return out
    }

    /// Every fixture by key.
    public func loadAll() throws -> [String: Fixture] {
        var out: [String: Fixture] = [:]
        guard let walker = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil) else { return out }
        let decoder = JSONDecoder()
        for case let url as URL in walker where url.pathExtension == "json" {
            do {
                let fixture = try decoder.decode(Fixture.self, from: Data(contentsOf: url))
                out[fixture.key] = fixture
            } catch {
                throw FixtureError(description: "\(url.path): not a fixture (\(error))")
            }
        }
        return out
    }
}

public struct FixtureError: Error, CustomStringConvertible, Sendable {
    public var description: String
}
