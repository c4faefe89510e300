public import HTTPTypes
public import Hummingbird
import NIOCore
import TradingCore

/// An API error: its status and the body `{"error": {"code": ..., "message": ...}}` every
/// failure answers with, so a client reads one shape whatever went wrong.
public struct APIError: HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String
    /// Extra headers (`WWW-Authenticate`, `Retry-After`).
    var headers: HTTPFields = [:]

    init(_ status: HTTPResponse.Status, _ code: String, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    static func badRequest(_ message: String) -> APIError { APIError(.badRequest, "bad_request", message) }

    static let unauthenticated = APIError(.unauthorized, "unauthorized", "log in first: send Authorization: Bearer <token>",
                                          headers: [.wwwAuthenticate: "Bearer"])

    /// The error for a status Hummingbird itself answered (no route, a body too large).
    static func from(status: HTTPResponse.Status, message: String?) -> APIError {
        let code: String
        switch status.code {
        case 400: code = "bad_request"
        case 401: code = "unauthorized"
        case 403: code = "forbidden"
        case 404: code = "not_found"
        case 405: code = "method_not_allowed"
        case 413: code = "payload_too_large"
        case 429: code = "rate_limited"
        case 500...: code = "internal_error"
        default: code = "error"
        }
        return APIError(status, code, message ?? status.reasonPhrase)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var inner = JSONObjectWriter()
        inner.add("code", code)
        inner.add("message", message)
        var body = JSONObjectWriter()
        body.add("error", object: inner)
        return APIResponse.json(status, body.bytes, headers: headers)
    }
}

/// JSON responses.
enum APIResponse {
    static func json(_ status: HTTPResponse.Status, _ bytes: [UInt8], headers extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func json(_ status: HTTPResponse.Status, _ value: JSONValue) -> Response { json(status, JSONObjectWriter.bytes(of: value)) }
}
