/// A request to the replay endpoint (docs/protocol.md): `{"from_seq": A, "to_seq": B}`, JSON
/// integers with 1 <= A <= B. One request is served up to ``maxEvents`` events; ``window`` says
/// which, computed without overflow whatever A and B are.
public struct ReplayRequest: Sendable, Equatable {
    public var fromSeq: Int64
    public var toSeq: Int64

    /// Events served for one request at most; a larger range is answered up to here and the
    /// end message says where to continue.
    public static let maxEvents: Int64 = 10_000

    public init(fromSeq: Int64, toSeq: Int64) {
        self.fromSeq = fromSeq
        self.toSeq = toSeq
    }

    /// Reads a request, or says what is wrong with it.
    public static func parse(_ payload: [UInt8]) -> Result<ReplayRequest, JSONValue.ParseError> {
        let usage = JSONValue.ParseError(message: #"expected {"from_seq": A, "to_seq": B} with integers 1 <= A <= B"#)
        guard payload.count <= 4_096 else { return .failure(JSONValue.ParseError(message: "request over 4096 bytes")) }
        let json: JSONValue
        do { json = try JSONValue.parse(payload) } catch { return .failure(error) }
        guard let from = json["from_seq"]?.int64Value, let to = json["to_seq"]?.int64Value, from >= 1, to >= from else {
            return .failure(usage)
        }
        return .success(ReplayRequest(fromSeq: from, toSeq: to))
    }

    /// The seqs served for this request: `fromSeq` up to `toSeq` or ``maxEvents`` of them.
    public var window: ClosedRange<Int64> {
        // to - from cannot overflow: both are positive.
        let span = min(toSeq - fromSeq, Self.maxEvents - 1)
        return fromSeq...(fromSeq + span)
    }
}
