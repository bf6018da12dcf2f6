/// Wildcard patterns as IAM uses them in `Action`, `Resource` and condition values: `*` matches any run of
/// characters (including none) and `?` exactly one character.
///
/// Two questions are asked of patterns, both treating the *query* as a pattern too, so that a caller may
/// ask about `s3:*` as well as about `s3:GetObject`:
/// - ``contains(_:_:)``: does the pattern match every string the query matches (sound, not complete:
///   it may answer false for exotic pairs where the answer is true, never the reverse).
/// - ``overlaps(_:_:)``: is there a string that both match (exact).
/// A concrete query (no wildcards) makes both the ordinary "does the pattern match this string".
struct WildcardPattern: Sendable, Equatable {
    enum Token: Sendable, Equatable {
        case char(Unicode.Scalar)
        /// `?`
        case one
        /// `*`
        case many
        /// A policy variable that may not be assumed to match anything (a pattern holding one matches nothing).
        case never
    }

    /// How `${…}` policy variables in resource patterns are read.
    enum Variables: Sendable {
        /// `${` has no special meaning (actions, queries given by callers).
        case literal
        /// A variable may stand for anything: it matches like `*`.
        case wildcard
        /// A variable cannot be resolved: the pattern matches nothing.
        case never
    }

    let tokens: [Token]

    init(tokens: [Token]) { self.tokens = tokens }

    /// Parses `text`. With `caseInsensitive`, letters are folded to lower case (actions).
    init(_ text: String, caseInsensitive: Bool = false, variables: Variables = .literal) {
        let source = Array((caseInsensitive ? text.lowercased() : text).unicodeScalars)
        var out: [Token] = []
        var i = 0
        while i < source.count {
            let c = source[i]
            if variables != .literal, c == "$", i + 1 < source.count, source[i + 1] == "{",
                let close = source[(i + 2)...].firstIndex(of: "}")
            {
                let name = String(String.UnicodeScalarView(source[(i + 2)..<close]))
                switch name {
                // The escapes IAM defines for characters that would otherwise be wildcards.
                case "*": out.append(.char("*"))
                case "?": out.append(.char("?"))
                case "$": out.append(.char("$"))
                default: out.append(variables == .wildcard ? .many : .never)
                }
                i = close + 1
                continue
            }
            switch c {
            case "*": if out.last != .many { out.append(.many) }
            case "?": out.append(.one)
            default: out.append(.char(c))
            }
            i += 1
        }
        tokens = out
    }

    /// True when the pattern matches every string: only `*` (and no `?`).
    var matchesEverything: Bool { !tokens.isEmpty && tokens.allSatisfy { $0 == .many } }

    /// True when the pattern has no wildcard: it stands for one string.
    var isConcrete: Bool { tokens.allSatisfy { if case .char = $0 { true } else { false } } }

    /// Whether `pattern` matches every string that `query` matches. A `?` in the pattern matches one
    /// query character or query `?`; a `*` in the pattern matches any run of query tokens.
    static func contains(_ pattern: WildcardPattern, _ query: WildcardPattern) -> Bool {
        let p = pattern.tokens
        let q = query.tokens
        if q.contains(.never) { return true }  // the query matches nothing
        // reach[i][j]: the first i pattern tokens can consume the first j query tokens.
        var reach = Array(repeating: Array(repeating: false, count: q.count + 1), count: p.count + 1)
        reach[0][0] = true
        for i in 0...p.count {
            for j in 0...q.count where reach[i][j] {
                guard i < p.count else { continue }
                switch p[i] {
                case .many:
                    reach[i + 1][j] = true
                    if j < q.count { reach[i][j + 1] = true }
                case .one:
                    if j < q.count, q[j] != .many { reach[i + 1][j + 1] = true }
                case .char(let c):
                    if j < q.count, q[j] == .char(c) { reach[i + 1][j + 1] = true }
                case .never:
                    break
                }
            }
        }
        return reach[p.count][q.count]
    }

    /// Whether some string is matched by both patterns.
    static func overlaps(_ a: WildcardPattern, _ b: WildcardPattern) -> Bool {
        let p = a.tokens
        let q = b.tokens
        if p.contains(.never) || q.contains(.never) { return false }
        var seen = Array(repeating: Array(repeating: false, count: q.count + 1), count: p.count + 1)
        var stack = [(0, 0)]
        seen[0][0] = true
        func push(_ i: Int, _ j: Int) {
            if !seen[i][j] {
                seen[i][j] = true
                stack.append((i, j))
            }
        }
        while let (i, j) = stack.popLast() {
            if i == p.count, j == q.count { return true }
            // A star may match nothing.
            if i < p.count, p[i] == .many { push(i + 1, j) }
            if j < q.count, q[j] == .many { push(i, j + 1) }
            // Or both consume one common character.
            guard i < p.count, j < q.count else { continue }
            let compatible: Bool
            switch (p[i], q[j]) {
            case (.char(let x), .char(let y)): compatible = x == y
            default: compatible = true
            }
            if compatible {
                push(p[i] == .many ? i : i + 1, q[j] == .many ? j : j + 1)
            }
        }
        return false
    }
}
