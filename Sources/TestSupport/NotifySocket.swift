import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The receiving end of systemd's notification socket (`NOTIFY_SOCKET`), so a test sees the
/// daemon's own `READY=1` rather than guessing readiness from a file appearing.
public final class NotifySocket {
    public let path: String
    private let fd: Int32
    private var received = ""

    public struct Failed: Error, CustomStringConvertible {
        public let description: String
    }

    public init() throws {
        path = NSTemporaryDirectory() + "notify-\(UUID().uuidString.prefix(8)).sock"
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw Failed(description: "socket: errno \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in path.utf8.enumerated() where i < raw.count - 1 { raw[i] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else {
            close(fd)
            throw Failed(description: "bind \(path): errno \(errno)")
        }
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// Waits up to `seconds` for a datagram holding the line `line` (e.g. "READY=1").
    public func wait(for line: String, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            if received.split(separator: "\n").contains(Substring(line)) { return true }
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return false }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, Int32(min(left, 0.5) * 1000) + 1) > 0 else { continue }
            let count = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if count > 0 { received += String(decoding: buffer.prefix(count), as: UTF8.self) + "\n" }
        }
    }
}
