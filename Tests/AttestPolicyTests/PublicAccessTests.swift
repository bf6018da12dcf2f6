import AttestCore
import Foundation
import Testing

@testable import AttestPolicy

@Suite("iam.isPublic and iam.allowsPublic")
struct PublicAccessTests {
    /// An `Allow` of s3:GetObject on a bucket's objects to `principal`, with an optional condition.
    func grant(_ principal: String, condition: String? = nil) throws -> JSONValue {
        let cond = condition.map { #", "Condition": "# + $0 } ?? ""
        return try statement(
            #"{"Effect": "Allow", "Principal": "# + principal
                + #", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*""# + cond + "}")
    }

    @Test(arguments: [
        (#""*""#, true),
        (#"{"AWS": "*"}"#, true),
        (#"{"AWS": ["arn:aws:iam::111122223333:root", "*"]}"#, true),
        (#"{"CanonicalUser": "*"}"#, true),
        (#"{"AWS": "arn:aws:iam::111122223333:root"}"#, false),
        (#"{"AWS": ["111122223333", "444455556666"]}"#, false),
        (#"{"Service": "cloudtrail.amazonaws.com"}"#, false),
        (#"{"Service": ["logging.s3.amazonaws.com", "delivery.logs.amazonaws.com"]}"#, false),
        (#"{"Federated": "cognito-identity.amazonaws.com"}"#, false),
    ])
    func principals(_ principal: String, _ expected: Bool) throws {
        #expect(try IAMPolicyAnalysis.isPublic(grant(principal)) == expected, "\(principal)")
        #expect(try IAMPolicyAnalysis.allowsPublic(grant(principal), action: "s3:GetObject") == expected, "\(principal)")
    }

    @Test func notPrincipalWithAllowIsPublic() throws {
        let doc = try statement(
            #"{"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:user/Bob"}, "Action": "s3:*", "Resource": "*"}"#)
        #expect(try IAMPolicyAnalysis.isPublic(doc))
        #expect(try IAMPolicyAnalysis.allowsPublic(doc, action: "s3:GetObject"))
    }

    @Test func anIdentityPolicyIsNotPublicAndADenyIsNeverPublic() throws {
        #expect(try !IAMPolicyAnalysis.isPublic(policy(Examples.administratorAccess)))
        #expect(try !IAMPolicyAnalysis.isPublic(statement(#"{"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}"#)))
    }

    @Test(arguments: [
        // Conditions that pin the caller.
        (#"{"StringEquals": {"aws:SourceAccount": "111122223333"}}"#, false),
        (#"{"StringEquals": {"AWS:SOURCEACCOUNT": "111122223333"}}"#, false),
        (#"{"StringEquals": {"aws:SourceOwner": "111122223333"}}"#, false),
        (#"{"ArnLike": {"aws:SourceArn": "arn:aws:cloudtrail:*:111122223333:trail/*"}}"#, false),
        (#"{"ArnEquals": {"aws:SourceArn": "arn:aws:s3:::my-source-bucket"}}"#, false),
        (#"{"StringEquals": {"aws:PrincipalAccount": ["111122223333", "444455556666"]}}"#, false),
        (#"{"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}"#, false),
        (#"{"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/*"}}"#, false),
        (#"{"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/app-*"}}"#, false),
        (#"{"StringEquals": {"aws:SourceVpc": "vpc-111bbb22"}}"#, false),
        (#"{"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}"#, false),
        (#"{"StringEquals": {"kms:CallerAccount": "111122223333"}}"#, false),
        (#"{"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}"#, false),
        (#"{"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.1.0/24", "fd00::/8"]}}"#, false),
        (#"{"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}"#, false),
        (#"{"IpAddress": {"aws:SourceIp": "198.51.100.7"}}"#, false),
        // Pinning alongside unrelated conditions still pins.
        (#"{"Bool": {"aws:SecureTransport": "true"}, "StringEquals": {"aws:SourceAccount": "111122223333"}}"#, false),
        // Conditions that do not.
        (#"{"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}"#, true),
        (#"{"Bool": {"aws:SecureTransport": "true"}}"#, true),
        (#"{"StringLike": {"aws:Referer": "https://example.com/*"}}"#, true),
        (#"{"StringEquals": {"aws:SourceAccount": "*"}}"#, true),
        (#"{"StringLike": {"aws:PrincipalOrgID": ["o-a1b2c3d4e5", "*"]}}"#, true),
        (#"{"ArnLike": {"aws:SourceArn": "*"}}"#, true),
        (#"{"ArnLike": {"aws:SourceArn": "arn:aws:sns:us-east-1:*:topic"}}"#, true),
        (#"{"ArnLike": {"aws:PrincipalArn": "arn:aws:s3:::*"}}"#, true),
        (#"{"StringEqualsIfExists": {"aws:SourceAccount": "*"}}"#, true),
        (#"{"StringEqualsIfExists": {"aws:SourceAccount": "111122223333"}}"#, true),
        (#"{"ForAllValues:StringEquals": {"aws:PrincipalOrgPaths": "o-a1b2c3d4e5/*"}}"#, true),
        (#"{"StringNotEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}"#, true),
        (#"{"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}"#, true),
        (#"{"IpAddress": {"aws:SourceIp": "::/0"}}"#, true),
        (#"{"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "0.0.0.0/0"]}}"#, true),
        (#"{"IpAddress": {"aws:SourceIp": ["0.0.0.0/1", "128.0.0.0/1"]}}"#, true),
        (#"{"IpAddress": {"aws:SourceIp": "*"}}"#, true),
        (#"{"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}"#, true),
    ])
    func conditions(_ condition: String, _ expected: Bool) throws {
        #expect(try IAMPolicyAnalysis.isPublic(grant(#""*""#, condition: condition)) == expected, "\(condition)")
        #expect(
            try IAMPolicyAnalysis.allowsPublic(grant(#""*""#, condition: condition), action: "s3:GetObject") == expected, "\(condition)")
    }

    @Test func publicReadBucket() throws {
        let doc = try policy(Examples.publicReadBucket)
        #expect(try IAMPolicyAnalysis.isPublic(doc))
        #expect(try IAMPolicyAnalysis.allowsPublic(doc, action: "s3:GetObject"))
        #expect(try IAMPolicyAnalysis.allowsPublic(doc, action: "S3:getobjectversion"))
        #expect(try !IAMPolicyAnalysis.allowsPublic(doc, action: "s3:PutObject"))
        #expect(try IAMPolicyAnalysis.allowsPublic(doc, action: "s3:Get*") == false)
    }

    @Test func bucketPoliciesRestrictedToAVpcEndpoint() throws {
        let deny = try policy(Examples.bucketDenyOutsideVpce)
        #expect(try !IAMPolicyAnalysis.isPublic(deny))
        #expect(try !IAMPolicyAnalysis.deniesInsecureTransport(deny))
        let allow = try policy(Examples.bucketAllowFromVpce)
        #expect(try !IAMPolicyAnalysis.isPublic(allow))
        #expect(try !IAMPolicyAnalysis.allowsPublic(allow, action: "s3:GetObject"))
        #expect(try IAMPolicyAnalysis.allows(allow, action: "s3:GetObject", resource: "arn:aws:s3:::awsexamplebucket1/k"))
    }

    @Test func cloudTrailBucketPolicy() throws {
        let doc = try policy(Examples.cloudTrailBucket)
        #expect(try !IAMPolicyAnalysis.isPublic(doc))
        #expect(try !IAMPolicyAnalysis.allowsPublic(doc, action: "s3:PutObject"))
        #expect(
            try IAMPolicyAnalysis.allows(doc, action: "s3:PutObject", resource: "arn:aws:s3:::amzn-s3-demo-bucket/AWSLogs/111111111111/x"))
        // The same grant to "*" is still kept to the trail by aws:SourceArn.
        let star = try policy(
            Examples.cloudTrailBucket.replacingOccurrences(of: #"{"Service": "cloudtrail.amazonaws.com"}"#, with: #""*""#))
        #expect(try !IAMPolicyAnalysis.isPublic(star))
        // Without the condition it is public.
        let open = try policy(
            #"""
            {"Statement": {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:PutObject",
              "Resource": "arn:aws:s3:::amzn-s3-demo-bucket/AWSLogs/111111111111/*"}}
            """#)
        #expect(try IAMPolicyAnalysis.isPublic(open))
    }

    @Test func kmsDefaultKeyPolicyAndLambdaFunctionURL() throws {
        #expect(try !IAMPolicyAnalysis.isPublic(policy(Examples.kmsDefaultKeyPolicy)))
        let url = try policy(Examples.lambdaFunctionURLPublic)
        #expect(try IAMPolicyAnalysis.isPublic(url))
        #expect(try IAMPolicyAnalysis.allowsPublic(url, action: "lambda:InvokeFunctionUrl"))
        #expect(try !IAMPolicyAnalysis.allowsPublic(url, action: "lambda:InvokeFunction"))
    }

    @Test func allowsPublicLooksOnlyAtStatementsForTheAction() throws {
        let doc = try policy(
            #"""
            {"Statement": [
              {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
              {"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/*",
               "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}},
              {"Effect": "Allow", "Principal": "*", "NotAction": "s3:Delete*", "Resource": "arn:aws:s3:::other/*",
               "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}
            ]}
            """#)
        #expect(try IAMPolicyAnalysis.allowsPublic(doc, action: "s3:GetObject"))
        #expect(try !IAMPolicyAnalysis.allowsPublic(doc, action: "s3:PutObject"))
        #expect(try !IAMPolicyAnalysis.allowsPublic(doc, action: "s3:ListBucket"))
    }

    @Test func anUnconditionalDenyForEveryoneTakesPublicAccessAway() throws {
        let denied = try policy(
            #"""
            {"Statement": [
              {"Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::b/*"},
              {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/*"}
            ]}
            """#)
        #expect(try IAMPolicyAnalysis.allowsPublic(denied, action: "s3:GetObject"))
        #expect(try !IAMPolicyAnalysis.allowsPublic(denied, action: "s3:PutObject"))
        #expect(try IAMPolicyAnalysis.isPublic(denied))  // GetObject is still public

        let all = try policy(
            #"""
            {"Statement": [
              {"Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::b/*"},
              {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"}
            ]}
            """#)
        #expect(try !IAMPolicyAnalysis.isPublic(all))
        #expect(try !IAMPolicyAnalysis.allowsPublic(all, action: "s3:GetObject"))
    }

    @Test func aDenyThatDoesNotCoverEverythingLeavesThePublicIn() throws {
        let doc = try policy(
            #"""
            {"Statement": [
              {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
              {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/private/*"},
              {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*",
               "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
              {"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "s3:*", "Resource": "*"}
            ]}
            """#)
        #expect(try IAMPolicyAnalysis.isPublic(doc))
        #expect(try IAMPolicyAnalysis.allowsPublic(doc, action: "s3:GetObject"))
    }
}
