package import AttestCollect
public import Foundation

/// Whether a control's failures block (`--fail-on`) or only warn. A control rolled out as
/// `warn` with `enforce_from` reports its failures at once and blocks from that date (UTC):
/// the way to introduce a guardrail without breaking every pipeline the day it lands.
public struct Enforcement: Sendable, Hashable, Codable {
    public enum Mode: String, Sendable, Codable, CaseIterable {
        case warn, enforce
    }

    public var mode: Mode
    /// `YYYY-MM-DD`: from the start of this day (UTC) a warned control blocks.
    public var enforceFrom: String?

    public init(mode: Mode, enforceFrom: String? = nil) {
        self.mode = mode
        self.enforceFrom = enforceFrom
    }

    /// True when failures do not count for `--fail-on` at `now`.
    public func warnsOnly(at now: Date) -> Bool {
        guard mode == .warn else { return false }
        guard let enforceFrom, let start = ExceptionDates.date(enforceFrom) else { return true }
        return now < start
    }

    /// Reads `enforcement:` and `enforce_from:` from a control file or a config entry.
    package static func parse(mode modeNode: YAMLNode?, from fromNode: YAMLNode?, parent: YAMLNode) throws -> Enforcement? {
        guard let modeNode else {
            if let fromNode { throw fromNode.error("enforce_from needs enforcement: warn") }
            return nil
        }
        let text = try modeNode.string()
        guard let mode = Mode(rawValue: text) else { throw modeNode.error("enforcement must be warn or enforce, not \(text)") }
        var from: String?
        if let fromNode {
            let value = try fromNode.string()
            guard ExceptionDates.date(value) != nil else { throw fromNode.error("enforce_from must be a date YYYY-MM-DD, not \(value)") }
            guard mode == .warn else { throw fromNode.error("enforce_from only applies with enforcement: warn") }
            from = value
        }
        return Enforcement(mode: mode, enforceFrom: from)
    }
}
