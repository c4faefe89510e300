// libFuzzer target for everything the engine reads from outside, along the whole path each
// input takes. Compiled together with Sources/TradingCore into one module by `make fuzz`
// (swiftc -sanitize=fuzzer,address), so the product build never links libFuzzer and this file
// needs no import. The first byte picks the path ('t', 'r', 'g'; any other byte by its value):
//
// - t: tick bytes -> decoder -> edge validation -> bar aggregation -> COPY row encoder;
// - r: replay request bytes -> parser -> the window served;
// - g: gateway message bytes -> parser -> report or hello -> a trading desk with a live order;
// - s: a strategy process's message (its next byte picks the topic) -> parser -> scope checks ->
//   a paper desk (new orders, then checked modifies and cancels of what was placed);
// - h: a history file (`history import`: a header line, then rows) -> reader -> the ticks a
//   replay on bars makes of its bars -> bar aggregation.
//
// Nothing may trap, hang or touch memory out of bounds (AddressSanitizer), and what is accepted
// must be what the database and the arithmetic downstream can take.

/// State kept across inputs, as the engine keeps it across messages (bounded by its own limits).
// nonisolated(unsafe) is safe here, for each of the three: libFuzzer calls the target from one
// thread only (no -jobs/-workers in `make fuzz`), so every read and write is on that thread.
nonisolated(unsafe) var aggregator = BarAggregator(maxInstruments: 1_000)
nonisolated(unsafe) var desk = FuzzDesk.make()
nonisolated(unsafe) var paperDesk = FuzzDesk.paper()

let fuzzNow = Timestamp(nanosecondsSinceEpoch: 1_795_491_900_000_000_000)

@_cdecl("LLVMFuzzerTestOneInput")
public func edgeFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let bytes = UnsafeRawBufferPointer(start: data + 1, count: size - 1)
    switch data[0] {
    case UInt8(ascii: "t"): tickPath(bytes)
    case UInt8(ascii: "r"): replayPath(bytes)
    case UInt8(ascii: "g"): gatewayPath(bytes)
    case UInt8(ascii: "s"): strategyPath(bytes)
    case UInt8(ascii: "h"): historyPath(bytes)
    default:
        switch data[0] % 5 {
        case 0: tickPath(bytes)
        case 1: replayPath(bytes)
        case 2: gatewayPath(bytes)
        case 3: historyPath(bytes)
        default: strategyPath(bytes)
        }
    }
    return 0
}

/// A history file: the first line is the header (a bar file read as 1min bars, a tick file
/// without an interval, as the command line would give them).
func historyPath(_ bytes: UnsafeRawBufferPointer) {
    let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
    guard let header = lines.first else { return }
    let reader: HistoryCSVReader
    do {
        reader = try HistoryCSVReader(header: header, symbol: "FUZZ", exchange: nil, interval: .oneMinute, calendar: .standard)
    } catch {
        guard let ticks = try? HistoryCSVReader(header: header, symbol: "FUZZ", exchange: nil, interval: nil, calendar: .standard) else { return }
        reader = ticks
    }
    var bars: [Bar] = []
    for (i, line) in lines.dropFirst().enumerated() {
        guard let row = try? reader.parse(line, line: i + 2) else { continue }
        switch row {
        case .tick(let t):
            if t.price <= .zero || t.quantity < 0 || t.quantity > HistoryCSVReader.maxQuantity { fail("tick out of range", bytes) }
        case .bar(let b):
            if !(b.low <= b.open && b.low <= b.close && b.high >= b.open && b.high >= b.close && b.low > .zero) { fail("bar out of shape", bytes) }
            if SessionCalendar.standard.barStart(b.start, interval: .oneMinute, exchange: b.exchange) != b.start { fail("bar off the grid", bytes) }
            bars.append(b)
        }
    }
    // Bars in start order, as a replay reads them; the aggregator must take every tick made.
    bars.sort { $0.start < $1.start }
    var maker = BarTicks(sessions: TradingCalendar.standard.sessions)
    var aggregator = BarAggregator(calendar: .standard, intervals: [.fiveMinutes, .oneDay])
    var last = Timestamp(nanosecondsSinceEpoch: .min)
    for tick in maker.add(bars) + maker.finish() {
        if tick.timestamp < last { fail("ticks out of time order", bytes) }
        last = tick.timestamp
        _ = aggregator.add(tick)
    }
}

