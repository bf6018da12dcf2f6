import Foundation

/// A compiled regular expression for CEL's `matches`: RE2 syntax and semantics, matched in time linear in the text.
///
/// Why a hand-written automaton rather than linking libre2: `swift build` has to work on a fresh machine with no
/// system regex library installed, and RE2's guarantee — matching takes time linear in the text, whatever the
/// pattern — holds here by construction: the pattern compiles to a Thompson NFA, and matching advances the set of
/// live NFA states one Unicode scalar at a time, so each scalar costs at most one visit per instruction. Nothing
/// backtracks, so patterns such as `(a+)+$` or `(a*)*b` cannot blow up. (Foundation's NSRegularExpression is ICU,
/// which backtracks, and its syntax is not RE2's.) `matches` only asks *whether* there is a match, so the matcher
/// tracks no capture groups, and greedy and lazy repetitions match the same strings.
///
/// Syntax (RE2, as Go's regexp/syntax parses it with Perl flags, which is what cel-go uses): literals and escapes
/// (`\n \t \x7F \x{10FFFF} \123 \Q...\E`, escaped punctuation), `.`, classes `[a-z]`, `[^...]`, Perl classes
/// `\d \w \s \D \W \S`, POSIX classes `[[:alpha:]]`, Unicode classes `\pL \p{Lu} \p{Greek} \PL \p{^Greek}`
/// (general categories and scripts), anchors `^ $ \A \z`, word boundaries `\b \B` (ASCII words, as RE2), groups
/// `( )`, `(?: )`, `(?P<name> )`, `(?<name> )`, alternation, repetitions `* + ? {n} {n,} {n,m}` and their lazy forms,
/// flags `(?i) (?m) (?s) (?U)`, `(?i-s)` and scoped `(?i:...)`. Whatever RE2 rejects is an error here, never a
/// silently different meaning: backreferences, lookahead and lookbehind, atomic groups, possessive and nested
/// repetitions, `\C`, `\Z`, unknown escapes and classes, and repetition counts over 1000. Unicode classes and case
/// folding come from ``RegexUnicodeData`` (Unicode 14.0, generated from the Unicode Character Database).
struct CELRegex: Sendable {
    /// The pattern as written.
    let pattern: String
    let program: RegexProgram

    /// Compiles an RE2 pattern; the error names what is wrong and where.
    init(_ pattern: String) throws(CELError) {
        self.pattern = pattern
        do {
            var parser = RegexParser(pattern)
            let tree = try parser.parse()
            program = try RegexCompiler.compile(tree)
        } catch {
            throw CELError("invalid regular expression '\(pattern)': \(error.message)")
        }
    }

    /// The number of NFA instructions: the work per text scalar is at most proportional to it.
    var size: Int { program.instructions.count }

    /// Whether the pattern matches some part of `text` (an unanchored search, as CEL's `matches`).
    func matches(_ text: String) -> Bool { program.search(text) }
}

/// A syntax error in a pattern.
struct RegexSyntaxError: Error {
    let message: String
}

// MARK: - Sets of scalars

/// A set of Unicode scalar values as sorted, disjoint, non-adjacent inclusive ranges.
struct ScalarRanges: Sendable, Equatable {
    private(set) var ranges: [ClosedRange<UInt32>] = []

    static let maxScalar: UInt32 = 0x10FFFF
    static let all = ScalarRanges(unsorted: [0...maxScalar])
    static let allButNewline = ScalarRanges(unsorted: [0...9, 11...maxScalar])

    init() {}

    /// A set from ranges in any order, overlapping or not.
    init(unsorted: [ClosedRange<UInt32>]) {
        let sorted = unsorted.sorted { $0.lowerBound < $1.lowerBound }
        var out: [ClosedRange<UInt32>] = []
        out.reserveCapacity(sorted.count)
        for r in sorted {
            if let last = out.last, r.lowerBound <= last.upperBound &+ 1 {
                if r.upperBound > last.upperBound { out[out.count - 1] = last.lowerBound...r.upperBound }
            } else {
                out.append(r)
            }
        }
        ranges = out
    }

    init(scalar: UInt32) { ranges = [scalar...scalar] }

    var isEmpty: Bool { ranges.isEmpty }
    /// The single scalar in the set, if it has exactly one.
    var singleScalar: UInt32? { ranges.count == 1 && ranges[0].lowerBound == ranges[0].upperBound ? ranges[0].lowerBound : nil }

