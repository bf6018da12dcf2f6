/// Passed to custom functions; `host` is whatever the caller gave to `evaluate` (e.g. an inventory graph).
public struct CELCallContext: Sendable {
    /// The host value given to ``CELProgram/evaluate(_:host:)``.
    public let host: (any Sendable)?
    /// A context carrying this host value.
    public init(host: (any Sendable)?) { self.host = host }
}

/// A custom function. `name` may be namespaced ("iam.isAdmin"). With `receiverStyle`, `x.f(a)` calls it with [x, a];
/// global style `f(x, a)` with [x, a]; a function may allow both. `arity` counts all arguments incl. the receiver.
/// Errors thrown by `body` become CEL error values (use CELError's message; any other error's description).
public struct CELFunction: Sendable {
    /// The function's name, possibly dotted.
    public let name: String
    /// Allowed argument counts, including the receiver.
    public let arity: ClosedRange<Int>
    /// Whether `x.name(...)` calls it.
    public let receiverStyle: Bool
    /// Whether `name(x, ...)` calls it.
    public let globalStyle: Bool
    /// Declared parameter types for the checker, one list per overload (type parameters are `CELType(typeParameter:)`).
    public var signatures: [(parameters: [CELType], result: CELType)]
    let body: @Sendable ([CELValue], CELCallContext) throws -> CELValue

    /// A custom function.
    public init(
        _ name: String, arity: ClosedRange<Int>, receiverStyle: Bool = false, globalStyle: Bool = true,
        _ body: @escaping @Sendable ([CELValue], CELCallContext) throws -> CELValue
    ) {
        self.name = name
        self.arity = arity
        self.receiverStyle = receiverStyle
        self.globalStyle = globalStyle
        self.signatures = []
        self.body = body
    }

    /// A custom function with declared overload signatures, so the checker can deduce result types.
    public init(
        _ name: String, signatures: [(parameters: [CELType], result: CELType)], receiverStyle: Bool = false, globalStyle: Bool = true,
        _ body: @escaping @Sendable ([CELValue], CELCallContext) throws -> CELValue
    ) {
        let counts = signatures.map(\.parameters.count)
        self.init(name, arity: (counts.min() ?? 0)...(counts.max() ?? 0), receiverStyle: receiverStyle, globalStyle: globalStyle, body)
        self.signatures = signatures
    }

    var overload: FunctionOverload {
        let body = self.body
        return FunctionOverload(
            name: name, arity: arity, receiver: receiverStyle, global: globalStyle,
            impl: .contextual { args, context throws(CELError) in
                do {
                    return try body(args, context)
                } catch let e as CELError {
                    throw e
                } catch {
                    throw CELError(String(describing: error))
                }
            })
    }
}

/// Where identifiers and functions come from when compiling.
public struct CELEnvironment: Sendable {
    /// Declared identifier names; nil accepts any identifier and resolves it at evaluation time.
    public let variables: [String]?
    /// Declared types of variables for the checker (variables without one are `dyn`).
    public let variableTypes: [String: CELType]
    /// The container (namespace) names are resolved in, e.g. `com.example`.
    public let container: String
    /// Whether macros (`has`, `all`, `exists`, `map`, `filter`, `cel.bind`...) are expanded.
    public let macros: Bool
    /// Whether compile() type-checks (unknown functions, undeclared identifiers and certain type errors fail);
    /// false defers those to evaluation-time errors.
    public let checking: Bool
    let functions: FunctionTable
    let customFunctions: [CELFunction]
    let declared: Set<String>?

    /// `variables`: declared identifier names (nil = accept any identifier, resolve at evaluation time);
    /// `functions`: custom functions in addition to the standard library and all extensions.
    public init(variables: [String]? = nil, functions: [CELFunction] = [], container: String? = nil, macros: Bool = true) {
        self.init(variables: variables, variableTypes: [:], functions: functions, container: container, macros: macros, checking: true)
    }

    /// The full form: also declared variable types (their names count as declared) and whether to type-check.
    public init(
        variables: [String]? = nil, variableTypes: [String: CELType], functions: [CELFunction] = [],
        container: String? = nil, macros: Bool = true, checking: Bool = true
    ) {
        var names = variables
        if !variableTypes.isEmpty { names = (names ?? []) + variableTypes.keys }
        self.variables = names
        self.declared = names.map(Set.init)
        self.variableTypes = variableTypes
        self.container = container ?? ""
        self.macros = macros
        self.checking = checking
        self.customFunctions = functions
        var table = standardFunctions
        for f in functions { table.byName[f.name, default: []].insert(f.overload, at: 0) }
        self.functions = table
    }

