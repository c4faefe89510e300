import Foundation
import HummingbirdWebSocket
import Logging
import Synchronization
import TradingCore

/// One WebSocket at `/api/v1/stream` (docs/web.md). A browser cannot set headers on a WebSocket,
/// so the token comes in the first message, `{"token": "..."}`, within `authenticationSeconds`;
/// the answer is `{"event": "hello", "user_id", "role"}` and then every fill and order event the
/// caller may see, each the bus's JSON payload as one text message. The session is checked again
/// every `recheckSeconds`: a logout or expiry closes the stream.
struct StreamSession: Sendable {
    static let authenticationSeconds = 10
    static let recheckSeconds = 30
    static let maxMessageBytes = 4_096

    let control: ControlClient
    let relay: BusRelay
    let client: ControlClient.Client
    let logger: Logger

    private final class State: Sendable {
        let authenticated = Atomic<Bool>(false)
    }

    func run(_ inbound: WebSocketInboundStream, _ outbound: WebSocketOutboundWriter) async {
        let state = State()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                try? await Task.sleep(for: .seconds(Self.authenticationSeconds))
                if !state.authenticated.load(ordering: .acquiring) {
                    await Self.fail(outbound, APIError(.unauthorized, "unauthorized", "send {\"token\": ...} first"))
                }
            }
            do {
                for try await message in inbound.messages(maxSize: Self.maxMessageBytes) {
                    guard !state.authenticated.load(ordering: .acquiring) else { continue }  // later messages mean nothing
                    guard case .text(let text) = message, let value = try? JSONValue.parse(Array(text.utf8)),
                          case .string(let token)? = value["token"] else {
                        await Self.fail(outbound, APIError.badRequest("the first message must be {\"token\": \"...\"}"))
                        break
                    }
                    var who = client
                    who.token = token
                    let me: JSONValue
                    do throws(APIError) {
                        me = try await control.call("status", JSONObjectWriter(), for: who)
                    } catch {
                        await Self.fail(outbound, error)
                        break
                    }
                    state.authenticated.store(true, ordering: .releasing)
                    let userID = me["user_id"]?.stringValue ?? ""
                    let role = me["role"]?.stringValue ?? ""
                    var hello = JSONObjectWriter()
                    hello.add("event", "hello")
                    hello.add("user_id", userID)
                    hello.add("role", role)
                    try await outbound.write(.text(hello.text))
                    let (id, events) = relay.subscribe(userID: role == "admin" ? nil : userID)
                    group.addTask {
                        defer { relay.unsubscribe(id) }
                        for await event in events {
                            do { try await outbound.write(.text(String(decoding: event, as: UTF8.self))) } catch { return }
                        }
                    }
                    group.addTask { [control] in
                        while !Task.isCancelled {
                            try? await Task.sleep(for: .seconds(Self.recheckSeconds))
                            if Task.isCancelled { return }
                            do throws(APIError) {
                                _ = try await control.call("status", JSONObjectWriter(), for: who)
                            } catch where error.status == .unauthorized {
                                await Self.fail(outbound, error)
                                relay.unsubscribe(id)
                                return
                            } catch {
                                continue  // the engine away for a moment is no reason to drop the stream
                            }
                        }
                    }
                }
            } catch {
                logger.debug("stream ended", metadata: ["error": "\(error)"])
            }
            group.cancelAll()
        }
    }

    /// Says why in the API's error shape, then closes.
    static func fail(_ outbound: WebSocketOutboundWriter, _ error: APIError) async {
        var inner = JSONObjectWriter()
        inner.add("code", error.code)
        inner.add("message", error.message)
        var body = JSONObjectWriter()
        body.add("event", "error")
        body.add("error", object: inner)
        try? await outbound.write(.text(body.text))
        try? await outbound.close(.policyViolation, reason: error.code)
    }
}
