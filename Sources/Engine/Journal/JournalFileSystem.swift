import Glibc

/// The journal's only way to the disk: plain POSIX calls behind replaceable closures, so tests
/// can make a disk fill up half-way through a write, or an fsync fail, at a chosen moment (the
/// failures that corrupted journals in production are otherwise hard to reproduce).
///
/// Every call retries `EINTR` itself and reports any other failure as a ``SystemError`` with its
/// errno; short reads and writes are returned as they are, for the caller to loop on.
public struct JournalFileSystem: Sendable {
    public struct SystemError: Error, Sendable, Equatable, CustomStringConvertible {
        public var call: String
        public var code: Int32

        public init(_ call: String, _ code: Int32) {
            self.call = call
            self.code = code
        }

        /// The disk or the user's quota is full: waiting (or consuming) may help, unlike an I/O error.
        public var isOutOfSpace: Bool { code == ENOSPC || code == EDQUOT }

        public var description: String { "\(call): \(String(cString: strerror(code))) (errno \(code))" }
    }

    public var open: @Sendable (_ path: String, _ flags: Int32, _ mode: UInt32) throws(SystemError) -> Int32
    public var pwrite: @Sendable (_ fd: Int32, _ bytes: UnsafeRawBufferPointer, _ offset: Int64) throws(SystemError) -> Int
    public var pread: @Sendable (_ fd: Int32, _ into: UnsafeMutableRawBufferPointer, _ offset: Int64) throws(SystemError) -> Int
    public var fdatasync: @Sendable (_ fd: Int32) throws(SystemError) -> Void
    public var fsync: @Sendable (_ fd: Int32) throws(SystemError) -> Void
    public var ftruncate: @Sendable (_ fd: Int32, _ length: Int64) throws(SystemError) -> Void
    /// The file's size (`fstat`).
    public var size: @Sendable (_ fd: Int32) throws(SystemError) -> Int64
    /// Errors are ignored: by then the data was synced, and Linux frees the descriptor even when
    /// `close` fails (retrying could close someone else's).
    public var close: @Sendable (_ fd: Int32) -> Void
    public var rename: @Sendable (_ from: String, _ to: String) throws(SystemError) -> Void
    public var unlink: @Sendable (_ path: String) throws(SystemError) -> Void

    static func retrying<T: BinaryInteger>(_ call: @autoclosure () -> String, _ body: () -> T) throws(SystemError) -> T {
        while true {
            let result = body()
            if result >= 0 { return result }
            let code = errno
            if code != EINTR { throw SystemError(call(), code) }
        }
    }

    public static let posix = JournalFileSystem(
        open: { path, flags, mode throws(SystemError) in
            try retrying("open \(path)") { Glibc.open(path, flags, mode_t(mode)) }
        },
        pwrite: { fd, bytes, offset throws(SystemError) in
            try retrying("pwrite") { Glibc.pwrite(fd, bytes.baseAddress, bytes.count, off_t(offset)) }
        },
        pread: { fd, buffer, offset throws(SystemError) in
            try retrying("pread") { Glibc.pread(fd, buffer.baseAddress, buffer.count, off_t(offset)) }
        },
        fdatasync: { fd throws(SystemError) in _ = try retrying("fdatasync") { Glibc.fdatasync(fd) } },
        fsync: { fd throws(SystemError) in _ = try retrying("fsync") { Glibc.fsync(fd) } },
        ftruncate: { fd, length throws(SystemError) in _ = try retrying("ftruncate") { Glibc.ftruncate(fd, off_t(length)) } },
        size: { fd throws(SystemError) in
            var info = stat()
            _ = try retrying("fstat") { Glibc.fstat(fd, &info) }
            return Int64(info.st_size)
        },
        close: { fd in _ = Glibc.close(fd) },
        rename: { from, to throws(SystemError) in _ = try retrying("rename \(from)") { Glibc.rename(from, to) } },
        unlink: { path throws(SystemError) in _ = try retrying("unlink \(path)") { Glibc.unlink(path) } })
}

extension JournalFileSystem {
    /// Writes all of `bytes` at `offset`, continuing after short writes (a nearly full disk takes
    /// part of a write before it refuses the rest).
    func writeAll(_ fd: Int32, _ bytes: [UInt8], at offset: Int64) throws(SystemError) {
        var done = 0
        while done < bytes.count {
            // `withUnsafeBytes` only rethrows untyped errors, hence the Result.
            let n = try bytes.withUnsafeBytes { raw in
                Result { () throws(SystemError) in try pwrite(fd, UnsafeRawBufferPointer(rebasing: raw[done...]), offset + Int64(done)) }
            }.get()
            // No progress and no errno: give up rather than spin.
            guard n > 0 else { throw SystemError("pwrite wrote nothing", EIO) }
            done += n
        }
    }

