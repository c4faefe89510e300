/// A point in time as nanoseconds since the Unix epoch, UTC. Pure value: reading the clock is
/// the job of a `Clock` at the edge, not of this type.
public struct Timestamp: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var nanosecondsSinceEpoch: Int64

    public init(nanosecondsSinceEpoch: Int64) { self.nanosecondsSinceEpoch = nanosecondsSinceEpoch }

    public init(secondsSinceEpoch: Int64, nanoseconds: Int64 = 0) {
        self.nanosecondsSinceEpoch = secondsSinceEpoch * 1_000_000_000 + nanoseconds
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.nanosecondsSinceEpoch < rhs.nanosecondsSinceEpoch }

    public static let nanosecondsPerSecond: Int64 = 1_000_000_000
    public static let nanosecondsPerDay: Int64 = 86_400 * 1_000_000_000

    public func adding(nanoseconds: Int64) -> Timestamp { Timestamp(nanosecondsSinceEpoch: nanosecondsSinceEpoch + nanoseconds) }

    /// Microseconds since the epoch, rounded toward negative infinity (PostgreSQL's resolution).
    public var microsecondsSinceEpoch: Int64 {
        let (q, r) = nanosecondsSinceEpoch.quotientAndRemainder(dividingBy: 1000)
        return r < 0 ? q - 1 : q
    }

    /// RFC 3339 in UTC with microseconds, as CONTRACT.md prescribes: `2026-11-24T03:45:00.123456Z`.
    public var description: String {
        var out: [UInt8] = []
        out.reserveCapacity(27)
        appendRFC3339(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Writes `YYYY-MM-DDTHH:MM:SS.ffffffZ` (`separator` "T"; PostgreSQL also reads " ").
    @inlinable
    public func appendRFC3339(to out: inout [UInt8], separator: UInt8 = UInt8(ascii: "T")) {
        let micros = microsecondsSinceEpoch
        let (secondsQ, microR) = micros.quotientAndRemainder(dividingBy: 1_000_000)
        var seconds = secondsQ
        var micro = microR
        if micro < 0 { micro += 1_000_000; seconds -= 1 }
        var (days, secondOfDay) = seconds.quotientAndRemainder(dividingBy: 86_400)
        if secondOfDay < 0 { secondOfDay += 86_400; days -= 1 }
        let (year, month, day) = CivilCalendar.civil(fromDays: days)
        func two(_ v: Int64) { out.append(UInt8(48 + v / 10)); out.append(UInt8(48 + v % 10)) }
        let y = year
        out.append(UInt8(48 + (y / 1000) % 10)); out.append(UInt8(48 + (y / 100) % 10))
        out.append(UInt8(48 + (y / 10) % 10)); out.append(UInt8(48 + y % 10))
        out.append(UInt8(ascii: "-")); two(month)
        out.append(UInt8(ascii: "-")); two(day)
        out.append(separator)
        two(secondOfDay / 3600); out.append(UInt8(ascii: ":"))
        two((secondOfDay / 60) % 60); out.append(UInt8(ascii: ":"))
        two(secondOfDay % 60)
        out.append(UInt8(ascii: "."))
        var divisor: Int64 = 100_000
        while divisor > 0 { out.append(UInt8(48 + (micro / divisor) % 10)); divisor /= 10 }
        out.append(UInt8(ascii: "Z"))
    }

    /// Parses RFC 3339 (`2026-11-24T09:15:00.123456+05:30`, `...Z`): date, `T`/`t`/space,
    /// time, optional fraction of up to 9 digits, and a `Z` or `±HH:MM` offset, which is required.
    public static func parseRFC3339(_ text: String) -> Timestamp? {
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBytes { raw in parseRFC3339(UnsafeRawBufferPointer(raw), from: 0, to: raw.count) }
    }

    /// Parses RFC 3339 from `bytes[from..<to]`.
    @inlinable
    public static func parseRFC3339(_ b: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Timestamp? {
        // Fixed-position part: YYYY-MM-DDTHH:MM:SS is 19 bytes.
        guard end - start >= 20 else { return nil }
        @inline(__always) func digit(_ i: Int) -> Int64? {
            let d = b[start + i] &- 48
            return d < 10 ? Int64(d) : nil
        }
        @inline(__always) func number(_ i: Int, _ n: Int) -> Int64? {
            var v: Int64 = 0
            for k in 0..<n { guard let d = digit(i + k) else { return nil }; v = v * 10 + d }
            return v
        }
        guard let year = number(0, 4), b[start + 4] == UInt8(ascii: "-"),
              let month = number(5, 2), b[start + 7] == UInt8(ascii: "-"),
              let day = number(8, 2)
        else { return nil }
        let sep = b[start + 10]
        guard sep == UInt8(ascii: "T") || sep == UInt8(ascii: "t") || sep == UInt8(ascii: " ") else { return nil }
        guard let hour = number(11, 2), b[start + 13] == UInt8(ascii: ":"),
              let minute = number(14, 2), b[start + 16] == UInt8(ascii: ":"),
              let second = number(17, 2)
        else { return nil }
        guard month >= 1, month <= 12, day >= 1, day <= CivilCalendar.daysInMonth(year: year, month: month),
              hour <= 23, minute <= 59, second <= 59
        else { return nil }
        var i = start + 19
        var nanos: Int64 = 0
        if i < end && b[i] == UInt8(ascii: ".") {
            i += 1
            var digits = 0
            while i < end, b[i] &- 48 < 10 {
                guard digits < 9 else { return nil }
                nanos = nanos * 10 + Int64(b[i] &- 48)
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<9 { nanos *= 10 }
        }
        guard i < end else { return nil }
        var offsetSeconds: Int64 = 0
        let z = b[i]
        if z == UInt8(ascii: "Z") || z == UInt8(ascii: "z") {
            i += 1
        } else if z == UInt8(ascii: "+") || z == UInt8(ascii: "-") {
            guard end - i >= 6, b[i + 3] == UInt8(ascii: ":") else { return nil }
            let h0 = b[i + 1] &- 48, h1 = b[i + 2] &- 48, m0 = b[i + 4] &- 48, m1 = b[i + 5] &- 48
            guard h0 < 10, h1 < 10, m0 < 10, m1 < 10 else { return nil }
            let oh = Int64(h0) * 10 + Int64(h1), om = Int64(m0) * 10 + Int64(m1)
            guard oh <= 23, om <= 59 else { return nil }
            offsetSeconds = (oh * 3600 + om * 60) * (z == UInt8(ascii: "-") ? -1 : 1)
            i += 6
        } else {
            return nil
        }
        guard i == end else { return nil }
        let days = CivilCalendar.days(fromCivil: year, month, day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        // Nanoseconds since 1970 fit an Int64 only until 2262: later (or much earlier) years are
        // not representable, and rejected rather than trapped on (found by the fuzzer).
        let (scaled, overflow1) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let (total, overflow2) = scaled.addingReportingOverflow(nanos)
        guard !overflow1, !overflow2 else { return nil }
        return Timestamp(nanosecondsSinceEpoch: total)
    }
}

/// Proleptic Gregorian calendar arithmetic (Howard Hinnant's days-from-civil algorithms).
public enum CivilCalendar {
    @inlinable
    public static func isLeap(_ year: Int64) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    @inlinable
    public static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a civil date.
    @inlinable
    public static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The civil date of a day count since 1970-01-01.
    @inlinable
    public static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }
}
