/// Writes a tick as the JSON payload of CONTRACT.md section 1 (what publishers send). Used by
/// the synthetic feed, the tests and the benchmarks; the engine itself only reads ticks.
public enum TickJSONEncoder {
    public static func encode(_ tick: Tick, timestampAsEpochNanoseconds: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        append(tick, timestampAsEpochNanoseconds: timestampAsEpochNanoseconds, to: &out)
        return out
    }

    public static func append(_ tick: Tick, timestampAsEpochNanoseconds: Bool = false, to out: inout [UInt8]) {
        out.append(contentsOf: Array(#"{"symbol":"#.utf8)); appendString(tick.symbol, to: &out)
        out.append(contentsOf: Array(#","exchange":"#.utf8)); appendString(tick.exchange, to: &out)
        out.append(contentsOf: Array(#","ts":"#.utf8))
        if timestampAsEpochNanoseconds {
            appendDecimal(tick.timestamp.nanosecondsSinceEpoch, to: &out)
        } else {
            out.append(UInt8(ascii: "\"")); tick.timestamp.appendRFC3339(to: &out); out.append(UInt8(ascii: "\""))
        }
        out.append(contentsOf: Array(#","price":"#.utf8)); tick.price.append(to: &out)
        out.append(contentsOf: Array(#","qty":"#.utf8)); appendDecimal(tick.quantity, to: &out)
        if let v = tick.volume { out.append(contentsOf: Array(#","volume":"#.utf8)); appendDecimal(v, to: &out) }
        if let v = tick.openInterest { out.append(contentsOf: Array(#","oi":"#.utf8)); v.append(to: &out) }
        if let v = tick.bid { out.append(contentsOf: Array(#","bid":"#.utf8)); v.append(to: &out) }
        if let v = tick.ask { out.append(contentsOf: Array(#","ask":"#.utf8)); v.append(to: &out) }
        if let v = tick.bidQuantity { out.append(contentsOf: Array(#","bid_qty":"#.utf8)); appendDecimal(v, to: &out) }
        if let v = tick.askQuantity { out.append(contentsOf: Array(#","ask_qty":"#.utf8)); appendDecimal(v, to: &out) }
        if let v = tick.source { out.append(contentsOf: Array(#","src":"#.utf8)); appendString(v, to: &out) }
        if let v = tick.session { out.append(contentsOf: Array(#","session":"#.utf8)); appendString(v, to: &out) }
        if let v = tick.sequence { out.append(contentsOf: Array(#","seq":"#.utf8)); appendDecimal(v, to: &out) }
        out.append(UInt8(ascii: "}"))
    }

    /// A JSON string literal with the mandatory escapes.
    public static func appendString(_ text: String, to out: inout [UInt8]) {
        let hex: StaticString = "0123456789abcdef"
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case 0x22: out.append(0x5C); out.append(0x22)
            case 0x5C: out.append(0x5C); out.append(0x5C)
            case 0..<0x20:
                out.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30])
                out.append(hex.utf8Start[Int(byte >> 4)])
                out.append(hex.utf8Start[Int(byte & 0xF)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// The topic a publisher sends a tick under: `tick.<EXCHANGE>.<SYMBOL>`.
    public static func topic(for tick: Tick) -> String { "tick.\(tick.exchange).\(tick.symbol)" }
}
