import Dispatch
import Engine
import Foundation
import Synchronization
import Testing
import TradingCore

final class SharedCounter: Sendable {
    let value = Atomic<Int>(0)
    func add() { value.add(1, ordering: .relaxed) }
    var current: Int { value.load(ordering: .relaxed) }
}

@Suite("Bounded tick queue")
struct TickQueueTests {
    static func ticks(_ n: Int) -> [Tick] {
        (0..<n).map { Tick(symbol: "S\($0)", exchange: "NSE", timestamp: Timestamp(nanosecondsSinceEpoch: 0), price: FixedDecimal(1)) }
    }

    @Test func theMemoryBoundCountsWhatABatchHoldsNotOnlyItsTicks() {
        // Found by bench row 5: receivers handed on small batches in buffers made for 1,024
        // ticks; counted by their ticks, a queue "at 256 MiB" held over 900 MiB.
        let queue = TickQueue(capacity: 1_000_000, maxBytes: 1 << 20)
        var roomy: [Tick] = []
        roomy.reserveCapacity(10_000)
        roomy.append(contentsOf: Self.ticks(1))
        #expect(queue.push(roomy))
        #expect(queue.bytes >= 10_000 * MemoryLayout<Tick>.stride - MemoryLayout<Tick>.stride, "the whole buffer is counted")
        let exact = Self.ticks(2)
        #expect(queue.bytes + exact.reduce(0) { $0 + $1.estimatedMemory } > queue.maxBytes, "so the next batch must wait")
        queue.close()
    }

    @Test func closeWakesEveryBlockedConsumerAtOnce() {
        // Regression: close() woke one of several waiting writers; the rest slept out their
        // whole timeout (60 s in the test that found it).
        let queue = TickQueue(capacity: 100)
        let returned = SharedCounter()
        let group = DispatchGroup()
        for _ in 0..<4 {
            group.enter()
            Thread {
                _ = queue.take(max: 10, timeoutNanoseconds: 60_000_000_000)
                returned.add()
                group.leave()
            }.start()
        }
        Thread.sleep(forTimeInterval: 0.1)
        queue.close()
        #expect(group.wait(timeout: .now() + 5) == .success)
        #expect(returned.current == 4)
    }

    @Test func takesWholeBatchesUpToTheLimitAndDrainsAfterClose() {
        let queue = TickQueue(capacity: 100)
        #expect(queue.push(Self.ticks(3)))
        #expect(queue.push(Self.ticks(4)))
        #expect(queue.take(max: 5, timeoutNanoseconds: 0).count == 3, "a batch is never split")
        queue.close()
        #expect(!queue.push(Self.ticks(1)), "closed queues refuse pushes")
        #expect(queue.take(max: 100, timeoutNanoseconds: 0).count == 4)
        #expect(queue.take(max: 100, timeoutNanoseconds: 0).isEmpty)
        #expect(queue.isClosedAndEmpty)
    }

    @Test func fullQueueMakesThePusherWaitForSpace() {
        let queue = TickQueue(capacity: 10)
        #expect(queue.push(Self.ticks(10)))
        let pushed = SharedCounter()
        Thread {
            queue.push(Self.ticks(5))
            pushed.add()
        }.start()
        Thread.sleep(forTimeInterval: 0.1)
        #expect(pushed.current == 0, "no room: the pusher waits")
        #expect(queue.take(max: 10, timeoutNanoseconds: 0).count == 10)
        let deadline = Date().addingTimeInterval(5)
        while pushed.current == 0 && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        #expect(pushed.current == 1)
        #expect(queue.count == 5)
    }
}
