import Foundation
import Testing

@testable import AttestCEL

/// Runs the official CEL conformance vectors (../shared/vectors/cel/*.json from the repository root).
@Suite struct ConformanceTests {
    static let requiredPassRate = 0.98

    /// The vectors directory: from ATTEST_CEL_VECTORS, or found walking up from this file (also through symlinks).
    static func vectorsDirectory() -> URL? {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["ATTEST_CEL_VECTORS"], fm.fileExists(atPath: env) {
            return URL(fileURLWithPath: env)
        }
        let file = URL(fileURLWithPath: #filePath)
        var starts = [file.deletingLastPathComponent(), file.resolvingSymlinksInPath().deletingLastPathComponent()]
        // The test directory itself may be a symlink (scratch packages): resolve the directory too.
        starts.append(file.deletingLastPathComponent().resolvingSymlinksInPath())
        for start in starts {
            var dir = start
            for _ in 0..<8 {
                let candidate = dir.appendingPathComponent("../shared/vectors/cel").standardized
                if fm.fileExists(atPath: dir.appendingPathComponent("Package.swift").path), fm.fileExists(atPath: candidate.path) {
                    return candidate
                }
                dir = dir.deletingLastPathComponent()
            }
        }
        return nil
    }

    static func skipList() -> [String: String] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("conformance-skips.txt")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [:] }
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            if let colon = trimmed.range(of: ": ") {
                out[String(trimmed[..<colon.lowerBound])] = String(trimmed[colon.upperBound...])
            } else {
                out[trimmed] = ""
            }
        }
        return out
    }

    @Test func conformance() throws {
        guard let dir = Self.vectorsDirectory() else {
            Issue.record(
                "CEL conformance vectors not found (expected ../shared/vectors/cel from the repository root, or ATTEST_CEL_VECTORS)")
            return
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") }.sorted()
        #expect(!files.isEmpty, "no vector files in \(dir.path)")
        let skips = Self.skipList()
        var total = 0
        var passed = 0
        var unexpectedFailures: [String] = []
        var skippedButPassing: [String] = []
        var seen = Set<String>()
        for file in files {
            let data = try Data(contentsOf: dir.appendingPathComponent(file))
            guard let root = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { continue }
            let fileName = root["file"] as? String ?? String(file.dropLast(5))
            for section in root["sections"] as? [[String: Any]] ?? [] {
                let sectionName = section["name"] as? String ?? ""
                for test in section["tests"] as? [[String: Any]] ?? [] {
                    if test["needs_proto"] as? Bool == true { continue }
                    total += 1
                    let id = "\(fileName)/\(sectionName)/\(test["name"] as? String ?? "")"
                    seen.insert(id)
                    let outcome = ConformanceCase(test).run()
                    if outcome == nil {
                        passed += 1
                        if skips[id] != nil { skippedButPassing.append(id) }
                    } else if skips[id] == nil {
                        unexpectedFailures.append("\(id): \(outcome!)")
                    }
                }
            }
        }
        let notPassing = total - passed
        let rate = total == 0 ? 0 : Double(passed) / Double(total)
        print(
            "CEL conformance: \(passed)/\(total) passed (\(String(format: "%.2f", rate * 100))%), \(notPassing) not passing, \(skips.count) listed as skipped"
        )
        for f in unexpectedFailures { print("  FAIL \(f)") }
        for s in skippedButPassing { print("  listed as skipped but passes (remove it from conformance-skips.txt): \(s)") }
        for s in skips.keys.sorted() where !seen.contains(s) { print("  skip entry matches no case: \(s)") }
        #expect(total == 1406, "expected 1406 non-proto cases, found \(total)")
        #expect(
            unexpectedFailures.isEmpty, "\(unexpectedFailures.count) conformance cases fail and are not listed in conformance-skips.txt")
        #expect(rate >= Self.requiredPassRate, "pass rate \(rate) is below \(Self.requiredPassRate)")
    }
}

/// One conformance case: builds the environment, compiles, evaluates and compares.
struct ConformanceCase {
    let test: [String: Any]
    init(_ test: [String: Any]) { self.test = test }

    /// nil when the case passes, otherwise why not.
    func run() -> String? {
        let expr = test["expr"] as? String ?? ""
        let disableCheck = test["disable_check"] as? Bool ?? false
        let checkOnly = test["check_only"] as? Bool ?? false
        let expectsError = test["error"] != nil
        var declared: [String] = []
        var types: [String: CELType] = [:]
        var functions: [CELFunction] = []
        for decl in test["type_env"] as? [[String: Any]] ?? [] {
            let name = decl["name"] as? String ?? ""
            if let ident = decl["ident"] as? [String: Any] {
                declared.append(name)
                if let t = ident["type"] as? [String: Any], let type = decodeType(t) { types[name] = type }
            } else if let fn = decl["function"] as? [String: Any] {
                for overload in fn["overloads"] as? [[String: Any]] ?? [] {
                    let params = (overload["params"] as? [[String: Any]] ?? []).map { decodeType($0) ?? .dyn }
                    let result = (overload["result_type"] as? [String: Any]).flatMap(decodeType) ?? .dyn
                    let receiver = overload["is_instance_function"] as? Bool ?? false
                    functions.append(
                        CELFunction(name, signatures: [(params, result)], receiverStyle: receiver, globalStyle: !receiver) { _, _ in
                            throw CELError("no implementation for \(name)")
                        })
                }
            }
        }
        let environment = CELEnvironment(
            variables: disableCheck ? nil : declared, variableTypes: disableCheck ? [:] : types, functions: functions,
            container: test["container"] as? String, macros: !(test["disable_macros"] as? Bool ?? false), checking: !disableCheck)
        let program: CELProgram
        do {
            program = try environment.compile(expr)
        } catch {
            return expectsError ? nil : "compile error: \(error)"
        }
        if let expectedType = test["expected_type"] as? String, !disableCheck {
            let got = program.resultType?.description ?? "<none>"
            if got != expectedType { return "type \(got), expected \(expectedType)" }
        }
        if checkOnly { return nil }
        var bindings: [String: CELValue] = [:]
        for (name, value) in test["bindings"] as? [String: Any] ?? [:] {
            guard let v = decodeValue(value) else { return "cannot decode binding \(name)" }
            bindings[name] = v
        }
        switch program.evaluate(bindings) {
        case .failure(let error):
            return expectsError ? nil : "evaluation error: \(error.message)"
        case .success(let value):
            if expectsError { return "expected error '\(test["error"]!)', got \(value)" }
            if test["unknown"] != nil { return "unknown results are not supported" }
            guard let expected = decodeValue(test["expected"] ?? ["bool": true]) else { return "cannot decode expected value" }
            return strictEquals(value, expected) ? nil : "got \(value), expected \(expected)"
        }
    }
}

