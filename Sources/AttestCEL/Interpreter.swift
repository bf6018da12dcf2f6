/// Per-evaluation state: the variable bindings, local slots (comprehension variables, cel.bind, cel.block)
/// and the cost spent so far.
final class Activation {
    let variables: [String: CELValue]
    // The slots, like `spent` below, are exempt from dynamic exclusivity checks (a measurable share of evaluation
    // time): an activation belongs to one evaluation on one thread, and no access to them overlaps another.
    @exclusivity(unchecked) var locals: [CELValue]
    @exclusivity(unchecked) var blockValues: [CELValue?]
    let context: CELCallContext
    /// The cost units spent so far (may pass the limit by the charge that stopped the evaluation).
    @exclusivity(unchecked) private(set) var spent: UInt64 = 0
    let costLimit: UInt64

    init(variables: [String: CELValue], localCount: Int, blockCount: Int, context: CELCallContext, costLimit: UInt64?) {
        self.variables = variables
        self.locals = Array(repeating: .null, count: localCount)
        self.blockValues = Array(repeating: nil, count: blockCount)
        self.context = context
        self.costLimit = costLimit ?? UInt64.max
    }

    /// One unit: a node evaluated or a comprehension iteration.
    @inline(__always) func step() throws(CELError) {
        spent &+= 1
        if spent > costLimit { throw CELError.costLimitExceeded(costLimit) }
    }

    /// Size-based units (see ``CELEvaluationOptions``), saturating.
    @inline(__always) func charge(_ units: UInt64) throws(CELError) {
        let (sum, overflow) = spent.addingReportingOverflow(units)
        spent = overflow ? UInt64.max : sum
        if spent > costLimit { throw CELError.costLimitExceeded(costLimit) }
    }
}

/// An evaluable node of a planned program. Immutable after planning, so shareable across threads.
class Node: @unchecked Sendable {
    func eval(_ a: Activation) throws(CELError) -> CELValue { fatalError("abstract") }
}

final class ConstNode: Node, @unchecked Sendable {
    let value: CELValue
    init(_ value: CELValue) { self.value = value }
    override func eval(_ a: Activation) throws(CELError) -> CELValue { value }
}

final class ErrorNode: Node, @unchecked Sendable {
    let error: CELError
    init(_ error: CELError) { self.error = error }
    override func eval(_ a: Activation) throws(CELError) -> CELValue { throw error }
}

final class LocalNode: Node, @unchecked Sendable {
    let slot: Int
    init(_ slot: Int) { self.slot = slot }
    override func eval(_ a: Activation) throws(CELError) -> CELValue {
        try a.step()
        return a.locals[slot]
    }
}

final class BlockSlotNode: Node, @unchecked Sendable {
    let slot: Int
    let node: Node
    init(_ slot: Int, _ node: Node) {
        self.slot = slot
        self.node = node
    }
    override func eval(_ a: Activation) throws(CELError) -> CELValue {
        try a.step()
        if let v = a.blockValues[slot] { return v }
        let v = try node.eval(a)
        a.blockValues[slot] = v
        return v
    }
}

final class BlockNode: Node, @unchecked Sendable {
    let slots: [Int]
    let result: Node
    init(slots: [Int], result: Node) {
        self.slots = slots
        self.result = result
    }
    override func eval(_ a: Activation) throws(CELError) -> CELValue {
        try a.step()
        for s in slots { a.blockValues[s] = nil }
        return try result.eval(a)
    }
}

/// A declared variable looked up by name.
final class VariableNode: Node, @unchecked Sendable {
    let name: String
    init(_ name: String) { self.name = name }
    override func eval(_ a: Activation) throws(CELError) -> CELValue {
        try a.step()
        if let v = a.variables[name] { return v }
        throw CELError("no such attribute '\(name)': the variable was not given a value")
    }
}

