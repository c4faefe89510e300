import Dispatch
import Foundation
import Synchronization

/// SIGTERM and SIGINT ask the daemon to stop; SIGHUP asks it to reload. Taken from the first
/// moment (`serve` makes this before it connects), by dispatch sources, never by the default
/// handlers, which would kill the process with ticks in memory: a stop asked during the start is
/// remembered and honoured as soon as the services run.
public final class StopSignals: Sendable {
    private struct State {
        var requested = false
        var onStop: (@Sendable () -> Void)?
        var onReload: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())
    private let sources: Mutex<[any DispatchSourceSignal]>

    public init() {
        for sig in [SIGTERM, SIGINT, SIGHUP, SIGPIPE] { signal(sig, SIG_IGN) }
        sources = Mutex([])
        // Made inside the lock, so the sources never leave it (they are not `Sendable`).
        sources.withLock { list in
            for sig in [SIGTERM, SIGINT] {
                let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                source.setEventHandler { [weak self] in self?.requestStop() }
                source.resume()
                list.append(source)
            }
            let hangup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
            hangup.setEventHandler { [weak self] in self?.state.withLock { $0.onReload }?() }
            hangup.resume()
            list.append(hangup)
        }
    }

    /// Whether a stop was asked.
    public var stopRequested: Bool { state.withLock { $0.requested } }

    /// Asks for a stop, as SIGTERM does.
    public func requestStop() {
        let handler = state.withLock { s -> (@Sendable () -> Void)? in
            defer { s.requested = true }
            return s.requested ? nil : s.onStop
        }
        handler?()
    }

    /// Runs `handler` on the first stop request (at once if one came already).
    func onStop(_ handler: @escaping @Sendable () -> Void) {
        let now = state.withLock { s -> Bool in
            s.onStop = handler
            return s.requested
        }
        if now { handler() }
    }

    /// What SIGHUP does from now on; nil: nothing (no reload may run once the strategies stop).
    func onReload(_ handler: (@Sendable () -> Void)?) {
        state.withLock { $0.onReload = handler }
    }
}