    func contains(_ c: UInt32) -> Bool {
        var lo = 0
        var hi = ranges.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if c < ranges[mid].lowerBound { hi = mid } else if c > ranges[mid].upperBound { lo = mid + 1 } else { return true }
        }
        return false
    }

    func union(_ other: ScalarRanges) -> ScalarRanges {
        if other.isEmpty { return self }
        if isEmpty { return other }
        return ScalarRanges(unsorted: ranges + other.ranges)
    }

    /// Every scalar value not in the set.
    func inverted() -> ScalarRanges {
        var out: [ClosedRange<UInt32>] = []
        var next: UInt32 = 0
        for r in ranges {
            if r.lowerBound > next { out.append(next...(r.lowerBound - 1)) }
            if r.upperBound == ScalarRanges.maxScalar {
                next = ScalarRanges.maxScalar + 1
                break
            }
            next = r.upperBound + 1
        }
        if next <= ScalarRanges.maxScalar { out.append(next...ScalarRanges.maxScalar) }
        var s = ScalarRanges()
        s.ranges = out
        return s
    }

    /// The set closed under simple case folding: every scalar that matches a member case-insensitively.
    func caseFolded() -> ScalarRanges {
        var extra: [ClosedRange<UInt32>] = []
        for orbit in UnicodeClassTables.caseOrbits.members where orbit.contains(where: contains) {
            for c in orbit where !contains(c) { extra.append(c...c) }
        }
        return extra.isEmpty ? self : ScalarRanges(unsorted: ranges + extra)
    }
}

/// A scalar set prepared for matching: a bitmap for ASCII, binary search above.
struct ScalarClass: Sendable {
    let asciiLow: UInt64  // 0..<64
    let asciiHigh: UInt64  // 64..<128
    let ranges: ScalarRanges

    init(_ ranges: ScalarRanges) {
        var low: UInt64 = 0
        var high: UInt64 = 0
        for r in ranges.ranges where r.lowerBound < 128 {
            for c in r.lowerBound...min(r.upperBound, 127) {
                if c < 64 { low |= 1 << UInt64(c) } else { high |= 1 << UInt64(c - 64) }
            }
        }
        asciiLow = low
        asciiHigh = high
        self.ranges = ranges
    }

    @inline(__always) func contains(_ c: UInt32) -> Bool {
        if c < 64 { return asciiLow & (1 << UInt64(c)) != 0 }
        if c < 128 { return asciiHigh & (1 << UInt64(c - 64)) != 0 }
        return ranges.contains(c)
    }
}

/// Unicode general categories, scripts and case-folding orbits, parsed from ``RegexUnicodeData`` on first use.
enum UnicodeClassTables {
    /// General categories by their one- and two-letter names (`L`, `Lu`, ...; no `Cn`, as in RE2).
    static let categories: [String: ScalarRanges] = {
        var table = parseTable(RegexUnicodeData.generalCategories)
        for major in ["C", "L", "M", "N", "P", "S", "Z"] {
            let members = table.filter { $0.key.hasPrefix(major) }.values
            table[major] = members.reduce(ScalarRanges()) { $0.union($1) }
        }
        return table
    }()

    /// Scripts by their long names (`Greek`, `Latin`, `Han`, `Old_Italic`, ...).
    static let scripts: [String: ScalarRanges] = parseTable(RegexUnicodeData.scripts)

    /// Simple case-folding orbits: the scalars that match one another case-insensitively, and each member's orbit.
    static let caseOrbits: (members: [[UInt32]], orbitOf: [UInt32: Int]) = {
        var members: [[UInt32]] = []
        var orbitOf: [UInt32: Int] = [:]
        for text in RegexUnicodeData.caseOrbits.split(whereSeparator: { $0 == ";" || $0 == "\n" }) {
            let orbit = text.split(separator: " ").compactMap { UInt32($0, radix: 16) }  // leading spaces give no numbers
            guard orbit.count > 1 else { continue }
            for c in orbit { orbitOf[c] = members.count }
            members.append(orbit)
        }
        return (members, orbitOf)
    }()

    /// A scalar and everything it matches case-insensitively.
    static func caseVariants(_ c: UInt32) -> [UInt32] {
        guard let i = caseOrbits.orbitOf[c] else { return [c] }
        return caseOrbits.members[i]
    }

    /// `Name:lo-hi,cp,...` entries, one per line; a line starting with a space continues the entry above.
    static func parseTable(_ text: String) -> [String: ScalarRanges] {
        var entries: [(name: Substring, items: [Substring])] = []
        for line in text.split(separator: "\n") {
            if line.first == " ", !entries.isEmpty {
                entries[entries.count - 1].items += line.split(separator: ",").map { $0.drop { $0 == " " } }
            } else if let colon = line.firstIndex(of: ":") {
                entries.append((line[..<colon], line[line.index(after: colon)...].split(separator: ",")))
            }
        }
        var out: [String: ScalarRanges] = [:]
        for entry in entries {
            var ranges: [ClosedRange<UInt32>] = []
            for item in entry.items {
                let bounds = item.split(separator: "-").compactMap { UInt32($0, radix: 16) }
                if bounds.count == 1 {
                    ranges.append(bounds[0]...bounds[0])
                } else if bounds.count == 2, bounds[0] <= bounds[1] {
                    ranges.append(bounds[0]...bounds[1])
                }
            }
            out[String(entry.name)] = ScalarRanges(unsorted: ranges)
        }
        return out
    }
}

// MARK: - Syntax tree

/// A zero-width assertion.
enum RegexAssertion: Sendable {
    case beginText, endText, beginLine, endLine, wordBoundary, notWordBoundary
}

