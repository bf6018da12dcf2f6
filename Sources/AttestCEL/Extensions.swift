import Foundation

// MARK: - Optionals

/// Whether a value is its type's zero value (for `optional.ofNonZeroValue`).
func isZeroValue(_ v: CELValue) -> Bool {
    switch v {
    case .null: return true
    case .bool(let b): return !b
    case .int(let i): return i == 0
    case .uint(let u): return u == 0
    case .double(let d): return d == 0
    case .string(let s): return s.isEmpty
    case .bytes(let b): return b.isEmpty
    case .list(let l): return l.isEmpty
    case .map(let m): return m.count == 0
    case .timestamp(let t): return t.seconds == 0 && t.nanos == 0
    case .duration(let d): return d.seconds == 0 && d.nanos == 0
    case .optional(let o): return o == nil
    default: return false
    }
}

func addOptionalFunctions(_ t: inout FunctionTable) {
    t.global1("optional.of") { .optional($0) }
    t.add("optional.none", arity: 0...0, .many { _ in .optional(nil) })
    t.global1("optional.ofNonZeroValue") { isZeroValue($0) ? .optional(nil) : .optional($0) }
    t.member1("hasValue") { v throws(CELError) in
        guard case .optional(let o) = v else { throw CELError.noOverload("hasValue", v) }
        return .bool(o != nil)
    }
    t.member1("value") { v throws(CELError) in
        guard case .optional(let o) = v else { throw CELError.noOverload("value", v) }
        guard let x = o else { throw CELError("optional.none() dereference") }
        return x
    }
    t.member2("orValue") { v, d throws(CELError) in
        guard case .optional(let o) = v else { throw CELError.noOverload("orValue", v, d) }
        return o ?? d
    }
    t.member2("or") { v, other throws(CELError) in
        guard case .optional(let o) = v, case .optional = other else { throw CELError.noOverload("or", v, other) }
        return o != nil ? v : other
    }
}

// MARK: - Strings extension

func stringArg(_ v: CELValue, _ fn: String, _ all: [CELValue]) throws(CELError) -> String {
    guard case .string(let s) = v else { throw CELError.noOverload(fn, all) }
    return s
}

func intArg(_ v: CELValue, _ fn: String, _ all: [CELValue]) throws(CELError) -> Int64 {
    guard case .int(let i) = v else { throw CELError.noOverload(fn, all) }
    return i
}

/// The Unicode scalars of a string, charging for reading it.
func scalarsCharged(_ s: String, _ a: Activation) throws(CELError) -> [Unicode.Scalar] {
    try a.charge(byteCost(s))
    return Array(s.unicodeScalars)
}

