import Foundation
import Testing

@testable import AttestCEL

private func eval(_ source: String, _ vars: [String: CELValue] = [:], env: CELEnvironment = CELEnvironment()) throws -> CELValue {
    try env.compile(source).evaluate(vars).get()
}

private func sourceError(_ source: String, env: CELEnvironment = CELEnvironment()) -> CELSourceError? {
    do {
        _ = try env.compile(source)
        return nil
    } catch {
        return error
    }
}

private func evalError(_ source: String, _ vars: [String: CELValue] = [:]) -> CELError? {
    guard case .failure(let e) = (try? CELEnvironment().compile(source))?.evaluate(vars) else { return nil }
    return e
}

/// A host value for custom functions.
private struct Inventory: Sendable {
    let admins: Set<String>
}

@Suite struct CELSourcePositionTests {
    @Test func incompleteExpressionReportsLineOne() throws {
        let e = try #require(sourceError("a &&"))
        #expect(e.line == 1)
        #expect(e.column == 5)
    }

    @Test func badTokenOnSecondLine() throws {
        let e = try #require(sourceError("a == 1 &&\n  b # c"))
        #expect(e.line == 2)
        #expect(e.column == 5)
    }

    @Test func unknownFunctionIsACompileError() throws {
        let e = try #require(sourceError("x.size() > 0 &&\n   frobnicate(x)"))
        #expect(e.line == 2)
        #expect(e.column == 4)
        #expect(e.message.contains("frobnicate"))
        // Wrong arity of a known function too.
        #expect(sourceError("size(1, 2)") != nil)
    }

    @Test func undeclaredVariableRejectedWhenVariablesDeclared() throws {
        let env = CELEnvironment(variables: ["resource"])
        let e = try #require(sourceError("resource.kind == 'x' || resorce.kind == 'y'", env: env))
        #expect(e.column == 25)
        #expect(e.message.contains("resorce"))
        #expect(sourceError("resource.kind == 'x'", env: env) == nil)
        // Without declarations any identifier compiles and fails (as a CEL error) only when evaluated unbound.
        #expect(sourceError("resorce.kind == 'x'") == nil)
    }

    @Test func certainTypeErrorsAreCompileErrors() {
        #expect(sourceError("1 + 'a'") != nil)
        #expect(sourceError("'a' < 1") != nil)
        #expect(sourceError("x + 1") == nil)  // x is dyn: fine until evaluated
    }

    @Test func depthLimitGivesAnErrorNotACrash() {
        let deep = String(repeating: "(", count: 5000) + "1" + String(repeating: ")", count: 5000)
        #expect(sourceError(deep) != nil)
        let lists = String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)
        #expect(sourceError(lists) != nil)
        let negations = String(repeating: "-", count: 100_000) + "1"
        #expect(sourceError(negations) != nil)
        let sums = Array(repeating: "1", count: 100_000).joined(separator: " + ")
        #expect(sourceError(sums) != nil)
        let ors = Array(repeating: "false", count: 100_000).joined(separator: " || ")
        #expect((try? eval(ors)) == .bool(false))  // && and || chains are balanced
        let nested = (0..<300).reduce("x") { e, _ in "(\(e) + 1) * 1" }
        #expect(sourceError(nested) != nil)
    }
}

