/// The API's OpenAPI 3.1 document, served at `/api/v1/openapi.json` (filled in below).
enum OpenAPIDocument {
    static let text = #"{"openapi":"3.1.0","info":{"title":"algotrader","version":"1"},"paths":{}}"#
}
