import Crypto
import Dispatch
public import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Synchronization
import TradingCore

/// Kite Connect's daily login, the engine's half (https://kite.trade/docs/connect/v3/user/): the
/// login page for an app's api_key, and the exchange of the request token Kite's redirect carries
/// for the day's access token, `POST /session/token` with `checksum` = SHA-256 hex of
/// `api_key + request_token + api_secret` (the secret itself never leaves the engine).
///
/// Written against Foundation's URLSession rather than an HTTP client package: it is one form
/// POST a day, and the toolchain's FoundationNetworking (libcurl) needs no build of its own.
public struct KiteSessionExchange: Sendable {
    /// What Kite answers a good exchange with (the fields the engine keeps or checks).
    public struct Session: Sendable, Equatable {
        public let accessToken: String
        public let userID: String
        public let loginTime: String?
    }

    public enum Failure: Error, CustomStringConvertible, Equatable {
        /// Kite refused (its error_type and message); permanent: retrying the same token cannot help.
        case rejected(status: Int, errorType: String, message: String)
        /// Kite could not be reached or answered 429/5xx on every attempt.
        case unreachable(String)
        /// An answer that is not Kite's documented shape.
        case malformed(String)
        /// What the operator pasted is not a request token nor Kite's redirect URL.
        case notAToken(String)

        public var description: String {
            switch self {
            case let .rejected(status, type, message): return "Kite refused the login (HTTP \(status) \(type)): \(message)"
            case let .unreachable(why): return "Kite Connect could not be reached: \(why)"
            case let .malformed(why): return "Kite Connect answered something unexpected: \(why)"
            case let .notAToken(why): return "not a Kite request token: \(why)"
            }
        }
    }

    public let apiRoot: String
    public let loginRoot: String
    public let timeoutSeconds: Double
    /// Attempts for a transient failure (no answer, 429, 5xx), a second apart and then two.
    public let attempts: Int

    public init(apiRoot: String, loginRoot: String, timeoutSeconds: Double = 10, attempts: Int = 3) {
        self.apiRoot = apiRoot
        self.loginRoot = loginRoot
        self.timeoutSeconds = timeoutSeconds
        self.attempts = max(1, attempts)
    }

    /// The page the account holder logs in on; Kite then redirects to the app's redirect URL.
    public func loginURL(apiKey: String) -> String {
        var components = URLComponents(string: loginRoot) ?? URLComponents()
        components.queryItems = [URLQueryItem(name: "v", value: "3"), URLQueryItem(name: "api_key", value: apiKey)]
        return components.string ?? loginRoot
    }

    public static func checksum(apiKey: String, requestToken: String, apiSecret: String) -> String {
        SHA256.hash(data: Data((apiKey + requestToken + apiSecret).utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// The request token from what the operator pasted: the token itself, or the whole redirect
    /// URL (`...?request_token=T&action=login&status=success`). A redirect whose status is not
    /// success is refused with it.
    public static func requestToken(from pasted: String) throws -> String {
        let text = pasted.trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.contains("request_token=") || text.contains("status=") else {
            guard !text.isEmpty, text.allSatisfy({ $0.isLetter || $0.isNumber }) else {
                throw Failure.notAToken("a request token is letters and digits (or paste the whole redirect URL), got '\(PrintableText.make(text, maxCharacters: 200))'")
            }
            return text
        }
        let items = URLComponents(string: text)?.queryItems ?? []
        if let status = items.first(where: { $0.name == "status" })?.value, status != "success" {
            throw Failure.rejected(status: 0, errorType: "LoginFailed", message: "the redirect says status=\(status): log in on Kite again")
        }
        guard let token = items.first(where: { $0.name == "request_token" })?.value, !token.isEmpty else {
            throw Failure.notAToken("the redirect URL has no request_token")
        }
        return token
    }

    /// Exchanges a request token (single use, valid a few minutes) for the day's session.
    public func exchange(apiKey: String, requestToken: String, apiSecret: String) throws -> Session {
        guard let url = URL(string: apiRoot + "/session/token") else { throw Failure.malformed("bad API root '\(apiRoot)'") }
        var request = URLRequest(url: url, timeoutInterval: timeoutSeconds)
        request.httpMethod = "POST"
        request.setValue("3", forHTTPHeaderField: "X-Kite-Version")
        request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
        request.setValue("algotrader", forHTTPHeaderField: "User-Agent")
        let checksum = Self.checksum(apiKey: apiKey, requestToken: requestToken, apiSecret: apiSecret)
        request.httpBody = Data(Self.form([("api_key", apiKey), ("request_token", requestToken), ("checksum", checksum)]).utf8)
        var lastProblem = ""
        for attempt in 1...attempts {
            if attempt > 1 { Thread.sleep(forTimeInterval: Double(attempt - 1)) }
            let answer: (status: Int, body: Data)
            do { answer = try Self.send(request, timeoutSeconds: timeoutSeconds) } catch {
                lastProblem = "\(error)"
                continue
            }
            if answer.status == 429 || answer.status >= 500 {
                lastProblem = "HTTP \(answer.status) " + (Self.kiteError(answer.body)?.message ?? "")
                continue
            }
            return try Self.session(status: answer.status, body: answer.body, retried: attempt > 1)
        }
        throw Failure.unreachable("\(attempts) attempt(s) at \(url.absoluteString); the last: \(lastProblem)")
    }

    static func session(status: Int, body: Data, retried: Bool) throws -> Session {
        guard status == 200 else {
            guard let error = kiteError(body) else { throw Failure.malformed("HTTP \(status) without Kite's error fields") }
            let hint = retried && error.type == "TokenException"
                ? " (an earlier attempt may have used the single-use request token: log in on Kite again for a new one)" : ""
            throw Failure.rejected(status: status, errorType: error.type, message: error.message + hint)
        }
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any], let data = object["data"] as? [String: Any],
              let token = data["access_token"] as? String, !token.isEmpty else {
            throw Failure.malformed("HTTP 200 without data.access_token")
        }
        return Session(accessToken: token, userID: data["user_id"] as? String ?? "", loginTime: data["login_time"] as? String)
    }

    static func kiteError(_ body: Data) -> (type: String, message: String)? {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any], object["status"] as? String == "error" else { return nil }
        return (object["error_type"] as? String ?? "GeneralException", object["message"] as? String ?? "")
    }

    static func form(_ pairs: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return pairs.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&")
    }

    /// One request, waited for (the admin command is synchronous).
    static func send(_ request: URLRequest, timeoutSeconds: Double) throws -> (status: Int, body: Data) {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeoutSeconds
        configuration.timeoutIntervalForResource = timeoutSeconds * 2
        let session = URLSession(configuration: configuration)
        defer { session.finishTasksAndInvalidate() }
        let result = Mutex<Result<(Int, Data), any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        session.dataTask(with: request) { data, response, error in
            result.withLock {
                if let error { $0 = .failure(error) } else if let http = response as? HTTPURLResponse {
                    $0 = .success((http.statusCode, data ?? Data()))
                } else {
                    $0 = .failure(Failure.malformed("no HTTP response"))
                }
            }
            done.signal()
        }.resume()
        done.wait()
        switch result.withLock({ $0 }) {
        case let .success((status, body))?: return (status, body)
        case let .failure(error)?: throw error
        case nil: throw Failure.unreachable("no answer")
        }
    }
}
