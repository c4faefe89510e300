import Foundation
import Synchronization

/// A durable number that only goes up, in `<directory>/seq-floor`: bus sequence numbers below it
/// may have been published, so none of them is handed out again after a restart, even when the
/// journal segments that held them were consumed, deleted or damaged. The event writer raises it
/// past a round's events before the round goes to the journal (one in-place write per journaled
/// round; rounds committed to PostgreSQL need none).
public final class SequenceFloor: Sendable {
    public let directory: String
    public let name: String
    private let slots: SlotFile
    private let current: Mutex<SlotFile.Value>

    public var path: String { directory + "/" + name }

    /// Reads the floor (0 when the file does not exist yet), making its slots if need be.
    public init(directory: String, name: String = "seq-floor", fileSystem: JournalFileSystem = .posix) throws(SegmentJournal.Failure) {
        self.directory = directory
        self.name = name
        self.slots = SlotFile(directory: directory, name: name, fs: fileSystem)
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw .io("cannot create \(directory): \(error)")
        }
        var value = SlotFile.Value(generation: 1, first: 0, second: 0)
        let contents: SlotFile.Contents
        do throws(JournalFileSystem.SystemError) { contents = try slots.read() } catch { throw SegmentJournal.Failure(error) }
        switch contents {
        case .value(let stored):
            value = stored
        case .missing:
            break
        case .other(let bytes):
            // An earlier version's text file (one number), written again as slots. Anything
            // else means a damaged disk: starting again from 0 would reuse sequence numbers,
            // so refuse instead.
            let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let number = Int64(text), number >= 0 else {
                throw .corrupt("\(directory)/\(name) holds \(text.debugDescription), not a floor")
            }
            value.first = number
        }
        if case .value = contents {} else {
            do throws(JournalFileSystem.SystemError) { try slots.create(value) } catch { throw SegmentJournal.Failure(error) }
        }
        current = Mutex(value)
    }

    public var value: Int64 { current.withLock { $0.first } }

    /// Makes the floor at least `floor`, durably before returning (in place: it works on a full
    /// disk); a failure leaves the old value.
    public func raise(to floor: Int64) throws(SegmentJournal.Failure) {
        try current.withLock { (value: inout SlotFile.Value) throws(SegmentJournal.Failure) in
            guard floor > value.first else { return }
            let next = SlotFile.Value(generation: value.generation + 1, first: floor, second: 0)
            do throws(JournalFileSystem.SystemError) {
                try slots.write(next)
            } catch {
                throw SegmentJournal.Failure(error)
            }
            value = next
        }
    }
}
