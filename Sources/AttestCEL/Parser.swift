/// A parsed expression node with its source position.
struct Expr: Sendable {
    var id: Int
    var position: SourcePosition
    var kind: ExprKind
    /// Height of this subtree (a leaf is 1); bounded so evaluation never recurses too deep.
    var depth: Int = 1
}

/// A map literal entry; `optional` for `{?key: optValue}`.
struct MapEntryExpr: Sendable {
    var key: Expr
    var value: Expr
    var optional: Bool
}

/// The comprehension macros. `all`, `exists` and `existsOne` have one- and two-variable forms; the `transform*`
/// macros (cel-spec "Two-Variable Comprehensions") have only the two-variable form.
enum MacroKind: Sendable {
    case all, exists, existsOne, map, mapFilter, filter, optMap, optFlatMap
    /// `range.transformList(i, v, [filter,] expr)`: a list of `expr` per entry.
    case transformList
    /// `range.transformMap(k, v, [filter,] expr)`: a map from each key (list index) to `expr`.
    case transformMap
    /// `range.transformMapEntry(k, v, [filter,] mapExpr)`: the union of the maps `mapExpr` gives; a repeated key is an error.
    case transformMapEntry
}

/// A comprehension macro: `range.all(v, predicate)`, `range.map(v, predicate, transform)`,
/// `range.all(i, v, predicate)`, `range.transformMap(k, v, filter, transform)`...
struct ComprehensionExpr: Sendable {
    var kind: MacroKind
    var range: Expr
    /// The element (one-variable form), or the index / map key (two-variable form).
    var variable: String
    /// The element / map value in the two-variable form; nil in the one-variable form.
    var secondVariable: String? = nil
    /// The predicate of all/exists/existsOne/filter, or the filter of map and the transforms.
    var predicate: Expr?
    var transform: Expr?
}

extension Expr {
    /// `a.b.c` as parts, if the expression is a plain dotted name.
    var qualifiedParts: [String]? {
        switch kind {
        case .ident(let n): return [n]
        case .select(let operand, let field, false, false):
            guard var parts = operand.qualifiedParts else { return nil }
            parts.append(field)
            return parts
        default: return nil
        }
    }
}

indirect enum ExprKind: Sendable {
    case literal(CELValue)
    /// An identifier, possibly dotted after container/qualified-name folding; a leading "." means root scope.
    case ident(String)
    /// `operand.field`; `testOnly` for `has(operand.field)`; `optional` for `operand.?field`.
    case select(operand: Expr, field: String, testOnly: Bool, optional: Bool)
    /// A call; operators use names like `_+_`, `_[_]`, `!_`, `@in`.
    case call(function: String, target: Expr?, args: [Expr])
    case list(elements: [Expr], optional: [Bool])
    case map(entries: [MapEntryExpr])
    case comprehension(ComprehensionExpr)
    case bind(name: String, value: Expr, body: Expr)
    case block(slots: [Expr], result: Expr)
}

/// Recursive-descent parser for CEL with macro expansion.
struct Parser {
    var tokens: [Token]
    var index = 0
    var nextID = 1
    var depth = 0
    let macros: Bool
    static let maxDepth = 200

    init(tokens: [Token], macros: Bool) {
        self.tokens = tokens
        self.macros = macros
    }

    static func parse(_ source: String, macros: Bool = true) throws(CELSourceError) -> Expr {
        var lexer = Lexer(source)
        let tokens = try lexer.tokenize()
        var parser = Parser(tokens: tokens, macros: macros)
        let e = try parser.parseExpr()
        if case .eof = parser.current.kind {
        } else {
            throw parser.error("unexpected \(parser.describe(parser.current))", at: parser.current)
        }
        if let pos = parser.tooDeep {
            throw parser.error("expression nesting exceeds the limit of \(Parser.maxTreeDepth)", at: pos)
        }
        return e
    }

    var current: Token { tokens[index] }

    func describe(_ t: Token) -> String {
        switch t.kind {
        case .eof: return "end of input"
        case .punct(let p): return "'\(p)'"
        case .ident(let s): return "identifier '\(s)'"
        case .quotedIdent(let s): return "'`\(s)`'"
        case .int(let s), .uint(let s), .double(let s): return "number '\(s)'"
        case .string: return "string literal"
        case .bytes: return "bytes literal"
        }
    }

    func error(_ message: String, at token: Token) -> CELSourceError {
        CELSourceError(message: message, line: token.position.line, column: token.position.column)
    }

    func error(_ message: String, at pos: SourcePosition) -> CELSourceError {
        CELSourceError(message: message, line: pos.line, column: pos.column)
    }

