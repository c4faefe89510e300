/// One row of the instrument master (`instruments`): what the engine knows about a tradable
/// contract. Orders take their instrument type, lot size, tick size and freeze quantity from it.
public struct Instrument: Sendable, Equatable {
    public var instrumentToken: Int64
    public var exchangeToken: Int64?
    public var tradingSymbol: String
    public var name: String?
    public var exchange: String
    /// `NSE`, `NFO-FUT`, `NFO-OPT`, `MCX-FUT`, ... (Zerodha's `segment` column).
    public var segment: String
    /// `EQ`, `FUT`, `CE`, `PE`, ...
    public var instrumentType: String
    public var lotSize: Int64
    public var tickSize: FixedDecimal
    /// The exchange's largest quantity for one order; nil when not known.
    public var freezeQuantity: Int64?
    /// Days since 1970-01-01; nil for equities.
    public var expiry: Int64?
    public var strike: FixedDecimal?
    public var lastPrice: FixedDecimal?

    public init(instrumentToken: Int64, exchangeToken: Int64? = nil, tradingSymbol: String, name: String? = nil, exchange: String,
                segment: String, instrumentType: String, lotSize: Int64, tickSize: FixedDecimal, freezeQuantity: Int64? = nil,
                expiry: Int64? = nil, strike: FixedDecimal? = nil, lastPrice: FixedDecimal? = nil) {
        self.instrumentToken = instrumentToken
        self.exchangeToken = exchangeToken
        self.tradingSymbol = tradingSymbol
        self.name = name
        self.exchange = exchange
        self.segment = segment
        self.instrumentType = instrumentType
        self.lotSize = lotSize
        self.tickSize = tickSize
        self.freezeQuantity = freezeQuantity
        self.expiry = expiry
        self.strike = strike
        self.lastPrice = lastPrice
    }

    /// CONTRACT.md section 5: an instrument missing from the master trades as an equity with lot
    /// size 1 and tick size 0.01.
    public static func missing(symbol: String, exchange: String) -> Instrument {
        Instrument(instrumentToken: 0, tradingSymbol: symbol, exchange: exchange, segment: exchange, instrumentType: "EQ",
                   lotSize: 1, tickSize: FixedDecimal(units: 100))
    }

    /// Futures and options (and their commodity and currency kin) trade in lots; they are F&O.
    public var isDerivative: Bool { instrumentType != "EQ" }
    public var isOption: Bool { instrumentType == "CE" || instrumentType == "PE" }
}

/// The instrument master in memory, keyed by symbol and exchange.
public struct InstrumentMaster: Sendable {
    private var byKey: [String: Instrument] = [:]

    public init(_ instruments: [Instrument] = []) {
        for instrument in instruments { byKey[Self.key(instrument.tradingSymbol, instrument.exchange)] = instrument }
    }

    static func key(_ symbol: String, _ exchange: String) -> String { symbol + "|" + exchange }

    public var count: Int { byKey.count }

    /// The instrument, or the contract's default for one missing from the master.
    public func lookup(symbol: String, exchange: String) -> Instrument {
        byKey[Self.key(symbol, exchange)] ?? .missing(symbol: symbol, exchange: exchange)
    }

    public func contains(symbol: String, exchange: String) -> Bool { byKey[Self.key(symbol, exchange)] != nil }
}
