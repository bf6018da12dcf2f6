import AttestCore
import Foundation

/// `sts:AssumeRole` with credentials from another provider: profile `role_arn` chains and
/// `--role-arn` into the scanned account.
public struct AssumeRoleCredentialProvider: AWSCredentialProvider {
    public var roleArn: String
    public var externalId: String?
    public var sessionName: String
    public var durationSeconds: Int?
    public var region: String
    let client: AWSClient

    /// - Parameter client: a client signing with the *source* credentials.
    public init(
        roleArn: String, externalId: String? = nil, sessionName: String? = nil, durationSeconds: Int? = nil,
        region: String, client: AWSClient
    ) {
        self.roleArn = roleArn
        self.externalId = externalId
        self.sessionName = sessionName ?? "attest-\(Int(Date().timeIntervalSince1970))"
        self.durationSeconds = durationSeconds
        self.region = region
        self.client = client
    }

    public func credentials() async throws -> AWSCredentials {
        var params: [String: JSONValue] = ["RoleArn": .string(roleArn), "RoleSessionName": .string(sessionName)]
        if let externalId { params["ExternalId"] = .string(externalId) }
        if let durationSeconds { params["DurationSeconds"] = .string(String(durationSeconds)) }
        do {
            let response = try await client.send(
                AWSOperation(name: "AssumeRole", region: region, parameters: .object(params)),
                service: .sts)
            return try STSCredentials.decode(response.value["Credentials"], source: "assumed role \(roleArn)")
        } catch let error as AWSServiceError {
            throw CredentialError("could not assume \(roleArn): \(error)")
        }
    }
}

/// `sts:AssumeRoleWithWebIdentity` with a token read from a file on every refresh: the CI OIDC
/// path (`AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE`) and EKS IRSA. The call is unsigned.
public struct WebIdentityCredentialProvider: AWSCredentialProvider {
    public var roleArn: String
    public var tokenFile: String
    public var sessionName: String
    public var region: String
    let client: AWSClient

    public init(roleArn: String, tokenFile: String, sessionName: String?, region: String, client: AWSClient) {
        self.roleArn = roleArn
        self.tokenFile = tokenFile
        self.sessionName = sessionName ?? "attest-\(Int(Date().timeIntervalSince1970))"
        self.region = region
        self.client = client
    }

    public func credentials() async throws -> AWSCredentials {
        let token: String
        do {
            token = try String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
            throw CredentialError("web identity: cannot read token file \(tokenFile)")
        }
        SecretScrubber.shared.register(token)
        let params: JSONValue = [
            "RoleArn": .string(roleArn), "RoleSessionName": .string(sessionName),
            "WebIdentityToken": .string(token),
        ]
        do {
            let response = try await client.send(
                AWSOperation(name: "AssumeRoleWithWebIdentity", region: region, parameters: params, unsigned: true),
                service: .sts)
            return try STSCredentials.decode(response.value["Credentials"], source: "web identity \(roleArn)")
        } catch let error as AWSServiceError {
            throw CredentialError("web identity: could not assume \(roleArn): \(error)")
        }
    }
}

enum STSCredentials {
    static func decode(_ value: JSONValue, source: String) throws -> AWSCredentials {
        guard let key = value["AccessKeyId"].stringValue, let secret = value["SecretAccessKey"].stringValue else {
            throw CredentialError("\(source): STS answered without credentials")
        }
        return AWSCredentials(
            accessKeyId: key, secretAccessKey: secret, sessionToken: value["SessionToken"].stringValue,
            expiration: value["Expiration"].stringValue.flatMap(CredentialJSON.parseDate), source: source)
    }
}
