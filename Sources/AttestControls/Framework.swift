import AttestCollect
import AttestCore
public import Foundation

/// A compliance framework's catalogue: every requirement, and (derived from the controls'
/// `frameworks:` keys) the controls that evidence each.
public struct Framework: Sendable, Identifiable {
    public struct Requirement: Sendable, Identifiable {
        public var id: String
        public var title: String
        public var group: String?
        public var appliesTo: String?
        public var note: String?
        /// The ids of the controls that name this requirement in their `frameworks:` key, in id order.
        public var controls: [String]
        /// No control evidences it: an auditor checks it by hand.
        public var isManual: Bool { controls.isEmpty }
    }

    public var id: String
    public var name: String
    public var title: String
    public var publisher: String?
    public var version: String?
    public var source: String?
    public var requirements: [Requirement]
    public var file: String

    public func requirement(_ id: String) -> Requirement? {
        requirements.first { $0.id.caseInsensitiveCompare(id) == .orderedSame }
    }
}

/// The framework catalogues together with the controls that can be evaluated, mapped both ways.
public struct FrameworkSet: Sendable {
    public private(set) var frameworks: [Framework]
    /// Control id → framework id → requirement ids.
    public private(set) var mappings: [String: [String: [String]]] = [:]

    /// Loads the catalogues in `<directory>/*.yaml` (requirements only) and maps each control to
    /// the requirements its `frameworks:` key names. A control naming an unknown framework or
    /// requirement is an error with the control's file and line.
    public init(directory: URL, controls: [Control]) throws {
        var frameworks: [Framework] = []
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        for name in files {
            let path = directory.appendingPathComponent(name).path
            let text = try String(contentsOfFile: path, encoding: .utf8)
            frameworks.append(try Self.load(text: text, file: path))
        }
        // The frameworks attest ships come first in a fixed order; others follow by id.
        let order = ["soc2", "iso27001", "nis2", "dora"]
        frameworks.sort { a, b in
            let (i, j) = (order.firstIndex(of: a.id) ?? order.count, order.firstIndex(of: b.id) ?? order.count)
            return i != j ? i < j : a.id < b.id
        }
        for control in controls.sorted(by: { $0.id < $1.id }) {
            for (frameworkID, requirementIDs) in control.frameworks.sorted(by: { $0.key < $1.key }) {
                let line = control.frameworkLines[frameworkID] ?? 1
                guard let f = frameworks.firstIndex(where: { $0.id == frameworkID }) else {
                    throw SpecError(
                        file: control.file, line: line,
                        message: "frameworks: unknown framework \(frameworkID) (known: \(frameworks.map(\.id).joined(separator: ", ")))")
                }
                for requirementID in requirementIDs {
                    guard
                        let r = frameworks[f].requirements.firstIndex(where: { $0.id.caseInsensitiveCompare(requirementID) == .orderedSame }
                        )
                    else {
                        throw SpecError(
                            file: control.file, line: line, message: "frameworks: \(frameworkID) has no requirement \(requirementID)")
                    }
                    if !frameworks[f].requirements[r].controls.contains(control.id) {
                        frameworks[f].requirements[r].controls.append(control.id)
                    }
                }
            }
        }
        self.frameworks = frameworks
        for framework in frameworks {
            for requirement in framework.requirements {
                for control in requirement.controls {
                    mappings[control, default: [:]][framework.id, default: []].append(requirement.id)
                }
            }
        }
    }

    public func framework(_ id: String) -> Framework? { frameworks.first { $0.id == id } }

    /// The requirements a control evidences, as `framework:requirement` pairs in catalogue order.
    public func requirements(of controlID: String, frameworks only: Set<String>? = nil) -> [(framework: String, requirement: String)] {
        frameworks.filter { only?.contains($0.id) ?? true }.flatMap { f in
            (mappings[controlID]?[f.id] ?? []).map { (f.id, $0) }
        }
    }

    /// Drops controls that will not run (disabled in config) from every requirement; a
    /// requirement left with none becomes manual.
    public func keeping(controls ids: Set<String>) -> FrameworkSet {
        var copy = self
        for f in copy.frameworks.indices {
            for r in copy.frameworks[f].requirements.indices {
                copy.frameworks[f].requirements[r].controls.removeAll { !ids.contains($0) }
            }
        }
        copy.mappings = mappings.filter { ids.contains($0.key) }
        return copy
    }

    /// Keeps only the given frameworks.
    public func limited(to ids: Set<String>) -> FrameworkSet {
        var copy = self
        copy.frameworks = frameworks.filter { ids.contains($0.id) }
        return copy
    }

    static func load(text: String, file: String) throws -> Framework {
        let root = try SpecLoader.parse(text, file: file)
        let map = try root.map(["id", "name", "title", "publisher", "version", "source", "requirements"])
        guard let list = map.node("requirements") else { throw root.error("missing required key requirements") }
        var requirements: [Framework.Requirement] = []
        var seen: Set<String> = []
        for item in try list.sequence() {
            if let controls = try item.map(nil).node("controls") {
                throw controls.error(
                    "a catalogue lists requirements only: name the requirement in each control's frameworks: key instead (docs/frameworks.md)"
                )
            }
            let r = try item.map(["id", "title", "group", "applies_to", "note"])
            let id = try r.string("id")
            guard seen.insert(id.lowercased()).inserted else { throw item.error("requirement \(id) is listed twice") }
            requirements.append(
                .init(
                    id: id, title: try r.string("title"), group: try r.optionalString("group"),
                    appliesTo: try r.optionalString("applies_to"), note: try r.optionalString("note"),
                    controls: []))
        }
        return Framework(
            id: try map.string("id"), name: try map.string("name"), title: try map.string("title"),
            publisher: try map.optionalString("publisher"), version: try map.optionalString("version"),
            source: try map.optionalString("source"), requirements: requirements, file: file)
    }
}
