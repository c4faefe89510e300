import Foundation
import TradingCore

/// Why a control request was refused: the text the client sees, and what kind of refusal it is
/// (the reply's `code`, which the web process turns into an HTTP status; docs/security.md).
struct ControlRefusal: Error {
    enum Code: String {
        case badRequest = "bad_request", unauthorized, forbidden, notFound = "not_found", rateLimited = "rate_limited"
        case unavailable
    }

    let message: String
    let code: Code
    init(_ message: String, _ code: Code = .badRequest) {
        self.message = message
        self.code = code
    }
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

    /// The object's member names.
    var keys: [String] {
        guard case .object(let members) = value else { return [] }
        return members.map(\.0)
    }

    /// Fields every request may carry: the caller's token and who it is.
    static let commonFields: Set<String> = ["token", "client", "forwarded_for", "forwarder_secret", "user_agent"]

    /// Each command's own fields. A field not listed is refused, so a misspelled or foreign one
    /// (`"scope": "engine"`) is an error, never a request quietly read as something else.
    static let commandFields: [String: Set<String>] = [
        "login": ["username", "password"], "logout": [], "status": [],
        "strategies": ["user", "all_users", "strategy_id", "limit", "before"],
        "positions": ["user", "all_users", "strategy_id", "limit", "before"],
        "orders": ["user", "all_users", "strategy_id", "status", "from", "to", "limit", "before"],
        "fills": ["user", "all_users", "strategy_id", "from", "to", "limit", "before"],
        "pnl.daily": ["user", "all_users", "strategy_id", "from", "to", "limit", "before"],
        "equity": ["user", "all_users", "strategy_id", "from", "to", "limit"], "strategy.start": ["strategy_id", "strategy"], "strategy.stop": ["strategy_id", "strategy"],
        "order.cancel": ["order_id"], "halt": ["user", "strategy_id", "strategy", "engine", "reason"],
        "resume": ["user", "strategy_id", "strategy", "engine"],
        "flatten": ["user", "strategy_id", "strategy"], "reload": [],
    ]

    /// Refuses a field the command does not take.
    func checkFields(for command: String) throws(ControlRefusal) {
        guard let own = Self.commandFields[command] else { return }  // unknown commands are refused by name
        if let unknown = keys.first(where: { !own.contains($0) && !Self.commonFields.contains($0) }) {
            throw ControlRefusal("'\(command)' takes no field '\(PrintableText.make(unknown, maxCharacters: 64))' (it takes \(own.union(["token"]).sorted().joined(separator: ", ")))")
        }
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
