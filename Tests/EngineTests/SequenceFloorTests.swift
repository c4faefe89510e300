import Foundation
@testable import Engine
import Testing

@Suite("Durable sequence floor")
struct SequenceFloorTests {
    @Test func aMissingFloorIsZeroAndARaisedOneSurvivesReopen() throws {
        let dir = temporaryDirectory("floor")
        let floor = try SequenceFloor(directory: dir)
        #expect(floor.value == 0)
        try floor.raise(to: 1000)
        #expect(floor.value == 1000)
        #expect(try SequenceFloor(directory: dir).value == 1000)
    }

    @Test func theFloorNeverGoesDown() throws {
        let dir = temporaryDirectory("floor")
        let floor = try SequenceFloor(directory: dir)
        try floor.raise(to: 2000)
        try floor.raise(to: 1500)
        try floor.raise(to: 2000)
        #expect(floor.value == 2000)
        #expect(try SequenceFloor(directory: dir).value == 2000)
    }

    @Test func aFailedWriteLeavesTheOldValueInMemoryAndOnDisk() throws {
        let dir = temporaryDirectory("floor"), disk = FaultyDisk()
        let floor = try SequenceFloor(directory: dir, fileSystem: disk.fileSystem)
        try floor.raise(to: 1000)
        disk.set { $0.failingDatasyncs = 1 }
        #expect(failure { () throws(SegmentJournal.Failure) in try floor.raise(to: 2000) } != nil)
        #expect(floor.value == 1000)
        // On a full disk (no new file can be made) the floor still rises: it is rewritten in place.
        disk.set { $0 = FaultyDisk.Plan(renameError: ENOSPC, createError: ENOSPC) }
        try floor.raise(to: 3000)
        #expect(floor.value == 3000)
        disk.set { $0 = FaultyDisk.Plan() }
        #expect(try SequenceFloor(directory: dir).value == 3000)
    }

    @Test func aDamagedFloorFileIsRefusedRatherThanReadAsZero() throws {
        let dir = temporaryDirectory("floor")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Data("12x\n".utf8).write(to: URL(fileURLWithPath: dir + "/seq-floor"))
        #expect(throws: SegmentJournal.Failure.self) { try SequenceFloor(directory: dir) }
    }
}
