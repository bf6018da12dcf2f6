package import AttestCollect
public import AttestCore
public import AttestInventory
public import Foundation

/// One accepted risk: failures of a control (an id or a glob) on the resources it covers are
/// reported as `excepted` until it expires. Every exception has an owner, a justification and
/// an expiry, so an override is visible, owned and time-bound (`docs/ci.md`).
public struct ControlException: Sendable, Hashable, Codable {
    /// A control id or a glob (`aws-s3-*`).
    public var control: String
    /// Resource ids or globs; nil covers every resource of the control.
    public var resources: [String]?
    public var accounts: [String]?
    public var regions: [String]?
    /// Every tag listed must be on the resource with that value (`*` globs allowed in values).
    public var tags: [String: String]?
    public var owner: String
    public var justification: String
    public var ticket: String?
    /// Calendar days (`2026-12-01`), UTC.
    public var created: String
    public var expires: String
    /// `file:line` of the entry.
    public var source: String

    /// The exception applies through the whole of its expiry day (UTC).
    public var expiresAt: Date { ExceptionDates.date(expires)!.addingTimeInterval(86_400) }

    public func isExpired(at now: Date) -> Bool { now >= expiresAt }

    /// Whole days from `now` to the end of the expiry day (0 on the last day).
    public func daysLeft(at now: Date) -> Int { max(0, Int((expiresAt.timeIntervalSince(now) / 86_400).rounded(.down))) }

    public func covers(control id: String) -> Bool { Glob.matches(control, id) }

    /// True when the exception covers `resource` (its id, account, region and tags).
    public func covers(_ resource: Resource) -> Bool {
        if let resources, !resources.contains(where: { Glob.matches($0, resource.id) }) { return false }
        if let accounts, !accounts.contains(where: { Glob.matches($0, resource.account) }) { return false }
        if let regions, !regions.contains(where: { Glob.matches($0, resource.region) }) { return false }
        if let tags {
            for (key, value) in tags {
                guard let actual = resource.tags[key], Glob.matches(value, actual) else { return false }
            }
        }
        return true
    }

    /// The exception as JSON (evidence records and manifests): absent selectors left out.
    public var json: JSONValue {
        var o: [String: JSONValue] = [
            "control": .string(control), "owner": .string(owner), "justification": .string(justification),
            "created": .string(created), "expires": .string(expires), "source": .string(source),
        ]
        if let resources { o["resources"] = .array(resources.map { .string($0) }) }
        if let accounts { o["accounts"] = .array(accounts.map { .string($0) }) }
        if let regions { o["regions"] = .array(regions.map { .string($0) }) }
        if let tags { o["tags"] = .object(tags.mapValues { .string($0) }) }
        if let ticket { o["ticket"] = .string(ticket) }
        return .object(o)
    }

    /// True when nothing narrows the resources: every resource of the control is covered.
    var coversEveryResource: Bool {
        (resources == nil || resources!.contains { Glob.matchesEverything($0) }) && accounts == nil && regions == nil
            && tags == nil
    }
}

extension ControlException {
    /// Reads ``json`` back; nil when a field is missing or of the wrong kind.
    public init?(json v: JSONValue) {
        func strings(_ key: String) -> [String]?? {
            if v[key].isNull { return .some(nil) }
            guard let items = v[key].arrayValue else { return nil }
            let out = items.compactMap(\.stringValue)
            return out.count == items.count ? .some(out) : nil
        }
        guard let control = v["control"].stringValue, let owner = v["owner"].stringValue,
            let justification = v["justification"].stringValue, let created = v["created"].stringValue,
            let expires = v["expires"].stringValue, let source = v["source"].stringValue,
            let resources = strings("resources"), let accounts = strings("accounts"), let regions = strings("regions"),
            ExceptionDates.date(expires) != nil
        else { return nil }
        var tags: [String: String]?
        if let t = v["tags"].objectValue {
            tags = t.compactMapValues(\.stringValue)
            if tags!.count != t.count { return nil }
        }
        self.init(
            control: control, resources: resources, accounts: accounts, regions: regions, tags: tags, owner: owner,
            justification: justification, ticket: v["ticket"].stringValue, created: created, expires: expires, source: source)
    }
}

/// `*` any run of characters, `?` one character; everything else literal.
public enum Glob {
    public static func isPattern(_ s: String) -> Bool { s.contains("*") || s.contains("?") }

    static func matchesEverything(_ pattern: String) -> Bool { !pattern.isEmpty && pattern.allSatisfy { $0 == "*" } }

