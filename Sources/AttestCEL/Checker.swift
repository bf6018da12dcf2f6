import Foundation

/// A type term during checking: concrete types, `dyn`, and type variables solved by unification.
indirect enum CheckType: Equatable, Sendable {
    case prim(String)
    case list(CheckType)
    case map(CheckType, CheckType)
    case optional(CheckType)
    case typeOf(CheckType)
    case abstract(String, [CheckType])
    case dyn
    case variable(Int)
    case param(String)  // a type parameter in a signature, replaced by a fresh variable per use

    static let bool = CheckType.prim("bool"), int = CheckType.prim("int"), uint = CheckType.prim("uint"),
        double = CheckType.prim("double"), string = CheckType.prim("string"), bytes = CheckType.prim("bytes"),
        null = CheckType.prim("null_type"), timestamp = CheckType.prim("google.protobuf.Timestamp"),
        duration = CheckType.prim("google.protobuf.Duration")

    init(_ t: CELType) {
        if t.isTypeParameter {
            self = .param(t.name)
            return
        }
        let p = t.parameters.map(CheckType.init)
        switch (t.name, p.count) {
        case ("dyn", _): self = .dyn
        case ("list", 1): self = .list(p[0])
        case ("list", 0): self = .list(.dyn)
        case ("map", 2): self = .map(p[0], p[1])
        case ("map", 0): self = .map(.dyn, .dyn)
        case ("optional_type", 1): self = .optional(p[0])
        case ("type", 1): self = .typeOf(p[0])
        case ("type", 0): self = .typeOf(.dyn)
        case ("bool", 0), ("int", 0), ("uint", 0), ("double", 0), ("string", 0), ("bytes", 0), ("null_type", 0),
            ("google.protobuf.Timestamp", 0), ("google.protobuf.Duration", 0):
            self = .prim(t.name)
        default: self = .abstract(t.name, p)
        }
    }

    init(value: CELValue) {
        switch value {
        case .list: self = .list(.dyn)
        case .map: self = .map(.dyn, .dyn)
        case .optional: self = .optional(.dyn)
        case .type: self = .typeOf(.dyn)
        case .ip, .cidr: self = .abstract(value.celType.name, [])
        default: self = .prim(value.celType.name)
        }
    }
}

