// libFuzzer target for the hot-path tick decoder. Compiled together with Sources/TradingCore
// into one module by `make fuzz` (swiftc -sanitize=fuzzer,address), so the product build never
// links libFuzzer and this file needs no import.

/// Any bytes at all must decode to a tick or to a typed rejection, never crash, hang or touch
/// memory out of bounds (AddressSanitizer watches); and every accepted tick must survive a
/// round trip through the encoder unchanged.
@_cdecl("LLVMFuzzerTestOneInput")
public func tickDecoderFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let now = Timestamp(nanosecondsSinceEpoch: 1_795_491_900_000_000_000)
    let decoder = TickDecoder()
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    guard let tick = try? decoder.decode(bytes, now: now) else { return 0 }
    let encoded = TickJSONEncoder.encode(tick, timestampAsEpochNanoseconds: true)
    guard let again = try? decoder.decode(encoded, now: now), again == tick else {
        fatalError("round trip changed the tick: \(String(decoding: bytes, as: UTF8.self))")
    }
    return 0
}
