/// A JSON document read strictly (RFC 8259: well-formed UTF-8, no trailing text, no duplicate
/// keys), with numbers kept as their exact text: the control messages from outside (gateway
/// reports, replay requests) are read with it, so `true` is never the integer 1, `1e300` never
/// becomes infinity, and a huge integer is refused rather than wrapped. It shares the tick
/// decoder's byte reader, which is fuzzed.
public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// The number's text exactly as sent (`"12"`, `"-0.5"`, `"1e3"`).
    case number(String)
    case string(String)
    case array([JSONValue])
    /// Members in the order sent (keys are unique).
    case object([(String, JSONValue)])

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.bool(let a), .bool(let b)): a == b
        case (.number(let a), .number(let b)): a == b
        case (.string(let a), .string(let b)): a == b
        case (.array(let a), .array(let b)): a == b
        case (.object(let a), .object(let b)): a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    /// Why a document was refused.
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    /// Nesting deeper than this is refused (the messages read with this are flat).
    public static let maxDepth = 32

    /// Parses a whole document.
    public static func parse(_ bytes: [UInt8]) throws(ParseError) -> JSONValue {
        let result: Result<JSONValue, ParseError> = bytes.withUnsafeBytes { raw in
            var parser = Parser(reader: JSONByteReader(raw))
            do throws(ParseError) {
                parser.reader.skipWhitespace()
                let value = try parser.value(depth: 0)
                parser.reader.skipWhitespace()
                guard parser.reader.i == parser.reader.end else { throw ParseError(message: "text after the JSON value") }
                return .success(value)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// The member `key` of an object (`nil` if absent or not an object).
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.0 == key }?.1
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// A JSON integer (no fraction, no exponent) that fits `Int64`, else `nil`.
    public var int64Value: Int64? {
        guard case .number(let text) = self, !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) else { return nil }
        return Int64(text)
    }

    /// The number exactly as a ``FixedDecimal`` (at most four decimals, below 10^14), else `nil`.
    public var fixedDecimalValue: FixedDecimal? {
        guard case .number(let text) = self else { return nil }
        return FixedDecimal(text)
    }

    private struct Parser {
        var reader: JSONByteReader

        mutating func value(depth: Int) throws(ParseError) -> JSONValue {
            guard depth <= JSONValue.maxDepth else { throw ParseError(message: "nested deeper than \(JSONValue.maxDepth)") }
            guard reader.i < reader.end else { throw ParseError(message: "unexpected end") }
            switch reader.b[reader.i] {
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try lift { r throws(TickDecodeError) in try r.expectLiteral("true") }; return .bool(true)
            case UInt8(ascii: "f"): try lift { r throws(TickDecodeError) in try r.expectLiteral("false") }; return .bool(false)
            case UInt8(ascii: "n"): try lift { r throws(TickDecodeError) in try r.expectLiteral("null") }; return .null
            case UInt8(ascii: "-"), 48...57:
                let start = reader.i
                try lift { r throws(TickDecodeError) in try r.skipNumber() }
                return .number(String(decoding: UnsafeRawBufferPointer(rebasing: reader.b[start..<reader.i]), as: UTF8.self))
            case UInt8(ascii: "["):
                reader.i += 1
                var items: [JSONValue] = []
                reader.skipWhitespace()
                if reader.i < reader.end && reader.b[reader.i] == UInt8(ascii: "]") { reader.i += 1; return .array(items) }
                while true {
                    reader.skipWhitespace()
                    items.append(try value(depth: depth + 1))
                    reader.skipWhitespace()
                    guard reader.i < reader.end else { throw ParseError(message: "unexpected end in an array") }
                    if reader.b[reader.i] == UInt8(ascii: ",") { reader.i += 1; continue }
                    if reader.b[reader.i] == UInt8(ascii: "]") { reader.i += 1; return .array(items) }
                    throw ParseError(message: "expected , or ] in an array")
                }
            case UInt8(ascii: "{"):
                reader.i += 1
                var members: [(String, JSONValue)] = []
                var keys = Set<String>()
                reader.skipWhitespace()
                if reader.i < reader.end && reader.b[reader.i] == UInt8(ascii: "}") { reader.i += 1; return .object(members) }
                while true {
                    reader.skipWhitespace()
                    guard reader.i < reader.end, reader.b[reader.i] == UInt8(ascii: "\"") else {
                        throw ParseError(message: "expected a member name")
                    }
                    let key = try string()
                    guard keys.insert(key).inserted else { throw ParseError(message: "member '\(key)' appears twice") }
                    reader.skipWhitespace()
                    guard reader.i < reader.end, reader.b[reader.i] == UInt8(ascii: ":") else { throw ParseError(message: "expected :") }
                    reader.i += 1
                    reader.skipWhitespace()
                    members.append((key, try value(depth: depth + 1)))
                    reader.skipWhitespace()
                    guard reader.i < reader.end else { throw ParseError(message: "unexpected end in an object") }
                    if reader.b[reader.i] == UInt8(ascii: ",") { reader.i += 1; continue }
                    if reader.b[reader.i] == UInt8(ascii: "}") { reader.i += 1; return .object(members) }
                    throw ParseError(message: "expected , or } in an object")
                }
            default:
                throw ParseError(message: "not a JSON value")
            }
        }

        /// The byte reader's refusals, as this parser's.
        mutating func lift<T>(_ body: (inout JSONByteReader) throws(TickDecodeError) -> T) throws(ParseError) -> T {
            do throws(TickDecodeError) {
                return try body(&reader)
            } catch {
                throw ParseError(message: "not well-formed JSON (\(error.reason.rawValue))")
            }
        }

        mutating func string() throws(ParseError) -> String {
            let span = try lift { r throws(TickDecodeError) in try r.readStringSpan() }
            if span.escaped { return String(decoding: reader.unescaped(span), as: UTF8.self) }
            return String(decoding: UnsafeRawBufferPointer(rebasing: reader.b[span.start..<(span.start + span.length)]), as: UTF8.self)
        }
    }
}

/// Text from outside made fit to store, log and print: control characters (which include the
/// NUL PostgreSQL refuses) written visibly as `\u{..}`, and at most `maxCharacters` characters.
public enum PrintableText {
    public static func make(_ text: String, maxCharacters: Int) -> String {
        var out = ""
        var count = 0
        for scalar in text.unicodeScalars {
            if count >= maxCharacters { out += "…"; break }
            if TickLimits.isControl(scalar) {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
            count += 1
        }
        return out
    }

    /// Whether `text` is 1...`maxCharacters` characters with no control character: the rule for
    /// identifiers from outside (ids, names), which are refused rather than altered.
    public static func isIdentifier(_ text: String, maxCharacters: Int) -> Bool {
        let scalars = text.unicodeScalars
        var count = 0
        for scalar in scalars {
            if TickLimits.isControl(scalar) { return false }
            count += 1
            if count > maxCharacters { return false }
        }
        return count >= 1
    }
}
