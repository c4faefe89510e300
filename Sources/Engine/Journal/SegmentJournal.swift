import Foundation
import Synchronization

/// An append-only on-disk log of records, in segment files, for what must survive a database
/// outage or a crash (ticks that overflowed memory, order records committed nowhere else).
///
/// Each record is framed `"ATJ1" | length (u32 LE) | CRC-32 (u32 LE) | payload`, written with
/// `pwrite` at the journal's own idea of the end and `fdatasync`ed before `append` returns. A
/// failed append is cut off again before the error is thrown, so a later append never lands after
/// a partial record (a full disk used to leave those behind). Records are read back oldest first,
/// frame by frame; a damaged span is handed back as a corrupt record covering it, so one bad
/// frame cannot stop replay for good. `consume` moves a checkpoint past records stored elsewhere
/// and deletes segments wholly behind it. All disk access goes through a ``JournalFileSystem``;
/// space is counted against a ``JournalBudget`` shared with sibling journals. Thread-safe.
public final class SegmentJournal: Sendable {
    public struct Position: Sendable, Equatable, Comparable {
        public var segment: Int64
        public var offset: Int64
        public init(segment: Int64, offset: Int64) {
            self.segment = segment
            self.offset = offset
        }
        public static func < (a: Position, b: Position) -> Bool { (a.segment, a.offset) < (b.segment, b.offset) }
    }

    public struct Record: Sendable, Equatable {
        /// The record; for a corrupt span, its first bytes (up to 64 KiB), for quarantine.
        public let payload: [UInt8]
        /// Nil for a valid record; otherwise why the span is not one.
        public let corruption: String?
        public let start: Position
        /// Where the record after this one starts (the checkpoint to consume it).
        public let next: Position
    }

    public enum Failure: Error, CustomStringConvertible, Sendable, Equatable {
        /// Out of disk space or quota, or past this journal's share of the budget; nothing was written.
        case full(String)
        /// A payload over `maxRecordBytes` (its size); nothing was written.
        case tooLarge(Int)
        case io(String)
        case corrupt(String)

        init(_ error: JournalFileSystem.SystemError) {
            self = error.isOutOfSpace ? .full(error.description) : .io(error.description)
        }

        public var description: String {
            switch self {
            case .full(let s): "journal full: \(s)"
            case .tooLarge(let n): "journal record of \(n) bytes is too large"
            case .io(let s): "journal I/O: \(s)"
            case .corrupt(let s): "journal corrupt: \(s)"
            }
        }
    }

    private struct State {
        var writeSegment: Int64
        var writeOffset: Int64
        var writeFD: Int32?
        /// Whether the write segment's directory entry is known to be on disk.
        var entrySynced: Bool
        var checkpoint: Position
        /// The checkpoint's slot generation (see ``SlotFile``).
        var checkpointGeneration: UInt64 = 1
        /// How far each segment on disk holds records; the write segment's is `writeOffset`,
        /// which is authoritative even if a failed undo left bytes after it.
        var ends: [Int64: Int64]
        /// Why appends are refused: an append failed and could not be cut off again.
        var broken: String?

        var pending: Int64 {
            ends.reduce(0) { sum, entry in
                sum + (entry.key > checkpoint.segment ? entry.value
                    : entry.key == checkpoint.segment ? max(0, entry.value - checkpoint.offset) : 0)
            }
        }

        func segment(after segment: Int64) -> Int64 {
            ends.keys.filter { $0 > segment }.min() ?? writeSegment
        }
    }

    public let directory: String
    public let maxRecordBytes: Int
    public let budget: JournalBudget
    /// How far this journal may take the shared budget's count.
    public let budgetCeiling: Int64
    private let segmentBytes: Int64
    private let fs: JournalFileSystem
    private let state: Mutex<State>
    static let magic: [UInt8] = Array("ATJ1".utf8)
    static let headerBytes: Int64 = 12
    static let corruptPayloadCap = 64 << 10