/// A possibly-qualified identifier resolved at evaluation time: the first candidate name bound wins,
/// then its remaining fields are selected.
final class DynamicIdentNode: Node, @unchecked Sendable {
    let candidates: [(name: String, fields: [String])]
    let display: String
    let container: String
    init(candidates: [(name: String, fields: [String])], display: String, container: String) {
        self.candidates = candidates
        self.display = display
        self.container = container
    }
    override func eval(_ a: Activation) throws(CELError) -> CELValue {
        try a.step()
        for c in candidates {
            if var v = a.variables[c.name] {
                for f in c.fields { v = try selectField(v, f) }
                return v
            }
        }
        throw CELError("undeclared reference to '\(display)' (in container '\(container)')")
    }
}

@inline(__always) func selectField(_ v: CELValue, _ field: String) throws(CELError) -> CELValue {
    switch v {
    case .map(let m):
        if let path = m.unknownKeys?[field] { throw CELError.unknown([path]) }
        if let r = m[string: field] { return r }
        throw CELError("no such key: \(field)")
    case .optional(let o):
        guard let inner = o else { return .optional(nil) }
        switch inner {
        case .map(let m):
            if let path = m.unknownKeys?[field] { throw CELError.unknown([path]) }
            return .optional(m[string: field])
        default: return .optional(try selectField(inner, field))
        }
    default:
        throw CELError("type '\(v.celType)' does not support field selection (field '\(field)')")
    }
}

final class SelectNode: Node, @unchecked Sendable {
    let operand: Node
    let field: String
    init(_ operand: Node, _ field: String) {
        self.operand = operand
        self.field = field
    }
    override func eval(_ a: Activation) throws(CELError) -> CELValue {
        let v = try operand.eval(a)
        try a.step()
        return try selectField(v, field)
    }
}

final class OptionalSelectNode: Node, @unchecked Sendable {
    let operand: Node
    let field: String
    init(_ operand: Node, _ field: String) {
        self.operand = operand
        self.field = field
    }
    override func eval(_ a: Activation) throws(CELError) -> CELValue {
        var v = try operand.eval(a)
        try a.step()
        if case .optional(let o) = v {
            guard let inner = o else { return .optional(nil) }
            v = inner
        }
        switch v {
        case .map(let m):
            if let path = m.unknownKeys?[field] { throw CELError.unknown([path]) }
            return .optional(m[string: field])
        default: throw CELError("type '\(v.celType)' does not support field selection (field '\(field)')")
        }
    }
}

final class HasNode: Node, @unchecked Sendable {
    let operand: Node
    let field: String
    init(_ operand: Node, _ field: String) {
        self.operand = operand
        self.field = field
    }
    override func eval(_ a: Activation) throws(CELError) -> CELValue {
        var v = try operand.eval(a)
        try a.step()
        if case .optional(let o) = v {
            guard let inner = o else { return .bool(false) }
            v = inner
        }
        switch v {
        case .map(let m): return .bool(m[string: field] != nil)
        default: throw CELError("invalid type for field selection: has() on '\(v.celType)'")
        }
    }
}

func indexValue(_ container: CELValue, _ index: CELValue) throws(CELError) -> CELValue {
    switch container {
    case .list(let l):
        let i: Int64
        switch index {
        case .int(let x): i = x
        case .uint(let x): i = x > UInt64(Int64.max) ? Int64.max : Int64(x)
        case .double(let d):
            guard d.rounded(.towardZero) == d, d.isFinite, let x = Int64(exactly: d) else {
                throw CELError("invalid_argument: list index \(formatDoubleForString(d)) is not an integer")
            }
            i = x
        default: throw CELError("invalid_argument: no such overload for list index of type '\(index.celType)'")
        }
        guard i >= 0 && i < Int64(l.count) else { throw CELError("invalid_argument: index out of bounds: \(i) (size \(l.count))") }
        return l[Int(i)]
    case .map(let m):
        if case .string(let key) = index, let path = m.unknownKeys?[key] { throw CELError.unknown([path]) }
        if let v = m[index] { return v }
        throw CELError("no such key: \(index)")
    case .optional(let o):
        guard let inner = o else { return .optional(nil) }
        return try optionalIndex(inner, index)
    default:
        throw CELError.noOverload("_[_]", container, index)
    }
}

