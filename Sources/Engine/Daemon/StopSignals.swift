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
    /// The signals that were ignored before (the others were at their default action).
    private let ignoredBefore: Set<Int32>
    private static let taken = [SIGTERM, SIGINT, SIGHUP, SIGPIPE]

    public init() {
        var ignored: Set<Int32> = []
        for sig in Self.taken {
            let previous = signal(sig, SIG_IGN)
            if unsafeBitCast(previous, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self) { ignored.insert(sig) }
        }
        ignoredBefore = ignored
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

    /// Gives the signals back: the sources end and each signal's action is what it was before.
    /// A process that goes on after its daemon (a test that ran one in process) needs this, as
    /// the processes it starts later inherit ignored signals (a helper it then stops with SIGTERM
    /// would ignore it). `serve` exits instead.
    public func release() {
        sources.withLock { list in
            for source in list { source.cancel() }
            list = []
        }
        for sig in Self.taken { signal(sig, ignoredBefore.contains(sig) ? SIG_IGN : SIG_DFL) }
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
