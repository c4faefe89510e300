import HTTPTypes
import Hummingbird
import NIOCore
import TradingCore

/// The JSON API under `/api/v1` (docs/web.md): each endpoint one control request, made for the
/// caller's token with the caller's address; the engine checks roles and ownership and reads
/// every user's rows under row-level security, so nothing here decides who may see what.
struct APIRoutes: Sendable {
    let control: ControlClient
    let maxBodyBytes: Int

    /// The list endpoints: path, control command, the answer's member holding the rows, and the
    /// filters each takes beyond `user_id`, `limit` and `before`.
    static let lists: [(path: String, command: String, member: String, filters: [String])] = [
        ("strategies", "strategies", "strategies", ["strategy_id"]),
        ("positions", "positions", "positions", ["strategy_id"]),
        ("orders", "orders", "orders", ["strategy_id", "status", "from", "to"]),
        ("fills", "fills", "fills", ["strategy_id", "from", "to"]),
        ("pnl/daily", "pnl.daily", "days", ["strategy_id", "from", "to"]),
    ]

    func register(on router: Router<WebRequestContext>) {
        let api = router.group("api/v1")
        api.get("health") { _, context in try await health(context) }
        api.get("openapi.json") { _, _ in
            APIResponse.json(.ok, OpenAPIDocument.bytes)
        }
        api.post("session") { request, context in try await login(request, context) }
        api.delete("session") { request, context in
            _ = try await control.call("logout", JSONObjectWriter(), for: try client(request, context))
            return Response(status: .noContent)
        }
        api.get("me") { request, context in try await me(request, context) }
        for list in Self.lists {
            api.get(RouterPath(list.path)) { request, context in try await self.list(list.command, list.member, list.filters, request, context) }
        }
        api.get("equity") { request, context in
            var fields = try Self.userScope(request)
            for name in ["strategy_id", "from", "to"] { if let v = request.uri.queryParameters.get(name) { fields.add(name, v) } }
            if let limit = try Self.limit(request, max: 100_000) { fields.add("limit", limit) }
            return APIResponse.json(.ok, try await control.call("equity", fields, for: try client(request, context)))
        }
        for action in ["start", "stop"] {
            api.post("strategies/:strategy_id/\(action)") { request, context in
                var fields = JSONObjectWriter()
                fields.add("strategy_id", try Self.pathUUID(context, "strategy_id"))
                return APIResponse.json(.ok, try await control.call("strategy.\(action)", fields, for: try client(request, context)))
            }
        }
        api.post("orders/:order_id/cancel") { request, context in
            var fields = JSONObjectWriter()
            fields.add("order_id", context.parameters.get("order_id") ?? "")
            return APIResponse.json(.accepted, try await control.call("order.cancel", fields, for: try client(request, context)))
        }
        api.post("halt") { request, context in try await haltOrResume("halt", request, context) }
        api.post("resume") { request, context in try await haltOrResume("resume", request, context) }
        api.post("flatten") { request, context in try await flatten(request, context) }
        // A WebSocket upgrade never reaches the router (WebServer upgrades it first): this is a
        // plain GET of the stream's path.
        api.get("stream") { _, _ -> Response in
            throw APIError.badRequest("the stream is a WebSocket: connect with Upgrade: websocket")
        }
    }

    // MARK: - Endpoints

    private func health(_ context: WebRequestContext) async throws -> Response {
        // A request without a token: any answer at all means the engine's control socket is up.
        var body = JSONObjectWriter()
        do {
            _ = try await control.call("status", JSONObjectWriter(), for: .init())
            body.add("engine", "reachable")
        } catch let error where error.status == .unauthorized {
            body.add("engine", "reachable")
        } catch {
            body.add("status", "unavailable")
            body.add("engine", "unreachable")
            return APIResponse.json(.serviceUnavailable, body.bytes)
        }
        body.add("status", "ok")
        return APIResponse.json(.ok, body.bytes)
    }

    private func login(_ request: Request, _ context: WebRequestContext) async throws -> Response {
        let fields = try await Self.object(request, context, max: maxBodyBytes, allowed: ["username", "password"])
        guard case .string(let username)? = fields["username"], case .string(let password)? = fields["password"] else {
            throw APIError.badRequest("the body must be {\"username\": string, \"password\": string}")
        }
        var login = JSONObjectWriter()
        login.add("username", username)
        login.add("password", password)
        var who = try client(request, context, requireToken: false)
        who.token = nil
        let answer = try await control.call("login", login, for: who)
        var user = JSONObjectWriter()
        user.add("user_id", answer["user_id"]?.stringValue)
        user.add("username", username)
        user.add("role", answer["role"]?.stringValue)
        var body = JSONObjectWriter()
        body.add("token", answer["token"]?.stringValue)
        body.add("expires_at", answer["expires_at"]?.stringValue)
        body.add("user", object: user)
        return APIResponse.json(.created, body.bytes)
    }

    private func me(_ request: Request, _ context: WebRequestContext) async throws -> Response {
        let status = try await control.call("status", JSONObjectWriter(), for: try client(request, context))
        var body = JSONObjectWriter()
        body.add("user_id", status["user_id"]?.stringValue)
        body.add("username", status["user"]?.stringValue)
        body.add("role", status["role"]?.stringValue)
        for name in ["engine_halted", "halts", "strategies_running", "strategies"] { body.add(name, value: status[name] ?? .null) }
        return APIResponse.json(.ok, body.bytes)
    }