/// Function signatures for the checker, written compactly: `name: p1,p2->r | ...`.
/// Type names: int uint double bool string bytes null timestamp duration dyn; A..Z are type parameters;
/// list(X) map(K,V) optional(X) type(X).
let standardSignatureSource = """
    _+_: int,int->int | uint,uint->uint | double,double->double | string,string->string | bytes,bytes->bytes | list(A),list(A)->list(A) | timestamp,duration->timestamp | duration,timestamp->timestamp | duration,duration->duration
    _-_: int,int->int | uint,uint->uint | double,double->double | timestamp,timestamp->duration | timestamp,duration->timestamp | duration,duration->duration
    _*_: int,int->int | uint,uint->uint | double,double->double
    _/_: int,int->int | uint,uint->uint | double,double->double
    _%_: int,int->int | uint,uint->uint
    -_: int->int | double->double | duration->duration
    !_: bool->bool
    _&&_: bool,bool->bool
    _||_: bool,bool->bool
    _==_: dyn,dyn->bool
    _!=_: dyn,dyn->bool
    _<_: bool,bool->bool | int,int->bool | uint,uint->bool | double,double->bool | string,string->bool | bytes,bytes->bool | timestamp,timestamp->bool | duration,duration->bool | int,uint->bool | int,double->bool | uint,int->bool | uint,double->bool | double,int->bool | double,uint->bool
    @in: dyn,list(A)->bool | dyn,map(K,V)->bool
    _[_]: list(A),int->A | list(A),uint->A | map(K,V),K->V | optional(list(A)),int->optional(A) | optional(map(K,V)),K->optional(V)
    _[?_]: list(A),int->optional(A) | map(K,V),K->optional(V) | optional(list(A)),int->optional(A) | optional(map(K,V)),K->optional(V)
    size: string->int | bytes->int | list(A)->int | map(K,V)->int
    contains: string,string->bool
    startsWith: string,string->bool
    endsWith: string,string->bool
    matches: string,string->bool
    int: int->int | uint->int | double->int | string->int | timestamp->int | bool->int
    uint: int->uint | uint->uint | double->uint | string->uint | bool->uint
    double: int->double | uint->double | double->double | string->double
    string: dyn->string
    bytes: string->bytes | bytes->bytes
    bool: bool->bool | string->bool
    timestamp: string->timestamp | int->timestamp | timestamp->timestamp
    duration: string->duration | int->duration | duration->duration
    dyn: A->dyn
    type: A->type(A)
    getFullYear: timestamp->int | timestamp,string->int
    getMonth: timestamp->int | timestamp,string->int
    getDayOfYear: timestamp->int | timestamp,string->int
    getDayOfMonth: timestamp->int | timestamp,string->int
    getDate: timestamp->int | timestamp,string->int
    getDayOfWeek: timestamp->int | timestamp,string->int
    getHours: timestamp->int | timestamp,string->int | duration->int
    getMinutes: timestamp->int | timestamp,string->int | duration->int
    getSeconds: timestamp->int | timestamp,string->int | duration->int
    getMilliseconds: timestamp->int | timestamp,string->int | duration->int
    optional.of: A->optional(A)
    optional.ofNonZeroValue: A->optional(A)
    optional.none: ->optional(A)
    hasValue: optional(A)->bool
    value: optional(A)->A
    orValue: optional(A),A->A
    or: optional(A),optional(A)->optional(A)
    charAt: string,int->string
    indexOf: string,string->int | string,string,int->int
    lastIndexOf: string,string->int | string,string,int->int
    lowerAscii: string->string
    upperAscii: string->string
    replace: string,string,string->string | string,string,string,int->string
    split: string,string->list(string) | string,string,int->list(string)
    substring: string,int->string | string,int,int->string
    trim: string->string
    join: list(string)->string | list(string),string->string
    strings.quote: string->string
    format: string,list(dyn)->string
    base64.encode: bytes->string
    base64.decode: string->bytes
    math.ceil: double->double
    math.floor: double->double
    math.round: double->double
    math.trunc: double->double
    math.isNaN: double->bool
    math.isInf: double->bool
    math.isFinite: double->bool
    """

struct Signature: Sendable {
    var params: [CheckType]
    var result: CheckType
}

func parseSignatures(_ source: String) -> [String: [Signature]] {
    var out: [String: [Signature]] = [:]
    for line in source.split(separator: "\n") {
        guard let colon = line.range(of: ": ") else { continue }
        let name = String(line[..<colon.lowerBound])
        for alt in line[colon.upperBound...].split(separator: "|") {
            let parts = alt.trimmingCharacters(in: .whitespaces).components(separatedBy: "->")
            var parser = SignatureTypeParser(text: Array(parts[0].unicodeScalars))
            var params: [CheckType] = []
            while parser.index < parser.text.count {
                params.append(parser.parse())
                if parser.index < parser.text.count && parser.text[parser.index] == "," { parser.index += 1 }
            }
            var rp = SignatureTypeParser(text: Array(parts[1].unicodeScalars))
            out[name, default: []].append(Signature(params: params, result: rp.parse()))
        }
    }
    // Relational operators share the `<` table.
    for op in ["_<=_", "_>_", "_>=_"] { out[op] = out["_<_"] }
    return out
}

struct SignatureTypeParser {
    let text: [Unicode.Scalar]
    var index = 0

