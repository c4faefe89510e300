import HTTPTypes
import Hummingbird
import NIOCore
import TradingCore

/// The dashboard at `/` (its page, script and style, compiled into the binary: nothing to
/// install beside it) and the equity chart it shows, `/api/v1/equity.svg`, drawn here from the
/// same series `/api/v1/equity` answers.
struct DashboardRoutes: Sendable {
    let api: APIRoutes

    func register(on router: Router<WebRequestContext>) {
        router.get("/") { _, _ in Self.file(DashboardPage.html, "text/html; charset=utf-8") }
        router.get("app.js") { _, _ in Self.file(DashboardScript.js, "text/javascript; charset=utf-8") }
        router.get("app.css") { _, _ in Self.file(DashboardStyle.css, "text/css; charset=utf-8") }
        router.get("api/v1/equity.svg") { request, context in
            var fields = try APIRoutes.userScope(request)
            for name in ["strategy_id", "from", "to"] { if let v = request.uri.queryParameters.get(name) { fields.add(name, v) } }
            let answer = try await api.control.call("equity", fields, for: try api.client(request, context))
            var points: [(time: String, equity: Double)] = []
            if case .array(let items)? = answer["points"] {
                for item in items {
                    guard let time = item["ts"]?.stringValue, case .number(let text)? = item["equity"], let value = Double(text) else { continue }
                    points.append((time, value))
                }
            }
            return Self.file(EquityChart.svg(points), "image/svg+xml")
        }
    }

    static func file(_ text: String, _ type: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        // The page and its parts change only with the binary; each load checks (no stale script
        // after an upgrade).
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