func optionalIndex(_ container: CELValue, _ index: CELValue) throws(CELError) -> CELValue {
    switch container {
    case .list(let l):
        var i: Int64?
        switch index {
        case .int(let x): i = x
        case .uint(let x): i = Int64(exactly: x)
        case .double(let d): i = d.rounded(.towardZero) == d ? Int64(exactly: d) : nil
        default: throw CELError.noOverload("_[?_]", container, index)
        }
        guard let k = i, k >= 0, k < Int64(l.count) else { return .optional(nil) }
        return .optional(l[Int(k)])
    case .map(let m):
        if case .string(let key) = index, let path = m.unknownKeys?[key] { throw CELError.unknown([path]) }
        return .optional(m[index])
    case .optional(let o):
        guard let inner = o else { return .optional(nil) }
        return try optionalIndex(inner, index)
    default:
        throw CELError.noOverload("_[?_]", container, index)
    }
}

final class IndexNode: Node, @unchecked Sendable {
    let operand: Node, index: Node
    init(_ operand: Node, _ index: Node) {
        self.operand = operand
        self.index = index
    }
    override func eval(_ a: Activation) throws(CELError) -> CELValue {
        let c = try operand.eval(a)
        let i = try index.eval(a)
        try a.step()
        return try indexValue(c, i)
    }
}

final class OptionalIndexNode: Node, @unchecked Sendable {
    let operand: Node, index: Node
    init(_ operand: Node, _ index: Node) {
        self.operand = operand
        self.index = index
    }
    override func eval(_ a: Activation) throws(CELError) -> CELValue {
        let c = try operand.eval(a)
        let i = try index.eval(a)
        try a.step()
        return try optionalIndex(c, i)
    }
}

/// `&&` (decided by `false`) and `||` (decided by `true`), with CEL's commutative error
/// semantics: a deciding value on either side wins over an error on the other.
final class LogicalNode: Node, @unchecked Sendable {
    let lhs: Node, rhs: Node
    /// The value that decides the result alone: false for `&&`, true for `||`.
    let decisive: Bool
    let name: String
    init(and lhs: Node, _ rhs: Node) {
        self.lhs = lhs
        self.rhs = rhs
        decisive = false
        name = "_&&_"
    }
    init(or lhs: Node, _ rhs: Node) {
        self.lhs = lhs
        self.rhs = rhs
        decisive = true
        name = "_||_"
    }
    override func eval(_ a: Activation) throws(CELError) -> CELValue {
        try a.step()
        var leftError: CELError?
        do {
            let l = try lhs.eval(a)
            switch l {
            case .bool(let b) where b == decisive: return l
            case .bool: break
            default: leftError = CELError.noOverload(name, l)
            }
        } catch {
            if error.isCostLimitExceeded { throw error }
            leftError = error
        }
        let r: CELValue
        do { r = try rhs.eval(a) } catch {
            if error.isCostLimitExceeded { throw error }
            throw leftError.map { CELError.combined($0, error) } ?? error
        }
        switch r {
        case .bool(let b) where b == decisive: return r
        case .bool:
            if let leftError { throw leftError }
            return r
        default:
            throw leftError ?? CELError.noOverload(name, r)
        }
    }
}

final class NotNode: Node, @unchecked Sendable {
    let operand: Node
    init(_ operand: Node) { self.operand = operand }
    override func eval(_ a: Activation) throws(CELError) -> CELValue {
        let v = try operand.eval(a)
        try a.step()
        guard case .bool(let b) = v else { throw CELError.noOverload("!_", v) }
        return .bool(!b)
    }
}