func addStringExtensions(_ t: inout FunctionTable) {
    t.metered2("charAt", receiver: true, global: false) { v, i, a throws(CELError) in
        guard case .string(let str) = v, case .int(let idx) = i else { throw CELError.noOverload("charAt", v, i) }
        let scalars = try scalarsCharged(str, a)
        guard idx >= 0 && idx <= scalars.count else { throw CELError("index out of range: \(idx)") }
        return .string(idx == scalars.count ? "" : String(Character(scalars[Int(idx)])))
    }
    func indexOf(_ name: String, last: Bool) -> FunctionImpl {
        .metered { args, a throws(CELError) in
            let s = try scalarsCharged(try stringArg(args[0], name, args), a)
            let sub = try scalarsCharged(try stringArg(args[1], name, args), a)
            var offset: Int64 = last ? Int64(s.count) : 0
            if args.count > 2 { offset = try intArg(args[2], name, args) }
            guard offset >= 0 && offset <= s.count else { throw CELError("index out of range: \(offset)") }
            if sub.isEmpty { return .int(offset) }
            if last {
                // The last occurrence starting at or before `offset`: the first one in the reversed text.
                guard s.count >= sub.count else { return .int(-1) }
                let from = max(0, s.count - sub.count - Int(offset))
                let searcher = SubstringSearcher(Array(sub.reversed()))
                guard let j = searcher.firstIndex(in: Array(s.reversed()), from: from) else { return .int(-1) }
                return .int(Int64(s.count - j - sub.count))
            }
            return .int(SubstringSearcher(sub).firstIndex(in: s, from: Int(offset)).map(Int64.init) ?? -1)
        }
    }
    t.add("indexOf", arity: 2...3, receiver: true, global: false, indexOf("indexOf", last: false))
    t.add("lastIndexOf", arity: 2...3, receiver: true, global: false, indexOf("lastIndexOf", last: true))
    t.metered1("lowerAscii", receiver: true, global: false) { v, a throws(CELError) in
        guard case .string(let str) = v else { throw CELError.noOverload("lowerAscii", v) }
        try a.charge(byteCost(str))
        return .string(
            String(String.UnicodeScalarView(str.unicodeScalars.map { ($0 >= "A" && $0 <= "Z") ? Unicode.Scalar($0.value + 32)! : $0 })))
    }
    t.metered1("upperAscii", receiver: true, global: false) { v, a throws(CELError) in
        guard case .string(let str) = v else { throw CELError.noOverload("upperAscii", v) }
        try a.charge(byteCost(str))
        return .string(
            String(String.UnicodeScalarView(str.unicodeScalars.map { ($0 >= "a" && $0 <= "z") ? Unicode.Scalar($0.value - 32)! : $0 })))
    }
    t.add(
        "replace", arity: 3...4, receiver: true, global: false,
        .metered { args, a throws(CELError) in
            let s = try stringArg(args[0], "replace", args)
            let old = try stringArg(args[1], "replace", args)
            let new = try stringArg(args[2], "replace", args)
            var n: Int64 = -1
            if args.count > 3 { n = try intArg(args[3], "replace", args) }
            return .string(try replaceOccurrences(s, old, new, limit: n, a))
        })
    t.add(
        "split", arity: 2...3, receiver: true, global: false,
        .metered { args, a throws(CELError) in
            let s = try stringArg(args[0], "split", args)
            let sep = try stringArg(args[1], "split", args)
            var n: Int64 = -1
            if args.count > 2 { n = try intArg(args[2], "split", args) }
            return .list(try splitString(s, sep, limit: n, a).map { .string($0) })
        })
    t.add(
        "substring", arity: 2...3, receiver: true, global: false,
        .metered { args, a throws(CELError) in
            let s = try scalarsCharged(try stringArg(args[0], "substring", args), a)
            let start = try intArg(args[1], "substring", args)
            let end = args.count > 2 ? try intArg(args[2], "substring", args) : Int64(s.count)
            guard start >= 0, start <= s.count else { throw CELError("index out of range: \(start)") }
            guard end >= 0, end <= s.count else { throw CELError("index out of range: \(end)") }
            guard start <= end else { throw CELError("invalid substring range. start: \(start), end: \(end)") }
            return .string(String(String.UnicodeScalarView(s[Int(start)..<Int(end)])))
        })
    t.metered1("trim", receiver: true, global: false) { v, a throws(CELError) in
        guard case .string(let str) = v else { throw CELError.noOverload("trim", v) }
        try a.charge(byteCost(str))
        var scalars = Substring(str).unicodeScalars[...]
        while let f = scalars.first, f.properties.isWhitespace { scalars = scalars.dropFirst() }
        while let l = scalars.last, l.properties.isWhitespace { scalars = scalars.dropLast() }
        return .string(String(String.UnicodeScalarView(scalars)))
    }
    t.add(
        "join", arity: 1...2, receiver: true, global: false,
        .metered { args, a throws(CELError) in
            guard case .list(let l) = args[0] else { throw CELError.noOverload("join", args) }
            let sep = args.count > 1 ? try stringArg(args[1], "join", args) : ""
            var parts: [String] = []
            parts.reserveCapacity(l.count)
            var bytes = sep.utf8.count * max(0, l.count - 1)
            for v in l {
                guard case .string(let s) = v else { throw CELError.noOverload("join", args) }
                bytes += s.utf8.count
                parts.append(s)
            }
            try a.charge(elementCost(l.count) &+ byteCost(bytes))
            return .string(parts.joined(separator: sep))
        })
    t.metered1("reverse", receiver: true, global: false) { v, a throws(CELError) in
        try a.charge(sizeCost(v))
        switch v {
        case .string(let s): return .string(String(String.UnicodeScalarView(s.unicodeScalars.reversed())))
        case .list(let l): return .list(l.reversed())
        default: throw CELError.noOverload("reverse", v)
        }
    }
    t.metered1("strings.quote") { v, a throws(CELError) in
        guard case .string(let s) = v else { throw CELError.noOverload("strings.quote", v) }
        try a.charge(byteCost(s) &* 2)
        return .string(quoteCELString(s))
    }
    t.metered2("format", receiver: true, global: false) { f, l, a throws(CELError) in
        guard case .string(let fmt) = f, case .list(let values) = l else { throw CELError.noOverload("format", f, l) }
        try a.charge(byteCost(fmt) &+ elementCost(values.count))
        let out = try formatString(fmt, values)
        // The output's size is proportional to the arguments, which already exist; charge it as produced.
        try a.charge(byteCost(out))
        return .string(out)
    }
}

