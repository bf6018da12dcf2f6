import AttestCEL
public import AttestCollect
public import AttestControls
import Foundation

/// Which services a control needs collected, derived from the specs: the services whose specs
/// produce the control's own types and the attributes its rules read (the account's Block
/// Public Access comes from S3 Control, not IAM), and those producing the types it reads through
/// the graph (`resources('aws.cloudtrail.trail')`, and its `reads:` list). A control whose
/// services were not all scanned is not evaluated: with no data it could only give a false
/// result.
public enum ControlRequirements {
    /// Service id → why the control needs it (`aws.cloudtrail.trail`, `aws.iam.account.s3_public_access_block`).
    public static func services(of control: Control, in spec: ProviderSpec) -> [String: Set<String>] {
        let sources = [control.assertion.source, control.appliesIf?.source ?? ""]
        let attributes = ControlEngine.attributesRead(by: sources)
        var needed: [String: Set<String>] = [:]
        for service in spec.services {
            for resource in service.resources {
                if control.resourceTypes.contains(resource.type) {
                    if let attributes {
                        for (name, _) in resource.attributes where attributes.contains(name) {
                            needed[service.id, default: []].insert("\(resource.type).\(name)")
                        }
                        // A service that creates the type (not only adds to it) is needed to have the resources at all.
                        if !resource.mergeOnly && !resource.singleton { needed[service.id, default: []].insert(resource.type) }
                    } else {
                        needed[service.id, default: []].insert(resource.type)
                    }
                }
            }
        }
        for type in Set(control.reads + graphTypes(in: sources)) {
            for service in spec.services where service.resources.contains(where: { $0.type == type && !$0.mergeOnly }) {
                needed[service.id, default: []].insert(type)
            }
        }
        return needed
    }

    static func graphTypes(in sources: [String]) -> [String] { ControlEngine.graphTypes(in: sources) }
}

/// A control the scan did not evaluate, and why.
public struct NotEvaluated: Sendable, Equatable {
    public var control: String
    public var reason: String
}
