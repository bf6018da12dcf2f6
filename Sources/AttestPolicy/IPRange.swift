import Foundation

/// An IPv4 or IPv6 address range in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`), or a single address.
struct IPRange: Sendable, Equatable {
    /// The network address: 4 bytes for IPv4, 16 for IPv6.
    let bytes: [UInt8]
    let prefixLength: Int

    var isIPv4: Bool { bytes.count == 4 }

    /// Parses `text`; nil when it is not an address or CIDR block.
    init?(_ text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let parts = trimmed.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = Self.parseAddress(String(parts[0])) else { return nil }
        let maxLength = address.count * 8
        var length = maxLength
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].allSatisfy(\.isASCII), let n = Int(parts[1]), (0...maxLength).contains(n) else { return nil }
            length = n
        }
        bytes = Self.masked(address, length)
        prefixLength = length
    }

    /// True when every address of `other` is in this range.
    func contains(_ other: IPRange) -> Bool {
        bytes.count == other.bytes.count && prefixLength <= other.prefixLength
            && Self.masked(other.bytes, prefixLength) == bytes
    }

    /// True for `0.0.0.0/0` and `::/0`: every address of the family.
    var isEverything: Bool { prefixLength == 0 }

    /// Ranges that are not reachable from the internet: RFC 1918, loopback, link-local, carrier-grade NAT
    /// (RFC 6598), IPv6 unique local (fc00::/7), link-local (fe80::/10) and loopback.
    static let nonInternet: [IPRange] =
        ([
            "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16", "100.64.0.0/10",
            "fc00::/7", "fe80::/10", "::1/128",
        ] as [String]).compactMap(IPRange.init)

    /// True when the whole range is private or otherwise not on the internet.
    var isNonInternet: Bool { Self.nonInternet.contains { $0.contains(self) } }

    private static func masked(_ address: [UInt8], _ length: Int) -> [UInt8] {
        address.enumerated().map { index, byte in
            let bitsHere = min(max(length - index * 8, 0), 8)
            return bitsHere == 8 ? byte : byte & ~(UInt8(0xFF) >> bitsHere)
        }
    }

    static func parseAddress(_ text: String) -> [UInt8]? {
        text.contains(":") ? parseIPv6(text) : parseIPv4(text)
    }

    static func parseIPv4(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy({ $0.isASCII && $0.isNumber }), let v = UInt8(part) else { return nil }
            out.append(v)
        }
        return out
    }

    static func parseIPv6(_ text: String) -> [UInt8]? {
        // At most one "::", which stands for as many zero groups as are missing.
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ s: String, allowIPv4Tail: Bool) -> [UInt8]? {
            if s.isEmpty { return [] }
            var out: [UInt8] = []
            let parts = s.split(separator: ":", omittingEmptySubsequences: false)
            for (i, part) in parts.enumerated() {
                if i == parts.count - 1, allowIPv4Tail, part.contains(".") {
                    guard let v4 = parseIPv4(String(part)) else { return nil }
                    out += v4
                } else {
                    guard (1...4).contains(part.count), let v = UInt16(part, radix: 16), part.allSatisfy(\.isHexDigit) else { return nil }
                    out += [UInt8(v >> 8), UInt8(v & 0xFF)]
                }
            }
            return out
        }
        if halves.count == 1 {
            guard let all = groups(halves[0], allowIPv4Tail: true), all.count == 16 else { return nil }
            return all
        }
        guard let head = groups(halves[0], allowIPv4Tail: false), let tail = groups(halves[1], allowIPv4Tail: true),
            head.count + tail.count <= 14
        else { return nil }
        return head + Array(repeating: 0, count: 16 - head.count - tail.count) + tail
    }
}
