public import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import TradingCore

/// Angel One SmartAPI's login, the engine's half (smartapi.angelbroking.com/docs/User, "Login"):
/// `POST /rest/auth/angelbroking/user/v1/loginByPassword` with the client code, the MPIN and a
/// TOTP the engine makes from the sealed secret, answered with the day's JWT (orders), refresh
/// token and feed token (market data and order updates). Nobody needs to paste anything, so a
/// timer can run `algotrader broker login` before the market opens (docs/brokers.md).
public struct AngelSessionLogin: Sendable {
    public struct Session: Sendable, Equatable {
        public let jwtToken: String
        public let refreshToken: String
        public let feedToken: String
    }

    public enum Failure: Error, CustomStringConvertible, Equatable {
        /// SmartAPI refused (its errorcode and message); permanent: the same MPIN/TOTP cannot help.
        case rejected(errorCode: String, message: String)
        /// SmartAPI could not be reached, or was busy (HTTP 429/5xx, its rate limit) on every attempt.
        case unreachable(String)
        /// An answer that is not SmartAPI's documented shape.
        case malformed(String)

        public var description: String {
            switch self {
            case let .rejected(code, message): return "Angel One refused the login (\(code.isEmpty ? "no errorcode" : code)): \(message)"
            case let .unreachable(why): return "Angel One SmartAPI could not be reached: \(why)"
            case let .malformed(why): return "Angel One SmartAPI answered something unexpected: \(why)"
            }
        }
    }

    public let apiRoot: String
    /// The address SmartAPI is told the call comes from (`X-ClientPublicIP`): the static IP
    /// registered with Angel One for API orders (SEBI's retail-algo rules), or empty.
    public let publicIP: String
    public let timeoutSeconds: Double
    public let attempts: Int

    public init(apiRoot: String, publicIP: String = "", timeoutSeconds: Double = 10, attempts: Int = 3) {
        self.apiRoot = apiRoot
        self.publicIP = publicIP
        self.timeoutSeconds = timeoutSeconds
        self.attempts = max(1, attempts)
    }

    /// Logs in; `totp` makes the code for the moment of each attempt (a retry after a lost
    /// answer must not send a code Angel may have taken already, nor one of a past step).
    public func login(apiKey: String, clientCode: String, pin: String, totp: () throws -> String) throws -> Session {
        guard let url = URL(string: apiRoot + "/rest/auth/angelbroking/user/v1/loginByPassword") else {
            throw Failure.malformed("bad API root '\(apiRoot)'")
        }
        var request = URLRequest(url: url, timeoutInterval: timeoutSeconds)
        request.httpMethod = "POST"
        for (name, value) in Self.headers(apiKey: apiKey, publicIP: publicIP) { request.setValue(value, forHTTPHeaderField: name) }
        var lastProblem = ""
        for attempt in 1...attempts {
            // SmartAPI takes one login a second: a retry sooner would be refused for the rate.
            if attempt > 1 { Thread.sleep(forTimeInterval: Double(attempt)) }
            var body = JSONObjectWriter()
            body.add("clientcode", clientCode)
            body.add("password", pin)
            body.add("totp", try totp())
            request.httpBody = Data(body.text.utf8)
            let answer: (status: Int, body: Data)
            do { answer = try KiteSessionExchange.send(request, timeoutSeconds: timeoutSeconds) } catch {
                lastProblem = "\(error)"
                continue
            }
            if answer.status == 429 || answer.status >= 500 || Self.isRateLimited(answer.body) {
                lastProblem = "HTTP \(answer.status) " + (Self.error(answer.body)?.message ?? "")
                continue
            }
            return try Self.session(status: answer.status, body: answer.body)
        }
        throw Failure.unreachable("\(attempts) attempt(s) at \(url.absoluteString); the last: \(lastProblem)")
    }

    /// The headers SmartAPI's REST calls carry (its SDK's `requestHeaders`).
    static func headers(apiKey: String, publicIP: String) -> [(String, String)] {
        [("Content-Type", "application/json"), ("Accept", "application/json"), ("X-UserType", "USER"),
         ("X-SourceID", "WEB"), ("X-ClientLocalIP", "127.0.0.1"), ("X-ClientPublicIP", publicIP.isEmpty ? "127.0.0.1" : publicIP),
         ("X-MACAddress", "00:00:00:00:00:00"), ("X-PrivateKey", apiKey), ("User-Agent", "algotrader")]
    }

    static func session(status: Int, body: Data) throws -> Session {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            throw Failure.malformed("HTTP \(status) without a JSON object")
        }
        // Booleans in Angel's answers; its documentation's samples sometimes have the strings.
        guard object["status"] as? Bool == true || (object["status"] as? String)?.lowercased() == "true" else {
            guard let error = error(body) else { throw Failure.malformed("HTTP \(status) without SmartAPI's status, message and errorcode") }
            throw Failure.rejected(errorCode: error.code, message: error.message)
        }
        guard let data = object["data"] as? [String: Any], let jwt = data["jwtToken"] as? String, !jwt.isEmpty,
              let feed = data["feedToken"] as? String, !feed.isEmpty else {
            throw Failure.malformed("status true without data.jwtToken and data.feedToken")
        }
        // Some SmartAPI answers carry the JWT with its scheme: the gateway adds "Bearer " itself.
        let bare = jwt.hasPrefix("Bearer ") ? String(jwt.dropFirst(7)) : jwt
        return Session(jwtToken: bare, refreshToken: data["refreshToken"] as? String ?? "", feedToken: feed)
    }

    static func error(_ body: Data) -> (code: String, message: String)? {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
              object["status"] as? Bool == false || object["errorcode"] != nil else { return nil }
        return (object["errorcode"] as? String ?? "", object["message"] as? String ?? "")
    }

    /// SmartAPI's rate-limit refusal: HTTP 403 with the plain text "Access denied because of
    /// exceeding access rate" (not JSON), or that message in its JSON shape: transient (failed
    /// before: a second login within the second was "answered something unexpected").
    static func isRateLimited(_ body: Data) -> Bool {
        let text = (error(body)?.message ?? String(decoding: body.prefix(512), as: UTF8.self)).lowercased()
        return text.contains("exceeding access rate") || text.contains("too many requests")
    }
}
