public import Foundation

/// Where things go in an evidence store. Record files are Hive-style partitions that Athena,
/// Trino and DuckDB read as they are; manifests, keys and in-progress markers live under names
/// starting with `_`, which those engines skip.
public enum EvidenceLayout {
    public static let scansPrefix = "_scans/"
    public static let pendingPrefix = "_scans/pending/"
    public static let publicKeyKey = "_keys/evidence-signing-key.pub.pem"

    /// The partition value for a requirement id: lower case, anything but letters, digits, `.`,
    /// `-` and `_` replaced by `-` (`CC6.1` → `cc6.1`, `RTS-2024/1774.9` → `rts-2024-1774.9`).
    public static func slug(_ requirement: String) -> String {
        String(
            requirement.lowercased().unicodeScalars.map { s -> Character in
                switch s {
                case "a"..."z", "0"..."9", ".", "-", "_": Character(s)
                default: "-"
                }
            })
    }

    /// `framework=soc2/requirement=cc6.1/year=2026/month=11/day=21/<scan-id>.jsonl`
    public static func recordKey(framework: String, requirement: String, date: Date, scanID: String) -> String {
        let d = UTCDay(date)
        return "framework=\(framework)/requirement=\(slug(requirement))/year=\(d.year)/month=\(d.month2)/day=\(d.day2)/\(scanID).jsonl"
    }

    /// `_scans/0000000042.json`: the sequence number orders the manifest chain, and being the
    /// whole name it is what create-if-absent makes unique.
    public static func manifestKey(sequence: Int) -> String {
        scansPrefix + String(format: "%010d", sequence) + ".json"
    }

    public static func pendingKey(scanID: String) -> String { pendingPrefix + scanID + ".json" }

    /// The longest key a store accepts.
    public static let maxKeyLength = 1024

    /// The `/`-separated parts of a key, refusing any key that could name something outside the
    /// store: absolute, empty, `.` or `..` parts, and characters outside letters, digits and
    /// `. _ = -` (what attest's own keys use). Keys come from manifests, which an attacker may edit.
    public static func components(of key: String) throws -> [String] {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let safe =
            !key.isEmpty && key.utf8.count <= maxKeyLength
            && parts.allSatisfy { part in
                !part.isEmpty && part != "." && part != ".."
                    && part.unicodeScalars.allSatisfy { s in
                        ("a"..."z").contains(s) || ("A"..."Z").contains(s) || ("0"..."9").contains(s) || "._=-".unicodeScalars.contains(s)
                    }
            }
        guard safe else { throw EvidenceStoreError("unsafe key \(key.debugDescription): not a path inside an evidence store") }
        return parts
    }

    /// True for a key ``components(of:)`` accepts.
    public static func isSafeKey(_ key: String) -> Bool { (try? components(of: key)) != nil }

    /// The parts of a record key, or nil for anything else.
    public static func parseRecordKey(_ key: String) -> RecordKey? {
        let parts = key.split(separator: "/")
        guard parts.count == 6, parts[5].hasSuffix(".jsonl") else { return nil }
        func value(_ i: Int, _ name: String) -> String? {
            let p = parts[i]
            guard p.hasPrefix(name + "=") else { return nil }
            return String(p.dropFirst(name.count + 1))
        }
        guard let framework = value(0, "framework"), let requirement = value(1, "requirement"),
            let year = value(2, "year").flatMap(Int.init), let month = value(3, "month").flatMap(Int.init),
            let day = value(4, "day").flatMap(Int.init)
        else { return nil }
        return RecordKey(
            key: key, framework: framework, requirementSlug: requirement, year: year, month: month, day: day,
            scanID: String(parts[5].dropLast(".jsonl".count)))
    }

    /// The sequence number of a manifest key, or nil.
    public static func parseManifestKey(_ key: String) -> Int? {
        guard key.hasPrefix(scansPrefix), key.hasSuffix(".json") else { return nil }
        let name = key.dropFirst(scansPrefix.count).dropLast(".json".count)
        guard name.count == 10, name.allSatisfy(\.isNumber) else { return nil }
        return Int(name)
    }

    /// A new scan id: the UTC start time and 8 random hex digits, so ids sort by time.
    public static func newScanID(startedAt: Date) -> String {
        let d = UTCDay(startedAt)
        let seconds = Int(startedAt.timeIntervalSince1970) % 86_400
        let time = String(format: "%02d%02d%02d", seconds / 3600, (seconds / 60) % 60, seconds % 60)
        let random = String(format: "%08x", UInt32.random(in: .min ... .max))
        return "\(d.year)\(d.month2)\(d.day2)T\(time)Z-\(random)"
    }
}

/// The parts of a record file's key.
public struct RecordKey: Sendable, Hashable {
    public var key: String
    public var framework: String
    public var requirementSlug: String
    public var year: Int
    public var month: Int
    public var day: Int
    public var scanID: String

    /// Midnight UTC of the partition's day.
    public var day0: Date { UTCDay.date(year: year, month: month, day: day) }
}

/// A calendar day in UTC.
struct UTCDay {
    var year: Int
    var month: Int
    var day: Int

    init(_ date: Date) {
        let c = Self.calendar.dateComponents([.year, .month, .day], from: date)
        year = c.year!
        month = c.month!
        day = c.day!
    }

    var month2: String { String(format: "%02d", month) }
    var day2: String { String(format: "%02d", day) }

    static let calendar: Calendar = {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "UTC")!
        return c
    }()

    static func date(year: Int, month: Int, day: Int) -> Date {
        calendar.date(from: DateComponents(year: year, month: month, day: day)) ?? .distantPast
    }
}

/// RFC 3339 timestamps in UTC with milliseconds, as evidence and manifests write them.
public enum EvidenceTime {
    public static func string(_ date: Date) -> String {
        let ms = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        let seconds = Int(ms / 1000)
        let d = UTCDay(Date(timeIntervalSince1970: TimeInterval(seconds)))
        let s = seconds % 86_400
        return String(format: "%04d-", d.year) + d.month2 + "-" + d.day2
            + String(format: "T%02d:%02d:%02d.%03dZ", s / 3600, (s / 60) % 60, s % 60, Int(ms % 1000))
    }

    public static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded(.down)) }

    /// Parses `2026-01-01`, `2026-01-01T10:00:00Z` or with fractional seconds and offsets.
    public static func parse(_ text: String) -> Date? {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t.count == 10 {
            let parts = t.split(separator: "-").compactMap { Int($0) }
            guard parts.count == 3, (1...12).contains(parts[1]), (1...31).contains(parts[2]) else { return nil }
            return UTCDay.date(year: parts[0], month: parts[1], day: parts[2])
        }
        let withFraction = ISO8601DateFormatter()
        withFraction.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = withFraction.date(from: t) { return d }
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        return plain.date(from: t)
    }
}