    /// Parses and checks once. Unknown functions (name or arity), undeclared identifiers (when `variables` is given) and
    /// static type errors that are certain are CELSourceError with line/column of the offending token.
    public func compile(_ source: String) throws(CELSourceError) -> CELProgram {
        let ast = try Parser.parse(source, macros: macros)
        var checkedType: CELType?
        if checking {
            var checker = Checker(environment: self)
            checkedType = try checker.check(ast)
        }
        var planner = Planner(environment: self)
        let root = try planner.plan(ast)
        return CELProgram(
            source: source, root: root, localCount: planner.localCount, blockCount: planner.blockCount, resultType: checkedType)
    }

    /// Candidate full names for `name` in this container, most specific first.
    func candidateNames(_ name: String) -> [String] {
        if name.hasPrefix(".") { return [String(name.dropFirst())] }
        guard !container.isEmpty else { return [name] }
        var out: [String] = []
        var prefix = Substring(container)
        while true {
            out.append(prefix + "." + name)
            guard let dot = prefix.lastIndex(of: ".") else { break }
            prefix = prefix[..<dot]
        }
        out.append(name)
        return out
    }
}

/// A compiled expression, ready to evaluate many times.
public struct CELProgram: Sendable {
    /// The expression source.
    public let source: String
    /// The type the checker deduced (nil when compiled without checking).
    public let resultType: CELType?
    let root: Node
    let localCount: Int
    let blockCount: Int

    init(source: String, root: Node, localCount: Int, blockCount: Int, resultType: CELType?) {
        self.source = source
        self.root = root
        self.localCount = localCount
        self.blockCount = blockCount
        self.resultType = resultType
    }

    /// Evaluates with the given variable values. Pure and thread-safe: called concurrently from many tasks.
    ///
    /// `options` bound the work: past ``CELEvaluationOptions/costLimit`` cost units (by default
    /// ``CELEvaluationOptions/defaultCostLimit``) the result is a ``CELError`` whose message says the cost limit
    /// was exceeded and whose ``CELError/isCostLimitExceeded`` is true.
    public func evaluate(
        _ variables: [String: CELValue], host: (any Sendable)? = nil,
        options: CELEvaluationOptions = .default
    ) -> Result<CELValue, CELError> {
        evaluateMeasuringCost(variables, host: host, options: options).result
    }

    /// Evaluates as ``evaluate(_:host:options:)`` and also returns the cost units spent (when the limit stopped the
    /// evaluation, a little more than the limit: the charge that passed it).
    public func evaluateMeasuringCost(
        _ variables: [String: CELValue], host: (any Sendable)? = nil,
        options: CELEvaluationOptions = .default
    ) -> (result: Result<CELValue, CELError>, cost: UInt64) {
        let activation = Activation(
            variables: variables, localCount: localCount, blockCount: blockCount,
            context: CELCallContext(host: host), costLimit: options.costLimit)
        do {
            let value = try root.eval(activation)
            return (.success(value), activation.spent)
        } catch {
            return (.failure(error), activation.spent)
        }
    }
}

/// Turns a parsed expression into an evaluable node tree, resolving identifiers and functions once.
struct Planner {
    let environment: CELEnvironment
    var scopes: [(name: String, slot: Int)] = []
    var blockIndexes: [String: (slot: Int, node: Node)] = [:]
    var localCount = 0
    var blockCount = 0

    init(environment: CELEnvironment) { self.environment = environment }

    func sourceError(_ message: String, _ e: Expr) -> CELSourceError {
        CELSourceError(message: message, line: e.position.line, column: e.position.column)
    }

    func local(_ name: String) -> Int? {
        for s in scopes.reversed() where s.name == name { return s.slot }
        return nil
    }