final class TernaryNode: Node, @unchecked Sendable {
    let cond: Node, then: Node, otherwise: Node
    init(_ cond: Node, _ then: Node, _ otherwise: Node) {
        self.cond = cond
        self.then = then
        self.otherwise = otherwise
    }
    override func eval(_ a: Activation) throws(CELError) -> CELValue {
        let c = try cond.eval(a)
        try a.step()
        guard case .bool(let b) = c else { throw CELError.noOverload("_?_:_", c) }
        return try b ? then.eval(a) : otherwise.eval(a)
    }
}

final class EqualsNode: Node, @unchecked Sendable {
    let lhs: Node, rhs: Node, negate: Bool
    init(_ lhs: Node, _ rhs: Node, negate: Bool) {
        self.lhs = lhs
        self.rhs = rhs
        self.negate = negate
    }
    override func eval(_ a: Activation) throws(CELError) -> CELValue {
        let l = try lhs.eval(a)
        let r = try rhs.eval(a)
        try a.step()
        try a.charge(comparisonCost(l, r))
        return .bool(celEquals(l, r) != negate)
    }
}

/// `x == 'literal'`: the common rule shape, without re-boxing the constant.
final class EqualsStringNode: Node, @unchecked Sendable {
    let lhs: Node, constant: String, negate: Bool, constantLength: Int
    init(_ lhs: Node, _ constant: String, negate: Bool) {
        self.lhs = lhs
        self.constant = constant
        self.negate = negate
        constantLength = constant.utf8.count
    }
    override func eval(_ a: Activation) throws(CELError) -> CELValue {
        let l = try lhs.eval(a)
        try a.step()
        if case .string(let s) = l {
            if s.utf8.count == constantLength { try a.charge(byteCost(constantLength)) }
            return .bool(celStringsEqual(s, constant) != negate)
        }
        return .bool(negate)
    }
}

enum RelationOp: Sendable { case lt, le, gt, ge }

final class RelationNode: Node, @unchecked Sendable {
    let lhs: Node, rhs: Node, op: RelationOp, name: String
    init(_ lhs: Node, _ rhs: Node, _ op: RelationOp, _ name: String) {
        self.lhs = lhs
        self.rhs = rhs
        self.op = op
        self.name = name
    }
    override func eval(_ a: Activation) throws(CELError) -> CELValue {
        let l = try lhs.eval(a)
        let r = try rhs.eval(a)
        try a.step()
        try a.charge(comparisonCost(l, r))
        guard let o = celCompare(l, r) else { throw CELError.noOverload(name, l, r) }
        switch o {
        case .unordered: return .bool(false)
        case .less: return .bool(op == .lt || op == .le)
        case .equal: return .bool(op == .le || op == .ge)
        case .greater: return .bool(op == .gt || op == .ge)
        }
    }
}

func celIn(_ element: CELValue, _ container: CELValue) throws(CELError) -> CELValue {
    switch container {
    case .list(let l):
        for x in l where celEquals(x, element) { return .bool(true) }
        return .bool(false)
    case .map(let m):
        return .bool(m[element] != nil)
    default:
        throw CELError.noOverload("@in", element, container)
    }
}

final class InNode: Node, @unchecked Sendable {
    let lhs: Node, rhs: Node
    init(_ lhs: Node, _ rhs: Node) {
        self.lhs = lhs
        self.rhs = rhs
    }
    override func eval(_ a: Activation) throws(CELError) -> CELValue {
        let l = try lhs.eval(a)
        let r = try rhs.eval(a)
        try a.step()
        if case .list(let items) = r {
            // A scan: each element compared costs its comparison.
            for x in items {
                try a.charge(1 &+ comparisonCost(x, l))
                if celEquals(x, l) { return .bool(true) }
            }
            return .bool(false)
        }
        return try celIn(l, r)
    }
}

