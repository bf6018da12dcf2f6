import AttestCore
public import AttestHTTP
import Foundation

/// Finds credentials the way the AWS CLI does, with the same environment variables and files:
///
/// 1. `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`
/// 2. web identity: `AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE` (+ `AWS_ROLE_SESSION_NAME`)
/// 3. the profile `AWS_PROFILE` (or `default`) in `~/.aws/credentials` and `~/.aws/config`: static
///    keys, `role_arn` with `source_profile` or `credential_source` (and `external_id`),
///    `web_identity_token_file`, `credential_process`
/// 4. container credentials (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` / `..._FULL_URI`)
/// 5. EC2 instance metadata (IMDSv2), unless `AWS_EC2_METADATA_DISABLED=true`
///
/// An explicit profile (`--profile`) uses that profile only. The first source that is
/// configured is used; if it then fails, the scan fails with its reason rather than silently
/// using another identity.
public struct AWSCredentialChain: Sendable {
    public var environment: [String: String]
    public var explicitProfile: String?
    public var files: SharedConfigFiles
    /// Region for STS calls made while resolving (assume role, web identity).
    public var region: String
    let transport: any HTTPTransport
    let makeClient: @Sendable (any AWSCredentialProvider) -> AWSClient

    public init(
        environment: [String: String], explicitProfile: String?, files: SharedConfigFiles, region: String,
        transport: any HTTPTransport, makeClient: @escaping @Sendable (any AWSCredentialProvider) -> AWSClient
    ) {
        self.environment = environment
        self.explicitProfile = explicitProfile
        self.files = files
        self.region = region
        self.transport = transport
        self.makeClient = makeClient
    }

    /// The profile in effect: `--profile`, else `AWS_PROFILE`, else `default`.
    public var profileName: String { Self.profileName(environment: environment, explicitProfile: explicitProfile) }

    public static func profileName(environment: [String: String], explicitProfile: String?) -> String {
        explicitProfile ?? nonEmpty(environment["AWS_PROFILE"]) ?? nonEmpty(environment["AWS_DEFAULT_PROFILE"]) ?? "default"
    }

    /// The resolved provider, wrapped so that temporary credentials refresh before they expire.
    public func resolve() async throws -> any AWSCredentialProvider {
        RefreshingCredentialProvider(try await resolveBase())
    }