/// A parsed pattern. Capture groups are not kept: `matches` needs none.
indirect enum RegexNode {
    case empty
    /// One scalar from the set.
    case scalars(ScalarRanges)
    case concatenation([RegexNode])
    case alternation([RegexNode])
    /// `min` to `max` (nil: unbounded) repetitions.
    case repetition(RegexNode, min: Int, max: Int?)
    case assertion(RegexAssertion)
}

/// The flags `(?imsU)` set.
struct RegexFlags {
    var caseInsensitive = false
    var multiLine = false
    var dotMatchesNewline = false
    var ungreedy = false
}

// MARK: - Parser

/// Parses RE2 syntax into a ``RegexNode``, rejecting what RE2 rejects.
struct RegexParser {
    let pattern: [Unicode.Scalar]
    var position = 0
    var flags = RegexFlags()
    var depth = 0
    var groupNames = Set<String>()

    /// RE2's limit on `{n,m}` counts.
    static let maxRepeat = 1000
    /// Group nesting beyond this is rejected (Go's regexp/syntax stops at 1000; this matches CEL's own expression
    /// depth limit), so parsing and compiling never recurse deep enough to exhaust a thread's stack.
    static let maxDepth = 200

    init(_ pattern: String) { self.pattern = Array(pattern.unicodeScalars) }

    var peek: Unicode.Scalar? { position < pattern.count ? pattern[position] : nil }
    func peek(_ offset: Int) -> Unicode.Scalar? { position + offset < pattern.count ? pattern[position + offset] : nil }

    func error(_ message: String) -> RegexSyntaxError { RegexSyntaxError(message: "\(message) (at offset \(position))") }

    /// The text of the pattern from `start` to the current position, for messages.
    func text(from start: Int) -> String { String(String.UnicodeScalarView(pattern[start..<min(position, pattern.count)])) }

    mutating func parse() throws(RegexSyntaxError) -> RegexNode {
        let node = try parseAlternation()
        if position < pattern.count { throw error("unexpected )") }
        return node
    }

    mutating func parseAlternation() throws(RegexSyntaxError) -> RegexNode {
        var branches = [try parseConcatenation()]
        while peek == "|" {
            position += 1
            branches.append(try parseConcatenation())
        }
        return branches.count == 1 ? branches[0] : .alternation(branches)
    }

    mutating func parseConcatenation() throws(RegexSyntaxError) -> RegexNode {
        var items: [RegexNode] = []
        while let c = peek, c != "|", c != ")" {
            if c == "\\" && peek(1) == "Q" {
                // \Q...\E: literal text; a following repetition applies to its last character only.
                var literals = parseQuotedLiteral()
                guard let last = literals.popLast() else { continue }
                items += literals
                items.append(try parseRepetition(last))
                continue
            }
            guard let atom = try parseAtom() else { continue }  // a flag group `(?i)` adds nothing
            items.append(try parseRepetition(atom))
        }
        switch items.count {
        case 0: return .empty
        case 1: return items[0]
        default: return .concatenation(items)
        }
    }

    /// The literals of `\Q...\E` (to `\E` or the end of the pattern).
    mutating func parseQuotedLiteral() -> [RegexNode] {
        position += 2
        var out: [RegexNode] = []
        while let c = peek {
            if c == "\\" && peek(1) == "E" {
                position += 2
                break
            }
            out.append(literal(c.value))
            position += 1
        }
        return out
    }

    func literal(_ c: UInt32) -> RegexNode {
        if flags.caseInsensitive {
            return .scalars(ScalarRanges(unsorted: UnicodeClassTables.caseVariants(c).map { $0...$0 }))
        }
        return .scalars(ScalarRanges(scalar: c))
    }

    /// A repetition operator at `at`: `*`, `+`, `?` or a well-formed `{n}`, `{n,}`, `{n,m}` (anything else starting
    /// with `{` is a literal brace, as in RE2). Returns the bounds and the operator's length.
    func repetitionOperator(at: Int) throws(RegexSyntaxError) -> (min: Int, max: Int?, length: Int)? {
        guard at < pattern.count else { return nil }
        switch pattern[at] {
        case "*": return (0, nil, 1)
        case "+": return (1, nil, 1)
        case "?": return (0, 1, 1)
        case "{": break
        default: return nil
        }
        var i = at + 1
        func number() -> Int? {
            let start = i
            var value = 0
            while i < pattern.count, pattern[i] >= "0", pattern[i] <= "9" {
                value = min(value * 10 + Int(pattern[i].value - 48), 100_000)
                i += 1
            }
            return i > start ? value : nil
        }
        guard let low = number() else { return nil }
        var high: Int? = low
        if i < pattern.count, pattern[i] == "," {
            i += 1
            high = nil
            if i < pattern.count, pattern[i] != "}" {
                guard let h = number() else { return nil }
                high = h
            }
        }
        guard i < pattern.count, pattern[i] == "}" else { return nil }
        let spelled = String(String.UnicodeScalarView(pattern[at...i]))
        if low > RegexParser.maxRepeat || (high ?? 0) > RegexParser.maxRepeat {
            throw RegexSyntaxError(message: "invalid repeat count `\(spelled)`: RE2 allows at most \(RegexParser.maxRepeat)")
        }
        if let high, high < low { throw RegexSyntaxError(message: "invalid repeat count `\(spelled)`: the maximum is below the minimum") }
        return (low, high, i - at + 1)
    }

