import Dispatch
import Foundation
import Glibc
import Synchronization
import TradingCore
import ZeroMQ

/// A user's strategy process driven in lock step by a replay (`algotrader replay --run`): the
/// replay starts COMMAND with a clean environment (only `PATH`, `HOME`, `LANG` and the SDK's
/// three variables: an endpoint of its own in a private folder, so it never meets a running
/// `serve`, the strategy's id, and a one-off secret), welcomes it as the strategy socket does
/// (with `"lockstep": true`), then hands it one event at a time, each carrying a `step`, and
/// waits for `done` with that step. What the process asked for meanwhile is returned with the
/// answer, so its orders are applied at the event it answered. No clock is involved anywhere:
/// the run is a function of the ticks and of the process's answers.
final class LockStepProcess {
    struct Failure: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    /// How long a process may take to say hello, and then to answer one event. Not a pacing:
    /// only a bound on a process that hangs.
    static let helloTimeoutSeconds = 60.0
    static let answerTimeoutSeconds = 120.0

    /// The program being driven, for SIGINT/SIGTERM of the replay (``interruptOnSignals``): the
    /// replay is one process with at most one program at a time.
    private static let running = Mutex<pid_t?>(nil)
    private static let interrupted = Atomic<Int32>(0)
    private static let signalSources = Mutex<[any DispatchSourceSignal]>([])

    /// Makes SIGINT and SIGTERM of the replay end the program (its whole process group: `/bin/sh`
    /// and what it started) instead of the replay alone, so the replay sees it exit, marks its
    /// run failed and cleans up; a second signal is left to the default (ends the replay).
    static func interruptOnSignals() {
        signalSources.withLock { sources in
            guard sources.isEmpty else { return }
            for number in [SIGINT, SIGTERM] {
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler {
                    interrupted.store(number, ordering: .relaxed)
                    signal(number, SIG_DFL)
                    if let pid = running.withLock({ $0 }) { signalGroup(pid, SIGTERM) }
                }
                source.resume()
                sources.append(source)
            }
        }
    }

    /// Foundation's Process makes the child the leader of a process group of its own: signalling
    /// the group reaches a program the shell did not `exec` too.
    private static func signalGroup(_ pid: pid_t, _ number: Int32) {
        if kill(-pid, number) != 0 { kill(pid, number) }
    }

    private let process = Process()
    private let context: ZMQContext
    private let socket: ZMQSocket
    private let directory: String
    private var peer: [UInt8]?
    private var step: Int64 = 0
    let entry: StrategyServer.Entry