/// Go's `strings.Replace` (what cel-go's `replace` is): the first `limit` non-overlapping occurrences of `old`
/// (all when `limit` < 0) replaced by `new`. An empty `old` matches at the start and after every character, so
/// `'abc'.replace('', 'x')` is `"xaxbxcx"`. The result's size is charged before it is built.
func replaceOccurrences(_ s: String, _ old: String, _ new: String, limit: Int64, _ a: Activation) throws(CELError) -> String {
    if limit == 0 { return s }
    try a.charge(byteCost(s) &+ byteCost(old))
    let newBytes = Array(new.utf8)
    if old.isEmpty {
        let scalars = s.unicodeScalars
        let slots = scalars.count + 1
        let count = limit < 0 ? slots : Int(min(limit, Int64(slots)))
        try a.charge(byteCost(s.utf8.count + count * newBytes.count))
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count + count * newBytes.count)
        var inserted = 0
        for scalar in scalars {
            if inserted < count {
                out += newBytes
                inserted += 1
            }
            out += String(scalar).utf8
        }
        if inserted < count { out += newBytes }
        return String(decoding: out, as: UTF8.self)
    }
    let text = Array(s.utf8)
    let oldBytes = Array(old.utf8)
    let matches = SubstringSearcher(oldBytes).allIndexes(in: text, limit: limit < 0 ? nil : Int(min(limit, Int64(text.count))))
    if matches.isEmpty { return s }
    let size = text.count + matches.count * (newBytes.count - oldBytes.count)
    try a.charge(byteCost(size))
    var out: [UInt8] = []
    out.reserveCapacity(size)
    var from = 0
    for m in matches {
        out += text[from..<m]
        out += newBytes
        from = m + oldBytes.count
    }
    out += text[from...]
    // Matches of valid UTF-8 in valid UTF-8 start and end on character boundaries, so this never repairs anything.
    return String(decoding: out, as: UTF8.self)
}

