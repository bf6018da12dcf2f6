import Foundation
import Testing

@testable import AttestCEL

private func run(_ source: String, _ vars: [String: CELValue] = [:]) -> Result<CELValue, CELError> {
    do {
        return try CELEnvironment().compile(source).evaluate(vars)
    } catch {
        return .failure(CELError("compile error: \(error.message)"))
    }
}

private func value(_ source: String) throws -> CELValue { try run(source).get() }

private func errorMessage(_ source: String) -> String? {
    if case .failure(let e) = run(source) { return e.message }
    return nil
}

@Suite struct TimestampAndDurationRangeTests {
    /// cel-spec tests/simple/testdata/timestamps.textproto, sections timestamp_range and duration_range: every
    /// case is an error whose message mentions the range.
    @Test func upstreamRangeCases() {
        let cases: [(name: String, expr: String)] = [
            ("timestamp_range/from_string_under", "timestamp('0000-01-01T00:00:00Z')"),
            ("timestamp_range/from_int_under", "timestamp(-62135596801)"),
            ("timestamp_range/from_string_over", "timestamp('10000-01-01T00:00:00Z')"),
            ("timestamp_range/from_int_over", "timestamp(253402300800)"),
            ("timestamp_range/add_duration_under", "timestamp('0001-01-01T00:00:00Z') + duration('-1s')"),
            ("timestamp_range/add_duration_over", "timestamp('9999-12-31T23:59:59Z') + duration('1s')"),
            ("timestamp_range/add_duration_nanos_over", "timestamp('9999-12-31T23:59:59.999999999Z') + duration('1ns')"),
            ("timestamp_range/add_duration_nanos_under", "timestamp('0001-01-01T00:00:00Z') + duration('-1ns')"),
            ("timestamp_range/sub_time_duration_over", "timestamp('9999-12-31T23:59:59Z') - timestamp('0001-01-01T00:00:00Z')"),
            ("timestamp_range/sub_time_duration_under", "timestamp('0001-01-01T00:00:00Z') - timestamp('9999-12-31T23:59:59Z')"),
            ("duration_range/from_string_under", "duration('-320000000000s')"),
            ("duration_range/from_string_over", "duration('320000000000s')"),
            ("duration_range/add_under", "duration('-200000000000s') + duration('-200000000000s')"),
            ("duration_range/add_over", "duration('200000000000s') + duration('200000000000s')"),
            ("duration_range/sub_under", "duration('-200000000000s') - duration('200000000000s')"),
            ("duration_range/sub_over", "duration('200000000000s') - duration('-200000000000s')"),
        ]
        for c in cases {
            let message = errorMessage(c.expr)
            // from_string_over is not RFC 3339 at all (five-digit year); every other one is a range error.
            let expected = c.name == "timestamp_range/from_string_over" ? "RFC 3339" : "range"
            #expect(message?.contains(expected) == true, "\(c.name): \(c.expr) gave \(message ?? "a value")")
        }
    }

