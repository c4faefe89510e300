import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A TCP port on 127.0.0.1 for a test's own listener (a daemon's metrics or control socket, a
/// scratch PostgreSQL).
public enum LocalPort {
    /// A port above Linux's ephemeral range (32768-60999 by default) that nothing listens on
    /// now. A port inside that range can be held by any outgoing connection or its TIME_WAIT
    /// (the tests make thousands, to PostgreSQL alone), and a daemon told to bind it then exits
    /// at start: a full run failed that way once with a metrics port in 41000-50000.
    public static func unused() -> Int {
        for _ in 0..<50 {
            let port = 61_000 + Int.random(in: 0..<4_500)
            if canBind(port) { return port }
        }
        return 61_000 + Int.random(in: 0..<4_500)
    }

    /// Whether a listener could bind the port now (with SO_REUSEADDR, as the daemon's do).
    static func canBind(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}

/// A TCP listener on 127.0.0.1 that holds its port until released (a test's "port in use").
public final class PortHolder {
    public let port: Int
    private let fd: Int32

    public init() throws {
        port = LocalPort.unused()
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard fd >= 0, bound == 0, listen(fd, 4) == 0 else {
            if fd >= 0 { close(fd) }
            throw POSIXError(.EADDRINUSE)
        }
    }

    deinit { close(fd) }
}
