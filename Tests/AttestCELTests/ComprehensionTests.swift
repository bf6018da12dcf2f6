import Foundation
import Testing

@testable import AttestCEL

private func evaluate(_ source: String, _ vars: [String: CELValue] = [:], env: CELEnvironment = CELEnvironment()) throws -> Result<
    CELValue, CELError
> {
    try env.compile(source).evaluate(vars)
}

private func compileError(_ source: String, env: CELEnvironment = CELEnvironment()) -> CELSourceError? {
    do {
        _ = try env.compile(source)
        return nil
    } catch {
        return error
    }
}

private func list(_ xs: [Int64]) -> CELValue { .list(xs.map { .int($0) }) }
private func map(_ entries: [(CELValue, CELValue)]) -> CELValue { .map(CELMap(entries.map { (key: $0.0, value: $0.1) })) }

/// What a case expects: a value, or an error whose message contains some text.
private enum Expected {
    case value(CELValue)
    case error(String)
}

/// Every case of cel-spec's tests/simple/testdata/macros2.textproto ("Tests for CEL comprehensions v2"),
/// named `section/name` as upstream.
private let macros2Cases: [(name: String, expr: String, expected: Expected)] = [
    ("exists/list_elem_all_true", "[1, 2, 3].exists(i, v, i > -1 && v > 0)", .value(.bool(true))),
    ("exists/list_elem_some_true", "[1, 2, 3].exists(i, v, i == 1 && v == 2)", .value(.bool(true))),
    ("exists/list_elem_none_true", "[1, 2, 3].exists(i, v, i > 2 && v > 3)", .value(.bool(false))),
    ("exists/list_elem_type_shortcircuit", "[1, 'foo', 3].exists(i, v, i == 1 && v != '1')", .value(.bool(true))),
    ("exists/list_elem_type_exhaustive", "[1, 'foo', 3].exists(i, v, i == 3 || v == '10')", .value(.bool(false))),
    ("exists/list_elem_exists_error", "[1, 2, 3].exists(i, v, v / i == 17)", .error("division by zero")),
    ("exists/list_empty", "[].exists(i, v, i == 0 || v == 2)", .value(.bool(false))),
    ("exists/map_key", "{'key1':1, 'key2':2}.exists(k, v, k == 'key2' && v == 2)", .value(.bool(true))),
    ("exists/not_map_key", "!{'key1':1, 'key2':2}.exists(k, v, k == 'key3' || v == 3)", .value(.bool(true))),
    ("exists/map_key_type_shortcircuit", "{'key':1, 1:21}.exists(k, v, k != 2 && v != 22)", .value(.bool(true))),
    ("exists/map_key_type_exhaustive", "!{'key':1, 1:42}.exists(k, v, k == 2 && v == 43)", .value(.bool(true))),
    ("all/list_elem_all_true", "[1, 2, 3].all(i, v, i > -1 && v > 0)", .value(.bool(true))),
    ("all/list_elem_some_true", "[1, 2, 3].all(i, v, i == 1 && v == 2)", .value(.bool(false))),
    ("all/list_elem_none_true", "[1, 2, 3].all(i, v, i == 3 || v == 4)", .value(.bool(false))),
    ("all/list_elem_type_shortcircuit", "[1, 'foo', 3].all(i, v, i == 0 || v == 1)", .value(.bool(false))),
    ("all/list_elem_type_exhaustive", "[0, 'foo', 3].all(i, v, v % 2 == i)", .value(.bool(false))),
    ("all/list_elem_type_error_exhaustive", "[0, 'foo', 5].all(i, v, v % 3 == i)", .error("no matching overload")),
    ("all/list_elem_error_shortcircuit", "[1, 2, 3].all(i, v, 6 / (2 - v) == i)", .value(.bool(false))),
    ("all/list_elem_error_exhaustive", "[1, 2, 3].all(i, v, v / i != 17)", .error("division by zero")),
    ("all/list_empty", "[].all(i, v, i > -1 || v > 0)", .value(.bool(true))),
    ("all/map_key", "{'key1':1, 'key2':2}.all(k, v, k == 'key2' && v == 2)", .value(.bool(false))),
    ("existsOne/list_empty", "[].existsOne(i, v, i == 3 || v == 7)", .value(.bool(false))),
    ("existsOne/list_one_true", "[7].existsOne(i, v, i == 0 && v == 7)", .value(.bool(true))),
    ("existsOne/list_one_false", "[8].existsOne(i, v, i == 0 && v == 7)", .value(.bool(false))),
    ("existsOne/list_none", "[1, 2, 3].existsOne(i, v, i > 2 || v > 3)", .value(.bool(false))),
    ("existsOne/list_one", "[5, 7, 8].existsOne(i, v, v % 5 == i)", .value(.bool(true))),
    ("existsOne/list_many", "[0, 1, 2, 3, 4].existsOne(i, v, v % 2 == i)", .value(.bool(false))),
    ("existsOne/list_all", "['foal', 'foo', 'four'].existsOne(i, v, i > -1 && v.startsWith('fo'))", .value(.bool(false))),
    ("existsOne/list_no_shortcircuit", "[3, 2, 1, 0].existsOne(i, v, v / i > 1)", .error("division by zero")),
    ("existsOne/map_one", "{6: 'six', 7: 'seven', 8: 'eight'}.existsOne(k, v, k % 5 == 2 && v == 'seven')", .value(.bool(true))),
    ("transformList/empty", "[].transformList(i, v, i / v)", .value(.list([]))),
    ("transformList/empty_filter", "[].transformList(i, v, i > v, i / v)", .value(.list([]))),
    ("transformList/one", "[3].transformList(i, v, v * v + i)", .value(list([9]))),
    ("transformList/one_filter", "[3].transformList(i, v, i == 0 && v == 3, v * v + i)", .value(list([9]))),
    ("transformList/many", "[2, 4, 6].transformList(i, v, v / 2 + i)", .value(list([1, 3, 5]))),
    ("transformList/many_filter", "[2, 4, 6].transformList(i, v, i != 1 && v != 4, v / 2 + i)", .value(list([1, 5]))),
    ("transformList/error", "[2, 1, 0].transformList(i, v, v / i)", .error("division by zero")),
    ("transformList/error_filter", "[2, 1, 0].transformList(i, v, v / i > 0, v)", .error("division by zero")),
    ("transformMap/empty", "{}.transformMap(k, v, k + v)", .value(map([]))),
    ("transformMap/empty_filter", "{}.transformMap(k, v, k == 'foo' && v == 'bar', k + v)", .value(map([]))),
    ("transformMap/one", "{'foo': 'bar'}.transformMap(k, v, k + v)", .value(map([(.string("foo"), .string("foobar"))]))),
    (
        "transformMap/one_filter", "{'foo': 'bar'}.transformMap(k, v, k == 'foo' && v == 'bar', k + v)",
        .value(map([(.string("foo"), .string("foobar"))]))
    ),
    (
        "transformMap/many", "{'foo': 'bar', 'baz': 'bux', 'hello': 'world'}.transformMap(k, v, k + v)",
        .value(map([(.string("foo"), .string("foobar")), (.string("baz"), .string("bazbux")), (.string("hello"), .string("helloworld"))]))
    ),
    (
        "transformMap/many_filter", "{'foo': 'bar', 'baz': 'bux', 'hello': 'world'}.transformMap(k, v, k != 'baz' && v != 'bux', k + v)",
        .value(map([(.string("foo"), .string("foobar")), (.string("hello"), .string("helloworld"))]))
    ),
    ("transformMap/error", "{'foo': 2, 'bar': 1, 'baz': 0}.transformMap(k, v, 4 / v)", .error("division by zero")),
    (
        "transformMap/error_filter", "{'foo': 2, 'bar': 1, 'baz': 0}.transformMap(k, v, k == 'baz' && 4 / v == 0, v)",
        .error("division by zero")
    ),
]

