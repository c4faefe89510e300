/// Encodes ticks as rows of PostgreSQL's COPY text format for `market_data` (CONTRACT.md section
/// 1: open = high = low = close = price, volume = qty, the other fields in `tick_data`), straight
/// into the COPY buffer: no intermediate strings per row. The column list and the statements are
/// Storage's (`TickCopyEncoder`); the bytes are encoded here, in the pure core, so the fuzzer can
/// drive a tick from raw bytes all the way to its row.
public enum CopyRowEncoder {
    /// Appends one row (terminated by a newline).
    @inlinable
    public static func append(_ tick: Tick, id: UUIDBytes, to out: inout [UInt8]) {
        let tab = UInt8(ascii: "\t")
        id.append(to: &out); out.append(tab)
        appendCopyText(tick.symbol, to: &out); out.append(tab)
        appendCopyText(tick.exchange, to: &out); out.append(tab)
        tick.timestamp.appendRFC3339(to: &out); out.append(tab)
        for _ in 0..<4 { tick.price.append(to: &out); out.append(tab) }
        appendDecimal(tick.quantity, to: &out); out.append(tab)
        if let oi = tick.openInterest { oi.append(to: &out) } else { out.append(contentsOf: [0x5C, 0x4E]) }  // \N
        out.append(tab)
        out.append(contentsOf: [0x74, 0x69, 0x63, 0x6B])  // tick
        out.append(tab)
        appendTickData(tick, to: &out)
        out.append(UInt8(ascii: "\n"))
    }

    /// `tick_data`: the fields that have no column of their own, as a JSON object, escaped for
    /// COPY text. Nanoseconds below PostgreSQL's microsecond resolution are kept as `ts_ns`.
    /// Written by hand rather than through ``JSONObjectWriter``: it escapes twice at once (JSON,
    /// then COPY text) straight into the COPY buffer, once per tick on the hot path.
    @inlinable
    public static func appendTickData(_ tick: Tick, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        var first = true
        @inline(__always) func key(_ name: StaticString) {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
            out.append(UInt8(ascii: "\""))
            out.append(UInt8(ascii: ":"))
        }
        if let v = tick.volume { key("volume"); appendDecimal(v, to: &out) }
        if let v = tick.bid { key("bid"); v.append(to: &out) }
        if let v = tick.ask { key("ask"); v.append(to: &out) }
        if let v = tick.bidQuantity { key("bid_qty"); appendDecimal(v, to: &out) }
        if let v = tick.askQuantity { key("ask_qty"); appendDecimal(v, to: &out) }
        if let v = tick.source { key("src"); appendJSONStringForCopy(v, to: &out) }
        if let v = tick.session { key("session"); appendJSONStringForCopy(v, to: &out) }
        if let v = tick.sequence { key("seq"); appendDecimal(v, to: &out) }
        let subMicro = tick.timestamp.nanosecondsSinceEpoch - tick.timestamp.microsecondsSinceEpoch * 1000
        if subMicro != 0 { key("ts_ns"); appendDecimal(tick.timestamp.nanosecondsSinceEpoch, to: &out) }
        out.append(UInt8(ascii: "}"))
    }

    /// A COPY text field: backslash, tab, newline and carriage return escaped.
    @inlinable
    public static func appendCopyText(_ text: String, to out: inout [UInt8]) {
        for byte in text.utf8 {
            switch byte {
            case 0x5C: out.append(0x5C); out.append(0x5C)
            case 0x09: out.append(0x5C); out.append(UInt8(ascii: "t"))
            case 0x0A: out.append(0x5C); out.append(UInt8(ascii: "n"))
            case 0x0D: out.append(0x5C); out.append(UInt8(ascii: "r"))
            default: out.append(byte)
            }
        }
    }

    /// A JSON string literal, then escaped for COPY text (each JSON backslash doubled).
    @inlinable
    public static func appendJSONStringForCopy(_ text: String, to out: inout [UInt8]) {
        let hex: StaticString = "0123456789abcdef"
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case 0x22: out.append(contentsOf: [0x5C, 0x5C, 0x22])  // \" -> \\"
            case 0x5C: out.append(contentsOf: [0x5C, 0x5C, 0x5C, 0x5C])  // \\ -> \\\\
            case 0..<0x20:
                out.append(contentsOf: [0x5C, 0x5C, UInt8(ascii: "u"), 0x30, 0x30])
                out.append(hex.utf8Start[Int(byte >> 4)])
                out.append(hex.utf8Start[Int(byte & 0xF)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
