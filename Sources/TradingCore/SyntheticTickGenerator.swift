/// Realistic-looking ticks for the demo feed and benchmarks: a seeded random walk per symbol on
/// the exchange's tick size (0.05 for NSE equities), cumulative volume, a one-tick spread, and
/// `src`/`session`/`seq` so the engine's sequence tracking is exercised. Deterministic for a seed.
public struct SyntheticTickGenerator: Sendable {
    public struct Instrument: Sendable {
        public var symbol: String
        public var exchange: String
        public var price: FixedDecimal
        public var tickSize: FixedDecimal
        public var volume: Int64 = 0
    }

    public private(set) var instruments: [Instrument]
    private var rng: SplitMix64
    private var sequence: Int64 = 0
    private var next = 0
    public let source: String
    public let session: String

    /// Default NSE symbols with rough price levels.
    public static let nseSymbols: [(String, Int64)] = [
        ("RELIANCE", 2450), ("TCS", 3900), ("HDFCBANK", 1650), ("INFY", 1500), ("ICICIBANK", 1250),
        ("SBIN", 820), ("BHARTIARTL", 1600), ("ITC", 470), ("LT", 3600), ("KOTAKBANK", 1750),
        ("AXISBANK", 1150), ("HINDUNILVR", 2400), ("BAJFINANCE", 7000), ("MARUTI", 12500), ("TATAMOTORS", 900),
        ("SUNPHARMA", 1800), ("TITAN", 3400), ("WIPRO", 300), ("NTPC", 360), ("POWERGRID", 320),
    ]

    public init(symbols: [String]? = nil, exchange: String = "NSE", seed: UInt64, source: String = "synthetic", session: String) {
        let table = Dictionary(uniqueKeysWithValues: Self.nseSymbols)
        let names = symbols ?? Self.nseSymbols.map(\.0)
        self.instruments = names.map { name in
            Instrument(symbol: name, exchange: exchange, price: FixedDecimal(table[name] ?? 1000),
                       tickSize: FixedDecimal(units: exchange == "CDS" ? 25 : 500))
        }
        self.rng = SplitMix64(seed: seed)
        self.source = source
        self.session = session
    }

    /// The next tick (round-robin over the instruments) stamped `time`.
    public mutating func next(at time: Timestamp) -> Tick {
        let index = next
        next = (next + 1) % instruments.count
        var instrument = instruments[index]
        // Steps of -2...+2 ticks, never below one tick.
        let steps = Int64(rng.next() % 5) - 2
        var price = instrument.price + FixedDecimal(units: steps * instrument.tickSize.units)
        if price.units < instrument.tickSize.units { price = instrument.tickSize }
        instrument.price = price
        let quantity = Int64(1 + rng.next() % 500)
        instrument.volume += quantity
        instruments[index] = instrument
        sequence += 1
        return Tick(
            symbol: instrument.symbol, exchange: instrument.exchange, timestamp: time, price: price, quantity: quantity,
            volume: instrument.volume, bid: price - instrument.tickSize, ask: price + instrument.tickSize,
            bidQuantity: Int64(1 + rng.next() % 1000), askQuantity: Int64(1 + rng.next() % 1000),
            source: source, session: session, sequence: sequence
        )
    }
}