    @Test func theEdgesAreInRange() throws {
        #expect(try value("string(timestamp('9999-12-31T23:59:59.999999999Z'))") == .string("9999-12-31T23:59:59.999999999Z"))
        #expect(try value("string(timestamp('0001-01-01T00:00:00Z'))") == .string("0001-01-01T00:00:00Z"))
        #expect(try value("timestamp(253402300799) == timestamp('9999-12-31T23:59:59Z')") == .bool(true))
        #expect(try value("timestamp(-62135596800) == timestamp('0001-01-01T00:00:00Z')") == .bool(true))
        #expect(try value("string(duration('9223372036854775807ns'))") == .string("9223372036.854775807s"))
        #expect(try value("string(duration('-9223372036854775808ns'))") == .string("-9223372036.854775808s"))
        #expect(try value("string(duration('2562047h47m16.854775807s'))") == .string("9223372036.854775807s"))
        // The largest difference of two timestamps that is a duration: exactly Int64.max nanoseconds.
        #expect(
            try value("string(timestamp('2262-04-11T23:47:16.854775807Z') - timestamp('1970-01-01T00:00:00Z'))")
                == .string("9223372036.854775807s"))
        #expect(errorMessage("timestamp('2262-04-11T23:47:16.854775808Z') - timestamp('1970-01-01T00:00:00Z')")?.contains("range") == true)
        #expect(
            try value("string(timestamp('9999-12-31T23:59:59.999999999Z') - timestamp('9999-12-31T23:59:59Z'))") == .string("0.999999999s"))
        #expect(try value("string(timestamp('0001-01-01T00:00:00Z') + duration('1ns'))") == .string("0001-01-01T00:00:00.000000001Z"))
        #expect(
            try value("string(timestamp('9999-12-31T23:59:59.999999999Z') - duration('-0s'))") == .string("9999-12-31T23:59:59.999999999Z"))
    }

    @Test func durationArithmeticOverflowIsAnError() {
        #expect(errorMessage("duration('9223372036854775807ns') + duration('1ns')")?.contains("range") == true)
        #expect(errorMessage("duration('-9223372036854775808ns') - duration('1ns')")?.contains("range") == true)
        #expect(errorMessage("-duration('-9223372036854775808ns')")?.contains("range") == true)
        #expect(errorMessage("timestamp('9999-01-01T00:00:00Z') - duration('-9223372036854775808ns')")?.contains("range") == true)
        // Exact, not through negation: t - (most negative duration) is in range.
        #expect((try? value("timestamp('2000-01-01T00:00:00Z') - duration('-9223372036854775808ns')")) != nil)
    }

    /// Durations are parsed exactly (integer arithmetic to the nanosecond), with Go's `time.ParseDuration` syntax.
    @Test func durationParsing() throws {
        let good: [(String, String)] = [
            ("100000000.5s", "100000000.5s"), ("1.000000001s", "1.000000001s"), ("0.1h", "360s"), ("1.5h", "5400s"),
            (".5s", "0.5s"), ("5.s", "5s"), ("1h1m1s1ms1us1ns", "3661.001001001s"), ("1\u{00B5}s", "0.000001s"),
            ("1\u{03BC}s", "0.000001s"), ("0", "0s"), ("-0", "0s"), ("+5s", "5s"), ("-1.5s", "-1.5s"), ("2.9999999999s", "2.999999999s"),
            ("0.0000000019s", "0.000000001s"), ("1.23456789012345678901234h", "4444.444404444s"),
        ]
        for (text, printed) in good {
            #expect(try value("string(duration('\(text)'))") == .string(printed), "duration('\(text)')")
        }
        let malformed = ["1", "s", ".s", "1x", "", "-", "1s2", "--1s", "1 s", "1.2.3s", "1e3s", "\u{0661}s"]
        for text in malformed {
            #expect(errorMessage("duration('\(text)')")?.contains("not a duration") == true, "duration('\(text)')")
        }
        let outOfRange = [
            "9223372036854775808ns", "-9223372036854775809ns", "-9223372036854775808ms", "100000000000.5s", "2562048h",
            "99999999999999999999999ns", "9223372036s854775808ns",
        ]
        for text in outOfRange {
            #expect(errorMessage("duration('\(text)')")?.contains("out of range") == true, "duration('\(text)')")
        }
    }

    @Test func timestampParsing() {
        // Leap seconds were silently turned into :59; Go's time.Parse (cel-go) rejects them.
        #expect(errorMessage("timestamp('2016-12-31T23:59:60Z')") != nil)
        #expect(errorMessage("timestamp('2020-01-01T00:00:00+24:00')") != nil)
        #expect(errorMessage("timestamp('2020-01-01T00:00:00+01:60')") != nil)
        #expect(errorMessage("timestamp('0001-01-01T00:00:00+00:01')")?.contains("range") == true)
        #expect((try? value("timestamp('9999-12-31T23:59:59-00:00')")) != nil)
    }

    /// The public initializers normalize without trapping on any input (they saturate at the ends of Int64).
    @Test func initializersNeverTrap() {
        let t = CELTimestamp(seconds: Int64.min, nanos: -1)
        #expect(t.seconds == Int64.min && t.nanos == 999_999_999)
        #expect(CELTimestamp(seconds: Int64.max, nanos: Int32.max).seconds == Int64.max)
        #expect(CELDuration(seconds: Int64.max, nanos: Int32.max).seconds == Int64.max)
        #expect(CELDuration(seconds: Int64.min, nanos: Int32.min).seconds == Int64.min)
        #expect(!CELDuration(seconds: Int64.min).isInRange)
        #expect(CELDuration(seconds: Int64.min).secondsString == "-9223372036854775808s")
        #expect(CELDuration(seconds: Int64.min, nanos: -5).secondsString == "-9223372036854775808.000000005s")
        #expect(CELDuration.max.totalNanos == Int64.max && CELDuration.min.totalNanos == Int64.min)
        // Host values outside CEL's range: arithmetic on them is an error, printing them is not a crash.
        let program = try? CELEnvironment(variables: ["t", "d"]).compile("[string(t), string(d)] + [string(t + d)]")
        let r = program?.evaluate(["t": .timestamp(CELTimestamp(seconds: Int64.max)), "d": .duration(CELDuration(seconds: Int64.min))])
        guard case .failure(let e)? = r else {
            Issue.record("expected a range error")
            return
        }
        #expect(e.message.contains("range"))
    }
}

