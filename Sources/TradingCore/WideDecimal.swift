/// An exact decimal with four fractional digits in 128 bits: for the values the contract allows
/// beyond ``FixedDecimal``'s 10^14. Open interest may reach 10^15 (CONTRACT.md section 1), which
/// at 1/10,000 units needs 10^19 units, past `Int64`. Stored in `NUMERIC(20,4)` columns.
public struct WideDecimal: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Units of 10^-4.
    public var units: Int128

    public static let scale = 4
    /// Exclusive bound on |units| (10^20, i.e. |value| < 10^16): NUMERIC(20,4)'s range.
    public static let unitsLimit: Int128 = 100_000_000_000_000_000_000

    public init(units: Int128) { self.units = units }

    public init(_ value: FixedDecimal) { self.units = Int128(value.units) }

    public static let zero = WideDecimal(units: 0)

    public static func < (lhs: WideDecimal, rhs: WideDecimal) -> Bool { lhs.units < rhs.units }

    /// Parses decimal text such as `"1000000000000000"` or `"12.5"` exactly; `nil` if it has more
    /// than four significant fractional digits or lies outside the range.
    public init?(_ text: String) {
        var utf8 = Array(text.utf8)
        guard let value = utf8.withUnsafeMutableBufferPointer({ buffer -> WideDecimal? in
            var index = 0
            let result = DecimalText.parse(UnsafeRawBufferPointer(buffer), at: &index, scale: Self.scale, unitsLimit: Self.unitsLimit)
            guard index == buffer.count, case .success(let units) = result else { return nil }
            return WideDecimal(units: units)
        }) else { return nil }
        self = value
    }

    /// Canonical text: no exponent, trailing fractional zeros dropped.
    public var description: String {
        var out: [UInt8] = []
        out.reserveCapacity(26)
        append(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Writes the canonical text as ASCII bytes (the COPY and JSON encoders).
    public func append(to out: inout [UInt8]) {
        let magnitude = units.magnitude
        if units < 0 { out.append(UInt8(ascii: "-")) }
        var integer = magnitude / 10_000
        var fraction = magnitude % 10_000
        var digits: [UInt8] = []
        repeat {
            digits.append(UInt8(48 + integer % 10))
            integer /= 10
        } while integer > 0
        out.append(contentsOf: digits.reversed())
        guard fraction != 0 else { return }
        out.append(UInt8(ascii: "."))
        var width = 4
        while fraction % 10 == 0 { fraction /= 10; width -= 1 }
        var tail: [UInt8] = []
        for _ in 0..<width {
            tail.append(UInt8(48 + fraction % 10))
            fraction /= 10
        }
        out.append(contentsOf: tail.reversed())
    }
}
