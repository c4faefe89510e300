import Foundation
#if canImport(Glibc)
import Glibc
#endif
import TradingCore

/// ICICI Direct Breeze's daily login, the engine's half (breeze-connect's `generate_session`):
/// the account holder logs in on `https://api.icicidirect.com/apiuser/login?api_key=...`, whose
/// redirect carries the day's `API_Session`; the engine trades it at Breeze's customer details,
/// `GET {api}customerdetails` with the JSON body `{"SessionToken":..,"AppKey":..}`, for the
/// `session_token` (base64 of `user_id:session_key`) every later Breeze call is made with. Unlike
/// Kite's exchange the api_secret is not needed here: the gateway signs each call with it.
public struct IciciSessionLogin: Sendable {
    /// The page the account holder logs in on (not configurable: it is where ICICI's own
    /// documentation and SDK send the browser).
    public static let loginPage = "https://api.icicidirect.com/apiuser/login"

    /// What Breeze answers a good login with (the fields the engine keeps or reports).
    public struct Session: Sendable, Equatable {
        /// As Breeze answered it: the base64 text the gateway decodes into user id and session key.
        public let sessionToken: String
        public let userID: String
        public let userName: String?
        public let lastLoginTime: String?
    }

    public enum Failure: Error, CustomStringConvertible, Equatable {
        /// Breeze refused (its Status and Error); permanent: the same API_Session cannot help.
        case rejected(status: Int, message: String)
        /// Breeze could not be reached, or answered 429/5xx without its JSON, on every attempt.
        case unreachable(String)
        /// An answer that is not Breeze's documented shape.
        case malformed(String)
        /// What the operator pasted is not an API_Session nor the redirect URL carrying one.
        case notASession(String)

        public var description: String {
            switch self {
            case let .rejected(status, message): return "ICICI Direct refused the login (Status \(status)): \(message)\(Self.hint(message))"
            case let .unreachable(why): return "ICICI Direct Breeze could not be reached: \(why)"
            case let .malformed(why): return "ICICI Direct Breeze answered something unexpected: \(why)"
            case let .notASession(why): return "not an ICICI Direct API_Session: \(why)"
            }
        }

        /// What to do about Breeze's three login refusals (its own words stay as they are).
        static func hint(_ message: String) -> String {
            switch message.lowercased().trimmingCharacters(in: .whitespacesAndNewlines) {
            case "invalid session.": return " (a wrong or already used API_Session: log in on ICICI Direct again for a new one)"
            case "resource not available.": return " (the API_Session has expired: log in on ICICI Direct again)"
            case "public key does not exist.": return " (the account's api_key is not a Breeze app's: check it at api.icicidirect.com)"
            default: return ""
            }
        }
    }

    /// Breeze's REST root, `brokers.icici_api_url` (without the trailing slash the config strips).
    public let apiRoot: String
    public let timeoutSeconds: Double
    /// Attempts for a transient failure (no answer, 429, 5xx without JSON), 1 s and then 2 s apart.
    public let attempts: Int

    public init(apiRoot: String, timeoutSeconds: Double = 10, attempts: Int = 3) {
        self.apiRoot = apiRoot.hasSuffix("/") ? String(apiRoot.dropLast()) : apiRoot
        self.timeoutSeconds = timeoutSeconds
        self.attempts = max(1, attempts)
    }

