/// Reuses `String`s for byte sequences seen before: a feed repeats the same few hundred
/// symbols, exchanges and stream ids millions of times, and making a fresh `String` (and, past
/// 15 bytes, a heap allocation) for each is most of a decoder's allocation work.
///
/// A direct-mapped table keyed by FNV-1a of the bytes; a hit is verified byte for byte, so a
/// collision only costs a miss. Not thread-safe (and not `Sendable`): one per receive thread.
/// The table is a buffer the class owns, rather than an array property, so that lookups carry no
/// dynamic exclusivity checks.
public final class TickStringCache {
    private struct Entry {
        var hash: UInt64
        var bytes: [UInt8]
        var string: String
    }

    private let slots: UnsafeMutableBufferPointer<Entry?>
    private let mask: Int
    /// Longer strings are not cached (they are rare in ticks and costly to compare).
    public static let maxLength = 64

    public init(slots count: Int = 512) {
        precondition(count > 0 && count & (count - 1) == 0, "slots must be a power of two")
        slots = .allocate(capacity: count)
        slots.initialize(repeating: nil)
        mask = count - 1
    }

    deinit {
        slots.deinitialize()
        slots.deallocate()
    }

    @inline(__always)
    public func string(_ bytes: UnsafeRawBufferPointer) -> String {
        guard bytes.count <= Self.maxLength, let base = bytes.baseAddress else { return String(decoding: bytes, as: UTF8.self) }
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        let slot = Int(truncatingIfNeeded: hash) & mask
        if let entry = slots[slot], entry.hash == hash, entry.bytes.count == bytes.count,
           entry.bytes.withUnsafeBytes({ memcmp($0.baseAddress!, base, bytes.count) == 0 }) {
            return entry.string
        }
        let string = String(decoding: bytes, as: UTF8.self)
        slots[slot] = Entry(hash: hash, bytes: Array(bytes), string: string)
        return string
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
