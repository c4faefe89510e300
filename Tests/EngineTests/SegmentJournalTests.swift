import Foundation
@testable import Engine
import Synchronization
import Testing

/// The real disk, failing on cue: a disk that fills up part-way through a write, an fsync or a
/// truncate that fails, a rename that fails.
final class FaultyDisk: Sendable {
    struct Plan {
        /// How many more bytes `pwrite` takes before it fails with ENOSPC (nil: no limit). A write
        /// larger than what is left is cut short, as on a real disk.
        var writableBytes: Int?
        /// The error `pwrite` fails with once `writableBytes` are used (ENOSPC, or EIO for a
        /// failing device).
        var writeError = ENOSPC
        /// The next this many `fdatasync`s fail with `datasyncError`.
        var failingDatasyncs = 0
        var datasyncError = EIO
        var truncateError: Int32?
        var renameError: Int32?
        var fsyncError: Int32?
        /// Creating a file fails with this (no room for a new file, as on a full disk).
        var createError: Int32?
    }

    let plan = Mutex(Plan())

    func set(_ change: (inout Plan) -> Void) { plan.withLock { change(&$0) } }

    var fileSystem: JournalFileSystem {
        typealias SystemError = JournalFileSystem.SystemError
        let posix = JournalFileSystem.posix
        var fs = posix
        fs.pwrite = { [self] (fd: Int32, bytes: UnsafeRawBufferPointer, offset: Int64) throws(SystemError) -> Int in
            let (allowed, error) = plan.withLock { p -> (Int, Int32) in
                guard let left = p.writableBytes else { return (bytes.count, 0) }
                p.writableBytes = left - min(left, bytes.count)
                return (min(left, bytes.count), p.writeError)
            }
            guard allowed > 0 else { throw SystemError("pwrite", error) }
            return try posix.pwrite(fd, UnsafeRawBufferPointer(rebasing: bytes.prefix(allowed)), offset)
        }
        fs.fdatasync = { [self] (fd: Int32) throws(SystemError) in
            let failure = plan.withLock { p -> Int32? in
                guard p.failingDatasyncs > 0 else { return nil }
                p.failingDatasyncs -= 1
                return p.datasyncError
            }
            if let failure { throw SystemError("fdatasync", failure) }
            try posix.fdatasync(fd)
        }
        fs.fsync = { [self] (fd: Int32) throws(SystemError) in
            if let code = plan.withLock({ $0.fsyncError }) { throw SystemError("fsync", code) }
            try posix.fsync(fd)
        }
        fs.ftruncate = { [self] (fd: Int32, length: Int64) throws(SystemError) in
            if let code = plan.withLock({ $0.truncateError }) { throw SystemError("ftruncate", code) }
            try posix.ftruncate(fd, length)
        }
        fs.open = { [self] (path: String, flags: Int32, mode: UInt32) throws(SystemError) -> Int32 in
            if flags & O_CREAT != 0, let code = plan.withLock({ $0.createError }) { throw SystemError("open \(path)", code) }
            return try posix.open(path, flags, mode)
        }
        fs.rename = { [self] (from: String, to: String) throws(SystemError) in
            if let code = plan.withLock({ $0.renameError }) { throw SystemError("rename", code) }
            try posix.rename(from, to)
        }
        return fs
    }
}

/// The failure `body` throws, or nil.
func failure<E: Error>(_ body: () throws(E) -> Void) -> E? {
    do {
        try body()
        return nil
    } catch {
        return error
    }
}

func temporaryDirectory(_ prefix: String) -> String { NSTemporaryDirectory() + "\(prefix)-\(UUID().uuidString.prefix(8))" }

@Suite("On-disk segment journal")
struct SegmentJournalTests {
    func directory() -> String { temporaryDirectory("journal") }

    func strings(_ records: [SegmentJournal.Record]) -> [String] {
        records.map { $0.corruption == nil ? String(decoding: $0.payload, as: UTF8.self) : "<corrupt>" }
    }