final class ListNode: Node, @unchecked Sendable {
    let elements: [Node]
    let optional: [Bool]
    let anyOptional: Bool
    init(_ elements: [Node], optional: [Bool]) {
        self.elements = elements
        self.optional = optional
        self.anyOptional = optional.contains(true)
    }
    override func eval(_ a: Activation) throws(CELError) -> CELValue {
        try a.step()
        try a.charge(elementCost(elements.count))
        var out: [CELValue] = []
        out.reserveCapacity(elements.count)
        for (i, e) in elements.enumerated() {
            let v = try e.eval(a)
            if anyOptional && optional[i] {
                guard case .optional(let o) = v else { throw CELError("optional list element is not an optional value: \(v.celType)") }
                if let x = o { out.append(x) }
            } else {
                out.append(v)
            }
        }
        return .list(out)
    }
}

final class MapNode: Node, @unchecked Sendable {
    let keys: [Node], values: [Node], optional: [Bool]
    init(keys: [Node], values: [Node], optional: [Bool]) {
        self.keys = keys
        self.values = values
        self.optional = optional
    }
    override func eval(_ a: Activation) throws(CELError) -> CELValue {
        try a.step()
        try a.charge(elementCost(keys.count))
        var entries: [(key: CELValue, value: CELValue)] = []
        entries.reserveCapacity(keys.count)
        var seen = Set<CELMapKey>()
        for i in keys.indices {
            let k = try keys[i].eval(a)
            switch k {
            case .int, .uint, .bool, .string: break
            default: throw CELError("unsupported key type: \(k.celType)")
            }
            var v = try values[i].eval(a)
            if optional[i] {
                guard case .optional(let o) = v else { throw CELError("optional map entry value is not an optional value: \(v.celType)") }
                guard let x = o else { continue }
                v = x
            }
            guard seen.insert(CELMapKey(k)).inserted else { throw CELError("Failed with repeated key: \(k)") }
            entries.append((key: k, value: v))
        }
        return .map(CELMap(uniqueEntries: entries))
    }
}

final class BindNode: Node, @unchecked Sendable {
    let slot: Int, value: Node, body: Node
    init(slot: Int, value: Node, body: Node) {
        self.slot = slot
        self.value = value
        self.body = body
    }
    override func eval(_ a: Activation) throws(CELError) -> CELValue {
        try a.step()
        a.locals[slot] = try value.eval(a)
        return try body.eval(a)
    }
}

/// The elements a comprehension iterates: list elements or map keys.
@inline(__always) func iterationItems(_ v: CELValue, _ macro: String) throws(CELError) -> [CELValue] {
    switch v {
    case .list(let l): return l
    case .map(let m): return m.keys
    default: throw CELError("\(macro)() cannot iterate over a value of type '\(v.celType)'")
    }
}

/// A one-variable comprehension: `all`, `exists`, `exists_one`, `map`, `filter`, `optMap`, `optFlatMap`.
final class ComprehensionNode: Node, @unchecked Sendable {
    let kind: MacroKind
    let range: Node
    let slot: Int
    let predicate: Node?
    let transform: Node?
    let name: String
    init(kind: MacroKind, range: Node, slot: Int, predicate: Node?, transform: Node?, name: String) {
        self.kind = kind
        self.range = range
        self.slot = slot
        self.predicate = predicate
        self.transform = transform
        self.name = name
    }