/// Cases beyond macros2.textproto: `transformMapEntry`, the examples of cel-go's `ext/comprehensions.go`
/// documentation, and edge cases.
private let moreCases: [(name: String, expr: String, expected: Expected)] = [
    ("docs/all_less", "[1, 2, 3].all(i, j, i < j)", .value(.bool(true))),
    ("docs/all_map", "{'hello': 'world', 'taco': 'taco'}.all(k, v, k != v)", .value(.bool(false))),
    (
        "docs/all_nested_one_variable", "{'h': ['hello', 'hi'], 'j': ['joke', 'jog']}.all(k, vals, vals.all(v, v.startsWith(k)))",
        .value(.bool(true))
    ),
    (
        "docs/exists_map", "{'greeting': 'hello', 'farewell': 'goodbye'}.exists(k, v, k.startsWith('good') || v.endsWith('bye'))",
        .value(.bool(true))
    ),
    ("docs/exists_list", "[1, 2, 4, 8, 16].exists(i, v, v == 1024 && i == 10)", .value(.bool(false))),
    ("docs/existsOne_false", "[1, 2, 1, 3, 1, 4].existsOne(i, v, i == 1 || v == 1)", .value(.bool(false))),
    ("docs/existsOne_true", "[1, 1, 2, 2, 3, 3].existsOne(i, v, i == 2 && v == 2)", .value(.bool(true))),
    ("docs/existsOne_map", "{'i': 0, 'j': 1, 'k': 2}.existsOne(i, v, i == 'l' || v == 1)", .value(.bool(true))),
    ("docs/exists_one_spelling", "[7, 8].exists_one(i, v, v == 7)", .value(.bool(true))),
    ("docs/transformList", "[1, 2, 3].transformList(indexVar, valueVar, (indexVar * valueVar) + valueVar)", .value(list([1, 4, 9]))),
    (
        "docs/transformList_filter", "[1, 2, 3].transformList(indexVar, valueVar, indexVar % 2 == 0, (indexVar * valueVar) + valueVar)",
        .value(list([1, 9]))
    ),
    (
        "docs/transformList_map_keys", "{'greeting': 'hello', 'farewell': 'goodbye'}.transformList(k, _, k)",
        .value(.list([.string("greeting"), .string("farewell")]))
    ),
    (
        "docs/transformList_map_values", "{'greeting': 'hello', 'farewell': 'goodbye'}.transformList(_, v, v)",
        .value(.list([.string("hello"), .string("goodbye")]))
    ),
    (
        "docs/transformMap_list", "[1, 2, 3].transformMap(indexVar, valueVar, (indexVar * valueVar) + valueVar)",
        .value(map([(.int(0), .int(1)), (.int(1), .int(4)), (.int(2), .int(9))]))
    ),
    (
        "docs/transformMap_list_filter", "[1, 2, 3].transformMap(indexVar, valueVar, indexVar % 2 == 0, (indexVar * valueVar) + valueVar)",
        .value(map([(.int(0), .int(1)), (.int(2), .int(9))]))
    ),
    ("docs/transformMap_map", "{'greeting': 'hello'}.transformMap(k, v, v + '!')", .value(map([(.string("greeting"), .string("hello!"))]))),
    (
        "docs/transformMapEntry_swap", "{'greeting': 'hello'}.transformMapEntry(keyVar, valueVar, {valueVar: keyVar})",
        .value(map([(.string("hello"), .string("greeting"))]))
    ),
    (
        "docs/transformMapEntry_reverse_lookup", "[1, 2, 3].transformMapEntry(indexVar, valueVar, {valueVar: indexVar})",
        .value(map([(.int(1), .int(0)), (.int(2), .int(1)), (.int(3), .int(2))]))
    ),
    (
        "docs/transformMapEntry_duplicate",
        "{'greeting': 'aloha', 'farewell': 'aloha'}.transformMapEntry(keyVar, valueVar, {valueVar: keyVar})",
        .error("already exists")
    ),
    (
        "transformMapEntry/filter", "[1, 2, 3].transformMapEntry(i, v, v > 1, {v: i})",
        .value(map([(.int(2), .int(1)), (.int(3), .int(2))]))
    ),
    (
        "transformMapEntry/several_entries", "['a', 'b'].transformMapEntry(i, v, {v: i, v + v: i})",
        .value(map([(.string("a"), .int(0)), (.string("aa"), .int(0)), (.string("b"), .int(1)), (.string("bb"), .int(1))]))
    ),
    ("transformMapEntry/numeric_keys_collide", "[0, 1].transformMapEntry(i, v, v == 0 ? {1: 'a'} : {1u: 'b'})", .error("already exists")),
    ("transformMapEntry/empty_entries", "[1, 2].transformMapEntry(i, v, {})", .value(map([]))),
    ("transformMapEntry/not_a_map", "[1].transformMapEntry(i, v, dyn(v))", .error("needs a map")),
    ("transformMapEntry/error", "[1, 0].transformMapEntry(i, v, {1 / v: i})", .error("division by zero")),
    (
        "transformMap/values_any_type", "{'a': [1], 'b': []}.transformMap(k, v, size(v) > 0)",
        .value(map([(.string("a"), .bool(true)), (.string("b"), .bool(false))]))
    ),
    ("transformList/filter_must_be_bool", "[1].transformList(i, v, dyn(v), v)", .error("no matching overload")),
    ("exists/map_order", "{'b': 1, 'a': 2}.transformList(k, v, k)", .value(.list([.string("b"), .string("a")]))),
    ("exists/not_iterable", "dyn(1).exists(i, v, true)", .error("cannot iterate")),
    ("shadowing/inner_wins", "[[10, 20]].all(i, v, v.all(i, v, i < 2 && v >= 10))", .value(.bool(true))),
    ("shadowing/outer_visible", "[1, 2].exists(i, v, [5].exists(j, w, i == 1 && w == 5))", .value(.bool(true))),
    (
        "one_variable_forms_unchanged", "[1, 2, 3].all(x, x > 0) && [1].exists_one(x, x == 1) && [1, 2].map(x, x * 2) == [2, 4]",
        .value(.bool(true))
    ),
]

