import Foundation
import Synchronization

/// An append-only on-disk log of records, in segment files, for what must survive a database
/// outage or a crash (ticks that overflowed memory, order records committed nowhere else).
///
/// Each record is framed `"ATJ1" | length (u32 LE) | CRC-32 (u32 LE) | payload` and `fsync`ed
/// before `append` returns, so a returned append is durable. Records are read back oldest first;
/// `consume` moves a checkpoint (written to a temporary file, fsynced, renamed) past records that
/// reached PostgreSQL, and deletes segments wholly behind it. A torn record at the end of the last
/// segment (a crash mid-append) is cut off at start; a bad checksum anywhere else stops reading
/// (it is reported, never skipped silently). Thread-safe.
public final class SegmentJournal: Sendable {
    public struct Position: Sendable, Equatable, Comparable {
        public var segment: Int64
        public var offset: Int64
        public static func < (a: Position, b: Position) -> Bool { (a.segment, a.offset) < (b.segment, b.offset) }
    }

    public struct Record: Sendable {
        public let payload: [UInt8]
        /// Where the record after this one starts (the checkpoint to consume it).
        public let next: Position
    }

    public enum Failure: Error, CustomStringConvertible {
        case io(String)
        case corrupt(String)
        public var description: String {
            switch self {
            case .io(let s): "journal I/O: \(s)"
            case .corrupt(let s): "journal corrupt: \(s)"
            }
        }
    }

    private struct State {
        var writeSegment: Int64
        var writeHandle: FileHandle?
        var writeOffset: Int64
        var checkpoint: Position
        var bytes: Int64
    }

    public let directory: String
    private let segmentBytes: Int64
    private let state: Mutex<State>
    private static let magic: [UInt8] = Array("ATJ1".utf8)