    override func eval(_ a: Activation) throws(CELError) -> CELValue {
        let r = try range.eval(a)
        try a.step()
        switch kind {
        case .optMap, .optFlatMap:
            guard case .optional(let o) = r else { throw CELError.noOverload(name, r) }
            guard let inner = o else { return .optional(nil) }
            a.locals[slot] = inner
            let v = try transform!.eval(a)
            if kind == .optMap { return .optional(v) }
            guard case .optional = v else { throw CELError("optFlatMap() function must return an optional value") }
            return v
        default: break
        }
        let items = try iterationItems(r, name)
        switch kind {
        case .all, .exists:
            let stopOn = kind == .exists
            var firstError: CELError?
            for item in items {
                try a.step()
                a.locals[slot] = item
                do throws(CELError) {
                    let v = try predicate!.eval(a)
                    guard case .bool(let b) = v else { throw CELError.noOverload(kind == .all ? "_&&_" : "_||_", v) }
                    if b == stopOn { return .bool(stopOn) }
                } catch {
                    if error.isCostLimitExceeded { throw error }
                    firstError = firstError.map { CELError.combined($0, error) } ?? error
                }
            }
            if let firstError { throw firstError }
            return .bool(!stopOn)
        case .existsOne:
            var count = 0
            for item in items {
                try a.step()
                a.locals[slot] = item
                let v = try predicate!.eval(a)
                guard case .bool(let b) = v else { throw CELError.noOverload("exists_one", v) }
                if b { count += 1 }
            }
            return .bool(count == 1)
        case .map, .mapFilter, .filter:
            var out: [CELValue] = []
            out.reserveCapacity(items.count)
            for item in items {
                try a.step()
                a.locals[slot] = item
                if let predicate {
                    let v = try predicate.eval(a)
                    guard case .bool(let b) = v else { throw CELError.noOverload(name, v) }
                    if !b { continue }
                }
                out.append(try transform.map { t throws(CELError) in try t.eval(a) } ?? item)
            }
            return .list(out)
        case .optMap, .optFlatMap, .transformList, .transformMap, .transformMapEntry:
            fatalError("not a one-variable comprehension")
        }
    }
}

/// A two-variable comprehension (cel-spec "Two-Variable Comprehensions"): over a list the first variable is the
/// index and the second the element; over a map, the key and its value (in the map's order).
final class TwoVariableComprehensionNode: Node, @unchecked Sendable {
    let kind: MacroKind
    let range: Node
    let firstSlot: Int
    let secondSlot: Int
    /// The predicate of all/exists/existsOne, or the optional filter of the transforms.
    let predicate: Node?
    let transform: Node?
    let name: String
    init(kind: MacroKind, range: Node, firstSlot: Int, secondSlot: Int, predicate: Node?, transform: Node?, name: String) {
        self.kind = kind
        self.range = range
        self.firstSlot = firstSlot
        self.secondSlot = secondSlot
        self.predicate = predicate
        self.transform = transform
        self.name = name
    }

    override func eval(_ a: Activation) throws(CELError) -> CELValue {
        let r = try range.eval(a)
        try a.step()
        switch r {
        case .list(let l):
            var i: Int64 = 0
            return try run(a, count: l.count) { a throws(CELError) in
                a.locals[firstSlot] = .int(i)
                a.locals[secondSlot] = l[Int(i)]
                i += 1
            }
        case .map(let m):
            let entries = m.entries
            var i = 0
            return try run(a, count: entries.count) { a throws(CELError) in
                a.locals[firstSlot] = entries[i].key
                a.locals[secondSlot] = entries[i].value
                i += 1
            }
        default:
            throw CELError("\(name)() cannot iterate over a value of type '\(r.celType)'")
        }
    }

    /// Whether the filter (if any) keeps the current entry.
    @inline(__always) func keeps(_ a: Activation) throws(CELError) -> Bool {
        guard let predicate else { return true }
        let v = try predicate.eval(a)
        guard case .bool(let b) = v else { throw CELError.noOverload(name, v) }
        return b
    }