    /// The deepest expression tree accepted (evaluation, checking and planning recurse over it).
    static let maxTreeDepth = 250
    var tooDeep: SourcePosition?

    mutating func make(_ kind: ExprKind, _ pos: SourcePosition) -> Expr {
        defer { nextID += 1 }
        var childDepth = 0
        switch kind {
        case .literal, .ident: break
        case .select(let operand, _, _, _): childDepth = operand.depth
        case .call(_, let target, let args): childDepth = max(target?.depth ?? 0, args.map(\.depth).max() ?? 0)
        case .list(let elements, _): childDepth = elements.map(\.depth).max() ?? 0
        case .map(let entries): childDepth = entries.map { max($0.key.depth, $0.value.depth) }.max() ?? 0
        case .comprehension(let c): childDepth = max(c.range.depth, c.predicate?.depth ?? 0, c.transform?.depth ?? 0)
        case .bind(_, let value, let body): childDepth = max(value.depth, body.depth)
        case .block(let slots, let result): childDepth = max(result.depth, slots.map(\.depth).max() ?? 0)
        }
        if childDepth + 1 > Parser.maxTreeDepth && tooDeep == nil { tooDeep = pos }
        return Expr(id: nextID, position: pos, kind: kind, depth: childDepth + 1)
    }

    func isPunct(_ p: String) -> Bool {
        if case .punct(let q) = current.kind { return p == q }
        return false
    }

    mutating func accept(_ p: String) -> Bool {
        if isPunct(p) {
            index += 1
            return true
        }
        return false
    }

    mutating func expect(_ p: String) throws(CELSourceError) -> Token {
        guard isPunct(p) else {
            throw error("expected '\(p)' but found \(describe(current))", at: current)
        }
        let t = current
        index += 1
        return t
    }

    mutating func enter() throws(CELSourceError) {
        depth += 1
        if depth > Parser.maxDepth { throw error("expression nesting exceeds the limit of \(Parser.maxDepth)", at: current) }
    }

    // expr: or ('?' or ':' expr)?
    mutating func parseExpr() throws(CELSourceError) -> Expr {
        try enter()
        defer { depth -= 1 }
        let cond = try parseOr()
        if isPunct("?") {
            let q = current
            index += 1
            let a = try parseOr()
            _ = try expect(":")
            let b = try parseExpr()
            return make(.call(function: "_?_:_", target: nil, args: [cond, a, b]), q.position)
        }
        return cond
    }

    /// Builds a balanced tree for an associative, commutative-over-errors chain (&&, ||).
    mutating func balanced(_ op: String, _ terms: [Expr], _ ops: [SourcePosition]) -> Expr {
        if terms.count == 1 { return terms[0] }
        let mid = terms.count / 2
        let left = balanced(op, Array(terms[..<mid]), Array(ops[..<(mid - 1)]))
        let right = balanced(op, Array(terms[mid...]), Array(ops[mid...]))
        return make(.call(function: op, target: nil, args: [left, right]), ops[mid - 1])
    }

    mutating func parseOr() throws(CELSourceError) -> Expr {
        var terms = [try parseAnd()]
        var ops: [SourcePosition] = []
        while isPunct("||") {
            ops.append(current.position)
            index += 1
            terms.append(try parseAnd())
        }
        return balanced("_||_", terms, ops)
    }

    mutating func parseAnd() throws(CELSourceError) -> Expr {
        var terms = [try parseRelation()]
        var ops: [SourcePosition] = []
        while isPunct("&&") {
            ops.append(current.position)
            index += 1
            terms.append(try parseRelation())
        }
        return balanced("_&&_", terms, ops)
    }

    static let relations: [String: String] = ["<": "_<_", "<=": "_<=_", ">": "_>_", ">=": "_>=_", "==": "_==_", "!=": "_!=_"]

    mutating func parseRelation() throws(CELSourceError) -> Expr {
        var lhs = try parseAddition()
        var chain = 0
        while true {
            let t = current
            var fn: String?
            if case .punct(let p) = t.kind { fn = Parser.relations[p] }
            if case .ident("in") = t.kind { fn = "@in" }
            guard let f = fn else { break }
            index += 1
            chain += 1
            if chain > Parser.maxDepth { throw error("expression nesting exceeds the limit", at: t) }
            let rhs = try parseAddition()
            lhs = make(.call(function: f, target: nil, args: [lhs, rhs]), t.position)
        }
        return lhs
    }