@Suite struct ConversionAndStringRegressionTests {
    /// Wrong answers a hostile-input probe found; each was a value and is now what cel-go gives.
    @Test func probeFindings() throws {
        #expect(errorMessage("duration('9223372036854775808ns') == duration('0s')")?.contains("out of range") == true)
        #expect(errorMessage("duration('-9223372036854775808ms')")?.contains("out of range") == true)
        #expect(errorMessage("duration('100000000000.5s')")?.contains("out of range") == true)
        #expect(try value("duration('100000000.5s') == duration('100000000s') + duration('500ms')") == .bool(true))
        #expect(errorMessage("uint(-0.5)")?.contains("range") == true)
        #expect(try value("'abc'.replace('', 'x')") == .string("xaxbxcx"))
    }

    /// A double literal too large for a double was silently infinity; cel-go rejects it when parsing.
    @Test func doubleLiteralsOutOfRange() throws {
        #expect(throws: CELSourceError.self) { try CELEnvironment().compile("1e400") }
        #expect(throws: CELSourceError.self) { try CELEnvironment().compile("-1e400 < 0.0") }
        #expect(try value("1.7976931348623157e308 > 1.0") == .bool(true))
        #expect(try value("5e-324 > 0.0") == .bool(true))
    }

    @Test func doubleToIntegerConversions() throws {
        #expect(errorMessage("uint(-0.5)") != nil)
        #expect(errorMessage("uint(-1.0)") != nil)
        #expect(try value("uint(-0.0)") == .uint(0))
        #expect(try value("uint(0.9)") == .uint(0))
        #expect(try value("uint(18446744073709549568.0)") == .uint(18_446_744_073_709_549_568))
        #expect(errorMessage("uint(18446744073709551616.0)") != nil)
        #expect(try value("int(-0.5)") == .int(0))
        #expect(try value("int(-9223372036854774784.0)") == .int(-9_223_372_036_854_774_784))
        #expect(errorMessage("int(-9223372036854775808.0)") != nil)  // (minInt, maxInt) non-inclusive, as langdef says
        #expect(errorMessage("int(9223372036854775807.0)") != nil)  // that double is 2^63
        for bad in ["double('NaN')", "double('inf')", "-double('inf')"] {
            #expect(errorMessage("int(\(bad))") != nil)
            #expect(errorMessage("uint(\(bad))") != nil)
        }
    }

