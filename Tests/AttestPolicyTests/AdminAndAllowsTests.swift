import AttestCore
import Testing

@testable import AttestPolicy

@Suite("iam.isAdmin")
struct IsAdminTests {
    @Test func administratorAccessIsAdmin() throws {
        #expect(try IAMPolicyAnalysis.isAdmin(policy(Examples.administratorAccess)))
    }

    @Test(arguments: [
        (#"{"Effect": "Allow", "Action": "*:*", "Resource": "*"}"#, true),
        (#"{"Effect": "Allow", "Action": ["s3:GetObject", "*"], "Resource": ["arn:aws:s3:::b", "*"]}"#, true),
        // Conditions are ignored: a conditional admin grant is still reported.
        (#"{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}"#, true),
        (#"{"Effect": "Deny", "Action": "*", "Resource": "*"}"#, false),
        (#"{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::bucket/*"}"#, false),
        (#"{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}"#, false),
        (#"{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}"#, false),
        // Everything except S3 still includes iam:*, so it is admin.
        (#"{"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}"#, true),
        (#"{"Effect": "Allow", "NotAction": ["iam:*"], "Resource": "*"}"#, false),
        // Leaving out some IAM actions still leaves policy writing, so it is admin; leaving out those is not.
        (#"{"Effect": "Allow", "NotAction": ["iam:Delete*"], "Resource": "*"}"#, true),
        (#"{"Effect": "Allow", "NotAction": ["iam:Put*", "iam:Attach*", "iam:CreatePolicyVersion"], "Resource": "*"}"#, false),
        (#"{"Effect": "Allow", "NotAction": "s3:*", "Resource": "arn:aws:iam::*"}"#, true),
        (#"{"Effect": "Allow", "NotAction": "s3:*", "Resource": "arn:aws:ec2:*"}"#, false),
        (#"{"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:iam::*:user/*"}"#, true),
        // Everything on everything except one bucket.
        (#"{"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::secret/*"}"#, true),
        (#"{"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:iam::*"}"#, false),
        (#"{"Effect": "Allow", "NotAction": "iam:*", "NotResource": "arn:aws:s3:::x"}"#, false),
        // IAM on everything but one resource is broad, but not admin, like IAM on everything.
        (#"{"Effect": "Allow", "Action": "iam:*", "NotResource": "arn:aws:iam::111122223333:role/Admin"}"#, false),
    ])
    func statementShapes(_ text: String, _ expected: Bool) throws {
        #expect(try IAMPolicyAnalysis.isAdmin(statement(text)) == expected, "\(text)")
    }

    @Test func powerUserAccessIsNotAdmin() throws {
        #expect(try !IAMPolicyAnalysis.isAdmin(policy(Examples.powerUserAccess)))
    }

    @Test func aDenyDoesNotCancelTheAdminGrant() throws {
        let doc = try policy(
            #"""
            {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}, {"Effect": "Deny", "Action": "iam:*", "Resource": "*"}]}
            """#)
        #expect(try IAMPolicyAnalysis.isAdmin(doc))
    }
}

@Suite("iam.allows")
struct AllowsTests {
    @Test func actionsMatchCaseInsensitivelyWithWildcards() throws {
        let doc = try statement(#"{"Effect": "Allow", "Action": ["s3:Get*", "ec2:Describe?nstances"], "Resource": "*"}"#)
        #expect(try IAMPolicyAnalysis.allows(doc, action: "s3:GetObject", resource: "arn:aws:s3:::b/k"))
        #expect(try IAMPolicyAnalysis.allows(doc, action: "S3:GETOBJECT", resource: "arn:aws:s3:::b/k"))
        #expect(try IAMPolicyAnalysis.allows(doc, action: "ec2:DescribeInstances", resource: "*"))
        #expect(try !IAMPolicyAnalysis.allows(doc, action: "ec2:DescribeXXInstances", resource: "*"))
        #expect(try !IAMPolicyAnalysis.allows(doc, action: "s3:PutObject", resource: "arn:aws:s3:::b/k"))
        // The wildcard runs over the whole service:Action, not within a part.
        let across = try statement(#"{"Effect": "Allow", "Action": "s3*Object", "Resource": "*"}"#)
        #expect(try IAMPolicyAnalysis.allows(across, action: "s3:GetObject", resource: "*"))
    }

    @Test func resourcesMatchCaseSensitivelyWithWildcards() throws {
        let doc = try statement(#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::logs-???/2024/*"}"#)
        #expect(try IAMPolicyAnalysis.allows(doc, action: "s3:GetObject", resource: "arn:aws:s3:::logs-abc/2024/01/x.gz"))
        #expect(try !IAMPolicyAnalysis.allows(doc, action: "s3:GetObject", resource: "arn:aws:s3:::LOGS-abc/2024/01/x.gz"))
        #expect(try !IAMPolicyAnalysis.allows(doc, action: "s3:GetObject", resource: "arn:aws:s3:::logs-abcd/2024/x"))
        #expect(try !IAMPolicyAnalysis.allows(doc, action: "s3:GetObject", resource: "arn:aws:s3:::logs-abc/2023/x"))
    }

    @Test func notActionAndNotResource() throws {
        let doc = try statement(
            #"{"Effect": "Allow", "NotAction": "iam:*", "NotResource": ["arn:aws:s3:::secret", "arn:aws:s3:::secret/*"]}"#)
        #expect(try IAMPolicyAnalysis.allows(doc, action: "s3:GetObject", resource: "arn:aws:s3:::public/x"))
        #expect(try !IAMPolicyAnalysis.allows(doc, action: "IAM:CreateUser", resource: "*"))
        #expect(try !IAMPolicyAnalysis.allows(doc, action: "s3:GetObject", resource: "arn:aws:s3:::secret/x"))
    }

    @Test func anUnconditionalDenyOverrides() throws {
        let doc = try policy(
            #"""
            {"Statement": [
              {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
              {"Effect": "Deny", "Action": "s3:Delete*", "Resource": "arn:aws:s3:::prod-*"}
            ]}
            """#)
        #expect(try !IAMPolicyAnalysis.allows(doc, action: "s3:DeleteObject", resource: "arn:aws:s3:::prod-data/x"))
        #expect(try IAMPolicyAnalysis.allows(doc, action: "s3:DeleteObject", resource: "arn:aws:s3:::dev-data/x"))
        #expect(try IAMPolicyAnalysis.allows(doc, action: "s3:GetObject", resource: "arn:aws:s3:::prod-data/x"))
    }

    @Test func aConditionalDenyDoesNotOverrideAndAConditionalAllowCounts() throws {
        let doc = try policy(
            #"""
            {"Statement": [
              {"Effect": "Allow", "Action": "ec2:TerminateInstances", "Resource": "*",
               "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}},
              {"Effect": "Deny", "Action": "ec2:*", "Resource": "*",
               "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}}
            ]}
            """#)
        #expect(try IAMPolicyAnalysis.allows(doc, action: "ec2:TerminateInstances", resource: "arn:aws:ec2:eu-west-1:1:instance/i-1"))
    }

    @Test func aDenyForSomePrincipalsOnlyDoesNotOverride() throws {
        let doc = try policy(
            #"""
            {"Statement": [
              {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
              {"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::111122223333:role/Intern"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
              {"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:role/Admin"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}
            ]}
            """#)
        #expect(try IAMPolicyAnalysis.allows(doc, action: "s3:GetObject", resource: "arn:aws:s3:::b/k"))
        let everyone = try policy(
            #"""
            {"Statement": [
              {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
              {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*", "Resource": "*"}
            ]}
            """#)
        #expect(try !IAMPolicyAnalysis.allows(everyone, action: "s3:GetObject", resource: "arn:aws:s3:::b/k"))
    }

    @Test func policyVariablesWidenAllowsAndNarrowDenies() throws {
        let doc = try policy(
            #"""
            {"Statement": [
              {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::home/${aws:username}/*"},
              {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::home/${aws:username}/keep/*"}
            ]}
            """#)
        #expect(try IAMPolicyAnalysis.allows(doc, action: "s3:PutObject", resource: "arn:aws:s3:::home/alice/notes.txt"))
        #expect(try IAMPolicyAnalysis.allows(doc, action: "s3:DeleteObject", resource: "arn:aws:s3:::home/alice/keep/x"))
        #expect(try !IAMPolicyAnalysis.allows(doc, action: "s3:PutObject", resource: "arn:aws:s3:::other/alice/x"))
        // ${*} is a literal asterisk, not a wildcard.
        let literal = try statement(#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/${*}"}"#)
        #expect(try !IAMPolicyAnalysis.allows(literal, action: "s3:GetObject", resource: "arn:aws:s3:::b/k"))
        #expect(try !IAMPolicyAnalysis.allows(literal, action: "s3:GetObject", resource: "arn:aws:s3:::b/*"))
    }

    @Test func wildcardsCrossARNSegmentsForAllowsButNotForDenies() throws {
        let doc = try policy(
            #"""
            {"Statement": [
              {"Effect": "Allow", "Action": "logs:*", "Resource": "arn:aws:logs:*"},
              {"Effect": "Deny", "Action": "logs:DeleteLogGroup", "Resource": "arn:aws:logs:us-east-1*:log-group:prod"}
            ]}
            """#)
        #expect(
            try IAMPolicyAnalysis.allows(doc, action: "logs:PutLogEvents", resource: "arn:aws:logs:us-east-1:111122223333:log-group:app:*"))
        // The deny's `us-east-1*` stays within the region segment, so it does not reach the account's log group.
        #expect(
            try IAMPolicyAnalysis.allows(doc, action: "logs:DeleteLogGroup", resource: "arn:aws:logs:us-east-1:111122223333:log-group:prod")
        )
        #expect(try !IAMPolicyAnalysis.allows(doc, action: "logs:DeleteLogGroup", resource: "arn:aws:logs:us-east-1x:log-group:prod"))
    }

    @Test func aWildcardQueryMustBeCoveredWhole() throws {
        let read = try policy(Examples.s3ReadOnlyAccess)
        #expect(try IAMPolicyAnalysis.allows(read, action: "s3:Get*", resource: "*"))
        #expect(try !IAMPolicyAnalysis.allows(read, action: "s3:*", resource: "*"))
        #expect(try IAMPolicyAnalysis.allows(policy(Examples.administratorAccess), action: "iam:*", resource: "*"))
        #expect(try !IAMPolicyAnalysis.allows(read, action: "s3:PutObject", resource: "arn:aws:s3:::b/k"))
    }

    @Test func aTrustPolicyWithoutResourceAppliesToAnyResource() throws {
        let trust = try policy(Examples.ec2TrustPolicy)
        #expect(try IAMPolicyAnalysis.allows(trust, action: "sts:AssumeRole", resource: "arn:aws:iam::111122223333:role/r"))
        #expect(try !IAMPolicyAnalysis.allows(trust, action: "sts:AssumeRoleWithWebIdentity", resource: "*"))
    }

    @Test func powerUserAccessAllowsMostButNotIAM() throws {
        let doc = try policy(Examples.powerUserAccess)
        #expect(try IAMPolicyAnalysis.allows(doc, action: "ec2:RunInstances", resource: "*"))
        #expect(try IAMPolicyAnalysis.allows(doc, action: "iam:ListRoles", resource: "*"))
        #expect(try !IAMPolicyAnalysis.allows(doc, action: "iam:CreateUser", resource: "*"))
    }
}