    mutating func parseAddition() throws(CELSourceError) -> Expr {
        var lhs = try parseMultiplication()
        var chain = 0
        while isPunct("+") || isPunct("-") {
            let t = current
            index += 1
            chain += 1
            if chain > Parser.maxDepth { throw error("expression nesting exceeds the limit", at: t) }
            let rhs = try parseMultiplication()
            lhs = make(.call(function: isPunctToken(t, "+") ? "_+_" : "_-_", target: nil, args: [lhs, rhs]), t.position)
        }
        return lhs
    }

    func isPunctToken(_ t: Token, _ p: String) -> Bool {
        if case .punct(let q) = t.kind { return q == p }
        return false
    }

    mutating func parseMultiplication() throws(CELSourceError) -> Expr {
        var lhs = try parseUnary()
        var chain = 0
        while isPunct("*") || isPunct("/") || isPunct("%") {
            let t = current
            index += 1
            chain += 1
            if chain > Parser.maxDepth { throw error("expression nesting exceeds the limit", at: t) }
            let rhs = try parseUnary()
            let fn = isPunctToken(t, "*") ? "_*_" : (isPunctToken(t, "/") ? "_/_" : "_%_")
            lhs = make(.call(function: fn, target: nil, args: [lhs, rhs]), t.position)
        }
        return lhs
    }

    mutating func parseUnary() throws(CELSourceError) -> Expr {
        if isPunct("!") || isPunct("-") {
            var ops: [Token] = []
            while isPunct("!") || isPunct("-") {
                ops.append(current)
                index += 1
                if ops.count > Parser.maxDepth { throw error("expression nesting exceeds the limit", at: current) }
            }
            var operand: Expr
            // Fold a minus directly before a numeric literal into the literal (so -9223372036854775808 parses).
            if let last = ops.last, isPunctToken(last, "-"), let lit = try negativeLiteral() {
                ops.removeLast()
                operand = make(.literal(lit), last.position)
                operand = try parseMemberSuffix(operand)
            } else {
                operand = try parseMember()
            }
            for op in ops.reversed() {
                operand = make(.call(function: isPunctToken(op, "!") ? "!_" : "-_", target: nil, args: [operand]), op.position)
            }
            return operand
        }
        return try parseMember()
    }

    /// If the current token is a numeric literal, consumes it and returns its negation.
    mutating func negativeLiteral() throws(CELSourceError) -> CELValue? {
        let t = current
        switch t.kind {
        case .int(let text):
            let v: Int64?
            if text.hasPrefix("0x") {
                v = UInt64(text.dropFirst(2), radix: 16).flatMap {
                    $0 == UInt64(Int64.max) + 1 ? Int64.min : Int64(exactly: $0).map { -$0 }
                }
            } else {
                v = Int64("-" + text)
            }
            guard let value = v else { throw error("integer literal out of range", at: t) }
            index += 1
            return .int(value)
        case .double(let text):
            let d = try doubleLiteral(text, t)
            index += 1
            return .double(-d)
        default:
            return nil
        }
    }

    /// A double literal's value; one too large for a double is an error (as cel-go: strconv.ParseFloat's range
    /// error), not infinity.
    func doubleLiteral(_ text: String, _ t: Token) throws(CELSourceError) -> Double {
        guard let d = Double(text) else { throw error("malformed double literal", at: t) }
        guard d.isFinite else { throw error("double literal out of range: \(text)", at: t) }
        return d
    }

    mutating func parseMember() throws(CELSourceError) -> Expr {
        let primary = try parsePrimary()
        return try parseMemberSuffix(primary)
    }

    mutating func parseMemberSuffix(_ start: Expr) throws(CELSourceError) -> Expr {
        var e = start
        var chain = 0
        while true {
            chain += 1
            if chain > Parser.maxDepth { throw error("expression nesting exceeds the limit", at: current) }
            if isPunct(".") || isPunct(".?") {
                let dot = current
                let optional = isPunct(".?")
                index += 1
                let nameToken = current
                let name: String
                switch nameToken.kind {
                case .ident(let s): name = s
                case .quotedIdent(let s): name = s
                default: throw error("expected a field name after '.' but found \(describe(nameToken))", at: nameToken)
                }
                index += 1
                if !optional, case .ident = nameToken.kind, isPunct("(") {
                    index += 1
                    let args = try parseArgs(")")
                    e = try makeCall(name, target: e, args: args, pos: nameToken.position)
                } else {
                    e = make(.select(operand: e, field: name, testOnly: false, optional: optional), dot.position)
                }
            } else if isPunct("[") {
                let open = current
                index += 1
                let optional = accept("?")
                let idx = try parseExpr()
                _ = try expect("]")
                e = make(.call(function: optional ? "_[?_]" : "_[_]", target: nil, args: [e, idx]), open.position)
            } else if isPunct("{"), isQualifiedName(e) {
                throw error("message construction is not supported", at: current)
            } else {
                return e
            }
        }
    }