@Suite struct TwoVariableComprehensionTests {
    private func check(_ cases: [(name: String, expr: String, expected: Expected)]) throws {
        for c in cases {
            let result = try evaluate(c.expr)
            switch (c.expected, result) {
            case (.value(let want), .success(let got)):
                #expect(got == want, "\(c.name): \(c.expr) gave \(got)")
            case (.error(let text), .failure(let e)):
                #expect(e.message.contains(text), "\(c.name): \(c.expr) failed with '\(e.message)'")
            case (.value(let want), .failure(let e)):
                Issue.record("\(c.name): \(c.expr) failed with '\(e.message)', expected \(want)")
            case (.error(let text), .success(let got)):
                Issue.record("\(c.name): \(c.expr) gave \(got), expected an error containing '\(text)'")
            }
        }
    }

    @Test func macros2Conformance() throws { try check(macros2Cases) }

    @Test func transformMapEntryAndDocumentedExamples() throws { try check(moreCases) }

    @Test func variableNamesMustBeSimpleAndDistinct() throws {
        let duplicate = try #require(compileError("[1].all(x, x, true)"))
        #expect(duplicate.message.contains("duplicate variable name: x"))
        #expect(duplicate.column == 12)  // the second `x`
        #expect(compileError("{'a': 1}.transformMap(k, k, 1)")?.message.contains("duplicate variable name") == true)
        #expect(compileError("[1].exists(a.b, v, true)")?.message.contains("simple names") == true)
        #expect(compileError("[1].transformList(i, 'v', i)")?.message.contains("simple names") == true)
        #expect(compileError("[1].all(i, __result__, true)")?.message.contains("accumulator") == true)
        // Without macros the names are plain calls: unknown functions.
        #expect(compileError("[1].all(i, v, true)", env: CELEnvironment(macros: false)) != nil)
    }

