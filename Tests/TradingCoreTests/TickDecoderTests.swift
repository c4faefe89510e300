import Foundation
import Testing
import TradingCore

/// A fixed "now" inside which the sample ticks' times fall.
let decoderNow = Timestamp.parseRFC3339("2026-11-24T06:00:00Z")!

@Suite("Hot-path tick decoder")
struct TickDecoderTests {
    let decoder = TickDecoder()

    func decode(_ text: String) throws(TickDecodeError) -> Tick {
        try decoder.decode(Array(text.utf8), now: decoderNow)
    }

    @Test func decodesEveryContractField() throws {
        let tick = try decode("""
            {"symbol":"RELIANCE","exchange":"NSE","ts":"2026-11-24T09:15:00.123456+05:30","price":2450.05,"qty":10,
             "volume":123456,"oi":0,"bid":2450,"ask":2450.1,"bid_qty":5,"ask_qty":7,"src":"feed-a","session":"run-1","seq":42}
            """)
        #expect(tick == Tick(
            symbol: "RELIANCE", exchange: "NSE", timestamp: Timestamp.parseRFC3339("2026-11-24T03:45:00.123456Z")!,
            price: FixedDecimal("2450.05")!, quantity: 10, volume: 123_456, openInterest: .zero, bid: FixedDecimal(2450),
            ask: FixedDecimal("2450.1")!, bidQuantity: 5, askQuantity: 7, source: "feed-a", session: "run-1", sequence: 42
        ))
    }

    @Test func optionalFieldsDefaultAndEpochNanosecondsAreAccepted() throws {
        let tick = try decode(#"{"symbol":"USDINR","exchange":"CDS","ts":1795491900000000001,"price":83.2525}"#)
        #expect(tick.quantity == 0)
        #expect(tick.volume == nil && tick.bid == nil && tick.sequence == nil && tick.source == nil)
        #expect(tick.timestamp.nanosecondsSinceEpoch == 1_795_491_900_000_000_001)
        #expect(tick.price == FixedDecimal(units: 832_525))
    }

    @Test func unknownFieldsAreSkippedAndNullMeansAbsent() throws {
        let tick = try decode(#"{"extra":{"a":[1,2,{"b":null}],"c":"\u00e9"},"symbol":"INFY","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":1500,"oi":null,"flag":true}"#)
        #expect(tick.symbol == "INFY")
        #expect(tick.openInterest == nil)
    }

    @Test func escapedStringsAreUnescaped() throws {
        let tick = try decode(#"{"symbol":"M\u0026M","exchange":"N\u0053E","ts":"2026-11-24T05:00:00Z","price":1,"src":"a\/b \ud83d\ude00"}"#)
        #expect(tick.symbol == "M&M")
        #expect(tick.exchange == "NSE")
        #expect(tick.source == "a/b 😀")
    }

    @Test(arguments: [
        ("not json at all", TickRejection.notJSON),
        (#"{"symbol":"INFY","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":1"#, .notJSON),
        (#"[1,2,3]"#, .notObject),
        (#""tick""#, .notObject),
        (#"{"exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":1}"#, .missingField),
        (#"{"symbol":"INFY","exchange":"NSE","ts":"2026-11-24T05:00:00Z"}"#, .missingField),
        (#"{"symbol":"INFY","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":null}"#, .missingField),
        (#"{"symbol":"INFY","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":"1500"}"#, .wrongType),
        (#"{"symbol":7,"exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":1}"#, .wrongType),
        (#"{"symbol":"INFY","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":1,"qty":1.5}"#, .wrongType),
        (#"{"symbol":"INFY","exchange":"NSE","ts":true,"price":1}"#, .wrongType),
        (#"{"symbol":"INFY","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":-1}"#, .outOfRange),
        (#"{"symbol":"INFY","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":0}"#, .outOfRange),
        (#"{"symbol":"INFY","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":1500.12345}"#, .outOfRange),
        (#"{"symbol":"INFY","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":1e20}"#, .outOfRange),
        (#"{"symbol":"INFY","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":1,"qty":-1}"#, .outOfRange),
        (#"{"symbol":"INFY","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":1,"seq":99999999999999999999}"#, .outOfRange),
        (#"{"symbol":"","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":1}"#, .outOfRange),
        (#"{"symbol":"ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOPQRSTUVWXYZ","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":1}"#, .outOfRange),
        (#"{"symbol":"INFY","exchange":"NSE","ts":"yesterday","price":1}"#, .badTimestamp),
        (#"{"symbol":"INFY","exchange":"NSE","ts":"2026-11-24T05:00:00","price":1}"#, .badTimestamp),
        (#"{"symbol":"INFY","exchange":"NSE","ts":"4052-11-24T09:15:00.123456+05:30","price":1}"#, .badTimestamp),
        (#"{"symbol":"INFY","exchange":"NSE","ts":"2020-01-01T00:00:00Z","price":1}"#, .timestampOutOfWindow),
        (#"{"symbol":"INFY","exchange":"NSE","ts":"2026-11-26T00:00:00Z","price":1}"#, .timestampOutOfWindow),
        (#"{"symbol":"INFY","symbol":"TCS","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":1}"#, .duplicateField),
        (#"{"symbol":"INFY","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":1} x"#, .notJSON),
        (#"{"symbol":"IN\u0041FY","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":01}"#, .notJSON),
        ("{\"symbol\":\"IN\tFY\",\"exchange\":\"NSE\",\"ts\":\"2026-11-24T05:00:00Z\",\"price\":1}", .notJSON),
        (#"{"symbol":"INFY","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":1,}"#, .notJSON),
        (#"{"symbol":"\ud800","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":1}"#, .notJSON),
        // Strings the database would refuse or that would corrupt logs: escaped control characters.
        (#"{"symbol":"IN\u0000FY","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":1}"#, .badString),
        (#"{"symbol":"INFY","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":1,"src":"a\u0000"}"#, .badString),
        (#"{"symbol":"INFY","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":1,"session":"run\n2"}"#, .badString),
        (#"{"symbol":"INFY","exchange":"N\u001fSE","ts":"2026-11-24T05:00:00Z","price":1}"#, .badString),
        (#"{"symbol":"INFY\u007f","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":1}"#, .badString),
        (#"{"symbol":"INFY\u0085","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":1}"#, .badString),
        ("{\"symbol\":\"INFY\u{7F}\",\"exchange\":\"NSE\",\"ts\":\"2026-11-24T05:00:00Z\",\"price\":1}", .badString),
        ("{\"symbol\":\"IN\u{85}FY\",\"exchange\":\"NSE\",\"ts\":\"2026-11-24T05:00:00Z\",\"price\":1}", .badString),
        // The contract's numeric maxima.
        (#"{"symbol":"INFY","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":1,"qty":1000000001}"#, .outOfRange),
        (#"{"symbol":"INFY","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":1,"qty":5000000000000000000}"#, .outOfRange),
        (#"{"symbol":"INFY","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":1,"qty":9223372036854775807}"#, .outOfRange),
        (#"{"symbol":"INFY","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":1,"bid_qty":1000000001}"#, .outOfRange),
        (#"{"symbol":"INFY","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":1,"ask_qty":1000000001}"#, .outOfRange),
        (#"{"symbol":"INFY","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":1,"volume":1000000000000001}"#, .outOfRange),
        (#"{"symbol":"INFY","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":1,"oi":1000000000000000.0001}"#, .outOfRange),
        (#"{"symbol":"INFY","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":1,"oi":1e16}"#, .outOfRange),
        (#"{"symbol":"INFY","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":1,"oi":-1}"#, .outOfRange),
        (#"{"symbol":"INFY","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":100000000000000}"#, .outOfRange),
    ])
    func rejectsWithTheRightReason(text: String, reason: TickRejection) {
        #expect(throws: TickDecodeError.self) { try decode(text) }
        do {
            _ = try decode(text)
        } catch {
            #expect(error.reason == reason, "\(text)")
        }
    }

    @Test func acceptsEveryValueAtTheContractsMaxima() throws {
        let tick = try decode("""
            {"symbol":"\(String(repeating: "é", count: 50))","exchange":"\(String(repeating: "X", count: 20))","ts":"2026-11-24T05:00:00Z",
             "price":99999999999999.9999,"qty":1000000000,"volume":1000000000000000,"oi":1000000000000000,"bid":0.0001,
             "ask":99999999999999.9999,"bid_qty":1000000000,"ask_qty":1000000000,"src":"\(String(repeating: "s", count: 64))",
             "session":"\(String(repeating: "😀", count: 64))","seq":9223372036854775807}
            """)
        #expect(tick.quantity == 1_000_000_000)
        #expect(tick.volume == 1_000_000_000_000_000)
        #expect(tick.openInterest == WideDecimal("1000000000000000"))
        #expect(tick.openInterest?.description == "1000000000000000")
        #expect(tick.sequence == .max)
        #expect(tick.session?.unicodeScalars.count == 64)
        // Printable non-ASCII text stays accepted (only control characters are refused).
        #expect(try decode(#"{"symbol":"M\u0026M é€","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":1}"#).symbol == "M&M é€")
    }

    @Test func rejectsInvalidUTF8() {
        var bytes = Array(#"{"symbol":"INFY","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":1}"#.utf8)
        bytes[12] = 0xC3  // a lead byte followed by an ASCII byte
        #expect(throws: TickDecodeError(.notJSON)) { try decoder.decode(bytes, now: decoderNow) }
        bytes[12] = 0xED; bytes[13] = 0xA0; bytes[14] = 0x80  // an encoded surrogate
        #expect(throws: TickDecodeError(.notJSON)) { try decoder.decode(bytes, now: decoderNow) }
    }

    @Test func rejectsOversizedPayloadBeforeParsing() {
        let big = [UInt8](repeating: UInt8(ascii: " "), count: 65_537)
        #expect(throws: TickDecodeError(.tooLarge)) { try decoder.decode(big, now: decoderNow) }
    }

    @Test func deeplyNestedUnknownFieldIsRejectedWithoutExhaustingTheStack() {
        let nested = String(repeating: "[", count: 60_000)
        #expect(throws: TickDecodeError(.notJSON)) {
            try decode(#"{"x":"# + nested + "}")
        }
    }
}

@Suite("String cache for repeated tick strings")
struct TickStringCacheTests {
    @Test func repeatedBytesGiveEqualStringsAndCollisionsStayCorrect() {
        let cache = TickStringCache(slots: 2)  // tiny: forces collisions
        var seen: [String] = []
        for round in 0..<3 {
            for text in ["RELIANCE", "INFY", "NSE", "01a20fc0-ed13-7126-8e75-0047d3a739a0", "é€😀", String(repeating: "x", count: 100)] {
                let bytes = Array(text.utf8)
                let got = bytes.withUnsafeBytes { cache.string($0) }
                #expect(got == text)
                if round == 0 { seen.append(got) }
            }
        }
        #expect(seen.count == 6)
    }

    @Test func decoderWithCacheEqualsDecoderWithout() throws {
        let cache = TickStringCache()
        var generator = SyntheticTickGenerator(seed: 5, session: "s")
        for _ in 0..<1_000 {
            let payload = TickJSONEncoder.encode(generator.next(at: decoderNow))
            #expect(try TickDecoder().decode(payload, now: decoderNow, cache: cache) == TickDecoder().decode(payload, now: decoderNow))
        }
    }
}
