public import AttestCore

/// A request as the guardrail questions ask it: an action (wildcards allowed: `guardduty:Delete*`
/// asks about every action it stands for), a resource (`*` by default) and condition keys with
/// their values (`aws:RequestedRegion`, `aws:PrincipalArn`); a key not given is absent from the request.
public struct PolicyRequest: Sendable {
    public var action: String
    public var resource: String
    public var context: [String: [String]]

    public init(action: String, resource: String = "*", context: [String: [String]] = [:]) {
        self.action = action
        self.resource = resource
        // Condition keys are case-insensitive.
        self.context = Dictionary(context.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { $0 + $1 })
    }
}

/// Service control policies as AWS Organizations evaluates them for a member account: the
/// policies attached at each level from the root, through every OU, to the account itself. An
/// action is allowed only when every level has an `Allow` for it, and any `Deny` that applies at
/// any level wins. The management account is never subject to them (the caller's concern).
///
/// The answer is sound for "denied": `denies` is true only when the policies certainly deny the
/// request. A `Deny` counts only when every condition of it is known to hold for the request's
/// keys, where a key the request does not give follows AWS: false for a positive operator, true
/// for a negated one (`StringNotEquals`, `ArnNotLike`, …) and for `…IfExists`; `Null` tests
/// presence. A level's `Allow` counts as possibly applying unless a condition on a key the
/// request gives certainly fails (a missing key might be carried by a real request). Operators
/// attest does not evaluate (dates, IP addresses, binary) and policy variables are unknown.
public enum ServiceControlPolicies: Sendable {
    /// True when the policies attached at `levels` (root first, the account last; each level's
    /// documents) certainly deny `request`.
    public static func denies(levels: [[JSONValue]], request: PolicyRequest) throws -> Bool {
        let parsed = try levels.map { try $0.map(PolicyParser.parse) }
        let action = WildcardPattern(request.action, caseInsensitive: true)
        for level in parsed {
            for policy in level {
                for s in policy.statements where s.effect == .deny {
                    if s.coversAction(action), s.coversResource(request.resource, broad: false),
                        s.conditions.allSatisfy({ evaluate($0, request) == .yes })
                    {
                        return true
                    }
                }
            }
        }
        // Denied by omission: a level where no Allow could apply (an allow-list OU without FullAWSAccess).
        for level in parsed {
            let allowed = level.contains { policy in
                policy.statements.contains { s in
                    s.effect == .allow && mayCoverAction(s, action) && mayCoverResource(s, request.resource)
                        && !s.conditions.contains { evaluate($0, request, missingKeyIsUnknown: true) == .no }
                }
            }
            if !allowed { return true }
        }
        return false
    }

    enum Truth: Equatable { case yes, no, unknown }

    static func mayCoverAction(_ s: Statement, _ query: WildcardPattern) -> Bool {
        switch s.actions {
        case .any: true
        case .only(let patterns): patterns.contains { WildcardPattern.overlaps(WildcardPattern($0, caseInsensitive: true), query) }
        case .except(let patterns): !patterns.contains { WildcardPattern.contains(WildcardPattern($0, caseInsensitive: true), query) }
        }
    }

    static func mayCoverResource(_ s: Statement, _ resource: String) -> Bool {
        switch s.resources {
        case .any, .only: s.coversResource(resource, broad: true) || resource == "*"
        case .except(let patterns): !patterns.contains { $0 == "*" }
        }
    }

