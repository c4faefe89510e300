/// The hot-path tick decoder: a strict JSON reader over the payload's raw bytes.
///
/// Foundation's `JSONDecoder` and `ISO8601DateFormatter` run at ~200 k and ~26 k per second on
/// this machine (ENGINEERING.md), far below the feed rates the engine must take, so this is the
/// one place with a hand-written parser. It accepts exactly RFC 8259 JSON (well-formed UTF-8, no
/// trailing garbage, no control characters in strings), reads the tick fields of CONTRACT.md
/// section 1 exactly (prices as decimal integers, never through `Double`), skips unknown fields
/// after validating them, and reports the first problem as a ``TickDecodeError``.
/// It is proven equal to Foundation on generated valid input by the differential tests, and fuzzed.
public struct TickDecoder: Sendable {
    /// Payloads larger than this are rejected before parsing (CONTRACT.md: 64 KiB).
    public var maxPayloadBytes: Int
    /// How far back a `ts` may lie: the tick retention (30 days).
    public var maxAgeNanoseconds: Int64
    /// How far ahead a `ts` may lie (1 day).
    public var maxLeadNanoseconds: Int64

    public init(
        maxPayloadBytes: Int = 65_536,
        maxAgeNanoseconds: Int64 = 30 * Timestamp.nanosecondsPerDay,
        maxLeadNanoseconds: Int64 = Timestamp.nanosecondsPerDay
    ) {
        self.maxPayloadBytes = maxPayloadBytes
        self.maxAgeNanoseconds = maxAgeNanoseconds
        self.maxLeadNanoseconds = maxLeadNanoseconds
    }