    /// Opens (creating) the journal in `directory`, cutting off a torn tail, and counts what it
    /// holds against `budget` (unlimited by default). `budgetCeiling` defaults to the budget's maximum.
    public init(directory: String, segmentBytes: Int64 = 64 << 20, maxRecordBytes: Int = 16 << 20,
                budget: JournalBudget = JournalBudget(), budgetCeiling: Int64? = nil,
                fileSystem: JournalFileSystem = .posix) throws(Failure) {
        precondition(maxRecordBytes >= 0 && maxRecordBytes <= Int(UInt32.max), "a record length is a u32")
        self.directory = directory
        self.segmentBytes = segmentBytes
        self.maxRecordBytes = maxRecordBytes
        self.budget = budget
        self.budgetCeiling = budgetCeiling ?? budget.maxBytes
        self.fs = fileSystem
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw .io("cannot create \(directory): \(error)")
        }
        var s: State
        let slots = SlotFile(directory: directory, name: "checkpoint", fs: fileSystem)
        do throws(JournalFileSystem.SystemError) {
            let segments = Self.segments(in: directory)
            let stored = try Self.readCheckpoint(slots)
            var checkpoint = stored?.position ?? Position(segment: segments.first ?? 1, offset: 0)
            if let first = segments.first, checkpoint.segment < first { checkpoint = Position(segment: first, offset: 0) }
            // A crash between writing a checkpoint in a new segment and creating that segment
            // leaves the checkpoint past every file: appends must go where it points.
            let writeSegment = max(segments.last ?? checkpoint.segment, checkpoint.segment)
            var ends: [Int64: Int64] = [:]
            for segment in segments where segment != writeSegment {
                let fd = try fileSystem.open(Self.path(directory, segment), O_RDONLY | O_CLOEXEC, 0)
                defer { fileSystem.close(fd) }
                ends[segment] = try fileSystem.size(fd)
            }
            ends[writeSegment] = segments.last == writeSegment
                ? try Self.repairTail(Self.path(directory, writeSegment), fileSystem, maxRecordBytes: maxRecordBytes) : 0
            s = State(writeSegment: writeSegment, writeOffset: ends[writeSegment]!, writeFD: nil, entrySynced: segments.last == writeSegment,
                      checkpoint: min(checkpoint, Position(segment: writeSegment, offset: ends[writeSegment]!)), ends: ends, broken: nil)
            // The slots are made here, while opening, so that consuming never needs new space.
            if let generation = stored?.generation {
                s.checkpointGeneration = generation
            } else {
                try slots.create(SlotFile.Value(generation: 1, first: s.checkpoint.segment, second: s.checkpoint.offset))
            }
        } catch {
            throw Failure(error)
        }
        // Finishes a consume that crashed before deleting what it had consumed.
        Self.deleteConsumed(&s, directory, fileSystem)
        budget.add(s.pending)
        state = Mutex(s)
    }

    deinit {
        let (fd, pending) = state.withLock { ($0.writeFD, $0.pending) }
        if let fd { fs.close(fd) }
        budget.release(pending)
    }

    static func path(_ directory: String, _ segment: Int64) -> String {
        directory + "/" + String(format: "%012lld", segment) + ".seg"
    }

    static func segments(in directory: String) -> [Int64] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(".seg") }.compactMap { Int64($0.dropLast(4)) }.sorted()
    }

    /// The stored checkpoint and its slot generation. A checkpoint in the text format of
    /// earlier versions (`"SEGMENT OFFSET"`) is read too, without a generation, so the caller
    /// writes it again as slots. An unreadable one is ignored: replay then starts at the first
    /// segment, which is safe (replays skip what is stored) but slower.
    static func readCheckpoint(_ slots: SlotFile) throws(JournalFileSystem.SystemError) -> (position: Position, generation: UInt64?)? {
        switch try slots.read() {
        case .missing:
            return nil
        case .value(let value):
            return (Position(segment: value.first, offset: value.second), value.generation)
        case .other(let bytes):
            let parts = String(decoding: bytes, as: UTF8.self).split(separator: " ")
                .compactMap { Int64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            return parts.count == 2 ? (Position(segment: parts[0], offset: parts[1]), nil) : nil
        }
    }

    /// Cuts off the end of the last segment where no valid frame follows (a crash or a failed
    /// append mid-frame), returning where the records end. Damage with valid frames after it
    /// is kept, for `read` to report.
    static func repairTail(_ path: String, _ fs: JournalFileSystem, maxRecordBytes: Int) throws(JournalFileSystem.SystemError) -> Int64 {
        let fd = try fs.open(path, O_RDWR | O_CLOEXEC, 0)
        defer { fs.close(fd) }
        let size = try fs.size(fd)
        let reader = FrameReader(fs: fs, fd: fd, end: size, maxRecordBytes: maxRecordBytes)
        var offset: Int64 = 0
        while offset < size {
            switch try reader.frame(at: offset) {
            case .valid(_, let next):
                offset = next
            case .bad:
                let resume = try reader.resynchronise(after: offset)
                if resume < size {
                    offset = resume
                    continue
                }
                try fs.ftruncate(fd, offset)
                try fs.fdatasync(fd)
                return offset
            }
        }
        return size
    }

    static func frame(_ payload: [UInt8]) -> [UInt8] {
        var frame = magic
        frame.reserveCapacity(Int(headerBytes) + payload.count)
        for v in [UInt32(payload.count), CRC32.checksum(payload)] {
            for i in 0..<4 { frame.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) }
        }
        frame.append(contentsOf: payload)
        return frame
    }

    /// Bytes of journal on disk.
    public var sizeBytes: Int64 { state.withLock { $0.ends.values.reduce(0, +) } }

    /// Bytes of records not yet consumed: what is really waiting, and what the budget counts.
    public var pendingBytes: Int64 { state.withLock { $0.pending } }

    /// Whether records wait to be consumed.
    public var isEmpty: Bool {
        state.withLock { $0.checkpoint >= Position(segment: $0.writeSegment, offset: $0.writeOffset) }
    }

    /// Why appends are refused, if they are (a failed append could not be cut off); reopening repairs it.
    public var brokenReason: String? { state.withLock { $0.broken } }

    /// Appends one record, durably when it returns. On failure nothing of it remains.
    public func append(_ payload: [UInt8]) throws(Failure) {
        guard payload.count <= maxRecordBytes else { throw .tooLarge(payload.count) }
        let frame = Self.frame(payload), size = Int64(frame.count)
        try state.withLock { (s: inout State) throws(Failure) in
            if let broken = s.broken { throw .io("appends refused since a failed append could not be undone: \(broken)") }
            guard budget.reserve(size, ceiling: budgetCeiling) else {
                throw .full("\(size) bytes more would pass this journal's budget ceiling (\(budget.usedBytes) of \(min(budgetCeiling, budget.maxBytes)) bytes used)")
            }
            if s.writeOffset > 0 && s.writeOffset + size > segmentBytes { rotate(&s) }
            do throws(JournalFileSystem.SystemError) {
                let fd = try openWriteSegment(&s)
                try fs.writeAll(fd, frame, at: s.writeOffset)
                try fs.fdatasync(fd)
            } catch {
                budget.release(size)
                undo(&s, after: error)
                throw Failure(error)
            }
            s.writeOffset += size
            s.ends[s.writeSegment] = s.writeOffset
        }
    }

    private func openWriteSegment(_ s: inout State) throws(JournalFileSystem.SystemError) -> Int32 {
        let fd: Int32
        if let open = s.writeFD {
            fd = open
        } else {
            fd = try fs.open(Self.path(directory, s.writeSegment), O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
            s.writeFD = fd
        }
        // A record in a file whose name was lost in a crash would be lost with it.
        if !s.entrySynced {
            try fs.syncDirectory(directory)
            s.entrySynced = true
        }
        return fd
    }

    /// Cuts a failed append off again. If even that fails, the bytes after `writeOffset` are
    /// unknown, so appending is stopped (an append after them would be read as garbage's tail).
    private func undo(_ s: inout State, after failure: JournalFileSystem.SystemError) {
        guard let fd = s.writeFD else { return }
        do throws(JournalFileSystem.SystemError) {
            try fs.ftruncate(fd, s.writeOffset)
            try fs.fdatasync(fd)
        } catch {
            s.broken = "\(failure), then \(error)"
        }
    }

    /// Starts the next segment, creating it now so the directory shows where appends go.
    private func rotate(_ s: inout State) {
        if let fd = s.writeFD { fs.close(fd) }
        s.writeSegment += 1
        s.writeOffset = 0
        s.ends[s.writeSegment] = 0
        s.entrySynced = false
        s.writeFD = try? fs.open(Self.path(directory, s.writeSegment), O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
    }

    /// Up to `limit` records after the checkpoint, oldest first; damaged spans come back as
    /// records with `corruption` set, and reading goes on after them.
    public func read(limit: Int) throws(Failure) -> [Record] {
        let snapshot = state.withLock { $0 }
        var records: [Record] = []
        var position = snapshot.checkpoint
        while records.count < limit {
            let end = snapshot.ends[position.segment] ?? 0
            if position.offset < end {
                do throws(JournalFileSystem.SystemError) {
                    position.offset = try readSegment(from: position, end: end, limit: limit, into: &records)
                } catch where error.code == ENOENT {
                    position.offset = end  // consumed and deleted meanwhile
                } catch {
                    throw Failure(error)
                }
            }
            guard position.offset >= end, position.segment < snapshot.writeSegment else { break }
            position = Position(segment: snapshot.segment(after: position.segment), offset: 0)
        }
        return records
    }

    /// Reads frames from `start` up to `end` (never past it: the write segment may be growing)
    /// and returns the offset reached.
    private func readSegment(from start: Position, end: Int64, limit: Int,
                             into records: inout [Record]) throws(JournalFileSystem.SystemError) -> Int64 {
        let path = Self.path(directory, start.segment)
        let fd = try fs.open(path, O_RDONLY | O_CLOEXEC, 0)
        defer { fs.close(fd) }
        let reader = FrameReader(fs: fs, fd: fd, end: end, maxRecordBytes: maxRecordBytes)
        var offset = start.offset
        while records.count < limit, offset < end {
            let at = Position(segment: start.segment, offset: offset)
            switch try reader.frame(at: offset) {
            case .valid(let payload, let next):
                records.append(Record(payload: payload, corruption: nil, start: at, next: Position(segment: start.segment, offset: next)))
                offset = next
            case .bad(let reason):
                let resume = try reader.resynchronise(after: offset)
                let span = try fs.read(fd, count: Int(min(resume - offset, Int64(Self.corruptPayloadCap))), at: offset)
                records.append(Record(payload: span, corruption: "\(path) offset \(offset): \(reason); \(resume - offset) bytes skipped",
                                      start: at, next: Position(segment: start.segment, offset: resume)))
                offset = resume
            }
        }
        return offset
    }

    /// Marks everything before `position` as stored elsewhere (it never moves back); deletes
    /// segments wholly behind it. Reaching the end of what was written starts a new segment, so
    /// the consumed one goes at once and the bytes on disk fall with the backlog.
    public func consume(through position: Position) throws(Failure) {
        try state.withLock { (s: inout State) throws(Failure) in
            let writeEnd = Position(segment: s.writeSegment, offset: s.writeOffset)
            var target = min(max(position, s.checkpoint), writeEnd)
            while target.segment < s.writeSegment, target.offset >= s.ends[target.segment] ?? 0 {
                target = Position(segment: s.segment(after: target.segment), offset: 0)
            }
            // The new segment comes after the checkpoint naming it, so a failed checkpoint write
            // leaves the old segment the last one, where reopening can still repair its tail.
            let rotating = target == writeEnd && s.writeOffset > 0
            if rotating { target = Position(segment: s.writeSegment + 1, offset: 0) }
            if target != s.checkpoint {
                let before = s.pending
                let next = SlotFile.Value(generation: s.checkpointGeneration + 1, first: target.segment, second: target.offset)
                do throws(JournalFileSystem.SystemError) {
                    try SlotFile(directory: directory, name: "checkpoint", fs: fs).write(next)
                } catch {
                    throw .io("cannot write the checkpoint: \(error)")
                }
                s.checkpointGeneration = next.generation
                s.checkpoint = target
                if rotating {
                    rotate(&s)
                    // Whatever a failed undo left after the old segment's records is behind the
                    // checkpoint now, and appends go to a clean file.
                    s.broken = nil
                }
                budget.release(before - s.pending)
            }
            Self.deleteConsumed(&s, directory, fs)
        }
    }

    /// Deletes segments behind the checkpoint; one that cannot be deleted is tried again next time.
    private static func deleteConsumed(_ s: inout State, _ directory: String, _ fs: JournalFileSystem) {
        for segment in s.ends.keys where segment < s.checkpoint.segment {
            do throws(JournalFileSystem.SystemError) {
                try fs.unlink(path(directory, segment))
                s.ends[segment] = nil
            } catch {
                if error.code == ENOENT { s.ends[segment] = nil }
            }
        }
    }
}
