import Crypto
import Foundation

/// A file read in 1 MiB chunks, for imports of any size in flat memory: its lines (without the
/// newline) with their 1-based numbers and how many bytes were read so far, and its SHA-256.
struct FileLines {
    let path: String
    static let chunk = 1 << 20

    init(_ path: String) throws {
        guard FileManager.default.isReadableFile(atPath: path), let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              (attributes[.type] as? FileAttributeType) != .typeDirectory else {
            throw Admin.fail("cannot read '\(path)'", status: ExitStatus.dataError)
        }
        self.path = path
    }

    var size: Int { ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0 }

    private func open() throws -> FileHandle {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw Admin.fail("cannot read '\(path)'", status: ExitStatus.dataError) }
        return handle
    }

    /// The file's SHA-256, lowercase hex.
    func sha256() throws -> String {
        let handle = try open()
        defer { try? handle.close() }
        var hash = SHA256()
        while let data = try handle.read(upToCount: Self.chunk), !data.isEmpty { hash.update(data: data) }
        return hash.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// A line that is not valid UTF-8 (a file in another encoding): its number.
    struct NotUTF8: Error { let line: Int }

    /// Calls `body` with each line (a trailing carriage return removed) until it returns false.
    func forEach(_ body: (_ line: Substring, _ number: Int, _ bytesRead: Int) throws -> Bool) throws {
        let handle = try open()
        defer { try? handle.close() }
        var pending: [UInt8] = []
        var number = 0
        var read = 0
        func emit(_ bytes: ArraySlice<UInt8>) throws -> Bool {
            number += 1
            // Replacing bad bytes with U+FFFD would store a symbol the file never had.
            guard let decoded = String(validating: bytes, as: UTF8.self) else { throw NotUTF8(line: number) }
            var text = Substring(decoded)
            if text.last == "\r" { text = text.dropLast() }
            return try body(text, number, read)
        }
        while let data = try handle.read(upToCount: Self.chunk), !data.isEmpty {
            read += data.count
            pending += data
            var start = pending.startIndex
            while let newline = pending[start...].firstIndex(of: 10) {
                guard try emit(pending[start..<newline]) else { return }
                start = newline + 1
            }
            pending.removeSubrange(..<start)
        }
        if !pending.isEmpty { _ = try emit(pending[...]) }
    }
}
