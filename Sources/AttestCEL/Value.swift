import Foundation

/// A CEL runtime value.
///
/// `Hashable` and `==` are structural (an `int 1` is not `==` to a `uint 1` here);
/// use ``celEquals(_:_:)`` for CEL's own equality.
public enum CELValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case string(String)
    case bytes([UInt8])
    case list([CELValue])
    case map(CELMap)
    case timestamp(CELTimestamp)
    case duration(CELDuration)
    /// A type value, as returned by `type(x)` or named by `int`, `list`, ...
    case type(CELType)
    /// An optional value: `optional.of(x)` is `.optional(x)`, `optional.none()` is `.optional(nil)`.
    indirect case optional(CELValue?)
    /// An IP address from the network extension (`ip('10.0.0.1')`).
    case ip(CELIPAddress)
    /// A CIDR range from the network extension (`cidr('10.0.0.0/8')`).
    case cidr(CELCIDR)
}

/// A CEL type, named as CEL prints it (`int`, `list`, `map`, `google.protobuf.Timestamp`, ...).
///
/// Runtime type values (`type(x)`) carry only the name; the checker also fills `parameters`
/// (`list(int)` has the name `list` and one parameter).
public struct CELType: Sendable, Hashable, CustomStringConvertible {
    /// The type's name.
    public var name: String
    /// Type parameters (element types); empty for runtime type values.
    public var parameters: [CELType]
    /// Whether this is a type parameter (a type variable such as `T` in a function signature).
    public var isTypeParameter: Bool = false

    /// A type parameter named `name`, for generic function signatures.
    public static func typeParameter(_ name: String) -> CELType {
        var t = CELType(name)
        t.isTypeParameter = true
        return t
    }

    /// A type with the given name and parameters.
    public init(_ name: String, _ parameters: [CELType] = []) {
        self.name = name
        self.parameters = parameters
    }

    /// The `null_type` type.
    public static let null = CELType("null_type")
    /// The `bool` type.
    public static let bool = CELType("bool")
    /// The `int` type.
    public static let int = CELType("int")
    /// The `uint` type.
    public static let uint = CELType("uint")
    /// The `double` type.
    public static let double = CELType("double")
    /// The `string` type.
    public static let string = CELType("string")
    /// The `bytes` type.
    public static let bytes = CELType("bytes")
    /// The `list` type.
    public static let list = CELType("list")
    /// The `map` type.
    public static let map = CELType("map")
    /// The `google.protobuf.Timestamp` type.
    public static let timestamp = CELType("google.protobuf.Timestamp")
    /// The `google.protobuf.Duration` type.
    public static let duration = CELType("google.protobuf.Duration")
    /// The `type` type.
    public static let type = CELType("type")
    /// The `dyn` type.
    public static let dyn = CELType("dyn")
    /// The `optional_type` type.
    public static let optional = CELType("optional_type")
    /// The `net.IP` type.
    public static let ip = CELType("net.IP")
    /// The `net.CIDR` type.
    public static let cidr = CELType("net.CIDR")

    /// `list(elem)`.
    public static func list(_ element: CELType) -> CELType { CELType("list", [element]) }
    /// `map(key, value)`.
    public static func map(_ key: CELType, _ value: CELType) -> CELType { CELType("map", [key, value]) }
    /// `optional_type(elem)`.
    public static func optional(_ element: CELType) -> CELType { CELType("optional_type", [element]) }

    /// `list(int)`, `map(string, dyn)`, `int`.
    public var description: String {
        parameters.isEmpty ? name : "\(name)(\(parameters.map(\.description).joined(separator: ", ")))"
    }
}

/// A CEL map: insertion-ordered entries with CEL key semantics (`1`, `1u` and `1.0` find the same key).
public struct CELMap: Sendable, Hashable {
    @usableFromInline var storage: [(key: CELValue, value: CELValue)]
    @usableFromInline var index: [CELMapKey: Int]?
    /// String keys whose values are not known yet (a Terraform plan's values known only after
    /// apply), each with the path reported for it. Reading one throws an unknown error
    /// (``CELError/isUnknown``) that `&&`, `||`, `all` and `exists` absorb as they absorb errors,
    /// so a rule decided by known values alone still decides. Not part of equality.
    public var unknownKeys: [String: String]?

