public import Foundation

/// Finds the `resource "TYPE" "NAME"` block of a planned resource in the Terraform sources
/// (`--tf-dir`), so results can point at a file and line: modules are found through
/// `.terraform/modules/modules.json` when `terraform init` wrote it, else through their local
/// `source` paths.
public struct SourceLocator: Sendable {
    public struct Location: Sendable, Hashable, Codable {
        /// The file, as a path under the directory given (what SARIF and reviewers see).
        public var file: String
        public var line: Int
    }

    let directory: String
    /// Module key (`net.sg`) → its directory relative to ``directory``.
    let moduleDirectories: [String: String]
    let plan: TerraformPlan

    public init(directory: String, plan: TerraformPlan) {
        self.directory = directory
        self.plan = plan
        var dirs: [String: String] = ["": "."]
        let manifest = URL(fileURLWithPath: directory).appendingPathComponent(".terraform/modules/modules.json")
        if let data = try? Data(contentsOf: manifest),
            let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let modules = json["Modules"] as? [[String: Any]]
        {
            for m in modules {
                if let key = m["Key"] as? String, let dir = m["Dir"] as? String { dirs[key] = dir }
            }
        }
        // Local sources not in the manifest, resolved against their caller's directory.
        func walk(_ module: ConfigurationModule, key: String, dir: String) {
            for (name, call) in module.calls {
                let childKey = key.isEmpty ? name : key + "." + name
                var childDir = dirs[childKey]
                if childDir == nil, call.source.hasPrefix("./") || call.source.hasPrefix("../") {
                    childDir =
                        (URL(fileURLWithPath: dir, relativeTo: URL(fileURLWithPath: "/base/"))
                        .appendingPathComponent(call.source).standardizedFileURL.path)
                        .replacingOccurrences(of: "/base/", with: "")
                    dirs[childKey] = childDir
                }
                if let childDir { walk(call.module, key: childKey, dir: childDir) }
            }
        }
        walk(plan.root, key: "", dir: ".")
        moduleDirectories = dirs
    }

    /// The block of `type.name` in the module at `modulePath`, if its sources are there.
    public func locate(type: String, name: String, modulePath: [String]) -> Location? {
        guard let relative = moduleDirectories[modulePath.joined(separator: ".")] else { return nil }
        let dir = URL(fileURLWithPath: directory).appendingPathComponent(relative).standardizedFileURL
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else { return nil }
        let pattern = "resource \"\(type)\" \"\(name)\""
        for file in files.sorted() where file.hasSuffix(".tf") {
            guard let text = try? String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8) else { continue }
            for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let collapsed = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
                if collapsed.hasPrefix(pattern) {
                    let path = relative == "." ? file : relative + "/" + file
                    return Location(file: Self.join(directory, path), line: index + 1)
                }
            }
        }
        return nil
    }

    static func join(_ directory: String, _ path: String) -> String {
        if directory == "." || directory.isEmpty { return path }
        return (directory.hasSuffix("/") ? directory : directory + "/") + path
    }
}
