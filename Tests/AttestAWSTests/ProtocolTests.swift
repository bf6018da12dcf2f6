import AttestCore
import AttestHTTP
import Foundation
import Testing

@testable import AttestAWS

@Suite("XML decoding")
struct XMLTreeTests {
    @Test func repeatedElementsBecomeListsAndLeavesText() throws {
        let xml = """
            <?xml version="1.0"?><R xmlns="x"><Users><member><Name>a</Name></member><member><Name>b</Name></member></Users>
            <One><member><Name>c</Name></member></One><Empty/><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>u</URI></Grantee><![CDATA[ignored]]></R>
            """
        let tree = try XMLTree.parse(Array(xml.utf8))
        #expect(ValuePath("R.Users.member[].Name").values(in: tree) == ["a", "b"])
        #expect(ValuePath("R.One.member[].Name").values(in: tree) == ["c"])
        #expect(tree["R"]["Empty"] == "")
        #expect(tree["R"]["Grantee"]["_type"] == "Group")
    }

    @Test(arguments: [
        "<a><b></a>", "<a>", "not xml", "<a></a><b></b>", "", "<a>&undefined;</a>",
        "<?xml version=\"1.0\"?><!DOCTYPE a [<!ENTITY x \"boom\">]><a>&x;</a>",
    ])
    func malformedXMLIsAnError(_ text: String) {
        #expect(throws: XMLTree.ParseError.self) { try XMLTree.parse(Array(text.utf8)) }
    }
}

@Suite("Error shapes")
struct ErrorDecodingTests {
    func decode(_ status: Int, _ body: String, _ proto: AWSProtocol, headers: [(name: String, value: String)] = []) -> AWSServiceError {
        AWSErrorDecoder.decode(HTTPResponse(status: status, headers: headers, body: Array(body.utf8)), protocol: proto)
    }

    @Test func everyProtocolsShapeIsDecoded() {
        #expect(
            decode(
                404, "<ErrorResponse><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>m1</Message></Error></ErrorResponse>",
                .query)
                == AWSServiceError(code: "NoSuchEntity", message: "m1", status: 404))
        #expect(
            decode(
                400,
                "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>m2</Message></Error></Errors><RequestID>r</RequestID></Response>",
                .ec2
            ).code == "RequestLimitExceeded")
        #expect(decode(404, "<Error><Code>NoSuchBucketPolicy</Code><Message>m3</Message></Error>", .restXML).code == "NoSuchBucketPolicy")
        #expect(
            decode(400, #"{"__type":"com.amazonaws.kms#NotFoundException","message":"m4"}"#, .json)
                == AWSServiceError(code: "NotFoundException", message: "m4", status: 400))
        #expect(
            decode(400, #"{"Message":"m5"}"#, .restJSON, headers: [("x-amzn-ErrorType", "ResourceNotFoundException:http://internal/")]).code
                == "ResourceNotFoundException")
        #expect(decode(403, "", .restXML).code == "AccessDenied")
        #expect(
            decode(
                403,
                "<ErrorResponse><Errors><Error><Code>SignatureDoesNotMatch</Code><Message>m6</Message></Error></Errors></ErrorResponse>",
                .restJSON)
                == AWSServiceError(code: "SignatureDoesNotMatch", message: "m6", status: 403))
        #expect(decode(503, "\u{0}\u{1}garbage", .query).code == "ServiceUnavailable")
    }

    @Test func classification() {
        #expect(AWSServiceError(code: "SlowDown", message: "", status: 503).isThrottling)
        #expect(AWSServiceError(code: "x", message: "", status: 429).isThrottling)
        #expect(AWSServiceError(code: "InternalError", message: "", status: 500).isTransient)
        #expect(!AWSServiceError(code: "AccessDenied", message: "", status: 403).isTransient)
        #expect(AWSServiceError(code: "UnauthorizedOperation", message: "", status: 403).isAccessDenied)
    }
}

