import ArgumentParser
import AttestAWSProvider
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

    @Flag(
        help:
            "For organization scans (scan aws --org): the policy for the management account (or delegated administrator) and, for each member account, the role's policy and trust policy."
    )
    var org = false

    @Option(help: "With --org: the member accounts' role (default: OrganizationAccountAccessRole).")
    var roleName: String?

    @Option(help: "With --org: the account the scan runs from, trusted by the member accounts' role (default: a placeholder).")
    var managementAccount: String?

    @Option(help: "With --org: the external id the member accounts' role requires.")
    var externalId: String?

    func validate() throws {
        if !org, roleName != nil || managementAccount != nil || externalId != nil {
            throw ValidationError("--role-name, --management-account and --external-id need --org")
        }
        if let id = managementAccount, id.count != 12 || !id.allSatisfy(\.isNumber) {
            throw ValidationError("--management-account must be a 12-digit account id, not \(id)")
        }
    }

    func run() async throws {
        guard org else { return try Permissions.print("aws", services: services, providers: providers) }
        let spec = try ProviderLocator.load("aws", override: providers)
        let wanted = CommaList.parse(services)
        try Permissions.checkServices(wanted, spec: spec)
        Swift.print(
            AWSProvider.organizationPermissions(
                spec: spec, services: wanted, roleName: roleName ?? OrganizationScanOptions.defaultRoleName,
                managementAccount: managementAccount, externalId: externalId
            ).serialized(pretty: true))
    }
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
    static func checkServices(_ wanted: [String]?, spec: ProviderSpec) throws {
        guard let wanted else { return }
        let known = Set(spec.services.map(\.id))
        let unknown = wanted.filter { !known.contains($0) }
        if !unknown.isEmpty {
            throw ConfigurationError(
                "unknown service \(unknown.joined(separator: ", ")) (known: \(known.sorted().joined(separator: ", ")))")
        }
    }

    static func print(_ provider: String, services: String?, providers: String?) throws {
        let spec = try ProviderLocator.load(provider, override: providers)
        let wanted = CommaList.parse(services)
        try checkServices(wanted, spec: spec)
        guard let cloud = Providers.registry.provider(provider) else { throw ConfigurationError("unknown provider \(provider)") }
        Swift.print(cloud.permissions(spec: spec, services: wanted).serialized(pretty: true))
    }
}
