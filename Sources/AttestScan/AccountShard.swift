import Foundation

/// One of `count` disjoint parts of a target's accounts (`--shard 2/8`): shard `index` keeps the
/// accounts whose hash falls on it. The hash is of the account id alone, so an account stays in
/// its shard when others are added or removed, and every shard of one `count` together hold each
/// account exactly once (a Kubernetes Indexed Job passes `$(JOB_COMPLETION_INDEX)/count`).
public struct AccountShard: Sendable, Hashable, CustomStringConvertible {
    public var index: Int
    public var count: Int

    /// `i/n` with 0 ≤ i < n; anything else is nil.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0].trimmingCharacters(in: .whitespaces)),
            let n = Int(parts[1].trimmingCharacters(in: .whitespaces)), n >= 1, n <= 100_000, i >= 0, i < n
        else { return nil }
        self.index = i
        self.count = n
    }

    public init(index: Int, count: Int) {
        precondition(count >= 1 && index >= 0 && index < count)
        self.index = index
        self.count = count
    }

    public var description: String { "\(index)/\(count)" }

    /// True when `account` belongs to this shard.
    public func contains(_ account: String) -> Bool { Self.shard(of: account, count: count) == index }

    /// The shard `account` falls on among `count`: FNV-1a over its UTF-8 bytes, then the
    /// SplitMix64 finaliser so that ids differing in one digit spread over every shard. Fixed
    /// here (not `Hasher`, which is seeded per process) so every run and machine agree.
    public static func shard(of account: String, count: Int) -> Int {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in account.utf8 {
            h ^= UInt64(byte)
            h = h &* 0x0000_0100_0000_01b3
        }
        h ^= h >> 30
        h = h &* 0xbf58_476d_1ce4_e5b9
        h ^= h >> 27
        h = h &* 0x94d0_49bb_1331_11eb
        h ^= h >> 31
        return Int(h % UInt64(count))
    }
}
