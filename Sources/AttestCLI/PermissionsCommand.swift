import ArgumentParser
import AttestCollect
import AttestCore
import AttestScan
import Foundation

struct PermissionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "permissions", abstract: "Print the least-privilege policy a scan needs.",
        subcommands: [PermissionsAWSCommand.self, PermissionsAzureCommand.self, PermissionsGCPCommand.self])
}

struct PermissionsAWSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aws",
        abstract: "The IAM policy granting every action an AWS scan calls, and nothing else.")

    @Option(help: "Comma-separated services (default: all).")
    var services: String?

    @Option(help: "Directory holding the provider specs.")
    var providers: String?

    func run() async throws { try Permissions.print("aws", services: services, providers: providers) }
}

struct PermissionsAzureCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "azure",
        abstract: "A custom Azure role definition granting every action an Azure scan calls, and nothing else.",
        discussion:
            "Create it with az role definition create --role-definition @role.json (replace {subscriptionId}), or assign the built-in Reader role, which covers every action listed."
    )

    @Option(help: "Comma-separated services (default: all).")
    var services: String?

    @Option(help: "Directory holding the provider specs.")
    var providers: String?

    func run() async throws { try Permissions.print("azure", services: services, providers: providers) }
}

struct PermissionsGCPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gcp",
        abstract: "A custom Google Cloud IAM role granting every permission a Google Cloud scan calls, and nothing else.",
        discussion:
            "Create it with gcloud iam roles create attestScanner --project <project> --file role.json (or --organization), or grant the predefined roles/viewer and roles/iam.securityReviewer, which cover every permission listed."
    )

    @Option(help: "Comma-separated services (default: all).")
    var services: String?

    @Option(help: "Directory holding the provider specs.")
    var providers: String?

    func run() async throws { try Permissions.print("gcp", services: services, providers: providers) }
}

/// A provider's permissions document for a scan of some services.
enum Permissions {
    static func print(_ provider: String, services: String?, providers: String?) throws {
        let spec = try ProviderLocator.load(provider, override: providers)
        let wanted = CommaList.parse(services)
        if let wanted {
            let known = Set(spec.services.map(\.id))
            let unknown = wanted.filter { !known.contains($0) }
            if !unknown.isEmpty {
                throw ConfigurationError(
                    "unknown service \(unknown.joined(separator: ", ")) (known: \(known.sorted().joined(separator: ", ")))")
            }
        }
        guard let cloud = Providers.registry.provider(provider) else { throw ConfigurationError("unknown provider \(provider)") }
        Swift.print(cloud.permissions(spec: spec, services: wanted).serialized(pretty: true))
    }
}