    mutating func parseRepetition(_ atom: RegexNode) throws(RegexSyntaxError) -> RegexNode {
        guard let op = try repetitionOperator(at: position) else { return atom }
        let start = position
        position += op.length
        if peek == "?" { position += 1 }  // lazy: the same strings match
        if let again = try repetitionOperator(at: position) {
            let spelled = String(String.UnicodeScalarView(pattern[start..<(position + again.length)]))
            if pattern[position] == "+" {
                throw error("possessive quantifiers such as `\(spelled)` are not supported (RE2 syntax)")
            }
            throw error("invalid nested repetition operator `\(spelled)`")
        }
        return .repetition(atom, min: op.min, max: op.max)
    }

    /// One atom, or nil for a group that only sets flags.
    mutating func parseAtom() throws(RegexSyntaxError) -> RegexNode? {
        let c = pattern[position]
        switch c {
        case "(":
            return try parseGroup()
        case "[":
            return .scalars(try parseClass())
        case ".":
            position += 1
            return .scalars(flags.dotMatchesNewline ? .all : .allButNewline)
        case "^":
            position += 1
            return .assertion(flags.multiLine ? .beginLine : .beginText)
        case "$":
            position += 1
            return .assertion(flags.multiLine ? .endLine : .endText)
        case "\\":
            return try parseEscape()
        case "*", "+", "?":
            throw error("missing argument to repetition operator `\(Character(c))`")
        case "{":
            if let op = try repetitionOperator(at: position) {
                throw error(
                    "missing argument to repetition operator `\(String(String.UnicodeScalarView(pattern[position..<(position + op.length)])))`"
                )
            }
            position += 1
            return literal(c.value)
        default:
            position += 1
            return literal(c.value)
        }
    }

    // MARK: Groups and flags

    mutating func parseGroup() throws(RegexSyntaxError) -> RegexNode? {
        let start = position
        position += 1
        guard peek == "?" else { return try parseGroupBody(flags: flags) }
        position += 1
        switch peek {
        case "P":
            if peek(1) == "<" {
                position += 2
                try parseGroupName(start)
                return try parseGroupBody(flags: flags)
            }
            if peek(1) == "=" { throw error("backreferences such as `(?P=name)` are not supported (RE2 syntax)") }
            if peek(1) == ">" { throw error("recursive patterns such as `(?P>name)` are not supported (RE2 syntax)") }
            throw error("invalid named capture `\(text(from: start))`")
        case "<":
            if peek(1) == "=" || peek(1) == "!" { throw error("lookbehind `(?<\(Character(peek(1)!))` is not supported (RE2 syntax)") }
            position += 1
            try parseGroupName(start)
            return try parseGroupBody(flags: flags)
        case "=", "!":
            throw error("lookahead `(?\(Character(peek!))` is not supported (RE2 syntax)")
        case ">":
            throw error("atomic groups `(?>` are not supported (RE2 syntax)")
        case "#":
            throw error("comments `(?#` are not supported (RE2 syntax)")
        case "|":
            throw error("branch reset groups `(?|` are not supported (RE2 syntax)")
        case "R", "&", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "+":
            throw error("recursive patterns such as `(?R)` are not supported (RE2 syntax)")
        case ":":
            position += 1
            return try parseGroupBody(flags: flags)
        case nil:
            throw error("missing closing )")
        default:
            return try parseFlags(start)
        }
    }

    /// `name>` after `(?P<` or `(?<`.
    mutating func parseGroupName(_ start: Int) throws(RegexSyntaxError) {
        let nameStart = position
        while let c = peek, c != ">" {
            guard c.isASCII, c.properties.isAlphabetic || (c >= "0" && c <= "9") || c == "_" else {
                throw error("invalid named capture `\(text(from: start))`: names are letters, digits and _")
            }
            position += 1
        }
        guard peek == ">" else { throw error("invalid named capture `\(text(from: start))`: missing >") }
        let name = text(from: nameStart)
        guard !name.isEmpty else { throw error("invalid named capture `\(text(from: start))>`: empty name") }
        guard groupNames.insert(name).inserted else { throw error("duplicate capture group name `\(name)`") }
        position += 1
    }

