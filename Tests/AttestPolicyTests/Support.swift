import AttestCore
import Foundation

/// A policy document from JSON text written in a test.
func policy(_ text: String) throws -> JSONValue { try JSONValue.parse(text) }

/// A one-statement policy from the statement's JSON text.
func statement(_ text: String) throws -> JSONValue {
    try JSONValue.parse(#"{"Version": "2012-10-17", "Statement": "# + text + "}")
}

/// Real AWS policies, as published in the AWS documentation and managed policies.
enum Examples {
    static let administratorAccess = #"""
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        """#

    static let powerUserAccess = #"""
        {
          "Version": "2012-10-17",
          "Statement": [
            {"Effect": "Allow", "NotAction": ["iam:*", "organizations:*", "account:*"], "Resource": "*"},
            {"Effect": "Allow", "Action": ["iam:CreateServiceLinkedRole", "iam:DeleteServiceLinkedRole", "iam:ListRoles",
              "organizations:DescribeOrganization", "account:ListRegions", "account:GetAccountInformation"], "Resource": "*"}
          ]
        }
        """#

    static let s3ReadOnlyAccess = #"""
        {
          "Version": "2012-10-17",
          "Statement": [{"Effect": "Allow",
            "Action": ["s3:Get*", "s3:List*", "s3:Describe*", "s3-object-lambda:Get*", "s3-object-lambda:List*"],
            "Resource": "*"}]
        }
        """#

    /// "Restricting access to a specific VPC endpoint" (S3 user guide).
    static let bucketDenyOutsideVpce = #"""
        {
          "Version": "2012-10-17",
          "Id": "Policy1415115909152",
          "Statement": [
            {
              "Sid": "Access-to-specific-VPCE-only",
              "Principal": "*",
              "Action": "s3:*",
              "Effect": "Deny",
              "Resource": ["arn:aws:s3:::awsexamplebucket1", "arn:aws:s3:::awsexamplebucket1/*"],
              "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}
            }
          ]
        }
        """#

    /// A read grant to everyone, but only through one VPC endpoint.
    static let bucketAllowFromVpce = #"""
        {
          "Version": "2012-10-17",
          "Statement": [
            {
              "Sid": "ReadThroughEndpoint",
              "Effect": "Allow",
              "Principal": "*",
              "Action": ["s3:GetObject", "s3:ListBucket"],
              "Resource": ["arn:aws:s3:::awsexamplebucket1", "arn:aws:s3:::awsexamplebucket1/*"],
              "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}
            }
          ]
        }
        """#

    /// The CloudTrail bucket policy (CloudTrail user guide), with aws:SourceArn.
    static let cloudTrailBucket = #"""
        {
          "Version": "2012-10-17",
          "Statement": [
            {
              "Sid": "AWSCloudTrailAclCheck20150319",
              "Effect": "Allow",
              "Principal": {"Service": "cloudtrail.amazonaws.com"},
              "Action": "s3:GetBucketAcl",
              "Resource": "arn:aws:s3:::amzn-s3-demo-bucket",
              "Condition": {"StringEquals": {"aws:SourceArn": "arn:aws:cloudtrail:us-east-1:111111111111:trail/myTrailName"}}
            },
            {
              "Sid": "AWSCloudTrailWrite20150319",
              "Effect": "Allow",
              "Principal": {"Service": "cloudtrail.amazonaws.com"},
              "Action": "s3:PutObject",
              "Resource": "arn:aws:s3:::amzn-s3-demo-bucket/AWSLogs/111111111111/*",
              "Condition": {"StringEquals": {
                "s3:x-amz-acl": "bucket-owner-full-control",
                "aws:SourceArn": "arn:aws:cloudtrail:us-east-1:111111111111:trail/myTrailName"}}
            }
          ]
        }
        """#

    /// "RestrictToTLSRequestsOnly" (S3 user guide).
    static let denyInsecureTransport = #"""
        {
          "Version": "2012-10-17",
          "Statement": [{
            "Sid": "RestrictToTLSRequestsOnly",
            "Action": "s3:*",
            "Effect": "Deny",
            "Resource": ["arn:aws:s3:::amzn-s3-demo-bucket", "arn:aws:s3:::amzn-s3-demo-bucket/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Principal": "*"
          }]
        }
        """#

    static let publicReadBucket = #"""
        {
          "Version": "2012-10-17",
          "Statement": [{"Sid": "PublicRead", "Effect": "Allow", "Principal": "*",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"], "Resource": "arn:aws:s3:::amzn-s3-demo-bucket/*"}]
        }
        """#

    /// The default KMS key policy.
    static let kmsDefaultKeyPolicy = #"""
        {
          "Version": "2012-10-17",
          "Id": "key-default-1",
          "Statement": [{"Sid": "Enable IAM User Permissions", "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"}]
        }
        """#

    /// A Lambda function URL open to anyone (AuthType NONE).
    static let lambdaFunctionURLPublic = #"""
        {
          "Version": "2012-10-17",
          "Id": "default",
          "Statement": [{"Sid": "FunctionURLAllowPublicAccess", "Effect": "Allow", "Principal": "*",
            "Action": "lambda:InvokeFunctionUrl",
            "Resource": "arn:aws:lambda:us-east-1:111122223333:function:my-function",
            "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}}]
        }
        """#

    static let ec2TrustPolicy = #"""
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
        """#
}

/// Percent-encodes text the way IAM returns policy documents (RFC 3986 unreserved characters kept).
func urlEncoded(_ text: String) -> String {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    return text.addingPercentEncoding(withAllowedCharacters: allowed)!
}
