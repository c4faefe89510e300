/// The orders still working and what was asked of them: the one owner of an order's state
/// until it is terminal (then its last record is the truth, in `trades` and on the bus). Live
/// orders a cancel or a smaller size was asked for stay here until their gateway reports it;
/// a bracket's two children are linked one-cancels-other.
struct OrderBook: Sendable {
    private(set) var working: [String: DeskOrder] = [:]
    /// Live orders a cancel was asked for.
    var cancelRequested: Set<String> = []
    /// Live bracket orders a smaller size was asked for, and that size.
    var modifyRequested: [String: Int64] = [:]
    /// One-cancels-other: a bracket child's order id -> its sibling's.
    private var ocoSibling: [String: String] = [:]

    subscript(orderID: String) -> DeskOrder? { working[orderID] }

    /// Keeps an order working with its new state, or lets it go once terminal.
    mutating func update(_ order: DeskOrder) {
        if order.state.status.isTerminal { remove(order.orderID) } else { working[order.orderID] = order }
    }

    mutating func remove(_ orderID: String) {
        working[orderID] = nil
        cancelRequested.remove(orderID)
        modifyRequested[orderID] = nil
    }

    /// Working orders in a stable order (by order id), optionally only some.
    func sorted(where include: (DeskOrder) -> Bool = { _ in true }) -> [DeskOrder] {
        working.values.filter(include).sorted { $0.orderID < $1.orderID }
    }

    mutating func linkOneCancelsOther(_ a: String, _ b: String) {
        ocoSibling[a] = b
        ocoSibling[b] = a
    }

    /// Ends an order's one-cancels-other link; its sibling, if it had one.
    mutating func unlinkOneCancelsOther(_ orderID: String) -> String? {
        guard let sibling = ocoSibling.removeValue(forKey: orderID) else { return nil }
        ocoSibling[sibling] = nil
        return sibling
    }
}
