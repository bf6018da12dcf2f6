import AttestCore
import Testing

@testable import AttestPolicy

@Suite("iam.deniesInsecureTransport")
struct TransportTests {
    @Test func theAWSExamplePolicyDeniesHTTP() throws {
        let doc = try policy(Examples.denyInsecureTransport)
        #expect(try IAMPolicyAnalysis.deniesInsecureTransport(doc))
        #expect(try IAMPolicyAnalysis.deniesInsecureTransport(.string(urlEncoded(Examples.denyInsecureTransport))))
        #expect(try !IAMPolicyAnalysis.isPublic(doc))
    }

    func deny(principal: String = #""*""#, action: String = #""s3:*""#, condition: String) throws -> JSONValue {
        try statement(
            #"{"Effect": "Deny", "Principal": "# + principal + #", "Action": "# + action
                + #", "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"], "Condition": "# + condition + "}")
    }

    @Test(arguments: [
        (#"{"Bool": {"aws:SecureTransport": "false"}}"#, true),
        (#"{"Bool": {"aws:SecureTransport": false}}"#, true),
        (#"{"Bool": {"aws:securetransport": ["false"]}}"#, true),
        (#"{"BoolIfExists": {"aws:SecureTransport": "False"}}"#, true),
        (#"{"NumericLessThan": {"s3:TlsVersion": "1.2"}}"#, true),
        (#"{"NumericLessThan": {"s3:TlsVersion": 1.2}}"#, true),
        (#"{"NumericLessThan": {"s3:TlsVersion": "1.0"}}"#, false),
        (#"{"Bool": {"aws:SecureTransport": "true"}}"#, false),
        (#"{"Bool": {"aws:MultiFactorAuthPresent": "false"}}"#, false),
        (#"{"NumericGreaterThan": {"s3:TlsVersion": "1.2"}}"#, false),
        // A further condition narrows the deny to some insecure requests only.
        (#"{"Bool": {"aws:SecureTransport": "false"}, "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}"#, false),
    ])
    func conditions(_ condition: String, _ expected: Bool) throws {
        #expect(try IAMPolicyAnalysis.deniesInsecureTransport(deny(condition: condition)) == expected, "\(condition)")
    }

    @Test(arguments: [
        (#""*""#, #""s3:*""#, true),
        (#"{"AWS": "*"}"#, #""*""#, true),
        (#""*""#, #"["s3:GetObject", "s3:PutObject"]"#, true),
        (#""*""#, #""s3:*Object""#, true),
        (#""*""#, #""s3:GetObject""#, false),
        (#""*""#, #""s3:Get*""#, false),
        (#"{"AWS": "arn:aws:iam::111122223333:root"}"#, #""s3:*""#, false),
        (#"{"Service": "cloudtrail.amazonaws.com"}"#, #""s3:*""#, false),
    ])
    func principalsAndActions(_ principal: String, _ action: String, _ expected: Bool) throws {
        let doc = try deny(principal: principal, action: action, condition: #"{"Bool": {"aws:SecureTransport": "false"}}"#)
        #expect(try IAMPolicyAnalysis.deniesInsecureTransport(doc) == expected, "\(principal) \(action)")
    }

    @Test func notActionDenyCountsWhenItLeavesS3In() throws {
        let doc = try statement(
            #"{"Effect": "Deny", "Principal": "*", "NotAction": "kms:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}"#
        )
        #expect(try IAMPolicyAnalysis.deniesInsecureTransport(doc))
    }

    @Test func anAllowOrADenyWithoutPrincipalIsNotEnough() throws {
        let allow = try statement(
            #"{"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}"#
        )
        #expect(try !IAMPolicyAnalysis.deniesInsecureTransport(allow))
        let notPrincipal = try statement(
            #"{"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::1:root"}, "Action": "s3:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}"#
        )
        #expect(try !IAMPolicyAnalysis.deniesInsecureTransport(notPrincipal))
        #expect(try !IAMPolicyAnalysis.deniesInsecureTransport(policy(Examples.publicReadBucket)))
    }

    @Test func aPolicyWithOtherStatementsStillCounts() throws {
        let doc = try policy(
            #"""
            {"Statement": [
              {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"},
              {"Sid": "TLS", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*",
               "Condition": {"NumericLessThan": {"s3:TlsVersion": 1.2}}}
            ]}
            """#)
        #expect(try IAMPolicyAnalysis.deniesInsecureTransport(doc))
    }
}
