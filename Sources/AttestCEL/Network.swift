import Foundation

/// An IPv4 or IPv6 address (the network extension's `net.IP`).
public struct CELIPAddress: Sendable, Hashable, CustomStringConvertible {
    /// The address as 16 bytes; IPv4 addresses are stored IPv4-mapped (`::ffff:a.b.c.d`).
    public var bytes: [UInt8]
    /// 4 or 6.
    public var family: Int

    /// Parses an address; throws a CELError with CEL's messages on malformed input.
    public init(parsing text: String) throws(CELError) {
        if text.contains("%") { throw CELError("IP Address with zone value is not allowed") }
        if let v4 = CELIPAddress.parseV4(text) {
            bytes = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] + v4
            family = 4
            return
        }
        if text.contains(":") {
            if text.contains(".") && text.lowercased().hasPrefix("::ffff:") { throw CELError("IPv4-mapped IPv6 address is not allowed") }
            if let v6 = CELIPAddress.parseV6(text) {
                bytes = v6
                family = 6
                return
            }
        }
        throw CELError("IP Address '\(text)' parse error during conversion from string")
    }

    init(bytes: [UInt8], family: Int) {
        self.bytes = bytes
        self.family = family
    }

    static func parseV4(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for p in parts {
            guard !p.isEmpty, p.count <= 3, p.allSatisfy({ $0.isASCII && $0.isNumber }), let v = Int(p), v <= 255 else { return nil }
            if p.count > 1 && p.hasPrefix("0") { return nil }
            out.append(UInt8(v))
        }
        return out
    }

    static func parseV6(_ text: String) -> [UInt8]? {
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ s: String) -> [UInt16]? {
            if s.isEmpty { return [] }
            var out: [UInt16] = []
            for g in s.split(separator: ":", omittingEmptySubsequences: false) {
                guard !g.isEmpty, g.count <= 4, let v = UInt16(g, radix: 16) else { return nil }
                out.append(v)
            }
            return out
        }
        var all: [UInt16]
        if halves.count == 2 {
            guard let head = groups(halves[0]), let tail = groups(halves[1]), head.count + tail.count <= 7 else { return nil }
            all = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        } else {
            guard let g = groups(halves[0]), g.count == 8 else { return nil }
            all = g
        }
        return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
    }

    var isV4Mapped: Bool { bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xff && bytes[11] == 0xff }
    var v4Bytes: ArraySlice<UInt8> { bytes[12..<16] }

    /// Addresses are equal when their 16-byte forms are (an IPv4 address equals its IPv4-mapped IPv6 form).
    public static func == (lhs: CELIPAddress, rhs: CELIPAddress) -> Bool { lhs.bytes == rhs.bytes }
    /// Hashes the 16-byte form.
    public func hash(into hasher: inout Hasher) { hasher.combine(bytes) }

    /// Dotted quad for IPv4, RFC 5952 form for IPv6.
    public var description: String {
        if family == 4 { return v4Bytes.map(String.init).joined(separator: ".") }
        var groups: [UInt16] = []
        for i in stride(from: 0, to: 16, by: 2) { groups.append(UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1])) }
        var bestStart = -1
        var bestLen = 0
        var i = 0
        while i < 8 {
            if groups[i] == 0 {
                var j = i
                while j < 8 && groups[j] == 0 { j += 1 }
                if j - i > bestLen && j - i >= 2 {
                    bestStart = i
                    bestLen = j - i
                }
                i = j
            } else {
                i += 1
            }
        }
        func hex(_ r: ArraySlice<UInt16>) -> String { r.map { String($0, radix: 16) }.joined(separator: ":") }
        if bestStart < 0 { return hex(groups[...]) }
        return hex(groups[0..<bestStart]) + "::" + hex(groups[(bestStart + bestLen)...])
    }

    var isUnspecified: Bool { family == 4 ? v4Bytes.allSatisfy { $0 == 0 } : bytes.allSatisfy { $0 == 0 } }
    var isLoopback: Bool {
        if family == 4 { return bytes[12] == 127 }
        return bytes[0..<15].allSatisfy { $0 == 0 } && bytes[15] == 1
    }
    var isMulticast: Bool { family == 4 ? bytes[12] & 0xf0 == 0xe0 : bytes[0] == 0xff }
    var isLinkLocalUnicast: Bool { family == 4 ? (bytes[12] == 169 && bytes[13] == 254) : (bytes[0] == 0xfe && bytes[1] & 0xc0 == 0x80) }
    var isLinkLocalMulticast: Bool {
        family == 4 ? (bytes[12] == 224 && bytes[13] == 0 && bytes[14] == 0) : (bytes[0] == 0xff && bytes[1] & 0x0f == 0x02)
    }
    var isGlobalUnicast: Bool {
        if family == 4 && v4Bytes.allSatisfy({ $0 == 255 }) { return false }
        return !isUnspecified && !isLoopback && !isMulticast && !isLinkLocalUnicast
    }
}

/// A CIDR range (the network extension's `net.CIDR`): an address and a prefix length.
public struct CELCIDR: Sendable, Hashable, CustomStringConvertible {
    /// The address as written (not masked).
    public var address: CELIPAddress
    /// The prefix length in bits (0...32 for IPv4, 0...128 for IPv6).
    public var prefixLength: Int

    /// Parses `a.b.c.d/n` or `x::/n`; throws a CELError with CEL's messages.
    public init(parsing text: String) throws(CELError) {
        if text.contains("%") { throw CELError("CIDR with zone value is not allowed") }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let n = Int(parts[1]) else { throw CELError("network address parse error during conversion from string") }
        let ip: CELIPAddress
        do { ip = try CELIPAddress(parsing: String(parts[0])) } catch {
            if error.message.contains("not allowed") { throw error }
            throw CELError("network address parse error during conversion from string")
        }
        guard n >= 0, n <= (ip.family == 4 ? 32 : 128) else { throw CELError("network address parse error during conversion from string") }
        address = ip
        prefixLength = n
    }

    init(address: CELIPAddress, prefixLength: Int) {
        self.address = address
        self.prefixLength = prefixLength
    }

    /// `address/prefix`.
    public var description: String { "\(address)/\(prefixLength)" }

    /// The prefix length in bits of the 16-byte form.
    var bits16: Int { address.family == 4 ? prefixLength + 96 : prefixLength }

    func mask(_ bytes: [UInt8], bits: Int) -> [UInt8] {
        var out = bytes
        for i in 0..<16 {
            let keep = max(0, min(8, bits - i * 8))
            out[i] &= keep == 8 ? 0xff : UInt8(truncatingIfNeeded: 0xff << (8 - keep))
        }
        return out
    }

    /// The range with host bits cleared.
    var masked: CELCIDR {
        CELCIDR(address: CELIPAddress(bytes: mask(address.bytes, bits: bits16), family: address.family), prefixLength: prefixLength)
    }

    func contains(_ ip: CELIPAddress) -> Bool {
        ip.family == address.family && mask(ip.bytes, bits: bits16) == mask(address.bytes, bits: bits16)
    }

    func contains(_ other: CELCIDR) -> Bool {
        other.address.family == address.family && other.prefixLength >= prefixLength && contains(other.address)
    }
}
