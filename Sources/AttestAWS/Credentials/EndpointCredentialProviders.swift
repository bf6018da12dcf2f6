import AttestCore
public import AttestHTTP
import Foundation

/// ECS/EKS container credentials: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (on 169.254.170.2) or
/// `AWS_CONTAINER_CREDENTIALS_FULL_URI`, with `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (read on
/// every refresh, as EKS Pod Identity rotates it) or `AWS_CONTAINER_AUTHORIZATION_TOKEN`.
public struct ContainerCredentialProvider: AWSCredentialProvider {
    public var url: String
    public var tokenFile: String?
    public var token: String?
    let transport: any HTTPTransport
    let timeout: Duration

    public init(url: String, tokenFile: String?, token: String?, transport: any HTTPTransport, timeout: Duration = .seconds(5)) {
        self.timeout = timeout
        self.url = url
        self.tokenFile = tokenFile
        self.token = token
        self.transport = transport
        SecretScrubber.shared.register(token)
    }

    /// The configured container endpoint, or nil when the variables are not set.
    /// Full URIs must be loopback, the ECS/EKS link-local hosts, or HTTPS.
    public static func url(from environment: [String: String]) throws -> String? {
        if let relative = environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"], !relative.isEmpty {
            return "http://169.254.170.2" + relative
        }
        guard let full = environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"], !full.isEmpty else { return nil }
        guard let u = URL(string: full), let host = u.host else {
            throw CredentialError("AWS_CONTAINER_CREDENTIALS_FULL_URI is not a URL")
        }
        let containerHosts = ["169.254.170.2", "169.254.170.23", "fd00:ec2::23", "[fd00:ec2::23]"]
        guard u.scheme == "https" || containerHosts.contains(host) || LoopbackHost.contains(host) else {
            throw CredentialError("AWS_CONTAINER_CREDENTIALS_FULL_URI must use HTTPS or a loopback/container host, not \(host)")
        }
        return full
    }

    public func credentials() async throws -> AWSCredentials {
        var headers: [(name: String, value: String)] = [("Accept", "application/json")]
        if let tokenFile {
            guard let t = try? String(contentsOfFile: tokenFile, encoding: .utf8) else {
                throw CredentialError("container credentials: cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE \(tokenFile)")
            }
            let value = t.trimmingCharacters(in: .whitespacesAndNewlines)
            SecretScrubber.shared.register(value)
            headers.append(("Authorization", value))
        } else if let token {
            headers.append(("Authorization", token))
        }
        let response: HTTPResponse
        do {
            response = try await transport.send(HTTPRequest(method: "GET", url: url, headers: headers, timeout: timeout))
        } catch {
            throw CredentialError("container credentials endpoint unreachable: \(error)")
        }
        guard response.status == 200 else {
            throw CredentialError("container credentials endpoint answered HTTP \(response.status)")
        }
        guard let json = try? JSONValue.parse(Data(response.body)) else {
            throw CredentialError("container credentials endpoint answered malformed JSON")
        }
        return try CredentialJSON.decode(json, source: "container")
    }
}

/// EC2 instance metadata, IMDSv2 only: a session token from `PUT /latest/api/token`, then the
/// role's credentials. Short timeouts so that a machine off EC2 is not slowed.
public struct InstanceMetadataCredentialProvider: AWSCredentialProvider {
    public var endpoint: String
    let transport: any HTTPTransport
    let timeout: Duration

    public init(endpoint: String = "http://169.254.169.254", transport: any HTTPTransport, timeout: Duration = .seconds(2)) {
        self.endpoint = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        self.transport = transport
        self.timeout = timeout
    }

    public func credentials() async throws -> AWSCredentials {
        let tokenResponse: HTTPResponse
        do {
            tokenResponse = try await transport.send(
                HTTPRequest(
                    method: "PUT", url: "\(endpoint)/latest/api/token",
                    headers: [("X-aws-ec2-metadata-token-ttl-seconds", "21600")], timeout: timeout))
        } catch {
            throw CredentialError("instance metadata service not reachable at \(endpoint)")
        }
        guard tokenResponse.status == 200 else {
            throw CredentialError("instance metadata service refused a session token (HTTP \(tokenResponse.status))")
        }
        let token = tokenResponse.bodyText.trimmingCharacters(in: .whitespacesAndNewlines)
        SecretScrubber.shared.register(token)
        let headers: [(name: String, value: String)] = [("X-aws-ec2-metadata-token", token)]
        let base = "\(endpoint)/latest/meta-data/iam/security-credentials/"
        let roles = try await transport.send(HTTPRequest(method: "GET", url: base, headers: headers, timeout: timeout))
        guard roles.status == 200, let role = roles.bodyText.split(whereSeparator: \.isNewline).first.map(String.init), !role.isEmpty else {
            throw CredentialError("instance metadata: no IAM role attached to this instance (HTTP \(roles.status))")
        }
        let creds = try await transport.send(HTTPRequest(method: "GET", url: base + role, headers: headers, timeout: timeout))
        guard creds.status == 200, let json = try? JSONValue.parse(Data(creds.body)) else {
            throw CredentialError("instance metadata: could not read credentials for role \(role) (HTTP \(creds.status))")
        }
        if let code = json["Code"].stringValue, code != "Success" {
            throw CredentialError("instance metadata: credentials for role \(role) not available (\(code))")
        }
        return try CredentialJSON.decode(json, source: "instance metadata (\(role))")
    }
}
