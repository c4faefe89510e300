import Dispatch
import Foundation
public import Logging
import Postgres
import Storage
import Synchronization
public import ZeroMQ

/// The replay endpoint (`bus.replay_bind`, a ROUTER): a subscriber that saw a gap in `seq` sends
/// `{"from_seq": A, "to_seq": B}` from a DEALER and receives every stored event in that range, in
/// order, as the same two frames the bus carried (topic, payload), then
/// `replay.end` + `{"from_seq":A,"to_seq":B,"count":N}`. At most 10,000 events per request.
/// Served from `bus_events`, on a thread and connection of its own (docs/protocol.md).
public final class ReplayServer: Sendable {
    public static let maxEvents: Int64 = 10_000
    private let endpoint: String
    private let context: ZMQContext
    private let connectionString: String
    private let logger: Logger

    private let security: SocketSecurity?
    private let service = ServiceThread()

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
            try security?.applyServer(to: socket)
            try socket.bind(endpoint)
        } catch {
            ready(error)
            return
        }
        ready(nil)
        let db = LazyConnection(connectionString: connectionString)
        while !service.isStopping {
            guard let ready = try? socket.poll(.readable, timeoutMilliseconds: 100), ready.contains(.readable),
                  let frames = try? socket.receive(dontWait: true), frames.count >= 2 else { continue }
            // A REQ client adds an empty delimiter; answer in the same envelope.
            let envelope = frames[1].isEmpty ? [frames[0], []] : [frames[0]]
            let body = frames.last!
            func send(_ topic: String, _ payload: String) {
                _ = try? socket.send(envelope + [Array(topic.utf8), Array(payload.utf8)])
            }
            guard let request = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
                  let from = (request["from_seq"] as? NSNumber)?.int64Value, let to = (request["to_seq"] as? NSNumber)?.int64Value,
                  from >= 1, to >= from else {
                send("replay.error", #"{"error":"expected {\"from_seq\": A, \"to_seq\": B} with 1 <= A <= B"}"#)
                continue
            }
            let last = min(to, from + Self.maxEvents - 1)
            do {
                let rows = try db.get().query(
                    "SELECT topic, payload FROM bus_events WHERE seq BETWEEN $1::bigint AND $2::bigint ORDER BY seq",
                    [String(from), String(last)]).rows
                for row in rows { send(row[0] ?? "", row[1] ?? "") }
                send("replay.end", "{\"from_seq\":\(from),\"to_seq\":\(last),\"count\":\(rows.count)}")
            } catch {
                db.close()
                logger.error("replay query failed", metadata: ["error": "\(error)"])
                send("replay.error", #"{"error":"database unavailable, try again"}"#)
            }
        }
        db.close()
        socket.close()
    }
}
