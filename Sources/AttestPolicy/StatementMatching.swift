import AttestCore

extension Statement {
    /// Whether the statement applies to every action `query` stands for (action names are case-insensitive).
    func coversAction(_ query: WildcardPattern) -> Bool {
        switch actions {
        case .any: true
        case .only(let patterns): patterns.contains { WildcardPattern.contains(WildcardPattern($0, caseInsensitive: true), query) }
        case .except(let patterns): !patterns.contains { WildcardPattern.overlaps(WildcardPattern($0, caseInsensitive: true), query) }
        }
    }

    /// Whether the statement applies to every resource `query` stands for (ARNs are case-sensitive; a
    /// `${…}` policy variable in `query` stands for anything).
    ///
    /// A policy variable such as `${aws:username}` in the statement cannot be resolved without a request.
    /// With `broad` (used for `Allow`) the statement is read so that it applies as widely as it could; without
    /// (used for a `Deny` that would take a permission away) so that it applies as narrowly as it could. The same
    /// goes for wildcards and the colons of an ARN: IAM keeps a wildcard within its ARN segment (unless it ends
    /// the segment), so matching segment by segment is the narrow reading and matching the whole text the broad one.
    func coversResource(_ query: String, broad: Bool) -> Bool {
        let whole = WildcardPattern(query, variables: .wildcard)
        let querySegments = ARNText.segments(query)
        func segmentwise(
            _ pattern: String, _ variables: WildcardPattern.Variables,
            _ test: (WildcardPattern, WildcardPattern) -> Bool
        ) -> Bool? {
            guard let qs = querySegments, let ps = ARNText.segments(pattern) else { return nil }
            return zip(ps, qs).allSatisfy { test(WildcardPattern($0, variables: variables), WildcardPattern($1, variables: .wildcard)) }
        }
        switch resources {
        case .any:
            return true
        case .only(let patterns):
            let variables: WildcardPattern.Variables = broad ? .wildcard : .never
            return patterns.contains { p in
                if !broad, let narrow = segmentwise(p, variables, WildcardPattern.contains) { return narrow }
                return WildcardPattern.contains(WildcardPattern(p, variables: variables), whole)
            }
        case .except(let patterns):
            let variables: WildcardPattern.Variables = broad ? .never : .wildcard
            return !patterns.contains { p in
                if broad, let narrow = segmentwise(p, variables, WildcardPattern.overlaps) { return narrow }
                return WildcardPattern.overlaps(WildcardPattern(p, variables: variables), whole)
            }
        }
    }

    /// The actions the statement names, as queries; `*` for `NotAction`.
    var actionQueries: [WildcardPattern] {
        if case .only(let patterns) = actions { return patterns.map { WildcardPattern($0, caseInsensitive: true) } }
        return [WildcardPattern("*")]
    }

    /// The resources the statement names, as queries; `*` for `NotResource` or no resource element.
    var resourceQueries: [String] {
        if case .only(let patterns) = resources { return patterns }
        return ["*"]
    }

    /// True when the statement applies to every caller: `Principal` `"*"`, or no principal element
    /// (an identity policy applies to whoever it is attached to). `NotPrincipal` spares someone.
    var appliesToEveryCaller: Bool {
        switch principals {
        case .unspecified: true
        case .only(let everyone): everyone
        case .except: false
        }
    }

    /// True when an `Allow` with these principals would grant to anyone: `Principal` `"*"` (or `*` for a
    /// principal type), or `NotPrincipal` (everyone but a few, read conservatively as public).
    var namesAnyPrincipal: Bool {
        switch principals {
        case .unspecified: false
        case .only(let everyone): everyone
        case .except: true
        }
    }

    var isAllow: Bool { effect == .allow }

    /// An unconditional `Deny` for every caller: the only kind that certainly takes permissions away.
    var isBlanketDeny: Bool { effect == .deny && conditions.isEmpty && appliesToEveryCaller }

    /// True when some condition limits the callers to known accounts, organisations, networks or sources.
    var pinsCaller: Bool { conditions.contains(where: CallerPinning.pins) }
}

/// Which conditions keep a statement that names `"*"` as its principal from being public.
enum CallerPinning {
    /// Keys that name an account, organisation, network or service; any specific value pins.
    static let identifierKeys: Set<String> = [
        "aws:sourceaccount", "aws:sourceowner", "aws:principalaccount", "aws:principalorgid", "aws:principalorgpaths",
        "aws:sourceorgid", "aws:sourceorgpaths", "aws:sourcevpc", "aws:sourcevpce", "kms:calleraccount", "kms:viaservice",
    ]
    /// Keys whose values are ARNs.
    static let arnKeys: Set<String> = ["aws:sourcearn", "aws:principalarn"]
    /// Operators that admit only the listed values.
    static let matchingOperators: Set<String> = ["stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike"]

    static func pins(_ clause: Statement.Clause) -> Bool {
        var op = clause.op.lowercased()
        // ForAllValues is true when the key is absent, and so is every …IfExists operator: neither keeps
        // out a caller whose request lacks the key (an anonymous caller has no account, no source ARN, …).
        if op.hasPrefix("forallvalues:") || op.hasSuffix("ifexists") { return false }
        if op.hasPrefix("foranyvalue:") { op.removeFirst("foranyvalue:".count) }
        let key = clause.key.lowercased()
        let values = clause.values.compactMap(\.stringValue)
        if identifierKeys.contains(key) {
            return matchingOperators.contains(op) && values.allSatisfy(isSpecificIdentifier)
        }
        if arnKeys.contains(key) {
            return matchingOperators.contains(op) && values.allSatisfy(isSpecificARN)
        }
        if key == "aws:sourceip" {
            return op == "ipaddress" && values.allSatisfy(isNarrowRange)
        }
        return false
    }

    /// A value that is not only wildcards (`*`, `?`).
    static func isSpecificIdentifier(_ value: String) -> Bool {
        value.unicodeScalars.contains { $0 != "*" && $0 != "?" }
    }

    /// An ARN that names a concrete account, or (for ARNs without an account, like S3 buckets) a resource
    /// that is not only wildcards. `arn:aws:iam::*:role/x` does not pin: any account may have such a role.
    static func isSpecificARN(_ value: String) -> Bool {
        let parts = value.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 6 else { return !value.isEmpty && WildcardPattern(value).isConcrete }
        let account = parts[4]
        let resource = parts[5]
        if account.isEmpty { return isSpecificIdentifier(resource) }
        return WildcardPattern(account).isConcrete
    }

    /// An address range that is private, or public but no wider than an IPv4 /8 or an IPv6 /32.
    /// `0.0.0.0/0`, `::/0` and other very wide ranges (such as `0.0.0.0/1`) are read as the internet.
    static func isNarrowRange(_ value: String) -> Bool {
        guard let range = IPRange(value) else { return false }
        if range.isNonInternet { return true }
        return range.prefixLength >= (range.isIPv4 ? 8 : 32)
    }
}

/// ARN text split into its parts.
enum ARNText {
    /// The six parts of an ARN (`arn`, partition, service, region, account, resource), split at the first five
    /// colons that are not inside a `${…}` policy variable; nil when there are fewer.
    static func segments(_ text: String) -> [String]? {
        var parts: [String] = []
        var current = ""
        var inVariable = false
        var previous: Character?
        for c in text {
            if parts.count < 5, c == ":", !inVariable {
                parts.append(current)
                current = ""
            } else {
                if c == "{", previous == "$" { inVariable = true } else if c == "}" { inVariable = false }
                current.append(c)
            }
            previous = c
        }
        parts.append(current)
        return parts.count == 6 ? parts : nil
    }
}
