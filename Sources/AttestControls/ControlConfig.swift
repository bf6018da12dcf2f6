package import AttestCollect
public import AttestCore
public import Foundation

/// The `controls:` part of attest's config file: controls to skip, parameter overrides and
/// extra control directories. Mistakes name the file and line.
public struct ControlConfig: Sendable {
    public var disabled: [String] = []
    public var parameters: [String: [String: JSONValue]] = [:]
    /// Relative directories are resolved against the config file's folder.
    public var directories: [URL] = []
    /// Control id → `enforcement:` (and `enforce_from:`) set in config, over the control's own.
    public var enforcement: [String: Enforcement] = [:]
    public var file: String?
    var lines: [String: Int] = [:]

    public init() {}

    public init(file: String) throws {
        let text: String
        do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
            throw SpecError(file: file, line: 1, message: "cannot read the config file: \(error.localizedDescription)")
        }
        try self.init(text: text, file: file)
    }

    public init(text: String, file: String) throws {
        let root = try SpecLoader.parse(text, file: file)
        try self.init(section: try root.map(nil).node("controls"), file: file)
    }

    /// Reads the `controls:` section of a config file (nil: the section is absent).
    package init(section: YAMLNode?, file: String) throws {
        self.file = file
        guard let controls = try section?.map(["disabled", "parameters", "directories", "enforcement"]) else { return }
        if let entries = try controls.optionalMap("enforcement", allowed: nil) {
            for (id, node) in entries.entries {
                lines["enforcement:" + id] = node.line
                let m = try node.map(["enforcement", "enforce_from"])
                guard
                    let e = try Enforcement.parse(mode: m.node("enforcement"), from: m.node("enforce_from"), parent: node)
                else { throw node.error("controls.enforcement.\(id) needs enforcement: warn or enforce") }
                enforcement[id] = e
            }
        }
        for item in try controls.node("disabled")?.sequence() ?? [] {
            disabled.append(try item.string())
            lines["disabled:" + disabled.last!] = item.line
        }
        if let params = try controls.optionalMap("parameters", allowed: nil) {
            for (id, node) in params.entries {
                lines["parameters:" + id] = node.line
                var values: [String: JSONValue] = [:]
                for (name, value) in try node.map(nil).entries {
                    values[name] = try value.json()
                    lines["parameters:\(id).\(name)"] = value.line
                }
                parameters[id] = values
            }
        }
        let base = URL(fileURLWithPath: file).deletingLastPathComponent()
        for item in try controls.node("directories")?.sequence() ?? [] {
            let path = try item.string()
            directories.append(path.hasPrefix("/") ? URL(fileURLWithPath: path) : base.appendingPathComponent(path))
        }
    }

    /// Applies the config to the loaded controls: drops disabled ones and checks that every
    /// override names an existing control and parameter, with a value of the same kind.
    public func apply(to controls: [Control]) throws -> [Control] {
        let byID = Dictionary(uniqueKeysWithValues: controls.map { ($0.id, $0) })
        let file = self.file ?? "config"
        for id in disabled where byID[id] == nil {
            throw SpecError(file: file, line: lines["disabled:" + id] ?? 1, message: "controls.disabled: unknown control \(id)")
        }
        for (id, values) in parameters {
            guard let control = byID[id] else {
                throw SpecError(file: file, line: lines["parameters:" + id] ?? 1, message: "controls.parameters: unknown control \(id)")
            }
            for (name, value) in values {
                let line = lines["parameters:\(id).\(name)"] ?? 1
                guard let current = control.parameters[name] else {
                    let known = control.parameters.keys.sorted().joined(separator: ", ")
                    throw SpecError(
                        file: file, line: line,
                        message: "controls.parameters: \(id) has no parameter \(name)" + (known.isEmpty ? "" : " (it has: \(known))"))
                }
                guard Self.sameKind(current, value) else {
                    throw SpecError(
                        file: file, line: line,
                        message:
                            "controls.parameters: \(id).\(name) must be a \(Self.kind(current)) like the default, not a \(Self.kind(value))"
                    )
                }
            }
        }
        for id in enforcement.keys.sorted() where byID[id] == nil {
            let near = EditDistance.nearest(to: id, in: byID.keys)
            throw SpecError(
                file: file, line: lines["enforcement:" + id] ?? 1,
                message: "controls.enforcement: unknown control \(id)" + (near.map { " (did you mean \($0)?)" } ?? ""))
        }
        let skip = Set(disabled)
        return controls.filter { !skip.contains($0.id) }.map { control in
            var control = control
            if let e = enforcement[control.id] { control.enforcement = e }
            return control
        }
    }

    static func kind(_ v: JSONValue) -> String {
        switch v {
        case .null: "null"
        case .bool: "bool"
        case .int, .double: "number"
        case .string: "string"
        case .array: "list"
        case .object: "map"
        }
    }

    static func sameKind(_ a: JSONValue, _ b: JSONValue) -> Bool { kind(a) == kind(b) || a.isNull }
}
