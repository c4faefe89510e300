import Config
import Foundation
import Testing
import TradingCore

@Suite("Charge schedule file")
struct ChargeScheduleFileTests {
    @Test func theShippedExampleRestatesTheBuiltInScheduleAndAnOverrideChangesOnlyWhatItNames() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let shipped = try ChargeScheduleFile.load(path: root.appendingPathComponent("config/charges.yaml").path)
        #expect(shipped == .zerodha)
        let cheaper = try ChargeScheduleFile.parse("""
            segments:
              equity_intraday:
                brokerage_cap: "10"
            """, name: "test.yaml")
        #expect(cheaper.segments[.equityIntraday]?.brokerageCap == FixedDecimal(10))
        #expect(cheaper.segments[.equityDelivery] == ChargeSchedule.zerodha.segments[.equityDelivery] && cheaper.gst == ChargeSchedule.zerodha.gst)
    }

    @Test func aBadScheduleNamesTheFileAndTheKey() {
        #expect(throws: ConfigError(key: "x.yaml: segments.equity_intraday.stt", "is not a known key (brokerage_rate, brokerage_cap, brokerage_flat, transaction_tax_buy, transaction_tax_sell, stamp_duty_buy, exchange_charges)")) {
            try ChargeScheduleFile.parse("segments:\n  equity_intraday:\n    stt: \"0.1\"\n", name: "x.yaml")
        }
        #expect(throws: ConfigError(key: "x.yaml: gst", "expected a percentage with at most 6 decimals, e.g. \"0.00297\"")) {
            try ChargeScheduleFile.parse("gst: eighteen\n", name: "x.yaml")
        }
        #expect(throws: ConfigError(key: "x.yaml: segments.equities", "is not a segment (equity_delivery, equity_intraday, futures, options, commodity_futures, commodity_options, currency_futures, currency_options)")) {
            try ChargeScheduleFile.parse("segments:\n  equities: {}\n", name: "x.yaml")
        }
    }
}
