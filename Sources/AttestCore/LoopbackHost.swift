/// Loopback hosts: where credentials may travel over plain `http://` (a test peer, a local
/// credential endpoint), since the traffic never leaves the machine.
public enum LoopbackHost {
    /// `localhost`, `::1` (bracketed or not) and literal IPv4 addresses in 127.0.0.0/8 (not a
    /// host name that merely starts with "127.").
    public static func contains(_ host: String) -> Bool {
        let h = host.lowercased()
        if h == "localhost" || h == "::1" || h == "[::1]" { return true }
        return isIPv4Loopback(h)
    }

    public static func isIPv4Loopback(_ host: String) -> Bool {
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets[0] == "127" else { return false }
        return octets.allSatisfy { o in (1...3).contains(o.count) && o.allSatisfy { ("0"..."9").contains($0) } && Int(o)! <= 255 }
    }
}
