public import AttestCEL
public import AttestInventory
public import Foundation

/// Runs controls' inline tests: the check people who write controls run in CI.
public enum ControlTestRunner {
    public struct Outcome: Sendable {
        public var controlID: String
        public var testName: String
        public var file: String
        public var line: Int
        public var expected: ResultStatus
        public var actual: ResultStatus
        /// The rule's error, when it gave one.
        public var reason: String?
        public var passed: Bool { expected == actual }
    }

    /// Every test of every control, in control then file order.
    public static func run(_ controls: [Control]) -> [Outcome] {
        controls.flatMap { control in control.tests.map { run($0, of: control) } }
    }

    public static func run(_ test: ControlTest, of control: Control) -> Outcome {
        let context = RuleContext(graph: test.graph, now: CELTimestamp(date: test.now))
        let params = control.parameters.merging(test.parameters) { _, new in new }
        let variables: [String: CELValue] = [
            "resource": CELValue(resource: test.resource),
            "params": CELValue(json: .object(params)),
            "now": .timestamp(context.now),
        ]
        let (status, reason) = ControlEngine.run(
            control, variables: variables,
            host: RuleHost(context: context, account: test.resource.account))
        return Outcome(
            controlID: control.id, testName: test.name, file: control.file, line: test.line,
            expected: test.expect, actual: status, reason: reason)
    }

    /// Evaluates one expression, as `attest controls eval` does: `resource` (optional) and
    /// `params` are given, `now` is the current time unless set.
    public static func evaluate(
        expression: String, resource: Resource?, graph: InventoryGraph? = nil,
        params: [String: JSONValue] = [:], now: Date = Date(),
        environment: CELEnvironment = RuleEnvironment.shared
    ) throws(CELSourceError) -> Result<CELValue, CELError> {
        let program = try environment.compile(expression)
        var graph = graph ?? InventoryGraph()
        if let resource, graph[resource.id] == nil { graph.add(resource) }
        let context = RuleContext(graph: graph, now: CELTimestamp(date: now))
        var variables: [String: CELValue] = ["params": CELValue(json: .object(params)), "now": .timestamp(context.now)]
        if let resource { variables["resource"] = CELValue(resource: resource) }
        return program.evaluate(variables, host: RuleHost(context: context, account: resource?.account ?? ""))
    }
}
