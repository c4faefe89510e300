import Foundation
import TradingCore

/// Why a control request was refused: the text the client sees.
struct ControlRefusal: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// A control request's JSON object, read strictly (docs/security.md): every field has one JSON
/// type and a bound, so `"engine": "true"` is refused instead of read as true, `1` is never a
/// boolean, and text from outside is never stored or echoed unbounded.
struct ControlRequest {
    private let value: JSONValue

    /// Longest username, and what is audited of a longer one.
    static let maxUsername = 64

    init(_ bytes: [UInt8]) throws(ControlRefusal) {
        let parsed: JSONValue
        do {
            parsed = try JSONValue.parse(bytes)
        } catch {
            throw ControlRefusal("the request is not JSON: \(error.message)")
        }
        guard case .object = parsed else { throw ControlRefusal("the request must be a JSON object") }
        value = parsed
    }

    func has(_ key: String) -> Bool { value[key] != nil && value[key]?.isNull == false }

    /// A string field, absent or null as nil. `printable`: no control characters (identifiers,
    /// reasons); passwords may hold anything.
    func string(_ key: String, max: Int, printable: Bool = true) throws(ControlRefusal) -> String? {
        guard let field = value[key], !field.isNull else { return nil }
        guard let text = field.stringValue else { throw ControlRefusal("'\(key)' must be a string") }
        if printable {
            guard text.isEmpty || PrintableText.isIdentifier(text, maxCharacters: max) else {
                throw ControlRefusal("'\(key)' must be printable text of at most \(max) characters")
            }
        } else if text.unicodeScalars.count > max {
            throw ControlRefusal("'\(key)' must be at most \(max) characters")
        }
        return text
    }

    func requiredString(_ key: String, max: Int, printable: Bool = true) throws(ControlRefusal) -> String {
        guard let text = try string(key, max: max, printable: printable), !text.isEmpty else { throw ControlRefusal("needs '\(key)'") }
        return text
    }

    /// A JSON `true` or `false`; anything else (a string, a number) is refused.
    func bool(_ key: String) throws(ControlRefusal) -> Bool? {
        guard let field = value[key], !field.isNull else { return nil }
        guard case .bool(let flag) = field else { throw ControlRefusal("'\(key)' must be true or false (a JSON boolean)") }
        return flag
    }

    /// A JSON integer within `range`.
    func integer(_ key: String, in range: ClosedRange<Int64>) throws(ControlRefusal) -> Int64? {
        guard let field = value[key], !field.isNull else { return nil }
        guard let number = field.int64Value, range.contains(number) else {
            throw ControlRefusal("'\(key)' must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    /// A UUID field (lower-cased), refused unless it is one.
    func uuid(_ key: String) throws(ControlRefusal) -> String? {
        guard let text = try string(key, max: 36) else { return nil }
        guard let parsed = UUID(uuidString: text) else { throw ControlRefusal("'\(key)' must be a UUID") }
        return parsed.uuidString.lowercased()
    }

    func requiredUUID(_ key: String) throws(ControlRefusal) -> String {
        guard let id = try uuid(key) else { throw ControlRefusal("needs '\(key)'") }
        return id
    }
}