    /// A map with these entries, in this order. A later duplicate key replaces the earlier value.
    public init(_ entries: [(key: CELValue, value: CELValue)]) {
        storage = []
        storage.reserveCapacity(entries.count)
        var index: [CELMapKey: Int] = [:]
        index.reserveCapacity(entries.count)
        for entry in entries {
            let k = CELMapKey(entry.key)
            if let existing = index[k] {
                storage[existing].value = entry.value
            } else {
                index[k] = storage.count
                storage.append(entry)
            }
        }
        self.index = storage.count > CELMap.linearLimit ? index : nil
    }

    /// A map with string keys, ordered by key.
    public init(_ strings: [String: CELValue]) {
        let sorted = strings.sorted { $0.key < $1.key }
        storage = sorted.map { (key: CELValue.string($0.key), value: $0.value) }
        if storage.count > CELMap.linearLimit {
            var index: [CELMapKey: Int] = [:]
            index.reserveCapacity(storage.count)
            for (i, e) in sorted.enumerated() { index[.string(e.key)] = i }
            self.index = index
        } else {
            index = nil
        }
    }

    /// Builds from entries already known to have distinct keys.
    init(uniqueEntries: [(key: CELValue, value: CELValue)]) {
        storage = uniqueEntries
        if storage.count > CELMap.linearLimit {
            var index: [CELMapKey: Int] = [:]
            index.reserveCapacity(storage.count)
            for (i, e) in storage.enumerated() { index[CELMapKey(e.key)] = i }
            self.index = index
        } else {
            index = nil
        }
    }

    static let linearLimit = 8

    /// CEL key lookup: numeric keys compare by value across int, uint and double.
    public subscript(key: CELValue) -> CELValue? {
        guard let k = CELMapKey(lookup: key) else { return nil }
        return self[mapKey: k]
    }

    /// Lookup by string key (the common case; no allocation).
    public subscript(string key: String) -> CELValue? {
        if let index {
            guard let i = index[.string(key)] else { return nil }
            return storage[i].value
        }
        for entry in storage {
            if case .string(let s) = entry.key, celStringsEqual(s, key) { return entry.value }
        }
        return nil
    }

    subscript(mapKey k: CELMapKey) -> CELValue? {
        if let index {
            guard let i = index[k] else { return nil }
            return storage[i].value
        }
        if case .string(let s) = k { return self[string: s] }
        for entry in storage where CELMapKey(entry.key) == k { return entry.value }
        return nil
    }

    /// The entries in insertion order.
    public var entries: [(key: CELValue, value: CELValue)] { storage }
    /// The number of entries.
    public var count: Int { storage.count }
    /// The keys in insertion order.
    public var keys: [CELValue] { storage.map(\.key) }

    /// Structural equality: same keys (CEL key semantics) with structurally equal values, in any order.
    public static func == (lhs: CELMap, rhs: CELMap) -> Bool {
        guard lhs.count == rhs.count else { return false }
        for entry in lhs.storage {
            guard let other = rhs[mapKey: CELMapKey(entry.key)], other == entry.value else { return false }
        }
        return true
    }

    /// An order-independent hash of the entries.
    public func hash(into hasher: inout Hasher) {
        var combined = 0
        for entry in storage {
            var h = Hasher()
            h.combine(CELMapKey(entry.key))
            h.combine(entry.value)
            combined ^= h.finalize()
        }
        hasher.combine(storage.count)
        hasher.combine(combined)
    }
}

/// A normalized map key: numbers that are equal in CEL hash the same.
@usableFromInline enum CELMapKey: Hashable, Sendable {
    case bool(Bool)
    case int(Int64)
    case bigUInt(UInt64)
    case string(String)
    case other(CELValue)