    init(command: String, entry: StrategyServer.Entry) throws {
        self.entry = entry
        var template = Array((NSTemporaryDirectory() + "algotrader-lockstep-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw Failure(message: "cannot make a folder for the process's endpoint: errno \(errno)") }
        directory = String(cString: made)
        let endpoint = "ipc://\(directory)/strategy.ipc"
        do {
            context = try ZMQContext()
            socket = try ZMQSocket(context: context, type: .router, linger: 0)
            try socket.setRouterMandatory(true)
            try socket.setMaxMessageSize(Int64(StrategyServer.maxMessageBytes))
            try socket.bind(endpoint)
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw Failure(message: "cannot bind the process's endpoint \(endpoint): \(error)")
        }
        let token = StrategyServer.issueToken()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        var environment: [String: String] = [:]
        let inherited = ProcessInfo.processInfo.environment
        for name in ["PATH", "HOME", "LANG"] { environment[name] = inherited[name] }
        environment["ALGOTRADER_STRATEGY_ENDPOINT"] = endpoint
        environment["ALGOTRADER_STRATEGY"] = entry.identity.strategyID
        environment["ALGOTRADER_STRATEGY_TOKEN"] = token.token
        process.environment = environment
        // The replay's report is its stdout: what the process prints goes to stderr.
        process.standardOutput = FileHandle.standardError
        process.standardError = FileHandle.standardError
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            end(force: true)
            throw Failure(message: "cannot start '\(command)': \(error)")
        }
        let pid = process.processIdentifier
        Self.running.withLock { $0 = pid }
        do {
            try awaitHello(tokenHash: token.hash)
        } catch {
            end(force: true)
            throw error
        }
    }

    deinit { end(force: true) }

    private func awaitHello(tokenHash: String) throws {
        let deadline = Date().addingTimeInterval(Self.helloTimeoutSeconds)
        while Date() < deadline {
            guard let (identity, request) = try next(timeoutMilliseconds: 100) else { continue }
            guard case .success(.hello(let name, let token)) = request else {
                refuse(identity, "say hello first (with your strategy and its token)")
                continue
            }
            guard name == entry.identity.strategyID || name == entry.identity.name,
                  ControlServer.constantTimeEqual(Array(StrategyServer.tokenHash(token).utf8), Array(tokenHash.utf8)) else {
                refuse(identity, "unknown strategy, or a wrong token")
                continue
            }
            peer = identity
            send("welcome", StrategySessions.welcome(entry, positions: [:], heartbeatIntervalMilliseconds: 0,
                                                     heartbeatTimeoutMilliseconds: 0, lockStep: true))
            return
        }
        throw Failure(message: "the strategy process did not say hello within \(Int(Self.helloTimeoutSeconds)) s")
    }

    /// Hands the process one event and waits for its `done`; returns what it asked for meanwhile
    /// (orders, modifies, cancels, log lines), in the order it asked, and the requests it
    /// got wrong (each already answered with an `error`).
    func deliver(_ topic: String, _ payload: [UInt8]) throws -> [StrategyRequest] {
        step += 1
        let current = step
        send(topic, StrategySessions.extended(payload) { $0.add("step", current) })
        var asked: [StrategyRequest] = []
        let deadline = Date().addingTimeInterval(Self.answerTimeoutSeconds)
        while Date() < deadline {
            guard let (identity, parsed) = try next(timeoutMilliseconds: 100) else { continue }
            guard identity == peer else {
                refuse(identity, "this replay is driving another process")
                continue
            }
            switch parsed {
            case .failure(let problem):
                refuse(identity, problem.message, clientOrderID: problem.clientOrderID)
            case .success(.done(let answered)):
                if answered == current { return asked }
                refuse(identity, "done for step \(answered), but the event waiting for an answer is step \(current)")
            case .success(.heartbeat), .success(.hello):
                continue
            case .success(let request):
                asked.append(request)
            }
        }
        throw Failure(message: "the strategy process did not answer step \(current) (a \(topic)) within \(Int(Self.answerTimeoutSeconds)) s")
    }

    /// A message that waits for no answer (`position`, `error`).
    func tell(_ topic: String, _ payload: [UInt8]) { send(topic, payload) }

    func refuse(_ message: String, clientOrderID: String?) {
        guard let peer else { return }
        refuse(peer, message, clientOrderID: clientOrderID)
    }

    /// Tells the process the replay is over and waits for it to end (SIGTERM after 10 s, SIGKILL
    /// after 5 more); returns its exit status.
    @discardableResult
    func finish() -> Int32? {
        send("stop", Array(JSONObjectWriter.object { $0.add("reason", "the replay is over") }.utf8))
        return end(force: false)
    }

    // MARK: - Inside

    private func next(timeoutMilliseconds: Int) throws -> ([UInt8], Result<StrategyRequest, StrategyRequest.Problem>)? {
        let ready = try? socket.poll(.readable, timeoutMilliseconds: timeoutMilliseconds)
        guard ready?.contains(.readable) == true,
              let message = try? socket.receiveMessage(dontWait: true, maxBytes: StrategyServer.maxMessageBytes + 256, maxFrames: 3) else {
            if !process.isRunning {
                let signalled = Self.interrupted.load(ordering: .relaxed)
                if signalled != 0 { throw Failure(message: "interrupted (signal \(signalled)): the strategy process was ended") }
                throw Failure(message: "the strategy process exited (status \(process.terminationStatus)) while the replay waited for it")
            }
            return nil
        }
        return StrategySessions.read(message)
    }

    private func refuse(_ identity: [UInt8], _ message: String, clientOrderID: String? = nil) {
        var w = JSONObjectWriter()
        w.add("error", message)
        if let clientOrderID { w.add("client_order_id", clientOrderID) }
        _ = try? socket.send([identity, Array("error".utf8), w.bytes], dontWait: true)
    }

    private func send(_ topic: String, _ payload: [UInt8]) {
        guard let peer else { return }
        _ = try? socket.send([peer, Array(topic.utf8), payload], dontWait: false)
    }

    private var ended = false
    private var started: Bool { process.processIdentifier != 0 }

    @discardableResult
    private func end(force: Bool) -> Int32? {
        guard !ended else { return started && !process.isRunning ? process.terminationStatus : nil }
        ended = true
        if started {
            let graces: [(Double, Int32)] = force ? [(0, SIGTERM), (5, SIGKILL)] : [(10, SIGTERM), (5, SIGKILL)]
            for (seconds, signal) in graces {
                let deadline = Date().addingTimeInterval(seconds)
                while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
                if process.isRunning { Self.signalGroup(process.processIdentifier, signal) }
            }
            process.waitUntilExit()
            // What the program left behind in its group (a child the shell started) goes too. The
            // group alone: the leader is reaped, so its pid could now be another process's, but
            // a group id is not reused while the group has members.
            kill(-process.processIdentifier, SIGKILL)
            Self.running.withLock { $0 = nil }
        }
        cleanUp()
        return started && process.terminationReason == .exit ? process.terminationStatus : nil
    }

    private func cleanUp() {
        socket.close()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