    @Test func checkerTypes() throws {
        let env = CELEnvironment()
        #expect(try env.compile("[1, 2].all(i, v, i < v)").resultType == .bool)
        #expect(try env.compile("[1, 2].existsOne(i, v, v == 2)").resultType == .bool)
        #expect(try env.compile("['a'].transformList(i, v, i)").resultType == .list(.int))
        #expect(try env.compile("['a'].transformList(i, v, v + '!')").resultType == .list(.string))
        #expect(try env.compile("{'a': 1}.transformList(k, v, k)").resultType == .list(.string))
        #expect(try env.compile("[true].transformMap(i, v, 'x')").resultType == .map(.int, .string))
        #expect(try env.compile("{'a': 1}.transformMap(k, v, v > 0)").resultType == .map(.string, .bool))
        #expect(try env.compile("{'a': 1}.transformMapEntry(k, v, {v: k})").resultType == .map(.int, .string))
        // Certain type errors are compile errors: variables are typed from the range.
        #expect(compileError("['a'].exists(i, v, i.startsWith('a'))") != nil)
        #expect(compileError("['a'].exists(i, v, v.startsWith('a'))") == nil)
        #expect(compileError("{'a': 1}.all(k, v, v.startsWith('a'))") != nil)
        #expect(compileError("[1, 2].all(i, v, i + v)")?.message.contains("must be a bool") == true)
        #expect(compileError("[1].transformList(i, v, 'x', v)")?.message.contains("must be a bool") == true)
        #expect(compileError("1.all(i, v, true)")?.message.contains("range of a comprehension") == true)
        #expect(compileError("[1].transformMapEntry(i, v, v)")?.message.contains("needs a map") == true)
        // The one-variable forms get the same checks.
        #expect(compileError("[1, 2].all(x, x)")?.message.contains("must be a bool") == true)
    }

    @Test func declaredVariablesAsRange() throws {
        let env = CELEnvironment(variableTypes: ["tags": .map(.string, .string)])
        let program = try env.compile("tags.transformList(k, v, k + '=' + v)")
        #expect(program.resultType == .list(.string))
        let tags = CELValue.map(CELMap([(key: .string("env"), value: .string("prod")), (key: .string("team"), value: .string("core"))]))
        #expect(try program.evaluate(["tags": tags]).get() == .list([.string("env=prod"), .string("team=core")]))
    }
}
