import AttestCore
import AttestHTTP
import AttestSigV4
import Foundation

/// Builds the unsigned request of an operation and decodes its answer, per wire protocol.
enum ProtocolCodec {
    struct Encoded {
        var method: String
        var path: String
        var query: [(name: String, value: String)]
        var headers: [(name: String, value: String)]
        var body: [UInt8]
    }

    static func encode(_ op: AWSOperation, service: AWSService) -> Encoded {
        switch service.wireProtocol {
        case .query, .ec2:
            var items: [(String, String)] = [("Action", op.name)]
            if let v = service.apiVersion { items.append(("Version", v)) }
            if case .object(let params) = op.parameters {
                for key in params.keys.sorted() {
                    if let s = params[key]!.stringValue { items.append((key, s)) }
                }
            }
            // application/x-www-form-urlencoded as AWS query APIs expect: RFC 3986, as SigV4 encodes.
            let body = items.map { "\(SigV4Signer.uriEncode($0.0))=\(SigV4Signer.uriEncode($0.1))" }.joined(separator: "&")
            return Encoded(
                method: "POST", path: "/", query: [],
                headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")] + op.headers,
                body: Array(body.utf8))
        case .json:
            let target = "\(service.targetPrefix ?? service.id).\(op.name)"
            let body = op.parameters.serialized()
            return Encoded(
                method: "POST", path: "/", query: op.query,
                headers: [
                    ("Content-Type", "application/x-amz-json-\(service.jsonVersion ?? "1.1")"),
                    ("X-Amz-Target", target),
                ] + op.headers,
                body: Array(body.utf8))
        case .restXML, .restJSON:
            var body: [UInt8] = op.body
            var headers = op.headers
            if case .object(let o) = op.parameters, !o.isEmpty, service.wireProtocol == .restJSON {
                body = Array(op.parameters.serialized().utf8)
                headers.append(("Content-Type", "application/json"))
            }
            return Encoded(method: op.method, path: op.path, query: op.query, headers: headers, body: body)
        }
    }

    static func decode(_ response: HTTPResponse, op: AWSOperation, service: AWSService) throws -> JSONValue {
        if op.rawPayload {
            return .string(String(decoding: response.body, as: UTF8.self))
        }
        if response.body.isEmpty || response.body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            return .object([:])
        }
        switch service.wireProtocol {
        case .query:
            let tree = try parseXML(response)
            let envelope = tree["\(op.name)Response"]
            guard !envelope.isNull else {
                throw AWSResponseDecodingError(
                    detail: "expected <\(op.name)Response>, got <\(tree.objectValue?.keys.first ?? "?")>",
                    status: response.status)
            }
            let result = envelope["\(op.name)Result"]
            return result.isNull ? .object([:]) : (result.objectValue == nil ? .object([:]) : result)
        case .ec2, .restXML:
            let tree = try parseXML(response)
            guard case .object(let root) = tree, let content = root.values.first else {
                throw AWSResponseDecodingError(detail: "no root element", status: response.status)
            }
            return content
        case .json, .restJSON:
            do {
                return try JSONValue.parse(Data(response.body))
            } catch {
                throw AWSResponseDecodingError(detail: "malformed JSON body (\(response.body.count) bytes)", status: response.status)
            }
        }
    }

    static func parseXML(_ response: HTTPResponse) throws -> JSONValue {
        do {
            return try XMLTree.parse(response.body)
        } catch let error as XMLTree.ParseError {
            throw AWSResponseDecodingError(detail: error.description, status: response.status)
        }
    }
}
