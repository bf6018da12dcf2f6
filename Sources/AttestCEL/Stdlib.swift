import Foundation

/// How a library function is implemented (by argument count, to avoid array allocation on hot paths).
enum FunctionImpl: Sendable {
    case one(Function1)
    case two(Function2)
    case many(FunctionN)
    case contextual(FunctionContextual)
    /// Charges its own size-based cost through the activation (see ``CELEvaluationOptions``).
    case metered(FunctionMetered)
    /// A one-argument ``metered(_:)`` (no argument array on the hot path).
    case metered1(FunctionMetered1)
    /// A two-argument ``metered(_:)``.
    case metered2(FunctionMetered2)
}

/// One callable form of a function: its name, arity (including a receiver) and call styles.
struct FunctionOverload: Sendable {
    let name: String
    let arity: ClosedRange<Int>
    let receiver: Bool
    let global: Bool
    let impl: FunctionImpl
}

/// Functions by name.
struct FunctionTable: Sendable {
    var byName: [String: [FunctionOverload]] = [:]

    mutating func add(_ name: String, arity: ClosedRange<Int>, receiver: Bool = false, global: Bool = true, _ impl: FunctionImpl) {
        byName[name, default: []].insert(FunctionOverload(name: name, arity: arity, receiver: receiver, global: global, impl: impl), at: 0)
    }
    mutating func global1(_ name: String, _ f: @escaping Function1) { add(name, arity: 1...1, .one(f)) }
    mutating func global2(_ name: String, _ f: @escaping Function2) { add(name, arity: 2...2, .two(f)) }
    mutating func member1(_ name: String, _ f: @escaping Function1) { add(name, arity: 1...1, receiver: true, global: false, .one(f)) }
    mutating func member2(_ name: String, _ f: @escaping Function2) { add(name, arity: 2...2, receiver: true, global: false, .two(f)) }
    mutating func both1(_ name: String, _ f: @escaping Function1) { add(name, arity: 1...1, receiver: true, global: true, .one(f)) }
    mutating func both2(_ name: String, _ f: @escaping Function2) { add(name, arity: 2...2, receiver: true, global: true, .two(f)) }

    /// A function of `arity` arguments (including a receiver) that charges its own size-based cost.
    mutating func metered(
        _ name: String, arity: ClosedRange<Int>, receiver: Bool = false, global: Bool = true, _ f: @escaping FunctionMetered
    ) {
        add(name, arity: arity, receiver: receiver, global: global, .metered(f))
    }

    mutating func metered1(_ name: String, receiver: Bool = false, global: Bool = true, _ f: @escaping FunctionMetered1) {
        add(name, arity: 1...1, receiver: receiver, global: global, .metered1(f))
    }
    mutating func metered2(_ name: String, receiver: Bool = false, global: Bool = true, _ f: @escaping FunctionMetered2) {
        add(name, arity: 2...2, receiver: receiver, global: global, .metered2(f))
    }

    func contains(_ name: String) -> Bool { byName[name] != nil }

    func find(_ name: String, argumentCount: Int, receiverStyle: Bool) -> FunctionOverload? {
        byName[name]?.first { $0.arity.contains(argumentCount) && (receiverStyle ? $0.receiver : $0.global) }
    }
}

// MARK: - Arithmetic

func overflow(_ op: String) -> CELError { CELError("return error for overflow: \(op)") }

func celAdd(_ l: CELValue, _ r: CELValue) throws(CELError) -> CELValue {
    switch (l, r) {
    case (.int(let x), .int(let y)):
        let (v, o) = x.addingReportingOverflow(y)
        if o { throw overflow("int addition") }
        return .int(v)
    case (.uint(let x), .uint(let y)):
        let (v, o) = x.addingReportingOverflow(y)
        if o { throw overflow("uint addition") }
        return .uint(v)
    case (.double(let x), .double(let y)): return .double(x + y)
    case (.string(let x), .string(let y)): return .string(x + y)
    case (.bytes(let x), .bytes(let y)): return .bytes(x + y)
    case (.list(let x), .list(let y)): return .list(x + y)
    case (.timestamp(let t), .duration(let d)), (.duration(let d), .timestamp(let t)): return .timestamp(try addTimestamp(t, d))
    case (.duration(let x), .duration(let y)): return .duration(try addDurations(x, y))
    default: throw CELError.noOverload("_+_", l, r)
    }
}