    mutating func parse() -> CheckType {
        var name = ""
        while index < text.count, text[index] != "(", text[index] != ")", text[index] != "," {
            name.unicodeScalars.append(text[index])
            index += 1
        }
        var args: [CheckType] = []
        if index < text.count, text[index] == "(" {
            index += 1
            while index < text.count, text[index] != ")" {
                args.append(parse())
                if index < text.count, text[index] == "," { index += 1 }
            }
            index += 1
        }
        switch name {
        case "int", "uint", "double", "bool", "string", "bytes": return .prim(name)
        case "null": return .null
        case "timestamp": return .timestamp
        case "duration": return .duration
        case "dyn": return .dyn
        case "list": return .list(args[0])
        case "map": return .map(args[0], args[1])
        case "optional": return .optional(args[0])
        case "type": return .typeOf(args[0])
        default: return .param(name)
        }
    }
}

let standardSignatures = parseSignatures(standardSignatureSource)

/// Static type deduction with unification. Reports only errors that are certain: an operator or standard
/// function whose argument types (all known, none `dyn`) match none of its overloads.
struct Checker {
    let environment: CELEnvironment
    var substitution: [Int: CheckType] = [:]
    var nextVariable = 0
    var scopes: [(name: String, type: CheckType)] = []
    var signatures: [String: [Signature]]

    init(environment: CELEnvironment) {
        self.environment = environment
        signatures = standardSignatures
        for f in environment.customFunctions where !f.signatures.isEmpty {
            signatures[f.name] = f.signatures.map { Signature(params: $0.parameters.map(CheckType.init), result: CheckType($0.result)) }
        }
        for f in environment.customFunctions where f.signatures.isEmpty {
            signatures[f.name] = nil
        }
    }

    mutating func check(_ e: Expr) throws(CELSourceError) -> CELType? {
        let t = try typeOf(e)
        return celType(t)
    }

    func celType(_ t: CheckType) -> CELType {
        switch resolve(t) {
        case .prim(let n): return CELType(n)
        case .list(let x): return .list(celType(x))
        case .map(let k, let v): return .map(celType(k), celType(v))
        case .optional(let x): return .optional(celType(x))
        case .typeOf(let x): return CELType("type", [celType(x)])
        case .abstract(let n, let p): return CELType(n, p.map(celType))
        case .dyn, .variable, .param: return .dyn
        }
    }

    mutating func fresh() -> CheckType {
        nextVariable += 1
        return .variable(nextVariable)
    }

    func resolve(_ t: CheckType) -> CheckType {
        var t = t
        while case .variable(let v) = t, let s = substitution[v] { t = s }
        return t
    }

    func occurs(_ v: Int, _ t: CheckType) -> Bool {
        switch resolve(t) {
        case .variable(let w): return v == w
        case .list(let x), .optional(let x), .typeOf(let x): return occurs(v, x)
        case .map(let k, let x): return occurs(v, k) || occurs(v, x)
        case .abstract(_, let p): return p.contains { occurs(v, $0) }
        default: return false
        }
    }

    func isNullable(_ t: CheckType) -> Bool {
        switch t {
        case .optional, .abstract, .dyn, .prim("null_type"): return true
        default: return false
        }
    }

    /// Whether a value of type `from` may be passed where `to` is expected; binds type variables.
    mutating func assignable(_ to: CheckType, _ from: CheckType) -> Bool {
        let a = resolve(to)
        let b = resolve(from)
        if a == b { return true }
        if case .variable(let v) = a {
            if occurs(v, b) { return false }
            substitution[v] = b
            return true
        }
        if case .variable(let v) = b {
            if occurs(v, a) { return false }
            substitution[v] = a
            return true
        }
        if a == .dyn || b == .dyn { return true }
        if b == .null && isNullable(a) { return true }
        switch (a, b) {
        case (.list(let x), .list(let y)), (.optional(let x), .optional(let y)), (.typeOf(let x), .typeOf(let y)):
            return assignable(x, y)
        case (.map(let k1, let v1), .map(let k2, let v2)):
            return assignable(k1, k2) && assignable(v1, v2)
        case (.abstract(let n1, let p1), .abstract(let n2, let p2)):
            guard n1 == n2, p1.count == p2.count else { return false }
            for i in p1.indices where !assignable(p1[i], p2[i]) { return false }
            return true
        default:
            return false
        }
    }