    init(_ v: CELValue) {
        switch v {
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .uint(let u): self = u <= UInt64(Int64.max) ? .int(Int64(u)) : .bigUInt(u)
        case .string(let s): self = .string(s)
        case .double(let d):
            if let k = CELMapKey(lookup: .double(d)) { self = k } else { self = .other(v) }
        default: self = .other(v)
        }
    }

    /// A key for looking up; doubles match integral int/uint keys. Nil when it can match nothing.
    init?(lookup v: CELValue) {
        switch v {
        case .double(let d):
            if d.isNaN || d.isInfinite || d.rounded(.towardZero) != d { return nil }
            if d >= -9.223372036854775808e18 && d < 9.223372036854775808e18 {
                self = .int(Int64(d))
            } else if d >= 0 && d < 1.8446744073709551616e19 {
                self = .bigUInt(UInt64(d))
            } else {
                return nil
            }
        default: self.init(v)
        }
    }
}

/// A point in time: seconds and nanoseconds since the Unix epoch, UTC.
///
/// CEL limits timestamps to 0001-01-01T00:00:00Z ... 9999-12-31T23:59:59.999999999Z (what RFC 3339 can spell);
/// every operation that produces a timestamp outside that range is an error.
public struct CELTimestamp: Sendable, Hashable, Comparable {
    /// Whole seconds since 1970-01-01T00:00:00Z.
    public var seconds: Int64
    /// Nanoseconds within the second, 0..<1_000_000_000.
    public var nanos: Int32

    /// A timestamp; `nanos` is normalized into 0..<1e9 (carrying into `seconds`, saturating at the ends of Int64).
    public init(seconds: Int64, nanos: Int32 = 0) {
        var carry = Int64(nanos) / 1_000_000_000
        var n = Int64(nanos) % 1_000_000_000
        if n < 0 {
            n += 1_000_000_000
            carry -= 1
        }
        let (s, overflow) = seconds.addingReportingOverflow(carry)
        self.seconds = overflow ? (carry < 0 ? Int64.min : Int64.max) : s
        self.nanos = Int32(n)
    }

    /// Parses RFC 3339 (`2023-01-02T03:04:05.678Z`, `...+01:00`). Nil when malformed.
    public init?(rfc3339: String) {
        guard let t = parseRFC3339(rfc3339) else { return nil }
        self = t
    }

    /// Earlier instants order first.
    public static func < (lhs: CELTimestamp, rhs: CELTimestamp) -> Bool {
        (lhs.seconds, lhs.nanos) < (rhs.seconds, rhs.nanos)
    }

    /// The earliest timestamp CEL allows: 0001-01-01T00:00:00Z.
    public static let minSeconds: Int64 = -62_135_596_800
    /// The latest timestamp CEL allows: 9999-12-31T23:59:59.999999999Z.
    public static let maxSeconds: Int64 = 253_402_300_799

    /// Whether CEL allows this timestamp (see ``minSeconds`` and ``maxSeconds``).
    public var isInRange: Bool { seconds >= CELTimestamp.minSeconds && seconds <= CELTimestamp.maxSeconds }

    /// A timestamp from seconds and a nanosecond adjustment of any sign, or nil when it leaves CEL's range.
    static func checked(seconds: Int64, nanos: Int64) -> CELTimestamp? {
        var carry = nanos / 1_000_000_000
        var n = nanos % 1_000_000_000
        if n < 0 {
            n += 1_000_000_000
            carry -= 1
        }
        let (s, overflow) = seconds.addingReportingOverflow(carry)
        guard !overflow else { return nil }
        let t = CELTimestamp(seconds: s, nanos: Int32(n))
        return t.isInRange ? t : nil
    }

    /// RFC 3339 text in UTC, as CEL's `string(timestamp)` prints it.
    public var rfc3339String: String {
        let c = civil(fromSeconds: seconds)
        var text = String(format: "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld", c.year, c.month, c.day, c.hour, c.minute, c.second)
        if nanos != 0 {
            var fraction = String(format: "%09d", nanos)
            while fraction.hasSuffix("0") { fraction.removeLast() }
            text += "." + fraction
        }
        return text + "Z"
    }
}