@Suite struct CELEvaluationTests {
    @Test func resourceRule() throws {
        let resource = CELValue.map(CELMap(["attributes": .map(CELMap(["versioning": .string("Enabled")]))]))
        let env = CELEnvironment(variables: ["resource"])
        #expect(try eval("resource.attributes.versioning == 'Enabled'", ["resource": resource], env: env) == .bool(true))
        #expect(
            try eval("has(resource.attributes.mfa) || resource.attributes.versioning != 'Enabled'", ["resource": resource], env: env)
                == .bool(false))
    }

    @Test func overflowIsAnError() {
        #expect(evalError("9223372036854775807 + 1")?.message.contains("overflow") == true)
        #expect(evalError("-9223372036854775808 - 1") != nil)
        #expect(evalError("18446744073709551615u + 1u") != nil)
        #expect(evalError("1 / 0") != nil)
        #expect((try? eval("-9223372036854775808")) == .int(Int64.min))
    }

    @Test func errorsAreAbsorbedByLogic() throws {
        #expect(try eval("1 / 0 == 1 || true") == .bool(true))
        #expect(try eval("false && {}['missing']") == .bool(false))
        #expect(try eval("{}['missing'] && false") == .bool(false))
        #expect(evalError("{}['missing'] || false") != nil)
    }

    @Test func equalityIsCELEquality() {
        #expect(celEquals(.int(1), .uint(1)))
        #expect(celEquals(.int(1), .double(1.0)))
        #expect(!celEquals(.double(.nan), .double(.nan)))
        #expect(!celEquals(.string("Am\u{E9}lie"), .string("Ame\u{301}lie")))
        #expect(celEquals(.map(CELMap([(key: .int(1), value: .string("a"))])), .map(CELMap([(key: .uint(1), value: .string("a"))]))))
        #expect(CELValue.list([.int(1), .uint(2), .string("x")]).description == "[1, 2u, \"x\"]")
    }

    @Test func doubleToString() throws {
        let cases: [(String, String)] = [
            ("123.456", "123.456"), ("-4.5e-3", "-0.0045"), ("1e6", "1e+06"), ("100000.0", "100000"),
            ("1.5e-7", "1.5e-07"), ("0.0", "0"), ("123456789.5", "1.234567895e+08"), ("1e300", "1e+300"),
        ]
        for (literal, text) in cases {
            #expect(try eval("string(\(literal))") == .string(text), "string(\(literal))")
        }
    }

    @Test func mapLookupUsesCELKeys() {
        let m = CELMap([(key: .int(1), value: .string("one")), (key: .string("k"), value: .bool(true))])
        #expect(m[.uint(1)] == .string("one"))
        #expect(m[.double(1.0)] == .string("one"))
        #expect(m[.double(1.5)] == nil)
        #expect(m[.string("k")] == .bool(true))
        #expect(m.count == 2)
        #expect(m.entries.map(\.key) == [.int(1), .string("k")])
        // Larger maps use a hash index.
        var big: [String: CELValue] = [:]
        for i in 0..<50 { big["key\(i)"] = .int(Int64(i)) }
        let bigMap = CELMap(big)
        #expect(bigMap[.string("key42")] == .int(42))
        #expect(bigMap[.string("nope")] == nil)
    }

    @Test func macrosAndStrings() throws {
        #expect(try eval("[1, 2, 3].map(x, x * 2).filter(y, y > 2)") == .list([.int(4), .int(6)]))
        #expect(try eval("['a', 'b'].exists_one(s, s == 'a')") == .bool(true))
        #expect(try eval("'Hello'.lowerAscii() + '/' + 'a,b,c'.split(',').join('-')") == .string("hello/a-b-c"))
        #expect(try eval("'%s has %d items costing %.2f'.format(['cart', 3, 9.5])") == .string("cart has 3 items costing 9.50"))
        #expect(try eval("'arn:aws:s3:::bucket'.matches('^arn:aws:s3:::[a-z]+$')") == .bool(true))
        #expect(try eval("cel.bind(x, [1, 2], x + x)") == .list([.int(1), .int(2), .int(1), .int(2)]))
        #expect(try eval("{'a': 1}.?b.orValue(7)") == .int(7))
    }

    @Test func extensions() throws {
        #expect(try eval("'hello'.charAt(1) + 'hello'.charAt(5)") == .string("e"))
        #expect(try eval("'hello mellow'.indexOf('ello') + 'hello mellow'.lastIndexOf('ello') * 100") == .int(701))
        #expect(try eval("'hello'.indexOf('l', 3)") == .int(3))
        #expect(try eval("'tacocat'.substring(4) + 'tacocat'.substring(0, 4)") == .string("cattaco"))
        #expect(try eval("'a-b-c'.replace('-', '+', 1)") == .string("a+b-c"))
        #expect(try eval("'a,b,c'.split(',', 2)") == .list([.string("a"), .string("b,c")]))
        #expect(try eval("' \\t x \\n'.trim()") == .string("x"))
        #expect(try eval("'abc'.reverse() + 'ÀB'.upperAscii() + 'ÀB'.lowerAscii()") == .string("cbaÀBÀb"))
        #expect(try eval("strings.quote('a\"b')") == .string("\"a\\\"b\""))
        #expect(try eval("math.greatest(1, 2.5, 2u)") == .double(2.5))
        #expect(try eval("math.least([3, 1u == 0u ? 1 : 2, 7])") == .int(2))
        #expect(try eval("math.bitShiftRight(-1, 60)") == .int(15))
        #expect(
            try eval("[3, 1, 2].sort() + lists.range(2) + [[1], [2, [3]]].flatten()")
                == .list([.int(1), .int(2), .int(3), .int(0), .int(1), .int(1), .int(2), .list([.int(3)])]))
        #expect(try eval("[1, 2, 1].distinct().reverse().slice(0, 1)") == .list([.int(2)]))
        #expect(try eval("base64.encode(bytes('hi'))") == .string("aGk="))
        #expect(try eval("'%x %X %o %b %s %%'.format([255, 255, 8, 5, [1, 'a']])") == .string("ff FF 10 101 [1, a] %"))
    }

    @Test func timestampsAndDurations() throws {
        let t = "timestamp('2009-02-13T23:31:30.123Z')"
        #expect(try eval("\(t).getFullYear()") == .int(2009))
        #expect(try eval("\(t).getMonth()") == .int(1))
        #expect(try eval("\(t).getDate()") == .int(13))
        #expect(try eval("\(t).getDayOfMonth()") == .int(12))
        #expect(try eval("\(t).getDayOfWeek()") == .int(5))
        #expect(try eval("\(t).getDayOfYear()") == .int(43))
        #expect(try eval("\(t).getHours('+01:00')") == .int(0))
        #expect(try eval("\(t).getDate('Australia/Sydney')") == .int(14))
        #expect(try eval("\(t).getMilliseconds()") == .int(123))
        #expect(try eval("string(\(t) + duration('1h30m'))") == .string("2009-02-14T01:01:30.123Z"))
        #expect(try eval("duration('1h30m').getMinutes()") == .int(90))
        #expect(try eval("string(duration('-1.5s'))") == .string("-1.5s"))
        #expect(try eval("timestamp('2020-01-02T00:00:00Z') - timestamp('2020-01-01T00:00:00Z') == duration('24h')") == .bool(true))
        #expect(try eval("timestamp('2020-01-01T00:00:00+02:00') < timestamp('2020-01-01T00:00:00Z')") == .bool(true))
        #expect(evalError("timestamp('9999-12-31T23:59:59Z') + duration('1s')") != nil)
        #expect(evalError("timestamp('not a time')") != nil)
        #expect(CELTimestamp(rfc3339: "1970-01-01T00:00:01.5Z") == CELTimestamp(seconds: 1, nanos: 500_000_000))
        #expect(try eval("type(timestamp(0)) == google.protobuf.Timestamp") == .bool(true))
    }

    @Test func networkExtension() throws {
        #expect(try eval("cidr('10.0.0.0/8').containsIP(ip('10.1.2.3'))") == .bool(true))
        #expect(try eval("string(ip('2001:DB8:0:0:0:0:0:1'))") == .string("2001:db8::1"))
    }
}

