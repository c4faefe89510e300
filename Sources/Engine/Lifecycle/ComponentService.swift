import Foundation
public import Logging
public import ServiceLifecycle
import Synchronization

/// One component of the daemon that owns a thread or a socket, as a swift-service-lifecycle
/// `Service`: `start` (blocking, on a thread of its own, returning once the component runs or
/// throwing why it cannot), then the service waits for its graceful shutdown, then `stop`
/// (blocking: it returns once the component's threads ended and its sockets closed).
///
/// `ServiceGroup` starts its services concurrently and stops them in reverse order; the engine
/// needs them started in order too (the authentication handler before any socket binds, the event
/// writer before the desk hands it records, the intake last). So each service waits for the one
/// before it (`ServiceChain`): it starts only once that one is running, and never if that one
/// failed, or if the group is already shutting down. A service that never started returns when
/// its own shutdown comes, so the group's reverse-order shutdown stops exactly what started.
public struct ComponentService: Service {
    /// What the service runs: a component with blocking start and stop (threads and sockets of
    /// its own), or a service of Swift concurrency (Hummingbird's HTTP server) that says when it
    /// runs (its listener bound) and stops at this service's graceful shutdown.
    public enum Body: Sendable {
        case blocking(start: @Sendable () throws -> Void, stop: @Sendable () -> Void)
        /// `startFailure` names an error the service ended with before it ran (a bind refused:
        /// the configuration key). After it ran, its failure is logged and the rest of the
        /// daemon goes on (the metrics endpoint failing must not stop the trading).
        case service(@Sendable (_ running: @escaping @Sendable () -> Void) -> any Service,
                     startFailure: @Sendable (any Error) -> any Error)
    }

    public let name: String
    private let body: Body
    fileprivate let mayStart: StartSignal
    fileprivate var next: StartSignal?
    private let record: StartRecord
    private let logger: Logger

    fileprivate init(name: String, body: Body, mayStart: StartSignal, record: StartRecord, logger: Logger) {
        self.logger = logger
        self.name = name
        self.body = body
        self.mayStart = mayStart
        self.record = record
    }

    public func run() async throws {
        let mayStart = self.mayStart, record = self.record
        let go = await withTaskCancellationOrGracefulShutdownHandler {
            await mayStart.wait()
        } onCancelOrGracefulShutdown: {
            // Any service's stop means the group is stopping: nothing starts from now on.
            record.stopping()
            mayStart.resolve(false)
        }
        guard go, !record.isStopping else {
            next?.resolve(false)
            // Not started: wait for this service's own turn to stop (returning earlier would
            // count, to the group, as a service ending unexpectedly).
            try? await gracefulShutdown()
            return
        }
        switch body {
        case .blocking(let start, let stop):
            do {
                try await Self.onThread(name: "start-\(name)", start)
            } catch {
                throw failed(error)
            }
            running()
            // Until this service's shutdown, or the group's cancellation.
            await withTaskCancellationOrGracefulShutdownHandler {
                try? await gracefulShutdown()
            } onCancelOrGracefulShutdown: {
                record.stopping()
            }
            logger.debug("stopping", metadata: ["component": "\(name)"])
            try? await Self.onThread(name: "stop-\(name)") { stop() }
        case .service(let make, let startFailure):
            // The inner service runs in a child of this service's task, so this service's
            // graceful shutdown is its own (task-local); it ends once it has stopped.
            let listening = StartSignal()
            let inner = make { listening.resolve(true) }
            let outcome = ErrorBox()
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    defer { listening.resolve(false) }
                    do {
                        try await withTaskCancellationOrGracefulShutdownHandler {
                            try await inner.run()
                        } onCancelOrGracefulShutdown: {
                            record.stopping()
                        }
                    } catch {
                        outcome.error.withLock { $0 = error }
                    }
                }
                guard await listening.wait() else { return }
                running()
                await group.waitForAll()
            }
            let error = outcome.error.withLock { $0 }
            guard record.current.started.contains(name) else {
                // It ended before it ran: a stop or a cancellation meanwhile is no failure.
                if record.isStopping || Task.isCancelled {
                    next?.resolve(false)
                    try? await gracefulShutdown()
                    return
                }
                throw failed(startFailure(error ?? StartSignal.EndedBeforeRunning(service: name)))
            }
            if let error, !record.isStopping {
                // It failed while it ran: said, and the rest goes on; this service waits for its turn.
                logger.error("\(name) stopped: the engine goes on without it", metadata: ["error": "\(error)"])
                await withTaskCancellationOrGracefulShutdownHandler {
                    try? await gracefulShutdown()
                } onCancelOrGracefulShutdown: {
                    record.stopping()
                }
            }
            logger.debug("stopping", metadata: ["component": "\(name)"])
        }
        record.stopped(name)
    }

    /// How the inner service ended, from its task.
    private final class ErrorBox: Sendable {
        let error = Mutex<(any Error)?>(nil)
    }

    /// Records a start failure and tells the services after this one never to start.
    private func failed(_ error: any Error) -> any Error {
        record.failed(name, error)
        logger.notice("start failed: stopping what had started", metadata: [
            "failed": "\(name)", "components": "\(record.current.started.reversed().joined(separator: ","))"])
        next?.resolve(false)
        return error
    }

    private func running() {
        record.started(name)
        logger.debug("started", metadata: ["component": "\(name)"])
        next?.resolve(true)
    }

    /// Blocking work on a thread of its own, never on the cooperative pool Swift concurrency
    /// shares (a blocked pool thread would hold up every other service's wait).
    private static func onThread(name: String, _ body: @escaping @Sendable () throws -> Void) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let thread = Thread {
                ThreadName.setCurrent(name)
                do {
                    try body()
                    continuation.resume()
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            thread.name = name
            thread.start()
        }
    }
}