    /// One `operator: {key: values}` entry against the request.
    ///
    /// With `missingKeyIsUnknown` (an Allow that could apply), a key the request does not give
    /// may be carried by a real request: the clause is unknown, not false.
    static func evaluate(_ clause: Statement.Clause, _ request: PolicyRequest, missingKeyIsUnknown: Bool = false) -> Truth {
        var op = clause.op
        var quantifier: String?
        for prefix in ["ForAnyValue:", "ForAllValues:"] where op.lowercased().hasPrefix(prefix.lowercased()) {
            quantifier = prefix
            op = String(op.dropFirst(prefix.count))
        }
        var ifExists = false
        if op.lowercased().hasSuffix("ifexists") {
            ifExists = true
            op = String(op.dropLast("IfExists".count))
        }
        let key = clause.key.lowercased()
        let policyValues = clause.values.map { v in v.stringValue ?? v.boolValue.map { $0 ? "true" : "false" } ?? v.serialized() }
        let present = request.context[key]
        let lower = op.lowercased()
        if lower == "null" {
            guard let wanted = policyValues.first?.lowercased(), policyValues.count == 1 else { return .unknown }
            let absent = present == nil || present?.isEmpty == true
            return (wanted == "true") == absent ? .yes : .no
        }
        guard let base = Operator(lower) else { return .unknown }
        // A policy variable (${aws:username}) in a value needs the request to resolve it.
        if policyValues.contains(where: { $0.contains("${") }) { return .unknown }
        guard let values = present, !values.isEmpty else {
            if ifExists { return .yes }
            if missingKeyIsUnknown { return .unknown }
            switch quantifier {
            case "ForAllValues:": return .yes
            case "ForAnyValue:": return .no
            default: return base.negated ? .yes : .no
            }
        }
        guard let matches = base.matcher else { return .unknown }
        func matchesAny(_ value: String) -> Bool { policyValues.contains { matches($0, value) } }
        switch quantifier {
        case "ForAllValues:":
            return values.allSatisfy { base.negated ? !matchesAny($0) : matchesAny($0) } ? .yes : .no
        case "ForAnyValue:":
            return values.contains { base.negated ? !matchesAny($0) : matchesAny($0) } ? .yes : .no
        default:
            let any = values.contains(where: matchesAny)
            return (base.negated ? !any : any) ? .yes : .no
        }
    }

    /// A condition operator without its set prefix and `IfExists`.
    struct Operator {
        var negated: Bool
        /// (policy value, request value) → match; nil when attest does not evaluate the operator.
        var matcher: (@Sendable (String, String) -> Bool)?

        init?(_ lower: String) {
            switch lower {
            case "stringequals": (negated, matcher) = (false, { $0 == $1 })
            case "stringnotequals": (negated, matcher) = (true, { $0 == $1 })
            case "stringequalsignorecase": (negated, matcher) = (false, { $0.lowercased() == $1.lowercased() })
            case "stringnotequalsignorecase": (negated, matcher) = (true, { $0.lowercased() == $1.lowercased() })
            case "stringlike", "arnlike", "arnequals": (negated, matcher) = (false, Self.like)
            case "stringnotlike", "arnnotlike", "arnnotequals": (negated, matcher) = (true, Self.like)
            case "bool": (negated, matcher) = (false, { $0.lowercased() == $1.lowercased() })
            case "numericequals": (negated, matcher) = (false, Self.numeric(==))
            case "numericnotequals": (negated, matcher) = (true, Self.numeric(==))
            case "numericlessthan": (negated, matcher) = (false, Self.numeric { $1 < $0 })
            case "numericlessthanequals": (negated, matcher) = (false, Self.numeric { $1 <= $0 })
            case "numericgreaterthan": (negated, matcher) = (false, Self.numeric { $1 > $0 })
            case "numericgreaterthanequals": (negated, matcher) = (false, Self.numeric { $1 >= $0 })
            case "notipaddress", "datenotequals": (negated, matcher) = (true, nil)
            case "ipaddress", "dateequals", "datelessthan", "datelessthanequals", "dategreaterthan", "dategreaterthanequals",
                "binaryequals":
                (negated, matcher) = (false, nil)
            default: return nil
            }
        }

        static let like: @Sendable (String, String) -> Bool = { pattern, value in
            WildcardPattern.contains(WildcardPattern(pattern), WildcardPattern(tokens: value.unicodeScalars.map { .char($0) }))
        }

        static func numeric(_ compare: @escaping @Sendable (Double, Double) -> Bool) -> @Sendable (String, String) -> Bool {
            { policy, request in
                guard let p = Double(policy), let r = Double(request) else { return false }
                return compare(p, r)
            }
        }
    }
}
