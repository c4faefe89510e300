import TradingCore

/// The API's OpenAPI 3.1 document, served at `/api/v1/openapi.json`: every path in full, each
/// operation's answers and shapes as the routes give them (schemathesis checks the running server
/// against it in `make test`). The paths and the components are JSON of their own
/// (`OpenAPIPaths`, `OpenAPIComponents`), parsed once and written out through the JSON writer.
enum OpenAPIDocument {
    static let bytes: [UInt8] = {
        var info = JSONObjectWriter()
        info.add("title", "algotrader API")
        info.add("version", "1")
        info.add("description", "The trading engine's HTTP API (docs/web.md). Every endpoint but health, openapi.json and "
                 + "POST /api/v1/session needs Authorization: Bearer <token>, the token POST /api/v1/session answers.")
        var document = JSONObjectWriter()
        document.add("openapi", "3.1.0")
        document.add("info", object: info)
        document.add("paths", value: parse(OpenAPIPaths.json))
        document.add("components", value: parse(OpenAPIComponents.json))
        var security = JSONObjectWriter()
        security.add("bearer", strings: [])
        document.add("security", objects: [security])
        return document.bytes
    }()

    /// The committed JSON (a test parses both; a mistake fails there, not at a request).
    static func parse(_ text: String) -> JSONValue {
        (try? JSONValue.parse(Array(text.utf8))) ?? .object([("invalid", .string("the committed OpenAPI JSON does not parse"))])
    }
}
