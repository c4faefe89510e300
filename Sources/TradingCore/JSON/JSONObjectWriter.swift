/// Writes one JSON object field by field, escaping every string: the one way the engine builds
/// JSON text, so no value is ever spliced into JSON by interpolation.
///
///     var w = JSONObjectWriter()
///     w.add("seq", 42)
///     w.add("reason", reason)      // nil writes null
///     let text = w.text            // {"seq":42,"reason":"..."}
public struct JSONObjectWriter: Sendable {
    private var out: [UInt8] = [UInt8(ascii: "{")]
    private var empty = true

    public init() {}

    /// The text of an object `fill` adds members to: `JSONObjectWriter.object { $0.add("rows", 3) }`.
    public static func object(_ fill: (inout JSONObjectWriter) -> Void) -> String {
        var w = JSONObjectWriter()
        fill(&w)
        return w.text
    }

    private mutating func key(_ name: String) {
        if !empty { out.append(UInt8(ascii: ",")) }
        empty = false
        TickJSONEncoder.appendString(name, to: &out)
        out.append(UInt8(ascii: ":"))
    }

    private mutating func null() { out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C]) }

    public mutating func add(_ name: String, _ value: String?) {
        key(name)
        if let value { TickJSONEncoder.appendString(value, to: &out) } else { null() }
    }

    public mutating func add(_ name: String, _ value: Int64?) {
        key(name)
        if let value { appendDecimal(value, to: &out) } else { null() }
    }

    public mutating func add(_ name: String, _ value: Int) { add(name, Int64(value)) }

    public mutating func add(_ name: String, _ value: FixedDecimal?) {
        key(name)
        if let value { value.append(to: &out) } else { null() }
    }

    public mutating func add(_ name: String, _ value: WideDecimal?) {
        key(name)
        if let value { value.append(to: &out) } else { null() }
    }

    /// A time as RFC 3339 text in UTC with microseconds (the contract's timestamps).
    public mutating func add(_ name: String, time value: Timestamp) {
        key(name)
        out.append(UInt8(ascii: "\""))
        value.appendRFC3339(to: &out)
        out.append(UInt8(ascii: "\""))
    }

    /// Money in 1/10,000 units, exactly, as a number with four decimals.
    public mutating func add(_ name: String, money units: Int128) {
        key(name)
        out.append(contentsOf: Array(MoneyText.exact(units).utf8))
    }

    /// A list of money amounts in 1/10,000 units.
    public mutating func add(_ name: String, money list: [Int128]) {
        key(name)
        out.append(UInt8(ascii: "["))
        for (i, units) in list.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: Array(MoneyText.exact(units).utf8))
        }
        out.append(UInt8(ascii: "]"))
    }

    /// A `Double` (indicator values): its shortest exact text, or null when not finite (JSON has
    /// no NaN or infinity).
    public mutating func add(_ name: String, double value: Double?) {
        key(name)
        if let value, value.isFinite { out.append(contentsOf: Array(String(value).utf8)) } else { null() }
    }

    public mutating func add(_ name: String, _ value: Bool) {
        key(name)
        out.append(contentsOf: Array((value ? "true" : "false").utf8))
    }

    public mutating func add(_ name: String, strings: [String]) {
        key(name)
        out.append(UInt8(ascii: "["))
        for (i, s) in strings.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            TickJSONEncoder.appendString(s, to: &out)
        }
        out.append(UInt8(ascii: "]"))
    }

    /// An array of objects, each made by another writer.
    public mutating func add(_ name: String, objects: [JSONObjectWriter]) {
        key(name)
        out.append(UInt8(ascii: "["))
        for (i, object) in objects.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: object.bytes)
        }
        out.append(UInt8(ascii: "]"))
    }

    /// A nested object made by another writer.
    public mutating func add(_ name: String, object: JSONObjectWriter) {
        key(name)
        out.append(contentsOf: object.bytes)
    }

    /// A parsed JSON value, written again (numbers as their exact text).
    public mutating func add(_ name: String, value: JSONValue) {
        key(name)
        Self.append(value, to: &out)
    }

    static func append(_ value: JSONValue, to out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: Array("null".utf8))
        case .bool(let b): out.append(contentsOf: Array((b ? "true" : "false").utf8))
        case .number(let text): out.append(contentsOf: Array(text.utf8))
        case .string(let s): TickJSONEncoder.appendString(s, to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                append(item, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            var nested = JSONObjectWriter()
            for (name, member) in members { nested.add(name, value: member) }
            out.append(contentsOf: nested.bytes)
        }
    }

    /// Any parsed value's JSON text (an array at the top, say), written as members are.
    public static func bytes(of value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        append(value, to: &out)
        return out
    }

    /// The object's bytes, closed.
    public var bytes: [UInt8] { out + [UInt8(ascii: "}")] }

    /// The object's text, closed.
    public var text: String { String(decoding: bytes, as: UTF8.self) }
}