    /// Opens (creating) the journal in `directory`, repairing a torn tail.
    public init(directory: String, segmentBytes: Int64 = 64 << 20) throws(Failure) {
        self.directory = directory
        self.segmentBytes = segmentBytes
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw .io("cannot create \(directory): \(error)")
        }
        let segments = Self.segments(in: directory)
        var checkpoint = Self.readCheckpoint(directory) ?? Position(segment: segments.first ?? 1, offset: 0)
        if let first = segments.first, checkpoint.segment < first { checkpoint = Position(segment: first, offset: 0) }
        let last = segments.last ?? checkpoint.segment
        // Cut a torn tail off the last segment: an incomplete frame, or a complete one with a bad
        // checksum that is the very last thing written. A bad frame with more after it is
        // corruption, left for `read` to report.
        let lastPath = Self.path(directory, last)
        var end: Int64 = 0
        if let data = FileManager.default.contents(atPath: lastPath) {
            let bytes = [UInt8](data)
            var offset = 0
            scan: while offset < bytes.count {
                switch Self.inspect(bytes, at: offset) {
                case .valid(_, let next): offset = next
                case .incomplete: break scan
                case .bad(let next):
                    if next >= bytes.count { break scan }
                    offset = bytes.count  // corrupt in the middle: keep everything, appends go after it
                    break scan
                }
            }
            end = Int64(offset)
            if offset < bytes.count { truncate(lastPath, off_t(offset)) }
        }
        var total: Int64 = 0
        for s in segments { total += Int64((try? FileManager.default.attributesOfItem(atPath: Self.path(directory, s))[.size] as? Int) ?? 0) }
        state = Mutex(State(writeSegment: last, writeHandle: nil, writeOffset: end, checkpoint: checkpoint, bytes: total))
    }

    static func path(_ directory: String, _ segment: Int64) -> String {
        directory + "/" + String(format: "%012lld", segment) + ".seg"
    }

    static func segments(in directory: String) -> [Int64] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(".seg") }.compactMap { Int64($0.dropLast(4)) }.sorted()
    }

    static func readCheckpoint(_ directory: String) -> Position? {
        guard let text = try? String(contentsOfFile: directory + "/checkpoint", encoding: .utf8) else { return nil }
        let parts = text.split(separator: " ").compactMap { Int64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        return parts.count == 2 ? Position(segment: parts[0], offset: parts[1]) : nil
    }

    enum Inspection {
        case valid([UInt8], Int)
        /// Runs past the end of the data (a torn write).
        case incomplete
        /// Whole, but the magic or checksum is wrong; the frame (as its header says) ends at the value.
        case bad(Int)
    }

    static func inspect(_ bytes: [UInt8], at offset: Int) -> Inspection {
        guard offset + 12 <= bytes.count else { return .incomplete }
        func u32(_ at: Int) -> UInt32 { bytes[at..<at + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) } }
        let length = Int(u32(offset + 4)), crc = u32(offset + 8)
        guard offset + 12 + length <= bytes.count else { return .incomplete }
        let payload = Array(bytes[offset + 12..<offset + 12 + length])
        guard Array(bytes[offset..<offset + 4]) == magic, CRC32.checksum(payload) == crc else { return .bad(offset + 12 + length) }
        return .valid(payload, offset + 12 + length)
    }

    /// The payload of the record at `offset` and where the next one starts, if a whole, valid one is there.
    static func frame(_ bytes: [UInt8], at offset: Int) -> ([UInt8], Int)? {
        if case .valid(let payload, let next) = inspect(bytes, at: offset) { return (payload, next) }
        return nil
    }

    /// Bytes of journal on disk.
    public var sizeBytes: Int64 { state.withLock { $0.bytes } }

    /// Whether records wait to be consumed.
    public var isEmpty: Bool {
        state.withLock { s in s.checkpoint.segment > s.writeSegment || (s.checkpoint.segment == s.writeSegment && s.checkpoint.offset >= s.writeOffset) }
    }

    /// Appends one record and fsyncs it.
    public func append(_ payload: [UInt8]) throws(Failure) {
        var frame = Self.magic
        let length = UInt32(payload.count), crc = CRC32.checksum(payload)
        for v in [length, crc] { for i in 0..<4 { frame.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) } }
        frame += payload
        let result: Failure? = state.withLock { s in
            do {
                if s.writeOffset > 0 && s.writeOffset + Int64(frame.count) > segmentBytes {
                    try s.writeHandle?.close()
                    s.writeHandle = nil
                    s.writeSegment += 1
                    s.writeOffset = 0
                }
                if s.writeHandle == nil {
                    let path = Self.path(directory, s.writeSegment)
                    if !FileManager.default.fileExists(atPath: path) {
                        guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                            return .io("cannot create \(path)")
                        }
                        Self.syncDirectory(directory)
                    }
                    guard let handle = FileHandle(forWritingAtPath: path) else { return .io("cannot open \(path)") }
                    try handle.seek(toOffset: UInt64(s.writeOffset))
                    s.writeHandle = handle
                }
                try s.writeHandle!.write(contentsOf: frame)
                try s.writeHandle!.synchronize()
                s.writeOffset += Int64(frame.count)
                s.bytes += Int64(frame.count)
                return nil
            } catch {
                return .io("\(error)")
            }
        }
        if let result { throw result }
    }

    /// Up to `limit` records after the checkpoint, oldest first.
    public func read(limit: Int) throws(Failure) -> [Record] {
        let (checkpoint, writeSegment, writeOffset) = state.withLock { ($0.checkpoint, $0.writeSegment, $0.writeOffset) }
        var records: [Record] = []
        var position = checkpoint
        while records.count < limit, position.segment <= writeSegment {
            guard let data = FileManager.default.contents(atPath: Self.path(directory, position.segment)) else {
                if position.segment < writeSegment { position = Position(segment: position.segment + 1, offset: 0); continue }
                break
            }
            let bytes = [UInt8](data)
            var offset = Int(position.offset)
            let end = position.segment == writeSegment ? Int(writeOffset) : bytes.count
            while records.count < limit, offset < end {
                guard let (payload, next) = Self.frame(bytes, at: offset) else {
                    throw .corrupt("bad record at \(Self.path(directory, position.segment)) offset \(offset)")
                }
                offset = next
                records.append(Record(payload: payload, next: Position(segment: position.segment, offset: Int64(offset))))
            }
            if offset >= end && position.segment < writeSegment {
                position = Position(segment: position.segment + 1, offset: 0)
            } else {
                position.offset = Int64(offset)
                break
            }
        }
        return records
    }

    /// Marks everything before `position` as stored elsewhere; deletes segments wholly behind it.
    public func consume(through position: Position) throws(Failure) {
        // All consumed and the write segment past half its size: later appends start a new one,
        // so the old segment can go.
        let target: Position = state.withLock { s in
            guard position.segment == s.writeSegment && position.offset >= s.writeOffset && s.writeOffset > segmentBytes / 2 else { return position }
            try? s.writeHandle?.close()
            s.writeHandle = nil
            s.writeSegment += 1
            s.writeOffset = 0
            return Position(segment: s.writeSegment, offset: 0)
        }
        let text = "\(target.segment) \(target.offset)\n"
        let tmp = directory + "/checkpoint.tmp"
        guard FileManager.default.createFile(atPath: tmp, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]),
              let handle = FileHandle(forWritingAtPath: tmp) else { throw .io("cannot write \(tmp)") }
        try? handle.synchronize()
        try? handle.close()
        guard rename(tmp, directory + "/checkpoint") == 0 else { throw .io("cannot rename the checkpoint: errno \(errno)") }
        Self.syncDirectory(directory)
        state.withLock { s in
            s.checkpoint = target
            for segment in Self.segments(in: directory) where segment < target.segment {
                let path = Self.path(directory, segment)
                let size = Int64((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0)
                if unlink(path) == 0 { s.bytes -= size }
            }
        }
    }

    static func syncDirectory(_ directory: String) {
        let fd = open(directory, O_RDONLY)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }
}
