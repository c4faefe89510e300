import Foundation
public import TradingCore
import Yams

/// Reads `charges.schedule_file`: a YAML file of rates (percent, as text) that overrides the
/// built-in schedule (``ChargeSchedule/zerodha``) where it says something. Layout in
/// docs/execution.md and config/charges.yaml; every problem names the file and the key.
public enum ChargeScheduleFile {
    public static func load(path: String) throws(ConfigError) -> ChargeSchedule {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigError(key: "charges.schedule_file", "cannot read '\(path)'")
        }
        return try parse(text, name: path)
    }

    public static func parse(_ text: String, name: String) throws(ConfigError) -> ChargeSchedule {
        let root: Any?
        do { root = try Yams.load(yaml: text) } catch { throw ConfigError(key: name, "is not YAML: \(error)") }
        guard let top = root as? [String: Any] else { throw ConfigError(key: name, "must be a mapping") }
        var schedule = ChargeSchedule.zerodha
        func rate(_ value: Any?, _ key: String) throws(ConfigError) -> ChargeRate {
            guard let text = value.map({ "\($0)" }), let rate = ChargeRate(percent: text) else {
                throw ConfigError(key: "\(name): \(key)", "expected a percentage with at most 6 decimals, e.g. \"0.00297\"")
            }
            return rate
        }
        func amount(_ value: Any?, _ key: String) throws(ConfigError) -> FixedDecimal {
            guard let text = value.map({ "\($0)" }), let amount = FixedDecimal(text), amount.units >= 0 else {
                throw ConfigError(key: "\(name): \(key)", "expected an amount in rupees, e.g. \"20\"")
            }
            return amount
        }
        for key in top.keys where !["sebi_fees", "gst", "segments"].contains(key) {
            throw ConfigError(key: "\(name): \(key)", "is not a known key (sebi_fees, gst, segments)")
        }
        if let v = top["sebi_fees"] { schedule.sebiFees = try rate(v, "sebi_fees") }
        if let v = top["gst"] { schedule.gst = try rate(v, "gst") }
        if let v = top["segments"] {
            guard let segments = v as? [String: Any] else { throw ConfigError(key: "\(name): segments", "must be a mapping") }
            for (segmentName, body) in segments {
                let path = "segments.\(segmentName)"
                guard let segment = ChargeSchedule.Segment(rawValue: segmentName) else {
                    throw ConfigError(key: "\(name): \(path)", "is not a segment (\(ChargeSchedule.Segment.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                guard let fields = body as? [String: Any] else { throw ConfigError(key: "\(name): \(path)", "must be a mapping") }
                var rates = schedule.segments[segment]!
                for (field, value) in fields {
                    let key = "\(path).\(field)"
                    switch field {
                    case "brokerage_rate": rates.brokerageRate = try rate(value, key)
                    case "brokerage_cap": rates.brokerageCap = try amount(value, key)
                    case "brokerage_flat": rates.brokerageFlat = try amount(value, key)
                    case "transaction_tax_buy": rates.transactionTaxBuy = try rate(value, key)
                    case "transaction_tax_sell": rates.transactionTaxSell = try rate(value, key)
                    case "stamp_duty_buy": rates.stampDutyBuy = try rate(value, key)
                    case "exchange_charges":
                        guard let map = value as? [String: Any] else { throw ConfigError(key: "\(name): \(key)", "must map exchanges to percentages") }
                        var out: [String: ChargeRate] = [:]
                        for (exchange, v) in map { out[exchange] = try rate(v, "\(key).\(exchange)") }
                        rates.exchangeRates = out
                    default:
                        throw ConfigError(key: "\(name): \(key)", "is not a known key (brokerage_rate, brokerage_cap, brokerage_flat, transaction_tax_buy, transaction_tax_sell, stamp_duty_buy, exchange_charges)")
                    }
                }
                schedule.segments[segment] = rates
            }
        }
        return schedule
    }
}
