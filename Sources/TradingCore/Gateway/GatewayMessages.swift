/// The gateway's messages to the engine, read strictly (docs/protocol.md): whatever one says is
/// checked here, at the edge, so nothing a gateway sends can trap the desk or be refused by the
/// database later. Identifiers with control characters are refused; a free-text `reason` is kept
/// with its control characters written visibly.
public enum GatewayMessages {
    /// A message refused, with what to tell the gateway.
    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        public let message: String
        public init(_ message: String) { self.message = message }
        public var description: String { message }
    }

    /// Payloads larger than this are refused before they are parsed.
    public static let maxPayloadBytes = 65_536
    /// Longest identifier (report, order, execution and broker order ids, gateway id).
    public static let maxIdentifier = 128
    /// Longest `reason` kept (longer ones are cut, marked with an ellipsis).
    public static let maxReason = 500
    /// Most broker accounts one `hello` may name.
    public static let maxBrokersPerHello = 1_000

    public static func parseObject(_ payload: [UInt8]) -> Result<JSONValue, Problem> {
        guard payload.count <= maxPayloadBytes else { return .failure(Problem("payload over \(maxPayloadBytes) bytes")) }
        do {
            let value = try JSONValue.parse(payload)
            guard case .object = value else { return .failure(Problem("payload is not a JSON object")) }
            return .success(value)
        } catch {
            return .failure(Problem("payload is not JSON: \(error.message)"))
        }
    }

    /// An optional identifier: absent or null is `nil`; otherwise a string of 1...max characters
    /// without control characters.
    static func identifier(_ body: JSONValue, _ key: String) -> Result<String?, Problem> {
        guard let value = body[key], !value.isNull else { return .success(nil) }
        guard let text = value.stringValue, PrintableText.isIdentifier(text, maxCharacters: maxIdentifier) else {
            return .failure(Problem("\(key) must be a string of 1 to \(maxIdentifier) characters without control characters"))
        }
        return .success(text)
    }

    /// How far a report's `ts` may lie from the engine's clock: the window ticks are held to.
    public static let maxReportAgeNanoseconds: Int64 = 30 * Timestamp.nanosecondsPerDay
    public static let maxReportLeadNanoseconds: Int64 = Timestamp.nanosecondsPerDay

    /// A `report` payload as a ``GatewayReport``; `now` is its time when it carries no `ts`.
    public static func report(_ body: JSONValue, now: Timestamp) -> Result<GatewayReport, Problem> {
        guard let type = body["type"]?.stringValue, let kind = GatewayReport.Kind(rawValue: type) else {
            return .failure(Problem("type must be one of \(GatewayReport.Kind.allCases.map(\.rawValue).joined(separator: ", "))"))
        }
        let ids: [String?]
        do {
            ids = try ["report_id", "order_id", "exec_id", "broker_order_id"].map { key throws(Problem) in try identifier(body, key).get() }
        } catch {
            return .failure(error)
        }
        guard let reportID = ids[0] else { return .failure(Problem("report_id is required")) }
        guard let orderID = ids[1] else { return .failure(Problem("order_id is required")) }
        var time = now
        if let ts = body["ts"], !ts.isNull {
            guard let text = ts.stringValue, let parsed = Timestamp.parseRFC3339(text) else {
                return .failure(Problem("ts must be an RFC 3339 time"))
            }
            let ns = parsed.nanosecondsSinceEpoch
            guard ns >= now.nanosecondsSinceEpoch - maxReportAgeNanoseconds, ns <= now.nanosecondsSinceEpoch + maxReportLeadNanoseconds else {
                return .failure(Problem("ts must lie within 30 days before and 1 day after the engine's clock"))
            }
            time = parsed
        }
        let quantityKey = kind == .fill ? "fill_quantity" : "quantity"
        var quantity: Int64?
        if let q = body[quantityKey], !q.isNull {
            guard let n = q.int64Value, n >= 0, n <= TickLimits.maxQuantity else {
                return .failure(Problem("\(quantityKey) must be an integer from 0 to \(TickLimits.maxQuantity)"))
            }
            quantity = n
        }
        func price(_ key: String) -> Result<FixedDecimal?, Problem> {
            guard let p = body[key], !p.isNull else { return .success(nil) }
            guard let value = p.fixedDecimalValue, value.units >= 0 else {
                return .failure(Problem("\(key) must be a number >= 0 with at most 4 decimals, below 10^14"))
            }
            return .success(value)
        }
        let priceKey = kind == .fill ? "fill_price" : "price"
        let limit: FixedDecimal?, trigger: FixedDecimal?
        switch (price(priceKey), price("trigger_price")) {
        case (.success(let p), .success(let t)): (limit, trigger) = (p, t)
        case (.failure(let problem), _), (_, .failure(let problem)): return .failure(problem)
        }
        var reason: String?
        if let r = body["reason"], !r.isNull {
            guard let text = r.stringValue else { return .failure(Problem("reason must be a string")) }
            reason = PrintableText.make(text, maxCharacters: maxReason)
        }
        if kind == .fill {
            guard ids[2] != nil else { return .failure(Problem("a fill needs exec_id")) }
            guard let q = quantity, q > 0 else { return .failure(Problem("a fill needs fill_quantity > 0")) }
            guard let p = limit, p.units > 0 else { return .failure(Problem("a fill needs fill_price > 0")) }
        }
        return .success(GatewayReport(kind: kind, reportID: reportID, orderID: orderID, execID: ids[2], quantity: quantity, price: limit,
                                      triggerPrice: trigger, reason: reason, brokerOrderID: ids[3], time: time))
    }

    /// A `hello`: the broker accounts a gateway serves, its id and `api_type`.
    public struct Hello: Sendable, Equatable {
        public var brokerIDs: [String]
        public var gatewayID: String
        public var apiType: String?
        /// A broker's market-data publisher: credentials and instrument tokens, never orders.
        public var isFeed = false
        /// A feed's instruments, `EXCHANGE:SYMBOL`.
        public var instruments: [String] = []

        public init(brokerIDs: [String], gatewayID: String, apiType: String?, isFeed: Bool = false, instruments: [String] = []) {
            self.brokerIDs = brokerIDs
            self.gatewayID = gatewayID
            self.apiType = apiType
            self.isFeed = isFeed
            self.instruments = instruments
        }
    }

    /// Most instruments one feed `hello` may name (Kite Ticker's limit per connection).
    public static let maxFeedInstruments = 3_000

    /// `funds`: a live account's available cash as its broker reports it (`broker_id`, `cash`:
    /// a number, rupees, at most four decimals).
    public static func funds(_ body: JSONValue) -> Result<(brokerID: String, cash: FixedDecimal), Problem> {
        guard let broker = body["broker_id"]?.stringValue, PrintableText.isIdentifier(broker, maxCharacters: 64) else {
            return .failure(Problem("funds needs broker_id (a string of 1 to 64 characters)"))
        }
        guard let cash = body["cash"]?.fixedDecimalValue else {
            return .failure(Problem("funds needs cash (a number with at most four decimals, below 10^14)"))
        }
        return .success((broker.lowercased(), cash))
    }

    public static func hello(_ body: JSONValue) -> Result<Hello, Problem> {
        guard case .array(let items)? = body["broker_ids"], items.count <= maxBrokersPerHello else {
            return .failure(Problem("hello needs broker_ids (a list of at most \(maxBrokersPerHello) broker_id)"))
        }
        var brokers: [String] = []
        for item in items {
            guard let id = item.stringValue, PrintableText.isIdentifier(id, maxCharacters: 64) else {
                return .failure(Problem("each broker_id must be a string of 1 to 64 characters without control characters"))
            }
            brokers.append(id)
        }
        let gatewayID: String?, apiType: String?
        switch (identifier(body, "gateway_id"), identifier(body, "api_type")) {
        case (.success(let g), .success(let a)): (gatewayID, apiType) = (g, a)
        case (.failure(let problem), _), (_, .failure(let problem)): return .failure(problem)
        }
        var isFeed = false
        switch body["role"] {
        case nil, .null?: break
        case .string("gateway")?: break
        case .string("feed")?: isFeed = true
        default: return .failure(Problem("role must be gateway or feed"))
        }
        var instruments: [String] = []
        if let list = body["instruments"], !list.isNull {
            guard isFeed, case .array(let items) = list, items.count <= maxFeedInstruments else {
                return .failure(Problem("instruments is a feed's list of at most \(maxFeedInstruments) \"EXCHANGE:SYMBOL\""))
            }
            for item in items {
                guard let text = item.stringValue, PrintableText.isIdentifier(text, maxCharacters: 72), text.contains(":") else {
                    return .failure(Problem("each instrument must be \"EXCHANGE:SYMBOL\""))
                }
                instruments.append(text)
            }
        }
        return .success(Hello(brokerIDs: brokers, gatewayID: gatewayID ?? "gateway", apiType: apiType, isFeed: isFeed, instruments: instruments))
    }
}