    /// Up to `count` bytes at `offset`; fewer only where the file ends.
    func read(_ fd: Int32, count: Int, at offset: Int64) throws(SystemError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = try bytes.withUnsafeMutableBytes { raw in
                Result { () throws(SystemError) in try pread(fd, UnsafeMutableRawBufferPointer(rebasing: raw[done...]), offset + Int64(done)) }
            }.get()
            if n == 0 { break }
            done += n
        }
        if done < count { bytes.removeLast(count - done) }
        return bytes
    }

    /// Makes a created, renamed or removed name in `directory` durable.
    func syncDirectory(_ directory: String) throws(SystemError) {
        let fd = try open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)
        defer { close(fd) }
        try fsync(fd)
    }

    /// The whole of a small file, or nil when it does not exist.
    func contents(of path: String, limit: Int) throws(SystemError) -> [UInt8]? {
        let fd: Int32
        do throws(JournalFileSystem.SystemError) {
            fd = try open(path, O_RDONLY | O_CLOEXEC, 0)
        } catch where error.code == ENOENT {
            return nil
        }
        defer { close(fd) }
        return try read(fd, count: limit, at: 0)
    }

    /// Replaces `directory/name` so that after a crash it holds either the old contents or the
    /// new ones, never a mix: a synced temporary file renamed over it, then the directory synced.
    func replaceFile(in directory: String, named name: String, with contents: [UInt8]) throws(SystemError) {
        let target = directory + "/" + name, temporary = target + ".tmp"
        let fd = try open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        do throws(JournalFileSystem.SystemError) {
            try writeAll(fd, contents, at: 0)
            try fsync(fd)
        } catch {
            close(fd)
            try? unlink(temporary)
            throw error
        }
        close(fd)
        do throws(JournalFileSystem.SystemError) {
            try rename(temporary, target)
        } catch {
            try? unlink(temporary)
            throw error
        }
        try syncDirectory(directory)
    }
}

/// Reads frames from one segment file by offset (`pread`, header first), never the whole file.
struct FrameReader {
    enum Frame {
        case valid([UInt8], next: Int64)
        case bad(String)
    }

    let fs: JournalFileSystem
    let fd: Int32
    /// Where this segment's records end.
    let end: Int64
    let maxRecordBytes: Int

    func frame(at offset: Int64) throws(JournalFileSystem.SystemError) -> Frame {
        let headerBytes = SegmentJournal.headerBytes
        guard end - offset >= headerBytes else { return .bad("\(end - offset) bytes, too few for a frame") }
        let header = try fs.read(fd, count: Int(headerBytes), at: offset)
        guard header.count == headerBytes else { return .bad("the file ends inside a frame header") }
        guard header.prefix(4).elementsEqual(SegmentJournal.magic) else { return .bad("no frame marker") }
        func u32(_ at: Int) -> UInt32 { header[at..<at + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) } }
        let length = Int64(u32(4)), crc = u32(8)
        // Checked before anything is allocated: a damaged length could say 4 GiB.
        guard length <= maxRecordBytes else { return .bad("a length of \(length) bytes, over the \(maxRecordBytes)-byte limit") }
        let next = offset + headerBytes + length
        guard next <= end else { return .bad("a \(length)-byte record running past the end of the segment's records") }
        let payload = try fs.read(fd, count: Int(length), at: offset + headerBytes)
        guard payload.count == length else { return .bad("the file ends inside a record") }
        guard CRC32.checksum(payload) == crc else { return .bad("a checksum mismatch") }
        return .valid(payload, next: next)
    }

    /// The first offset after `offset` where a valid frame starts (marker, sane length, good
    /// checksum), or `end` if none does.
    func resynchronise(after offset: Int64) throws(JournalFileSystem.SystemError) -> Int64 {
        let chunk = 64 << 10, magic = SegmentJournal.magic
        var base = offset + 1
        while end - base >= SegmentJournal.headerBytes {
            // Three bytes of overlap, so a marker split across two chunks is still seen.
            let bytes = try fs.read(fd, count: Int(min(Int64(chunk + 3), end - base)), at: base)
            var i = 0
            while i + 4 <= bytes.count {
                if bytes[i] == magic[0] && bytes[i + 1] == magic[1] && bytes[i + 2] == magic[2] && bytes[i + 3] == magic[3],
                   case .valid = try frame(at: base + Int64(i)) {
                    return base + Int64(i)
                }
                i += 1
            }
            if bytes.count < chunk + 3 { break }
            base += Int64(chunk)
        }
        return end
    }
}
