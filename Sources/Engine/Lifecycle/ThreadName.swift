#if canImport(Glibc)
import Glibc
#endif

/// Names the calling thread as the kernel shows it (`top -H`, `/proc/PID/task/TID/comm`, at
/// most 15 bytes). Foundation's `Thread.name` set before `start()` does not reach the kernel on
/// Linux, so every thread showed as `...r-initiated-qos`: each of the engine's threads calls
/// this first. Written to `/proc/thread-self/comm` (what `pthread_setname_np` does for the
/// calling thread; that function and `prctl`, variadic, are not callable from Swift here).
enum ThreadName {
    static func setCurrent(_ name: String) {
        #if canImport(Glibc)
        let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let bytes = Array(name.utf8.prefix(15))
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        #endif
    }
}
