import Foundation
@testable import Engine
import Testing

@Suite("On-disk segment journal")
struct SegmentJournalTests {
    func directory() -> String { NSTemporaryDirectory() + "journal-\(UUID().uuidString.prefix(8))" }

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

    @Test func aTornTailIsCutOffAndACorruptRecordStopsReading() throws {
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
        #expect(try repaired.read(limit: 10).map { String(decoding: $0.payload, as: UTF8.self) } == ["one", "two"])
        try repaired.append(Array("three".utf8))
        #expect(try repaired.read(limit: 10).count == 3, "appends continue after the cut")
        // A flipped byte inside a record is reported, not skipped.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[13] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let damaged = try SegmentJournal(directory: dir)
        #expect(throws: SegmentJournal.Failure.self) { try damaged.read(limit: 10) }
    }

    @Test func crcMatchesTheStandardCheckValue() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
    }
}