    mutating func plan(_ e: Expr) throws(CELSourceError) -> Node {
        switch e.kind {
        case .literal(let v):
            return ConstNode(v)
        case .ident:
            return try planName(e.qualifiedParts!, e)
        case .select(let operand, let field, let testOnly, let optional):
            if testOnly { return HasNode(try plan(operand), field) }
            if optional { return OptionalSelectNode(try plan(operand), field) }
            if let parts = e.qualifiedParts { return try planName(parts, e) }
            return SelectNode(try plan(operand), field)
        case .list(let elements, let optional):
            var nodes: [Node] = []
            for x in elements { nodes.append(try plan(x)) }
            if !optional.contains(true), nodes.allSatisfy({ $0 is ConstNode }) {
                return ConstNode(.list(nodes.map { ($0 as! ConstNode).value }))
            }
            return ListNode(nodes, optional: optional)
        case .map(let entries):
            var keys: [Node] = []
            var values: [Node] = []
            for entry in entries {
                keys.append(try plan(entry.key))
                values.append(try plan(entry.value))
            }
            return MapNode(keys: keys, values: values, optional: entries.map(\.optional))
        case .comprehension(let c):
            let range = try plan(c.range)
            let slot = localCount
            localCount += 1
            scopes.append((c.variable, slot))
            var secondSlot: Int?
            if let second = c.secondVariable {
                secondSlot = localCount
                localCount += 1
                scopes.append((second, localCount - 1))
            }
            defer { scopes.removeLast(secondSlot == nil ? 1 : 2) }
            let predicate = try c.predicate.map { p throws(CELSourceError) in try plan(p) }
            let transform = try c.transform.map { t throws(CELSourceError) in try plan(t) }
            let name: String
            switch c.kind {
            case .all: name = "all"
            case .exists: name = "exists"
            case .existsOne: name = "exists_one"
            case .map, .mapFilter: name = "map"
            case .filter: name = "filter"
            case .optMap: name = "optMap"
            case .optFlatMap: name = "optFlatMap"
            case .transformList: name = "transformList"
            case .transformMap: name = "transformMap"
            case .transformMapEntry: name = "transformMapEntry"
            }
            if let secondSlot {
                return TwoVariableComprehensionNode(
                    kind: c.kind, range: range, firstSlot: slot, secondSlot: secondSlot,
                    predicate: predicate, transform: transform, name: name)
            }
            return ComprehensionNode(kind: c.kind, range: range, slot: slot, predicate: predicate, transform: transform, name: name)
        case .bind(let name, let value, let body):
            let v = try plan(value)
            let slot = localCount
            localCount += 1
            scopes.append((name, slot))
            defer { scopes.removeLast() }
            return BindNode(slot: slot, value: v, body: try plan(body))
        case .block(let slotExprs, let result):
            let saved = blockIndexes
            defer { blockIndexes = saved }
            var slots: [Int] = []
            for (i, s) in slotExprs.enumerated() {
                let node = try plan(s)
                let slot = blockCount
                blockCount += 1
                slots.append(slot)
                blockIndexes["@index\(i)"] = (slot, node)
            }
            return BlockNode(slots: slots, result: try plan(result))
        case .call(let function, let target, let args):
            return try planCall(function, target: target, args: args, e)
        }
    }

    mutating func planName(_ parts: [String], _ e: Expr) throws(CELSourceError) -> Node {
        let first = parts[0]
        func selects(_ base: Node, _ fields: ArraySlice<String>) -> Node {
            var n = base
            for f in fields { n = SelectNode(n, f) }
            return n
        }
        if first.hasPrefix("@index"), let b = blockIndexes[first] {
            return selects(BlockSlotNode(b.slot, b.node), parts.dropFirst())
        }
        if !first.hasPrefix("."), let slot = local(first) {
            return selects(LocalNode(slot), parts.dropFirst())
        }
        let display = parts.joined(separator: ".")
        var candidates: [(name: String, fields: [String])] = []
        for i in stride(from: parts.count, through: 1, by: -1) {
            let prefix = parts[0..<i].joined(separator: ".")
            for name in environment.candidateNames(prefix) {
                if let declared = environment.declared {
                    if declared.contains(name) { return selects(VariableNode(name), parts[i...]) }
                } else {
                    candidates.append((name, Array(parts[i...])))
                }
            }
            if i == parts.count {
                let bare = prefix.hasPrefix(".") ? String(prefix.dropFirst()) : prefix
                if let t = builtinTypeNames[bare] {
                    if environment.declared != nil { return ConstNode(.type(t)) }
                    // Undeclared mode: a bound variable of the same name still wins at evaluation time.
                    return TypeOrVariableNode(type: t, name: bare)
                }
            }
        }
        if environment.declared != nil {
            let message = "undeclared reference to '\(display)' (in container '\(environment.container)')"
            var root = e
            while case .select(let operand, _, _, _) = root.kind { root = operand }
            if environment.checking { throw sourceError(message, root) }
            return ErrorNode(CELError(message))
        }
        return DynamicIdentNode(candidates: candidates, display: display, container: environment.container)
    }

    static let binaryFunctions: [String: Function2] = [
        "_-_": celSubtract, "_*_": celMultiply, "_/_": celDivide, "_%_": celModulo,
    ]