    @Test func stringToNumberConversions() throws {
        #expect(try value("int('+5')") == .int(5))
        #expect(try value("int('-9223372036854775808')") == .int(Int64.min))
        #expect(errorMessage("int('9223372036854775808')")?.contains("range") == true)
        #expect(errorMessage("int('1_000')")?.contains("conversion") == true)
        #expect(errorMessage("uint('+1')") != nil)  // Go's ParseUint takes no sign
        #expect(errorMessage("uint('-0')") != nil)
        #expect(errorMessage("uint('18446744073709551616')")?.contains("range") == true)
        #expect(try value("uint('18446744073709551615')") == .uint(UInt64.max))
        #expect(errorMessage("double('1e400')")?.contains("range") == true)
        #expect(errorMessage("double('-1e400')")?.contains("range") == true)
        #expect(try value("double('1e-400')") == .double(0))
        #expect(try value("double('-Infinity') < 0.0 && double('inf') > 0.0") == .bool(true))
        #expect(try value("math.isNaN(double('nan'))") == .bool(true))
        #expect(try value("double('0x1p3')") == .double(8))
        #expect(errorMessage("double(' 1')") != nil)
        #expect(errorMessage("double('1 ')") != nil)
        #expect(errorMessage("double('')") != nil)
    }

    /// `replace` and `split` follow Go's strings.Replace / strings.SplitN (what cel-go's strings extension calls).
    @Test func replaceAndSplit() throws {
        let cases: [(String, CELValue)] = [
            ("'abc'.replace('', 'x')", .string("xaxbxcx")),
            ("'abc'.replace('', 'x', 2)", .string("xaxbc")),
            ("'abc'.replace('', 'x', 4)", .string("xaxbxcx")),
            ("'abc'.replace('', 'x', 100)", .string("xaxbxcx")),
            ("'abc'.replace('', 'x', 0)", .string("abc")),
            ("''.replace('', 'x')", .string("x")),
            ("'ñañ'.replace('', '-')", .string("-ñ-a-ñ-")),
            ("'aaa'.replace('a', 'bb', 2)", .string("bbbba")),
            ("'aaaa'.replace('aa', 'b')", .string("bb")),
            ("'abc'.replace('b', '', -5)", .string("ac")),
            ("'abc'.replace('x', 'y')", .string("abc")),
            ("'a,b,,c'.split(',')", .list([.string("a"), .string("b"), .string(""), .string("c")])),
            ("'a,b,c'.split(',', 2)", .list([.string("a"), .string("b,c")])),
            ("'a,b,c'.split(',', -1)", .list([.string("a"), .string("b"), .string("c")])),
            ("'a,b,c'.split(',', 0)", .list([])),
            ("''.split(',')", .list([.string("")])),
            ("'abc'.split('', 2)", .list([.string("a"), .string("bc")])),
            ("'a--b--'.split('--')", .list([.string("a"), .string("b"), .string("")])),
            ("'aaaa'.indexOf('aa', 1)", .int(1)),
            ("'aaaa'.lastIndexOf('aa')", .int(2)),
            ("'aaaa'.lastIndexOf('aa', 1)", .int(1)),
            ("'abcabc'.lastIndexOf('abc', 2)", .int(0)),
            ("'abcabc'.lastIndexOf('abc', 3)", .int(3)),
            ("'😀a😀a'.indexOf('a', 2)", .int(3)),
            ("'😀a😀a'.lastIndexOf('😀')", .int(2)),
            ("'ab'.lastIndexOf('abc')", .int(-1)),
            ("'aaaaaaaaab'.contains('aaab') && !'aaaaaaaaa'.contains('aab')", .bool(true)),
        ]
        for (expr, expected) in cases {
            #expect(try value(expr) == expected, "\(expr)")
        }
    }