    /// `(?flags)` (for the rest of the enclosing group) or `(?flags:re)`.
    mutating func parseFlags(_ start: Int) throws(RegexSyntaxError) -> RegexNode? {
        var new = flags
        var negated = false
        var sawFlag = false
        while let c = peek {
            switch c {
            case "i": new.caseInsensitive = !negated
            case "m": new.multiLine = !negated
            case "s": new.dotMatchesNewline = !negated
            case "U": new.ungreedy = !negated
            case "-":
                guard !negated else { throw error("invalid flags `\(text(from: start))-`") }
                negated = true
                sawFlag = false
                position += 1
                continue
            case ")", ":":
                // `(?)`, `(?-)` and `(?i-)` are errors in RE2.
                guard sawFlag else { throw error("missing flags in `\(text(from: start))\(Character(c))`") }
                position += 1
                if c == ")" {
                    flags = new
                    return nil
                }
                return try parseGroupBody(flags: new)
            default:
                throw error("invalid or unsupported flag `\(Character(c))` in `\(text(from: start))`: RE2 has i, m, s and U")
            }
            sawFlag = true
            position += 1
        }
        throw error("missing closing ) in `\(text(from: start))`")
    }

    /// The inside of a group up to its `)`, with `flags` in force there (restored after it).
    mutating func parseGroupBody(flags inner: RegexFlags) throws(RegexSyntaxError) -> RegexNode {
        depth += 1
        if depth > RegexParser.maxDepth { throw error("groups nested more than \(RegexParser.maxDepth) deep") }
        let saved = flags
        flags = inner
        let node = try parseAlternation()
        guard peek == ")" else { throw error("missing closing )") }
        position += 1
        flags = saved
        depth -= 1
        return node
    }

    // MARK: Escapes

    mutating func parseEscape() throws(RegexSyntaxError) -> RegexNode {
        guard let c = peek(1) else { throw error("trailing backslash at the end of the pattern") }
        switch c {
        case "A":
            position += 2
            return .assertion(.beginText)
        case "z":
            position += 2
            return .assertion(.endText)
        case "b":
            position += 2
            return .assertion(.wordBoundary)
        case "B":
            position += 2
            return .assertion(.notWordBoundary)
        case "d", "D", "s", "S", "w", "W":
            position += 2
            return .scalars(perlClass(c))
        case "p", "P":
            return .scalars(try parseUnicodeClass())
        default:
            let scalar = try parseCharEscape()
            return literal(scalar)
        }
    }

    /// `\d \s \w` and their negations, folded when case-insensitive (RE2 folds, then negates).
    func perlClass(_ c: Unicode.Scalar) -> ScalarRanges {
        var set: ScalarRanges
        switch c {
        case "d", "D": set = ScalarRanges(unsorted: [48...57])
        case "s", "S": set = ScalarRanges(unsorted: [9...10, 12...13, 32...32])
        default: set = ScalarRanges(unsorted: [48...57, 65...90, 95...95, 97...122])
        }
        if flags.caseInsensitive { set = set.caseFolded() }
        return c.properties.isUppercase ? set.inverted() : set
    }

    /// `\pL`, `\p{Name}`, `\p{^Name}`, `\PL`, `\P{Name}` at the current `\`.
    mutating func parseUnicodeClass() throws(RegexSyntaxError) -> ScalarRanges {
        let start = position
        var negated = pattern[position + 1] == "P"
        position += 2
        let name: String
        if peek == "{" {
            position += 1
            let nameStart = position
            while let c = peek, c != "}" { position += 1 }
            guard peek == "}" else { throw error("missing } in `\(text(from: start))`") }
            var n = text(from: nameStart)
            position += 1
            if n.hasPrefix("^") {
                negated.toggle()
                n.removeFirst()
            }
            name = n
        } else {
            guard let c = peek else { throw error("missing class name after `\(text(from: start))`") }
            position += 1
            name = String(Character(c))
        }
        var set: ScalarRanges
        if name == "Any" {
            set = .all
        } else if let s = UnicodeClassTables.categories[name] ?? UnicodeClassTables.scripts[name] {
            set = s
        } else {
            throw error(
                "unknown Unicode class `\(text(from: start))` (general categories such as L, Lu, Nd and scripts such as Greek are supported)"
            )
        }
        if flags.caseInsensitive { set = set.caseFolded() }
        return negated ? set.inverted() : set
    }

