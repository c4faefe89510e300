/// One trade print from a market-data publisher, validated (CONTRACT.md section 1).
public struct Tick: Sendable, Equatable {
    public var symbol: String
    public var exchange: String
    /// Exchange time of the trade.
    public var timestamp: Timestamp
    public var price: FixedDecimal
    /// Last traded quantity (`qty`, default 0).
    public var quantity: Int64
    /// Cumulative day volume (`volume`).
    public var volume: Int64?
    /// Open interest (`oi`), up to 10^15: wider than a price.
    public var openInterest: WideDecimal?
    public var bid: FixedDecimal?
    public var ask: FixedDecimal?
    public var bidQuantity: Int64?
    public var askQuantity: Int64?
    /// Publisher stream id (`src`); the engine defaults it to the endpoint it came from.
    public var source: String?
    /// Publisher run id (`session`).
    public var session: String?
    /// Sequence number within (`src`, `session`).
    public var sequence: Int64?

    public init(
        symbol: String, exchange: String, timestamp: Timestamp, price: FixedDecimal, quantity: Int64 = 0,
        volume: Int64? = nil, openInterest: WideDecimal? = nil, bid: FixedDecimal? = nil, ask: FixedDecimal? = nil,
        bidQuantity: Int64? = nil, askQuantity: Int64? = nil, source: String? = nil, session: String? = nil,
        sequence: Int64? = nil
    ) {
        self.symbol = symbol
        self.exchange = exchange
        self.timestamp = timestamp
        self.price = price
        self.quantity = quantity
        self.volume = volume
        self.openInterest = openInterest
        self.bid = bid
        self.ask = ask
        self.bidQuantity = bidQuantity
        self.askQuantity = askQuantity
        self.source = source
        self.session = session
        self.sequence = sequence
    }
}

/// Why a message was dropped. The raw value is the counter label and the reason logged.
public enum TickRejection: String, Sendable, CaseIterable, Hashable {
    /// Not exactly two frames (topic, payload).
    case badFrames = "bad_frames"
    /// Topic does not start with `tick.`.
    case badTopic = "bad_topic"
    /// Payload over the 64 KiB limit.
    case tooLarge = "too_large"
    /// Not well-formed UTF-8 JSON.
    case notJSON = "not_json"
    /// JSON, but not an object.
    case notObject = "not_object"
    /// A field appears twice in the object.
    case duplicateField = "duplicate_field"
    /// A required field is absent (or null).
    case missingField = "missing_field"
    /// A field has the wrong JSON type.
    case wrongType = "wrong_type"
    /// A value outside its allowed range, or one the schema cannot hold exactly.
    case outOfRange = "out_of_range"
    /// `ts` is not a valid RFC 3339 time or epoch-nanosecond integer.
    case badTimestamp = "bad_timestamp"
    /// `ts` outside [now - retention, now + 1 day].
    case timestampOutOfWindow = "ts_out_of_window"
    /// A string field holding a control character (U+0000-U+001F, U+007F-U+009F), which the
    /// database's text columns refuse (NUL) or which would corrupt logs and listings.
    case badString = "bad_string"
}

/// The numeric maxima of CONTRACT.md section 1, enforced by the decoder: whatever passes them
/// can be summed into bars and stored without overflow.
public enum TickLimits {
    /// `qty`, `bid_qty`, `ask_qty`: 0 to 10^9.
    public static let maxQuantity: Int64 = 1_000_000_000
    /// `volume` (cumulative day volume): 0 to 10^15.
    public static let maxVolume: Int64 = 1_000_000_000_000_000
    /// `oi`: 0 to 10^15.
    public static let maxOpenInterest = WideDecimal(units: 1_000_000_000_000_000 * 10_000)

    /// A Unicode control character (general category Cc): C0, DEL and C1.
    @inlinable
    public static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (scalar.value >= 0x7F && scalar.value <= 0x9F)
    }
}

/// A rejection with the field it concerns, for the log line.
public struct TickDecodeError: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: TickRejection
    public let field: String?

    public init(_ reason: TickRejection, field: String? = nil) {
        self.reason = reason
        self.field = field
    }

    public var description: String {
        field.map { "\(reason.rawValue) (\($0))" } ?? reason.rawValue
    }
}

extension Tick {
    /// Bytes a tick waiting in memory holds: its inline size, plus the heap storage of each string
    /// longer than the 15 UTF-8 bytes Swift keeps inline. Strings the decoder's cache shares
    /// between ticks are counted for each: an upper bound, which is what a memory bound needs.
    @inlinable
    public var estimatedMemory: Int {
        @inline(__always) func heap(_ s: String?) -> Int {
            guard let s else { return 0 }
            let n = s.utf8.count
            return n > 15 ? 32 + n : 0
        }
        return MemoryLayout<Tick>.stride + heap(symbol) + heap(exchange) + heap(source) + heap(session)
    }
}