/// Go's `strings.SplitN` (what cel-go's `split` is): `limit` < 0 splits at every `sep`; `limit` > 0 gives at most
/// `limit` parts, the last holding the rest; 0 gives none. An empty `sep` splits into characters.
func splitString(_ s: String, _ sep: String, limit: Int64, _ a: Activation) throws(CELError) -> [String] {
    if limit == 0 { return [] }
    try a.charge(byteCost(s) &+ byteCost(sep))
    if sep.isEmpty {
        let scalars = Array(s.unicodeScalars)
        let count = limit < 0 ? scalars.count : Int(min(limit, Int64(scalars.count)))
        try a.charge(elementCost(count))
        var parts: [String] = []
        parts.reserveCapacity(count)
        for i in 0..<count {
            if i == count - 1 && count < scalars.count {
                parts.append(String(String.UnicodeScalarView(scalars[i...])))
            } else {
                parts.append(String(Character(scalars[i])))
            }
        }
        return parts
    }
    let text = Array(s.utf8)
    let sepBytes = Array(sep.utf8)
    let cuts = SubstringSearcher(sepBytes).allIndexes(in: text, limit: limit < 0 ? nil : Int(min(limit - 1, Int64(text.count))))
    try a.charge(elementCost(cuts.count + 1))
    var parts: [String] = []
    parts.reserveCapacity(cuts.count + 1)
    var from = 0
    for c in cuts {
        parts.append(String(decoding: text[from..<c], as: UTF8.self))
        from = c + sepBytes.count
    }
    parts.append(String(decoding: text[from...], as: UTF8.self))
    return parts
}

/// The strings extension's `format`: %s %d %f %e %x %X %o %b %% with optional precision.
func formatString(_ fmt: String, _ args: [CELValue]) throws(CELError) -> String {
    var out = ""
    let chars = Array(fmt)
    var i = 0
    var argIndex = 0
    func next() throws(CELError) -> CELValue {
        guard argIndex < args.count else { throw CELError("index \(argIndex) out of range") }
        defer { argIndex += 1 }
        return args[argIndex]
    }
    while i < chars.count {
        let c = chars[i]
        if c != "%" {
            out.append(c)
            i += 1
            continue
        }
        i += 1
        guard i < chars.count else { throw CELError("unexpected end of format string") }
        if chars[i] == "%" {
            out.append("%")
            i += 1
            continue
        }
        var precision: Int?
        if chars[i] == "." {
            i += 1
            var p = 0
            while i < chars.count, let d = chars[i].wholeNumberValue {
                p = min(p * 10 + d, 1000)
                i += 1
            }
            precision = min(p, 100)
        }
        guard i < chars.count else { throw CELError("unexpected end of format string") }
        let verb = chars[i]
        i += 1
        let v = try next()
        switch verb {
        case "s": out += try formatAsString(v)
        case "d":
            switch v {
            case .int(let x): out += String(x)
            case .uint(let x): out += String(x)
            case .double(let d) where d.isNaN || d.isInfinite: out += formatDoubleForString(d).replacingOccurrences(of: "+", with: "")
            default: throw CELError("error during formatting: decimal clause can only be used on integers, was given \(v.celType)")
            }
        case "f", "e":
            let d: Double
            switch v {
            case .double(let x): d = x
            case .int(let x): d = Double(x)
            case .uint(let x): d = Double(x)
            default: throw CELError("error during formatting: fixed-point clause can only be used on doubles, was given \(v.celType)")
            }
            if d.isNaN {
                out += "NaN"
            } else if d.isInfinite {
                out += d < 0 ? "-Infinity" : "Infinity"
            } else {
                out += String(format: "%.\(precision ?? 6)\(verb)", d)
            }
        case "x", "X":
            var s: String
            switch v {
            case .int(let x): s = x < 0 ? "-" + String(x.magnitude, radix: 16) : String(x, radix: 16)
            case .uint(let x): s = String(x, radix: 16)
            case .string(let str): s = str.utf8.map { String(format: "%02x", $0) }.joined()
            case .bytes(let b): s = b.map { String(format: "%02x", $0) }.joined()
            default:
                throw CELError(
                    "error during formatting: only integers, byte buffers, and strings can be formatted as hex, was given \(v.celType)")
            }
            if verb == "X" { s = s.uppercased() }
            out += s
        case "o":
            switch v {
            case .int(let x): out += x < 0 ? "-" + String(x.magnitude, radix: 8) : String(x, radix: 8)
            case .uint(let x): out += String(x, radix: 8)
            default: throw CELError("error during formatting: octal clause can only be used on integers, was given \(v.celType)")
            }
        case "b":
            switch v {
            case .int(let x): out += x < 0 ? "-" + String(x.magnitude, radix: 2) : String(x, radix: 2)
            case .uint(let x): out += String(x, radix: 2)
            case .bool(let b): out += b ? "1" : "0"
            default: throw CELError("error during formatting: only integers and bools can be formatted as binary, was given \(v.celType)")
            }
        default:
            throw CELError("could not parse formatting clause: unrecognized formatting clause \"\(verb)\"")
        }
    }
    return out
}