    /// The most specific type covering both (list/map literal elements, ternary branches); `dyn` when unrelated.
    mutating func join(_ x: CheckType, _ y: CheckType) -> CheckType {
        let a = resolve(x)
        let b = resolve(y)
        if a == b { return a }
        if case .variable(let v) = a, !occurs(v, b) {
            substitution[v] = b
            return b
        }
        if case .variable(let v) = b, !occurs(v, a) {
            substitution[v] = a
            return a
        }
        if a == .dyn || b == .dyn { return .dyn }
        if a == .null && isNullable(b) { return b }
        if b == .null && isNullable(a) { return a }
        switch (a, b) {
        case (.list(let p), .list(let q)): return .list(join(p, q))
        case (.optional(let p), .optional(let q)): return .optional(join(p, q))
        case (.typeOf(let p), .typeOf(let q)): return .typeOf(join(p, q))
        case (.map(let k1, let v1), .map(let k2, let v2)): return .map(join(k1, k2), join(v1, v2))
        case (.abstract(let n1, let p1), .abstract(let n2, let p2)) where n1 == n2 && p1.count == p2.count:
            var ps: [CheckType] = []
            for i in p1.indices { ps.append(join(p1[i], p2[i])) }
            return .abstract(n1, ps)
        default: return .dyn
        }
    }

    func instantiate(_ t: CheckType, _ map: inout [String: CheckType], _ next: inout Int) -> CheckType {
        switch t {
        case .param(let n):
            if let v = map[n] { return v }
            next += 1
            let v = CheckType.variable(next)
            map[n] = v
            return v
        case .list(let x): return .list(instantiate(x, &map, &next))
        case .optional(let x): return .optional(instantiate(x, &map, &next))
        case .typeOf(let x): return .typeOf(instantiate(x, &map, &next))
        case .map(let k, let v): return .map(instantiate(k, &map, &next), instantiate(v, &map, &next))
        case .abstract(let n, let p): return .abstract(n, p.map { instantiate($0, &map, &next) })
        default: return t
        }
    }

    func substituted(_ t: CheckType) -> CheckType {
        switch resolve(t) {
        case .list(let x): return .list(substituted(x))
        case .optional(let x): return .optional(substituted(x))
        case .typeOf(let x): return .typeOf(substituted(x))
        case .map(let k, let v): return .map(substituted(k), substituted(v))
        case .abstract(let n, let p): return .abstract(n, p.map(substituted))
        case let other: return other
        }
    }

    func containsUnknown(_ t: CheckType) -> Bool {
        switch resolve(t) {
        case .dyn, .variable, .param: return true
        case .list(let x), .optional(let x), .typeOf(let x): return containsUnknown(x)
        case .map(let k, let v): return containsUnknown(k) || containsUnknown(v)
        case .abstract(_, let p): return p.contains(where: containsUnknown)
        default: return false
        }
    }

    func describe(_ t: CheckType) -> String { celType(t).description }