/// The range error for a timestamp result outside 0001-01-01T00:00:00Z ... 9999-12-31T23:59:59.999999999Z.
let timestampRangeError = CELError("range error: timestamp out of range (0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z)")
/// The range error for a duration result beyond Int64 nanoseconds (about ±292 years).
let durationRangeError = CELError("range error: duration out of range (at most ±9223372036.854775807s)")

func durationNanos(_ d: CELDuration) throws(CELError) -> Int64 {
    guard let n = d.totalNanos else { throw durationRangeError }
    return n
}

/// `t + d` (or `t - d` with `subtract`), exactly, erroring outside CEL's timestamp range.
func addTimestamp(_ t: CELTimestamp, _ d: CELDuration, subtract: Bool = false) throws(CELError) -> CELTimestamp {
    let n = try durationNanos(d)
    let ds = n / 1_000_000_000
    let dn = n % 1_000_000_000
    let (s, o) = subtract ? t.seconds.subtractingReportingOverflow(ds) : t.seconds.addingReportingOverflow(ds)
    guard !o, let r = CELTimestamp.checked(seconds: s, nanos: Int64(t.nanos) + (subtract ? -dn : dn)) else { throw timestampRangeError }
    return r
}

func addDurations(_ x: CELDuration, _ y: CELDuration, subtract: Bool = false) throws(CELError) -> CELDuration {
    let a = try durationNanos(x)
    let b = try durationNanos(y)
    let (r, o) = subtract ? a.subtractingReportingOverflow(b) : a.addingReportingOverflow(b)
    if o { throw durationRangeError }
    return CELDuration(totalNanos: r)
}

/// `x - y` for timestamps: the duration between them, an error when it does not fit Int64 nanoseconds.
func subtractTimestamps(_ x: CELTimestamp, _ y: CELTimestamp) throws(CELError) -> CELDuration {
    let (s, o1) = x.seconds.subtractingReportingOverflow(y.seconds)
    let (m, o2) = s.multipliedReportingOverflow(by: 1_000_000_000)
    let (r, o3) = m.addingReportingOverflow(Int64(x.nanos) - Int64(y.nanos))
    if o1 || o2 || o3 { throw durationRangeError }
    return CELDuration(totalNanos: r)
}

func negateDuration(_ d: CELDuration) throws(CELError) -> CELDuration {
    let n = try durationNanos(d)
    guard n != Int64.min else { throw durationRangeError }
    return CELDuration(totalNanos: -n)
}

func celSubtract(_ l: CELValue, _ r: CELValue) throws(CELError) -> CELValue {
    switch (l, r) {
    case (.int(let x), .int(let y)):
        let (v, o) = x.subtractingReportingOverflow(y)
        if o { throw overflow("int subtraction") }
        return .int(v)
    case (.uint(let x), .uint(let y)):
        let (v, o) = x.subtractingReportingOverflow(y)
        if o { throw overflow("uint subtraction") }
        return .uint(v)
    case (.double(let x), .double(let y)): return .double(x - y)
    case (.timestamp(let t), .duration(let d)): return .timestamp(try addTimestamp(t, d, subtract: true))
    case (.timestamp(let x), .timestamp(let y)): return .duration(try subtractTimestamps(x, y))
    case (.duration(let x), .duration(let y)): return .duration(try addDurations(x, y, subtract: true))
    default: throw CELError.noOverload("_-_", l, r)
    }
}

func celMultiply(_ l: CELValue, _ r: CELValue) throws(CELError) -> CELValue {
    switch (l, r) {
    case (.int(let x), .int(let y)):
        let (v, o) = x.multipliedReportingOverflow(by: y)
        if o { throw overflow("int multiplication") }
        return .int(v)
    case (.uint(let x), .uint(let y)):
        let (v, o) = x.multipliedReportingOverflow(by: y)
        if o { throw overflow("uint multiplication") }
        return .uint(v)
    case (.double(let x), .double(let y)): return .double(x * y)
    default: throw CELError.noOverload("_*_", l, r)
    }
}

