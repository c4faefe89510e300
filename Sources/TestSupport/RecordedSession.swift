import Foundation
public import TradingCore

/// A recorded-style trading session for bar tests: three NSE symbols and one MCX symbol, ticks in
/// time order per exchange with quiet stretches, starting at `start`.
public enum RecordedSession {
    public static func ticks(start: Timestamp, count: Int = 6_000, seed: UInt64 = 99) -> [Tick] {
        var rng = SplitMix64(seed: seed)
        var ticks: [Tick] = []
        var nse = start, mcx = start.adding(nanoseconds: -600_000_000_000)
        var prices: [String: Int64] = ["RELIANCE": 24_500_000, "INFY": 15_000_000, "TCS": 39_000_000, "CRUDEOIL": 60_000_000]
        for i in 0..<count {
            let onMCX = i % 4 == 3
            let gap = rng.next() % 50 == 0 ? Int64(rng.next() % 400) * 1_000_000_000 : Int64(rng.next() % 3_000) * 1_000_000
            let symbol = onMCX ? "CRUDEOIL" : ["RELIANCE", "INFY", "TCS"][Int(rng.next() % 3)]
            prices[symbol]! += (Int64(rng.next() % 5) - 2) * 500
            let time: Timestamp
            if onMCX { mcx = mcx.adding(nanoseconds: gap); time = mcx } else { nse = nse.adding(nanoseconds: gap); time = nse }
            // Microsecond times: what the database keeps.
            let micro = Timestamp(nanosecondsSinceEpoch: time.nanosecondsSinceEpoch - time.nanosecondsSinceEpoch % 1000)
            ticks.append(Tick(symbol: symbol, exchange: onMCX ? "MCX" : "NSE", timestamp: micro,
                              price: FixedDecimal(units: prices[symbol]!), quantity: Int64(rng.next() % 100),
                              openInterest: onMCX && rng.next() % 3 == 0 ? WideDecimal(FixedDecimal(Int64(rng.next() % 10_000))) : nil))
        }
        return ticks
    }
}

/// Bars computed without the engine's code: Foundation's calendar in Asia/Kolkata for the grid,
/// a dictionary for OHLCV.
public enum IndependentBars {
    public struct Key: Hashable, Sendable {
        public var symbol: String, exchange: String, interval: BarInterval, start: Timestamp
        public init(symbol: String, exchange: String, interval: BarInterval, start: Timestamp) {
            self.symbol = symbol; self.exchange = exchange; self.interval = interval; self.start = start
        }
    }

    public static func start(_ time: Timestamp, interval: BarInterval, openMinutes: Int) -> Timestamp {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Asia/Kolkata")!
        let date = Date(timeIntervalSince1970: Double(time.nanosecondsSinceEpoch) / 1e9)
        let midnight = Int64(calendar.startOfDay(for: date).timeIntervalSince1970)
        if interval == .oneDay { return Timestamp(nanosecondsSinceEpoch: midnight * 1_000_000_000) }
        let anchor = (midnight + Int64(openMinutes) * 60) * 1_000_000_000
        let since = time.nanosecondsSinceEpoch - anchor
        let length = interval.nanoseconds
        let bucket = since >= 0 ? since / length : -((-since + length - 1) / length)
        return Timestamp(nanosecondsSinceEpoch: anchor + bucket * length)
    }

    public static func compute(_ ticks: [Tick]) -> [Key: Bar] {
        var bars: [Key: Bar] = [:]
        for tick in ticks {
            for interval in BarInterval.allCases {
                let open = ["MCX": 540, "CDS": 540][tick.exchange] ?? 555
                let key = Key(symbol: tick.symbol, exchange: tick.exchange, interval: interval,
                              start: start(tick.timestamp, interval: interval, openMinutes: open))
                if var bar = bars[key] {
                    bar.high = max(bar.high, tick.price)
                    bar.low = min(bar.low, tick.price)
                    bar.close = tick.price
                    bar.volume += tick.quantity
                    bar.openInterest = tick.openInterest ?? bar.openInterest
                    bar.tickCount += 1
                    bars[key] = bar
                } else {
                    bars[key] = Bar(symbol: tick.symbol, exchange: tick.exchange, interval: interval, start: key.start,
                                    open: tick.price, high: tick.price, low: tick.price, close: tick.price,
                                    volume: tick.quantity, openInterest: tick.openInterest, tickCount: 1)
                }
            }
        }
        return bars
    }
}