    /// The login page for an app's api_key. Breeze keys carry characters such as `+`, `/`, `=`
    /// and `~`: everything but the unreserved ASCII is percent-encoded (ICICI asks for the key
    /// URL-encoded; an unencoded `+` would reach it as a space).
    public func loginURL(apiKey: String) -> String {
        Self.loginPage + "?api_key=" + Self.percentEncoded(apiKey)
    }

    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(Character(Unicode.Scalar(byte)))
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    /// The API_Session from what the operator pasted: the value itself, or the whole redirect URL
    /// (`...?apisession=12345678`; ICICI's pages have spelled the parameter `apisession` and
    /// `API_Session`, so its name is matched without case).
    public static func apiSession(from pasted: String) throws -> String {
        let text = pasted.trimmingCharacters(in: .whitespacesAndNewlines)
        let shown = PrintableText.make(text, maxCharacters: 200)
        guard text.contains("=") || text.contains("?") || text.contains("/") else {
            guard !text.isEmpty, text.count <= 200, text.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)) }) else {
                throw Failure.notASession("an API_Session is letters and digits (or paste the whole redirect URL), got '\(shown)'")
            }
            return text
        }
        // A redirect pasted without its scheme still parses as a query after the `?`.
        let query = text.firstIndex(of: "?").map { String(text[text.index(after: $0)...]) } ?? text
        var components = URLComponents()
        components.percentEncodedQuery = query.split(separator: "#").first.map(String.init) ?? query
        let items = components.queryItems ?? []
        guard let value = items.first(where: { ["apisession", "api_session"].contains($0.name.lowercased()) })?.value?
                .trimmingCharacters(in: .whitespaces), !value.isEmpty else {
            throw Failure.notASession("the redirect URL has no apisession parameter: '\(shown)'")
        }
        return value
    }

    /// Trades the day's API_Session for the session token (Breeze's customer details).
    public func login(apiKey: String, apiSession: String) throws -> Session {
        let url = apiRoot + "/customerdetails"
        var body = JSONObjectWriter()
        body.add("SessionToken", apiSession)
        body.add("AppKey", apiKey)
        let payload = Array(body.text.utf8)
        var lastProblem = ""
        for attempt in 1...attempts {
            if attempt > 1 { Thread.sleep(forTimeInterval: Double(attempt - 1)) }
            let answer: (status: Int, body: Data)
            do {
                answer = try BodiedGetRequest.send(url: url, headers: ["Content-Type: application/json", "Accept: application/json",
                                                                       "User-Agent: algotrader"],
                                                   body: payload, timeoutSeconds: timeoutSeconds)
            } catch {
                lastProblem = "\(error)"
                continue
            }
            // Breeze's refusal is JSON (usually HTTP 200 with Status 500 inside): final. A 429
            // or 5xx without it is a proxy or an outage in front of Breeze: worth another try.
            if (answer.status == 429 || answer.status >= 500) && Self.breezeError(answer.body) == nil {
                lastProblem = "HTTP \(answer.status) " + PrintableText.make(String(decoding: answer.body.prefix(200), as: UTF8.self), maxCharacters: 200)
                continue
            }
            return try Self.session(status: answer.status, body: answer.body)
        }
        throw Failure.unreachable("\(attempts) attempt(s) at \(url); the last: \(lastProblem)")
    }

    static func session(status: Int, body: Data) throws -> Session {
        if let error = breezeError(body) { throw Failure.rejected(status: error.status, message: error.message) }
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            throw Failure.malformed("HTTP \(status) without a JSON object")
        }
        guard let success = object["Success"] as? [String: Any], let token = success["session_token"] as? String, !token.isEmpty else {
            throw Failure.malformed("HTTP \(status) without Success.session_token")
        }
        // The gateway (breeze-connect) splits the decoded token into user id and session key: a
        // token that does not decode so would only fail there, later and less clearly.
        guard let decoded = decodeSessionToken(token) else {
            throw Failure.malformed("Success.session_token is not base64 of 'user_id:session_key'")
        }
        let named = (success["idirect_userid"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        return Session(sessionToken: token, userID: decoded.userID.isEmpty ? (named ?? "") : decoded.userID,
                       userName: success["idirect_user_name"] as? String, lastLoginTime: success["idirect_lastlogin_time"] as? String)
    }

    /// `user_id:session_key` out of a session token (padding restored if Breeze left it off).
    static func decodeSessionToken(_ token: String) -> (userID: String, sessionKey: String)? {
        var padded = token.trimmingCharacters(in: .whitespaces)
        while padded.count % 4 != 0 { padded += "=" }
        guard let data = Data(base64Encoded: padded), let text = String(data: data, encoding: .utf8),
              let colon = text.firstIndex(of: ":") else { return nil }
        let key = String(text[text.index(after: colon)...])
        return key.isEmpty ? nil : (String(text[..<colon]), key)
    }

    /// Breeze's error shape, `{"Success": null, "Status": 500, "Error": "Invalid session."}`.
    static func breezeError(_ body: Data) -> (status: Int, message: String)? {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
              let message = object["Error"] as? String, !message.isEmpty else { return nil }
        return (object["Status"] as? Int ?? 0, message)
    }
}
