import Foundation

/// A broken-down civil date and time.
struct CivilTime {
    var year: Int64, month: Int64, day: Int64, hour: Int64, minute: Int64, second: Int64
    var dayOfWeek: Int64  // 0 = Sunday
    var dayOfYear: Int64  // 0-based
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
func daysFromCivil(_ y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
    let y = m <= 2 ? y0 - 1 : y0
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let mp = (m + 9) % 12
    let doy = (153 * mp + 2) / 5 + d - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    return era * 146_097 + doe - 719_468
}

func civil(fromSeconds seconds: Int64) -> CivilTime {
    let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
    let secondOfDay = seconds - days * 86_400
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let doe = z - era * 146_097
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let day = doy - (153 * mp + 2) / 5 + 1
    let month = mp < 10 ? mp + 3 : mp - 9
    let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
    let dow = ((days % 7) + 11) % 7  // 1970-01-01 was a Thursday (4)
    let dayOfYear = days - daysFromCivil(year, 1, 1)
    return CivilTime(year: year, month: month, day: day, hour: secondOfDay / 3600, minute: secondOfDay % 3600 / 60,
                     second: secondOfDay % 60, dayOfWeek: dow, dayOfYear: dayOfYear)
}

/// Parses RFC 3339 with a `Z` or `±HH:MM` offset and optional fraction up to nanoseconds.
func parseRFC3339(_ text: String) -> CELTimestamp? {
    let b = Array(text.utf8)
    var i = 0
    func digits(_ n: Int) -> Int64? {
        guard i + n <= b.count else { return nil }
        var v: Int64 = 0
        for k in 0..<n {
            let c = b[i + k]
            guard c >= 48 && c <= 57 else { return nil }
            v = v * 10 + Int64(c - 48)
        }
        i += n
        return v
    }
    func expect(_ c: UInt8) -> Bool {
        guard i < b.count, b[i] == c else { return false }
        i += 1
        return true
    }
    guard let year = digits(4), expect(45), let month = digits(2), expect(45), let day = digits(2) else { return nil }
    guard i < b.count, b[i] == 84 || b[i] == 116 else { return nil }  // T or t
    i += 1
    guard let hour = digits(2), expect(58), let minute = digits(2), expect(58), let second = digits(2) else { return nil }
    var nanos: Int64 = 0
    if i < b.count, b[i] == 46 {
        i += 1
        var count = 0
        while i < b.count, b[i] >= 48, b[i] <= 57 {
            if count < 9 { nanos = nanos * 10 + Int64(b[i] - 48) }
            count += 1
            i += 1
        }
        guard count > 0 else { return nil }
        for _ in count..<max(count, 9) { nanos *= 10 }
    }
    var offset: Int64 = 0
    guard i < b.count else { return nil }
    if b[i] == 90 || b[i] == 122 {
        i += 1
    } else if b[i] == 43 || b[i] == 45 {
        let negative = b[i] == 45
        i += 1
        guard let oh = digits(2), expect(58), let om = digits(2) else { return nil }
        offset = (oh * 3600 + om * 60) * (negative ? -1 : 1)
    } else {
        return nil
    }
    guard i == b.count else { return nil }
    guard (1...12).contains(month), day >= 1, day <= daysInMonth(year, month), hour < 24, minute < 60, second < 61 else { return nil }
    let secs = daysFromCivil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + min(second, 59) - offset
    return CELTimestamp(seconds: secs, nanos: Int32(nanos))
}

func daysInMonth(_ year: Int64, _ month: Int64) -> Int64 {
    switch month {
    case 2: return (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28
    case 4, 6, 9, 11: return 30
    default: return 31
    }
}

/// Parses a Go-style duration: `1h2m3.5s`, `-1.5s`, `100ms`, `2us`, `3ns`.
func parseDuration(_ text: String) -> CELDuration? {
    var s = Substring(text)
    var negative = false
    if s.hasPrefix("-") { negative = true; s = s.dropFirst() } else if s.hasPrefix("+") { s = s.dropFirst() }
    if s == "0" { return CELDuration(seconds: 0) }
    guard !s.isEmpty else { return nil }
    var totalNanos: Double = 0
    var exactNanos: Int64 = 0
    var exact = true
    let chars = Array(s.unicodeScalars)
    var i = 0
    while i < chars.count {
        let start = i
        while i < chars.count, (chars[i].value >= 48 && chars[i].value <= 57) || chars[i] == "." { i += 1 }
        guard i > start else { return nil }
        let numberText = String(String.UnicodeScalarView(chars[start..<i]))
        guard let number = Double(numberText) else { return nil }
        let unitStart = i
        while i < chars.count, !(chars[i].value >= 48 && chars[i].value <= 57), chars[i] != "." { i += 1 }
        let unit = String(String.UnicodeScalarView(chars[unitStart..<i]))
        let scale: Int64
        switch unit {
        case "h": scale = 3_600_000_000_000
        case "m": scale = 60_000_000_000
        case "s": scale = 1_000_000_000
        case "ms": scale = 1_000_000
        case "us", "µs", "μs": scale = 1_000
        case "ns": scale = 1
        default: return nil
        }
        totalNanos += number * Double(scale)
        if exact {
            if let whole = Int64(numberText) {
                let (m, o) = whole.multipliedReportingOverflow(by: scale)
                let (t, o2) = exactNanos.addingReportingOverflow(m)
                if o || o2 { exact = false } else { exactNanos = t }
            } else {
                // Fractional: split into integer and fraction digits for exactness.
                let parts = numberText.split(separator: ".", omittingEmptySubsequences: false)
                let intPart = Int64(parts[0].isEmpty ? "0" : String(parts[0])) ?? 0
                var frac = parts.count > 1 ? String(parts[1]) : ""
                if frac.count > 18 { frac = String(frac.prefix(18)) }
                let fracValue = Int64(frac.isEmpty ? "0" : frac) ?? 0
                var denom: Int64 = 1
                for _ in 0..<frac.count { denom *= 10 }
                let (m, o) = intPart.multipliedReportingOverflow(by: scale)
                let fracNanos = Int64((Double(fracValue) / Double(denom) * Double(scale)).rounded(.towardZero))
                let (t, o2) = exactNanos.addingReportingOverflow(m)
                let (t2, o3) = t.addingReportingOverflow(fracNanos)
                if o || o2 || o3 { exact = false } else { exactNanos = t2 }
            }
        }
    }
    if !exact {
        // Beyond int64 nanoseconds: compute seconds directly.
        let secs = totalNanos / 1e9
        guard secs.magnitude < 1e15 else { return nil }
        let d = CELDuration(seconds: Int64(secs) * (negative ? -1 : 1))
        return d
    }
    return CELDuration(totalNanos: negative ? -exactNanos : exactNanos)
}

/// Resolves a timezone argument: an IANA name (`America/New_York`, `UTC`) or a fixed offset (`+05:30`, `-08:00`).
/// Returns the offset from UTC in seconds at the given instant.
func timezoneOffset(_ name: String, at seconds: Int64) -> Int64? {
    let b = Array(name.utf8)
    if let first = b.first, first == 43 || first == 45 || (first >= 48 && first <= 57) {
        // ±HH:MM or HH:MM
        var s = Substring(name)
        var sign: Int64 = 1
        if s.hasPrefix("-") { sign = -1; s = s.dropFirst() } else if s.hasPrefix("+") { s = s.dropFirst() }
        let parts = s.split(separator: ":")
        guard parts.count == 2, let h = Int64(parts[0]), let m = Int64(parts[1]), h < 24, m < 60 else { return nil }
        return sign * (h * 3600 + m * 60)
    }
    guard let tz = TimeZone(identifier: name) else { return nil }
    return Int64(tz.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(seconds))))
}
