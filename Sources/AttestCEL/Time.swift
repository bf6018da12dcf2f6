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

/// The civil UTC date and time of a count of seconds since the epoch (any Int64, without overflow).
func civil(fromSeconds seconds: Int64) -> CivilTime {
    var days = seconds / 86_400
    var secondOfDay = seconds % 86_400
    if secondOfDay < 0 {
        secondOfDay += 86_400
        days -= 1
    }
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
    return CivilTime(
        year: year, month: month, day: day, hour: secondOfDay / 3600, minute: secondOfDay % 3600 / 60,
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
        guard let oh = digits(2), expect(58), let om = digits(2), oh < 24, om < 60 else { return nil }
        offset = (oh * 3600 + om * 60) * (negative ? -1 : 1)
    } else {
        return nil
    }
    guard i == b.count else { return nil }
    // No leap seconds (second 60): Go's time.Parse, which cel-go uses, rejects them too.
    guard (1...12).contains(month), day >= 1, day <= daysInMonth(year, month), hour < 24, minute < 60, second < 60 else { return nil }
    let secs = daysFromCivil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset
    return CELTimestamp(seconds: secs, nanos: Int32(nanos))
}

func daysInMonth(_ year: Int64, _ month: Int64) -> Int64 {
    switch month {
    case 2: return (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28
    case 4, 6, 9, 11: return 30
    default: return 31
    }
}

/// Why a duration string was rejected.
enum DurationParseError: Error, Equatable {
    /// Not of the form `[-+]?([0-9]*(\.[0-9]*)?unit)+` (or `0`).
    case malformed
    /// Well formed, but beyond what Int64 nanoseconds hold.
    case outOfRange
}

/// Parses a duration as Go's `time.ParseDuration` does (`1h2m3.5s`, `-1.5s`, `100ms`, `2us`, `3ns`, `0`), exactly:
/// fractions are computed in integer arithmetic to the nanosecond (truncated), never rounded through a double.
/// The result must fit Int64 nanoseconds (so `-9223372036854775808ns` is the most negative duration).
func parseDuration(_ text: String) -> Result<CELDuration, DurationParseError> {
    let b = Array(text.utf8)
    var i = 0
    var negative = false
    if i < b.count, b[i] == UInt8(ascii: "-") || b[i] == UInt8(ascii: "+") {
        negative = b[i] == UInt8(ascii: "-")
        i += 1
    }
    if b.count - i == 1, b[i] == UInt8(ascii: "0") { return .success(CELDuration(totalNanos: 0)) }
    guard i < b.count else { return .failure(.malformed) }
    func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
    let limit: UInt64 = 1 << 63  // the magnitude of Int64.min
    var magnitude: UInt64 = 0
    var overflowed = false
    while i < b.count {
        guard isDigit(b[i]) || b[i] == UInt8(ascii: ".") else { return .failure(.malformed) }
        // Integer part.
        var whole: UInt64 = 0
        var wholeDigits = 0
        while i < b.count, isDigit(b[i]) {
            let (m, o1) = whole.multipliedReportingOverflow(by: 10)
            let (v, o2) = m.addingReportingOverflow(UInt64(b[i] - UInt8(ascii: "0")))
            if o1 || o2 { overflowed = true } else { whole = v }
            wholeDigits += 1
            i += 1
        }
        // Fraction: the first 19 digits as an integer over 10^digits (more digits change the value by < 1e-6 ns).
        var fraction: UInt64 = 0
        var scale: UInt64 = 1
        var fractionDigits = 0
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            while i < b.count, isDigit(b[i]) {
                if fractionDigits < 19 {
                    fraction = fraction * 10 + UInt64(b[i] - UInt8(ascii: "0"))
                    scale *= 10
                }
                fractionDigits += 1
                i += 1
            }
        }
        guard wholeDigits + fractionDigits > 0 else { return .failure(.malformed) }
        // Unit: the run of characters up to the next digit or '.'.
        let unitStart = i
        while i < b.count, !isDigit(b[i]), b[i] != UInt8(ascii: ".") { i += 1 }
        let unit: UInt64
        switch String(decoding: b[unitStart..<i], as: UTF8.self) {
        case "ns": unit = 1
        case "us", "\u{00B5}s", "\u{03BC}s": unit = 1_000
        case "ms": unit = 1_000_000
        case "s": unit = 1_000_000_000
        case "m": unit = 60_000_000_000
        case "h": unit = 3_600_000_000_000
        default: return .failure(.malformed)
        }
        if overflowed { continue }  // keep validating the syntax; the value is already out of range
        let (scaled, o1) = whole.multipliedReportingOverflow(by: unit)
        // fraction × unit / scale, exactly (fraction < scale, so the quotient is < unit).
        let product = unit.multipliedFullWidth(by: fraction)
        let part = scale.dividingFullWidth((high: product.high, low: product.low)).quotient
        let (sum, o2) = scaled.addingReportingOverflow(part)
        let (total, o3) = magnitude.addingReportingOverflow(sum)
        if o1 || o2 || o3 || total > limit { overflowed = true } else { magnitude = total }
    }
    if overflowed || (!negative && magnitude == limit) { return .failure(.outOfRange) }
    if magnitude == limit { return .success(CELDuration(totalNanos: Int64.min)) }
    let value = Int64(magnitude)
    return .success(CELDuration(totalNanos: negative ? -value : value))
}

/// Resolves a timezone argument: an IANA name (`America/New_York`, `UTC`) or a fixed offset (`+05:30`, `-08:00`).
/// Returns the offset from UTC in seconds at the given instant.
func timezoneOffset(_ name: String, at seconds: Int64) -> Int64? {
    let b = Array(name.utf8)
    if let first = b.first, first == 43 || first == 45 || (first >= 48 && first <= 57) {
        // ±HH:MM or HH:MM
        var s = Substring(name)
        var sign: Int64 = 1
        if s.hasPrefix("-") {
            sign = -1
            s = s.dropFirst()
        } else if s.hasPrefix("+") {
            s = s.dropFirst()
        }
        let parts = s.split(separator: ":")
        guard parts.count == 2, let h = Int64(parts[0]), let m = Int64(parts[1]), h < 24, m < 60 else { return nil }
        return sign * (h * 3600 + m * 60)
    }
    guard let tz = TimeZone(identifier: name) else { return nil }
    return Int64(tz.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(seconds))))
}
