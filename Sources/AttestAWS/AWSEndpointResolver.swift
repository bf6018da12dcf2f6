public import Foundation

/// Where a request for a service in a region goes, and which region it is signed for.
public struct AWSEndpoint: Sendable, Equatable {
    public var scheme: String
    public var host: String
    public var port: Int?
    /// A base path from a custom endpoint URL (rare; kept so such endpoints work).
    public var basePath: String
    public var signingRegion: String
    /// True when the endpoint came from configuration (an emulator, a VPC endpoint, a proxy).
    public var isCustom: Bool

    public var hostHeader: String {
        if let port, !(scheme == "https" && port == 443), !(scheme == "http" && port == 80) { return "\(host):\(port)" }
        return host
    }

    public var origin: String { "\(scheme)://\(hostHeader)" }
}

/// Resolves endpoints as the AWS SDKs do: `AWS_ENDPOINT_URL_<SERVICE>`, then `AWS_ENDPOINT_URL`,
/// then the profile's `endpoint_url`, then the partition's standard host names.
public struct AWSEndpointResolver: Sendable {
    public var environment: [String: String]
    public var profileEndpointURL: String?

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, profileEndpointURL: String? = nil) {
        self.environment = environment
        self.profileEndpointURL = profileEndpointURL
    }

    public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// The variable naming a service's custom endpoint: `AWS_ENDPOINT_URL_S3_CONTROL` for `s3-control`.
    /// `AWS_ENDPOINT_URL_<SERVICE ID>` as the SDKs name it: the service id upper-cased, spaces
    /// (and the dashes of attest's own ids) as underscores: `AWS_ENDPOINT_URL_SECRETS_MANAGER`.
    public static func environmentVariable(for service: AWSService) -> String {
        variable(service.sdkServiceID ?? service.id)
    }

    static func variable(_ id: String) -> String {
        "AWS_ENDPOINT_URL_" + id.uppercased().replacingOccurrences(of: "-", with: "_").replacingOccurrences(of: " ", with: "_")
    }

    public func customEndpointURL(for service: AWSService) -> String? {
        if ["true", "1"].contains(environment["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"]?.lowercased() ?? "") { return nil }
        if let v = environment[Self.environmentVariable(for: service)], !v.isEmpty { return v }
        // attest's own service id too (AWS_ENDPOINT_URL_ACCESS_ANALYZER), where it differs.
        if service.sdkServiceID != nil, let v = environment[Self.variable(service.id)], !v.isEmpty { return v }
        if let v = environment["AWS_ENDPOINT_URL"], !v.isEmpty { return v }
        if let v = profileEndpointURL, !v.isEmpty { return v }
        return nil
    }

    public func endpoint(for service: AWSService, region: String) throws -> AWSEndpoint {
        // A region reaches the credential scope and the host name: it must be a region's name,
        // whoever supplied it (a flag, a profile, or an API's answer such as a bucket's location).
        guard AWSPartition.isRegionName(region) else {
            throw ConfigurationError(description: "\(region.debugDescription) is not an AWS region name; not called")
        }
        let partition = AWSPartition(region: region)
        let regionalGlobal = service.isGlobal ? partition.regionalGlobalEndpoint(endpointPrefix: service.endpointPrefix) : nil
        let signingRegion = service.isGlobal ? (regionalGlobal ?? partition.globalSigningRegion) : region
        if let custom = customEndpointURL(for: service) {
            guard let url = URL(string: custom), let scheme = url.scheme, let host = url.host else {
                throw ConfigurationError(description: "endpoint URL for \(service.id) is not a URL: \(custom)")
            }
            let path = url.path == "/" ? "" : url.path
            return AWSEndpoint(scheme: scheme, host: host, port: url.port, basePath: path, signingRegion: signingRegion, isCustom: true)
        }
        let host: String
        if let regionalGlobal {
            host = "\(service.endpointPrefix).\(regionalGlobal).\(partition.dnsSuffix)"
        } else if service.isGlobal {
            host = partition.globalHost(endpointPrefix: service.endpointPrefix, region: region)
        } else {
            host = "\(service.endpointPrefix).\(region).\(partition.dnsSuffix)"
        }
        return AWSEndpoint(scheme: "https", host: host, port: nil, basePath: "", signingRegion: signingRegion, isCustom: false)
    }
}

/// The AWS partitions: commercial, China, GovCloud.
public struct AWSPartition: Sendable, Equatable {
    public var name: String
    public var dnsSuffix: String
    public var globalSigningRegion: String

    public init(region: String) {
        if region.hasPrefix("cn-") {
            self.init(name: "aws-cn", dnsSuffix: "amazonaws.com.cn", globalSigningRegion: "cn-north-1")
        } else if region.hasPrefix("us-gov-") {
            self.init(name: "aws-us-gov", dnsSuffix: "amazonaws.com", globalSigningRegion: "us-gov-west-1")
        } else {
            self.init(name: "aws", dnsSuffix: "amazonaws.com", globalSigningRegion: "us-east-1")
        }
    }

    /// True for text shaped like an AWS region name (`eu-west-1`, `us-gov-west-1`,
    /// `ap-southeast-5`): lower-case words joined by `-`, ending in a number.
    public static func isRegionName(_ region: String) -> Bool {
        let parts = region.split(separator: "-", omittingEmptySubsequences: false)
        guard region.utf8.count <= 32, parts.count >= 3, let number = parts.last, (1...2).contains(number.count),
            number.allSatisfy({ $0.isASCII && $0.isNumber })
        else { return false }
        return parts.dropLast().allSatisfy { word in !word.isEmpty && word.allSatisfy { $0.isASCII && $0.isLowercase } }
    }

    init(name: String, dnsSuffix: String, globalSigningRegion: String) {
        self.name = name
        self.dnsSuffix = dnsSuffix
        self.globalSigningRegion = globalSigningRegion
    }

    /// The region in the host name and credential scope of a global service whose one endpoint
    /// per partition is a regional host (Organizations: `organizations.us-east-1.amazonaws.com`).
    func regionalGlobalEndpoint(endpointPrefix: String) -> String? {
        guard endpointPrefix == "organizations" else { return nil }
        return switch name {
        case "aws-cn": "cn-northwest-1"
        case "aws-us-gov": "us-gov-west-1"
        default: "us-east-1"
        }
    }

    func globalHost(endpointPrefix: String, region: String) -> String {
        switch name {
        case "aws-cn": "\(endpointPrefix).\(globalSigningRegion).\(dnsSuffix)"
        case "aws-us-gov": "\(endpointPrefix).us-gov.\(dnsSuffix)"
        default: "\(endpointPrefix).\(dnsSuffix)"
        }
    }
}