/// A signed span of time: seconds and nanoseconds with the same sign.
///
/// CEL limits durations to what a signed 64-bit count of nanoseconds holds (about ±292 years; langdef
/// "Overflow"), so ``totalNanos`` is the exact value; every operation that leaves that range is an error.
public struct CELDuration: Sendable, Hashable, Comparable {
    /// Whole seconds.
    public var seconds: Int64
    /// Nanoseconds beyond `seconds`, with the same sign, |nanos| < 1_000_000_000.
    public var nanos: Int32

    /// A duration; `nanos` is normalized to |nanos| < 1e9 with the sign of `seconds` (saturating at the ends of Int64).
    public init(seconds: Int64, nanos: Int32 = 0) {
        let (s0, overflow) = seconds.addingReportingOverflow(Int64(nanos / 1_000_000_000))
        var s = overflow ? (nanos < 0 ? Int64.min : Int64.max) : s0
        var n = nanos % 1_000_000_000
        if s > 0 && n < 0 {
            s -= 1
            n += 1_000_000_000
        }
        if s < 0 && n > 0 {
            s += 1
            n -= 1_000_000_000
        }
        self.seconds = s
        self.nanos = n
    }

    /// A duration of this many nanoseconds (every Int64 is a valid duration).
    public init(totalNanos: Int64) {
        seconds = totalNanos / 1_000_000_000
        nanos = Int32(totalNanos % 1_000_000_000)
    }

    /// Shorter (more negative) durations order first.
    public static func < (lhs: CELDuration, rhs: CELDuration) -> Bool {
        (lhs.seconds, lhs.nanos) < (rhs.seconds, rhs.nanos)
    }

    /// The longest duration CEL allows: Int64.max nanoseconds (292 years and a bit).
    public static let max = CELDuration(totalNanos: Int64.max)
    /// The most negative duration CEL allows: Int64.min nanoseconds.
    public static let min = CELDuration(totalNanos: Int64.min)
    /// Whole seconds of the longest duration CEL allows (``max`` is this many seconds and 854775807 ns).
    public static let maxSeconds: Int64 = 9_223_372_036

    /// Whether CEL allows this duration (its nanoseconds fit in Int64).
    public var isInRange: Bool { totalNanos != nil }

    /// Total nanoseconds, nil when they do not fit in Int64 (the duration is out of CEL's range).
    public var totalNanos: Int64? {
        let (m, o1) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if o1 { return nil }
        let (t, o2) = m.addingReportingOverflow(Int64(nanos))
        return o2 ? nil : t
    }

    /// `1.5s`, `-3s`: the form CEL's `string(duration)` prints.
    public var secondsString: String {
        if nanos == 0 { return "\(seconds)s" }
        var fraction = String(format: "%09d", nanos.magnitude)
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return (seconds < 0 || nanos < 0 ? "-" : "") + "\(seconds.magnitude).\(fraction)s"
    }
}

