import Dispatch
import Foundation
import TradingCore
public import ZeroMQ

/// The web process's way to the engine: one request on the control socket (`control.bind`), as
/// `algotrader ctl` sends it, with the browser's address and user agent forwarded under the
/// forwarder secret, so the engine limits logins and records sessions by the real client.
///
/// Each request opens its own DEALER socket on a Dispatch worker (never on an event loop) and
/// closes it after the answer: a socket is never shared between threads, a late answer to a
/// request that timed out can never be read as another's, and over loopback or ipc the connect
/// costs well under a millisecond (docs/web.md).
public struct ControlClient: Sendable {
    /// Who a request is made for: the session token, if any, and the HTTP client.
    struct Client: Sendable {
        var token: String?
        var address: String?
        var userAgent: String?
    }

    let context: ZMQContext
    let endpoint: String
    let forwarderSecret: String
    let timeoutSeconds: Int
    /// The largest answer read (a page of 1,000 orders is well under 1 MiB).
    static let maxAnswerBytes = 16 << 20

    public init(context: ZMQContext, endpoint: String, forwarderSecret: String, timeoutSeconds: Int) {
        self.context = context
        self.endpoint = endpoint
        self.forwarderSecret = forwarderSecret
        self.timeoutSeconds = timeoutSeconds
    }

    /// The engine's answer object, or the API error its refusal (or its silence) means.
    func call(_ command: String, _ fields: JSONObjectWriter, for client: Client) async throws(APIError) -> JSONValue {
        var body = fields
        if let token = client.token { body.add("token", token) }
        body.add("client", "algotrader web")
        if let address = client.address {
            body.add("forwarded_for", address)
            body.add("forwarder_secret", forwarderSecret)
            if let agent = client.userAgent { body.add("user_agent", String(agent.unicodeScalars.prefix(512))) }
        }
        let request = [Array(command.utf8), body.bytes]
        let outcome: Result<JSONValue, APIError> = await withCheckedContinuation { done in
            DispatchQueue.global(qos: .userInitiated).async { done.resume(returning: exchange(request)) }
        }
        return try outcome.get()
    }

    private func exchange(_ request: [[UInt8]]) -> Result<JSONValue, APIError> {
        let unavailable = APIError(.serviceUnavailable, "engine_unavailable", "the engine did not answer within \(timeoutSeconds) s")
        do {
            let socket = try ZMQSocket(context: context, type: .dealer, linger: 0)
            defer { socket.close() }
            try socket.setMaxMessageSize(Int64(Self.maxAnswerBytes))
            try socket.setSendTimeout(milliseconds: Int32(timeoutSeconds * 1_000))
            try socket.connect(endpoint)
            guard try socket.send(request), try socket.poll(.readable, timeoutMilliseconds: timeoutSeconds * 1_000).contains(.readable),
                  let frames = try socket.receive(dontWait: true), frames.count == 2 else { return .failure(unavailable) }
            guard let answer = try? JSONValue.parse(frames[1]), case .object = answer else {
                return .failure(APIError(.badGateway, "bad_engine_answer", "the engine's answer is not a JSON object"))
            }
            if String(decoding: frames[0], as: UTF8.self) == "ok" { return .success(answer) }
            return .failure(Self.refusal(answer))
        } catch {
            return .failure(unavailable)
        }
    }

    /// The API error for an engine refusal, by the refusal's `code`.
    static func refusal(_ answer: JSONValue) -> APIError {
        let message = answer["error"]?.stringValue ?? "refused"
        switch answer["code"]?.stringValue {
        case "unauthorized": return APIError(.unauthorized, "unauthorized", message, headers: [.wwwAuthenticate: "Bearer"])
        case "forbidden": return APIError(.forbidden, "forbidden", message)
        case "not_found": return APIError(.notFound, "not_found", message)
        case "rate_limited":
            // "too many failed logins: try again in N s"
            let seconds = message.split(separator: " ").reversed().dropFirst().first.flatMap { Int($0) }
            return APIError(.tooManyRequests, "rate_limited", message, headers: seconds.map { [.retryAfter: String($0)] } ?? [:])
        case "unavailable": return APIError(.serviceUnavailable, "engine_unavailable", message)
        default: return APIError(.badRequest, "bad_request", message)
        }
    }
}
