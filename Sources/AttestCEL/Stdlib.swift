import Foundation

/// How a library function is implemented (by argument count, to avoid array allocation on hot paths).
enum FunctionImpl: Sendable {
    case one(Function1)
    case two(Function2)
    case many(FunctionN)
    case contextual(FunctionContextual)
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

func addTimestamp(_ t: CELTimestamp, _ d: CELDuration) throws(CELError) -> CELTimestamp {
    let (s, o) = t.seconds.addingReportingOverflow(d.seconds)
    if o { throw CELError("timestamp overflow") }
    let nanos = Int64(t.nanos) + Int64(d.nanos)
    let r = CELTimestamp(seconds: s + nanos / 1_000_000_000, nanos: Int32(nanos % 1_000_000_000))
    guard r.isInRange else { throw CELError("timestamp overflow: result out of range") }
    return r
}

func addDurations(_ x: CELDuration, _ y: CELDuration) throws(CELError) -> CELDuration {
    let (s, o) = x.seconds.addingReportingOverflow(y.seconds)
    if o { throw CELError("duration overflow") }
    let nanos = Int64(x.nanos) + Int64(y.nanos)
    let r = CELDuration(seconds: s + nanos / 1_000_000_000, nanos: Int32(nanos % 1_000_000_000))
    guard r.isInRange else { throw CELError("duration overflow: result out of range") }
    return r
}

func negateDuration(_ d: CELDuration) -> CELDuration { CELDuration(seconds: -d.seconds, nanos: -d.nanos) }

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
    case (.timestamp(let t), .duration(let d)): return .timestamp(try addTimestamp(t, negateDuration(d)))
    case (.timestamp(let x), .timestamp(let y)):
        let (s, o) = x.seconds.subtractingReportingOverflow(y.seconds)
        if o { throw CELError("duration overflow") }
        let nanos = Int64(x.nanos) - Int64(y.nanos)
        let d = CELDuration(seconds: s + nanos / 1_000_000_000, nanos: Int32(nanos % 1_000_000_000))
        guard d.isInRange else { throw CELError("duration overflow: result out of range") }
        return .duration(d)
    case (.duration(let x), .duration(let y)): return .duration(try addDurations(x, negateDuration(y)))
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
    case .duration(let d): return .duration(negateDuration(d))
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
        guard let i = Int64(s) else { throw CELError("type conversion error: cannot convert '\(s)' to int") }
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
        guard d.isFinite, d > -1, d < 1.8446744073709551616e19 else {
            throw CELError("range error: double \(formatDoubleForString(d)) does not fit in uint")
        }
        return .uint(UInt64(d.rounded(.towardZero)))
    case .string(let s):
        guard let u = UInt64(s) else { throw CELError("type conversion error: cannot convert '\(s)' to uint") }
        return .uint(u)
    case .bool(let b): return .uint(b ? 1 : 0)
    default: throw CELError.noOverload("uint", v)
    }
}

func toDouble(_ v: CELValue) throws(CELError) -> CELValue {
    switch v {
    case .double: return v
    case .int(let i): return .double(Double(i))
    case .uint(let u): return .double(Double(u))
    case .string(let s):
        guard let d = Double(s) else { throw CELError("type conversion error: cannot convert '\(s)' to double") }
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
        guard t.isInRange else { throw CELError("timestamp out of range: '\(s)'") }
        return .timestamp(t)
    case .int(let i):
        let t = CELTimestamp(seconds: i)
        guard t.isInRange else { throw CELError("timestamp out of range: \(i)") }
        return .timestamp(t)
    default: throw CELError.noOverload("timestamp", v)
    }
}

func toDuration(_ v: CELValue) throws(CELError) -> CELValue {
    switch v {
    case .duration: return v
    case .string(let s):
        guard let d = parseDuration(s) else { throw CELError("duration conversion error: '\(s)' is not a duration") }
        guard d.isInRange else { throw CELError("duration out of range: '\(s)'") }
        return .duration(d)
    case .int(let i): return .duration(CELDuration(totalNanos: i))
    default: throw CELError.noOverload("duration", v)
    }
}

// MARK: - Strings and regular expressions

