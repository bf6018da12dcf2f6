public import AttestCore

/// Questions about AWS IAM policy documents (identity policies, trust policies and resource policies such as
/// S3 bucket, KMS key and Lambda policies), answered without a request context and leaning towards
/// reporting a problem when the document alone cannot settle it.
///
/// Every function takes the document as it appears in the inventory:
/// - a JSON object (`{"Version": …, "Statement": …}`);
/// - a JSON string holding the policy text, either plain or URL-encoded as IAM returns it
///   (`%7B%22Version%22…`, where `+` may also stand for a space);
/// - `null`, read as "no policy": it allows nothing, is not public and denies nothing.
///
/// A document of any other shape throws ``PolicyDocumentError``: a missing or malformed `Statement`,
/// an `Effect` other than `Allow`/`Deny`, a statement without `Action`/`NotAction`, both `Action` and
/// `NotAction` (likewise `Resource`/`NotResource`, `Principal`/`NotPrincipal`), element values that are not
/// strings or lists of strings, or a `Condition` that is not an object of objects. Element names are matched
/// case-insensitively; `Statement` and every element value may be a single item or a list.
///
/// Matching follows IAM: actions case-insensitively on the whole `service:Action` with `*` and `?`
/// wildcards; resources case-sensitively with the same wildcards. Where IAM's rules cannot be settled from
/// the document, the reading that reports more is taken: a wildcard in a resource may cross the `:` between
/// ARN segments when that widens an `Allow`, not when it widens a `Deny`, and a policy variable such as
/// `${aws:username}` matches anything in an `Allow` and nothing in a `Deny` (`${*}`, `${?}`, `${$}` are the
/// literal characters). A missing `Resource` (trust policies) applies to every resource.
///
/// An action or resource you pass may itself hold wildcards: it then stands for every name it matches, and a
/// statement matches only when it covers all of them (`allows(doc, "s3:*", "*")` asks for all of S3).
public enum IAMPolicyAnalysis: Sendable {
    /// True when some `Allow` statement grants every action on every resource.
    ///
    /// That is `Action` `*` or `*:*` with `Resource` `*` (or no `Resource`). Conditions, principals and
    /// `Deny` statements are ignored: a conditional or partly denied admin grant is still reported.
    ///
    /// An "everything except" grant counts too (a conservative reading), unless what it leaves out includes
    /// permission management: a `NotAction` `Allow`, or an `Allow` of every action with `NotResource`, that
    /// still lets its holder attach or write policies (`iam:AttachUserPolicy`/`PutUserPolicy` on all users,
    /// the group and role equivalents, or `iam:CreatePolicyVersion` on all policies, in some partition) is
    /// admin, because the holder can grant itself the rest.
    /// So `NotAction: "s3:*"` or `NotAction: "iam:Delete*"` on `*` is admin; AWS's `PowerUserAccess`
    /// (`NotAction` `iam:*`, `organizations:*`, `account:*`) is not.
    public static func isAdmin(_ document: JSONValue) throws -> Bool {
        let policy = try PolicyParser.parse(document)
        let everyAction = WildcardPattern("*:*")
        return policy.statements.contains { s in
            guard s.isAllow else { return false }
            let everything = s.coversAction(everyAction)
            if everything, s.coversResource("*", broad: true) { return true }
            // "Everything except": every action but some, or every action on every resource but some.
            let allBut: Bool
            switch (s.actions, s.resources) {
            case (.except, _): allBut = true
            case (_, .except): allBut = everything
            default: allBut = false
            }
            guard allBut else { return false }
            // A resource list may name one partition; an exclusion of IAM resources is taken to be about the
            // account's own partition, whichever it names.
            let partitions: [String]
            if case .except = s.resources { partitions = ["*"] } else { partitions = ["*", "aws", "aws-cn", "aws-us-gov"] }
            return permissionManagement.contains { action, type in
                s.coversAction(WildcardPattern(action, caseInsensitive: true))
                    && partitions.contains { s.coversResource("arn:\($0):iam::*:\(type)/*", broad: true) }
            }
        }
    }

    /// True when some `Allow` statement matches `action` and `resource` (through `Action` or `NotAction`,
    /// `Resource` or `NotResource`, wildcards included) and no unconditional `Deny` that applies to every
    /// caller matches both.
    ///
    /// Conservative readings: an `Allow` with conditions still counts as allowing; principals of an `Allow`
    /// are ignored; a `Deny` with a `Condition`, or one naming particular principals (or using `NotPrincipal`)
    /// does not take the permission away. A `Deny` without a principal element (an identity policy) applies to
    /// every caller.
    public static func allows(_ document: JSONValue, action: String, resource: String) throws -> Bool {
        let policy = try PolicyParser.parse(document)
        let actionQuery = WildcardPattern(action, caseInsensitive: true)
        func matches(_ s: Statement, broad: Bool) -> Bool {
            s.coversAction(actionQuery) && s.coversResource(resource, broad: broad)
        }
        guard policy.statements.contains(where: { $0.isAllow && matches($0, broad: true) }) else { return false }
        return !policy.statements.contains { $0.isBlanketDeny && matches($0, broad: false) }
    }