    /// A single-character escape at the current `\`; returns the scalar it stands for.
    mutating func parseCharEscape() throws(RegexSyntaxError) -> UInt32 {
        let start = position
        position += 1
        guard let c = peek else { throw error("trailing backslash at the end of the pattern") }
        position += 1
        func isOctal(_ s: Unicode.Scalar?) -> Bool { s.map { $0 >= "0" && $0 <= "7" } ?? false }
        switch c {
        case "a": return 7
        case "f": return 12
        case "t": return 9
        case "n": return 10
        case "r": return 13
        case "v": return 11
        case "1", "2", "3", "4", "5", "6", "7", "0":
            // \0, \0N, \0NN and \NN, \NNN are octal; a lone \1-\7 would be a backreference.
            if c != "0" && !isOctal(peek) {
                throw error("backreferences such as `\(text(from: start))` are not supported (RE2 syntax)")
            }
            var value = c.value - 48
            for _ in 0..<2 where isOctal(peek) {
                value = value * 8 + (peek!.value - 48)
                position += 1
            }
            return value
        case "8", "9":
            throw error("backreferences such as `\(text(from: start))` are not supported (RE2 syntax)")
        case "x":
            func hexValue(_ s: Unicode.Scalar?) -> UInt32? {
                guard let s, s.isASCII, let v = UInt32(String(Character(s)), radix: 16) else { return nil }
                return v
            }
            if peek == "{" {
                position += 1
                var value: UInt32 = 0
                var digits = 0
                while let h = hexValue(peek) {
                    value = value * 16 + h
                    digits += 1
                    position += 1
                    if value > ScalarRanges.maxScalar { throw error("invalid escape `\(text(from: start))`: beyond U+10FFFF") }
                }
                guard digits > 0, peek == "}" else { throw error("invalid escape `\(text(from: start))`") }
                position += 1
                return value
            }
            guard let h1 = hexValue(peek), let h2 = hexValue(peek(1)) else {
                throw error("invalid escape `\(text(from: start))`: \\x needs two hex digits or {...}")
            }
            position += 2
            return h1 * 16 + h2
        case "C":
            throw error("`\\C` (any byte) is not supported: CEL strings are matched by Unicode code point")
        case "Z":
            throw error("`\\Z` is not supported (RE2 syntax; use `\\z` for the end of the text)")
        default:
            // Escaped ASCII punctuation stands for itself; an escaped letter or digit RE2 does not know is an error.
            if c.isASCII && !(c.properties.isAlphabetic || (c >= "0" && c <= "9")) { return c.value }
            throw error("invalid or unsupported escape `\(text(from: start))` (RE2 syntax)")
        }
    }

    // MARK: Classes

    static let posixClasses: [String: [ClosedRange<UInt32>]] = [
        "alnum": [48...57, 65...90, 97...122],
        "alpha": [65...90, 97...122],
        "ascii": [0...127],
        "blank": [9...9, 32...32],
        "cntrl": [0...31, 127...127],
        "digit": [48...57],
        "graph": [33...126],
        "lower": [97...122],
        "print": [32...126],
        "punct": [33...47, 58...64, 91...96, 123...126],
        "space": [9...13, 32...32],
        "upper": [65...90],
        "word": [48...57, 65...90, 95...95, 97...122],
        "xdigit": [48...57, 65...70, 97...102],
    ]

    /// `[...]` at the current `[`.
    mutating func parseClass() throws(RegexSyntaxError) -> ScalarRanges {
        let start = position
        position += 1
        var negated = false
        if peek == "^" {
            negated = true
            position += 1
        }
        var set = ScalarRanges()
        var pieces: [ClosedRange<UInt32>] = []
        var first = true
        while true {
            guard let c = peek else { throw error("missing closing ] in `\(text(from: start))`") }
            if c == "]" && !first {
                position += 1
                break
            }
            first = false
            if c == "[" && peek(1) == ":", let named = try parsePosixClass() {
                set = set.union(named)
                continue
            }
            if c == "\\", let e = peek(1) {
                if "dDsSwW".unicodeScalars.contains(e) {
                    position += 2
                    set = set.union(perlClass(e))
                    continue
                }
                if e == "p" || e == "P" {
                    set = set.union(try parseUnicodeClass())
                    continue
                }
            }
            let lo = try parseClassChar(start)
            var hi = lo
            if peek == "-", let after = peek(1), after != "]" {
                position += 1
                hi = try parseClassChar(start)
                if hi < lo { throw error("invalid character class range `\(text(from: start))`") }
            }
            pieces.append(lo...hi)
        }
        var literals = ScalarRanges(unsorted: pieces)
        if flags.caseInsensitive { literals = literals.caseFolded() }
        set = set.union(literals)
        return negated ? set.inverted() : set
    }

    /// `[:name:]` or `[:^name:]` at the current `[`; nil (consuming nothing) when it is not of that form.
    mutating func parsePosixClass() throws(RegexSyntaxError) -> ScalarRanges? {
        var i = position + 2
        while i + 1 < pattern.count, !(pattern[i] == ":" && pattern[i + 1] == "]") { i += 1 }
        guard i + 1 < pattern.count else { return nil }
        var name = String(String.UnicodeScalarView(pattern[(position + 2)..<i]))
        let negated = name.hasPrefix("^")
        if negated { name.removeFirst() }
        guard let ranges = RegexParser.posixClasses[name] else {
            throw error("invalid character class `\(String(String.UnicodeScalarView(pattern[position...(i + 1)])))`")
        }
        position = i + 2
        var set = ScalarRanges(unsorted: ranges)
        if flags.caseInsensitive { set = set.caseFolded() }
        return negated ? set.inverted() : set
    }

    /// One character of a class (literal or escape).
    mutating func parseClassChar(_ classStart: Int) throws(RegexSyntaxError) -> UInt32 {
        guard let c = peek else { throw error("missing closing ] in `\(text(from: classStart))`") }
        if c == "\\" { return try parseCharEscape() }
        position += 1
        return c.value
    }
}

// MARK: - Compiler

