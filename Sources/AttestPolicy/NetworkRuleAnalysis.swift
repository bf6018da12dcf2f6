public import AttestCore
import Foundation

/// Questions about AWS network filtering rules, in the shapes of the inventory (`docs/taxonomy.md`):
/// security-group `ingress` rules and network-ACL `entries`.
///
/// "The internet" is `0.0.0.0/0` or `::/0` (any spelling of a /0 block, such as `::0/0`). A rule for a
/// narrower range, however wide, is not counted as open to the internet. Only TCP is considered: a rule
/// matches when its protocol is `-1` (all; also `all`), `tcp` or `6`.
///
/// `port` is a TCP port 0–65535, or `-1` for "all ports open". Any other value throws
/// ``PolicyDocumentError``, as do rules of the wrong shape (see each function). `null` rules mean none.
public enum NetworkRuleAnalysis: Sendable {
    /// True when a security-group ingress rule admits TCP traffic to `port` from the internet.
    ///
    /// Each rule is an object with `protocol`, `from_port`, `to_port` (null meaning all ports, as for
    /// protocol `-1`; `-1` is read the same way), `cidrs` and `ipv6_cidrs`; other keys (`source_groups`,
    /// `prefix_lists`) are not the internet and are ignored. Port ranges are inclusive.
    ///
    /// With `port` `-1`: true when the rules open every TCP port to the internet: a rule with protocol `-1`,
    /// or TCP rules whose port ranges together cover 0–65535 (one rule for 0–65535 being the usual case).
    ///
    /// Throws when `rules` is not a list (or null), a rule is not an object, or a rule has no `protocol`.
    public static func ingressOpenToInternet(_ rules: JSONValue, port: Int) throws -> Bool {
        try checkPort(port)
        var openRanges: [ClosedRange<Int>] = []
        for (index, rule) in try objects(rules, "security-group rules").enumerated() {
            let label = "security-group rule \(index + 1)"
            let proto = try protocolOf(rule, label: label)
            guard proto != .other else { continue }
            let sources = rule["cidrs"].asList + rule["ipv6_cidrs"].asList
            guard sources.contains(where: { isWholeInternet($0.stringValue) }) else { continue }
            let range = proto == .all ? 0...65535 : try portRange(rule, label: label)
            guard let range else { continue }
            if port >= 0 {
                if range.contains(port) { return true }
            } else {
                openRanges.append(range)
            }
        }
        return port < 0 && covers(openRanges, 0...65535)
    }

    /// True when the network ACL admits TCP traffic to `port` from the internet.
    ///
    /// Only ingress entries (`egress` false) are evaluated, in ascending `rule_number` order, as AWS does;
    /// IPv4 traffic from the internet is decided by the first entry for `0.0.0.0/0` (`cidr`) that matches the
    /// protocol and port, IPv6 traffic by the first for `::/0` (`ipv6_cidr`), and the answer is true when
    /// either is an `allow`. Entries for narrower ranges do not decide for the whole internet and are skipped.
    /// When no entry matches the traffic is refused, which is also what the default entry 32767
    /// (deny all) says. Ports: `from_port`/`to_port` inclusive, null (protocol `-1`) meaning all.
    ///
    /// With `port` `-1`: true when, for one address family, every TCP port 0–65535 is admitted.
    ///
    /// Throws when `entries` is not a list (or null), an entry is not an object, or an entry lacks a numeric
    /// `rule_number`, a `protocol`, a boolean `egress` or an `action` of `allow`/`deny`.
    public static func naclIngressOpenToInternet(_ entries: JSONValue, port: Int) throws -> Bool {
        try checkPort(port)
        struct Entry {
            var number: Int64
            var allow: Bool
            var ports: ClosedRange<Int>?
            var v4: Bool
            var v6: Bool
        }
        var ingress: [Entry] = []
        for (index, entry) in try objects(entries, "network ACL entries").enumerated() {
            let label = "network ACL entry \(index + 1)"
            guard let number = entry["rule_number"].intValue else { throw PolicyDocumentError("\(label) has no numeric rule_number") }
            guard let egress = entry["egress"].boolValue else { throw PolicyDocumentError("\(label) has no boolean egress") }
            let allow: Bool
            switch entry["action"].stringValue?.lowercased() {
            case "allow": allow = true
            case "deny": allow = false
            default: throw PolicyDocumentError("\(label): action must be \"allow\" or \"deny\", got \(entry["action"].serialized())")
            }
            let proto = try protocolOf(entry, label: "\(label)")
            guard !egress, proto != .other else { continue }
            let v4 = isWholeInternet(entry["cidr"].stringValue, ipv4: true)
            let v6 = isWholeInternet(entry["ipv6_cidr"].stringValue, ipv4: false)
            guard v4 || v6 else { continue }
            let ports = proto == .all ? 0...65535 : try portRange(entry, label: label)
            ingress.append(Entry(number: number, allow: allow, ports: ports, v4: v4, v6: v6))
        }
        ingress.sort { $0.number < $1.number }

        func admits(_ port: Int, v4: Bool) -> Bool {
            let first = ingress.first { ($0.ports?.contains(port) ?? false) && (v4 ? $0.v4 : $0.v6) }
            return first?.allow ?? false
        }
        if port >= 0 { return admits(port, v4: true) || admits(port, v4: false) }
        // Which entry decides can change only where some entry's range starts or just after one ends, so
        // checking those ports (and 0) checks every port.
        var critical: Set<Int> = [0]
        for entry in ingress {
            guard let ports = entry.ports else { continue }
            critical.insert(ports.lowerBound)
            if ports.upperBound < 65535 { critical.insert(ports.upperBound + 1) }
        }
        return [true, false].contains { v4 in critical.allSatisfy { admits($0, v4: v4) } }
    }