    func fileSize(_ path: String) -> Int {
        (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? -1
    }

    /// A frame exactly as the journal writes it.
    func frame(_ text: String) -> [UInt8] { SegmentJournal.frame(Array(text.utf8)) }

    @Test func recordsComeBackInOrderAcrossSegmentsAndReopens() throws {
        let dir = directory()
        do {
            let journal = try SegmentJournal(directory: dir, segmentBytes: 256)
            #expect(journal.isEmpty)
            for i in 0..<20 { try journal.append(Array("record \(i) ".utf8) + [UInt8](repeating: UInt8(i), count: 40)) }
            #expect(!journal.isEmpty)
            #expect(SegmentJournal.segments(in: dir).count > 3, "rolled over into several segments")
        }
        let reopened = try SegmentJournal(directory: dir, segmentBytes: 256)
        let first = try reopened.read(limit: 7)
        #expect(first.map { String(decoding: $0.payload.prefix(9), as: UTF8.self) } == (0..<7).map { "record \($0)".padding(toLength: 9, withPad: " ", startingAt: 0) })
        try reopened.consume(through: first.last!.next)
        let again = try SegmentJournal(directory: dir, segmentBytes: 256)
        let rest = try again.read(limit: 100)
        #expect(rest.count == 13, "the checkpoint survives a reopen")
        #expect(String(decoding: rest[0].payload.prefix(8), as: UTF8.self) == "record 7")
        try again.consume(through: rest.last!.next)
        #expect(again.isEmpty)
        #expect(try again.read(limit: 10).isEmpty)
        #expect(SegmentJournal.segments(in: dir).count <= 1, "consumed segments are deleted")
    }

    @Test func aTornTailIsCutOffAndACorruptRecordComesBackAsCorruptionFollowedByTheRecordsAfterIt() throws {
        let dir = directory()
        do {
            let journal = try SegmentJournal(directory: dir)
            try journal.append(Array("one".utf8))
            try journal.append(Array("two".utf8))
        }
        // A crash mid-append: half a frame at the end.
        let path = SegmentJournal.path(dir, SegmentJournal.segments(in: dir)[0])
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Array("ATJ1".utf8) + [50, 0, 0, 0, 1, 2])
        try handle.close()
        let repaired = try SegmentJournal(directory: dir)
        #expect(strings(try repaired.read(limit: 10)) == ["one", "two"])
        try repaired.append(Array("three".utf8))
        #expect(try repaired.read(limit: 10).count == 3, "appends continue after the cut")
        // A flipped byte inside the first record: reported, and the records after it still come back.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[13] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let damaged = try SegmentJournal(directory: dir)
        let records = try damaged.read(limit: 10)
        #expect(strings(records) == ["<corrupt>", "two", "three"])
        #expect(records[0].corruption?.contains("checksum") == true)
        #expect(records[0].payload == Array(bytes[0..<15]), "the corrupt bytes are handed over for quarantine")
        #expect(records[0].next == records[1].start)
    }

