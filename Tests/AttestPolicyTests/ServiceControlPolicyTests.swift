import AttestCore
import Testing

@testable import AttestPolicy

@Suite("Service control policies through root, OUs and account")
struct ServiceControlPolicyTests {
    static let fullAccess = #"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}"#
    static let denyLeave = #"{"Statement": [{"Effect": "Deny", "Action": "organizations:LeaveOrganization", "Resource": "*"}]}"#

    func doc(_ text: String) throws -> JSONValue { try JSONValue.parse(text) }

    func denies(_ levels: [[String]], _ action: String, _ context: [String: [String]] = [:]) throws -> Bool {
        try ServiceControlPolicies.denies(
            levels: levels.map { try $0.map(doc) }, request: PolicyRequest(action: action, context: context))
    }

    @Test func fullAccessEverywhereDeniesNothing() throws {
        let full = Self.fullAccess
        #expect(try !denies([[full], [full], [full]], "organizations:LeaveOrganization"))
    }

    @Test func aDenyAtAnyLevelWins() throws {
        let full = Self.fullAccess
        for level in 0..<3 {
            var levels = [[full], [full], [full]]
            levels[level].append(Self.denyLeave)
            #expect(try denies(levels, "organizations:LeaveOrganization"), "deny at level \(level)")
            #expect(try !denies(levels, "s3:GetObject"), "the deny is about one action")
        }
        // Actions are case-insensitive.
        #expect(try denies([[full, Self.denyLeave]], "Organizations:leaveorganization"))
    }

    @Test func aLevelWithoutAnAllowDeniesByOmission() throws {
        let full = Self.fullAccess
        let allowList = #"{"Statement": [{"Effect": "Allow", "Action": ["ec2:*", "s3:*"], "Resource": "*"}]}"#
        // An allow-list OU without FullAWSAccess: only what it lists gets through.
        #expect(try denies([[full], [allowList], [full]], "organizations:LeaveOrganization"))
        #expect(try !denies([[full], [allowList], [full]], "ec2:RunInstances"))
        // An account whose FullAWSAccess was detached and nothing attached: everything is denied.
        #expect(try denies([[full], [full], []], "s3:GetObject"))
        // A wildcard query asks about every action it stands for: only some are allowed, so not all are denied.
        #expect(try !denies([[full], [allowList]], "s3:*"))
        #expect(try denies([[full], [allowList]], "guardduty:*"))
    }

    @Test func aDenyOfEveryActionAQueryStandsFor() throws {
        let full = Self.fullAccess
        let denySome = #"{"Statement": [{"Effect": "Deny", "Action": ["guardduty:Delete*", "guardduty:Disassociate*"], "Resource": "*"}]}"#
        #expect(try denies([[full, denySome]], "guardduty:DeleteDetector"))
        #expect(try denies([[full, denySome]], "guardduty:Delete*"))
        #expect(try !denies([[full, denySome]], "guardduty:*"), "UpdateDetector is not denied")
        let denyAllBut = #"{"Statement": [{"Effect": "Deny", "NotAction": ["iam:*", "sts:*"], "Resource": "*"}]}"#
        #expect(try denies([[full, denyAllBut]], "ec2:RunInstances"))
        #expect(try !denies([[full, denyAllBut]], "iam:CreateUser"))
    }

    @Test func aDenyOnSomeResourcesIsNotADenyOfTheAction() throws {
        let full = Self.fullAccess
        let narrow = #"{"Statement": [{"Effect": "Deny", "Action": "s3:PutBucketPolicy", "Resource": "arn:aws:s3:::logs"}]}"#
        #expect(try !denies([[full, narrow]], "s3:PutBucketPolicy"))
    }