    func isQualifiedName(_ e: Expr) -> Bool {
        switch e.kind {
        case .ident: return true
        case .select(let operand, _, let testOnly, let optional): return !testOnly && !optional && isQualifiedName(operand)
        default: return false
        }
    }

    mutating func parseArgs(_ close: String) throws(CELSourceError) -> [Expr] {
        var args: [Expr] = []
        if accept(close) { return args }
        while true {
            args.append(try parseExpr())
            if accept(close) { return args }
            _ = try expect(",")
            if accept(close) { return args }  // trailing comma
        }
    }

    mutating func parsePrimary() throws(CELSourceError) -> Expr {
        try enter()
        defer { depth -= 1 }
        let t = current
        switch t.kind {
        case .int(let text):
            index += 1
            let v: Int64? = text.hasPrefix("0x") ? Int64(text.dropFirst(2), radix: 16) : Int64(text)
            guard let value = v else { throw error("integer literal out of range", at: t) }
            return make(.literal(.int(value)), t.position)
        case .uint(let text):
            index += 1
            let v: UInt64? = text.hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
            guard let value = v else { throw error("unsigned integer literal out of range", at: t) }
            return make(.literal(.uint(value)), t.position)
        case .double(let text):
            index += 1
            let d = try doubleLiteral(text, t)
            return make(.literal(.double(d)), t.position)
        case .string(let s):
            index += 1
            return make(.literal(.string(s)), t.position)
        case .bytes(let b):
            index += 1
            return make(.literal(.bytes(b)), t.position)
        case .quotedIdent:
            throw error("quoted identifiers are only allowed after '.'", at: t)
        case .ident(let name):
            index += 1
            return try parseIdentOrCall(name, absolute: false, token: t)
        case .punct(let p):
            switch p {
            case ".":
                index += 1
                guard case .ident(let name) = current.kind else { throw error("expected an identifier after '.'", at: current) }
                let nameToken = current
                index += 1
                return try parseIdentOrCall(name, absolute: true, token: nameToken)
            case "(":
                index += 1
                let e = try parseExpr()
                _ = try expect(")")
                return e
            case "[":
                index += 1
                var elements: [Expr] = []
                var optional: [Bool] = []
                if !accept("]") {
                    while true {
                        let opt = accept("?")
                        elements.append(try parseExpr())
                        optional.append(opt)
                        if accept("]") { break }
                        _ = try expect(",")
                        if accept("]") { break }
                    }
                }
                return make(.list(elements: elements, optional: optional), t.position)
            case "{":
                index += 1
                var entries: [MapEntryExpr] = []
                if !accept("}") {
                    while true {
                        let opt = accept("?")
                        let k = try parseExpr()
                        _ = try expect(":")
                        let v = try parseExpr()
                        entries.append(MapEntryExpr(key: k, value: v, optional: opt))
                        if accept("}") { break }
                        _ = try expect(",")
                        if accept("}") { break }
                    }
                }
                return make(.map(entries: entries), t.position)
            default:
                throw error("unexpected \(describe(t))", at: t)
            }
        case .eof:
            throw error("unexpected end of input", at: t)
        }
    }

    mutating func parseIdentOrCall(_ name: String, absolute: Bool, token: Token) throws(CELSourceError) -> Expr {
        switch name {
        case "true" where !absolute: return make(.literal(.bool(true)), token.position)
        case "false" where !absolute: return make(.literal(.bool(false)), token.position)
        case "null" where !absolute: return make(.literal(.null), token.position)
        case "in": throw error("unexpected 'in'", at: token)
        default: break
        }
        if Lexer.reservedWords.contains(name) { throw error("reserved identifier '\(name)'", at: token) }
        if isPunct("(") {
            index += 1
            let args = try parseArgs(")")
            return try makeCall(absolute ? "." + name : name, target: nil, args: args, pos: token.position)
        }
        return make(.ident(absolute ? "." + name : name), token.position)
    }

    /// Names cel-go reserves for a comprehension's accumulator; an iteration variable may not take them.
    static let accumulatorNames: Set<String> = ["__result__", "@result"]

