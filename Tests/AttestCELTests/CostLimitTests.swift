import Foundation
import Testing

@testable import AttestCEL

private func intList(_ n: Int) -> CELValue { .list((0..<n).map { .int(Int64($0)) }) }

/// Asserts that `result` is the cost-limit error.
private func expectCostLimit(_ result: Result<CELValue, CELError>, _ comment: String, sourceLocation: SourceLocation = #_sourceLocation) {
    switch result {
    case .failure(let e):
        #expect(e.isCostLimitExceeded, "\(comment): \(e.message)", sourceLocation: sourceLocation)
        #expect(e.message.contains("cost limit exceeded"), "\(comment): \(e.message)", sourceLocation: sourceLocation)
    case .success(let v):
        Issue.record("\(comment): expected the cost limit to stop it, got \(v)", sourceLocation: sourceLocation)
    }
}

@Suite struct CostLimitTests {
    let env = CELEnvironment(variables: ["l", "s", "n"])

    /// The hostile rules of the probe. Each ran for minutes or took gigabytes; each now stops at its budget
    /// (small budgets, so these tests take milliseconds).
    @Test func nestedMapsOverThousandItemLists() throws {
        // 10^9 iterations building 10^9 elements (23.7 GB before).
        let program = try env.compile("l.map(a, l.map(b, l.map(c, c)))")
        let (result, cost) = program.evaluateMeasuringCost(["l": intList(1000)], options: CELEvaluationOptions(costLimit: 100_000))
        expectCostLimit(result, "nested maps")
        #expect(cost > 100_000 && cost < 100_100)
    }

    @Test func allOverTwoNestedHundredThousandLists() throws {
        // 10^10 predicate evaluations (past 60 s before); the error is not absorbed by `all` or `||`.
        let program = try env.compile("l.all(x, l.all(y, x != y || true))")
        expectCostLimit(program.evaluate(["l": intList(100_000)], options: CELEvaluationOptions(costLimit: 100_000)), "nested all")
        let ranges = try env.compile("lists.range(100000).all(x, lists.range(100000).all(y, true))")
        expectCostLimit(ranges.evaluate([:], options: CELEvaluationOptions(costLimit: 150_000)), "nested all over lists.range")
    }

    @Test func fortyNestedBindDoublings() throws {
        // 2^40 bytes (past 4 GB before). With the default budget it stops at about 5 MB: concatenation is charged
        // from the operands' sizes before the result is built.
        var source = "size(s40)"
        for i in stride(from: 40, through: 1, by: -1) { source = "cel.bind(s\(i), s\(i - 1) + s\(i - 1), \(source))" }
        source = "cel.bind(s0, 'ab', \(source))"
        let program = try CELEnvironment().compile(source)
        let (result, cost) = program.evaluateMeasuringCost([:])
        expectCostLimit(result, "bind doublings")
        #expect(cost > CELEvaluationOptions.defaultCostLimit)
    }

    @Test func catastrophicRegexIsLinearAndCharged() throws {
        // 14.2 s before with a backtracking engine; now one pass, well within the default budget.
        let program = try env.compile("s.matches('(a+)+$')")
        let text = String(repeating: "a", count: 28) + "!"
        let (result, cost) = program.evaluateMeasuringCost(["s": .string(text)])
        #expect(try result.get() == .bool(false))
        #expect(cost < 100)
        // Matching is charged before it runs: ⌈(1 + bytes) / 10⌉ × ⌈program size / 4⌉.
        let big = String(repeating: "a", count: 100_000)
        expectCostLimit(program.evaluate(["s": .string(big)], options: CELEvaluationOptions(costLimit: 10_000)), "big regex input")
        #expect(try program.evaluate(["s": .string(big + "!")], options: .unlimited).get() == .bool(false))
    }

    @Test func costErrorsAreNeverAbsorbed() throws {
        let limit = CELEvaluationOptions(costLimit: 5_000)
        let vars: [String: CELValue] = ["l": intList(1000)]
        // Ordinary errors are absorbed by || / && / all / exists; the cost limit is not.
        expectCostLimit(try env.compile("l.all(x, l.all(y, true)) || true").evaluate(vars, options: limit), "||")
        expectCostLimit(
            try env.compile("false && l.exists(x, l.exists(y, false)) || l.exists(x, l.exists(y, false))").evaluate(vars, options: limit),
            "&&")
        expectCostLimit(try env.compile("l.exists(x, l.all(y, true) && x < 0)").evaluate(vars, options: limit), "exists")
        expectCostLimit(try env.compile("l.all(i, v, l.exists(j, w, false) || true)").evaluate(vars, options: limit), "two-variable all")
        expectCostLimit(
            try env.compile("[1, 2].exists(i, v, l.map(x, x).size() > 0) || true").evaluate(
                vars, options: CELEvaluationOptions(costLimit: 500)),
            "two-variable exists")
    }

