import Testing
import TradingCore

@Suite("Money as text")
struct MoneyTextTests {
    @Test(arguments: [
        (Int128(12_345), "1.2345"), (-12_345, "-1.2345"), (5, "0.0005"), (-5, "-0.0005"), (0, "0.0000"),
        (Int128(Int64.max) * 1_000, "922337203685477580.7000"),
    ])
    func exactTextKeepsEveryDecimal(units: Int128, text: String) {
        #expect(MoneyText.exact(units) == text)
    }

    @Test(arguments: [
        (Int128(12_345), "1.23"), (12_350, "1.24"), (12_250, "1.22"), (-12_350, "-1.24"), (-5, "0.00"), (-50, "0.00"), (-150, "-0.02"),
        // A tie past 2^53 units: Double(units) is 90071992547409856 there, which prints .99.
        (Int128(90_071_992_547_409_850), "9007199254740.98"),
    ])
    func rupeesRoundHalfEvenToThePaisa(units: Int128, text: String) {
        #expect(MoneyText.rupees(units) == text)
    }
}
