import Foundation
import Testing
import TradingCore

/// Generates valid tick messages in many shapes and checks the hot-path decoder against
/// Foundation's `JSONSerialization` and `ISO8601DateFormatter` on every one; then mutates them
/// and checks that whatever Foundation refuses as JSON, the decoder refuses too.
@Suite("Decoder equals Foundation on generated messages")
struct TickDecoderDifferentialTests {
    struct Generated {
        var text: String
        var tsIsString: Bool
    }

    static func randomString(_ rng: inout SplitMix64, maxLength: Int) -> (json: String, value: String) {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-&_ é€😀\"\\/")
        let length = 1 + Int(rng.next() % UInt64(maxLength))
        var value = ""
        var json = ""
        for _ in 0..<length {
            let c = alphabet[Int(rng.next() % UInt64(alphabet.count))]
            value.append(c)
            switch c {
            case "\"": json += "\\\""
            case "\\": json += "\\\\"
            case "/": json += rng.next() % 2 == 0 ? "\\/" : "/"
            case "&": json += rng.next() % 2 == 0 ? "\\u0026" : "&"
            case "😀": json += rng.next() % 2 == 0 ? "\\ud83d\\ude00" : "😀"
            default: json.append(c)
            }
        }
        return ("\"" + json + "\"", value)
    }

    static func randomDecimal(_ rng: inout SplitMix64, positive: Bool) -> String {
        let integer = rng.next() % 10_000_000
        let decimals = Int(rng.next() % 5)
        var text = String(integer == 0 && positive ? 1 : integer)
        if decimals > 0 {
            var fraction = String(rng.next() % UInt64(pow(10.0, Double(decimals))))
            while fraction.count < decimals { fraction = "0" + fraction }
            text += "." + fraction
        }
        if rng.next() % 10 == 0 { text += "e0" }
        return text
    }

    static func generate(_ rng: inout SplitMix64) -> Generated {
        var fields: [String] = []
        let symbol = randomString(&rng, maxLength: 20)
        fields.append("\"symbol\":" + symbol.json)
        fields.append("\"exchange\":\"" + ["NSE", "BSE", "NFO", "MCX", "CDS"][Int(rng.next() % 5)] + "\"")
        let offsetNs = Int64(rng.next() % UInt64(20 * 86_400)) * 1_000_000_000 + Int64(rng.next() % 1_000_000_000)
        let ts = Timestamp(nanosecondsSinceEpoch: decoderNow.nanosecondsSinceEpoch - offsetNs)
        let tsIsString = rng.next() % 2 == 0
        if tsIsString {
            var text = ts.description  // ...ffffffZ
            if rng.next() % 3 == 0 {
                // Same instant written with an IST offset.
                let shifted = Timestamp(nanosecondsSinceEpoch: ts.nanosecondsSinceEpoch + 19_800 * 1_000_000_000).description
                text = String(shifted.dropLast()) + "+05:30"
            }
            fields.append("\"ts\":\"" + text + "\"")
        } else {
            fields.append("\"ts\":" + String(ts.nanosecondsSinceEpoch))
        }
        fields.append("\"price\":" + randomDecimal(&rng, positive: true))
        if rng.next() % 2 == 0 { fields.append("\"qty\":" + String(rng.next() % 100_000)) }
        if rng.next() % 2 == 0 { fields.append("\"volume\":" + String(rng.next() % 1_000_000_000)) }
        if rng.next() % 3 == 0 { fields.append("\"oi\":" + randomDecimal(&rng, positive: false)) }
        if rng.next() % 2 == 0 { fields.append("\"bid\":" + randomDecimal(&rng, positive: true)) }
        if rng.next() % 2 == 0 { fields.append("\"ask\":" + randomDecimal(&rng, positive: true)) }
        if rng.next() % 3 == 0 { fields.append("\"bid_qty\":" + String(rng.next() % 10_000)) }
        if rng.next() % 3 == 0 { fields.append("\"ask_qty\":" + String(rng.next() % 10_000)) }
        if rng.next() % 2 == 0 { fields.append("\"src\":" + randomString(&rng, maxLength: 30).json) }
        if rng.next() % 2 == 0 { fields.append("\"session\":" + randomString(&rng, maxLength: 30).json) }
        if rng.next() % 2 == 0 { fields.append("\"seq\":" + String(rng.next() % 1_000_000_000_000)) }
        if rng.next() % 4 == 0 { fields.append("\"extra\":{\"nested\":[1,2.5,\"x\",null,true,{}]}") }
        for i in fields.indices.reversed() {
            let j = Int(rng.next() % UInt64(i + 1))
            fields.swapAt(i, j)
        }
        let spaces = [" ", "", "\n", "\t", "  "]
        func ws() -> String { spaces[Int(rng.next() % UInt64(spaces.count))] }
        let text = ws() + "{" + ws() + fields.map { ws() + $0.replacingOccurrences(of: "\":", with: "\"" + ws() + ":" + ws()) + ws() }.joined(separator: ",") + "}" + ws()
        return Generated(text: text, tsIsString: tsIsString)
    }

    static func isoFractional() -> ISO8601DateFormatter {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f
    }

    @Test func decoderAgreesWithFoundationOnValidMessages() throws {
        var rng = SplitMix64(seed: 0xA160)
        let decoder = TickDecoder()
        let iso = Self.isoFractional()
        for _ in 0..<5_000 {
            let message = Self.generate(&rng)
            let bytes = Array(message.text.utf8)
            let tick = try decoder.decode(bytes, now: decoderNow)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any], "\(message.text)")
            #expect(tick.symbol == object["symbol"] as? String)
            #expect(tick.exchange == object["exchange"] as? String)
            #expect(tick.source == object["src"] as? String)
            #expect(tick.session == object["session"] as? String)
            func double(_ value: FixedDecimal?) -> Double? { value.map { Double($0.units) / 10_000 } }
            func double(_ value: WideDecimal?) -> Double? { value.map { Double($0.units) / 10_000 } }
            func number(_ key: String) -> Double? { (object[key] as? NSNumber)?.doubleValue }
            func integer(_ key: String) -> Int64? { (object[key] as? NSNumber)?.int64Value }
            #expect(double(tick.price) == number("price"), "\(message.text)")
            #expect(double(tick.bid) == number("bid"))
            #expect(double(tick.ask) == number("ask"))
            #expect(double(tick.openInterest) == number("oi"))
            #expect(tick.quantity == (integer("qty") ?? 0))
            #expect(tick.volume == integer("volume"))
            #expect(tick.bidQuantity == integer("bid_qty"))
            #expect(tick.askQuantity == integer("ask_qty"))
            #expect(tick.sequence == integer("seq"))
            if message.tsIsString {
                let tsText = try #require(object["ts"] as? String)
                let date = try #require(iso.date(from: tsText))
                let foundationMs = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
                let oursMs = tick.timestamp.nanosecondsSinceEpoch / 1_000_000
                #expect(abs(foundationMs - oursMs) <= 1, "Foundation parses to milliseconds only")
            } else {
                #expect(tick.timestamp.nanosecondsSinceEpoch == integer("ts"))
            }
        }
    }

    @Test func whateverFoundationRefusesAsJSONTheDecoderRefuses() throws {
        var rng = SplitMix64(seed: 0xBAD)
        let decoder = TickDecoder()
        var refusedByBoth = 0
        for _ in 0..<5_000 {
            var bytes = Array(Self.generate(&rng).text.utf8)
            switch rng.next() % 4 {
            case 0: bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count))))
            case 1: bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next())
            case 2: bytes.remove(at: Int(rng.next() % UInt64(bytes.count)))
            default: bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: Int(rng.next() % UInt64(bytes.count)))
            }
            let foundationAccepts = (try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) != nil
            let ours = Result { () throws(TickDecodeError) in try decoder.decode(bytes, now: decoderNow) }
            if !foundationAccepts {
                guard case .failure = ours else {
                    Issue.record("decoder accepted what Foundation refuses: \(String(decoding: bytes, as: UTF8.self))")
                    continue
                }
                refusedByBoth += 1
            }
            if case .failure(let error) = ours, error.reason == .notJSON {
                #expect(!foundationAccepts, "decoder called valid JSON malformed: \(String(decoding: bytes, as: UTF8.self))")
            }
        }
        #expect(refusedByBoth > 500, "the mutations produce plenty of malformed JSON")
    }
}
