import Foundation
public import Logging
public import ServiceLifecycle
import Synchronization
public import ZeroMQ

/// The engine's event bus (`bus.bind`) relayed to the web's WebSocket streams: one SUB socket on a
/// thread of its own (the socket never leaves it), each event handed to the streams whose caller
/// may see it by its topic (`fill.<user_id>.<strategy_id>`, `order.<user_id>.<strategy_id>`): a
/// user's streams get that user's events, an admin's every event. A stream that reads too slowly
/// loses its oldest events beyond `bufferedEvents`, never the others'.
public final class BusRelay: Service, Sendable {
    static let bufferedEvents = 1_000

    private struct Subscriber {
        /// nil: an admin's, every event.
        let userID: String?
        let continuation: AsyncStream<[UInt8]>.Continuation
    }

    private let context: ZMQContext
    private let endpoint: String
    private let logger: Logger
    private let subscribers = Mutex<[UUID: Subscriber]>([:])
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    public init(context: ZMQContext, endpoint: String, logger: Logger) {
        self.context = context
        self.endpoint = endpoint
        self.logger = logger
    }

    /// Events for `userID` (nil: all) until `unsubscribe`.
    func subscribe(userID: String?) -> (UUID, AsyncStream<[UInt8]>) {
        let id = UUID()
        let (stream, continuation) = AsyncStream<[UInt8]>.makeStream(bufferingPolicy: .bufferingNewest(Self.bufferedEvents))
        subscribers.withLock { $0[id] = Subscriber(userID: userID, continuation: continuation) }
        return (id, stream)
    }

    func unsubscribe(_ id: UUID) {
        subscribers.withLock { $0.removeValue(forKey: id) }?.continuation.finish()
    }

    /// The relay as a service: its thread runs until the group shuts down.
    public func run() async throws {
        let thread = Thread { [self] in
            relay()
            finished.signal()
        }
        thread.name = "web-bus"
        thread.start()
        try? await gracefulShutdown()
        stopping.store(true, ordering: .releasing)
        await withCheckedContinuation { done in DispatchQueue.global().async { [finished] in finished.wait(); done.resume() } }
        for subscriber in subscribers.withLock({ $0.values }) { subscriber.continuation.finish() }
    }

    private func relay() {
        let socket: ZMQSocket
        do {
            socket = try ZMQSocket(context: context, type: .sub, linger: 0)
            try socket.subscribe("fill.")
            try socket.subscribe("order.")
            try socket.connect(endpoint)
        } catch {
            logger.error("the event bus cannot be reached: streams get no events", metadata: ["bus": "\(endpoint)", "error": "\(error)"])
            return
        }
        defer { socket.close() }
        while !stopping.load(ordering: .acquiring) {
            // A short poll: stopping is noticed within 200 ms, and an idle bus costs 5 wake-ups a second.
            guard (try? socket.poll(.readable, timeoutMilliseconds: 200).contains(.readable)) == true else { continue }
            while let frames = try? socket.receive(dontWait: true), frames.count == 2 {
                deliver(topic: frames[0], payload: frames[1])
            }
        }
    }

    private func deliver(topic: [UInt8], payload: [UInt8]) {
        // fill.<user_id>.<strategy_id>: the second part names the user.
        let parts = topic.split(separator: UInt8(ascii: "."), maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else { return }
        let user = String(decoding: parts[1], as: UTF8.self)
        subscribers.withLock { all in
            for subscriber in all.values where subscriber.userID == nil || subscriber.userID == user {
                subscriber.continuation.yield(payload)
            }
        }
    }
}
