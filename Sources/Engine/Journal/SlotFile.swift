import Glibc

/// A small durable pair of numbers (the journal's checkpoint, the seq floor) that can be updated
/// on a full disk: the file holds two fixed slots, made once when the journal opens; an update
/// rewrites the older slot in place (no new block is needed) and syncs it. A crash mid-write can
/// damage only the slot being written, whose checksum then fails: the other slot, one update
/// older, is read instead. (A temporary file renamed over the old one, the usual way, needs free
/// space: on a full disk the journal could then never record that it was consumed, and nothing
/// would ever free the disk.)
///
/// Slot layout, 32 bytes: `"ATS1"` | generation u64 LE | first i64 LE | second i64 LE | CRC-32 of
/// the 28 bytes before it.
struct SlotFile: Sendable {
    struct Value: Sendable, Equatable {
        var generation: UInt64
        var first: Int64
        var second: Int64
    }

    /// What the file holds: nothing (no file), valid slots, or something else (its bytes).
    enum Contents: Sendable, Equatable {
        case missing
        case value(Value)
        case other([UInt8])
    }

    static let slotBytes = 32
    static let magic: [UInt8] = Array("ATS1".utf8)

    let directory: String
    let name: String
    let fs: JournalFileSystem

    var path: String { directory + "/" + name }

    static func encode(_ value: Value) -> [UInt8] {
        var out = magic
        func put(_ v: UInt64) { for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) } }
        put(value.generation)
        put(UInt64(bitPattern: value.first))
        put(UInt64(bitPattern: value.second))
        let crc = CRC32.checksum(out)
        for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i)))) }
        return out
    }

    static func decode(_ bytes: ArraySlice<UInt8>) -> Value? {
        guard bytes.count == slotBytes, Array(bytes.prefix(4)) == magic else { return nil }
        let b = Array(bytes)
        func u64(_ at: Int) -> UInt64 { b[at..<at + 8].reversed().reduce(0) { $0 << 8 | UInt64($1) } }
        let crc = b[28..<32].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard CRC32.checksum(b[0..<28]) == crc else { return nil }
        return Value(generation: u64(4), first: Int64(bitPattern: u64(12)), second: Int64(bitPattern: u64(20)))
    }

    func read() throws(JournalFileSystem.SystemError) -> Contents {
        guard let bytes = try fs.contents(of: path, limit: 2 * Self.slotBytes) else { return .missing }
        let slots = [0, 1].compactMap { i -> Value? in
            let start = i * Self.slotBytes
            return bytes.count >= start + Self.slotBytes ? Self.decode(bytes[start..<start + Self.slotBytes]) : nil
        }
        if let newest = slots.max(by: { $0.generation < $1.generation }) { return .value(newest) }
        return .other(bytes)
    }

    /// Makes the file afresh with both slots holding `value` (at open, where a little space is
    /// needed once; the temporary-file route keeps a crash from leaving a half-made file).
    func create(_ value: Value) throws(JournalFileSystem.SystemError) {
        let slot = Self.encode(value)
        try fs.replaceFile(in: directory, named: name, with: slot + slot)
    }

    /// Writes `value` over the slot its generation names and syncs it.
    func write(_ value: Value) throws(JournalFileSystem.SystemError) {
        let fd = try fs.open(path, O_WRONLY | O_CLOEXEC, 0)
        defer { fs.close(fd) }
        try fs.writeAll(fd, Self.encode(value), at: Int64(value.generation % 2) * Int64(Self.slotBytes))
        try fs.fdatasync(fd)
    }
}