    /// Resolves a call against signatures: the result type, or an error when nothing can match.
    mutating func resolveCall(_ name: String, _ args: [CheckType], _ e: Expr) throws(CELSourceError) -> CheckType {
        guard let sigs = signatures[name] else { return .dyn }
        var matches: [(CheckType, [Int: CheckType], Int)] = []
        let saved = substitution
        let savedNext = nextVariable
        for sig in sigs where sig.params.count == args.count {
            substitution = saved
            var next = savedNext
            var map: [String: CheckType] = [:]
            let params = sig.params.map { instantiate($0, &map, &next) }
            nextVariable = next
            var ok = true
            for i in args.indices where !assignable(params[i], args[i]) {
                ok = false
                break
            }
            if ok { matches.append((instantiate(sig.result, &map, &next), substitution, nextVariable)) }
        }
        substitution = saved
        nextVariable = savedNext
        if matches.count == 1 {
            substitution = matches[0].1
            nextVariable = matches[0].2
            return matches[0].0
        }
        if matches.count > 1 {
            // Ambiguous (dyn arguments): keep the result if all overloads agree.
            nextVariable = matches.map(\.2).max() ?? nextVariable
            let results = matches.map { m -> CheckType in
                var c = self
                c.substitution = m.1
                return c.substituted(m.0)
            }
            if results.allSatisfy({ $0 == results[0] }), !containsUnknown(results[0]) { return results[0] }
            return .dyn
        }
        if sigs.contains(where: { $0.params.count == args.count }), !args.contains(where: containsUnknown) {
            throw CELSourceError(
                message: "found no matching overload for '\(name)' applied to '(\(args.map(describe).joined(separator: ", ")))'",
                line: e.position.line, column: e.position.column)
        }
        return .dyn
    }

    func localType(_ name: String) -> CheckType? {
        for s in scopes.reversed() where s.name == name { return s.type }
        return nil
    }

    mutating func nameType(_ parts: [String]) -> CheckType {
        var base: CheckType?
        var rest: ArraySlice<String> = []
        if let t = localType(parts[0]) {
            base = t
            rest = parts.dropFirst()
        } else {
            outer: for i in stride(from: parts.count, through: 1, by: -1) {
                let prefix = parts[0..<i].joined(separator: ".")
                for name in environment.candidateNames(prefix) {
                    if environment.declared?.contains(name) == true {
                        base = environment.variableTypes[name].map(CheckType.init) ?? .dyn
                        rest = parts[i...]
                        break outer
                    }
                }
                if i == parts.count {
                    let bare = prefix.hasPrefix(".") ? String(prefix.dropFirst()) : prefix
                    if let t = builtinTypeNames[bare] {
                        base = .typeOf(CheckType(t))
                        rest = []
                        break outer
                    }
                }
            }
        }
        var t = base ?? .dyn
        for _ in rest { t = fieldType(t, optional: false) }
        return t
    }

    mutating func fieldType(_ t: CheckType, optional: Bool) -> CheckType {
        switch resolve(t) {
        case .map(_, let v): return optional ? .optional(v) : v
        case .optional(let inner):
            if case .map(_, let v) = resolve(inner) { return .optional(v) }
            return .optional(.dyn)
        default: return optional ? .optional(.dyn) : .dyn
        }
    }

