import Dispatch
import Foundation
public import Logging
import Storage
public import Synchronization
import TradingCore
public import ZeroMQ

/// The replay endpoint (`bus.replay_bind`, a ROUTER): a subscriber that saw a gap in `seq` sends
/// `{"from_seq": A, "to_seq": B}` from a DEALER and receives every stored event in that range, in
/// order, as the same two frames the bus carried (topic, payload), then `replay.end` with what
/// the answer covered (docs/protocol.md). Up to ``ReplayRequest/maxEvents`` events per request,
/// read from the database a page at a time; served on a thread and connection of its own.
///
/// Every event is handed to libzmq with `ZMQ_ROUTER_MANDATORY`, so a full pipe is seen (EAGAIN)
/// and waited out instead of the event being dropped silently; a requester that stops reading
/// for ``stallMilliseconds`` is given up on, and the end message says where it stopped.
public final class ReplayServer: Sendable {
    public static var maxEvents: Int64 { ReplayRequest.maxEvents }
    /// Rows read per query (bounds the memory one request takes).
    static let pageSize = 500
    /// How long one event may wait for the requester to read before the answer is cut short.
    static let stallMilliseconds = 5_000

    private let endpoint: String
    private let context: ZMQContext
    private let connectionString: String
    private let logger: Logger
    private let security: SocketSecurity?
    private let service = ServiceThread()
    /// Requests answered, refused as malformed, and cut short by a requester that stopped reading.
    public let served = Atomic<Int>(0)
    public let refused = Atomic<Int>(0)
    public let stalled = Atomic<Int>(0)

    public init(endpoint: String, context: ZMQContext, connectionString: String, logger: Logger, security: SocketSecurity? = nil) {
        self.security = security
        self.endpoint = endpoint
        self.context = context
        self.connectionString = connectionString
        self.logger = logger
    }

    public func start() throws(ZMQError) {
        try service.start(name: "replay") { [self] ready in run(ready) }
    }

    public func stop() {
        service.stop()
    }

    private func run(_ ready: (ZMQError?) -> Void) {
        let socket: ZMQSocket
        do {
            socket = try ZMQSocket(context: context, type: .router, linger: 0)
            try socket.setRouterMandatory(true)
            // A replay request is a few small fields; anything larger is dropped by libzmq unread.
            try socket.setMaxMessageSize(4_096)
            try security?.applyServer(to: socket, as: .replay)
            try socket.bind(endpoint)
        } catch {
            ready(error)
            return
        }
        ready(nil)
        let store = BusEventStore(connectionString: connectionString)
        while !service.isStopping {
            guard service.waitForMessage(on: socket),
                  let message = try? socket.receiveMessage(dontWait: true, maxBytes: 4_096, maxFrames: 4) else { continue }
            let frames = message.frames
            if message.oversized, let identity = frames.first {
                refused.add(1, ordering: .relaxed)
                var error = JSONObjectWriter()
                error.add("error", "the request is larger than 4096 bytes or has too many frames")
                _ = try? socket.send([identity, Array("replay.error".utf8), error.bytes], dontWait: true)
                continue
            }
            guard frames.count >= 2 else { continue }
            // A REQ client adds an empty delimiter; answer in the same envelope.
            let envelope = frames[1].isEmpty && frames.count > 2 ? [frames[0], []] : [frames[0]]
            let answer = Answer(socket: socket, envelope: envelope, isStopping: { [service] in service.isStopping })
            switch ReplayRequest.parse(frames[frames.count - 1]) {
            case .failure(let problem):
                refused.add(1, ordering: .relaxed)
                var error = JSONObjectWriter()
                error.add("error", problem.message)
                _ = answer.send("replay.error", error.bytes)
            case .success(let request):
                serve(request, answer, store)
            }
        }
        store.close()
        socket.close()
    }

    private func serve(_ request: ReplayRequest, _ answer: Answer, _ store: BusEventStore) {
        let window = request.window
        // `next` is the first seq not yet covered; it may pass Int64.max only as "done".
        var next = window.lowerBound
        var done = false
        var count = 0
        var stoppedBy: String?
        pages: while !done {
            let events: [BusEventStore.Event]
            do {
                events = try store.events(from: next, to: window.upperBound, limit: Self.pageSize)
            } catch {
                logger.error("replay query failed", metadata: ["error": "\(error)"])
                stoppedBy = "database"
                break
            }
            for event in events {
                guard answer.send(event.topic, event.payload) else {
                    stoppedBy = "stalled"
                    break pages
                }
                count += 1
                if event.seq == window.upperBound { done = true } else { next = event.seq + 1 }
            }
            if events.count < Self.pageSize { done = true }
        }
        // Every stored event in from_seq...covered was sent.
        let covered = stoppedBy == nil ? window.upperBound : next - 1
        var end = JSONObjectWriter()
        end.add("from_seq", request.fromSeq)
        end.add("to_seq", covered)
        end.add("count", count)
        end.add("requested_to_seq", request.toSeq)
        // Only integers, and a key left out rather than null, so a client reading the end as a
        // map of numbers keeps working.
        if covered < request.toSeq { end.add("next_from_seq", covered + 1) }
        if stoppedBy == "database" {
            var error = JSONObjectWriter()
            error.add("error", "database unavailable, try again")
            error.add("next_from_seq", covered + 1)
            _ = answer.send("replay.error", error.bytes)
        }
        if stoppedBy == "stalled" {
            stalled.add(1, ordering: .relaxed)
            logger.warning("replay requester stopped reading; answer cut short", metadata: ["from_seq": "\(request.fromSeq)", "sent": "\(count)"])
        }
        _ = answer.send("replay.end", end.bytes)
        served.add(1, ordering: .relaxed)
    }

    /// Sends to one requester, waiting (bounded) while its pipe is full.
    struct Answer {
        let socket: ZMQSocket
        let envelope: [[UInt8]]
        let isStopping: () -> Bool

        func send(_ topic: String, _ payload: [UInt8]) -> Bool {
            let message = envelope + [Array(topic.utf8), payload]
            let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(ReplayServer.stallMilliseconds) * 1_000_000
            while true {
                do {
                    if try socket.send(message, dontWait: true) { return true }
                } catch {
                    return false  // EHOSTUNREACH: the requester is gone
                }
                if isStopping() || DispatchTime.now().uptimeNanoseconds > deadline { return false }
                _ = try? socket.poll(.writable, timeoutMilliseconds: 10)
            }
        }
    }
}