/// An evaluation error (CEL's error value): division by zero, no such key, no matching overload...
public struct CELError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public var message: String
    /// Whether evaluation stopped because it spent its cost budget (see ``CELEvaluationOptions``).
    /// Such an error is never absorbed by `&&`, `||`, `all` or `exists`: the whole evaluation fails.
    public internal(set) var isCostLimitExceeded: Bool = false
    /// The values the evaluation needed that are not known yet (``CELMap/unknownKeys``); empty
    /// for every other error.
    public internal(set) var unknownPaths: [String] = []
    /// Whether evaluation stopped on values not known yet rather than on a fault.
    public var isUnknown: Bool { !unknownPaths.isEmpty }
    /// An error with this message.
    public init(_ message: String) { self.message = message }

    /// The error for reading a value that is not known yet.
    public static func unknown(_ paths: [String]) -> CELError {
        var e = CELError("depends on a value known only after apply: \(paths.joined(separator: ", "))")
        e.unknownPaths = paths
        return e
    }

    /// Of two errors from operands that did not decide, the one to report: unknown values win
    /// over faults (the fault may vanish once the value is known), and two unknowns merge.
    static func combined(_ a: CELError, _ b: CELError) -> CELError {
        if a.isUnknown && b.isUnknown {
            return .unknown(Array(Set(a.unknownPaths + b.unknownPaths)).sorted())
        }
        return a.isUnknown || !b.isUnknown ? a : b
    }
    /// The message.
    public var description: String { message }

    /// The error for an evaluation that spent more than `limit` cost units.
    static func costLimitExceeded(_ limit: UInt64) -> CELError {
        var e = CELError("cost limit exceeded: the evaluation costs more than its limit of \(limit) units")
        e.isCostLimitExceeded = true
        return e
    }

    static func noOverload(_ function: String, _ args: [CELValue]) -> CELError {
        CELError(
            "found no matching overload for '\(function)' applied to '(\(args.map { $0.celType.description }.joined(separator: ", ")))'")
    }
    static func noOverload(_ function: String, _ args: CELValue...) -> CELError { noOverload(function, args) }
}

/// A parse or check error, positioned in the expression source (1-based line and column).
public struct CELSourceError: Error, Sendable, CustomStringConvertible {
    /// What is wrong.
    public var message: String
    /// 1-based line of the offending token.
    public var line: Int
    /// 1-based column (in characters) of the offending token.
    public var column: Int

    /// An error at this position.
    public init(message: String, line: Int, column: Int) {
        self.message = message
        self.line = line
        self.column = column
    }

    /// `line:column: message`.
    public var description: String { "\(line):\(column): \(message)" }
}

// MARK: - Equality, ordering, printing

/// CEL equality: numbers compare by value across int, uint and double (NaN equals nothing),
/// lists element-wise, maps by key set and values regardless of order; values of different kinds are unequal.
public func celEquals(_ a: CELValue, _ b: CELValue) -> Bool {
    switch (a, b) {
    case (.null, .null): return true
    case (.bool(let x), .bool(let y)): return x == y
    case (.string(let x), .string(let y)): return celStringsEqual(x, y)
    case (.int(let x), .int(let y)): return x == y
    case (.uint(let x), .uint(let y)): return x == y
    case (.double(let x), .double(let y)): return x == y
    case (.int, .uint), (.int, .double), (.uint, .int), (.uint, .double), (.double, .int), (.double, .uint):
        return celCompareNumbers(a, b) == 0
    case (.bytes(let x), .bytes(let y)): return x == y
    case (.list(let x), .list(let y)):
        guard x.count == y.count else { return false }
        for i in x.indices where !celEquals(x[i], y[i]) { return false }
        return true
    case (.map(let x), .map(let y)):
        guard x.count == y.count else { return false }
        for entry in x.storage {
            guard let other = y[entry.key], celEquals(entry.value, other) else { return false }
        }
        return true
    case (.timestamp(let x), .timestamp(let y)): return x == y
    case (.duration(let x), .duration(let y)): return x == y
    case (.type(let x), .type(let y)): return x.name == y.name
    case (.optional(let x), .optional(let y)):
        switch (x, y) {
        case (nil, nil): return true
        case (let x?, let y?): return celEquals(x, y)
        default: return false
        }
    case (.ip(let x), .ip(let y)): return x == y
    case (.cidr(let x), .cidr(let y)): return x == y
    default: return false
    }
}

/// Byte-wise string equality (no Unicode normalization, as CEL requires).
@inline(__always) func celStringsEqual(_ a: String, _ b: String) -> Bool {
    let u = a.utf8
    let v = b.utf8
    return u.count == v.count && u.elementsEqual(v)
}

