import HTTPTypes
import Hummingbird

/// What every answer of the web process carries, whatever made it: the security headers, CORS
/// only for the configured origins, and errors as the API's JSON error object (Hummingbird's own
/// 404 and 413 included).
struct SecurityMiddleware: RouterMiddleware {
    typealias Context = WebRequestContext
    let corsOrigins: Set<String>

    /// The dashboard loads only its own scripts, styles and images; nothing may frame it.
    static let contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        + "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"

    // Header names HTTPTypes has no constant for (each a valid token, so the `!` cannot fail).
    static let frameOptions = HTTPField.Name("X-Frame-Options")!
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
    static let openerPolicy = HTTPField.Name("Cross-Origin-Opener-Policy")!
    static let resourcePolicy = HTTPField.Name("Cross-Origin-Resource-Policy")!

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let origin = request.headers[.origin].flatMap { corsOrigins.contains($0) ? $0 : nil }
        var response: Response
        if request.method == .options, let origin, request.headers[.accessControlRequestMethod] != nil {
            // A preflight from an allowed origin; any other OPTIONS is routed (and 404s).
            response = Response(status: .noContent)
            response.headers[.accessControlAllowMethods] = "GET, POST, DELETE"
            response.headers[.accessControlAllowHeaders] = "Authorization, Content-Type"
            response.headers[.accessControlMaxAge] = "600"
        } else {
            do {
                response = try await next(request, context)
            } catch let error as APIError {
                response = try error.response(from: request, context: context)
            } catch let error as HTTPError {
                response = try APIError.from(status: error.status, message: error.body).response(from: request, context: context)
            } catch let error as any HTTPResponseError {
                response = try APIError.from(status: error.status, message: nil).response(from: request, context: context)
            } catch {
                context.logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
                response = try APIError(.internalServerError, "internal_error", "the request failed").response(from: request, context: context)
            }
        }
        if let origin {
            response.headers[.accessControlAllowOrigin] = origin
            response.headers[.vary] = "Origin"
        }
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[Self.frameOptions] = "DENY"
        response.headers[Self.referrerPolicy] = "no-referrer"
        response.headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
        response.headers[Self.openerPolicy] = "same-origin"
        response.headers[Self.resourcePolicy] = "same-origin"
        if response.headers[.cacheControl] == nil { response.headers[.cacheControl] = "no-store" }
        return response
    }
}
