public import Logging
import Synchronization

/// What `serve` started, stopped in one order whether it ends on SIGTERM or because a later
/// start failed. Before, the stops were a hand-written list at the end of `serve`, and a start
/// that failed halfway (a metrics port already taken, say) exited with the threads already
/// running: the intake, the event writer and the sockets were never stopped.
///
/// Each component registers its stop right after it started, under the stage it belongs to;
/// `stopAll` runs them by stage (the data's direction: intake first, so nothing new comes in,
/// then what consumes it), each once.
public final class StopSequence: Sendable {
    /// The order of stopping.
    public enum Stage: Int, Sendable, Comparable, CaseIterable {
        /// The feed's intake: no tick is accepted after this.
        case intake
        /// Operators' commands: none reaches the desk after the event writer stopped (it would
        /// be applied in memory and never stored).
        case control
        case strategies
        case halts
        /// The order desk drains what it holds into the event writer.
        case desk
        case eventWriter
        case gateway
        case replay
        case authentication
        case maintenance
        case metrics

        public static func < (a: Stage, b: Stage) -> Bool { a.rawValue < b.rawValue }
    }

    private struct Entry {
        let stage: Stage
        let name: String
        let stop: @Sendable () -> Void
    }

    private let entries = Mutex<[Entry]>([])

    public init() {}

    /// Registers a started component's stop.
    public func add(_ stage: Stage, _ name: String, _ stop: @escaping @Sendable () -> Void) {
        entries.withLock { $0.append(Entry(stage: stage, name: name, stop: stop)) }
    }

    /// The names registered, in the order `stopAll` would stop them.
    public var order: [String] { entries.withLock { Self.sorted($0).map(\.name) } }

    /// Stops everything registered, by stage (within a stage, the last started first), but the
    /// stages the caller already stopped itself; a second call does nothing.
    public func stopAll(logger: Logger? = nil, skipping stopped: Set<Stage> = []) {
        let taken = entries.withLock { list -> [Entry] in
            defer { list = [] }
            return Self.sorted(list)
        }
        for entry in taken where !stopped.contains(entry.stage) {
            logger?.debug("stopping", metadata: ["component": "\(entry.name)"])
            entry.stop()
        }
    }

    private static func sorted(_ list: [Entry]) -> [Entry] {
        list.enumerated().sorted { a, b in
            a.element.stage != b.element.stage ? a.element.stage < b.element.stage : a.offset > b.offset
        }.map(\.element)
    }
}