/// Compares two numbers of any numeric kinds exactly. Nil when either is NaN or not a number.
func celCompareNumbers(_ a: CELValue, _ b: CELValue) -> Int? {
    func cmp<T: Comparable>(_ x: T, _ y: T) -> Int { x < y ? -1 : (x > y ? 1 : 0) }
    switch (a, b) {
    case (.int(let x), .int(let y)): return cmp(x, y)
    case (.uint(let x), .uint(let y)): return cmp(x, y)
    case (.double(let x), .double(let y)): return x.isNaN || y.isNaN ? nil : cmp(x, y)
    case (.int(let x), .uint(let y)): return x < 0 ? -1 : cmp(UInt64(x), y)
    case (.uint(let x), .int(let y)): return y < 0 ? 1 : cmp(x, UInt64(y))
    case (.int(let x), .double(let y)): return compareIntDouble(x, y)
    case (.double(let x), .int(let y)): return compareIntDouble(y, x).map { -$0 }
    case (.uint(let x), .double(let y)): return compareUIntDouble(x, y)
    case (.double(let x), .uint(let y)): return compareUIntDouble(y, x).map { -$0 }
    default: return nil
    }
}

/// int vs double as CEL orders them: out-of-range doubles compare as beyond every int, otherwise by value as doubles.
private func compareIntDouble(_ x: Int64, _ y: Double) -> Int? {
    if y.isNaN { return nil }
    if y < -9.223372036854775808e18 { return 1 }
    if y > 9.223372036854775808e18 { return -1 }
    let xd = Double(x)
    return xd < y ? -1 : (xd > y ? 1 : 0)
}

private func compareUIntDouble(_ x: UInt64, _ y: Double) -> Int? {
    if y.isNaN { return nil }
    if y < 0 { return 1 }
    if y > 1.8446744073709551616e19 { return -1 }
    let xd = Double(x)
    return xd < y ? -1 : (xd > y ? 1 : 0)
}

/// CEL ordering for `<` and friends: nil when the operands cannot be ordered (no such overload).
/// For NaN operands returns `.some(nil)`-like behavior via `unordered`.
enum CELOrdering { case less, equal, greater, unordered }

func celCompare(_ a: CELValue, _ b: CELValue) -> CELOrdering? {
    func ord<T: Comparable>(_ x: T, _ y: T) -> CELOrdering { x < y ? .less : (x > y ? .greater : .equal) }
    switch (a, b) {
    case (.int(let x), .int(let y)): return ord(x, y)
    case (.int, .uint), (.int, .double), (.uint, .int), (.uint, .uint), (.uint, .double), (.double, .int), (.double, .uint),
        (.double, .double):
        guard let c = celCompareNumbers(a, b) else { return .unordered }
        return c < 0 ? .less : (c > 0 ? .greater : .equal)
    case (.string(let x), .string(let y)):
        if celStringsEqual(x, y) { return .equal }
        return x.utf8.lexicographicallyPrecedes(y.utf8) ? .less : .greater
    case (.bytes(let x), .bytes(let y)):
        if x == y { return .equal }
        return x.lexicographicallyPrecedes(y) ? .less : .greater
    case (.bool(let x), .bool(let y)): return x == y ? .equal : (!x ? .less : .greater)
    case (.timestamp(let x), .timestamp(let y)): return ord(x, y)
    case (.duration(let x), .duration(let y)): return ord(x, y)
    default: return nil
    }
}

extension CELValue {
    /// The CEL runtime type of this value (`int`, `list`, `google.protobuf.Timestamp`, ...).
    public var celType: CELType {
        switch self {
        case .null: return .null
        case .bool: return .bool
        case .int: return .int
        case .uint: return .uint
        case .double: return .double
        case .string: return .string
        case .bytes: return .bytes
        case .list: return .list
        case .map: return .map
        case .timestamp: return .timestamp
        case .duration: return .duration
        case .type: return .type
        case .optional: return .optional
        case .ip: return .ip
        case .cidr: return .cidr
        }
    }
}

