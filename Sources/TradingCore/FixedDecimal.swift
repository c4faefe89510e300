/// An exact decimal with four fractional digits, stored as an integer count of 1/10,000ths.
///
/// Money, prices and open interest are never `Double` in this engine. Four digits hold every
/// Indian instrument's tick (CDS trades in 0.0025 steps); the range, |value| < 10^14, is what the
/// database's `NUMERIC(18,4)` columns hold, so anything that parses also stores exactly.
public struct FixedDecimal: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// Units of 10^-4.
    public var units: Int64

    public static let scale: Int = 4
    public static let unitsPerOne: Int64 = 10_000
    /// Exclusive bound on |units| (10^18, i.e. |value| < 10^14): NUMERIC(18,4)'s range.
    public static let unitsLimit: Int64 = 1_000_000_000_000_000_000

    public init(units: Int64) { self.units = units }

    public init(_ integer: Int64) { self.units = integer * Self.unitsPerOne }

    public static let zero = FixedDecimal(units: 0)

    public static func < (lhs: FixedDecimal, rhs: FixedDecimal) -> Bool { lhs.units < rhs.units }

    public static func + (lhs: FixedDecimal, rhs: FixedDecimal) -> FixedDecimal { FixedDecimal(units: lhs.units + rhs.units) }
    public static func - (lhs: FixedDecimal, rhs: FixedDecimal) -> FixedDecimal { FixedDecimal(units: lhs.units - rhs.units) }

    /// Parses decimal text such as `"2450.05"`, `"-0.0025"`, `"1e3"` exactly; `nil` if it has more
    /// than four significant fractional digits or lies outside the range.
    public init?(_ text: String) {
        var utf8 = Array(text.utf8)
        guard let value = utf8.withUnsafeMutableBufferPointer({ buffer -> FixedDecimal? in
            var index = 0
            let result = FixedDecimal.parseJSONNumber(UnsafeRawBufferPointer(buffer), at: &index)
            guard index == buffer.count else { return nil }
            if case .success(let value) = result { return value }
            return nil
        }) else { return nil }
        self = value
    }

    /// Canonical text: no exponent, trailing fractional zeros dropped (`"2450.05"`, `"10"`).
    public var description: String {
        var out: [UInt8] = []
        out.reserveCapacity(24)
        append(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Writes the canonical text as ASCII bytes (used by the COPY and JSON encoders).
    @inlinable
    public func append(to out: inout [UInt8]) {
        let magnitude = units.magnitude
        if units < 0 { out.append(UInt8(ascii: "-")) }
        let integer = magnitude / 10_000
        var fraction = magnitude % 10_000
        appendDecimal(integer, to: &out)
        if fraction != 0 {
            out.append(UInt8(ascii: "."))
            var digits = 4
            while fraction % 10 == 0 { fraction /= 10; digits -= 1 }
            var buffer: (UInt8, UInt8, UInt8, UInt8) = (48, 48, 48, 48)
            withUnsafeMutableBytes(of: &buffer) { raw in
                var f = fraction
                var i = digits - 1
                while i >= 0 { raw[i] = UInt8(48 + f % 10); f /= 10; i -= 1 }
                for j in 0..<digits { out.append(raw[j]) }
            }
        }
    }

    /// The result of parsing a JSON number token.
    public enum ParseResult: Sendable, Equatable {
        case success(FixedDecimal)
        /// Not a JSON number at all.
        case syntax
        /// A valid number that this type cannot hold exactly (too many decimals, too large).
        case unrepresentable
    }

    /// Parses a JSON number (RFC 8259 grammar) starting at `index`, advancing past it. Exact:
    /// `"100.12340"` is 100.1234; `"100.12345"` is `.unrepresentable`, never rounded.
    @inlinable
    public static func parseJSONNumber(_ bytes: UnsafeRawBufferPointer, at index: inout Int) -> ParseResult {
        switch DecimalText.parse(bytes, at: &index, scale: scale, unitsLimit: unitsLimit) {
        case .success(let units): .success(FixedDecimal(units: units))
        case .syntax: .syntax
        case .unrepresentable: .unrepresentable
        }
    }
}

/// The JSON number grammar read exactly into an integer count of 10^-scale units, for any
/// integer width: `FixedDecimal` reads into `Int64`, `WideDecimal` into `Int128`. Generic and
/// inlinable so each caller gets a specialised copy on the hot path.
public enum DecimalText {
    public enum Outcome<Units: FixedWidthInteger & SignedInteger & Sendable>: Sendable, Equatable {
        case success(Units)
        /// Not a JSON number at all.
        case syntax
        /// A valid number that `Units` at this scale cannot hold exactly (too many decimals, too large).
        case unrepresentable
    }

    @inlinable
    public static func parse<Units: FixedWidthInteger & SignedInteger & Sendable>(
        _ bytes: UnsafeRawBufferPointer, at index: inout Int, scale: Int, unitsLimit: Units
    ) -> Outcome<Units> {
        let count = bytes.count
        var i = index
        var negative = false
        if i < count && bytes[i] == UInt8(ascii: "-") { negative = true; i += 1 }
        guard i < count, bytes[i] &- 48 < 10 else { return .syntax }
        var mantissa: Units = 0
        var overflow = false
        // Integer part: no leading zeros unless the part is exactly "0".
        if bytes[i] == 48 {
            i += 1
            if i < count && bytes[i] &- 48 < 10 { return .syntax }
        } else {
            while i < count, bytes[i] &- 48 < 10 {
                let (m, o1) = mantissa.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(Units(bytes[i] &- 48))
                overflow = overflow || o1 || o2
                mantissa = s
                i += 1
            }
        }
        // Fraction: trailing zeros are exact and free, so they are only applied when a nonzero
        // digit follows (keeps "1.000000000000000000000" from overflowing).
        var fractionDigits = 0
        if i < count && bytes[i] == UInt8(ascii: ".") {
            i += 1
            guard i < count, bytes[i] &- 48 < 10 else { return .syntax }
            var pendingZeros = 0
            while i < count, bytes[i] &- 48 < 10 {
                let digit = Units(bytes[i] &- 48)
                if digit == 0 {
                    pendingZeros += 1
                } else {
                    // Past the overflow point every further digit would overflow too: stop
                    // multiplying (a million zeros must not cost a million multiplications).
                    if !overflow {
                        for _ in 0...pendingZeros {
                            let (m, o) = mantissa.multipliedReportingOverflow(by: 10)
                            overflow = overflow || o
                            mantissa = m
                            if o { break }
                        }
                        let (s, o) = mantissa.addingReportingOverflow(digit)
                        overflow = overflow || o
                        mantissa = s
                    }
                    fractionDigits &+= pendingZeros + 1
                    pendingZeros = 0
                }
                i += 1
            }
        }
        var exponent = 0
        if i < count && (bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E")) {
            i += 1
            var expNegative = false
            if i < count && (bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-")) {
                expNegative = bytes[i] == UInt8(ascii: "-")
                i += 1
            }
            guard i < count, bytes[i] &- 48 < 10 else { return .syntax }
            while i < count, bytes[i] &- 48 < 10 {
                if exponent < 100_000 { exponent = exponent * 10 + Int(bytes[i] &- 48) }
                i += 1
            }
            if expNegative { exponent = -exponent }
        }
        index = i
        if overflow { return .unrepresentable }
        if mantissa == 0 { return .success(0) }
        // units = mantissa * 10^(exponent - fractionDigits + scale)
        guard fractionDigits < 1_000_000 else { return .unrepresentable }
        var shift = exponent - fractionDigits + scale
        if shift > 40 || shift < -80 { return .unrepresentable }
        while shift > 0 {
            let (m, o) = mantissa.multipliedReportingOverflow(by: 10)
            if o { return .unrepresentable }
            mantissa = m
            shift -= 1
        }
        while shift < 0 {
            if mantissa % 10 != 0 { return .unrepresentable }
            mantissa /= 10
            shift += 1
        }
        guard mantissa < unitsLimit else { return .unrepresentable }
        return .success(negative ? -mantissa : mantissa)
    }
}

/// Appends the decimal digits of `value`.
@inlinable
public func appendDecimal(_ value: UInt64, to out: inout [UInt8]) {
    if value < 10 { out.append(UInt8(48 + value)); return }
    var buffer: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: enough for 20 digits
    withUnsafeMutableBytes(of: &buffer) { raw in
        var v = value
        var i = 24
        while v > 0 { i -= 1; raw[i] = UInt8(48 + v % 10); v /= 10 }
        for j in i..<24 { out.append(raw[j]) }
    }
}

/// Appends the decimal digits of a signed `value`.
@inlinable
public func appendDecimal(_ value: Int64, to out: inout [UInt8]) {
    if value < 0 { out.append(UInt8(ascii: "-")) }
    appendDecimal(value.magnitude, to: &out)
}
