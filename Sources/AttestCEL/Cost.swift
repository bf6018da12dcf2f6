/// Options for one evaluation of a compiled program.
///
/// ## The cost model
///
/// Every evaluation counts what it does in *cost units*, in the spirit of cel-go's runtime cost tracking, and fails
/// with a ``CELError`` whose ``CELError/isCostLimitExceeded`` is true (its message says the cost limit was exceeded)
/// as soon as the count passes ``costLimit``. The counter is a plain integer in the per-evaluation state, so the
/// accounting costs an addition and a comparison per step. One unit is roughly one interpreter step, which is also
/// roughly the work and memory of one list element or of ten bytes of string:
///
/// | what | units |
/// | --- | --- |
/// | a literal | 0 |
/// | any other expression node evaluated: identifier, field selection, index, operator, function call, list or map literal | 1 |
/// | each iteration of a comprehension (`all`, `exists`, `map`, `transformList`, ...) | 1 more, plus its body |
/// | list and map literals | 1 more per element or entry |
/// | a string or bytes operation: concatenation, `contains`, `startsWith`, `endsWith`, `indexOf`, `size`, `charAt`, `substring`, `replace`, `split`, `join`, `trim`, `lowerAscii`, `reverse`, `format`, equality and ordering of strings, conversions from strings or bytes (`int('…')`, `timestamp('…')`, `string(b'…')`…), base64, a computed `matches` pattern | 1 more per 10 bytes read or produced |
/// | a list or map operation: concatenation, `in`, equality, `sort` (n log n), `distinct`, `flatten`, `slice`, `reverse`, `lists.range`, `split`, `join`, `math.greatest`, the entries `transformMapEntry` adds | 1 more per element read or produced |
/// | `matches` | `ceil((1 + text bytes) / 10) × ceil(program size / 4)` more (the NFA simulation's worst case; cel-go charges the same product with the pattern's length for the program size) |
/// | a custom (host) function | 1 |
///
/// Costs of results that allocate (concatenation, `replace`, `split`, `join`, `format`, `lists.range`, `flatten`...)
/// are charged *before* the allocation, from sizes known in advance, so a budget also bounds the memory an
/// evaluation can take: with the default budget, an evaluation can build at most about 10 MB of strings or a
/// million list elements.
public struct CELEvaluationOptions: Sendable, Hashable {
    /// The most cost units one evaluation may spend; nil for no limit.
    public var costLimit: UInt64?

    /// Options with this cost limit (nil: unlimited).
    public init(costLimit: UInt64? = CELEvaluationOptions.defaultCostLimit) {
        self.costLimit = costLimit
    }

    /// One million units: the per-expression limit Kubernetes sets for cel-go (`PerCallLimit`). A rule over a
    /// resource typically costs tens to a few thousand units; a million is tens of milliseconds of work.
    public static let defaultCostLimit: UInt64 = 1_000_000
    /// The default limit (``defaultCostLimit``).
    public static let `default` = CELEvaluationOptions()
    /// No limit: for trusted expressions evaluated interactively.
    public static let unlimited = CELEvaluationOptions(costLimit: nil)
}

// MARK: - Size-based costs

/// Units for reading or producing this many bytes of string or bytes: one per 10.
@inline(__always) func byteCost(_ count: Int) -> UInt64 { UInt64(count) / 10 }

/// Units for a string's bytes.
@inline(__always) func byteCost(_ s: String) -> UInt64 { UInt64(s.utf8.count) / 10 }

/// Units for reading or producing this many list elements or map entries: one each.
@inline(__always) func elementCost(_ count: Int) -> UInt64 { UInt64(count) }

/// The size-based part of the cost of reading a value: bytes for strings and bytes, elements for lists and maps.
func sizeCost(_ v: CELValue) -> UInt64 {
    switch v {
    case .string(let s): return byteCost(s)
    case .bytes(let b): return byteCost(b.count)
    case .list(let l): return elementCost(l.count)
    case .map(let m): return elementCost(m.count)
    default: return 0
    }
}

/// The cost of `l + r` before building it: the size of the result.
func concatenationCost(_ l: CELValue, _ r: CELValue) -> UInt64 {
    switch (l, r) {
    case (.string(let x), .string(let y)): return byteCost(x.utf8.count + y.utf8.count)
    case (.bytes(let x), .bytes(let y)): return byteCost(x.count + y.count)
    case (.list(let x), .list(let y)): return elementCost(x.count + y.count)
    default: return 0
    }
}

/// The cost of comparing two values for equality or order, in proportion to what the comparison reads
/// (strings and bytes of the same length are compared byte by byte; lists and maps element by element).
func comparisonCost(_ l: CELValue, _ r: CELValue) -> UInt64 {
    switch (l, r) {
    case (.string(let x), .string(let y)): return byteCost(min(x.utf8.count, y.utf8.count))
    case (.bytes(let x), .bytes(let y)): return byteCost(min(x.count, y.count))
    case (.list(let x), .list(let y)):
        guard x.count == y.count else { return 0 }
        var units = elementCost(x.count)
        for i in x.indices { units &+= comparisonCost(x[i], y[i]) }
        return units
    case (.map(let x), .map(let y)):
        guard x.count == y.count else { return 0 }
        var units = elementCost(x.count)
        for entry in x.entries {
            if let other = y[entry.key] { units &+= comparisonCost(entry.value, other) }
        }
        return units
    default: return 0
    }
}