    /// True when some `Allow` statement grants to any principal and nothing keeps the public out.
    ///
    /// A statement grants to any principal when its `Principal` is `"*"`, or names `"*"` for a principal type
    /// (`{"AWS": "*"}`, `{"AWS": ["*", …]}`), or it uses `NotPrincipal`. A principal such as
    /// `{"Service": "cloudtrail.amazonaws.com"}` is not public.
    ///
    /// It is not public when a condition pins the caller (condition keys are case-insensitive):
    /// `StringEquals`/`StringEqualsIgnoreCase`/`StringLike`/`ArnEquals`/`ArnLike` (optionally `ForAnyValue:`)
    /// on `aws:SourceAccount`, `aws:SourceOwner`, `aws:SourceArn`, `aws:PrincipalAccount`, `aws:PrincipalOrgID`,
    /// `aws:PrincipalOrgPaths`, `aws:PrincipalArn`, `aws:SourceOrgID`, `aws:SourceOrgPaths`, `aws:SourceVpc`,
    /// `aws:SourceVpce`, `kms:CallerAccount` or `kms:ViaService`, with values that are not only wildcards (an
    /// ARN must name an account, or a resource when it has no account field), or `IpAddress` on
    /// `aws:SourceIp` when every range is private or no wider than IPv4 /8 or IPv6 /32. Not pinning:
    /// `…IfExists` and `ForAllValues:` operators (true when the key is absent, as it is for anonymous callers),
    /// negated operators, and other keys such as `lambda:FunctionUrlAuthType` or `aws:SecureTransport`.
    ///
    /// It is not public either when unconditional `Deny` statements for every caller cover all of the
    /// statement's actions on all of its resources.
    public static func isPublic(_ document: JSONValue) throws -> Bool {
        let policy = try PolicyParser.parse(document)
        return policy.statements.contains { s in
            isPubliclyGranting(s) && !s.actionQueries.allSatisfy { takenAway(action: $0, from: s, in: policy) }
        }
    }

    /// Like ``isPublic(_:)``, limited to `Allow` statements that match `action` (all of it, when `action` holds
    /// wildcards); an unconditional `Deny` for every caller that matches `action` on all of the statement's
    /// resources takes the grant away.
    public static func allowsPublic(_ document: JSONValue, action: String) throws -> Bool {
        let policy = try PolicyParser.parse(document)
        let query = WildcardPattern(action, caseInsensitive: true)
        return policy.statements.contains { s in
            isPubliclyGranting(s) && s.coversAction(query) && !takenAway(action: query, from: s, in: policy)
        }
    }

    /// True when a `Deny` statement refuses requests that do not use TLS.
    ///
    /// The statement must name every principal (`"*"` or `{"AWS": "*"}`), cover `s3:*` (by `s3:*`, `*`,
    /// a `NotAction` that leaves S3 alone, …) or at least both `s3:GetObject` and `s3:PutObject`, and have exactly
    /// one condition: `Bool` or `BoolIfExists` `aws:SecureTransport` with the value `false` (string or boolean),
    /// or `NumericLessThan`(`IfExists`) `s3:TlsVersion` with a version above 1.0. A further condition would
    /// narrow the deny to some insecure requests only, so it is not credited. The statement's `Resource` is
    /// not checked.
    public static func deniesInsecureTransport(_ document: JSONValue) throws -> Bool {
        let policy = try PolicyParser.parse(document)
        let allS3 = WildcardPattern("s3:*")
        let objectActions = [WildcardPattern("s3:getobject"), WildcardPattern("s3:putobject")]
        return policy.statements.contains { s in
            guard s.effect == .deny, case .only(everyone: true) = s.principals, s.conditions.count == 1 else { return false }
            guard s.coversAction(allS3) || objectActions.allSatisfy(s.coversAction) else { return false }
            return refusesInsecureTransport(s.conditions[0])
        }
    }

    // MARK: - Helpers

    /// Actions that let their holder give itself any permission, with the resources they act on.
    private static let permissionManagement: [(action: String, resourceType: String)] = [
        ("iam:AttachUserPolicy", "user"), ("iam:PutUserPolicy", "user"),
        ("iam:AttachGroupPolicy", "group"), ("iam:PutGroupPolicy", "group"),
        ("iam:AttachRolePolicy", "role"), ("iam:PutRolePolicy", "role"),
        ("iam:CreatePolicyVersion", "policy"),
    ]

    private static func isPubliclyGranting(_ s: Statement) -> Bool {
        s.isAllow && s.namesAnyPrincipal && !s.pinsCaller
    }

    /// Whether blanket denies take `action` away on every resource the statement `s` grants it on.
    private static func takenAway(action: WildcardPattern, from s: Statement, in policy: Policy) -> Bool {
        let resources = s.resourceQueries
        return policy.statements.contains { d in
            d.isBlanketDeny && d.coversAction(action) && resources.allSatisfy { d.coversResource($0, broad: false) }
        }
    }

    private static func refusesInsecureTransport(_ clause: Statement.Clause) -> Bool {
        let op = clause.op.lowercased()
        let key = clause.key.lowercased()
        switch (op, key) {
        case ("bool", "aws:securetransport"), ("boolifexists", "aws:securetransport"):
            return clause.values.contains { $0.boolValue == false }
        case ("numericlessthan", "s3:tlsversion"), ("numericlessthanifexists", "s3:tlsversion"):
            return clause.values.contains { value in value.stringValue.flatMap(Double.init).map { $0 > 1.0 } ?? false }
        default:
            return false
        }
    }
}