    mutating func typeOf(_ e: Expr) throws(CELSourceError) -> CheckType {
        switch e.kind {
        case .literal(let v):
            return CheckType(value: v)
        case .ident:
            return nameType(e.qualifiedParts!)
        case .select(let operand, let field, let testOnly, let optional):
            if testOnly {
                _ = try typeOf(operand)
                return .bool
            }
            if !optional, let parts = e.qualifiedParts { return nameType(parts) }
            _ = field
            return fieldType(try typeOf(operand), optional: optional)
        case .list(let elements, let optional):
            var elem: CheckType?
            for (i, x) in elements.enumerated() {
                var t = try typeOf(x)
                if optional[i], case .optional(let inner) = resolve(t) { t = inner }
                elem = elem.map { join($0, t) } ?? t
            }
            return .list(elem ?? fresh())
        case .map(let entries):
            var k: CheckType?
            var v: CheckType?
            for entry in entries {
                let kt = try typeOf(entry.key)
                var vt = try typeOf(entry.value)
                if entry.optional, case .optional(let inner) = resolve(vt) { vt = inner }
                k = k.map { join($0, kt) } ?? kt
                v = v.map { join($0, vt) } ?? vt
            }
            return .map(k ?? fresh(), v ?? fresh())
        case .comprehension(let c):
            let range = resolve(try typeOf(c.range))
            var varType: CheckType
            var secondType: CheckType = .dyn
            switch c.kind {
            case .optMap, .optFlatMap:
                if case .optional(let inner) = range { varType = inner } else { varType = .dyn }
            default:
                switch range {
                case .list(let x):
                    varType = c.secondVariable == nil ? x : .int
                    secondType = x
                case .map(let k, let v):
                    varType = k
                    secondType = v
                case .dyn, .variable, .param: varType = .dyn
                default:
                    throw CELSourceError(
                        message: "expression of type '\(describe(range))' cannot be the range of a comprehension (must be a list or a map)",
                        line: c.range.position.line, column: c.range.position.column)
                }
            }
            scopes.append((c.variable, varType))
            if let second = c.secondVariable { scopes.append((second, secondType)) }
            defer { scopes.removeLast(c.secondVariable == nil ? 1 : 2) }
            if let p = c.predicate {
                let t = resolve(try typeOf(p))
                if !containsUnknown(t), t != .bool {
                    throw CELSourceError(
                        message: "the condition of a comprehension must be a bool, not '\(describe(t))'",
                        line: p.position.line, column: p.position.column)
                }
            }
            let transform = try c.transform.map { t throws(CELSourceError) in try typeOf(t) }
            switch c.kind {
            case .all, .exists, .existsOne: return .bool
            case .map, .mapFilter, .transformList: return .list(transform ?? .dyn)
            case .filter: return .list(varType)
            case .optMap: return .optional(transform ?? .dyn)
            case .optFlatMap: return transform ?? .dyn
            case .transformMap: return .map(varType, transform ?? .dyn)
            case .transformMapEntry:
                let entry = resolve(transform ?? .dyn)
                switch entry {
                case .map: return entry
                case .dyn, .variable, .param: return .map(.dyn, .dyn)
                default:
                    let position = c.transform?.position ?? e.position
                    throw CELSourceError(
                        message: "transformMapEntry() needs a map for each entry, not '\(describe(entry))'",
                        line: position.line, column: position.column)
                }
            }
        case .bind(let name, let value, let body):
            let vt = try typeOf(value)
            scopes.append((name, vt))
            defer { scopes.removeLast() }
            return try typeOf(body)
        case .block(let slots, let result):
            var pushed = 0
            for (i, s) in slots.enumerated() {
                let t = try typeOf(s)
                scopes.append(("@index\(i)", t))
                pushed += 1
            }
            defer { scopes.removeLast(pushed) }
            return try typeOf(result)
        case .call(let function, let target, let args):
            if target == nil && function == "_?_:_" && args.count == 3 {
                let c = try typeOf(args[0])
                let a = try typeOf(args[1])
                let b = try typeOf(args[2])
                if !assignable(.bool, c) {
                    throw CELSourceError(
                        message: "found no matching overload for '_?_:_' applied to '(\(describe(c)), ...)'", line: e.position.line,
                        column: e.position.column)
                }
                return join(a, b)
            }
            // Namespaced function `ns.f(...)`.
            if let target, let parts = target.qualifiedParts, localType(parts[0]) == nil {
                let qualified = parts.joined(separator: ".") + "." + function
                for name in environment.candidateNames(qualified)
                where environment.functions.find(name, argumentCount: args.count, receiverStyle: false) != nil {
                    var types: [CheckType] = []
                    for a in args { types.append(try typeOf(a)) }
                    return try resolveCall(name, types, e)
                }
            }
            var types: [CheckType] = []
            if let target { types.append(try typeOf(target)) }
            for a in args { types.append(try typeOf(a)) }
            if target == nil {
                for name in environment.candidateNames(function)
                where environment.functions.find(name, argumentCount: args.count, receiverStyle: false) != nil {
                    return try resolveCall(name, types, e)
                }
            }
            return try resolveCall(function, types, e)
        }
    }
}
