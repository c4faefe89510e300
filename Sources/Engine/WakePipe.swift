#if canImport(Glibc)
import Glibc
#endif

/// Wakes a thread that waits in `zmq_poll` when another thread hands it work: one byte into a
/// non-blocking pipe whose read end the thread polls beside its socket. Before, the gateway's
/// thread polled with a 1 ms timeout to look at its outbox, waking a thousand times a second
/// with nothing to do.
final class WakePipe: Sendable {
    /// The end the waiting thread polls.
    let readEnd: Int32
    private let writeEnd: Int32

    init() {
        var fds: [Int32] = [-1, -1]
        // A pipe that cannot be made leaves both ends -1: `signal` and `drain` then do nothing
        // and the waiting thread falls back on its poll timeout.
        if pipe(&fds) == 0 {
            for fd in fds {
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            }
        }
        readEnd = fds[0]
        writeEnd = fds[1]
    }

    deinit {
        if readEnd >= 0 { close(readEnd) }
        if writeEnd >= 0 { close(writeEnd) }
    }

    /// Wakes the waiting thread (from any thread). A full pipe already holds a wake-up.
    func signal() {
        guard writeEnd >= 0 else { return }
        var byte: UInt8 = 1
        _ = write(writeEnd, &byte, 1)
    }

    /// Empties the pipe (on the waiting thread, after it woke).
    func drain() {
        guard readEnd >= 0 else { return }
        var buffer = [UInt8](repeating: 0, count: 256)
        while read(readEnd, &buffer, buffer.count) > 0 {}
    }
}