    /// The name a comprehension macro binds: a simple identifier.
    func iterationVariable(_ e: Expr, _ macro: String) throws(CELSourceError) -> String {
        guard case .ident(let v) = e.kind, !v.hasPrefix(".") else {
            throw error("the variable arguments of \(macro)() must be simple names", at: e.position)
        }
        if Parser.accumulatorNames.contains(v) { throw error("iteration variable overwrites accumulator variable", at: e.position) }
        return v
    }

    /// The second variable of a two-variable comprehension: a simple name different from the first.
    func secondIterationVariable(_ e: Expr, first: String, _ macro: String) throws(CELSourceError) -> String {
        let v = try iterationVariable(e, macro)
        if v == first { throw error("duplicate variable name: \(v)", at: e.position) }
        return v
    }

    /// The dotted name of `a.b.c` (as written), or nil.
    func qualifiedName(_ e: Expr) -> String? {
        switch e.kind {
        case .ident(let n): return n
        case .select(let operand, let field, false, false): return qualifiedName(operand).map { $0 + "." + field }
        default: return nil
        }
    }

    /// Builds a call, expanding macros (has, all, exists, exists_one, map, filter, optMap, optFlatMap, cel.bind, cel.block).
    mutating func makeCall(_ name: String, target: Expr?, args: [Expr], pos: SourcePosition) throws(CELSourceError) -> Expr {
        if let target, let ns = qualifiedName(target), ns == "cel" {
            switch (name, args.count) {
            case ("index", 1):
                if case .literal(.int(let i)) = args[0].kind { return make(.ident("@index\(i)"), pos) }
                throw error("cel.index requires an integer literal", at: pos)
            case ("iterVar", 2), ("accuVar", 2):
                if case .literal(.int(let a)) = args[0].kind, case .literal(.int(let b)) = args[1].kind {
                    return make(.ident("@\(name == "iterVar" ? "it" : "ac"):\(a):\(b)"), pos)
                }
                throw error("cel.\(name) requires integer literals", at: pos)
            case ("block", 2):
                guard case .list(let slots, _) = args[0].kind else { throw error("cel.block requires a list literal", at: pos) }
                return make(.block(slots: slots, result: args[1]), pos)
            case ("bind", 3) where macros:
                guard case .ident(let v) = args[0].kind, !v.hasPrefix(".") else {
                    throw error("cel.bind requires a simple variable name", at: args[0].position)
                }
                return make(.bind(name: v, value: args[1], body: args[2]), pos)
            default: break
            }
        }
        if macros {
            if target == nil && name == "has" {
                guard args.count == 1 else { throw error("has() takes exactly one argument", at: pos) }
                guard case .select(let operand, let field, _, let opt) = args[0].kind else {
                    throw error("invalid argument to has() macro", at: args[0].position)
                }
                return make(.select(operand: operand, field: field, testOnly: true, optional: opt), pos)
            }
            if let target {
                var kind: MacroKind?
                switch (name, args.count) {
                case ("all", 2), ("all", 3): kind = .all
                case ("exists", 2), ("exists", 3): kind = .exists
                case ("exists_one", 2), ("existsOne", 2), ("exists_one", 3), ("existsOne", 3): kind = .existsOne
                case ("map", 2): kind = .map
                case ("map", 3): kind = .mapFilter
                case ("filter", 2): kind = .filter
                case ("optMap", 2): kind = .optMap
                case ("optFlatMap", 2): kind = .optFlatMap
                case ("transformList", 3), ("transformList", 4): kind = .transformList
                case ("transformMap", 3), ("transformMap", 4): kind = .transformMap
                case ("transformMapEntry", 3), ("transformMapEntry", 4): kind = .transformMapEntry
                default: break
                }
                if let kind {
                    let v = try iterationVariable(args[0], name)
                    var c = ComprehensionExpr(kind: kind, range: target, variable: v, predicate: nil, transform: nil)
                    switch kind {
                    case .all, .exists, .existsOne:
                        if args.count == 3 {
                            c.secondVariable = try secondIterationVariable(args[1], first: v, name)
                        }
                        c.predicate = args[args.count - 1]
                    case .filter: c.predicate = args[1]
                    case .map, .optMap, .optFlatMap: c.transform = args[1]
                    case .mapFilter:
                        c.predicate = args[1]
                        c.transform = args[2]
                    case .transformList, .transformMap, .transformMapEntry:
                        c.secondVariable = try secondIterationVariable(args[1], first: v, name)
                        if args.count == 4 { c.predicate = args[2] }
                        c.transform = args[args.count - 1]
                    }
                    return make(.comprehension(c), pos)
                }
            }
        }
        return make(.call(function: name, target: target, args: args), pos)
    }
}