    public static func matches(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern.unicodeScalars)
        let t = Array(text.unicodeScalars)
        var pi = 0
        var ti = 0
        var star = -1
        var mark = 0
        // Linear backtracking over the last star only: glob matching without exponential cases.
        while ti < t.count {
            if pi < p.count && (p[pi] == "?" || p[pi] == t[ti]) && p[pi] != "*" {
                pi += 1
                ti += 1
            } else if pi < p.count && p[pi] == "*" {
                star = pi
                mark = ti
                pi += 1
            } else if star >= 0 {
                pi = star + 1
                mark += 1
                ti = mark
            } else {
                return false
            }
        }
        while pi < p.count && p[pi] == "*" { pi += 1 }
        return pi == p.count
    }
}

enum ExceptionDates {
    /// `YYYY-MM-DD` as the start of that day in UTC; nil when it is not a real date.
    static func date(_ text: String) -> Date? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2])
        else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let components = DateComponents(year: y, month: m, day: d)
        guard components.isValidDate(in: calendar), let date = calendar.date(from: components) else { return nil }
        return date
    }
}

/// The exceptions a scan applies, with the rules every file is checked against.
public struct ExceptionSet: Sendable {
    public var exceptions: [ControlException] = []
    /// The longest an exception may last, from created to expires.
    public var maximumDays = 365
    /// Exceptions expiring within this many days are flagged.
    public var expiringSoonDays = 14

    public init(exceptions: [ControlException] = [], maximumDays: Int = 365, expiringSoonDays: Int = 14) {
        self.exceptions = exceptions
        self.maximumDays = maximumDays
        self.expiringSoonDays = expiringSoonDays
    }

    public var isEmpty: Bool { exceptions.isEmpty }

    static let entryKeys = [
        "control", "resources", "accounts", "regions", "tags", "owner", "justification", "ticket", "created", "expires",
    ]