func fail(_ why: String, _ bytes: UnsafeRawBufferPointer) -> Never {
    fatalError("\(why): \(String(decoding: bytes, as: UTF8.self))")
}

func tickPath(_ bytes: UnsafeRawBufferPointer) {
    let decoder = TickDecoder()
    guard let tick = try? decoder.decode(bytes, now: fuzzNow) else { return }
    // The decoder's round trip.
    guard let again = try? decoder.decode(TickJSONEncoder.encode(tick, timestampAsEpochNanoseconds: true), now: fuzzNow), again == tick else {
        fail("round trip changed the tick", bytes)
    }
    // What the database would refuse is refused at the edge.
    for text in [tick.symbol, tick.exchange, tick.source ?? "x", tick.session ?? "x"] where text.unicodeScalars.contains(where: TickLimits.isControl) {
        fail("a control character was accepted", bytes)
    }
    guard tick.quantity >= 0, tick.quantity <= TickLimits.maxQuantity, (tick.volume ?? 0) <= TickLimits.maxVolume,
          (tick.openInterest ?? .zero) <= TickLimits.maxOpenInterest, tick.price.units > 0,
          tick.price.units < FixedDecimal.unitsLimit else {
        fail("a value past the contract's maxima was accepted", bytes)
    }
    // Bars: summing never traps (the volume saturates).
    _ = aggregator.add(tick)
    // The COPY row: twelve fields, one line, no NUL, valid UTF-8.
    var row: [UInt8] = []
    CopyRowEncoder.append(tick, id: UUIDBytes(high: 0x0190_0000_0000_7000, low: 0x8000_0000_0000_0001), to: &row)
    guard row.last == UInt8(ascii: "\n"), !row.dropLast().contains(UInt8(ascii: "\n")), !row.contains(0) else {
        fail("the COPY row is not one clean line", bytes)
    }
    guard row.filter({ $0 == UInt8(ascii: "\t") }).count == 11 else { fail("the COPY row has the wrong number of fields", bytes) }
    guard String(validating: row, as: UTF8.self) != nil else { fail("the COPY row is not UTF-8", bytes) }
}

func replayPath(_ bytes: UnsafeRawBufferPointer) {
    guard case .success(let request) = ReplayRequest.parse(Array(bytes)) else { return }
    let window = request.window
    guard window.lowerBound == request.fromSeq, window.lowerBound >= 1, window.upperBound <= request.toSeq,
          window.upperBound - window.lowerBound < ReplayRequest.maxEvents else {
        fail("a replay window outside the request or the bound", bytes)
    }
}

func gatewayPath(_ bytes: UnsafeRawBufferPointer) {
    guard case .success(let body) = GatewayMessages.parseObject(Array(bytes)) else { return }
    if case .success(let hello) = GatewayMessages.hello(body) {
        guard hello.brokerIDs.count <= GatewayMessages.maxBrokersPerHello,
              hello.brokerIDs.allSatisfy({ PrintableText.isIdentifier($0, maxCharacters: 64) }) else {
            fail("a hello past its bounds was accepted", bytes)
        }
    }
    guard case .success(var report) = GatewayMessages.report(body, now: fuzzNow) else { return }
    guard (report.reason ?? "").unicodeScalars.allSatisfy({ !TickLimits.isControl($0) }),
          (report.quantity ?? 0) <= TickLimits.maxQuantity else {
        fail("a report the database would refuse was accepted", bytes)
    }
    // Through the desk, as the gateway endpoint hands it on: aimed at the desk's live order.
    report.orderID = FuzzDesk.liveOrderID(in: desk)
    _ = desk.onGatewayReport(report)
    if FuzzDesk.liveOrderID(in: desk) == "none" { desk = FuzzDesk.make() }
}

