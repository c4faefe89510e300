/// The OpenAPI document's `components`: the shapes of the API's objects, its parameters and its
/// error answers (`OpenAPIDocument`).
enum OpenAPIComponents {
    static let json = #"""
    {
      "securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer", "description": "The token POST /api/v1/session answers."}
      },
      "parameters": {
        "limit": {"name": "limit", "in": "query", "required": false, "description": "Rows at most (default 100).",
                  "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
        "before": {"name": "before", "in": "query", "required": false,
                   "description": "The cursor of the last row of the previous page: rows older than it.",
                   "schema": {"type": "string", "maxLength": 80}},
        "user_id": {"name": "user_id", "in": "query", "required": false,
                    "description": "One user's rows (a username or user id): an admin's any user, anyone else's only their own. Without it an admin sees every user's.",
                    "schema": {"type": "string", "maxLength": 64}},
        "strategy_id": {"name": "strategy_id", "in": "query", "required": false, "schema": {"type": "string", "format": "uuid"}},
        "status": {"name": "status", "in": "query", "required": false,
                   "schema": {"type": "string", "enum": ["PENDING", "OPEN", "PARTIALLY_FILLED", "FILLED", "CANCELLED", "REJECTED"]}},
        "from": {"name": "from", "in": "query", "required": false, "description": "RFC 3339 time, inclusive.",
                 "schema": {"type": "string", "format": "date-time"}},
        "to": {"name": "to", "in": "query", "required": false, "description": "RFC 3339 time, exclusive.",
               "schema": {"type": "string", "format": "date-time"}},
        "from_date": {"name": "from", "in": "query", "required": false, "description": "IST date, inclusive.",
                      "schema": {"type": "string", "format": "date"}},
        "to_date": {"name": "to", "in": "query", "required": false, "description": "IST date, exclusive.",
                    "schema": {"type": "string", "format": "date"}},
        "path_strategy_id": {"name": "strategy_id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}},
        "path_order_id": {"name": "order_id", "in": "path", "required": true, "schema": {"type": "string", "minLength": 1, "maxLength": 64}}
      },
      "responses": {
        "BadRequest": {"description": "A field, parameter or body the API does not take.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        "Unauthorized": {"description": "No token, or one unknown or expired.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        "Forbidden": {"description": "The caller's role may not do this (an investor changes nothing).", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        "NotFound": {"description": "No such object, or another user's to a non-admin.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        "TooLarge": {"description": "The body is over http.max_body_bytes.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        "TooMany": {"description": "Failed logins passed the limit; Retry-After says when to try again.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        "Unavailable": {"description": "The engine did not answer.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
      },
      "schemas": {
        "Error": {"type": "object", "required": ["error"], "properties": {
          "error": {"type": "object", "required": ["code", "message"], "properties": {
            "code": {"type": "string", "description": "bad_request, unauthorized, forbidden, not_found, payload_too_large, rate_limited, engine_unavailable, ..."},
            "message": {"type": "string"}}}}},
        "Money": {"type": ["number", "null"], "description": "Rupees, exact (a JSON number with up to four decimals)."},
        "Time": {"type": ["string", "null"], "format": "date-time"},
        "LoginRequest": {"type": "object", "required": ["username", "password"], "additionalProperties": false, "properties": {
          "username": {"type": "string"}, "password": {"type": "string"}}},
        "Session": {"type": "object", "required": ["token", "expires_at", "user"], "properties": {
          "token": {"type": "string"}, "expires_at": {"type": "string", "format": "date-time"},
          "user": {"type": "object", "required": ["user_id", "username", "role"], "properties": {
            "user_id": {"type": "string", "format": "uuid"}, "username": {"type": "string"},
            "role": {"type": "string", "enum": ["admin", "trader", "investor"]}}}}},
        "Halt": {"type": "object", "properties": {
          "user_id": {"type": ["string", "null"]}, "strategy_id": {"type": ["string", "null"]},
          "reason": {"type": "string"}, "source": {"type": "string"}}},
        "Me": {"type": "object", "required": ["user_id", "username", "role"], "properties": {
          "user_id": {"type": "string"}, "username": {"type": "string"}, "role": {"type": "string"},
          "engine_halted": {"type": "boolean"}, "halts": {"type": "array", "items": {"$ref": "#/components/schemas/Halt"}},
          "strategies_running": {"type": "integer"}, "strategies": {"type": "integer"}}},
        "Health": {"type": "object", "required": ["status", "engine"], "properties": {
          "status": {"type": "string", "enum": ["ok", "unavailable"]}, "engine": {"type": "string", "enum": ["reachable", "unreachable"]}}},
        "Strategy": {"type": "object", "required": ["strategy_id", "name", "strategy_type", "is_active", "is_running", "parameters", "cursor"], "properties": {
          "strategy_id": {"type": "string"}, "user_id": {"type": "string"}, "name": {"type": "string"}, "strategy_type": {"type": "string"},
          "is_active": {"type": "boolean"}, "is_running": {"type": "boolean"}, "parameters": {"type": "object"},
          "broker_id": {"type": ["string", "null"]}, "created_at": {"$ref": "#/components/schemas/Time"}, "cursor": {"type": "string"}}},
        "Position": {"type": "object", "required": ["position_id", "symbol", "exchange", "quantity", "cursor"], "properties": {
          "position_id": {"type": "string"}, "user_id": {"type": "string"}, "strategy_id": {"type": ["string", "null"]},
          "symbol": {"type": "string"}, "exchange": {"type": "string"}, "product": {"type": ["string", "null"]},
          "quantity": {"type": "number"}, "average_price": {"$ref": "#/components/schemas/Money"},
          "current_price": {"$ref": "#/components/schemas/Money"}, "unrealized_pnl": {"$ref": "#/components/schemas/Money"},
          "realized_pnl": {"$ref": "#/components/schemas/Money"}, "charges": {"$ref": "#/components/schemas/Money"},
          "status": {"type": "string"}, "opened_at": {"$ref": "#/components/schemas/Time"}, "cursor": {"type": "string"}}},
        "Order": {"type": "object", "required": ["trade_id", "strategy_id", "symbol", "exchange", "transaction_type", "order_type", "quantity", "status", "reason", "cursor"], "properties": {
          "trade_id": {"type": "string"}, "order_id": {"type": ["string", "null"]}, "parent_order_id": {"type": ["string", "null"]},
          "user_id": {"type": "string"}, "strategy_id": {"type": "string"}, "broker_id": {"type": "string"},
          "symbol": {"type": "string"}, "exchange": {"type": "string"}, "transaction_type": {"type": "string", "enum": ["BUY", "SELL"]},
          "order_type": {"type": "string", "enum": ["MARKET", "LIMIT", "SL", "SL-M"]}, "product": {"type": ["string", "null"]},
          "validity": {"type": ["string", "null"]}, "quantity": {"type": "number"}, "filled_quantity": {"type": ["number", "null"]},
          "price": {"$ref": "#/components/schemas/Money"}, "trigger_price": {"$ref": "#/components/schemas/Money"},
          "stoploss": {"$ref": "#/components/schemas/Money"}, "target": {"$ref": "#/components/schemas/Money"},
          "average_price": {"$ref": "#/components/schemas/Money"}, "charges": {"$ref": "#/components/schemas/Money"},
          "status": {"type": "string"}, "reason": {"type": ["string", "null"], "description": "Why it was rejected or cancelled, or null."},
          "ts": {"$ref": "#/components/schemas/Time"}, "updated_at": {"$ref": "#/components/schemas/Time"}, "cursor": {"type": "string"}}},
        "Fill": {"type": "object", "required": ["fill_id", "trade_id", "strategy_id", "symbol", "fill_quantity", "fill_price", "ts", "cursor"], "properties": {
          "fill_id": {"type": "string"}, "trade_id": {"type": "string"}, "order_id": {"type": ["string", "null"]},
          "parent_order_id": {"type": ["string", "null"]}, "user_id": {"type": "string"}, "strategy_id": {"type": "string"},
          "broker_id": {"type": "string"}, "symbol": {"type": "string"}, "exchange": {"type": "string"},
          "transaction_type": {"type": "string"}, "order_type": {"type": "string"}, "product": {"type": ["string", "null"]},
          "quantity": {"type": "number"}, "fill_quantity": {"type": ["number", "null"]}, "fill_price": {"$ref": "#/components/schemas/Money"},
          "charges": {"$ref": "#/components/schemas/Money"}, "realized_pnl": {"$ref": "#/components/schemas/Money"},
          "exec_id": {"type": ["string", "null"]}, "ts": {"type": "string"}, "cursor": {"type": "string"}}},
        "Day": {"type": "object", "required": ["strategy_id", "date", "gross_pnl", "charges", "net_pnl", "cursor"], "properties": {
          "strategy_id": {"type": "string"}, "name": {"type": "string"}, "user_id": {"type": "string"}, "date": {"type": "string", "format": "date"},
          "gross_pnl": {"$ref": "#/components/schemas/Money"}, "charges": {"$ref": "#/components/schemas/Money"},
          "net_pnl": {"$ref": "#/components/schemas/Money"}, "trades": {"type": ["number", "null"]},
          "winning_trades": {"type": ["number", "null"]}, "losing_trades": {"type": ["number", "null"]},
          "max_drawdown": {"$ref": "#/components/schemas/Money"}, "cursor": {"type": "string"}}},
        "Equity": {"type": "object", "required": ["from", "points"], "properties": {
          "from": {"type": "string", "format": "date-time"}, "strategy_id": {"type": ["string", "null"]},
          "points": {"type": "array", "items": {"type": "object", "required": ["ts", "equity", "change"], "properties": {
            "ts": {"type": "string"}, "equity": {"type": "number"}, "change": {"type": ["number", "null"]}}}}}},
        "ScopeRequest": {"type": "object", "required": ["scope"], "additionalProperties": false, "properties": {
          "scope": {"type": "string", "enum": ["user", "strategy", "engine"]},
          "id": {"type": "string", "minLength": 1, "description": "The user (name or id; default: the caller) or the strategy's id; none for the engine."},
          "reason": {"type": "string", "maxLength": 500}}},
        "FlattenRequest": {"type": "object", "required": ["scope"], "additionalProperties": false, "properties": {
          "scope": {"type": "string", "enum": ["user", "strategy"]},
          "id": {"type": "string", "minLength": 1, "description": "The user (default: the caller) or the strategy's id."}}},
        "Result": {"type": "object", "description": "What the engine did (halted, lifted, closing_orders, cancel_requests, is_active, ...)."}
      }
    }
    """#
}