/// One NFA instruction. Consuming instructions advance to the next instruction.
enum RegexInstruction: Sendable {
    case scalar(UInt32)
    case scalarClass(Int)
    case any
    case anyButNewline
    case split(Int, Int)
    case jump(Int)
    case assertion(RegexAssertion)
    case match
}

/// A compiled pattern: instructions and what the search can skip.
struct RegexProgram: Sendable {
    let instructions: [RegexInstruction]
    let classes: [ScalarClass]
    /// Every match starts at the beginning of the text, so the search never restarts later.
    let anchoredAtStart: Bool
    /// The scalars a match can start with, when that does not depend on assertions (to skip ahead cheaply).
    let firstScalars: ScalarClass?
}

enum RegexCompiler {
    /// The most instructions a pattern may compile to (RE2 likewise bounds program size); matching costs at most
    /// this many steps per text scalar.
    static let maxInstructions = 50_000

    static func compile(_ tree: RegexNode) throws(RegexSyntaxError) -> RegexProgram {
        let size = estimatedSize(tree)
        guard size < maxInstructions else {
            throw RegexSyntaxError(message: "pattern too large: it compiles to more than \(maxInstructions) instructions")
        }
        var builder = Builder()
        builder.instructions.reserveCapacity(size + 1)
        builder.emit(tree)
        builder.instructions.append(.match)
        let first = builder.firstScalars()
        return RegexProgram(
            instructions: builder.instructions, classes: builder.classes.map(ScalarClass.init),
            anchoredAtStart: startsAtBeginning(tree), firstScalars: first.map(ScalarClass.init))
    }

    /// An upper bound of the instruction count, saturating (computed before emitting anything).
    static func estimatedSize(_ node: RegexNode) -> Int {
        func cap(_ x: Int) -> Int { min(x, maxInstructions) }
        switch node {
        case .empty: return 0
        case .scalars, .assertion: return 1
        case .concatenation(let items): return cap(items.reduce(0) { cap($0 + estimatedSize($1)) })
        case .alternation(let branches): return cap(branches.reduce(2 * branches.count) { cap($0 + estimatedSize($1)) })
        case .repetition(let x, let low, let high):
            let s = estimatedSize(x)
            let copies = high.map { $0 } ?? (low + 1)
            return cap(copies * (s + 2) + 2)
        }
    }

    static func startsAtBeginning(_ node: RegexNode) -> Bool {
        switch node {
        case .assertion(.beginText): return true
        case .concatenation(let items): return items.first.map(startsAtBeginning) ?? false
        case .alternation(let branches): return branches.allSatisfy(startsAtBeginning)
        case .repetition(let x, let low, _): return low > 0 && startsAtBeginning(x)
        default: return false
        }
    }

    struct Builder {
        var instructions: [RegexInstruction] = []
        var classes: [ScalarRanges] = []

        mutating func emit(_ node: RegexNode) {
            switch node {
            case .empty:
                break
            case .scalars(let set):
                if let c = set.singleScalar {
                    instructions.append(.scalar(c))
                } else if set == .all {
                    instructions.append(.any)
                } else if set == .allButNewline {
                    instructions.append(.anyButNewline)
                } else {
                    instructions.append(.scalarClass(classes.count))
                    classes.append(set)
                }
            case .assertion(let a):
                instructions.append(.assertion(a))
            case .concatenation(let items):
                for x in items { emit(x) }
            case .alternation(let branches):
                var jumps: [Int] = []
                for (i, b) in branches.enumerated() {
                    if i < branches.count - 1 {
                        let split = instructions.count
                        instructions.append(.split(split + 1, -1))
                        emit(b)
                        jumps.append(instructions.count)
                        instructions.append(.jump(-1))
                        instructions[split] = .split(split + 1, instructions.count)
                    } else {
                        emit(b)
                    }
                }
                for j in jumps { instructions[j] = .jump(instructions.count) }
            case .repetition(let x, let low, let high):
                for _ in 0..<low { emit(x) }
                if let high {
                    // (x(x(x)?)?)? for the optional copies: a skip leaves the whole rest.
                    var splits: [Int] = []
                    for _ in low..<high {
                        splits.append(instructions.count)
                        instructions.append(.split(instructions.count + 1, -1))
                        emit(x)
                    }
                    for s in splits { instructions[s] = .split(s + 1, instructions.count) }
                } else {
                    // L: split(L+1, end); x; jump L
                    let loop = instructions.count
                    instructions.append(.split(loop + 1, -1))
                    emit(x)
                    instructions.append(.jump(loop))
                    instructions[loop] = .split(loop + 1, instructions.count)
                }
            }
        }

        /// The union of what the instructions reachable from the start without consuming can consume, or nil when
        /// an assertion or the match is among them (then what can start a match depends on context).
        func firstScalars() -> ScalarRanges? {
            var seen = Set<Int>()
            var stack = [0]
            var set = ScalarRanges()
            while let pc = stack.popLast() {
                guard seen.insert(pc).inserted else { continue }
                switch instructions[pc] {
                case .scalar(let c): set = set.union(ScalarRanges(scalar: c))
                case .scalarClass(let i): set = set.union(classes[i])
                case .any, .anyButNewline, .assertion, .match: return nil
                case .split(let x, let y):
                    stack.append(y)
                    stack.append(x)
                case .jump(let t): stack.append(t)
                }
            }
            return set
        }
    }
}

