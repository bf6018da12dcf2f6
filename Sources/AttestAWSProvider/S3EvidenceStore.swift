public import AttestAWS
import AttestCore
public import AttestEvidence
import Crypto
public import Foundation

/// Evidence in an S3 bucket under a prefix, written through attest's own signed client.
///
/// Every object is sent with its SHA-256 checksum (`x-amz-checksum-sha256`, which S3 checks
/// before storing) and Content-MD5; evidence objects are put under Object Lock retention in
/// COMPLIANCE mode for `retentionDays`, so nobody, root included, can overwrite or delete the
/// version before then. Write-if-absent uses S3's conditional write (`If-None-Match: *`).
public struct S3EvidenceStore: EvidenceStore {
    public let client: AWSClient
    public let bucket: String
    /// Ends in `/`, or empty.
    public let prefix: String
    public let region: String
    /// Object Lock retention for evidence; nil puts no lock on objects.
    public let retentionDays: Int?
    public var now: @Sendable () -> Date = { Date() }

    static let service = AWSService(id: "s3", wireProtocol: .restXML)

    public init(client: AWSClient, bucket: String, prefix: String, region: String, retentionDays: Int?) {
        self.client = client
        self.bucket = bucket
        let trimmed = prefix.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        self.prefix = trimmed.isEmpty ? "" : trimmed + "/"
        self.region = region
        self.retentionDays = retentionDays
    }

    /// Parses `s3://bucket/prefix`.
    public static func parse(_ url: String) -> (bucket: String, prefix: String)? {
        guard url.hasPrefix("s3://") else { return nil }
        let rest = url.dropFirst(5)
        let bucket = rest.prefix { $0 != "/" }
        guard !bucket.isEmpty else { return nil }
        return (String(bucket), String(rest.dropFirst(bucket.count)))
    }

    public var location: String { "s3://\(bucket)/\(prefix)" }

    public func write(_ data: Data, to key: String, ifAbsent: Bool, retain: Bool) async throws -> Bool {
        _ = try EvidenceLayout.components(of: key)
        var headers: [(name: String, value: String)] = [
            ("Content-Type", key.hasSuffix(".jsonl") ? "application/x-ndjson" : "application/json"),
            ("Content-MD5", Data(Insecure.MD5.hash(data: data)).base64EncodedString()),
            ("x-amz-sdk-checksum-algorithm", "SHA256"),
            ("x-amz-checksum-sha256", Data(SHA256.hash(data: data)).base64EncodedString()),
        ]
        if ifAbsent { headers.append(("If-None-Match", "*")) }
        if retain, let days = retentionDays, days > 0 {
            headers.append(("x-amz-object-lock-mode", "COMPLIANCE"))
            headers.append(("x-amz-object-lock-retain-until-date", EvidenceTime.string(now().addingTimeInterval(Double(days) * 86_400))))
        }
        let op = AWSOperation(
            name: "PutObject", region: region, method: "PUT", path: "/" + prefix + key, headers: headers,
            bucket: bucket, rawPayload: true, body: Array(data))
        do {
            _ = try await client.send(op, service: Self.service)
            return true
        } catch let error as AWSServiceError where error.status == 412 && ifAbsent {
            return false
        } catch {
            throw describe(error, "write", key)
        }
    }

    public func read(_ key: String) async throws -> Data? {
        _ = try EvidenceLayout.components(of: key)
        let op = AWSOperation(name: "GetObject", region: region, method: "GET", path: "/" + prefix + key, bucket: bucket, rawPayload: true)
        do {
            return Data(try await client.send(op, service: Self.service).body)
        } catch let error as AWSServiceError where error.status == 404 {
            return nil
        } catch {
            throw describe(error, "read", key)
        }
    }

    public func list(prefix sub: String) async throws -> [String] {
        var keys: [String] = []
        var token: String?
        repeat {
            var query: [(name: String, value: String)] = [("list-type", "2"), ("prefix", prefix + sub)]
            if let token { query.append(("continuation-token", token)) }
            let op = AWSOperation(name: "ListObjectsV2", region: region, method: "GET", path: "/", query: query, bucket: bucket)
            let value: JSONValue
            do {
                value = try await client.send(op, service: Self.service).value
            } catch {
                throw describe(error, "list", sub)
            }
            for item in value["Contents"].asList {
                if let key = item["Key"].stringValue, key.hasPrefix(prefix) { keys.append(String(key.dropFirst(prefix.count))) }
            }
            token = value["IsTruncated"].boolValue == true ? value["NextContinuationToken"].stringValue : nil
        } while token != nil
        return keys.sorted()
    }

    public func remove(_ key: String) async throws {
        _ = try EvidenceLayout.components(of: key)
        let op = AWSOperation(
            name: "DeleteObject", region: region, method: "DELETE", path: "/" + prefix + key, bucket: bucket, rawPayload: true)
        do { _ = try await client.send(op, service: Self.service) } catch {
            throw describe(error, "remove", key)
        }
    }

    public func objectWriter(for key: String) throws -> any EvidenceObjectWriter {
        _ = try EvidenceLayout.components(of: key)
        return BufferedObjectWriter(store: self, key: key)
    }

    func describe(_ error: any Error, _ verb: String, _ key: String) -> EvidenceStoreError {
        EvidenceStoreError("cannot \(verb) \(location)\(key): \(SecretScrubber.shared.scrub(String(describing: error)))")
    }
}
