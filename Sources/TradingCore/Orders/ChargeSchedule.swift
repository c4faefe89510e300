/// A rate as parts per 10^8 of the traded value (0.00297 % is 2,970): every statutory rate in
/// the schedule is an integer there, so charges are computed exactly.
public struct ChargeRate: Sendable, Equatable, Codable, CustomStringConvertible {
    public var partsPer100M: Int64

    public init(partsPer100M: Int64) { self.partsPer100M = partsPer100M }

    /// Parses a percentage with up to 6 decimals: `"0.00297"` (percent) is 2,970.
    public init?(percent text: String) {
        guard let scaled = Self.parseScaled(text) else { return nil }
        self.partsPer100M = scaled
    }

    /// `"0.000297"` percent -> 297 (6 decimals of percent = parts per 10^8).
    private static func parseScaled(_ text: String) -> Int64? {
        let parts = text.trimmingCharacters().split(separator: ".", omittingEmptySubsequences: false)
        // At most 100%: a rate is a fraction of the turnover, and a larger one would overflow
        // the charge arithmetic at the largest turnover the engine accepts.
        guard parts.count <= 2, let whole = Int64(parts[0]), whole >= 0, whole <= 100 else { return nil }
        var fraction: Int64 = 0
        if parts.count == 2 {
            let digits = parts[1]
            guard digits.count <= 6, !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            fraction = Int64(digits)! * Int64(pow10(6 - digits.count))
        }
        return whole * 1_000_000 + fraction
    }

    private static func pow10(_ n: Int) -> Int { (0..<n).reduce(1) { r, _ in r * 10 } }

    /// As a percentage: `0.00297%`.
    public var description: String {
        let whole = partsPer100M / 1_000_000
        var fraction = String(partsPer100M % 1_000_000)
        fraction = String(repeating: "0", count: 6 - fraction.count) + fraction
        while fraction.last == "0" { fraction.removeLast() }
        return fraction.isEmpty ? "\(whole)%" : "\(whole).\(fraction)%"
    }

    /// `value` (1/10,000 units) times the rate, rounded half-even to 1/10,000.
    func apply(_ value: Int128) -> Int128 { divideRoundingHalfEven(value * Int128(partsPer100M), 100_000_000) }
}

extension String {
    func trimmingCharacters() -> String { String(Substring(self).trimmingCharactersInWhitespace()) }
}

/// What one execution costs, each part in 1/10,000 units, rounded to the paisa.
public struct Charges: Sendable, Equatable, Codable {
    public var brokerage: Int64 = 0
    /// STT on securities, CTT on commodities.
    public var transactionTax: Int64 = 0
    public var exchangeCharges: Int64 = 0
    public var sebiFees: Int64 = 0
    public var stampDuty: Int64 = 0
    public var gst: Int64 = 0

    public init() {}

    /// The sum, saturating: a part is at most `Int64.max` units (₹9.2 × 10^14), which only an
    /// execution worth far more than any instrument trades could reach, and the sum must never
    /// trap. A charge that large is refused by its column and quarantined with its order record.
    public var total: Int64 {
        [brokerage, transactionTax, exchangeCharges, sebiFees, stampDuty, gst].reduce(Int64(0)) { Charges.saturatingAdd($0, $1) }
    }

    /// `a + b`, clamped to `Int64`'s range.
    public static func saturatingAdd(_ a: Int64, _ b: Int64) -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? (b > 0 ? .max : .min) : sum
    }
}

/// The rates for one kind of trade.
public struct SegmentCharges: Sendable, Equatable, Codable {
    /// Brokerage: a rate of the value, at most `brokerageCap` per order (0 = no cap); or a flat
    /// amount per order when `brokerageFlat` is set.
    public var brokerageRate: ChargeRate
    public var brokerageCap: FixedDecimal
    public var brokerageFlat: FixedDecimal
    /// STT / CTT on the buy and on the sell side.
    public var transactionTaxBuy: ChargeRate
    public var transactionTaxSell: ChargeRate
    /// Exchange transaction charges, per exchange.
    public var exchangeRates: [String: ChargeRate]
    /// Stamp duty, buy side only.
    public var stampDutyBuy: ChargeRate

    public init(brokerageRate: ChargeRate = .init(partsPer100M: 0), brokerageCap: FixedDecimal = .zero, brokerageFlat: FixedDecimal = .zero,
                transactionTaxBuy: ChargeRate = .init(partsPer100M: 0), transactionTaxSell: ChargeRate = .init(partsPer100M: 0),
                exchangeRates: [String: ChargeRate], stampDutyBuy: ChargeRate) {
        self.brokerageRate = brokerageRate
        self.brokerageCap = brokerageCap
        self.brokerageFlat = brokerageFlat
        self.transactionTaxBuy = transactionTaxBuy
        self.transactionTaxSell = transactionTaxSell
        self.exchangeRates = exchangeRates
        self.stampDutyBuy = stampDutyBuy
    }
}

/// Charges per execution (docs/execution.md): brokerage, STT/CTT, exchange transaction charges,
/// SEBI turnover fees, stamp duty and GST, from a schedule per kind of trade. Pure and exact.
public struct ChargeSchedule: Sendable, Equatable, Codable {
    /// The kinds of trade the schedule prices differently.
    public enum Segment: String, Sendable, Equatable, Codable, CaseIterable {
        case equityDelivery = "equity_delivery", equityIntraday = "equity_intraday"
        case futures, options
        case commodityFutures = "commodity_futures", commodityOptions = "commodity_options"
        case currencyFutures = "currency_futures", currencyOptions = "currency_options"
    }

