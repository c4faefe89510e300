import Dispatch
import Foundation
public import Logging
import Synchronization
public import TradingCore
public import ZeroMQ

/// One SUB socket for one market-data endpoint, on a thread of its own (libzmq sockets belong to
/// one thread). It decodes each message straight from libzmq's buffer, drops bad ones (counted
/// by reason and reported), drops resent `seq` values, and hands good ticks on in batches.
///
/// `ZMQ_MAXMSGSIZE` is deliberately left unlimited: on a SUB, one oversized message makes libzmq
/// drop the publisher's connection for good (ENGINEERING.md). Oversized payloads are read and
/// dropped here instead, costing one message, never the feed.
public final class FeedReceiver: Sendable {
    public enum Mode: Sendable { case connect, bind }

    public let endpoint: String
    public let mode: Mode
    private let context: ZMQContext
    private let decoder: TickDecoder
    private let receiveHighWaterMark: Int32
    private let queue: TickQueue
    private let sequences: SequenceBook
    private let counters: IngestCounters
    private let reporter: IncidentReporter
    private let clock: any WallClock
    private let logger: Logger
    /// Everyone else who wants the accepted ticks, in batches (the strategy pipeline, the order desk).
    private let consumers: [@Sendable ([Tick]) -> Void]
    private let stopping = Atomic<Bool>(false)
    /// Wakes the thread from its wait for a message when it is told to stop: idle, it sleeps
    /// until a message or the stop (it woke every 50 ms before, to look at the stop flag).
    private let wake = WakePipe()
    private let finished = DispatchSemaphore(value: 0)
    private let started = DispatchSemaphore(value: 0)
    private let startError = Mutex<ZMQError?>(nil)

    /// Ticks handed to the queue per batch at most.
    static let batchLimit = 1024

    /// CURVE: a bound socket is a server, a connected one a client of a CURVE publisher.
    private let security: SocketSecurity?
    /// Closed while what the engine accepts could not be made durable: then nothing is read.
    private let gate: IntakeGate?
    /// Gaps in `seq` first seen within this long after the engine stopped reading are counted
    /// as overload (the publisher dropped what it could not send).
    static let overloadWindowNanoseconds: UInt64 = 10_000_000_000

    public init(
        endpoint: String, mode: Mode, context: ZMQContext, decoder: TickDecoder, receiveHighWaterMark: Int,
        queue: TickQueue, sequences: SequenceBook, counters: IngestCounters, reporter: IncidentReporter,
        clock: any WallClock, logger: Logger, consumers: [@Sendable ([Tick]) -> Void] = [], security: SocketSecurity? = nil,
        gate: IntakeGate? = nil
    ) {
        self.gate = gate
        self.consumers = consumers
        self.security = security
        self.endpoint = endpoint
        self.mode = mode
        self.context = context
        self.decoder = decoder
        self.receiveHighWaterMark = Int32(clamping: receiveHighWaterMark)
        self.queue = queue
        self.sequences = sequences
        self.counters = counters
        self.reporter = reporter
        self.clock = clock
        self.logger = logger
    }

    /// Starts the thread; returns once the socket is connected or bound, or throws why not.
    public func start() throws(ZMQError) {
        let thread = Thread { [self] in
            ThreadName.setCurrent("feed " + String(endpoint.suffix(10)))  // the end names it: the port or the file
            self.run()
            self.finished.signal()
        }
        thread.name = "feed \(endpoint)"
        thread.start()
        started.wait()
        if let error = startError.withLock({ $0 }) {
            finished.wait()
            throw error
        }
    }

    /// Stops intake: the thread hands on what it already decoded, closes its socket and ends.
    public func stop() {
        stopping.store(true, ordering: .releasing)
        wake.signal()
    }

    /// Waits until the thread has ended.
    public func join() {
        finished.wait()
        finished.signal()  // let later joins return at once
    }

