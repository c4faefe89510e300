import Foundation
import Testing
import TradingCore

/// Every indicator against its published formula evaluated naively (from scratch at each step,
/// O(n) per value) over fixed data; equal to 1e-9 relative.
@Suite("Indicators against reference formulas")
struct IndicatorTests {
    static let prices: [FixedDecimal] = {
        var rng = SplitMix64(seed: 2024)
        var p: Int64 = 15_000_000  // 1500.0000
        return (0..<600).map { _ in
            p += (Int64(rng.next() % 21) - 10) * 25
            return FixedDecimal(units: p)
        }
    }()
    static var doubles: [Double] { prices.map { Double($0.units) / 10_000 } }

    static func close(_ a: Double?, _ b: Double?, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        guard let a, let b else {
            #expect(a == nil && b == nil, "\(what): \(String(describing: a)) vs \(String(describing: b))", sourceLocation: sourceLocation)
            return
        }
        let scale = max(abs(a), abs(b), 1e-12)
        #expect(abs(a - b) / scale <= 1e-9, "\(what): \(a) vs \(b)", sourceLocation: sourceLocation)
    }

    static func mean(_ xs: ArraySlice<Double>) -> Double { xs.reduce(0, +) / Double(xs.count) }

    /// EMA by definition: seed = mean of the first n, then e = e + α (x − e).
    static func emaSeries(_ xs: [Double], _ n: Int) -> [Double?] {
        var out: [Double?] = Array(repeating: nil, count: xs.count)
        guard xs.count >= n else { return out }
        var e = mean(xs[0..<n])
        out[n - 1] = e
        let alpha = 2.0 / Double(n + 1)
        for i in n..<xs.count {
            e = e + alpha * (xs[i] - e)
            out[i] = e
        }
        return out
    }

    @Test func simpleMovingAverage() {
        var sma = SimpleMovingAverage(period: 20)
        for (i, p) in Self.prices.enumerated() {
            let got = sma.update(p)
            let want: Double? = i >= 19 ? Self.mean(Self.doubles[(i - 19)...i]) : nil
            Self.close(got, want, "SMA at \(i)")
        }
    }

    @Test func exponentialMovingAverage() {
        var ema = ExponentialMovingAverage(period: 10)
        let reference = Self.emaSeries(Self.doubles, 10)
        for (i, x) in Self.doubles.enumerated() {
            Self.close(ema.update(x), reference[i], "EMA at \(i)")
        }
    }

    @Test func macdWithSignalAndHistogram() {
        var macd = MACD()
        let fast = Self.emaSeries(Self.doubles, 12), slow = Self.emaSeries(Self.doubles, 26)
        let line: [Double] = Self.doubles.indices.compactMap { i in slow[i].map { fast[i]! - $0 } }
        let signal = Self.emaSeries(line, 9)
        var lineIndex = 0
        for (i, x) in Self.doubles.enumerated() {
            let got = macd.update(x)
            guard slow[i] != nil else { #expect(got == nil); continue }
            let want = signal[lineIndex].map { MACD.Value(macd: line[lineIndex], signal: $0, histogram: line[lineIndex] - $0) }
            Self.close(got?.macd, want?.macd, "MACD at \(i)")
            Self.close(got?.signal, want?.signal, "signal at \(i)")
            Self.close(got?.histogram, want?.histogram, "histogram at \(i)")
            lineIndex += 1
        }
    }

    @Test func relativeStrengthIndexWilder() {
        var rsi = RelativeStrengthIndex(period: 14)
        let xs = Self.doubles
        for i in xs.indices {
            let got = rsi.update(xs[i])
            guard i >= 14 else { #expect(got == nil); continue }
            // Wilder by definition, recomputed from the first change each time.
            var avgGain = 0.0, avgLoss = 0.0
            for k in 1...14 { avgGain += max(xs[k] - xs[k - 1], 0); avgLoss += max(xs[k - 1] - xs[k], 0) }
            avgGain /= 14; avgLoss /= 14
            if i > 14 {
                for k in 15...i {
                    avgGain = (avgGain * 13 + max(xs[k] - xs[k - 1], 0)) / 14
                    avgLoss = (avgLoss * 13 + max(xs[k - 1] - xs[k], 0)) / 14
                }
            }
            let want = avgLoss == 0 ? 100 : 100 - 100 / (1 + avgGain / avgLoss)
            Self.close(got, want, "RSI at \(i)")
        }
    }

    @Test func rsiIsHundredWithoutLosses() {
        var rsi = RelativeStrengthIndex(period: 3)
        var last: Double?
        for x in [1.0, 2, 3, 4, 5] { last = rsi.update(x) }
        #expect(last == 100)
    }

    @Test func bollingerBandsWithPopulationDeviation() {
        var bands = BollingerBands(period: 20, width: 2)
        for (i, p) in Self.prices.enumerated() {
            let got = bands.update(p)
            guard i >= 19 else { #expect(got == nil); continue }
            let window = Self.doubles[(i - 19)...i]
            let m = Self.mean(window)
            let sd = (window.map { ($0 - m) * ($0 - m) }.reduce(0, +) / 20).squareRoot()
            Self.close(got?.middle, m, "middle at \(i)")
            Self.close(got?.upper, m + 2 * sd, "upper at \(i)")
            Self.close(got?.lower, m - 2 * sd, "lower at \(i)")
        }
    }

    @Test func averageTrueRangeWilder() {
        // Bars of 5 prices each from the fixed series.
        let bars = stride(from: 0, to: Self.doubles.count - 4, by: 5).map { Array(Self.doubles[$0..<($0 + 5)]) }
        var atr = AverageTrueRange(period: 14)
        var ranges: [Double] = []
        for (i, bar) in bars.enumerated() {
            let high = bar.max()!, low = bar.min()!, close = bar.last!
            let tr = i == 0 ? high - low : max(high - low, abs(high - bars[i - 1].last!), abs(low - bars[i - 1].last!))
            ranges.append(tr)
            let got = atr.update(high: high, low: low, close: close)
            guard ranges.count >= 14 else { #expect(got == nil); continue }
            var want = Self.mean(ranges[0..<14])
            if ranges.count > 14 { for k in 14..<ranges.count { want = (want * 13 + ranges[k]) / 14 } }
            Self.close(got, want, "ATR at bar \(i)")
        }
    }

    @Test func vwapResetsAtTheISTDayBoundary() {
        var vwap = VolumeWeightedAveragePrice()
        let lateEvening = Timestamp.parseRFC3339("2026-11-24T23:59:00+05:30")!
        let nextMorning = Timestamp.parseRFC3339("2026-11-25T00:01:00+05:30")!
        var num = 0.0, den = 0.0
        for (i, p) in Self.prices.prefix(50).enumerated() {
            let q = Int64(i % 7 + 1)
            num += Self.doubles[i] * Double(q); den += Double(q)
            Self.close(vwap.update(price: p, quantity: q, at: lateEvening), num / den, "VWAP at \(i)")
        }
        #expect(vwap.update(price: FixedDecimal(10), quantity: 3, at: nextMorning) == 10, "a new IST day starts afresh")
    }
}