    func resolveBase() async throws -> any AWSCredentialProvider {
        if let explicitProfile { return try profileProvider(explicitProfile, visited: []) }
        if let env = try environmentCredentials() { return StaticCredentialProvider(env) }
        if let roleArn = nonEmpty(environment["AWS_ROLE_ARN"]), let tokenFile = nonEmpty(environment["AWS_WEB_IDENTITY_TOKEN_FILE"]) {
            return WebIdentityCredentialProvider(
                roleArn: roleArn, tokenFile: tokenFile, sessionName: nonEmpty(environment["AWS_ROLE_SESSION_NAME"]),
                region: region, client: makeClient(StaticCredentialProvider(.anonymous)))
        }
        let name = profileName
        if files.profiles[name] != nil, Self.hasCredentialKeys(files.profiles[name]!) {
            return try profileProvider(name, visited: [])
        }
        if environment["AWS_PROFILE"] != nil, files.profiles[name] == nil {
            throw CredentialError("profile \(name) (from AWS_PROFILE) not found in the AWS credentials or config file")
        }
        if let container = try containerProvider() { return container }
        if ["true", "1"].contains(environment["AWS_EC2_METADATA_DISABLED"]?.lowercased() ?? "") == false {
            let imds = InstanceMetadataCredentialProvider(
                endpoint: nonEmpty(environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"]) ?? "http://169.254.169.254",
                transport: transport, timeout: metadataTimeout ?? .seconds(2))
            if let creds = try? await imds.credentials() {
                return RefreshingSeed(first: creds, base: imds)
            }
        }
        throw CredentialError(
            "no AWS credentials found: tried environment variables, web identity, profile \(name) in the shared files, container credentials and instance metadata"
        )
    }

    func environmentCredentials() throws -> AWSCredentials? {
        let key = nonEmpty(environment["AWS_ACCESS_KEY_ID"])
        let secret = nonEmpty(environment["AWS_SECRET_ACCESS_KEY"])
        switch (key, secret) {
        case (nil, nil): return nil
        case (.some(let k), .some(let s)):
            return AWSCredentials(
                accessKeyId: k, secretAccessKey: s, sessionToken: nonEmpty(environment["AWS_SESSION_TOKEN"]), source: "environment")
        default:
            throw CredentialError("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together")
        }
    }

    func containerProvider() throws -> (any AWSCredentialProvider)? {
        guard let url = try ContainerCredentialProvider.url(from: environment) else { return nil }
        return ContainerCredentialProvider(
            url: url, tokenFile: nonEmpty(environment["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"]),
            token: nonEmpty(environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"]), transport: transport,
            timeout: metadataTimeout ?? .seconds(5))
    }

    /// `AWS_METADATA_SERVICE_TIMEOUT`: seconds to wait for instance metadata and the container
    /// endpoint, as in the AWS SDKs (botocore's variable); a value that is not a positive number
    /// up to an hour is ignored.
    public var metadataTimeout: Duration? {
        guard let text = nonEmpty(environment["AWS_METADATA_SERVICE_TIMEOUT"]), let seconds = Double(text),
            seconds > 0, seconds <= 3600
        else { return nil }
        return .milliseconds(Int64(seconds * 1000))
    }

    static func hasCredentialKeys(_ p: [String: String]) -> Bool {
        ["aws_access_key_id", "role_arn", "credential_process", "web_identity_token_file", "sso_start_url", "sso_session"].contains {
            p[$0] != nil
        }
    }

    func profileProvider(_ name: String, visited: [String]) throws -> any AWSCredentialProvider {
        guard let p = files.profiles[name] else {
            throw CredentialError("profile \(name) not found in the AWS credentials or config file")
        }
        let region = nonEmpty(p["region"]) ?? self.region
        if let roleArn = nonEmpty(p["role_arn"]) {
            if let tokenFile = nonEmpty(p["web_identity_token_file"]) {
                return WebIdentityCredentialProvider(
                    roleArn: roleArn, tokenFile: tokenFile, sessionName: nonEmpty(p["role_session_name"]),
                    region: region, client: makeClient(StaticCredentialProvider(.anonymous)))
            }
            if nonEmpty(p["mfa_serial"]) != nil {
                throw CredentialError(
                    "profile \(name): role_arn with mfa_serial needs an interactive MFA code, which a scanner cannot ask for; use credential_process or export temporary credentials"
                )
            }
            let source: any AWSCredentialProvider
            if let sourceProfile = nonEmpty(p["source_profile"]) {
                if visited.contains(sourceProfile) || (sourceProfile == name && p["aws_access_key_id"] == nil) {
                    throw CredentialError(
                        "profile \(name): source_profile chain loops (\((visited + [name, sourceProfile]).joined(separator: " → ")))")
                }
                if sourceProfile == name {
                    source = StaticCredentialProvider(try staticKeys(p, profile: name)!)
                } else {
                    source = try profileProvider(sourceProfile, visited: visited + [name])
                }
            } else if let credentialSource = nonEmpty(p["credential_source"]) {
                source = try credentialSourceProvider(credentialSource, profile: name)
            } else {
                throw CredentialError("profile \(name): role_arn needs source_profile, credential_source or web_identity_token_file")
            }
            return RefreshingCredentialProvider(
                AssumeRoleCredentialProvider(
                    roleArn: roleArn, externalId: nonEmpty(p["external_id"]), sessionName: nonEmpty(p["role_session_name"]),
                    durationSeconds: p["duration_seconds"].flatMap { Int($0) }, region: region,
                    client: makeClient(RefreshingCredentialProvider(source))))
        }
        if let creds = try staticKeys(p, profile: name) { return StaticCredentialProvider(creds) }
        if let command = nonEmpty(p["credential_process"]) { return ProcessCredentialProvider(command: command, profile: name) }
        if p["sso_start_url"] != nil || p["sso_session"] != nil {
            throw CredentialError(
                "profile \(name) uses IAM Identity Center (SSO), which attest does not support yet; use credential_process (e.g. `aws configure export-credentials --profile \(name) --format process`)"
            )
        }
        throw CredentialError("profile \(name) has no credentials (no aws_access_key_id, role_arn or credential_process)")
    }

    func staticKeys(_ p: [String: String], profile: String) throws -> AWSCredentials? {
        switch (nonEmpty(p["aws_access_key_id"]), nonEmpty(p["aws_secret_access_key"])) {
        case (nil, nil): return nil
        case (.some(let k), .some(let s)):
            return AWSCredentials(
                accessKeyId: k, secretAccessKey: s, sessionToken: nonEmpty(p["aws_session_token"]), source: "profile \(profile)")
        default:
            throw CredentialError("profile \(profile): aws_access_key_id and aws_secret_access_key must be set together")
        }
    }

    func credentialSourceProvider(_ source: String, profile: String) throws -> any AWSCredentialProvider {
        switch source {
        case "Environment":
            guard let env = try environmentCredentials() else {
                throw CredentialError("profile \(profile): credential_source Environment but AWS_ACCESS_KEY_ID is not set")
            }
            return StaticCredentialProvider(env)
        case "EcsContainer":
            guard let c = try containerProvider() else {
                throw CredentialError("profile \(profile): credential_source EcsContainer but no container credentials variable is set")
            }
            return c
        case "Ec2InstanceMetadata":
            return InstanceMetadataCredentialProvider(
                endpoint: nonEmpty(environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"]) ?? "http://169.254.169.254",
                transport: transport, timeout: metadataTimeout ?? .seconds(2))
        default:
            throw CredentialError(
                "profile \(profile): unknown credential_source \(source) (Environment, EcsContainer or Ec2InstanceMetadata)")
        }
    }

    /// The region the CLI would use: `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region`, else `us-east-1`.
    public static func region(environment: [String: String], files: SharedConfigFiles, profile: String) -> String {
        nonEmpty(environment["AWS_REGION"]) ?? nonEmpty(environment["AWS_DEFAULT_REGION"])
            ?? nonEmpty(files.profiles[profile]?["region"]) ?? "us-east-1"
    }
}

/// A provider that already holds its first answer (from probing), then asks its base.
struct RefreshingSeed: AWSCredentialProvider {
    let first: AWSCredentials
    let base: any AWSCredentialProvider
    func credentials() async throws -> AWSCredentials {
        if !first.expires(within: 300) { return first }
        return try await base.credentials()
    }
}

extension AWSCredentials {
    /// Placeholder credentials for unsigned calls.
    static let anonymous = AWSCredentials(accessKeyId: "anonymous", secretAccessKey: "anonymous-unused", source: "none")
}

private func nonEmpty(_ s: String?) -> String? {
    guard let s = s?.trimmingCharacters(in: .whitespaces), !s.isEmpty else { return nil }
    return s
}