func formatAsString(_ v: CELValue) throws(CELError) -> String {
    switch v {
    case .string(let s): return s
    case .list(let l): return "[" + (try l.map { x throws(CELError) in try formatAsString(x) }).joined(separator: ", ") + "]"
    case .map(let m):
        var parts: [String] = []
        for e in m.entries { parts.append("\(try formatAsString(e.key)): \(try formatAsString(e.value))") }
        return "{" + parts.sorted().joined(separator: ", ") + "}"
    case .null: return "null"
    case .bytes(let b): return String(decoding: b, as: UTF8.self)
    case .type(let t): return t.name
    case .double(let d): return formatDoubleForString(d).replacingOccurrences(of: "+Infinity", with: "Infinity")
    default:
        if case .string(let s) = try toStringValue(v) { return s }
        return v.description
    }
}

// MARK: - Math extension

func numericArgs(_ args: [CELValue], _ fn: String) throws(CELError) -> [CELValue] {
    var values = args
    if args.count == 1, case .list(let l) = args[0] {
        guard !l.isEmpty else { throw CELError("\(fn)(list) argument must not be empty") }
        values = l
    }
    for v in values {
        switch v {
        case .int, .uint, .double: break
        default: throw CELError.noOverload(fn, args)
        }
    }
    return values
}