@Suite struct CELCustomFunctionTests {
    static let env = CELEnvironment(
        variables: ["principal", "n"],
        functions: [
            CELFunction("iam.isAdmin", arity: 1...1) { args, call in
                guard let inventory = call.host as? Inventory else { throw CELError("no inventory") }
                guard case .string(let name) = args[0] else { throw CELError("iam.isAdmin: expected a string") }
                return .bool(inventory.admins.contains(name))
            },
            CELFunction("shout", arity: 1...2, receiverStyle: true, globalStyle: false) { args, _ in
                guard case .string(let s) = args[0] else { throw CELError("shout: expected a string") }
                var suffix = "!"
                if args.count > 1, case .string(let x) = args[1] { suffix = x }
                return .string(s.uppercased() + suffix)
            },
            CELFunction("explode", arity: 0...0) { _, _ in
                struct Boom: Error, CustomStringConvertible { var description: String { "boom" } }
                throw Boom()
            },
        ])

    @Test func namespacedFunctionSeesHost() throws {
        let program = try Self.env.compile("iam.isAdmin(principal)")
        let host = Inventory(admins: ["alice"])
        #expect(try program.evaluate(["principal": .string("alice")], host: host).get() == .bool(true))
        #expect(try program.evaluate(["principal": .string("bob")], host: host).get() == .bool(false))
        guard case .failure(let e) = program.evaluate(["principal": .string("alice")]) else {
            Issue.record("expected an error without a host")
            return
        }
        #expect(e.message == "no inventory")
    }

    @Test func receiverStyleFunction() throws {
        #expect(try Self.env.compile("principal.shout()").evaluate(["principal": .string("hi")]).get() == .string("HI!"))
        #expect(try Self.env.compile("principal.shout('?')").evaluate(["principal": .string("hi")]).get() == .string("HI?"))
        // Receiver-only: the global form is rejected at compile time.
        #expect(sourceError("shout(principal)", env: Self.env) != nil)
    }

    @Test func functionErrorsBecomeCELErrors() throws {
        guard case .failure(let e) = try Self.env.compile("explode()").evaluate([:]) else {
            Issue.record("expected an error")
            return
        }
        #expect(e.message == "boom")
        #expect(try Self.env.compile("explode() || true").evaluate([:]).get() == .bool(true))
        #expect(try Self.env.compile("true || explode()").evaluate([:]).get() == .bool(true))
    }

    @Test func concurrentEvaluation() async throws {
        let program = try Self.env.compile("[1, 2, 3].map(x, x * n).exists(y, y == n * 3) && iam.isAdmin(principal)")
        let host = Inventory(admins: ["alice"])
        let results = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<200 {
                group.addTask {
                    let r = program.evaluate(["n": .int(Int64(i)), "principal": .string(i % 2 == 0 ? "alice" : "bob")], host: host)
                    return (try? r.get()) == .bool(i % 2 == 0)
                }
            }
            var all: [Bool] = []
            for await r in group { all.append(r) }
            return all
        }
        #expect(results.count == 200)
        #expect(results.allSatisfy { $0 })
    }
}