    mutating func planCall(_ function: String, target: Expr?, args: [Expr], _ e: Expr) throws(CELSourceError) -> Node {
        if target == nil {
            switch (function, args.count) {
            case ("_&&_", 2): return LogicalNode(and: try plan(args[0]), try plan(args[1]))
            case ("_||_", 2): return LogicalNode(or: try plan(args[0]), try plan(args[1]))
            case ("!_", 1): return NotNode(try plan(args[0]))
            case ("_?_:_", 3): return TernaryNode(try plan(args[0]), try plan(args[1]), try plan(args[2]))
            case ("_==_", 2), ("_!=_", 2):
                let negate = function == "_!=_"
                if case .literal(.string(let s)) = args[1].kind { return EqualsStringNode(try plan(args[0]), s, negate: negate) }
                return EqualsNode(try plan(args[0]), try plan(args[1]), negate: negate)
            case ("_<_", 2): return RelationNode(try plan(args[0]), try plan(args[1]), .lt, function)
            case ("_<=_", 2): return RelationNode(try plan(args[0]), try plan(args[1]), .le, function)
            case ("_>_", 2): return RelationNode(try plan(args[0]), try plan(args[1]), .gt, function)
            case ("_>=_", 2): return RelationNode(try plan(args[0]), try plan(args[1]), .ge, function)
            case ("@in", 2): return InNode(try plan(args[0]), try plan(args[1]))
            case ("_[_]", 2): return IndexNode(try plan(args[0]), try plan(args[1]))
            case ("_[?_]", 2): return OptionalIndexNode(try plan(args[0]), try plan(args[1]))
            case ("-_", 1): return Call1Node(celNegate, try plan(args[0]))
            case ("_+_", 2): return AddNode(try plan(args[0]), try plan(args[1]))
            default:
                if args.count == 2, let f = Planner.binaryFunctions[function] {
                    return Call2Node(f, try plan(args[0]), try plan(args[1]))
                }
            }
        }
        // Namespaced global function called as `ns.f(args)`.
        if let target, let parts = target.qualifiedParts, !parts[0].hasPrefix("@"), local(parts[0]) == nil {
            let qualified = parts.joined(separator: ".") + "." + function
            for name in environment.candidateNames(qualified) {
                if let f = environment.functions.find(name, argumentCount: args.count, receiverStyle: false) {
                    return try makeCall(f, args, e)
                }
            }
        }
        if let target {
            if let f = environment.functions.find(function, argumentCount: args.count + 1, receiverStyle: true) {
                return try makeCall(f, [target] + args, e)
            }
        } else {
            for name in environment.candidateNames(function) {
                if let f = environment.functions.find(name, argumentCount: args.count, receiverStyle: false) {
                    return try makeCall(f, args, e)
                }
            }
        }
        let exists =
            environment.functions.contains(function) || environment.candidateNames(function).contains { environment.functions.contains($0) }
        let message =
            exists
            ? "found no matching overload for '\(function)' with \(args.count + (target == nil ? 0 : 1)) argument(s)\(target == nil ? "" : " (receiver style)")"
            : "undeclared reference to '\(function)' (unbound function)"
        if environment.checking { throw sourceError(message, e) }
        return ErrorNode(CELError(message))
    }

    mutating func makeCall(_ f: FunctionOverload, _ argExprs: [Expr], _ e: Expr) throws(CELSourceError) -> Node {
        var args: [Node] = []
        for a in argExprs { args.append(try plan(a)) }
        switch f.impl {
        case .one(let fn) where args.count == 1:
            return Call1Node(fn, args[0])
        case .two(let fn) where args.count == 2:
            if f.name == "matches" {
                // A literal pattern is compiled once, here (an invalid one is a compile error when checking);
                // other patterns are compiled on first use and cached for this call site.
                if let c = args[1] as? ConstNode, case .string(let pattern) = c.value {
                    do {
                        return MatchesNode(args[0], regex: try CELRegex(pattern))
                    } catch {
                        if environment.checking { throw sourceError(error.message, e) }
                        return ErrorNode(error)
                    }
                }
                return MatchesNode(args[0], pattern: args[1])
            }
            return Call2Node(fn, args[0], args[1])
        case .many(let fn):
            return CallNNode(fn, args)
        case .metered(let fn):
            return CallMeteredNode(fn, args)
        case .metered1(let fn) where args.count == 1:
            return CallMetered1Node(fn, args[0])
        case .metered2(let fn) where args.count == 2:
            return CallMetered2Node(fn, args[0], args[1])
        case .contextual(let fn):
            return CallContextualNode(fn, args)
        default:
            return ErrorNode(CELError("found no matching overload for '\(f.name)'"))
        }
    }
}

/// A built-in type name used as an identifier when identifiers are undeclared: a bound variable of
/// the same name wins, otherwise the type value.
final class TypeOrVariableNode: Node, @unchecked Sendable {
    let type: CELType, name: String
    init(type: CELType, name: String) {
        self.type = type
        self.name = name
    }
    override func eval(_ a: Activation) throws(CELError) -> CELValue {
        try a.step()
        return a.variables[name] ?? .type(type)
    }
}
