import Dispatch
import Foundation
import Synchronization
import ZeroMQ

/// The thread of a socket service (replay, gateway, control): `start` returns once the service's
/// setup (creating and binding its socket) succeeded, or throws its error; the loop runs until
/// `stop`, which waits for it to end.
final class ServiceThread: Sendable {
    private let stopFlag = Atomic<Bool>(false)
    private let started = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let startError = Mutex<ZMQError?>(nil)
    /// Wakes the loop from its wait for a message when it is told to stop.
    private let wake = WakePipe()

    /// Whether `stop` was called; the loop checks it between polls.
    var isStopping: Bool { stopFlag.load(ordering: .acquiring) }

    /// Runs `body` on a thread named `name`. `body` calls `ready(nil)` once set up, or
    /// `ready(error)` and returns, exactly once.
    func start(name: String, _ body: @escaping @Sendable (_ ready: (ZMQError?) -> Void) -> Void) throws(ZMQError) {
        let thread = Thread { [self] in
            ThreadName.setCurrent(name)
            body { error in
                startError.withLock { $0 = error }
                started.signal()
            }
            finished.signal()
        }
        thread.name = name
        thread.start()
        started.wait()
        if let error = startError.withLock({ $0 }) { throw error }
    }

    /// Tells the loop to stop without waiting for it (a service then wakes its thread).
    func stopping() {
        stopFlag.store(true, ordering: .releasing)
        wake.signal()
    }

    func stop() {
        stopFlag.store(true, ordering: .releasing)
        wake.signal()
        finished.wait()
        finished.signal()  // later stops return at once
    }

    /// Waits until `socket` has a message (true) or the service is told to stop (false): a
    /// blocking wait, not a poll with a timeout (the loops woke 10 times a second idle before).
    func waitForMessage(on socket: ZMQSocket) -> Bool {
        guard !isStopping else { return false }
        do {
            let woke = try ZMQSocket.poll([(socket, .readable)], fileDescriptors: [wake.readEnd],
                                          timeoutMilliseconds: wake.readEnd >= 0 ? -1 : 100)
            if woke.fileDescriptors.first?.contains(.readable) == true { wake.drain() }
            return woke.sockets.first?.contains(.readable) == true
        } catch {
            Thread.sleep(forTimeInterval: 0.05)  // a failing poll must not spin
            return false
        }
    }
}
