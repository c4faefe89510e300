import Foundation
import Synchronization

/// A durable number that only goes up, in `<directory>/seq-floor`: bus sequence numbers below it
/// may have been published, so none of them is handed out again after a restart, even when the
/// journal segments that held them were consumed and deleted. The event writer reserves blocks
/// (raising the floor well ahead of the next seq) so that a write is needed only once per block.
public final class SequenceFloor: Sendable {
    public let directory: String
    public let name: String
    private let fs: JournalFileSystem
    private let current: Mutex<Int64>

    public var path: String { directory + "/" + name }

    /// Reads the floor (0 when the file does not exist yet).
    public init(directory: String, name: String = "seq-floor", fileSystem: JournalFileSystem = .posix) throws(SegmentJournal.Failure) {
        self.directory = directory
        self.name = name
        self.fs = fileSystem
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw .io("cannot create \(directory): \(error)")
        }
        let path = directory + "/" + name
        let contents: [UInt8]?
        do throws(JournalFileSystem.SystemError) {
            contents = try fileSystem.contents(of: path, limit: 64)
        } catch {
            throw SegmentJournal.Failure(error)
        }
        guard let contents else {
            current = Mutex(0)
            return
        }
        // The file is only ever replaced whole, so anything unreadable means a damaged disk;
        // starting again from 0 would reuse sequence numbers, so refuse instead.
        let text = String(decoding: contents, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let value = Int64(text), value >= 0 else { throw .corrupt("\(path) holds \(text.debugDescription), not a number") }
        current = Mutex(value)
    }

    public var value: Int64 { current.withLock { $0 } }

    /// Makes the floor at least `floor`, durably before returning; a failure leaves the old value.
    public func raise(to floor: Int64) throws(SegmentJournal.Failure) {
        try current.withLock { (value: inout Int64) throws(SegmentJournal.Failure) in
            guard floor > value else { return }
            do throws(JournalFileSystem.SystemError) {
                try fs.replaceFile(in: directory, named: name, with: Array("\(floor)\n".utf8))
            } catch {
                throw SegmentJournal.Failure(error)
            }
            value = floor
        }
    }
}
