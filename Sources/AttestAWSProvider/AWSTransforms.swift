public import AttestCollect
import AttestCore

/// The transforms AWS specs add to the generic ones: answers that need AWS's conventions to
/// become canonical values (a bucket's region, a key's ARN, an EC2 id's ARN).
public enum AWSTransforms {
    public static let all: [Transform] = [
        // GetAccountAuthorizationDetails' PolicyVersionList: the default version's document, parsed as url-json does.
        Transform("iam-default-version-document") { value, context in
            let versions: [JSONValue] =
                switch value {
                case .array(let a): a
                case .null: []
                default: [value]
                }
            guard
                let version = versions.first(where: {
                    $0["IsDefaultVersion"].boolValue == true || $0["IsDefaultVersion"].stringValue?.lowercased() == "true"
                })
            else { return .null }
            return TransformRegistry.generic["url-json"]?.apply(version["Document"], context) ?? .null
        },
        // A root's PolicyTypes: whether service (or resource) control policies are enabled there.
        Transform("scp-enabled") { value, _ in policyTypeEnabled(value, "SERVICE_CONTROL_POLICY") },
        Transform("rcp-enabled") { value, _ in policyTypeEnabled(value, "RESOURCE_CONTROL_POLICY") },
        Transform("s3-region") { value, _ in
            // GetBucketLocation: empty means us-east-1, EU means eu-west-1.
            let s = value.stringValue ?? ""
            if s.isEmpty { return "us-east-1" }
            if s == "EU" { return "eu-west-1" }
            return .string(s)
        },
        Transform("kms-key-arn") { value, context in
            guard let s = value.stringValue, !s.isEmpty else { return .null }
            if s.hasPrefix("arn:") { return .string(s) }
            let partition = context["partition"].stringValue ?? "aws"
            let region = context["region"].stringValue ?? ""
            let account = context["account"].stringValue ?? ""
            if s.hasPrefix("alias/") { return .string("arn:\(partition):kms:\(region):\(account):\(s)") }
            return .string("arn:\(partition):kms:\(region):\(account):key/\(s)")
        },
        Transform("s3-canned-acl-grants") { value, _ in
            // A canned ACL (Terraform's acl = "public-read") as the grants S3 makes of it, beyond the owner's.
            guard let acl = value.stringValue else { return value.isNull ? .null : .array([]) }
            let group = "http://acs.amazonaws.com/groups/"
            func grant(_ permission: String, _ uri: String) -> JSONValue {
                ["permission": .string(permission), "grantee_type": "Group", "grantee_uri": .string(group + uri), "grantee_id": nil]
            }
            switch acl {
            case "public-read": return [grant("READ", "global/AllUsers")]
            case "public-read-write": return [grant("READ", "global/AllUsers"), grant("WRITE", "global/AllUsers")]
            case "authenticated-read": return [grant("READ", "global/AuthenticatedUsers")]
            case "log-delivery-write": return [grant("WRITE", "s3/LogDelivery"), grant("READ_ACP", "s3/LogDelivery")]
            default: return .array([])  // private, bucket-owner-read, bucket-owner-full-control, aws-exec-read
            }
        },
        Transform("ec2-resource-arn") { value, context in
            // vpc-…, subnet-…, eni-… → the ARN of that resource type.
            guard let s = value.stringValue else { return .null }
            // Longest prefix first: tgw-attach- before tgw-.
            let kinds = [
                ("tgw-attach-", "transit-gateway-attachment"), ("subnet-", "subnet"), ("vpc-", "vpc"),
                ("eni-", "network-interface"), ("sg-", "security-group"), ("vol-", "volume"),
                ("igw-", "internet-gateway"), ("tgw-", "transit-gateway"), ("i-", "instance"),
            ]
            guard let kind = kinds.first(where: { s.hasPrefix($0.0) })?.1 else { return .null }
            let partition = context["partition"].stringValue ?? "aws"
            return .string(
                "arn:\(partition):ec2:\(context["region"].stringValue ?? ""):\(context["account"].stringValue ?? ""):\(kind)/\(s)")
        },
    ]

    static func policyTypeEnabled(_ value: JSONValue, _ type: String) -> JSONValue {
        if value.isNull { return .null }
        return .bool(value.asList.contains { $0["Type"].stringValue == type && $0["Status"].stringValue == "ENABLED" })
    }
}