/// Equality that also requires the same kinds (int 1 ≠ uint 1 ≠ 1.0); NaN equals NaN; maps ignore order.
func strictEquals(_ a: CELValue, _ b: CELValue) -> Bool {
    switch (a, b) {
    case (.double(let x), .double(let y)): return (x.isNaN && y.isNaN) || (x == y && x.sign == y.sign) || x == y
    case (.list(let x), .list(let y)): return x.count == y.count && zip(x, y).allSatisfy(strictEquals)
    case (.map(let x), .map(let y)):
        guard x.count == y.count else { return false }
        for e in x.entries {
            guard let other = y.entries.first(where: { strictEquals($0.key, e.key) }), strictEquals(e.value, other.value) else {
                return false
            }
        }
        return true
    case (.type(let x), .type(let y)): return x.name == y.name
    case (.optional(let x), .optional(let y)):
        switch (x, y) {
        case (nil, nil): return true
        case (let x?, let y?): return strictEquals(x, y)
        default: return false
        }
    default:
        return a.celType.name == b.celType.name && celEquals(a, b)
    }
}

func decodeValue(_ any: Any) -> CELValue? {
    guard let obj = any as? [String: Any], let (key, v) = obj.first else { return nil }
    switch key {
    case "null": return .null
    case "bool": return (v as? Bool).map(CELValue.bool)
    case "int": return (v as? String).flatMap { Int64($0) }.map(CELValue.int)
    case "uint": return (v as? String).flatMap { UInt64($0) }.map(CELValue.uint)
    case "double":
        if let s = v as? String {
            switch s {
            case "NaN": return .double(.nan)
            case "Infinity": return .double(.infinity)
            case "-Infinity": return .double(-.infinity)
            default: return Double(s).map(CELValue.double)
            }
        }
        return (v as? NSNumber).map { .double($0.doubleValue) }
    case "string": return (v as? String).map(CELValue.string)
    case "bytes": return (v as? String).flatMap { Data(base64Encoded: $0) }.map { .bytes([UInt8]($0)) }
    case "list":
        guard let items = v as? [Any] else { return nil }
        var out: [CELValue] = []
        for item in items {
            guard let x = decodeValue(item) else { return nil }
            out.append(x)
        }
        return .list(out)
    case "map":
        guard let items = v as? [[String: Any]] else { return nil }
        var entries: [(key: CELValue, value: CELValue)] = []
        for item in items {
            guard let k = item["key"].flatMap(decodeValue), let x = item["value"].flatMap(decodeValue) else { return nil }
            entries.append((k, x))
        }
        return .map(CELMap(entries))
    case "type": return (v as? String).map { .type(CELType($0)) }
    case "timestamp": return (v as? String).flatMap { CELTimestamp(rfc3339: $0) }.map(CELValue.timestamp)
    case "duration":
        guard let s = v as? String, case .success(let d) = (try? CELEnvironment().compile("duration('\(s)')"))?.evaluate([:]) else {
            return nil
        }
        return d
    default: return nil
    }
}

/// A `cel.expr.Type` in protobuf JSON form.
func decodeType(_ obj: [String: Any]) -> CELType? {
    if let p = obj["primitive"] as? String {
        switch p {
        case "BOOL": return .bool
        case "INT64": return .int
        case "UINT64": return .uint
        case "DOUBLE": return .double
        case "STRING": return .string
        case "BYTES": return .bytes
        default: return nil
        }
    }
    if let w = obj["well_known"] as? String {
        switch w {
        case "TIMESTAMP": return .timestamp
        case "DURATION": return .duration
        default: return .dyn
        }
    }
    if let l = obj["list_type"] as? [String: Any] {
        return .list((l["elem_type"] as? [String: Any]).flatMap(decodeType) ?? .dyn)
    }
    if let m = obj["map_type"] as? [String: Any] {
        return .map(
            (m["key_type"] as? [String: Any]).flatMap(decodeType) ?? .dyn, (m["value_type"] as? [String: Any]).flatMap(decodeType) ?? .dyn)
    }
    if obj["dyn"] != nil { return .dyn }
    if obj.keys.contains("null") { return .null }
    if let p = obj["type_param"] as? String { return .typeParameter(p) }
    if let a = obj["abstract_type"] as? [String: Any] {
        let params = (a["parameter_types"] as? [[String: Any]] ?? []).map { decodeType($0) ?? .dyn }
        return CELType(a["name"] as? String ?? "", params)
    }
    if let t = obj["type"] as? [String: Any] { return CELType("type", [decodeType(t) ?? .dyn]) }
    return nil
}
