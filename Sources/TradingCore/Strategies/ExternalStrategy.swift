/// A strategy run by a process of its user's (`strategy_type = 'external'`): what its row
/// declares. Its parameters: `instruments` (required, `"EXCHANGE:SYMBOL"` strings: the ticks
/// and bars it receives and may trade), `intervals` (bar intervals it receives, default none),
/// `broker_id`, the order parameters every type takes (`product`, `validity`, `max_loss`), and
/// any other keys, handed to the process as its parameters.
public struct ExternalStrategyConfig: Sendable, Equatable {
    public static let type = "external"
    /// Instruments one strategy may declare, at most.
    public static let maxInstruments = 1_000

    public struct Instrument: Hashable, Sendable {
        public var symbol: String
        public var exchange: String
        public init(symbol: String, exchange: String) {
            self.symbol = symbol
            self.exchange = exchange
        }
        /// `"NSE:RELIANCE"`.
        public var text: String { exchange + ":" + symbol }
    }

    public var instruments: [Instrument]
    public var intervals: Set<BarInterval>

    public init(parameters: StrategyParameters) throws(StrategyConfigurationError) {
        _ = try StrategyOrderPolicy(parameters: parameters)
        guard let list = try parameters.stringList("instruments"), !list.isEmpty else {
            throw StrategyConfigurationError(parameter: "instruments", "is required: a list such as [\"NSE:RELIANCE\"]")
        }
        guard list.count <= Self.maxInstruments else {
            throw StrategyConfigurationError(parameter: "instruments", "lists \(list.count); at most \(Self.maxInstruments)")
        }
        var seen = Set<Instrument>()
        var instruments: [Instrument] = []
        for item in list {
            let parts = item.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, PrintableText.isIdentifier(String(parts[0]), maxCharacters: 20),
                  PrintableText.isIdentifier(String(parts[1]), maxCharacters: 50),
                  !parts[0].isEmpty, !parts[1].isEmpty else {
                throw StrategyConfigurationError(parameter: "instruments", "'\(PrintableText.make(item, maxCharacters: 80))' is not \"EXCHANGE:SYMBOL\"")
            }
            let instrument = Instrument(symbol: String(parts[1]), exchange: String(parts[0]))
            if seen.insert(instrument).inserted { instruments.append(instrument) }
        }
        self.instruments = instruments
        var intervals = Set<BarInterval>()
        for name in try parameters.stringList("intervals") ?? [] {
            guard let interval = BarInterval(rawValue: name) else {
                throw StrategyConfigurationError(parameter: "intervals",
                                                 "'\(PrintableText.make(name, maxCharacters: 20))' is not one of \(BarInterval.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            intervals.insert(interval)
        }
        self.intervals = intervals
    }

    /// The parameters handed to the process: every key of the row's.
    public static func parametersObject(_ parameters: StrategyParameters) -> JSONObjectWriter {
        var w = JSONObjectWriter()
        for (key, value) in parameters.values.sorted(by: { $0.key < $1.key }) { w.add(key, value: value.jsonValue) }
        return w
    }
}
