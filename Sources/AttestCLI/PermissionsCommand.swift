import ArgumentParser
import AttestCollect
import AttestCore
import Foundation

struct PermissionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "permissions", abstract: "Print the least-privilege policy a scan needs.",
        subcommands: [PermissionsAWSCommand.self])
}

struct PermissionsAWSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aws",
        abstract: "The IAM policy granting every action an AWS scan calls, and nothing else.")

    @Option(help: "Comma-separated services (default: all).")
    var services: String?

    @Option(help: "Directory holding the provider specs.")
    var providers: String?

    func run() async throws {
        let spec = try ProviderLocator.load("aws", override: providers)
        let wanted = services?.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        if let wanted {
            let known = Set(spec.services.map(\.id))
            let unknown = wanted.filter { !known.contains($0) }
            if !unknown.isEmpty { throw ConfigurationError("unknown service \(unknown.joined(separator: ", "))") }
        }
        let actions = AWSScanner.permissions(spec: spec, services: wanted)
        let policy: JSONValue = [
            "Version": "2012-10-17",
            "Statement": [[
                "Sid": "AttestReadOnlyScan", "Effect": "Allow", "Resource": "*",
                "Action": .array(actions.map(JSONValue.string)),
            ]],
        ]
        print(policy.serialized(pretty: true))
    }
}