/// The components of one daemon, in start order, chained so each starts after the one before.
public final class ServiceChain: Sendable {
    private let services = Mutex<[ComponentService]>([])
    /// What started, failed and stopped, in order: the start-failure log line and the tests.
    public let record = StartRecord()
    private let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    /// Appends a component: it starts after every one appended before and stops before them.
    public func add(_ name: String, start: @escaping @Sendable () throws -> Void = {}, stop: @escaping @Sendable () -> Void) {
        add(name, .blocking(start: start, stop: stop))
    }

    /// Appends a service of Swift concurrency: `make` builds it with the callback it calls once
    /// it runs (an HTTP server: once it listens); it stops at its turn in the group's shutdown.
    public func add(_ name: String, service make: @escaping @Sendable (_ running: @escaping @Sendable () -> Void) -> any Service,
                    startFailure: @escaping @Sendable (any Error) -> any Error = { $0 }) {
        add(name, .service(make, startFailure: startFailure))
    }

    private func add(_ name: String, _ body: ComponentService.Body) {
        services.withLock { list in
            // The services handed to a group are copies: one added after would never be told it may start.
            precondition(!frozen.withLock { $0 }, "ServiceChain: \(name) added after the chain was handed to a group")
            let signal = StartSignal()
            if list.isEmpty { signal.resolve(true) }
            if !list.isEmpty { list[list.count - 1].next = signal }
            list.append(ComponentService(name: name, body: body, mayStart: signal, record: record, logger: logger))
        }
    }

    private let frozen = Mutex(false)

    /// The services in start order, for one `ServiceGroup`; nothing may be added after.
    public var all: [ComponentService] {
        frozen.withLock { $0 = true }
        return services.withLock { $0 }
    }
}

/// What the services of a chain did.
public final class StartRecord: Sendable {
    public struct State: Sendable {
        public var started: [String] = []
        public var stopped: [String] = []
        public var failure: (service: String, error: String)?
    }

    private let state = Mutex(State())
    public var current: State { state.withLock { $0 } }
    /// The first start failure's error, as thrown.
    private let firstError = Mutex<(any Error)?>(nil)
    public var startError: (any Error)? { firstError.withLock { $0 } }

    private let stopAsked = Atomic<Bool>(false)
    /// Whether any service's stop (or the group's cancellation) came: no service starts after.
    public var isStopping: Bool { stopAsked.load(ordering: .acquiring) }
    fileprivate func stopping() { stopAsked.store(true, ordering: .releasing) }

    fileprivate func started(_ name: String) { state.withLock { $0.started.append(name) } }
    fileprivate func stopped(_ name: String) { state.withLock { $0.stopped.append(name) } }
    fileprivate func failed(_ name: String, _ error: any Error) {
        state.withLock { if $0.failure == nil { $0.failure = (name, "\(error)") } }
        firstError.withLock { if $0 == nil { $0 = error } }
    }
}

/// A one-shot answer to "may this service start?" (or "does it run?"): the first `resolve` wins.
final class StartSignal: Sendable {
    struct EndedBeforeRunning: Error, CustomStringConvertible {
        let service: String
        var description: String { "\(service) ended before it ran" }
    }

    private enum State {
        case pending([CheckedContinuation<Bool, Never>])
        case resolved(Bool)
    }

    private let state = Mutex<State>(.pending([]))

    func resolve(_ value: Bool) {
        let waiting = state.withLock { state -> [CheckedContinuation<Bool, Never>] in
            guard case .pending(let list) = state else { return [] }
            state = .resolved(value)
            return list
        }
        for continuation in waiting { continuation.resume(returning: value) }
    }

    func wait() async -> Bool {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state -> Bool? in
                switch state {
                case .resolved(let value): return value
                case .pending(var list):
                    list.append(continuation)
                    state = .pending(list)
                    return nil
                }
            }
            if let now { continuation.resume(returning: now) }
        }
    }
}