/// A compiled regular expression (NSRegularExpression is immutable and safe to share).
final class CompiledRegex: @unchecked Sendable {
    let regex: NSRegularExpression
    init(_ pattern: String) throws(CELError) {
        do {
            regex = try NSRegularExpression(pattern: pattern.isEmpty ? "(?:)" : translateRE2(pattern), options: [])
        } catch {
            throw CELError("invalid regular expression '\(pattern)': \(error)")
        }
    }
    func matches(_ s: String) -> Bool {
        let ns = s as NSString
        return regex.firstMatch(in: s, options: [], range: NSRange(location: 0, length: ns.length)) != nil
    }
}

/// RE2 syntax differs from ICU in a few spellings; translate the common ones.
func translateRE2(_ p: String) -> String {
    // (?P<name>...) is RE2's named group; ICU wants (?<name>...).
    p.replacingOccurrences(of: "(?P<", with: "(?<")
}

/// A small cache of compiled patterns for non-constant regexes.
final class RegexCache: @unchecked Sendable {
    private var cache: [String: CompiledRegex] = [:]
    private let lock = NSLock()
    static let shared = RegexCache()
    func regex(_ pattern: String) throws(CELError) -> CompiledRegex {
        lock.lock()
        if let r = cache[pattern] { lock.unlock(); return r }
        lock.unlock()
        let r = try CompiledRegex(pattern)
        lock.lock()
        if cache.count > 500 { cache.removeAll() }
        cache[pattern] = r
        lock.unlock()
        return r
    }
}

func celMatches(_ s: CELValue, _ p: CELValue) throws(CELError) -> CELValue {
    guard case .string(let str) = s, case .string(let pattern) = p else { throw CELError.noOverload("matches", s, p) }
    return .bool(try RegexCache.shared.regex(pattern).matches(str))
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

func timeAccessor(_ name: String, _ table: inout FunctionTable,
                  timestamp: @escaping @Sendable (CELTimestamp, CivilTime) -> Int64,
                  duration: (@Sendable (CELDuration) -> Int64)?) {
    table.add(name, arity: 1...2, receiver: true, global: false, .many { args throws(CELError) in
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
    t.both1("size", celSize)
    t.member2("contains") { s, x throws(CELError) in
        guard case .string(let a) = s, case .string(let b) = x else { throw CELError.noOverload("contains", s, x) }
        return .bool(b.isEmpty || a.utf8.count >= b.utf8.count && containsUTF8(a, b))
    }
    t.member2("startsWith") { s, x throws(CELError) in
        guard case .string(let a) = s, case .string(let b) = x else { throw CELError.noOverload("startsWith", s, x) }
        return .bool(a.utf8.starts(with: b.utf8))
    }
    t.member2("endsWith") { s, x throws(CELError) in
        guard case .string(let a) = s, case .string(let b) = x else { throw CELError.noOverload("endsWith", s, x) }
        return .bool(a.utf8.reversed().starts(with: b.utf8.reversed()))
    }
    t.both2("matches", celMatches)
    t.global1("int", toInt)
    t.global1("uint", toUInt)
    t.global1("double", toDouble)
    t.global1("string", toStringValue)
    t.global1("bytes", toBytes)
    t.global1("bool", toBool)
    t.global1("timestamp", toTimestamp)
    t.global1("duration", toDuration)
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
    t.global2("_+_", celAdd)
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

func containsUTF8(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    if y.isEmpty { return true }
    if y.count > x.count { return false }
    let first = y[0]
    var i = 0
    let last = x.count - y.count
    while i <= last {
        if x[i] == first {
            var j = 1
            while j < y.count && x[i + j] == y[j] { j += 1 }
            if j == y.count { return true }
        }
        i += 1
    }
    return false
}

let standardFunctions = standardLibrary()

/// Built-in type names usable as identifiers (`int`, `list`, `google.protobuf.Timestamp`...).
let builtinTypeNames: [String: CELType] = [
    "bool": .bool, "int": .int, "uint": .uint, "double": .double, "string": .string, "bytes": .bytes,
    "list": .list, "map": .map, "null_type": .null, "type": .type,
    "google.protobuf.Timestamp": .timestamp, "google.protobuf.Duration": .duration,
    "optional_type": .optional, "net.IP": .ip, "net.CIDR": .cidr,
]