func addMathExtensions(_ t: inout FunctionTable) {
    // A NaN compares with nothing, so it never replaces the running best (and a leading NaN stays).
    t.add(
        "math.greatest", arity: 1...Int.max,
        .metered { args, a throws(CELError) in
            let vals = try numericArgs(args, "math.greatest")
            try a.charge(elementCost(vals.count))
            var best = vals[0]
            for v in vals.dropFirst() { if let c = celCompareNumbers(v, best), c > 0 { best = v } }
            return best
        })
    t.add(
        "math.least", arity: 1...Int.max,
        .metered { args, a throws(CELError) in
            let vals = try numericArgs(args, "math.least")
            try a.charge(elementCost(vals.count))
            var best = vals[0]
            for v in vals.dropFirst() { if let c = celCompareNumbers(v, best), c < 0 { best = v } }
            return best
        })
    func doubleFn(_ name: String, _ f: @escaping @Sendable (Double) -> Double) {
        t.global1(name) { v throws(CELError) in
            guard case .double(let d) = v else { throw CELError.noOverload(name, v) }
            return .double(f(d))
        }
    }
    doubleFn("math.ceil") { $0.rounded(.up) }
    doubleFn("math.floor") { $0.rounded(.down) }
    doubleFn("math.round") { $0.rounded(.toNearestOrAwayFromZero) }
    doubleFn("math.trunc") { $0.rounded(.towardZero) }
    func predicate(_ name: String, _ f: @escaping @Sendable (Double) -> Bool) {
        t.global1(name) { v throws(CELError) in
            guard case .double(let d) = v else { throw CELError.noOverload(name, v) }
            return .bool(f(d))
        }
    }
    predicate("math.isNaN") { $0.isNaN }
    predicate("math.isInf") { $0.isInfinite }
    predicate("math.isFinite") { $0.isFinite }
    t.global1("math.abs") { v throws(CELError) in
        switch v {
        case .int(let i):
            if i == Int64.min { throw CELError("overflow: math.abs(\(i))") }
            return .int(abs(i))
        case .uint: return v
        case .double(let d): return .double(abs(d))
        default: throw CELError.noOverload("math.abs", v)
        }
    }
    t.global1("math.sign") { v throws(CELError) in
        switch v {
        case .int(let i): return .int(i > 0 ? 1 : (i < 0 ? -1 : 0))
        case .uint(let u): return .uint(u > 0 ? 1 : 0)
        case .double(let d): return .double(d.isNaN ? d : (d > 0 ? 1 : (d < 0 ? -1 : 0)))
        default: throw CELError.noOverload("math.sign", v)
        }
    }
    t.global1("math.sqrt") { v throws(CELError) in
        switch v {
        case .int(let i): return .double(Double(i).squareRoot())
        case .uint(let u): return .double(Double(u).squareRoot())
        case .double(let d): return .double(d.squareRoot())
        default: throw CELError.noOverload("math.sqrt", v)
        }
    }
    func bitwise(_ name: String, _ fi: @escaping @Sendable (Int64, Int64) -> Int64, _ fu: @escaping @Sendable (UInt64, UInt64) -> UInt64) {
        t.global2(name) { a, b throws(CELError) in
            switch (a, b) {
            case (.int(let x), .int(let y)): return .int(fi(x, y))
            case (.uint(let x), .uint(let y)): return .uint(fu(x, y))
            default: throw CELError.noOverload(name, a, b)
            }
        }
    }
    bitwise("math.bitAnd", { $0 & $1 }, { $0 & $1 })
    bitwise("math.bitOr", { $0 | $1 }, { $0 | $1 })
    bitwise("math.bitXor", { $0 ^ $1 }, { $0 ^ $1 })
    t.global1("math.bitNot") { v throws(CELError) in
        switch v {
        case .int(let i): return .int(~i)
        case .uint(let u): return .uint(~u)
        default: throw CELError.noOverload("math.bitNot", v)
        }
    }
    func shift(_ name: String, left: Bool) {
        t.global2(name) { a, b throws(CELError) in
            guard case .int(let n) = b else { throw CELError.noOverload(name, a, b) }
            guard n >= 0 else { throw CELError("\(name)() negative offset: \(n)") }
            switch a {
            case .int(let x):
                if n >= 64 { return .int(0) }
                let u = UInt64(bitPattern: x)
                return .int(Int64(bitPattern: left ? u << UInt64(n) : u >> UInt64(n)))
            case .uint(let x):
                if n >= 64 { return .uint(0) }
                return .uint(left ? x << UInt64(n) : x >> UInt64(n))
            default: throw CELError.noOverload(name, a, b)
            }
        }
    }
    shift("math.bitShiftLeft", left: true)
    shift("math.bitShiftRight", left: false)
}

// MARK: - Lists extension

/// How many elements `flatten` to `depth` produces (to charge before building them).
func flattenedCount(_ l: [CELValue], _ depth: Int64) -> Int {
    var n = 0
    for x in l {
        if depth > 0, case .list(let inner) = x { n += flattenedCount(inner, depth - 1) } else { n += 1 }
    }
    return n
}

func flattenList(_ l: [CELValue], _ depth: Int64) -> [CELValue] {
    var out: [CELValue] = []
    for x in l {
        if depth > 0, case .list(let inner) = x { out += flattenList(inner, depth - 1) } else { out.append(x) }
    }
    return out
}

