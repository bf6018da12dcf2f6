/// A requirement's verdict in one scan, from the results of the controls that evidence it:
/// the one rule the scan report and the evidence summary share.
public enum RequirementVerdict: String, Sendable, Codable, CaseIterable {
    /// No control evidences it: an auditor checks it by hand.
    case manual
    /// A result failed.
    case failing
    /// Nothing failed, but something could not be read or evaluated (or, in a plan, is known only after apply).
    case incomplete
    /// Nothing failed or errored, and failures were covered by exceptions: accepted risk.
    case excepted
    /// Something passed and nothing failed or errored.
    case passing
    /// Its controls had nothing to judge (no resources, or none applicable).
    case noResources = "no_resources"

    /// The verdict from how many results had each status.
    public static func of(_ counts: [ResultStatus: Int], manual: Bool = false) -> RequirementVerdict {
        if manual { return .manual }
        if (counts[.fail] ?? 0) > 0 { return .failing }
        if (counts[.error] ?? 0) > 0 || (counts[.unknown] ?? 0) > 0 { return .incomplete }
        if (counts[.excepted] ?? 0) > 0 { return .excepted }
        if (counts[.pass] ?? 0) > 0 { return .passing }
        return .noResources
    }

    /// The same from counts keyed by status name (an evidence manifest's `counts`); unknown names are ignored.
    public static func of(statusCounts: [String: Int]) -> RequirementVerdict {
        var counts: [ResultStatus: Int] = [:]
        for (name, n) in statusCounts { if let status = ResultStatus(rawValue: name) { counts[status, default: 0] += n } }
        return of(counts)
    }

    /// How the table shows it: failures shouted, the rest plain.
    public var label: String {
        switch self {
        case .manual: "manual"
        case .failing: "FAILING"
        case .incomplete: "incomplete"
        case .excepted: "excepted"
        case .passing: "passing"
        case .noResources: "no resources"
        }
    }
}