    private func list(_ command: String, _ member: String, _ filters: [String], _ request: Request,
                      _ context: WebRequestContext) async throws -> Response {
        var fields = try Self.userScope(request)
        for name in filters + ["before"] { if let v = request.uri.queryParameters.get(name) { fields.add(name, v) } }
        if let limit = try Self.limit(request, max: 1_000) { fields.add("limit", limit) }
        let answer = try await control.call(command, fields, for: try client(request, context))
        guard let rows = answer[member], case .array = rows else {
            throw APIError(.badGateway, "bad_engine_answer", "the engine's answer has no '\(member)'")
        }
        return APIResponse.json(.ok, rows)
    }

    /// `{"scope": "user"|"strategy"|"engine", "id": ..., "reason": ...}` as the control socket's
    /// one scope field.
    private func haltOrResume(_ command: String, _ request: Request, _ context: WebRequestContext) async throws -> Response {
        let body = try await Self.object(request, context, max: maxBodyBytes, allowed: ["scope", "id", "reason"])
        var fields = try Self.scope(body, allowed: ["user", "strategy", "engine"])
        if command == "halt", let reason = body["reason"], !reason.isNull {
            guard case .string(let text) = reason else { throw APIError.badRequest("'reason' must be a string") }
            fields.add("reason", text)
        }
        return APIResponse.json(.ok, try await control.call(command, fields, for: try client(request, context)))
    }

    private func flatten(_ request: Request, _ context: WebRequestContext) async throws -> Response {
        let body = try await Self.object(request, context, max: maxBodyBytes, allowed: ["scope", "id"])
        let fields = try Self.scope(body, allowed: ["user", "strategy"])
        return APIResponse.json(.accepted, try await control.call("flatten", fields, for: try client(request, context)))
    }

    // MARK: - Request parts

    /// The caller: the bearer token (required unless `requireToken` is false), address and agent.
    func client(_ request: Request, _ context: WebRequestContext, requireToken: Bool = true) throws(APIError) -> ControlClient.Client {
        var token: String?
        if let header = request.headers[.authorization] {
            let parts = header.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].isEmpty, parts[1].utf8.count <= 128 else {
                throw APIError.unauthenticated
            }
            token = String(parts[1])
        }
        if requireToken && token == nil { throw APIError.unauthenticated }
        return .init(token: token, address: context.clientIP, userAgent: request.headers[.userAgent])
    }

    /// `user_id` as the control socket's `user`; without it, an admin's lists hold every user's.
    static func userScope(_ request: Request) throws -> JSONObjectWriter {
        var fields = JSONObjectWriter()
        if let user = request.uri.queryParameters.get("user_id") {
            fields.add("user", user)
        } else {
            fields.add("all_users", true)
        }
        return fields
    }

    static func limit(_ request: Request, max: Int) throws(APIError) -> Int? {
        guard let text = request.uri.queryParameters.get("limit") else { return nil }
        guard let n = Int(text), (1...max).contains(n) else { throw APIError.badRequest("'limit' must be an integer from 1 to \(max)") }
        return n
    }

    static func pathUUID(_ context: WebRequestContext, _ name: String) throws(APIError) -> String {
        let text = context.parameters.get(name) ?? ""
        guard UUIDText.isUUID(text) else { throw APIError(.notFound, "not_found", "no \(name.replacingOccurrences(of: "_id", with: "")) '\(text)'") }
        return text.lowercased()
    }

    /// The request body as a JSON object with only `allowed` members.
    static func object(_ request: Request, _ context: WebRequestContext, max: Int, allowed: Set<String>) async throws -> JSONValue {
        let buffer = try await request.body.collect(upTo: max)
        let bytes = Array(buffer.readableBytesView)
        guard let value = try? JSONValue.parse(bytes), case .object(let members) = value else {
            throw APIError.badRequest("the body must be a JSON object")
        }
        if let unknown = members.first(where: { !allowed.contains($0.0) }) {
            throw APIError.badRequest("unknown field '\(PrintableText.make(unknown.0, maxCharacters: 64))' (takes \(allowed.sorted().joined(separator: ", ")))")
        }
        return value
    }

    /// `scope` and `id` as the control socket's `user`, `strategy_id` or `engine`.
    static func scope(_ body: JSONValue, allowed: [String]) throws(APIError) -> JSONObjectWriter {
        guard case .string(let scope)? = body["scope"], allowed.contains(scope) else {
            throw APIError.badRequest("'scope' must be one of \(allowed.joined(separator: ", "))")
        }
        var id: String?
        if let value = body["id"], !value.isNull {
            guard case .string(let text) = value, !text.isEmpty else { throw APIError.badRequest("'id' must be a non-empty string") }
            id = text
        }
        var fields = JSONObjectWriter()
        switch scope {
        case "user":
            if let id { fields.add("user", id) }
        case "strategy":
            guard let id else { throw APIError.badRequest("a strategy scope needs 'id', the strategy's id") }
            fields.add("strategy_id", id)
        default:
            guard id == nil else { throw APIError.badRequest("the engine scope takes no 'id'") }
            fields.add("engine", true)
        }
        return fields
    }
}

/// UUID text, checked without Foundation's allocation per call.
enum UUIDText {
    static func isUUID(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 36 else { return false }
        for (i, b) in bytes.enumerated() {
            if [8, 13, 18, 23].contains(i) { guard b == UInt8(ascii: "-") else { return false }; continue }
            guard (48...57).contains(b) || (97...102).contains(b | 0x20) else { return false }
        }
        return true
    }
}