/// The elements of `l` without repeats (CEL equality), first occurrences in order. Numbers, strings and bools are
/// deduplicated through a hash set; other values by comparison with the earlier ones of their kind (charged).
func distinctElements(_ l: [CELValue], _ a: Activation) throws(CELError) -> [CELValue] {
    try a.charge(elementCost(l.count))
    var out: [CELValue] = []
    var seenKeys = Set<CELMapKey>()
    var seenFractions = Set<UInt64>()  // bit patterns of non-integral doubles
    var others: [CELValue] = []
    for x in l {
        switch x {
        case .bool, .int, .uint, .string:
            if seenKeys.insert(CELMapKey(x)).inserted { out.append(x) }
        case .double(let d):
            if d.isNaN {
                out.append(x)  // NaN equals nothing, not even itself
            } else if let key = CELMapKey(lookup: x) {
                if seenKeys.insert(key).inserted { out.append(x) }
            } else if seenFractions.insert(d.bitPattern).inserted {
                out.append(x)
            }
        default:
            try a.charge(elementCost(others.count))
            if !others.contains(where: { celEquals($0, x) }) {
                others.append(x)
                out.append(x)
            }
        }
    }
    return out
}

/// ⌈log2(n)⌉ for sort costs.
func log2Ceiling(_ n: Int) -> UInt64 { n <= 1 ? 1 : UInt64(Int.bitWidth - (n - 1).leadingZeroBitCount) }

func addListExtensions(_ t: inout FunctionTable) {
    t.metered1("lists.range") { v, a throws(CELError) in
        guard case .int(let n) = v else { throw CELError.noOverload("lists.range", v) }
        guard n <= 10_000_000 else { throw CELError("lists.range(\(n)) is too large") }
        if n <= 0 { return .list([]) }
        try a.charge(elementCost(Int(n)))
        return .list((0..<n).map { .int($0) })
    }
    t.metered1("distinct", receiver: true, global: false) { v, a throws(CELError) in
        guard case .list(let l) = v else { throw CELError.noOverload("distinct", v) }
        return .list(try distinctElements(l, a))
    }
    t.add(
        "flatten", arity: 1...2, receiver: true, global: false,
        .metered { args, a throws(CELError) in
            guard case .list(let l) = args[0] else { throw CELError.noOverload("flatten", args) }
            var depth: Int64 = 1
            if args.count > 1 {
                depth = try intArg(args[1], "flatten", args)
                guard depth >= 0 else { throw CELError("level must be non-negative") }
            }
            try a.charge(elementCost(l.count))
            try a.charge(elementCost(flattenedCount(l, depth)))
            return .list(flattenList(l, depth))
        })
    t.add(
        "slice", arity: 3...3, receiver: true, global: false,
        .metered { args, a throws(CELError) in
            guard case .list(let l) = args[0], case .int(let from) = args[1], case .int(let to) = args[2] else {
                throw CELError.noOverload("slice", args)
            }
            guard from >= 0, to >= from, to <= l.count else { throw CELError("cannot slice(\(from), \(to)), list is length \(l.count)") }
            try a.charge(elementCost(Int(to - from)))
            return .list(Array(l[Int(from)..<Int(to)]))
        })
    t.metered1("sort", receiver: true, global: false) { v, a throws(CELError) in
        guard case .list(let l) = v else { throw CELError.noOverload("sort", v) }
        try a.charge(elementCost(l.count) &* log2Ceiling(l.count))
        var failed = false
        let sorted = l.sorted { x, y in
            guard let o = celCompare(x, y) else {
                failed = true
                return false
            }
            return o == .less
        }
        if failed { throw CELError("list elements must be comparable") }
        return .list(sorted)
    }
    t.member1("first") { v throws(CELError) in
        guard case .list(let l) = v else { throw CELError.noOverload("first", v) }
        return .optional(l.first)
    }
    t.member1("last") { v throws(CELError) in
        guard case .list(let l) = v else { throw CELError.noOverload("last", v) }
        return .optional(l.last)
    }
}

// MARK: - Encoders extension

