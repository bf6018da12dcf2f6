import Foundation

/// The AWS CLI's shared files, `~/.aws/credentials` and `~/.aws/config` (or the paths in
/// `AWS_SHARED_CREDENTIALS_FILE` and `AWS_CONFIG_FILE`), merged per profile.
public struct SharedConfigFiles: Sendable {
    /// Profile name → key → value. Credentials-file keys win over config-file keys.
    public var profiles: [String: [String: String]]
    /// Where each profile's keys came from, for error messages.
    public var origins: [String: String]

    public init(profiles: [String: [String: String]], origins: [String: String] = [:]) {
        self.profiles = profiles
        self.origins = origins
    }

    public static func load(environment: [String: String]) throws -> SharedConfigFiles {
        let home = environment["HOME"] ?? NSHomeDirectory()
        let credentialsPath = environment["AWS_SHARED_CREDENTIALS_FILE"] ?? "\(home)/.aws/credentials"
        let configPath = environment["AWS_CONFIG_FILE"] ?? "\(home)/.aws/config"
        var profiles: [String: [String: String]] = [:]
        var origins: [String: String] = [:]
        if let text = try? String(contentsOfFile: expand(configPath, home: home), encoding: .utf8) {
            for (section, keys) in try INIParser.parse(text, file: configPath) {
                let name: String
                if section == "default" {
                    name = "default"
                } else if section.hasPrefix("profile ") {
                    name = String(section.dropFirst(8)).trimmingCharacters(in: .whitespaces)
                } else {
                    continue
                }  // sso-session, services: not profiles
                profiles[name, default: [:]].merge(keys) { _, new in new }
                origins[name] = configPath
            }
        }
        if let text = try? String(contentsOfFile: expand(credentialsPath, home: home), encoding: .utf8) {
            for (section, keys) in try INIParser.parse(text, file: credentialsPath) {
                profiles[section, default: [:]].merge(keys) { _, new in new }
                origins[section] = credentialsPath
            }
        }
        return SharedConfigFiles(profiles: profiles, origins: origins)
    }

    static func expand(_ path: String, home: String) -> String {
        path.hasPrefix("~/") ? home + path.dropFirst(1) : path
    }
}

/// A minimal INI reader as the AWS CLI understands it: `[section]`, `key = value`, `#`/`;`
/// comments, and indented sub-keys under a key with no value (kept as `parent.sub`).
enum INIParser {
    struct SyntaxError: Error, CustomStringConvertible {
        var description: String
    }

    static func parse(_ text: String, file: String) throws -> [(String, [String: String])] {
        var sections: [(String, [String: String])] = []
        var current: String?
        var keys: [String: String] = [:]
        var parentKey: String?
        for (index, rawLine) in text.components(separatedBy: .newlines).enumerated() {
            let trimmed = rawLine.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed.hasPrefix(";") { continue }
            if trimmed.hasPrefix("[") {
                guard trimmed.hasSuffix("]") else {
                    throw SyntaxError(description: "\(file):\(index + 1): section header without ']'")
                }
                if let current { sections.append((current, keys)) }
                current = String(trimmed.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                keys = [:]
                parentKey = nil
                continue
            }
            guard current != nil else {
                throw SyntaxError(description: "\(file):\(index + 1): key outside any [section]")
            }
            guard let eq = trimmed.firstIndex(of: "=") else {
                throw SyntaxError(description: "\(file):\(index + 1): expected 'key = value'")
            }
            let key = trimmed[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            let value = trimmed[trimmed.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            let indented = rawLine.first == " " || rawLine.first == "\t"
            if indented, let parentKey {
                keys["\(parentKey).\(key)"] = value
            } else {
                keys[key] = value
                parentKey = value.isEmpty ? key : nil
            }
        }
        if let current { sections.append((current, keys)) }
        return sections
    }
}