    /// Extreme values through every conversion, arithmetic and string function: each gives a value or an error,
    /// none traps (a trap would end the test process).
    @Test func extremeValuesNeverTrap() throws {
        let values: [String] = [
            "0", "-0", "1", "-1", "9223372036854775807", "-9223372036854775808", "18446744073709551615u", "0u",
            "0.0", "-0.0", "0.5", "-0.5", "1e308", "-1e308", "5e-324", "9223372036854775807.0", "-9223372036854775808.0",
            "18446744073709551616.0", "double('NaN')", "double('inf')", "-double('inf')",
            "''", "'-'", "'+'", "'9223372036854775808'", "'-9223372036854775809'", "'18446744073709551616'", "'1e400'", "'nan'",
            "'0x1p99999'", "'9999-12-31T23:59:59.999999999Z'", "'0000-01-01T00:00:00Z'", "'10000-01-01T00:00:00Z'",
            "'2020-02-30T00:00:00Z'", "'2020-01-01T00:00:00+99:99'", "'9999-12-31T23:59:59.9999999999999999999Z'",
            "'9223372036854775807ns'", "'-9223372036854775808ns'", "'9223372036854775808ns'", "'2562047h47m16.854775807s'",
            "'1.99999999999999999999999999h'", "'99999999999999999999h'", "'.'", "'0.'", "'t'", "'\\u00ff'",
            "b'\\xff'", "b''", "true", "null", "[]", "{}",
            "timestamp('9999-12-31T23:59:59.999999999Z')", "timestamp('0001-01-01T00:00:00Z')",
            "duration('9223372036854775807ns')", "duration('-9223372036854775808ns')",
        ]
        let conversions = ["int", "uint", "double", "string", "bytes", "bool", "timestamp", "duration", "dyn", "type"]
        let env = CELEnvironment(variables: ["x", "y"], variableTypes: [:], checking: false)
        var evaluated = 0
        var programs: [String: CELProgram?] = [:]
        func attempt(_ source: String, _ vars: [String: CELValue] = [:]) {
            if programs[source] == nil { programs[source] = .some(try? env.compile(source)) }
            guard let program = programs[source] ?? nil else { return }
            _ = program.evaluate(vars)
            evaluated += 1
        }
        var literals: [CELValue] = []
        for v in values {
            for f in conversions { attempt("\(f)(\(v))") }
            if case .success(let value) = run(v) { literals.append(value) }
        }
        // Values a host may pass in, outside what CEL itself can produce.
        literals += [
            .timestamp(CELTimestamp(seconds: Int64.min)), .timestamp(CELTimestamp(seconds: Int64.max, nanos: 999_999_999)),
            .duration(CELDuration(seconds: Int64.min)), .duration(CELDuration(seconds: Int64.max, nanos: 999_999_999)),
            .duration(CELDuration(seconds: -9_223_372_036, nanos: -854_775_808)),
        ]
        let binary = [
            "x + y", "x - y", "x * y", "x / y", "x % y", "x < y", "x == y", "-x", "x in [y]", "[x][0] == y",
            "string(x)", "int(x)", "x.getFullYear()", "x.getDayOfYear('-23:59')", "x.getHours()", "x.getMilliseconds()",
        ]
        for x in literals {
            for y in literals {
                for e in binary { attempt(e, ["x": x, "y": y]) }
            }
        }
        let ints: [Int64] = [Int64.min, Int64.min + 1, -1, 0, 1, 2, Int64.max - 1, Int64.max]
        let functions = [
            "'héllo'.charAt(x)", "'héllo'.substring(x)", "'héllo'.substring(0, x)", "'héllo'.substring(x, y)",
            "'héllo'.indexOf('l', x)", "'héllo'.lastIndexOf('l', x)", "'a,b,c'.split(',', x)", "'abc'.replace('b', 'x', x)",
            "'abc'.replace('', 'x', x)", "lists.range(x)", "[1, 2, 3].slice(x, y)", "[[1], [2, [3]]].flatten(x)",
            "math.bitShiftLeft(1, x)", "math.bitShiftRight(x, y)", "math.abs(x)", "math.sign(x)", "'%d %x %o %b'.format([x, x, x, x])",
            "timestamp(x)", "duration(x)", "timestamp(x) + duration(y)", "duration(x) + duration(y)", "duration(x) - duration(y)",
            "-duration(x)", "timestamp(x) - timestamp(y)", "timestamp(0) + duration(x)", "timestamp(x).getFullYear('+23:59')",
            "timestamp(x).getDayOfWeek('-23:59')", "duration(x).getHours()", "duration(x).getMilliseconds()", "string(duration(x))",
            "int(timestamp(x))", "x + y", "x - y", "x * y", "x / y", "x % y", "-x", "double(x) * double(y)", "uint(x) + uint(y)",
            "int(double(x))", "uint(double(x))", "'%.3f'.format([double(x)])", "string(double(x) / double(y))",
        ]
        for f in functions {
            for x in ints {
                for y in ints { attempt(f, ["x": .int(x), "y": .int(y)]) }
            }
        }
        #expect(evaluated > 10_000)
    }
}
