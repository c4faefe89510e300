import Dispatch
import Foundation
public import Synchronization

/// A ZAP handler (RFC 27, ZeroMQ Authentication Protocol) for one context: admits a CURVE client
/// to a socket only if its public key is listed for that socket's ZAP domain (an unknown domain
/// admits no one). Without a handler a CURVE server admits any client that knows its public key;
/// with this one, every connection to a socket that has a ZAP domain is asked about here first.
/// The admitted key is the connection's `User-Id`, so a server can tell which client sent what.
/// Runs on a thread of its own with a REP socket at `inproc://zeromq.zap.01`.
public final class ZAPHandler: Sendable {
    public static let endpoint = "inproc://zeromq.zap.01"
    private let context: ZMQContext
    private let allowed: [String: Set<String>]
    private let stopping = Atomic<Bool>(false)
    private let started = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let startError = Mutex<ZMQError?>(nil)
    /// Connections refused / admitted so far.
    public let refused = Atomic<Int>(0)
    public let admitted = Atomic<Int>(0)

    /// `allowedByDomain`: ZAP domain -> Z85 public keys (40 characters each) admitted to its sockets.
    public init(context: ZMQContext, allowedByDomain: [String: Set<String>]) {
        self.context = context
        self.allowed = allowedByDomain
    }

    /// Binds the handler; do this before any socket with a ZAP domain accepts connections.
    public func start() throws(ZMQError) {
        let thread = Thread { [self] in
            run()
            finished.signal()
        }
        thread.name = "zap"
        thread.start()
        started.wait()
        if let error = startError.withLock({ $0 }) { throw error }
    }

    public func stop() {
        stopping.store(true, ordering: .releasing)
        finished.wait()
        finished.signal()
    }

    private func run() {
        let socket: ZMQSocket
        do {
            socket = try ZMQSocket(context: context, type: .rep, linger: 0)
            try socket.bind(Self.endpoint)
        } catch {
            startError.withLock { $0 = error }
            started.signal()
            return
        }
        started.signal()
        while !stopping.load(ordering: .acquiring) {
            guard let ready = try? socket.poll(.readable, timeoutMilliseconds: 100), ready.contains(.readable),
                  let frames = try? socket.receive(dontWait: true) else { continue }
            // version, request id, domain, address, routing id, mechanism, credentials...
            guard frames.count >= 6 else { continue }
            let requestID = frames[1]
            let domain = String(decoding: frames[2], as: UTF8.self)
            let mechanism = String(decoding: frames[5], as: UTF8.self)
            var status = "400", text = "not allowed", user = ""
            if mechanism == "CURVE", frames.count >= 7, let key = CurveKeyPair.z85(frames[6]), allowed[domain]?.contains(key) == true {
                status = "200"
                text = "OK"
                user = key
                admitted.add(1, ordering: .relaxed)
            } else {
                refused.add(1, ordering: .relaxed)
            }
            _ = try? socket.send([Array("1.0".utf8), requestID, Array(status.utf8), Array(text.utf8), Array(user.utf8), []])
        }
        socket.close()
    }
}