    /// Reads an exceptions file (`exceptions:` at its top).
    public static func load(file: String, maximumDays: Int = 365) throws -> [ControlException] {
        let text: String
        do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
            throw SpecError(file: file, line: 1, message: "cannot read the exceptions file: \(error.localizedDescription)")
        }
        return try parse(text: text, file: file, maximumDays: maximumDays)
    }

    public static func parse(text: String, file: String, maximumDays: Int = 365) throws -> [ControlException] {
        let root = try SpecLoader.parse(text, file: file)
        guard let list = try root.map(["exceptions"]).node("exceptions") else {
            throw root.error("missing required key exceptions (a list of exceptions)")
        }
        return try entries(list, maximumDays: maximumDays)
    }

    /// The entries of an `exceptions:` list, each checked for what it must have.
    package static func entries(_ list: YAMLNode, maximumDays: Int) throws -> [ControlException] {
        try list.sequence().map { try entry($0, maximumDays: maximumDays) }
    }

    static func entry(_ node: YAMLNode, maximumDays: Int) throws -> ControlException {
        let m = try node.map(entryKeys)
        func required(_ key: String, _ what: String) throws -> (String, YAMLNode) {
            guard let n = m.node(key) else { throw node.error("an exception needs \(key): (\(what))") }
            let value = try n.string().trimmingCharacters(in: .whitespaces)
            guard !value.isEmpty else { throw n.error("\(key) must not be empty (\(what))") }
            return (value, n)
        }
        func list(_ key: String) throws -> [String]? {
            guard let n = m.node(key) else { return nil }
            let items = try n.sequence().map { try $0.string() }
            guard !items.isEmpty else { throw n.error("\(key) must name at least one (leave it out to cover all)") }
            return items
        }
        let (control, _) = try required("control", "a control id or a glob")
        let (owner, _) = try required("owner", "who answers for this exception")
        let (justification, _) = try required("justification", "why the risk is accepted")
        let (created, createdNode) = try required("created", "the date it was granted, YYYY-MM-DD")
        let (expires, expiresNode) = try required("expires", "the date it ends, YYYY-MM-DD; at most \(maximumDays) days after created")
        guard let createdDate = ExceptionDates.date(created) else {
            throw createdNode.error("created must be a date YYYY-MM-DD, not \(created)")
        }
        guard let expiresDate = ExceptionDates.date(expires) else {
            throw expiresNode.error("expires must be a date YYYY-MM-DD, not \(expires)")
        }
        let days = Int((expiresDate.timeIntervalSince(createdDate) / 86_400).rounded())
        guard days >= 0 else { throw expiresNode.error("expires (\(expires)) is before created (\(created))") }
        guard days <= maximumDays else {
            throw expiresNode.error(
                "expires is \(days) days after created; an exception may last at most \(maximumDays) days (renew it with a new date)")
        }
        var tags: [String: String]?
        if let t = try m.optionalMap("tags", allowed: nil) {
            tags = [:]
            for (key, value) in t.entries { tags![key] = try value.string() }
            if tags!.isEmpty { throw m.node("tags")!.error("tags must name at least one tag (leave it out to cover all)") }
        }
        return ControlException(
            control: control, resources: try list("resources"), accounts: try list("accounts"), regions: try list("regions"),
            tags: tags, owner: owner, justification: justification, ticket: try m.optionalString("ticket"), created: created,
            expires: expires, source: "\(node.file):\(node.line)")
    }

    /// Refuses an exception whose control is unknown (or whose glob matches no control) and one
    /// that covers every control and every resource.
    public func check(against controlIDs: [String]) throws {
        let known = Set(controlIDs)
        for e in exceptions {
            let (file, line) = Self.split(e.source)
            let matching = controlIDs.filter { e.covers(control: $0) }
            if !Glob.isPattern(e.control), !known.contains(e.control) {
                let near = EditDistance.nearest(to: e.control, in: controlIDs)
                throw SpecError(
                    file: file, line: line,
                    message: "unknown control \(e.control)" + (near.map { " (did you mean \($0)?)" } ?? " (attest controls list)"))
            }
            if matching.isEmpty { throw SpecError(file: file, line: line, message: "the glob \(e.control) matches no control") }
            if matching.count == controlIDs.count, controlIDs.count > 1 || Glob.isPattern(e.control), e.coversEveryResource {
                throw SpecError(
                    file: file, line: line,
                    message:
                        "\(e.control) with no resources, accounts, regions or tags would except every control on every resource: narrow it"
                )
            }
        }
    }

    static func split(_ source: String) -> (String, Int) {
        guard let colon = source.lastIndex(of: ":"), let line = Int(source[source.index(after: colon)...]) else { return (source, 1) }
        return (String(source[..<colon]), line)
    }

    /// Marks failures covered by an exception that has not expired as `excepted`. The first
    /// exception in file order that covers a failure is the one it carries.
    public func apply(to results: ControlResults, graph: InventoryGraph, controls evaluated: Set<String>, now: Date) -> (
        ControlResults, ExceptionUsage
    ) {
        var usage = ExceptionUsage(exceptions: exceptions)
        guard !exceptions.isEmpty else { return (results, usage) }
        let active = exceptions.indices.filter { !exceptions[$0].isExpired(at: now) }
        let expired = exceptions.indices.filter { exceptions[$0].isExpired(at: now) }
        var byControl: [String: (active: [Int], expired: [Int])] = [:]
        var out: [ControlResult] = []
        out.reserveCapacity(results.count)
        for var r in results {
            defer { out.append(r) }
            guard r.status == .fail, !r.resourceID.isEmpty, let resource = graph[r.resourceID] else { continue }
            let candidates =
                byControl[r.controlID]
                ?? {
                    let c = (
                        active.filter { exceptions[$0].covers(control: r.controlID) },
                        expired.filter { exceptions[$0].covers(control: r.controlID) }
                    )
                    byControl[r.controlID] = c
                    return c
                }()
            if let index = candidates.active.first(where: { exceptions[$0].covers(resource) }) {
                r.status = .excepted
                r.exception = index
                usage.excepted[index, default: [:]][r.controlID, default: 0] += 1
            } else if let index = candidates.expired.first(where: { exceptions[$0].covers(resource) }) {
                usage.failingAgain[index, default: 0] += 1
            }
        }
        for index in exceptions.indices {
            let e = exceptions[index]
            if e.isExpired(at: now) {
                usage.expired.append(index)
            } else if usage.excepted[index] == nil, evaluated.contains(where: { e.covers(control: $0) }) {
                usage.stale.append(index)
            } else if e.expiresAt.timeIntervalSince(now) <= Double(expiringSoonDays) * 86_400 {
                usage.expiringSoon.append(index)
            }
        }
        return (ControlResults(out), usage)
    }
}

/// How a scan's exceptions were used.
public struct ExceptionUsage: Sendable {
    public var exceptions: [ControlException]
    /// Exception index → control id → results it excepted.
    public var excepted: [Int: [String: Int]] = [:]
    /// Past their expiry: they no longer apply.
    public var expired: [Int] = []
    /// Expired exception index → failures it would have covered.
    public var failingAgain: [Int: Int] = [:]
    /// Not expired, their control ran, and they covered no failure: fixed, or never matched.
    public var stale: [Int] = []
    /// Applying, and ending within the set's `expiringSoonDays`.
    public var expiringSoon: [Int] = []

    public init(exceptions: [ControlException]) { self.exceptions = exceptions }

    /// Control id → excepted results.
    public var exceptedByControl: [String: Int] {
        var out: [String: Int] = [:]
        for (_, counts) in excepted { for (control, n) in counts { out[control, default: 0] += n } }
        return out
    }
}
