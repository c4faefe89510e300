import Dispatch

/// A value touched only on one serial queue, asserted there at every access
/// (`dispatchPrecondition`) and changed in place (`_modify`: no copy of a large value, such as
/// the desk's tables, per mutation). The order desk's state and each strategy shard's keep
/// theirs in it; their `@unchecked Sendable` rests on this assertion.
@propertyWrapper
struct QueueConfined<Value> {
    private let queue: DispatchQueue
    private var value: Value

    init(wrappedValue: Value, queue: DispatchQueue) {
        self.queue = queue
        self.value = wrappedValue
    }

    var wrappedValue: Value {
        get {
            dispatchPrecondition(condition: .onQueue(queue))
            return value
        }
        _modify {
            dispatchPrecondition(condition: .onQueue(queue))
            yield &value
        }
    }
}