    // MARK: - Helpers

    private enum IPProtocol { case all, tcp, other }

    private static func checkPort(_ port: Int) throws {
        guard port == -1 || (0...65535).contains(port) else {
            throw PolicyDocumentError("port must be 0–65535, or -1 for all ports, got \(port)")
        }
    }

    private static func objects(_ list: JSONValue, _ what: String) throws -> [JSONValue] {
        switch list {
        case .null: return []
        case .array(let items):
            for (i, item) in items.enumerated() where item.objectValue == nil {
                throw PolicyDocumentError("\(what): item \(i + 1) is not an object, got \(item.serialized())")
            }
            return items
        default: throw PolicyDocumentError("\(what) must be a list, got \(list.serialized())")
        }
    }

    /// A /0 block of the given family (either, when nil). Only a text ending in `/0` can be one, which
    /// spares parsing every narrower range.
    private static func isWholeInternet(_ text: String?, ipv4: Bool? = nil) -> Bool {
        guard let text, text.utf8.last == UInt8(ascii: "0"), text.contains("/0"), let range = IPRange(text), range.isEverything else {
            return false
        }
        return ipv4.map { $0 == range.isIPv4 } ?? true
    }

    private static func protocolOf(_ rule: JSONValue, label: String) throws -> IPProtocol {
        let raw = rule["protocol"].stringValue
        let text = raw.map { $0.contains(" ") ? $0.trimmingCharacters(in: .whitespaces).lowercased() : $0.lowercased() }
        guard let text, !text.isEmpty else {
            throw PolicyDocumentError("\(label) has no protocol")
        }
        switch text {
        case "-1", "all": return .all
        case "tcp", "6": return .tcp
        default: return .other
        }
    }

    /// The inclusive port range of a TCP rule; a null or -1 bound is open. Nil when the range is empty.
    private static func portRange(_ rule: JSONValue, label: String) throws -> ClosedRange<Int>? {
        func bound(_ key: String, default value: Int) throws -> Int {
            let raw = rule[key]
            if raw.isNull { return value }
            guard let n = raw.intValue else { throw PolicyDocumentError("\(label): \(key) must be a number, got \(raw.serialized())") }
            return n < 0 ? value : Int(clamping: n)
        }
        let from = max(try bound("from_port", default: 0), 0)
        let to = min(try bound("to_port", default: 65535), 65535)
        return from <= to ? from...to : nil
    }

    /// Whether the union of `ranges` includes all of `target`.
    private static func covers(_ ranges: [ClosedRange<Int>], _ target: ClosedRange<Int>) -> Bool {
        var next = target.lowerBound
        for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if range.lowerBound > next { break }
            next = max(next, range.upperBound + 1)
            if next > target.upperBound { return true }
        }
        return next > target.upperBound
    }
}