let strategyTopics = ["hello", "heartbeat", "order.new", "order.modify", "order.cancel", "log", "done", "bogus"]
let fuzzIdentity = StrategyIdentity(strategyID: "0190a0c2-7d1e-7a8b-9c0d-1e2f3a4b5c6d", userID: "u1", name: "probe", brokerID: "b1")
let fuzzDeclared = try! ExternalStrategyConfig(parameters: StrategyParameters(["instruments": .json(.array([.string("NSE:RELIANCE")]))]))

func strategyPath(_ bytes: UnsafeRawBufferPointer) {
    guard let first = bytes.first else { return }
    let topic = strategyTopics[Int(first) % strategyTopics.count]
    guard case .success(let body) = GatewayMessages.parseObject(Array(bytes.dropFirst())),
          case .success(let request) = StrategyRequest.parse(topic: topic, body: body) else { return }
    switch request {
    case .order(let order):
        guard PrintableText.isIdentifier(order.clientOrderID, maxCharacters: 64), order.quantity > 0, order.quantity <= TickLimits.maxQuantity,
              [order.price, order.triggerPrice, order.stoploss, order.target].allSatisfy({ ($0?.units ?? 1) > 0 }) else {
            fail("a strategy order past its bounds was accepted", bytes)
        }
        guard StrategyScope.refusal(of: order, by: fuzzIdentity, declared: fuzzDeclared, clientOrderIDUsed: false, tickDelivered: true) == nil else { return }
        _ = paperDesk.submit(order.intent(identity: fuzzIdentity, lastTick: (FixedDecimal(2_450), fuzzNow)), now: fuzzNow)
    case .modify(_, let quantity, let price, let trigger):
        guard let orderID = paperDesk.workingOrderIDs.first else { return }
        _ = paperDesk.modifyChecked(orderID: orderID, quantity: quantity, price: price, triggerPrice: trigger, time: fuzzNow)
    case .cancel:
        guard let orderID = paperDesk.workingOrderIDs.first else { return }
        _ = paperDesk.cancel(orderID: orderID, reason: "fuzz", time: fuzzNow)
    case .hello, .heartbeat, .log, .done:
        break
    }
    // Bounded as the engine's desk is across a session: start again now and then.
    if paperDesk.workingOrderIDs.count > 200 { paperDesk = FuzzDesk.paper() }
}

/// A desk with one working live order, for gateway reports to act on.
enum FuzzDesk {
    /// A paper desk with a price for RELIANCE, for strategy processes' orders.
    static func paper() -> TradingDesk {
        var desk = TradingDesk(ids: UUIDv7Generator(seed: 11))
        _ = desk.onTick(Tick(symbol: "RELIANCE", exchange: "NSE", timestamp: fuzzNow, price: FixedDecimal(2_450)))
        return desk
    }

    static func make() -> TradingDesk {
        var desk = TradingDesk(ids: UUIDv7Generator(seed: 7))
        desk.liveBrokers = ["b1"]
        desk.setConnectedBrokers(["b1"])
        desk.riskSettings = [:]
        _ = desk.onTick(Tick(symbol: "RELIANCE", exchange: "NSE", timestamp: fuzzNow, price: FixedDecimal(2_450)))
        _ = desk.submit(OrderIntent(strategyID: "s1", userID: "u1", brokerID: "b1", symbol: "RELIANCE", exchange: "NSE", side: .buy,
                                    quantity: 10, referencePrice: FixedDecimal(2_450), time: fuzzNow, reason: "fuzz"), now: fuzzNow)
        return desk
    }

    static func liveOrderID(in desk: TradingDesk) -> String {
        desk.workingOrderIDs.first ?? "none"
    }
}