func celDivide(_ l: CELValue, _ r: CELValue) throws(CELError) -> CELValue {
    switch (l, r) {
    case (.int(let x), .int(let y)):
        if y == 0 { throw CELError("division by zero") }
        let (v, o) = x.dividedReportingOverflow(by: y)
        if o { throw overflow("int division") }
        return .int(v)
    case (.uint(let x), .uint(let y)):
        if y == 0 { throw CELError("division by zero") }
        return .uint(x / y)
    case (.double(let x), .double(let y)): return .double(x / y)
    default: throw CELError.noOverload("_/_", l, r)
    }
}

func celModulo(_ l: CELValue, _ r: CELValue) throws(CELError) -> CELValue {
    switch (l, r) {
    case (.int(let x), .int(let y)):
        if y == 0 { throw CELError("modulus by zero") }
        let (v, o) = x.remainderReportingOverflow(dividingBy: y)
        if o { throw overflow("int modulus") }
        return .int(v)
    case (.uint(let x), .uint(let y)):
        if y == 0 { throw CELError("modulus by zero") }
        return .uint(x % y)
    default: throw CELError.noOverload("_%_", l, r)
    }
}

func celNegate(_ v: CELValue) throws(CELError) -> CELValue {
    switch v {
    case .int(let x):
        if x == Int64.min { throw overflow("int negation") }
        return .int(-x)
    case .double(let d): return .double(-d)
    case .duration(let d): return .duration(try negateDuration(d))
    default: throw CELError.noOverload("-_", v)
    }
}

// MARK: - Conversions

func toInt(_ v: CELValue) throws(CELError) -> CELValue {
    switch v {
    case .int: return v
    case .uint(let u):
        guard u <= UInt64(Int64.max) else { throw CELError("range error: uint \(u) does not fit in int") }
        return .int(Int64(u))
    case .double(let d):
        guard d.isFinite, d > -9.223372036854775808e18, d < 9.223372036854775808e18 else {
            throw CELError("range error: double \(formatDoubleForString(d)) does not fit in int")
        }
        return .int(Int64(d.rounded(.towardZero)))
    case .string(let s):
        guard let i = Int64(s) else {
            let digits = s.utf8.drop { $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "+") }
            let isNumber =
                !digits.isEmpty && s.utf8.count - digits.count <= 1
                && digits.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
            throw CELError(isNumber ? "range error: '\(s)' does not fit in int" : "type conversion error: cannot convert '\(s)' to int")
        }
        return .int(i)
    case .timestamp(let t): return .int(t.seconds)
    case .bool(let b): return .int(b ? 1 : 0)
    default: throw CELError.noOverload("int", v)
    }
}

func toUInt(_ v: CELValue) throws(CELError) -> CELValue {
    switch v {
    case .uint: return v
    case .int(let i):
        guard i >= 0 else { throw CELError("range error: int \(i) does not fit in uint") }
        return .uint(UInt64(i))
    case .double(let d):
        // Any negative double is out of range, even one that truncates to 0 (cel-go: doubleToUint64Checked).
        guard d.isFinite, d >= 0, d < 1.8446744073709551616e19 else {
            throw CELError("range error: double \(formatDoubleForString(d)) does not fit in uint")
        }
        return .uint(UInt64(d.rounded(.towardZero)))
    case .string(let s):
        // Digits only, as Go's strconv.ParseUint: no sign (Swift's UInt64("+1") would accept one).
        guard !s.isEmpty, s.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            throw CELError("type conversion error: cannot convert '\(s)' to uint")
        }
        guard let u = UInt64(s) else { throw CELError("range error: '\(s)' does not fit in uint") }
        return .uint(u)
    case .bool(let b): return .uint(b ? 1 : 0)
    default: throw CELError.noOverload("uint", v)
    }
}

