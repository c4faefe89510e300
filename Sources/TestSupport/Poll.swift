/// Waiting for a condition in an `async` test without holding a thread of Swift concurrency's
/// pool: `make test` on a 2-core machine has two of them, and long end-to-end tests that waited
/// with `Thread.sleep` held both for minutes, so every async test (ServiceGroup's, the reload's)
/// stalled until its own deadline passed (seen at 76faf66+: a 180 s wait ran out).
public enum Poll {
    /// Polls `condition` every 100 ms until it holds or `seconds` pass; its last answer.
    public static func until(_ seconds: Double, _ condition: () throws -> Bool) async rethrows -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1_000))
        while ContinuousClock.now < deadline {
            if try condition() { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return try condition()
    }

    /// Sleeps `seconds` without holding a thread.
    public static func pause(_ seconds: Double) async {
        try? await Task.sleep(for: .milliseconds(Int(seconds * 1_000)))
    }
}