    @Test func crcMatchesTheStandardCheckValue() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
    }

    @Test func aShortWriteThenENOSPCLeavesNoPartialRecordAndLaterAppendsReadBackCleanly() throws {
        let dir = directory(), disk = FaultyDisk()
        let journal = try SegmentJournal(directory: dir, fileSystem: disk.fileSystem)
        try journal.append(Array("one".utf8))
        try journal.append(Array("two".utf8))
        let goodSize = fileSize(SegmentJournal.path(dir, 1))
        // Five bytes of the 17-byte frame fit, then the disk is full.
        disk.set { $0.writableBytes = 5 }
        let error = failure { () throws(SegmentJournal.Failure) in try journal.append(Array("three".utf8)) }
        guard case .full = error else { Issue.record("expected .full, got \(String(describing: error))"); return }
        #expect(fileSize(SegmentJournal.path(dir, 1)) == goodSize, "the partial frame was cut off")
        #expect(journal.brokenReason == nil)
        #expect(journal.pendingBytes == Int64(goodSize), "the failed append is not counted")
        disk.set { $0.writableBytes = nil }
        try journal.append(Array("four".utf8))
        #expect(strings(try journal.read(limit: 10)) == ["one", "two", "four"])
        let reopened = try SegmentJournal(directory: dir)
        #expect(strings(try reopened.read(limit: 10)) == ["one", "two", "four"])
    }

    @Test func anIOErrorPartWayThroughAWriteLeavesNoPartialRecord() throws {
        let dir = directory(), disk = FaultyDisk()
        let journal = try SegmentJournal(directory: dir, fileSystem: disk.fileSystem)
        try journal.append(Array("one".utf8))
        let goodSize = fileSize(SegmentJournal.path(dir, 1))
        disk.set { $0.writableBytes = 7; $0.writeError = EIO }
        let error = failure { () throws(SegmentJournal.Failure) in try journal.append(Array("a record the device fails".utf8)) }
        guard case .io(let text)? = error else { Issue.record("expected .io, got \(String(describing: error))"); return }
        #expect(text.contains("pwrite"))
        #expect(fileSize(SegmentJournal.path(dir, 1)) == goodSize, "the partial frame was cut off")
        #expect(journal.brokenReason == nil && journal.pendingBytes == Int64(goodSize))
        disk.set { $0.writableBytes = nil }
        try journal.append(Array("two".utf8))
        #expect(strings(try SegmentJournal(directory: dir).read(limit: 10)) == ["one", "two"])
    }

    @Test func anFsyncFailureThrowsAndTheRecordIsAbsentAfterReopen() throws {
        let dir = directory(), disk = FaultyDisk()
        do {
            let journal = try SegmentJournal(directory: dir, fileSystem: disk.fileSystem)
            try journal.append(Array("kept".utf8))
            disk.set { $0.failingDatasyncs = 1 }
            let error = failure { () throws(SegmentJournal.Failure) in try journal.append(Array("lost".utf8)) }
            guard case .io(let text) = error else { Issue.record("expected .io, got \(String(describing: error))"); return }
            #expect(text.contains("fdatasync"))
            #expect(journal.brokenReason == nil, "the undo worked")
            #expect(strings(try journal.read(limit: 10)) == ["kept"])
        }
        let reopened = try SegmentJournal(directory: dir)
        #expect(strings(try reopened.read(limit: 10)) == ["kept"])
        #expect(reopened.pendingBytes == 16)
    }

    @Test func aFailedUndoMarksTheJournalBrokenSoAppendsRefuseWhileReadsStillWork() throws {
        let dir = directory(), disk = FaultyDisk()
        do {
            let journal = try SegmentJournal(directory: dir, fileSystem: disk.fileSystem)
            try journal.append(Array("one".utf8))
            try journal.append(Array("two".utf8))
            disk.set {
                $0.writableBytes = 5
                $0.truncateError = EIO
            }
            #expect(failure { () throws(SegmentJournal.Failure) in try journal.append(Array("three".utf8)) } != nil)
            #expect(journal.brokenReason != nil)
            disk.set { $0 = FaultyDisk.Plan() }
            let refused = failure { () throws(SegmentJournal.Failure) in try journal.append(Array("four".utf8)) }
            guard case .io(let text) = refused else { Issue.record("expected .io, got \(String(describing: refused))"); return }
            #expect(text.contains("ENOSPC") || text.contains("No space"), "the cause is given: \(text)")
            #expect(strings(try journal.read(limit: 10)) == ["one", "two"], "reads stop at the last good record")
        }
        // Reopening cuts the garbage off and appends work again.
        let reopened = try SegmentJournal(directory: dir)
        #expect(reopened.brokenReason == nil)
        try reopened.append(Array("five".utf8))
        #expect(strings(try reopened.read(limit: 10)) == ["one", "two", "five"])
    }

    @Test func consumingEverythingInABrokenJournalMovesPastTheGarbageAndAppendsResume() throws {
        let dir = directory(), disk = FaultyDisk()
        let journal = try SegmentJournal(directory: dir, fileSystem: disk.fileSystem)
        try journal.append(Array("one".utf8))
        disk.set {
            $0.writableBytes = 5
            $0.truncateError = EIO
        }
        #expect(failure { () throws(SegmentJournal.Failure) in try journal.append(Array("two".utf8)) } != nil)
        disk.set { $0 = FaultyDisk.Plan() }
        #expect(journal.brokenReason != nil)
        let records = try journal.read(limit: 10)
        #expect(strings(records) == ["one"])
        try journal.consume(through: records[0].next)
        #expect(journal.brokenReason == nil)
        try journal.append(Array("three".utf8))
        #expect(strings(try journal.read(limit: 10)) == ["three"])
        #expect(strings(try SegmentJournal(directory: dir).read(limit: 10)) == ["three"])
    }

    @Test func journalsSharingABudgetStopAtTheirOwnCeilingsAndConsumingReleasesBudget() throws {
        let budget = JournalBudget(maxBytes: 1000)
        let ticks = try SegmentJournal(directory: directory(), budget: budget, budgetCeiling: 600)
        let events = try SegmentJournal(directory: directory(), budget: budget)
        let record = [UInt8](repeating: 7, count: 88)  // a 100-byte frame
        for _ in 0..<6 { try ticks.append(record) }
        guard case .full = failure({ () throws(SegmentJournal.Failure) in try ticks.append(record) }) else {
            Issue.record("the tick journal stops at its ceiling"); return
        }
        #expect(budget.usedBytes == 600)
        for _ in 0..<4 { try events.append(record) }
        #expect(budget.usedBytes == 1000, "the reserve above the tick ceiling is the event journal's")
        guard case .full = failure({ () throws(SegmentJournal.Failure) in try events.append(record) }) else {
            Issue.record("the event journal stops at the budget's maximum"); return
        }
        try ticks.consume(through: try ticks.read(limit: 100).last!.next)
        #expect(budget.usedBytes == 400)
        #expect(ticks.pendingBytes == 0)
        try ticks.append(record)
        try ticks.append(record)
        #expect(failure { () throws(SegmentJournal.Failure) in try ticks.append(record) } != nil, "the total counts, not the journal's own bytes")
        try events.consume(through: try events.read(limit: 2).last!.next)
        #expect(budget.usedBytes == 400)
        try ticks.append(record)
        #expect(budget.usedBytes == 500)
    }

    @Test func aReopenedJournalCountsItsBacklogAgainstTheBudgetAndClosingReturnsIt() throws {
        let dir = directory()
        do {
            let journal = try SegmentJournal(directory: dir)
            for i in 0..<3 { try journal.append(Array("record \(i)".utf8)) }
        }
        let budget = JournalBudget(maxBytes: 1 << 20)
        do {
            let reopened = try SegmentJournal(directory: dir, budget: budget)
            #expect(reopened.pendingBytes == 3 * 20)
            #expect(budget.usedBytes == reopened.pendingBytes)
        }
        #expect(budget.usedBytes == 0)
    }

    @Test func aRecordOverMaxRecordBytesThrowsTooLargeAndWritesNothing() throws {
        let dir = directory()
        let journal = try SegmentJournal(directory: dir, maxRecordBytes: 64)
        #expect(failure { () throws(SegmentJournal.Failure) in try journal.append([UInt8](repeating: 1, count: 65)) } == .tooLarge(65))
        #expect(journal.sizeBytes == 0)
        #expect(SegmentJournal.segments(in: dir).allSatisfy { fileSize(SegmentJournal.path(dir, $0)) == 0 })
        try journal.append([UInt8](repeating: 1, count: 64))
        #expect(try journal.read(limit: 10).map(\.payload.count) == [64])
    }

    @Test func aHugeLengthFieldIsReportedAsCorruptInsteadOfBeingAllocated() throws {
        let huge = Array("ATJ1".utf8) + [0xF0, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0] + [UInt8](repeating: 0xAB, count: 20)
        // In the middle: corruption, then the record after it.
        let middle = directory()
        try FileManager.default.createDirectory(atPath: middle, withIntermediateDirectories: true)
        try Data(frame("a") + huge + frame("b")).write(to: URL(fileURLWithPath: SegmentJournal.path(middle, 1)))
        let records = try SegmentJournal(directory: middle).read(limit: 10)
        #expect(strings(records) == ["a", "<corrupt>", "b"])
        #expect(records[1].corruption?.contains("limit") == true)
        #expect(records[1].payload == huge)
        // At the tail: a torn write, cut off at open.
        let tail = directory()
        try FileManager.default.createDirectory(atPath: tail, withIntermediateDirectories: true)
        try Data(frame("a") + huge).write(to: URL(fileURLWithPath: SegmentJournal.path(tail, 1)))
        #expect(strings(try SegmentJournal(directory: tail).read(limit: 10)) == ["a"])
        #expect(fileSize(SegmentJournal.path(tail, 1)) == 13)
    }

    @Test func consumingEverythingBringsPendingBytesToZeroAndDeletesTheConsumedSegments() throws {
        let dir = directory(), budget = JournalBudget()
        let journal = try SegmentJournal(directory: dir, segmentBytes: 256, budget: budget)
        for i in 0..<20 { try journal.append(Array("record \(i) ".utf8) + [UInt8](repeating: 1, count: 30)) }
        let written = SegmentJournal.segments(in: dir)
        #expect(written.count > 2)
        let records = try journal.read(limit: 100)
        #expect(journal.pendingBytes == records.reduce(0) { $0 + Int64($1.payload.count) + 12 })
        try journal.consume(through: records[9].next)
        #expect(journal.pendingBytes == records[10...].reduce(0) { $0 + Int64($1.payload.count) + 12 })
        try journal.consume(through: records.last!.next)
        #expect(journal.pendingBytes == 0)
        #expect(journal.sizeBytes == 0)
        #expect(budget.usedBytes == 0)
        #expect(journal.isEmpty)
        let left = SegmentJournal.segments(in: dir)
        #expect(Set(left).isDisjoint(with: written), "every segment that held records is gone, the write segment too")
        #expect(left.allSatisfy { fileSize(SegmentJournal.path(dir, $0)) == 0 })
        try journal.append(Array("after".utf8))
        let reopened = try SegmentJournal(directory: dir, segmentBytes: 256)
        #expect(strings(try reopened.read(limit: 10)) == ["after"])
    }

    @Test func aCorruptRecordMidSegmentIsReturnedAsCorruptionAndReadingAndConsumingContinuePastIt() throws {
        let dir = directory()
        do {
            let journal = try SegmentJournal(directory: dir)
            for text in ["alpha", "bravo", "charlie", "delta"] { try journal.append(Array(text.utf8)) }
        }
        let path = SegmentJournal.path(dir, 1)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[17] = 0  // the magic of "bravo", which starts at 17
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let journal = try SegmentJournal(directory: dir)
        let records = try journal.read(limit: 2)
        #expect(strings(records) == ["alpha", "<corrupt>"])
        #expect(records[1].corruption?.contains("marker") == true)
        #expect(records[1].payload == Array(bytes[17..<34]))
        try journal.consume(through: records[1].next)
        #expect(strings(try journal.read(limit: 10)) == ["charlie", "delta"])
        let reopened = try SegmentJournal(directory: dir)
        let rest = try reopened.read(limit: 10)
        #expect(strings(rest) == ["charlie", "delta"], "the checkpoint past the corruption holds")
        try reopened.consume(through: rest.last!.next)
        #expect(reopened.isEmpty)
    }

    @Test func readingManyRecordsInSmallBatchesAcrossSegmentsReturnsEachOnceInOrder() throws {
        let dir = directory()
        let journal = try SegmentJournal(directory: dir, segmentBytes: 4096)
        let payloads = (0..<500).map { i in Array("\(i):".utf8) + [UInt8](repeating: UInt8(i % 256), count: i % 97) }
        for payload in payloads { try journal.append(payload) }
        #expect(SegmentJournal.segments(in: dir).count > 5)
        #expect(try journal.read(limit: 7) == journal.read(limit: 7), "reading does not move the checkpoint")
        var seen: [[UInt8]] = []
        while true {
            let batch = try journal.read(limit: 3)
            if batch.isEmpty { break }
            #expect(batch.allSatisfy { $0.corruption == nil })
            seen += batch.map(\.payload)
            try journal.consume(through: batch.last!.next)
        }
        #expect(seen == payloads)
        #expect(journal.pendingBytes == 0)
    }

    @Test func aFailedCheckpointWriteThrowsAndTheOldCheckpointStays() throws {
        let dir = directory(), disk = FaultyDisk()
        let journal = try SegmentJournal(directory: dir, fileSystem: disk.fileSystem)
        for text in ["one", "two", "three"] { try journal.append(Array(text.utf8)) }
        let records = try journal.read(limit: 10)
        try journal.consume(through: records[0].next)
        disk.set { $0.failingDatasyncs = 1 }
        guard case .io = failure({ () throws(SegmentJournal.Failure) in try journal.consume(through: records[1].next) }) else {
            Issue.record("a failed checkpoint write throws .io"); return
        }
        #expect(strings(try journal.read(limit: 10)) == ["two", "three"])
        try journal.consume(through: records[1].next)
        #expect(strings(try SegmentJournal(directory: dir).read(limit: 10)) == ["three"])
    }

    @Test func consumingNeedsNoNewSpaceSoAFullDiskCanStillBeEmptied() throws {
        // Before: the checkpoint was a new file renamed into place; on a full disk it could not
        // be written, so nothing was ever consumed and nothing freed the disk (found by the
        // disk-full test on a 3 MB tmpfs).
        let dir = directory(), disk = FaultyDisk()
        let journal = try SegmentJournal(directory: dir, segmentBytes: 64, fileSystem: disk.fileSystem)
        for i in 0..<10 { try journal.append(Array("record \(i)".utf8)) }
        disk.set { $0.createError = ENOSPC; $0.renameError = ENOSPC }
        let records = try journal.read(limit: 100)
        for record in records.prefix(9) { try journal.consume(through: record.next) }
        #expect(strings(try journal.read(limit: 10)) == ["record 9"])
        #expect(SegmentJournal.segments(in: dir).count <= 2, "consumed segments were deleted")
        disk.set { $0 = FaultyDisk.Plan() }
        #expect(strings(try SegmentJournal(directory: dir).read(limit: 10)) == ["record 9"], "the checkpoint is durable")
    }

    @Test func aCheckpointSlotTornByACrashFallsBackToTheOtherSlot() throws {
        let dir = directory()
        let journal = try SegmentJournal(directory: dir)
        for text in ["one", "two", "three"] { try journal.append(Array(text.utf8)) }
        let records = try journal.read(limit: 10)
        try journal.consume(through: records[0].next)  // generation 2, slot 0
        try journal.consume(through: records[1].next)  // generation 3, slot 1
        // A crash in the middle of writing slot 1: its checksum fails.
        let handle = try #require(FileHandle(forUpdatingAtPath: dir + "/checkpoint"))
        try handle.seek(toOffset: 40)
        try handle.write(contentsOf: [0xFF, 0xFF])
        try handle.close()
        #expect(strings(try SegmentJournal(directory: dir).read(limit: 10)) == ["two", "three"], "one update older, never garbage")
    }

    @Test func concurrentAppendsAllArriveWhole() throws {
        let journal = try SegmentJournal(directory: directory(), segmentBytes: 1024)
        DispatchQueue.concurrentPerform(iterations: 4) { thread in
            for i in 0..<25 { try? journal.append(Array("\(thread)-\(i)".utf8)) }
        }
        let records = try journal.read(limit: 1000)
        #expect(records.count == 100)
        #expect(Set(strings(records)).count == 100)
    }
}
