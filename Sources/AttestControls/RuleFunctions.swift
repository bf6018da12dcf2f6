public import AttestCEL
public import AttestInventory
import Foundation

/// What rules evaluate against: the inventory graph and the scan's time. Shared by every
/// evaluation of a scan; immutable.
public final class RuleContext: Sendable {
    public let graph: InventoryGraph
    public let now: CELTimestamp

    public init(graph: InventoryGraph, now: CELTimestamp) {
        self.graph = graph
        self.now = now
    }
}

/// The host value handed to attest's CEL functions for one evaluation: the context and the
/// account of the resource under evaluation (which `resources(type)` is limited to).
public struct RuleHost: Sendable {
    public let context: RuleContext
    public let account: String

    public init(context: RuleContext, account: String) {
        self.context = context
        self.account = account
    }
}

/// The CEL environment every control rule is compiled in: the variables `resource`, `params`
/// and `now`, attest's graph functions, and the functions providers add (AWS: IAM policy and
/// network analysis). See `docs/controls.md`.
public enum RuleEnvironment {
    public static let variables = ["resource", "params", "now"]

    /// The environment with the graph functions only.
    public static let shared = CELEnvironment(variables: variables, functions: graphFunctions)

    /// The environment with the graph functions and `providerFunctions`; a name defined twice is an error.
    public static func make(providerFunctions: [CELFunction]) throws -> CELEnvironment {
        var names = Set(graphFunctions.map(\.name))
        for f in providerFunctions where !names.insert(f.name).inserted {
            throw DuplicateRuleFunctionError(name: f.name)
        }
        return CELEnvironment(variables: variables, functions: graphFunctions + providerFunctions)
    }

    /// Functions over the inventory graph, the same for every provider.
    public static let graphFunctions: [CELFunction] = [
        CELFunction("related", arity: 2...2, receiverStyle: true, globalStyle: false) { args, call in
            let (host, id) = try RuleArguments.resource(args, call)
            return .list(
                host.context.graph.neighbours(of: id, kind: try RuleArguments.string(args[1], "related")).map { CELValue(resource: $0) })
        },
        CELFunction("relatedIds", arity: 2...2, receiverStyle: true, globalStyle: false) { args, call in
            let (host, id) = try RuleArguments.resource(args, call)
            return .list(host.context.graph.edges(from: id, kind: try RuleArguments.string(args[1], "relatedIds")).map { .string($0.to) })
        },
        CELFunction("referrers", arity: 2...2, receiverStyle: true, globalStyle: false) { args, call in
            let (host, id) = try RuleArguments.resource(args, call)
            return .list(
                host.context.graph.referrers(of: id, kind: try RuleArguments.string(args[1], "referrers")).map { CELValue(resource: $0) })
        },
        CELFunction("resources", arity: 1...1) { args, call in
            let host = try RuleArguments.host(call)
            let type = try RuleArguments.string(args[0], "resources")
            return .list(host.context.graph.resources(ofType: type, inAccount: host.account).map { CELValue(resource: $0) })
        },
        // A rule's way to say its data was not read (a resource outside the scan): the result is an
        // error with this reason, never a pass or a fail.
        CELFunction("unread", arity: 1...1) { args, _ in
            throw CELError("not read: \(try RuleArguments.string(args[0], "unread"))")
        },
        CELFunction("daysSince", arity: 1...1) { args, call in
            let host = try RuleArguments.host(call)
            let start: CELTimestamp
            switch args[0] {
            case .timestamp(let t): start = t
            case .string(let s):
                guard let t = CELTimestamp(rfc3339: s) else { throw CELError("daysSince: '\(s)' is not a timestamp") }
                start = t
            case .null: throw CELError("daysSince: the time is null (not recorded)")
            default: throw CELError("daysSince: expected a timestamp or an RFC 3339 string")
            }
            let (seconds, overflow) = host.context.now.seconds.subtractingReportingOverflow(start.seconds)
            if overflow { throw CELError("daysSince: the time is out of range") }
            return .int(seconds >= 0 ? seconds / 86_400 : -((-seconds + 86_399) / 86_400))
        },
    ]
}

public struct DuplicateRuleFunctionError: Error, CustomStringConvertible, Sendable {
    public var name: String
    public var description: String { "rule function \(name) is defined twice" }
}

/// Reads the arguments of attest's CEL functions, with errors that name the function.
public enum RuleArguments {
    /// The evaluation's host, which graph functions need.
    public static func host(_ call: CELCallContext) throws -> RuleHost {
        guard let host = call.host as? RuleHost else { throw CELError("graph functions need an inventory (none was given)") }
        return host
    }

    /// The host and the id of the resource passed as the first argument.
    public static func resource(_ args: [CELValue], _ call: CELCallContext) throws -> (RuleHost, String) {
        let host = try host(call)
        guard let id = args[0].resourceID else { throw CELError("expected a resource (a map with an id)") }
        return (host, id)
    }

    public static func string(_ value: CELValue, _ function: String) throws -> String {
        guard case .string(let s) = value else { throw CELError("\(function): expected a string argument") }
        return s
    }

    public static func int(_ value: CELValue, _ function: String) throws -> Int {
        switch value {
        case .int(let i): return Int(i)
        case .uint(let u) where u <= UInt64(Int.max): return Int(u)
        default: throw CELError("\(function): expected an int argument")
        }
    }
}