    private func run() {
        let socket: ZMQSocket
        do {
            socket = try ZMQSocket(context: context, type: .sub, linger: 0)
            try socket.setReceiveHighWaterMark(receiveHighWaterMark)
            try socket.setReconnectInterval(milliseconds: 100, max: 5_000)
            // TCP keepalive finds a silently dead publisher connection, so it is re-established
            // (within about 20 s). Not ZMTP heartbeats: libzmq 4.3.4 aborts the process
            // ("Assertion failed: !_io_error", stream_engine_base.cpp:331; libzmq #3937, #4841)
            // when a peer goes while a heartbeating connection's input is stopped at its
            // high-water mark, which is exactly where the engine's overload policy puts it.
            try socket.setTCPKeepalive(idleSeconds: 5, intervalSeconds: 5, probes: 3)
            try socket.subscribe("tick.")
            switch mode {
            case .connect:
                try security?.applyMarketDataClient(to: socket)
                try socket.connect(endpoint)
            case .bind:
                try security?.applyServer(to: socket, as: .marketData)
                try socket.bind(endpoint)
            }
        } catch {
            startError.withLock { $0 = error }
            started.signal()
            return
        }
        started.signal()
        logger.info("market data socket ready", metadata: ["endpoint": "\(endpoint)", "mode": "\(mode)"])

        var batch: [Tick] = []
        batch.reserveCapacity(Self.batchLimit)
        var message = MessageState()
        let strings = TickStringCache()  // this thread's own
        while !stopping.load(ordering: .acquiring) {
            if let gate, !gate.isOpen {
                flush(&batch)
                Thread.sleep(forTimeInterval: 0.02)
                continue
            }
            do {
                // Idle (nothing decoded waiting to be handed on), the wait lasts until a message
                // or the stop; with a partial batch it only looks, and hands the batch on if
                // nothing more is there. Without a wake pipe (none could be made): 50 ms.
                let woke = try ZMQSocket.poll([(socket, .readable)], fileDescriptors: [wake.readEnd],
                                              timeoutMilliseconds: !batch.isEmpty ? 0 : wake.readEnd >= 0 ? -1 : 50)
                if woke.fileDescriptors.first?.contains(.readable) == true { wake.drain() }
                if woke.sockets.first?.contains(.readable) != true {
                    flush(&batch)
                    continue
                }
                let now = clock.now()
                var taken = 0
                while taken < Self.batchLimit {
                    message.reset()
                    let got = try socket.receive(dontWait: true) { index, bytes in
                        message.frame(index: index, bytes: bytes, decoder: decoder, now: now, cache: strings)
                    }
                    guard got else { break }
                    taken += 1
                    handle(&message, into: &batch)
                }
                if batch.count >= Self.batchLimit || taken < Self.batchLimit { flush(&batch) }
            } catch {
                if error.isContextTerminated { break }
                logger.error("market data receive failed", metadata: ["endpoint": "\(endpoint)", "error": "\(error)"])
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        flush(&batch)
        socket.close()
        logger.info("market data socket closed", metadata: ["endpoint": "\(endpoint)"])
    }

    /// Whether the engine stopped reading (a full queue or a closed gate) within the window.
    private func recentlyOverloaded() -> Bool {
        let now = monotonicNanoseconds()
        if queue.waitingPushes.load(ordering: .relaxed) > 0 || gate?.isOpen == false { return true }
        for end in [queue.lastBackpressureEnd.load(ordering: .relaxed), gate?.lastOpened.load(ordering: .relaxed) ?? 0]
        where end > 0 && now &- end < Self.overloadWindowNanoseconds {
            return true
        }
        return false
    }

    private func flush(_ batch: inout [Tick]) {
        guard !batch.isEmpty else { return }
        counters.accepted.add(batch.count, ordering: .relaxed)
        // A copy of exactly the batch's size goes on: the working array keeps room for
        // `batchLimit` ticks, and handed on as it is, every small batch (a poll that found a few
        // ticks) would pin that whole buffer while it waits; under a backlog that made queued
        // ticks cost 3-4 times what the queue's memory bound counts. The working buffer, then
        // referenced once, is reused.
        let exact = batch.withUnsafeBufferPointer { Array($0) }
        for consumer in consumers { consumer(exact) }
        queue.push(exact)
        batch.removeAll(keepingCapacity: true)
    }

    private func handle(_ message: inout MessageState, into batch: inout [Tick]) {
        counters.received.add(1, ordering: .relaxed)
        let result: Result<Tick, TickDecodeError>
        if message.frames != 2 {
            result = .failure(TickDecodeError(.badFrames))
        } else if !message.topicOK {
            result = .failure(TickDecodeError(.badTopic))
        } else {
            result = message.result
        }
        switch result {
        case .failure(let error):
            counters.countBad(error.reason)
            reporter.recordBad(error, endpoint: endpoint, payloadPrefix: message.samplePrefix, now: monotonicNanoseconds())
        case .success(var tick):
            if let sequence = tick.sequence {
                // A sequenced stream without `src` is the endpoint's (CONTRACT.md section 1); stored
                // so, a restart can find the stream's last seq among the stored ticks.
                if tick.source == nil { tick.source = endpoint }
                let source = tick.source ?? endpoint
                let session = tick.session ?? ""
                let verdict = sequences.observe(source: source, session: session, sequence: sequence)
                switch verdict {
                case .duplicate:
                    counters.duplicates.add(1, ordering: .relaxed)
                    return
                case .gap(let from, let to):
                    let missing = Int(clamping: to - from + 1)
                    counters.gaps.add(1, ordering: .relaxed)
                    counters.missingSequenceNumbers.add(missing, ordering: .relaxed)
                    if recentlyOverloaded() { counters.overloadMissing.add(missing, ordering: .relaxed) }
                    reporter.recordGap(source: source, session: session, from: from, to: to, now: monotonicNanoseconds())
                case .inOrder:
                    break
                }
            }
            batch.append(tick)
        }
    }
}

/// What is known about the message being received, frame by frame.
struct MessageState {
    var frames = 0
    var topicOK = false
    var result: Result<Tick, TickDecodeError> = .failure(TickDecodeError(.badFrames))
    var samplePrefix: [UInt8] = []

    mutating func reset() {
        frames = 0
        topicOK = false
        samplePrefix.removeAll(keepingCapacity: true)
    }

    mutating func frame(index: Int, bytes: UnsafeRawBufferPointer, decoder: TickDecoder, now: Timestamp, cache: TickStringCache) {
        frames += 1
        switch index {
        case 0:
            topicOK = bytes.count > 5 && bytes.starts(with: "tick.".utf8)
            if !topicOK { samplePrefix = Array(bytes.prefix(120)) }
        case 1:
            do throws(TickDecodeError) {
                result = .success(try decoder.decode(bytes, now: now, cache: cache))
            } catch {
                result = .failure(error)
                samplePrefix = Array(bytes.prefix(120))
            }
        default:
            break
        }
    }
}