    /// Runs the comprehension over `count` entries; `bind` sets the two variables to the next entry.
    func run(_ a: Activation, count: Int, bind: (Activation) throws(CELError) -> Void) throws(CELError) -> CELValue {
        switch kind {
        case .all, .exists:
            // Errors are absorbed as `&&` / `||` absorb them: a deciding value anywhere wins.
            let stopOn = kind == .exists
            var firstError: CELError?
            for _ in 0..<count {
                try a.step()
                try bind(a)
                do throws(CELError) {
                    let v = try predicate!.eval(a)
                    guard case .bool(let b) = v else { throw CELError.noOverload(kind == .all ? "_&&_" : "_||_", v) }
                    if b == stopOn { return .bool(stopOn) }
                } catch {
                    if error.isCostLimitExceeded { throw error }
                    firstError = firstError.map { CELError.combined($0, error) } ?? error
                }
            }
            if let firstError { throw firstError }
            return .bool(!stopOn)
        case .existsOne:
            // No short-circuit, as the one-variable form: every entry is evaluated and errors propagate.
            var matched = 0
            for _ in 0..<count {
                try a.step()
                try bind(a)
                let v = try predicate!.eval(a)
                guard case .bool(let b) = v else { throw CELError.noOverload(name, v) }
                if b { matched += 1 }
            }
            return .bool(matched == 1)
        case .transformList:
            var out: [CELValue] = []
            out.reserveCapacity(count)
            for _ in 0..<count {
                try a.step()
                try bind(a)
                if try keeps(a) { out.append(try transform!.eval(a)) }
            }
            return .list(out)
        case .transformMap:
            // Keys are the range's own keys (or list indexes), so they are distinct.
            var out: [(key: CELValue, value: CELValue)] = []
            out.reserveCapacity(count)
            for _ in 0..<count {
                try a.step()
                try bind(a)
                if try keeps(a) { out.append((key: a.locals[firstSlot], value: try transform!.eval(a))) }
            }
            return .map(CELMap(uniqueEntries: out))
        case .transformMapEntry:
            var out: [(key: CELValue, value: CELValue)] = []
            var seen = Set<CELMapKey>()
            for _ in 0..<count {
                try a.step()
                try bind(a)
                guard try keeps(a) else { continue }
                let entry = try transform!.eval(a)
                guard case .map(let m) = entry else {
                    throw CELError("transformMapEntry() needs a map for each entry, got '\(entry.celType)'")
                }
                try a.charge(elementCost(m.count))
                for e in m.entries {
                    // Keys collide by CEL equality (1, 1u and 1.0 are the same key).
                    guard seen.insert(CELMapKey(e.key)).inserted else {
                        throw CELError("insert failed: key \(e.key) already exists in the map transformMapEntry() builds")
                    }
                    out.append(e)
                }
            }
            return .map(CELMap(uniqueEntries: out))
        case .map, .mapFilter, .filter, .optMap, .optFlatMap:
            fatalError("not a two-variable comprehension")
        }
    }
}

typealias Function1 = @Sendable (CELValue) throws(CELError) -> CELValue
typealias Function2 = @Sendable (CELValue, CELValue) throws(CELError) -> CELValue
typealias FunctionN = @Sendable ([CELValue]) throws(CELError) -> CELValue
typealias FunctionContextual = @Sendable ([CELValue], CELCallContext) throws(CELError) -> CELValue
/// A library function that charges its own size-based cost (before allocating its result).
typealias FunctionMetered = @Sendable ([CELValue], Activation) throws(CELError) -> CELValue
typealias FunctionMetered1 = @Sendable (CELValue, Activation) throws(CELError) -> CELValue
typealias FunctionMetered2 = @Sendable (CELValue, CELValue, Activation) throws(CELError) -> CELValue

final class Call1Node: Node, @unchecked Sendable {
    let f: Function1, arg: Node
    init(_ f: @escaping Function1, _ arg: Node) {
        self.f = f
        self.arg = arg
    }
    override func eval(_ a: Activation) throws(CELError) -> CELValue {
        let v = try arg.eval(a)
        try a.step()
        return try f(v)
    }
}

final class Call2Node: Node, @unchecked Sendable {
    let f: Function2, lhs: Node, rhs: Node
    init(_ f: @escaping Function2, _ lhs: Node, _ rhs: Node) {
        self.f = f
        self.lhs = lhs
        self.rhs = rhs
    }
    override func eval(_ a: Activation) throws(CELError) -> CELValue {
        let l = try lhs.eval(a)
        let r = try rhs.eval(a)
        try a.step()
        return try f(l, r)
    }
}

/// `_+_`: charges the size of a concatenation before building it.
final class AddNode: Node, @unchecked Sendable {
    let lhs: Node, rhs: Node
    init(_ lhs: Node, _ rhs: Node) {
        self.lhs = lhs
        self.rhs = rhs
    }
    override func eval(_ a: Activation) throws(CELError) -> CELValue {
        let l = try lhs.eval(a)
        let r = try rhs.eval(a)
        try a.step()
        try a.charge(concatenationCost(l, r))
        return try celAdd(l, r)
    }
}

