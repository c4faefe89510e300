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
        /// A SIGHUP that came while no reload could run (during the start): run once one can.
        var reloadPending = false
    }

    private let state = Mutex(State())
    private let sources: Mutex<[any DispatchSourceSignal]>
    /// The signals that were ignored before (the others were at their default action).
    private let ignoredBefore: Set<Int32>
    private let taking: Bool
    private static let taken = [SIGTERM, SIGINT, SIGHUP, SIGPIPE]

    /// - Parameter takingSignals: false leaves the process's signals alone; stops and reloads are
    ///   then asked only through `requestStop` and `requestReload` (a test in a process whose
    ///   other tests own the signals).
    public init(takingSignals: Bool = true) {
        var ignored: Set<Int32> = []
        for sig in takingSignals ? Self.taken : [] {
            let previous = signal(sig, SIG_IGN)
            if unsafeBitCast(previous, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self) { ignored.insert(sig) }
        }
        ignoredBefore = ignored
        taking = takingSignals
        sources = Mutex([])
        // Made inside the lock, so the sources never leave it (they are not `Sendable`).
        sources.withLock { list in
            guard takingSignals else { return }
            for sig in [SIGTERM, SIGINT] {
                let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                source.setEventHandler { [weak self] in self?.requestStop() }
                source.resume()
                list.append(source)
            }
            let hangup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
            hangup.setEventHandler { [weak self] in self?.requestReload() }
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
        guard taking else { return }
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
    public func onStop(_ handler: @escaping @Sendable () -> Void) {
        let now = state.withLock { s -> Bool in
            s.onStop = handler
            return s.requested
        }
        if now { handler() }
    }

    /// Asks for a reload, as SIGHUP does. One asked before the strategies run is remembered and
    /// done once they do (failed in CI at 76faf66: rows added and a SIGHUP sent 0.5 s after the
    /// launch, while the start had already read the strategies, were never loaded); several asked
    /// then are one reload, as the start itself read the tables after the first of them.
    public func requestReload() {
        let handler = state.withLock { s -> (@Sendable () -> Void)? in
            if s.onReload == nil { s.reloadPending = true }
            return s.onReload
        }
        handler?()
    }

    /// What SIGHUP does from now on; nil: nothing (no reload may run once the strategies stop,
    /// and one asked after that is dropped, as it would mark them running again).
    public func onReload(_ handler: (@Sendable () -> Void)?) {
        let pending = state.withLock { s -> Bool in
            s.onReload = handler
            defer { s.reloadPending = false }
            return handler != nil && s.reloadPending
        }
        // Off the caller's queue, as a SIGHUP's runs: the start goes on while it reloads.
        if pending, let handler { DispatchQueue.global().async(execute: handler) }
    }
}