    public var segments: [Segment: SegmentCharges]
    /// SEBI turnover fees on both sides.
    public var sebiFees: ChargeRate
    /// GST on brokerage, exchange charges and SEBI fees.
    public var gst: ChargeRate

    public init(segments: [Segment: SegmentCharges], sebiFees: ChargeRate, gst: ChargeRate) {
        self.segments = segments
        self.sebiFees = sebiFees
        self.gst = gst
    }

    /// The kind of trade an execution is.
    public static func segment(instrument: Instrument, product: Product) -> Segment {
        switch instrument.exchange {
        case "MCX": return instrument.isOption ? .commodityOptions : .commodityFutures
        case "CDS", "BCD": return instrument.isOption ? .currencyOptions : .currencyFutures
        default:
            if instrument.isOption { return .options }
            if instrument.isDerivative { return .futures }
            return product == .mis ? .equityIntraday : .equityDelivery
        }
    }

    /// The charges of one execution. `brokerageSoFar` is what the same order was already charged
    /// (the cap and the flat fee are per order, not per execution).
    public func charges(instrument: Instrument, product: Product, side: OrderSide, quantity: Int64, price: FixedDecimal,
                        brokerageSoFar: Int64) -> Charges {
        var out = Charges()
        guard let rates = segments[Self.segment(instrument: instrument, product: product)] else { return out }
        let value = Int128(quantity) * Int128(price.units)  // 1/10,000 units
        var brokerage: Int128
        if rates.brokerageFlat.units > 0 {
            brokerage = brokerageSoFar == 0 ? Int128(rates.brokerageFlat.units) : 0
        } else {
            brokerage = rates.brokerageRate.apply(value)
            if rates.brokerageCap.units > 0 {
                brokerage = min(brokerage, max(0, Int128(rates.brokerageCap.units - brokerageSoFar)))
            }
        }
        out.brokerage = Self.paise(brokerage)
        out.transactionTax = Self.paise((side == .buy ? rates.transactionTaxBuy : rates.transactionTaxSell).apply(value))
        out.exchangeCharges = Self.paise((rates.exchangeRates[instrument.exchange] ?? ChargeRate(partsPer100M: 0)).apply(value))
        out.sebiFees = Self.paise(sebiFees.apply(value))
        out.stampDuty = side == .buy ? Self.paise(rates.stampDutyBuy.apply(value)) : 0
        out.gst = Self.paise(gst.apply(Int128(out.brokerage) + Int128(out.exchangeCharges) + Int128(out.sebiFees)))
        return out
    }

    /// Rounded half-even to 0.01 (100 units), as contract notes show each charge.
    static func paise(_ units: Int128) -> Int64 { Int64(clamping: divideRoundingHalfEven(units, 100) * 100) }

    private static func rate(_ percent: String) -> ChargeRate { ChargeRate(percent: percent)! }

    /// Zerodha's published charges (zerodha.com/charges, as revised on 2024-10-01 for the new STT
    /// on F&O and the exchanges' flat transaction charges), read on 2026-11-25. Brokerage is
    /// Zerodha's: 0 on delivery, 0.03 % or Rs 20 per order whichever is lower intraday and on
    /// futures, Rs 20 flat per options order.
    public static let zerodha: ChargeSchedule = {
        let capped = (rate: rate("0.03"), cap: FixedDecimal(20))
        return ChargeSchedule(segments: [
            .equityDelivery: SegmentCharges(transactionTaxBuy: rate("0.1"), transactionTaxSell: rate("0.1"),
                                            exchangeRates: ["NSE": rate("0.00297"), "BSE": rate("0.00375")], stampDutyBuy: rate("0.015")),
            .equityIntraday: SegmentCharges(brokerageRate: capped.rate, brokerageCap: capped.cap, transactionTaxSell: rate("0.025"),
                                            exchangeRates: ["NSE": rate("0.00297"), "BSE": rate("0.00375")], stampDutyBuy: rate("0.003")),
            .futures: SegmentCharges(brokerageRate: capped.rate, brokerageCap: capped.cap, transactionTaxSell: rate("0.02"),
                                     exchangeRates: ["NFO": rate("0.00173"), "NSE": rate("0.00173"), "BFO": rate("0"), "BSE": rate("0")],
                                     stampDutyBuy: rate("0.002")),
            .options: SegmentCharges(brokerageFlat: FixedDecimal(20), transactionTaxSell: rate("0.1"),
                                     exchangeRates: ["NFO": rate("0.03503"), "NSE": rate("0.03503"), "BFO": rate("0.0325"), "BSE": rate("0.0325")],
                                     stampDutyBuy: rate("0.003")),
            .commodityFutures: SegmentCharges(brokerageRate: capped.rate, brokerageCap: capped.cap, transactionTaxSell: rate("0.01"),
                                              exchangeRates: ["MCX": rate("0.0021")], stampDutyBuy: rate("0.002")),
            .commodityOptions: SegmentCharges(brokerageFlat: FixedDecimal(20), transactionTaxSell: rate("0.05"),
                                              exchangeRates: ["MCX": rate("0.0418")], stampDutyBuy: rate("0.003")),
            .currencyFutures: SegmentCharges(brokerageRate: capped.rate, brokerageCap: capped.cap,
                                             exchangeRates: ["CDS": rate("0.00035"), "BCD": rate("0.00045")], stampDutyBuy: rate("0.0001")),
            .currencyOptions: SegmentCharges(brokerageFlat: FixedDecimal(20),
                                             exchangeRates: ["CDS": rate("0.0311"), "BCD": rate("0.001")], stampDutyBuy: rate("0.0001")),
        ], sebiFees: rate("0.0001"), gst: rate("18"))
    }()
}