@Suite("Request encoding and endpoints")
struct EncodingEndpointTests {
    @Test func queryAndJSONRequestsAreEncodedAsTheProtocolsSay() {
        let iam = AWSService(id: "iam", wireProtocol: .query, apiVersion: "2010-05-08", isGlobal: true)
        let q = ProtocolCodec.encode(
            AWSOperation(
                name: "GetUserPolicy", region: "us-east-1",
                parameters: ["UserName": "a b", "PolicyName": "p/1+"]), service: iam)
        #expect(String(decoding: q.body, as: UTF8.self) == "Action=GetUserPolicy&Version=2010-05-08&PolicyName=p%2F1%2B&UserName=a%20b")
        let kms = AWSService(id: "kms", wireProtocol: .json, targetPrefix: "TrentService", jsonVersion: "1.1")
        let j = ProtocolCodec.encode(AWSOperation(name: "ListKeys", region: "eu-west-1", parameters: ["Limit": 10]), service: kms)
        #expect(j.headers.contains { $0.name == "X-Amz-Target" && $0.value == "TrentService.ListKeys" })
        #expect(j.headers.contains { $0.name == "Content-Type" && $0.value == "application/x-amz-json-1.1" })
        #expect(String(decoding: j.body, as: UTF8.self) == #"{"Limit":10}"#)
    }

    @Test func endpointsFollowTheSDKRules() throws {
        let plain = AWSEndpointResolver(environment: [:])
        let iam = AWSService(id: "iam", wireProtocol: .query, isGlobal: true)
        let s3control = AWSService(id: "s3-control", signingName: "s3", wireProtocol: .restXML)
        #expect(try plain.endpoint(for: .ec2, region: "eu-west-1").host == "ec2.eu-west-1.amazonaws.com")
        #expect(
            try plain.endpoint(for: iam, region: "eu-west-1")
                == AWSEndpoint(
                    scheme: "https", host: "iam.amazonaws.com", port: nil, basePath: "", signingRegion: "us-east-1", isCustom: false))
        #expect(try plain.endpoint(for: iam, region: "cn-north-1").host == "iam.cn-north-1.amazonaws.com.cn")
        #expect(try plain.endpoint(for: iam, region: "us-gov-east-1").signingRegion == "us-gov-west-1")
        #expect(AWSEndpointResolver.environmentVariable(for: s3control) == "AWS_ENDPOINT_URL_S3_CONTROL")

        let custom = AWSEndpointResolver(environment: [
            "AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_ENDPOINT_URL_EC2": "https://vpce.example:8443/base",
        ])
        #expect(try custom.endpoint(for: .sts, region: "us-east-1").origin == "http://127.0.0.1:4566")
        let ec2 = try custom.endpoint(for: .ec2, region: "us-east-1")
        #expect(ec2.origin == "https://vpce.example:8443" && ec2.basePath == "/base" && ec2.isCustom)
        let ignored = AWSEndpointResolver(environment: ["AWS_ENDPOINT_URL": "http://x:1", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"])
        #expect(try !ignored.endpoint(for: .sts, region: "us-east-1").isCustom)
        #expect(throws: AWSEndpointResolver.ConfigurationError.self) {
            try AWSEndpointResolver(environment: ["AWS_ENDPOINT_URL": "not a url"]).endpoint(for: .sts, region: "us-east-1")
        }
    }

    @Test func s3AddressingIsVirtualHostedOnAWSAndPathStyleElsewhere() throws {
        let client = AWSClient(
            transport: AsyncHTTPClientTransport(),
            credentials: StaticCredentialProvider(
                AWSCredentials(accessKeyId: "a", secretAccessKey: "b", source: "t")))
        let aws = AWSEndpoint(
            scheme: "https", host: "s3.eu-west-1.amazonaws.com", port: nil, basePath: "", signingRegion: "eu-west-1", isCustom: false)
        let local = AWSEndpoint(scheme: "http", host: "127.0.0.1", port: 9000, basePath: "", signingRegion: "eu-west-1", isCustom: true)
        let op = AWSOperation(name: "GetBucketPolicy", region: "eu-west-1", bucket: "my-bucket")
        #expect(client.address(op, endpoint: aws, encodedPath: "/") == ("my-bucket.s3.eu-west-1.amazonaws.com", "/"))
        #expect(client.address(op, endpoint: local, encodedPath: "/") == ("127.0.0.1", "/my-bucket"))
        let dotted = AWSOperation(name: "GetBucketPolicy", region: "eu-west-1", bucket: "my.bucket")
        #expect(client.address(dotted, endpoint: aws, encodedPath: "/") == ("s3.eu-west-1.amazonaws.com", "/my.bucket"))
        let control = AWSOperation(name: "GetPublicAccessBlock", region: "us-east-1", hostPrefix: "123456789012.")
        #expect(client.address(control, endpoint: aws, encodedPath: "/v").host == "123456789012.s3.eu-west-1.amazonaws.com")
        #expect(client.address(control, endpoint: local, encodedPath: "/v").host == "127.0.0.1")
    }
}