extension CELValue: CustomStringConvertible, CustomDebugStringConvertible {
    /// CEL literal syntax: `1`, `2u`, `3.0`, `"s"`, `b"\x00"`, `[1, 2]`, `{"k": v}`, `timestamp("...")`.
    public var description: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .uint(let u): return "\(u)u"
        case .double(let d): return formatDoubleLiteral(d)
        case .string(let s): return quoteCELString(s)
        case .bytes(let b):
            return "b\""
                + b.map { byte -> String in
                    if byte >= 0x20 && byte < 0x7f && byte != 0x22 && byte != 0x5c { return String(UnicodeScalar(byte)) }
                    return String(format: "\\x%02x", byte)
                }.joined() + "\""
        case .list(let l): return "[" + l.map(\.description).joined(separator: ", ") + "]"
        case .map(let m): return "{" + m.entries.map { "\($0.key.description): \($0.value.description)" }.joined(separator: ", ") + "}"
        case .timestamp(let t): return "timestamp(\"\(t.rfc3339String)\")"
        case .duration(let d): return "duration(\"\(d.secondsString)\")"
        case .type(let t): return t.description
        case .optional(let v): return v.map { "optional.of(\($0.description))" } ?? "optional.none()"
        case .ip(let ip): return "ip(\"\(ip.description)\")"
        case .cidr(let c): return "cidr(\"\(c.description)\")"
        }
    }

    /// Same as ``description``.
    public var debugDescription: String { description }
}

/// A double as CEL source would spell it (always with a decimal point or exponent).
func formatDoubleLiteral(_ d: Double) -> String {
    if d.isNaN { return "double(\"NaN\")" }
    if d.isInfinite { return d < 0 ? "double(\"-Infinity\")" : "double(\"Infinity\")" }
    let s = "\(d)"
    return s.contains(".") || s.contains("e") ? s : s + ".0"
}

/// A double as `string(d)` prints it: Go's `%g` with the shortest round-trip digits
/// (`123.456`, `-0.0045`, `1e+06`, `1.5e-07`).
func formatDoubleForString(_ d: Double) -> String {
    if d.isNaN { return "NaN" }
    if d.isInfinite { return d < 0 ? "-Infinity" : "+Infinity" }
    let negative = d.sign == .minus
    if d == 0 { return negative ? "-0" : "0" }
    // Shortest digits and exponent from Swift's round-trip description.
    let text = "\(d.magnitude)"
    var mantissa = Substring(text)
    var exponent = 0
    if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
        mantissa = text[..<e]
        guard let parsed = Int(text[text.index(after: e)...]) else { return text }  // Swift always prints a valid exponent
        exponent = parsed
    }
    let parts = mantissa.split(separator: ".", omittingEmptySubsequences: false)
    let intPart = String(parts[0])
    let fracPart = parts.count > 1 ? String(parts[1]) : ""
    var digits = Array(intPart + fracPart)
    var point = intPart.count + exponent  // value = 0.digits × 10^point
    while digits.first == "0" {
        digits.removeFirst()
        point -= 1
    }
    while digits.last == "0" { digits.removeLast() }
    if digits.isEmpty { return negative ? "-0" : "0" }
    let exp = point - 1
    var out = negative ? "-" : ""
    if exp < -4 || exp >= 6 {
        out.append(digits[0])
        if digits.count > 1 { out += "." + String(digits[1...]) }
        out += exp < 0 ? "e-" : "e+"
        let magnitude = abs(exp)
        out += magnitude < 10 ? "0\(magnitude)" : "\(magnitude)"
        return out
    }
    if point <= 0 {
        out += "0." + String(repeating: "0", count: -point) + String(digits)
    } else if point >= digits.count {
        out += String(digits) + String(repeating: "0", count: point - digits.count)
    } else {
        out += String(digits[..<point]) + "." + String(digits[point...])
    }
    return out
}

func quoteCELString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\u{07}": out += "\\a"
        case "\u{08}": out += "\\b"
        case "\u{0C}": out += "\\f"
        case "\u{0B}": out += "\\v"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7f {
                out += String(format: "\\x%02x", scalar.value)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}