/// A double in Go's `strconv.ParseFloat` syntax (what cel-go accepts): decimal or hexadecimal, `inf`, `infinity`,
/// `nan` in any case, with an optional sign; no spaces or other characters.
func parseDouble(_ s: String) -> Double? {
    let allowed = s.utf8.allSatisfy { c in
        (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z"))
            || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z")) || c == UInt8(ascii: ".") || c == UInt8(ascii: "+")
            || c == UInt8(ascii: "-")
    }
    guard allowed, !s.isEmpty else { return nil }
    return Double(s)
}

/// Whether the text spells infinity itself (`inf`, `-Infinity`...) rather than a number too large for a double.
func isInfinitySpelling(_ s: String) -> Bool {
    var t = Substring(s.lowercased())
    if t.hasPrefix("-") || t.hasPrefix("+") { t = t.dropFirst() }
    return t == "inf" || t == "infinity"
}

func toDouble(_ v: CELValue) throws(CELError) -> CELValue {
    switch v {
    case .double: return v
    case .int(let i): return .double(Double(i))
    case .uint(let u): return .double(Double(u))
    case .string(let s):
        guard let d = parseDouble(s) else { throw CELError("type conversion error: cannot convert '\(s)' to double") }
        // A finite number too large for a double is a range error (Go's ParseFloat: ErrRange), not infinity.
        guard !d.isInfinite || isInfinitySpelling(s) else { throw CELError("range error: '\(s)' does not fit in double") }
        return .double(d)
    default: throw CELError.noOverload("double", v)
    }
}

func toStringValue(_ v: CELValue) throws(CELError) -> CELValue {
    switch v {
    case .string: return v
    case .int(let i): return .string(String(i))
    case .uint(let u): return .string(String(u))
    case .double(let d): return .string(formatDoubleForString(d))
    case .bool(let b): return .string(b ? "true" : "false")
    case .bytes(let b):
        guard let s = String(validating: b, as: UTF8.self) else { throw CELError("invalid UTF-8 in bytes, cannot convert to string") }
        return .string(s)
    case .timestamp(let t): return .string(t.rfc3339String)
    case .duration(let d): return .string(d.secondsString)
    case .ip(let ip): return .string(ip.description)
    case .cidr(let c): return .string(c.description)
    case .type(let t): return .string(t.name)
    default: throw CELError.noOverload("string", v)
    }
}

func toBytes(_ v: CELValue) throws(CELError) -> CELValue {
    switch v {
    case .bytes: return v
    case .string(let s): return .bytes(Array(s.utf8))
    default: throw CELError.noOverload("bytes", v)
    }
}

func toBool(_ v: CELValue) throws(CELError) -> CELValue {
    switch v {
    case .bool: return v
    case .string(let s):
        switch s {
        case "1", "t", "true", "TRUE", "True": return .bool(true)
        case "0", "f", "false", "FALSE", "False": return .bool(false)
        default: throw CELError("Type conversion error: cannot convert '\(s)' to bool")
        }
    default: throw CELError.noOverload("bool", v)
    }
}

func toTimestamp(_ v: CELValue) throws(CELError) -> CELValue {
    switch v {
    case .timestamp: return v
    case .string(let s):
        guard let t = CELTimestamp(rfc3339: s) else { throw CELError("timestamp conversion error: '\(s)' is not RFC 3339") }
        guard t.isInRange else { throw CELError("range error: timestamp '\(s)' is out of range (years 0001 to 9999)") }
        return .timestamp(t)
    case .int(let i):
        let t = CELTimestamp(seconds: i)
        guard t.isInRange else { throw CELError("range error: timestamp(\(i)) is out of range (years 0001 to 9999)") }
        return .timestamp(t)
    default: throw CELError.noOverload("timestamp", v)
    }
}

func toDuration(_ v: CELValue) throws(CELError) -> CELValue {
    switch v {
    case .duration: return v
    case .string(let s):
        switch parseDuration(s) {
        case .success(let d): return .duration(d)
        case .failure(.malformed): throw CELError("duration conversion error: '\(s)' is not a duration (e.g. '1h30m', '-1.5s', '100ms')")
        case .failure(.outOfRange): throw CELError("range error: duration '\(s)' is out of range (at most ±9223372036.854775807s)")
        }
    case .int(let i): return .duration(CELDuration(totalNanos: i))
    default: throw CELError.noOverload("duration", v)
    }
}

// MARK: - Strings and regular expressions

/// `matches` when called other than through a compiled call site (which caches per program; see ``MatchesNode``).
func celMatches(_ s: CELValue, _ p: CELValue) throws(CELError) -> CELValue {
    guard case .string(let str) = s, case .string(let pattern) = p else { throw CELError.noOverload("matches", s, p) }
    return .bool(try RegexCache.shared.regex(pattern).matches(str))
}

/// The cost of matching `text` with `regex` (see ``CELEvaluationOptions``): the NFA simulation's worst case,
/// ⌈(1 + bytes) / 10⌉ × ⌈instructions / 4⌉.
func matchCost(_ text: String, _ regex: CELRegex) -> UInt64 {
    let textUnits = (UInt64(text.utf8.count) + 1 + 9) / 10
    let programUnits = (UInt64(regex.size) + 3) / 4
    return textUnits &* programUnits
}

/// Size in Unicode code points, bytes, elements or entries.
func celSize(_ v: CELValue) throws(CELError) -> CELValue {
    switch v {
    case .string(let s): return .int(Int64(s.unicodeScalars.count))
    case .bytes(let b): return .int(Int64(b.count))
    case .list(let l): return .int(Int64(l.count))
    case .map(let m): return .int(Int64(m.count))
    default: throw CELError.noOverload("size", v)
    }
}

// MARK: - Time accessors

func timeParts(_ t: CELTimestamp, _ tz: CELValue?) throws(CELError) -> CivilTime {
    var offset: Int64 = 0
    if let tz {
        guard case .string(let name) = tz else { throw CELError.noOverload("timezone", tz) }
        guard let o = timezoneOffset(name, at: t.seconds) else { throw CELError("unknown timezone '\(name)'") }
        offset = o
    }
    let (local, overflowed) = t.seconds.addingReportingOverflow(offset)
    guard !overflowed, local > Int64.min / 2, local < Int64.max / 2 else { throw CELError("timestamp out of range") }
    return civil(fromSeconds: local)
}

func timeAccessor(
    _ name: String, _ table: inout FunctionTable,
    timestamp: @escaping @Sendable (CELTimestamp, CivilTime) -> Int64,
    duration: (@Sendable (CELDuration) -> Int64)?
) {
    table.add(
        name, arity: 1...2, receiver: true, global: false,
        .many { args throws(CELError) in
            switch args[0] {
            case .timestamp(let t):
                return .int(timestamp(t, try timeParts(t, args.count > 1 ? args[1] : nil)))
            case .duration(let d) where duration != nil && args.count == 1:
                return .int(duration!(d))
            default:
                throw CELError.noOverload(name, args)
            }
        })
}

// MARK: - The standard library

func standardLibrary() -> FunctionTable {
    var t = FunctionTable()
    t.metered1("size", receiver: true, global: true) { v, a throws(CELError) in
        if case .string(let s) = v { try a.charge(byteCost(s)) }  // counting code points reads the string
        return try celSize(v)
    }
    t.metered2("contains", receiver: true, global: false) { v, x, a throws(CELError) in
        guard case .string(let s) = v, case .string(let sub) = x else { throw CELError.noOverload("contains", v, x) }
        try a.charge(byteCost(s) &+ byteCost(sub))
        return .bool(containsUTF8(s, sub))
    }
    t.metered2("startsWith", receiver: true, global: false) { v, x, a throws(CELError) in
        guard case .string(let s) = v, case .string(let prefix) = x else { throw CELError.noOverload("startsWith", v, x) }
        try a.charge(byteCost(prefix))
        return .bool(s.utf8.starts(with: prefix.utf8))
    }
    t.metered2("endsWith", receiver: true, global: false) { v, x, a throws(CELError) in
        guard case .string(let s) = v, case .string(let suffix) = x else { throw CELError.noOverload("endsWith", v, x) }
        try a.charge(byteCost(suffix))
        let count = suffix.utf8.count
        return .bool(s.utf8.count >= count && s.utf8.dropFirst(s.utf8.count - count).elementsEqual(suffix.utf8))
    }
    t.both2("matches", celMatches)
    // Conversions read their argument: strings and bytes cost their size.
    func conversion(_ name: String, _ f: @escaping Function1) {
        t.metered1(name) { v, a throws(CELError) in
            try a.charge(sizeCost(v))
            return try f(v)
        }
    }
    conversion("int", toInt)
    conversion("uint", toUInt)
    conversion("double", toDouble)
    conversion("string", toStringValue)
    conversion("bytes", toBytes)
    conversion("bool", toBool)
    conversion("timestamp", toTimestamp)
    conversion("duration", toDuration)
    t.global1("dyn") { $0 }
    t.global1("type") { .type($0.celType) }

    timeAccessor("getFullYear", &t, timestamp: { _, c in c.year }, duration: nil)
    timeAccessor("getMonth", &t, timestamp: { _, c in c.month - 1 }, duration: nil)
    timeAccessor("getDayOfYear", &t, timestamp: { _, c in c.dayOfYear }, duration: nil)
    timeAccessor("getDayOfMonth", &t, timestamp: { _, c in c.day - 1 }, duration: nil)
    timeAccessor("getDate", &t, timestamp: { _, c in c.day }, duration: nil)
    timeAccessor("getDayOfWeek", &t, timestamp: { _, c in c.dayOfWeek }, duration: nil)
    timeAccessor("getHours", &t, timestamp: { _, c in c.hour }, duration: { $0.seconds / 3600 })
    timeAccessor("getMinutes", &t, timestamp: { _, c in c.minute }, duration: { $0.seconds / 60 })
    timeAccessor("getSeconds", &t, timestamp: { _, c in c.second }, duration: { $0.seconds })
    timeAccessor("getMilliseconds", &t, timestamp: { ts, _ in Int64(ts.nanos / 1_000_000) }, duration: { Int64($0.nanos / 1_000_000) })

    // Operators as functions (used when called by name, e.g. from cel.block rewrites).
    t.metered2("_+_") { l, r, a throws(CELError) in
        try a.charge(concatenationCost(l, r))
        return try celAdd(l, r)
    }
    t.global2("_-_", celSubtract)
    t.global2("_*_", celMultiply)
    t.global2("_/_", celDivide)
    t.global2("_%_", celModulo)
    t.global1("-_", celNegate)
    t.global2("_[_]", indexValue)
    t.global2("_[?_]", optionalIndex)
    t.global2("@in", { x, y throws(CELError) in try celIn(x, y) })

    addOptionalFunctions(&t)
    addStringExtensions(&t)
    addMathExtensions(&t)
    addListExtensions(&t)
    addEncoderExtensions(&t)
    addNetworkExtensions(&t)
    return t
}

/// Whether `b` occurs in `a`, comparing UTF-8 bytes (no normalization), in linear time and without copying `a`.
func containsUTF8(_ a: String, _ b: String) -> Bool {
    if b.isEmpty { return true }
    if b.utf8.count > a.utf8.count { return false }
    var haystack = a
    var needle = b
    return haystack.withUTF8 { h in needle.withUTF8 { n in firstOccurrence(of: n, in: h) != nil } }
}

/// The first index of `needle` (not empty) in `haystack`. Short needles use a direct scan, at most 16 comparisons
/// per position; longer ones Knuth–Morris–Pratt, so the time is linear either way.
func firstOccurrence(of needle: UnsafeBufferPointer<UInt8>, in haystack: UnsafeBufferPointer<UInt8>) -> Int? {
    let m = needle.count
    let n = haystack.count
    guard m <= n else { return nil }
    if m > 16 { return SubstringSearcher(Array(needle)).firstIndex(in: Array(haystack)) }
    let first = needle[0]
    var i = 0
    while i <= n - m {
        if haystack[i] == first {
            var j = 1
            while j < m && haystack[i + j] == needle[j] { j += 1 }
            if j == m { return i }
        }
        i += 1
    }
    return nil
}

let standardFunctions = standardLibrary()

/// Built-in type names usable as identifiers (`int`, `list`, `google.protobuf.Timestamp`...).
let builtinTypeNames: [String: CELType] = [
    "bool": .bool, "int": .int, "uint": .uint, "double": .double, "string": .string, "bytes": .bytes,
    "list": .list, "map": .map, "null_type": .null, "type": .type,
    "google.protobuf.Timestamp": .timestamp, "google.protobuf.Duration": .duration,
    "optional_type": .optional, "net.IP": .ip, "net.CIDR": .cidr,
]