// MARK: - Matching

extension RegexProgram {
    /// No scalar (before the start or after the end of the text).
    static let noScalar = UInt32.max

    @inline(__always) static func isWordScalar(_ c: UInt32) -> Bool {
        (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 95
    }

    @inline(__always) static func holds(_ a: RegexAssertion, previous: UInt32, next: UInt32) -> Bool {
        switch a {
        case .beginText: return previous == noScalar
        case .endText: return next == noScalar
        case .beginLine: return previous == noScalar || previous == 10
        case .endLine: return next == noScalar || next == 10
        case .wordBoundary: return isWordScalar(previous) != isWordScalar(next)
        case .notWordBoundary: return isWordScalar(previous) == isWordScalar(next)
        }
    }

    /// Whether the pattern matches anywhere in `text`: a simulation of the NFA over the text's scalars, each
    /// instruction visited at most once per text position.
    func search(_ text: String) -> Bool {
        // `live`: the consuming instructions waiting for the current scalar; `marks[pc] == generation`: pc was
        // already visited at the current position.
        var live: [Int32] = []
        var upcoming: [Int32] = []
        var stack: [Int32] = []
        var marks = [UInt32](repeating: 0, count: instructions.count)
        var generation: UInt32 = 1
        live.reserveCapacity(min(instructions.count, 64))
        upcoming.reserveCapacity(min(instructions.count, 64))

        var iterator = text.unicodeScalars.makeIterator()
        var previous = RegexProgram.noScalar
        var current = iterator.next()?.value ?? RegexProgram.noScalar
        var atStart = true
        while true {
            // A match may start here.
            if atStart || !anchoredAtStart,
                firstScalars.map({ current != RegexProgram.noScalar && $0.contains(current) }) ?? true
            {
                if addClosure(0, previous: previous, next: current, generation: generation, marks: &marks, stack: &stack, into: &live) {
                    return true
                }
            }
            guard current != RegexProgram.noScalar else { return false }
            let lookahead = iterator.next()?.value ?? RegexProgram.noScalar
            generation += 1
            if live.isEmpty {
                if anchoredAtStart { return false }
            } else {
                upcoming.removeAll(keepingCapacity: true)
                for p32 in live {
                    let p = Int(p32)
                    let consumes: Bool
                    switch instructions[p] {
                    case .scalar(let x): consumes = x == current
                    case .scalarClass(let i): consumes = classes[i].contains(current)
                    case .any: consumes = true
                    case .anyButNewline: consumes = current != 10
                    default: consumes = false
                    }
                    if consumes
                        && addClosure(
                            p + 1, previous: current, next: lookahead, generation: generation,
                            marks: &marks, stack: &stack, into: &upcoming)
                    {
                        return true
                    }
                }
                swap(&live, &upcoming)
            }
            previous = current
            current = lookahead
            atStart = false
        }
    }

    /// Adds `pc` and every instruction it reaches without consuming (assertions checked between `previous` and
    /// `next`) to `list`; true when that reaches the match.
    @inline(__always)
    func addClosure(
        _ pc: Int, previous: UInt32, next: UInt32, generation: UInt32,
        marks: inout [UInt32], stack: inout [Int32], into list: inout [Int32]
    ) -> Bool {
        stack.append(Int32(pc))
        while let p32 = stack.popLast() {
            let p = Int(p32)
            if marks[p] == generation { continue }
            marks[p] = generation
            switch instructions[p] {
            case .match:
                stack.removeAll(keepingCapacity: true)
                return true
            case .jump(let target):
                stack.append(Int32(target))
            case .split(let x, let y):
                stack.append(Int32(y))
                stack.append(Int32(x))
            case .assertion(let a):
                if RegexProgram.holds(a, previous: previous, next: next) { stack.append(Int32(p + 1)) }
            case .scalar, .scalarClass, .any, .anyButNewline:
                list.append(p32)
            }
        }
        return false
    }
}

// MARK: - Caching

/// A bounded cache of compiled patterns, for patterns that are not literals (literal patterns are compiled once
/// when the program is). Thread-safe: evaluations share it.
final class RegexCache: @unchecked Sendable {
    private var cache: [String: CELRegex] = [:]
    private let lock = NSLock()
    private let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    /// The process-wide cache behind `matches` called other than through a compiled call site.
    static let shared = RegexCache(capacity: 500)

    func regex(_ pattern: String) throws(CELError) -> CELRegex {
        lock.lock()
        if let r = cache[pattern] {
            lock.unlock()
            return r
        }
        lock.unlock()
        let r = try CELRegex(pattern)
        lock.lock()
        if cache.count >= capacity { cache.removeAll(keepingCapacity: true) }
        cache[pattern] = r
        lock.unlock()
        return r
    }
}