func addEncoderExtensions(_ t: inout FunctionTable) {
    t.metered1("base64.encode") { v, a throws(CELError) in
        guard case .bytes(let b) = v else { throw CELError.noOverload("base64.encode", v) }
        try a.charge(byteCost(b.count) &* 2)
        return .string(Data(b).base64EncodedString())
    }
    t.metered1("base64.decode") { v, a throws(CELError) in
        guard case .string(var s) = v else { throw CELError.noOverload("base64.decode", v) }
        try a.charge(byteCost(s) &* 2)
        if let d = Data(base64Encoded: s) { return .bytes([UInt8](d)) }
        while s.utf8.count % 4 != 0 { s += "=" }
        guard let d = Data(base64Encoded: s) else { throw CELError("base64.decode: illegal base64 data") }
        return .bytes([UInt8](d))
    }
}

// MARK: - Network extension

func addNetworkExtensions(_ t: inout FunctionTable) {
    t.global1("ip") { v throws(CELError) in
        guard case .string(let s) = v else { throw CELError.noOverload("ip", v) }
        return .ip(try CELIPAddress(parsing: s))
    }
    t.global1("cidr") { v throws(CELError) in
        guard case .string(let s) = v else { throw CELError.noOverload("cidr", v) }
        return .cidr(try CELCIDR(parsing: s))
    }
    t.global1("isIP") { v throws(CELError) in
        guard case .string(let s) = v else { throw CELError.noOverload("isIP", v) }
        return .bool((try? CELIPAddress(parsing: s)) != nil)
    }
    t.global1("isCIDR") { v throws(CELError) in
        guard case .string(let s) = v else { throw CELError.noOverload("isCIDR", v) }
        return .bool((try? CELCIDR(parsing: s)) != nil)
    }
    t.global1("ip.isCanonical") { v throws(CELError) in
        guard case .string(let s) = v else { throw CELError.noOverload("ip.isCanonical", v) }
        return .bool(try CELIPAddress(parsing: s).description == s)
    }
    func ipMember(_ name: String, _ f: @escaping @Sendable (CELIPAddress) -> CELValue) {
        t.member1(name) { v throws(CELError) in
            guard case .ip(let ip) = v else { throw CELError.noOverload(name, v) }
            return f(ip)
        }
    }
    ipMember("family") { .int(Int64($0.family)) }
    ipMember("isUnspecified") { .bool($0.isUnspecified) }
    ipMember("isLoopback") { .bool($0.isLoopback) }
    ipMember("isGlobalUnicast") { .bool($0.isGlobalUnicast) }
    ipMember("isLinkLocalMulticast") { .bool($0.isLinkLocalMulticast) }
    ipMember("isLinkLocalUnicast") { .bool($0.isLinkLocalUnicast) }
    t.member2("containsIP") { c, x throws(CELError) in
        guard case .cidr(let range) = c else { throw CELError.noOverload("containsIP", c, x) }
        switch x {
        case .ip(let ip): return .bool(range.contains(ip))
        case .string(let s): return .bool(range.contains(try CELIPAddress(parsing: s)))
        default: throw CELError.noOverload("containsIP", c, x)
        }
    }
    t.member2("containsCIDR") { c, x throws(CELError) in
        guard case .cidr(let range) = c else { throw CELError.noOverload("containsCIDR", c, x) }
        switch x {
        case .cidr(let other): return .bool(range.contains(other))
        case .string(let s): return .bool(range.contains(try CELCIDR(parsing: s)))
        default: throw CELError.noOverload("containsCIDR", c, x)
        }
    }
    t.member1("ip") { v throws(CELError) in
        guard case .cidr(let c) = v else { throw CELError.noOverload("ip", v) }
        return .ip(c.address)
    }
    t.member1("masked") { v throws(CELError) in
        guard case .cidr(let c) = v else { throw CELError.noOverload("masked", v) }
        return .cidr(c.masked)
    }
    t.member1("prefixLength") { v throws(CELError) in
        guard case .cidr(let c) = v else { throw CELError.noOverload("prefixLength", v) }
        return .int(Int64(c.prefixLength))
    }
}