    /// Results are charged before they are built, so a budget also bounds memory.
    @Test func allocationsAreRefusedBeforeTheyHappen() throws {
        let mb = String(repeating: "x", count: 1_000_000)
        let small = CELEvaluationOptions(costLimit: 50_000)
        expectCostLimit(try env.compile("s + s + s").evaluate(["s": .string(mb)], options: small), "concatenation")
        expectCostLimit(try env.compile("s.replace('', s)").evaluate(["s": .string(mb)], options: small), "replace")
        expectCostLimit(try env.compile("size(s.split(''))").evaluate(["s": .string(mb)]), "split into characters")
        expectCostLimit(try env.compile("lists.range(5000000)").evaluate([:]), "lists.range")
        expectCostLimit(try env.compile("l + l").evaluate(["l": intList(100_000)], options: small), "list concatenation")
        expectCostLimit(try env.compile("[s, s, s].join(s)").evaluate(["s": .string(mb)], options: small), "join")
        expectCostLimit(
            try env.compile("s == s + ''").evaluate(["s": .string(mb)], options: CELEvaluationOptions(costLimit: 150_000)), "equality")
        expectCostLimit(
            try env.compile("s.contains('y')").evaluate(["s": .string(mb)], options: CELEvaluationOptions(costLimit: 50_000)), "contains")
    }

    @Test func unlimitedAndCustomLimits() throws {
        let program = try env.compile("l.map(a, l.map(b, b)).size()")
        let vars: [String: CELValue] = ["l": intList(300)]
        #expect(try program.evaluate(vars, options: .unlimited).get() == .int(300))
        #expect(try program.evaluate(vars).get() == .int(300))  // 90,000 iterations: within the default
        expectCostLimit(program.evaluate(vars, options: CELEvaluationOptions(costLimit: 10_000)), "custom limit")
        #expect(CELEvaluationOptions().costLimit == CELEvaluationOptions.defaultCostLimit)
        #expect(CELEvaluationOptions.unlimited.costLimit == nil)
    }

    /// The documented units, pinned (see CELEvaluationOptions): literals 0, other nodes 1, iterations 1,
    /// 1 per 10 bytes of string and per list element.
    @Test func costUnits() throws {
        func cost(_ source: String, _ vars: [String: CELValue] = [:]) throws -> UInt64 {
            try env.compile(source).evaluateMeasuringCost(vars, options: .unlimited).cost
        }
        #expect(try cost("1 + 2") == 1)
        #expect(try cost("[1, 2, 3].map(x, x * 2)") == 10)  // comprehension 1 + 3 × (iteration, x, *)
        #expect(try cost("s == 'abc'", ["s": .string("abc")]) == 2)
        #expect(try cost("s + s", ["s": .string(String(repeating: "a", count: 100))]) == 23)  // s, s, + and 200 bytes / 10
        #expect(try cost("l + l", ["l": intList(50)]) == 103)
        #expect(try cost("[1, 2].transformList(i, v, i + v)") == 9)
    }

    /// Ordinary rules spend a tiny fraction of the default budget, so they are unaffected (the conformance
    /// suite, which runs with the default options, passes at the same count).
    @Test func ordinaryRulesAreFarBelowTheDefault() throws {
        let resource = CELValue.map(
            CELMap([
                "attributes": .map(
                    CELMap([
                        "versioning": .string("Enabled"),
                        "public_ip": .null,
                        "ingress": .list((0..<50).map { i in .map(CELMap(["port": .int(Int64(i)), "cidr": .string("10.0.\(i).0/24")])) }),
                        "tags": .map(CELMap(["env": .string("prod"), "owner": .string("team-a")])),
                        "created": .string("2024-01-02T03:04:05Z"),
                    ]))
            ]))
        let rules = [
            "resource.attributes.versioning == 'Enabled'",
            "resource.attributes.public_ip == null || !resource.attributes.ingress.exists(r, r.port in [22, 3389] && r.cidr == '0.0.0.0/0')",
            "resource.attributes.ingress.all(r, !cidr(r.cidr).containsIP('8.8.8.8'))",
            "resource.attributes.tags.all(k, v, k.matches('^[a-z]+$') && v.size() > 0)",
            "string(resource.attributes.created).matches('^[0-9]{4}-[0-9]{2}-[0-9]{2}T') && timestamp(resource.attributes.created) < timestamp('2025-01-01T00:00:00Z')",
        ]
        let ruleEnv = CELEnvironment(variables: ["resource"])
        for rule in rules {
            let (result, cost) = try ruleEnv.compile(rule).evaluateMeasuringCost(["resource": resource])
            #expect((try? result.get()) != nil, "\(rule)")
            #expect(cost < CELEvaluationOptions.defaultCostLimit / 1000, "\(rule) costs \(cost)")
        }
    }
}