    @Test func conditionsAreEvaluatedAgainstTheRequestKeys() throws {
        let full = Self.fullAccess
        let regions = #"""
            {"Statement": [{"Effect": "Deny", "NotAction": ["iam:*", "sts:*"], "Resource": "*",
              "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1", "eu-central-1"]}}}]}
            """#
        #expect(try denies([[full, regions]], "ec2:RunInstances", ["aws:RequestedRegion": ["us-east-1"]]))
        #expect(try !denies([[full, regions]], "ec2:RunInstances", ["aws:RequestedRegion": ["eu-west-1"]]))
        // Condition keys are case-insensitive; a negated operator on a key the request lacks holds.
        #expect(try denies([[full, regions]], "ec2:RunInstances", ["AWS:requestedregion": ["ap-east-1"]]))
        #expect(try denies([[full, regions]], "ec2:RunInstances"))

        let root = #"""
            {"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*",
              "Condition": {"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}}}]}
            """#
        #expect(try denies([[full, root]], "iam:CreateAccessKey", ["aws:PrincipalArn": ["arn:aws:iam::111122223333:root"]]))
        #expect(try !denies([[full, root]], "iam:CreateAccessKey", ["aws:PrincipalArn": ["arn:aws:iam::111122223333:role/Admin"]]))
        // A positive operator on a key the request lacks does not hold: not known to be denied.
        #expect(try !denies([[full, root]], "iam:CreateAccessKey"))

        let breakGlass = #"""
            {"Statement": [{"Effect": "Deny", "Action": "cloudtrail:StopLogging", "Resource": "*",
              "Condition": {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/BreakGlass"}}}]}
            """#
        #expect(try denies([[full, breakGlass]], "cloudtrail:StopLogging"))
        #expect(try !denies([[full, breakGlass]], "cloudtrail:StopLogging", ["aws:PrincipalArn": ["arn:aws:iam::1:role/BreakGlass"]]))
    }

    @Test func setOperatorsIfExistsAndNull() throws {
        let full = Self.fullAccess
        func deny(_ condition: String) -> String {
            #"{"Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*", "Condition": \#(condition)}]}"#
        }
        let ifExists = deny(#"{"StringNotEqualsIfExists": {"aws:RequestedRegion": "eu-west-1"}}"#)
        #expect(try denies([[full, ifExists]], "s3:GetObject"))
        #expect(try !denies([[full, ifExists]], "s3:GetObject", ["aws:RequestedRegion": ["eu-west-1"]]))
        let null = deny(#"{"Null": {"aws:MultiFactorAuthAge": "true"}}"#)
        #expect(try denies([[full, null]], "s3:GetObject"))
        #expect(try !denies([[full, null]], "s3:GetObject", ["aws:MultiFactorAuthAge": ["30"]]))
        let any = deny(#"{"ForAnyValue:StringEquals": {"aws:TagKeys": ["secret", "pii"]}}"#)
        #expect(try denies([[full, any]], "s3:PutObject", ["aws:TagKeys": ["team", "pii"]]))
        #expect(try !denies([[full, any]], "s3:PutObject", ["aws:TagKeys": ["team"]]))
        #expect(try !denies([[full, any]], "s3:PutObject"), "ForAnyValue on a missing key does not hold")
        let all = deny(#"{"ForAllValues:StringNotLike": {"aws:TagKeys": "approved-*"}}"#)
        #expect(try denies([[full, all]], "s3:PutObject", ["aws:TagKeys": ["team"]]))
        #expect(try !denies([[full, all]], "s3:PutObject", ["aws:TagKeys": ["approved-a", "team"]]))
        let numeric = deny(#"{"NumericGreaterThan": {"aws:MultiFactorAuthAge": "3600"}}"#)
        #expect(try denies([[full, numeric]], "s3:GetObject", ["aws:MultiFactorAuthAge": ["7200"]]))
        #expect(try !denies([[full, numeric]], "s3:GetObject", ["aws:MultiFactorAuthAge": ["60"]]))
    }

    @Test func whatAttestCannotEvaluateIsNeverADeny() throws {
        let full = Self.fullAccess
        // A date, an IP range, a policy variable: unknown, so the Deny is not known to apply...
        for condition in [
            #"{"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}"#,
            #"{"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}"#,
            #"{"StringNotEquals": {"aws:PrincipalTag/team": "${aws:PrincipalAccount}"}}"#,
            #"{"SomeFutureOperator": {"aws:RequestedRegion": "eu-west-1"}}"#,
        ] {
            let policy = #"{"Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*", "Condition": \#(condition)}]}"#
            let context = ["aws:SourceIp": ["198.51.100.1"], "aws:CurrentTime": ["2026-01-01T00:00:00Z"], "aws:PrincipalTag/team": ["a"]]
            #expect(try !denies([[full, policy]], "s3:GetObject", context), "\(condition)")
            // ...and an Allow whose condition is unknown may still apply, so it is no denial by omission.
            let allow = #"{"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": \#(condition)}]}"#
            #expect(try !denies([[full], [allow]], "s3:GetObject", context), "\(condition)")
        }
        // An Allow whose condition certainly fails does not apply.
        let allowEU =
            #"{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}}]}"#
        #expect(try denies([[full], [allowEU]], "ec2:RunInstances", ["aws:RequestedRegion": ["us-east-1"]]))
    }

    @Test func aMalformedPolicyIsAnError() throws {
        #expect(throws: PolicyDocumentError.self) {
            try denies([[#"{"Statement": [{"Effect": "Maybe", "Action": "*"}]}"#]], "s3:GetObject")
        }
    }
}