/// `text.matches(pattern)`: a literal pattern compiled with the program, or a computed one compiled on first use
/// and cached for this call site. Charges ``matchCost(_:_:)`` before matching.
final class MatchesNode: Node, @unchecked Sendable {
    let text: Node
    let pattern: Node?
    let regex: CELRegex?
    let cache: RegexCache?

    init(_ text: Node, regex: CELRegex) {
        self.text = text
        self.regex = regex
        pattern = nil
        cache = nil
    }
    init(_ text: Node, pattern: Node) {
        self.text = text
        self.pattern = pattern
        regex = nil
        cache = RegexCache(capacity: 64)
    }

    override func eval(_ a: Activation) throws(CELError) -> CELValue {
        let t = try text.eval(a)
        let compiled: CELRegex
        if let regex {
            try a.step()
            guard case .string = t else { throw CELError.noOverload("matches", t, .string(regex.pattern)) }
            compiled = regex
        } else {
            let p = try pattern!.eval(a)
            try a.step()
            guard case .string = t, case .string(let source) = p else { throw CELError.noOverload("matches", t, p) }
            try a.charge(byteCost(source))
            compiled = try cache!.regex(source)
        }
        guard case .string(let s) = t else { throw CELError.noOverload("matches", t) }
        try a.charge(matchCost(s, compiled))
        return .bool(compiled.matches(s))
    }
}

final class CallNNode: Node, @unchecked Sendable {
    let f: FunctionN, args: [Node]
    init(_ f: @escaping FunctionN, _ args: [Node]) {
        self.f = f
        self.args = args
    }
    override func eval(_ a: Activation) throws(CELError) -> CELValue {
        var values: [CELValue] = []
        values.reserveCapacity(args.count)
        for n in args { values.append(try n.eval(a)) }
        try a.step()
        return try f(values)
    }
}

final class CallMetered1Node: Node, @unchecked Sendable {
    let f: FunctionMetered1, arg: Node
    init(_ f: @escaping FunctionMetered1, _ arg: Node) {
        self.f = f
        self.arg = arg
    }
    override func eval(_ a: Activation) throws(CELError) -> CELValue {
        let v = try arg.eval(a)
        try a.step()
        return try f(v, a)
    }
}

final class CallMetered2Node: Node, @unchecked Sendable {
    let f: FunctionMetered2, lhs: Node, rhs: Node
    init(_ f: @escaping FunctionMetered2, _ lhs: Node, _ rhs: Node) {
        self.f = f
        self.lhs = lhs
        self.rhs = rhs
    }
    override func eval(_ a: Activation) throws(CELError) -> CELValue {
        let l = try lhs.eval(a)
        let r = try rhs.eval(a)
        try a.step()
        return try f(l, r, a)
    }
}

final class CallMeteredNode: Node, @unchecked Sendable {
    let f: FunctionMetered, args: [Node]
    init(_ f: @escaping FunctionMetered, _ args: [Node]) {
        self.f = f
        self.args = args
    }
    override func eval(_ a: Activation) throws(CELError) -> CELValue {
        var values: [CELValue] = []
        values.reserveCapacity(args.count)
        for n in args { values.append(try n.eval(a)) }
        try a.step()
        return try f(values, a)
    }
}

final class CallContextualNode: Node, @unchecked Sendable {
    let f: FunctionContextual, args: [Node]
    init(_ f: @escaping FunctionContextual, _ args: [Node]) {
        self.f = f
        self.args = args
    }
    override func eval(_ a: Activation) throws(CELError) -> CELValue {
        var values: [CELValue] = []
        values.reserveCapacity(args.count)
        for n in args { values.append(try n.eval(a)) }
        try a.step()
        return try f(values, a.context)
    }
}