    /// Decodes a payload given as bytes.
    public func decode(_ payload: [UInt8], now: Timestamp, cache: TickStringCache? = nil) throws(TickDecodeError) -> Tick {
        let result: Result<Tick, TickDecodeError> = payload.withUnsafeBytes { raw in
            do throws(TickDecodeError) { return .success(try decode(raw, now: now, cache: cache)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Decodes one payload; `now` bounds the accepted `ts` window. A `cache` (one per thread)
    /// lets repeated symbols, exchanges and stream ids share one `String` instead of a new one per tick.
    public func decode(_ payload: UnsafeRawBufferPointer, now: Timestamp, cache: TickStringCache? = nil) throws(TickDecodeError) -> Tick {
        guard payload.count <= maxPayloadBytes else { throw TickDecodeError(.tooLarge) }
        var reader = JSONByteReader(payload, cache: cache)
        var fields = TickFields()
        try reader.readObject(into: &fields)
        let tick = try fields.makeTick()
        let ns = tick.timestamp.nanosecondsSinceEpoch
        if ns < now.nanosecondsSinceEpoch - maxAgeNanoseconds || ns > now.nanosecondsSinceEpoch + maxLeadNanoseconds {
            throw TickDecodeError(.timestampOutOfWindow, field: "ts")
        }
        return tick
    }
}

/// The tick's fields as they are found, before the required ones are checked.
struct TickFields {
    var seen: UInt32 = 0
    var symbol: String?
    var exchange: String?
    var timestamp: Timestamp?
    var price: FixedDecimal?
    var quantity: Int64?
    var volume: Int64?
    var openInterest: WideDecimal?
    var bid: FixedDecimal?
    var ask: FixedDecimal?
    var bidQuantity: Int64?
    var askQuantity: Int64?
    var source: String?
    var session: String?
    var sequence: Int64?

    @inline(__always)
    func makeTick() throws(TickDecodeError) -> Tick {
        guard let symbol else { throw TickDecodeError(.missingField, field: "symbol") }
        guard let exchange else { throw TickDecodeError(.missingField, field: "exchange") }
        guard let timestamp else { throw TickDecodeError(.missingField, field: "ts") }
        guard let price else { throw TickDecodeError(.missingField, field: "price") }
        return Tick(
            symbol: symbol, exchange: exchange, timestamp: timestamp, price: price, quantity: quantity ?? 0,
            volume: volume, openInterest: openInterest, bid: bid, ask: ask, bidQuantity: bidQuantity,
            askQuantity: askQuantity, source: source, session: session, sequence: sequence
        )
    }
}

/// Field identities, matched on the raw key bytes.
enum TickField: UInt32 {
    case symbol = 0, exchange, ts, price, qty, volume, oi, bid, ask, bidQty, askQty, src, session, seq

    var name: String {
        switch self {
        case .symbol: "symbol"
        case .exchange: "exchange"
        case .ts: "ts"
        case .price: "price"
        case .qty: "qty"
        case .volume: "volume"
        case .oi: "oi"
        case .bid: "bid"
        case .ask: "ask"
        case .bidQty: "bid_qty"
        case .askQty: "ask_qty"
        case .src: "src"
        case .session: "session"
        case .seq: "seq"
        }
    }

    /// Matches a key without allocating: every tick key is at most 8 bytes, so the key is read
    /// as one little-endian word and compared with constants.
    @inline(__always)
    static func match(_ b: UnsafeRawBufferPointer, _ start: Int, _ length: Int) -> TickField? {
        guard length >= 2 && length <= 8 else { return nil }
        var word: UInt64 = 0
        for k in 0..<length { word |= UInt64(b[start + k]) << (8 * UInt64(k)) }
        switch word {
        case Self.key("symbol"): return .symbol
        case Self.key("exchange"): return .exchange
        case Self.key("ts"): return .ts
        case Self.key("price"): return .price
        case Self.key("qty"): return .qty
        case Self.key("volume"): return .volume
        case Self.key("oi"): return .oi
        case Self.key("bid"): return .bid
        case Self.key("ask"): return .ask
        case Self.key("bid_qty"): return .bidQty
        case Self.key("ask_qty"): return .askQty
        case Self.key("src"): return .src
        case Self.key("session"): return .session
        case Self.key("seq"): return .seq
        default: return nil
        }
    }

    /// A key of up to 8 ASCII bytes as the little-endian word ``match`` builds.
    @inline(__always)
    static func key(_ text: StaticString) -> UInt64 {
        var word: UInt64 = 0
        let p = text.utf8Start
        for k in 0..<text.utf8CodeUnitCount { word |= UInt64(p[k]) << (8 * UInt64(k)) }
        return word
    }
}

/// A cursor over JSON bytes with the strict grammar the decoder needs.
struct JSONByteReader {
    let b: UnsafeRawBufferPointer
    var i = 0
    let end: Int
    let cache: TickStringCache?

    init(_ bytes: UnsafeRawBufferPointer, cache: TickStringCache? = nil) {
        self.b = bytes
        self.end = bytes.count
        self.cache = cache
    }

    static let maxDepth = 64

    @inline(__always)
    mutating func skipWhitespace() {
        while i < end {
            let c = b[i]
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
            i += 1
        }
    }

    /// Reads the top-level value, which must be an object, and nothing after it.
    mutating func readObject(into fields: inout TickFields) throws(TickDecodeError) {
        skipWhitespace()
        guard i < end else { throw TickDecodeError(.notJSON) }
        guard b[i] == UInt8(ascii: "{") else {
            // Tell "valid JSON but not an object" from garbage.
            try skipValue(depth: 0)
            skipWhitespace()
            throw TickDecodeError(i == end ? .notObject : .notJSON)
        }
        i += 1
        skipWhitespace()
        if i < end && b[i] == UInt8(ascii: "}") {
            i += 1
        } else {
            while true {
                skipWhitespace()
                guard i < end, b[i] == UInt8(ascii: "\"") else { throw TickDecodeError(.notJSON) }
                let key = try readStringSpan()
                skipWhitespace()
                guard i < end, b[i] == UInt8(ascii: ":") else { throw TickDecodeError(.notJSON) }
                i += 1
                skipWhitespace()
                guard i < end else { throw TickDecodeError(.notJSON) }
                let field: TickField? = key.escaped
                    ? unescaped(key).withUnsafeBytes { TickField.match($0, 0, $0.count) }
                    : TickField.match(b, key.start, key.length)
                if let field {
                    let bit: UInt32 = 1 << field.rawValue
                    if fields.seen & bit != 0 { throw TickDecodeError(.duplicateField, field: field.name) }
                    fields.seen |= bit
                    try readField(field, into: &fields)
                } else {
                    try skipValue(depth: 1)
                }
                skipWhitespace()
                guard i < end else { throw TickDecodeError(.notJSON) }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "}") { i += 1; break }
                throw TickDecodeError(.notJSON)
            }
        }
        skipWhitespace()
        guard i == end else { throw TickDecodeError(.notJSON) }
    }

    // MARK: Fields

    @inline(__always)
    mutating func isNull() throws(TickDecodeError) -> Bool {
        guard b[i] == UInt8(ascii: "n") else { return false }
        try expectLiteral("null")
        return true
    }

    @inline(__always)
    mutating func readField(_ field: TickField, into f: inout TickFields) throws(TickDecodeError) {
        if try isNull() { return }  // null reads as absent; required fields then fail as missing
        switch field {
        case .symbol: f.symbol = try readString(field, maxCharacters: 50)
        case .exchange: f.exchange = try readString(field, maxCharacters: 20)
        case .src: f.source = try readString(field, maxCharacters: 64)
        case .session: f.session = try readString(field, maxCharacters: 64)
        case .ts:
            if b[i] == UInt8(ascii: "\"") {
                let span = try readStringSpan()
                let parsed: Timestamp? = span.escaped
                    ? unescaped(span).withUnsafeBytes { Timestamp.parseRFC3339($0, from: 0, to: $0.count) }
                    : Timestamp.parseRFC3339(b, from: span.start, to: span.start + span.length)
                guard let parsed else { throw TickDecodeError(.badTimestamp, field: "ts") }
                f.timestamp = parsed
            } else if b[i] == UInt8(ascii: "-") || b[i] &- 48 < 10 {
                f.timestamp = Timestamp(nanosecondsSinceEpoch: try readInteger(field, allowNegative: true, max: .max))
            } else {
                try skipValue(depth: 1)
                throw TickDecodeError(.wrongType, field: "ts")
            }
        case .price: f.price = try readDecimal(field, strictlyPositive: true)
        case .bid: f.bid = try readDecimal(field, strictlyPositive: true)
        case .ask: f.ask = try readDecimal(field, strictlyPositive: true)
        case .oi: f.openInterest = try readOpenInterest(field)
        case .qty: f.quantity = try readInteger(field, allowNegative: false, max: TickLimits.maxQuantity)
        case .volume: f.volume = try readInteger(field, allowNegative: false, max: TickLimits.maxVolume)
        case .bidQty: f.bidQuantity = try readInteger(field, allowNegative: false, max: TickLimits.maxQuantity)
        case .askQty: f.askQuantity = try readInteger(field, allowNegative: false, max: TickLimits.maxQuantity)
        case .seq: f.sequence = try readInteger(field, allowNegative: false)
        }
    }

    @inline(__always)
    mutating func readString(_ field: TickField, maxCharacters: Int) throws(TickDecodeError) -> String {
        guard b[i] == UInt8(ascii: "\"") else {
            try skipValue(depth: 1)
            throw TickDecodeError(.wrongType, field: field.name)
        }
        let span = try readStringSpan()
        let string: String
        let characters: Int
        if span.escaped {
            string = String(decoding: unescaped(span), as: UTF8.self)
            characters = string.unicodeScalars.count
            if string.unicodeScalars.contains(where: TickLimits.isControl) { throw TickDecodeError(.badString, field: field.name) }
        } else {
            let slice = UnsafeRawBufferPointer(rebasing: b[span.start..<(span.start + span.length)])
            // Raw bytes below 0x20 were refused as JSON already; DEL (0x7F) and the C1 controls
            // (U+0080-U+009F, encoded C2 80-C2 9F) are valid JSON but not valid tick text.
            if span.ascii {
                characters = span.length
                if slice.contains(0x7F) { throw TickDecodeError(.badString, field: field.name) }
            } else {
                var n = 0
                var previous: UInt8 = 0
                for byte in slice {
                    if byte & 0xC0 != 0x80 { n += 1 }
                    if byte == 0x7F || (previous == 0xC2 && byte >= 0x80 && byte <= 0x9F) {
                        throw TickDecodeError(.badString, field: field.name)
                    }
                    previous = byte
                }
                characters = n
            }
            string = cache?.string(slice) ?? String(decoding: slice, as: UTF8.self)
        }
        guard characters >= 1, characters <= maxCharacters else { throw TickDecodeError(.outOfRange, field: field.name) }
        return string
    }

    /// `oi`: a decimal like `price`, but allowed up to 10^15, past ``FixedDecimal``'s range.
    @inline(__always)
    mutating func readOpenInterest(_ field: TickField) throws(TickDecodeError) -> WideDecimal {
        guard b[i] == UInt8(ascii: "-") || b[i] &- 48 < 10 else {
            try skipValue(depth: 1)
            throw TickDecodeError(.wrongType, field: field.name)
        }
        switch DecimalText.parse(b, at: &i, scale: WideDecimal.scale, unitsLimit: WideDecimal.unitsLimit) {
        case .syntax: throw TickDecodeError(.notJSON)
        case .unrepresentable: throw TickDecodeError(.outOfRange, field: field.name)
        case .success(let units):
            guard units >= 0, units <= TickLimits.maxOpenInterest.units else { throw TickDecodeError(.outOfRange, field: field.name) }
            return WideDecimal(units: units)
        }
    }

    @inline(__always)
    mutating func readDecimal(_ field: TickField, strictlyPositive: Bool) throws(TickDecodeError) -> FixedDecimal {
        guard b[i] == UInt8(ascii: "-") || b[i] &- 48 < 10 else {
            try skipValue(depth: 1)
            throw TickDecodeError(.wrongType, field: field.name)
        }
        switch FixedDecimal.parseJSONNumber(b, at: &i) {
        case .syntax: throw TickDecodeError(.notJSON)
        case .unrepresentable: throw TickDecodeError(.outOfRange, field: field.name)
        case .success(let value):
            if strictlyPositive ? value.units <= 0 : value.units < 0 { throw TickDecodeError(.outOfRange, field: field.name) }
            return value
        }
    }

    /// An integer field: plain JSON integer syntax (no fraction, no exponent), at most `max`.
    @inline(__always)
    mutating func readInteger(_ field: TickField, allowNegative: Bool, max: Int64 = .max) throws(TickDecodeError) -> Int64 {
        guard b[i] == UInt8(ascii: "-") || b[i] &- 48 < 10 else {
            try skipValue(depth: 1)
            throw TickDecodeError(.wrongType, field: field.name)
        }
        let start = i
        var negative = false
        if b[i] == UInt8(ascii: "-") { negative = true; i += 1 }
        guard i < end, b[i] &- 48 < 10 else { throw TickDecodeError(.notJSON) }
        var value: Int64 = 0
        var overflow = false
        if b[i] == 48 {
            i += 1
            if i < end && b[i] &- 48 < 10 { throw TickDecodeError(.notJSON) }
        } else {
            while i < end, b[i] &- 48 < 10 {
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(Int64(b[i] &- 48))
                overflow = overflow || o1 || o2
                value = s
                i += 1
            }
        }
        if i < end && (b[i] == UInt8(ascii: ".") || b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E")) {
            // A well-formed number, but not an integer.
            i = start
            guard case .success = FixedDecimal.parseJSONNumber(b, at: &i) else {
                // Validate the token's syntax before calling it the wrong type.
                i = start
                try skipNumber()
                throw TickDecodeError(.wrongType, field: field.name)
            }
            throw TickDecodeError(.wrongType, field: field.name)
        }
        if overflow || value > max { throw TickDecodeError(.outOfRange, field: field.name) }
        if negative {
            guard allowNegative else { throw TickDecodeError(.outOfRange, field: field.name) }
            return -value
        }
        return value
    }

    // MARK: Strings

    struct StringSpan {
        var start: Int
        var length: Int
        /// The string contains escapes: its text is ``unescaped(_:)``, not the raw bytes.
        var escaped: Bool
        /// Every byte is ASCII, so characters == bytes.
        var ascii: Bool
    }

    /// Reads a string starting at its opening quote; validates escapes, UTF-8 and control bytes.
    /// The common case (printable ASCII, no escapes) is one tight loop with no allocation.
    @inline(__always)
    mutating func readStringSpan() throws(TickDecodeError) -> StringSpan {
        i += 1  // opening quote
        let start = i
        var escaped = false
        var ascii = true
        while true {
            // Eight bytes at a time while none is a quote, a backslash, a control byte or
            // non-ASCII (SWAR: "has a zero byte" tests on the word).
            while i + 8 <= end {
                let word = b.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
                let quote = word ^ (ones &* 0x22), backslash = word ^ (ones &* 0x5C)
                let special = ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash)
                    | ((word &- ones &* 0x20) & ~word) | word
                if special & highs != 0 { break }
                i += 8
            }
            guard i < end else { throw TickDecodeError(.notJSON) }
            let c = b[i]
            if c == UInt8(ascii: "\"") {
                let span = StringSpan(start: start, length: i - start, escaped: escaped, ascii: ascii)
                i += 1
                return span
            }
            if c >= 0x20 && c < 0x80 && c != UInt8(ascii: "\\") {
                i += 1
                continue
            }
            if c < 0x20 { throw TickDecodeError(.notJSON) }
            if c == UInt8(ascii: "\\") {
                escaped = true
                i += 1
                guard i < end else { throw TickDecodeError(.notJSON) }
                switch b[i] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                     UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    i += 1
                case UInt8(ascii: "u"):
                    i += 1
                    let scalar = try readHex4()
                    if scalar >= 0xD800 && scalar <= 0xDBFF {
                        // A high surrogate must be followed by an escaped low surrogate.
                        guard i + 1 < end, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") else { throw TickDecodeError(.notJSON) }
                        i += 2
                        let low = try readHex4()
                        guard low >= 0xDC00 && low <= 0xDFFF else { throw TickDecodeError(.notJSON) }
                    } else if scalar >= 0xDC00 && scalar <= 0xDFFF {
                        throw TickDecodeError(.notJSON)
                    }
                default:
                    throw TickDecodeError(.notJSON)
                }
                continue
            }
            ascii = false
            _ = try validateUTF8Sequence()
        }
    }

    /// The UTF-8 text of an escaped string already validated by ``readStringSpan()``.
    func unescaped(_ span: StringSpan) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(span.length)
        var k = span.start
        let stop = span.start + span.length
        @inline(__always) func hex4(_ at: Int) -> UInt32 {
            var v: UInt32 = 0
            for j in 0..<4 {
                let c = b[at + j]
                v = v << 4 | UInt32(c <= 57 ? c - 48 : (c | 0x20) - 87)
            }
            return v
        }
        while k < stop {
            let c = b[k]
            guard c == UInt8(ascii: "\\") else { out.append(c); k += 1; continue }
            let e = b[k + 1]
            switch e {
            case UInt8(ascii: "b"): out.append(0x08); k += 2
            case UInt8(ascii: "f"): out.append(0x0C); k += 2
            case UInt8(ascii: "n"): out.append(0x0A); k += 2
            case UInt8(ascii: "r"): out.append(0x0D); k += 2
            case UInt8(ascii: "t"): out.append(0x09); k += 2
            case UInt8(ascii: "u"):
                var scalar = hex4(k + 2)
                k += 6
                if scalar >= 0xD800 && scalar <= 0xDBFF {
                    let low = hex4(k + 2)
                    k += 6
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                out.append(contentsOf: UTF8.encode(Unicode.Scalar(scalar)!)!)
            default: out.append(e); k += 2  // \" \\ \/
            }
        }
        return out
    }

    mutating func readHex4() throws(TickDecodeError) -> UInt32 {
        guard i + 4 <= end else { throw TickDecodeError(.notJSON) }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = b[i]
            let d: UInt32
            switch c {
            case 48...57: d = UInt32(c - 48)
            case 65...70: d = UInt32(c - 55)
            case 97...102: d = UInt32(c - 87)
            default: throw TickDecodeError(.notJSON)
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    /// Validates one multi-byte UTF-8 sequence at `i` (RFC 3629: no overlongs, no surrogates,
    /// nothing above U+10FFFF) and advances past it; returns its length.
    mutating func validateUTF8Sequence() throws(TickDecodeError) -> Int {
        let c0 = b[i]
        @inline(__always) func cont(_ k: Int) throws(TickDecodeError) -> UInt8 {
            guard i + k < end else { throw TickDecodeError(.notJSON) }
            let c = b[i + k]
            guard c & 0xC0 == 0x80 else { throw TickDecodeError(.notJSON) }
            return c
        }
        let length: Int
        switch c0 {
        case 0xC2...0xDF:
            _ = try cont(1); length = 2
        case 0xE0:
            guard try cont(1) >= 0xA0 else { throw TickDecodeError(.notJSON) }
            _ = try cont(2); length = 3
        case 0xE1...0xEC, 0xEE...0xEF:
            _ = try cont(1); _ = try cont(2); length = 3
        case 0xED:
            guard try cont(1) <= 0x9F else { throw TickDecodeError(.notJSON) }
            _ = try cont(2); length = 3
        case 0xF0:
            guard try cont(1) >= 0x90 else { throw TickDecodeError(.notJSON) }
            _ = try cont(2); _ = try cont(3); length = 4
        case 0xF1...0xF3:
            _ = try cont(1); _ = try cont(2); _ = try cont(3); length = 4
        case 0xF4:
            guard try cont(1) <= 0x8F else { throw TickDecodeError(.notJSON) }
            _ = try cont(2); _ = try cont(3); length = 4
        default:
            throw TickDecodeError(.notJSON)
        }
        i += length
        return length
    }

    // MARK: Skipping

    mutating func expectLiteral(_ literal: StaticString) throws(TickDecodeError) {
        let n = literal.utf8CodeUnitCount
        guard i + n <= end else { throw TickDecodeError(.notJSON) }
        let p = literal.utf8Start
        for k in 0..<n where b[i + k] != p[k] { throw TickDecodeError(.notJSON) }
        i += n
    }

    mutating func skipNumber() throws(TickDecodeError) {
        var index = i
        if case .syntax = FixedDecimal.parseJSONNumber(b, at: &index) { throw TickDecodeError(.notJSON) }
        i = index
    }

    /// Skips (and validates) any JSON value.
    mutating func skipValue(depth: Int) throws(TickDecodeError) {
        guard depth <= Self.maxDepth else { throw TickDecodeError(.notJSON) }
        skipWhitespace()
        guard i < end else { throw TickDecodeError(.notJSON) }
        switch b[i] {
        case UInt8(ascii: "\""): _ = try readStringSpan()
        case UInt8(ascii: "t"): try expectLiteral("true")
        case UInt8(ascii: "f"): try expectLiteral("false")
        case UInt8(ascii: "n"): try expectLiteral("null")
        case UInt8(ascii: "-"), 48...57: try skipNumber()
        case UInt8(ascii: "["):
            i += 1
            skipWhitespace()
            if i < end && b[i] == UInt8(ascii: "]") { i += 1; return }
            while true {
                try skipValue(depth: depth + 1)
                skipWhitespace()
                guard i < end else { throw TickDecodeError(.notJSON) }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "]") { i += 1; return }
                throw TickDecodeError(.notJSON)
            }
        case UInt8(ascii: "{"):
            i += 1
            skipWhitespace()
            if i < end && b[i] == UInt8(ascii: "}") { i += 1; return }
            while true {
                skipWhitespace()
                guard i < end, b[i] == UInt8(ascii: "\"") else { throw TickDecodeError(.notJSON) }
                _ = try readStringSpan()
                skipWhitespace()
                guard i < end, b[i] == UInt8(ascii: ":") else { throw TickDecodeError(.notJSON) }
                i += 1
                try skipValue(depth: depth + 1)
                skipWhitespace()
                guard i < end else { throw TickDecodeError(.notJSON) }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "}") { i += 1; return }
                throw TickDecodeError(.notJSON)
            }
        default:
            throw TickDecodeError(.notJSON)
        }
    }
}
