import Foundation
import Storage
import TradingCore

/// The control socket's list commands (`strategies`, `positions`, `orders`, `fills`,
/// `pnl.daily`, `equity`), as `ctl` and the web API page through them (docs/web.md). Each user's
/// rows are read as that user under row-level security; an admin's `all_users` is one read per
/// user, merged here, so no query ever runs with every user's rows in reach.
extension ControlServer {
    /// Fields of numbers and booleans in the lists' rows; every other field is text or null.
    private static let numberFields: Set<String> = [
        "quantity", "filled_quantity", "price", "trigger_price", "stoploss", "target", "average_price", "charges", "fill_quantity",
        "fill_price", "realized_pnl", "gross_pnl", "net_pnl", "trades", "winning_trades", "losing_trades", "max_drawdown",
        "current_price", "unrealized_pnl",
    ]
    private static let boolFields: Set<String> = ["is_active", "is_running"]

    /// The list commands' names.
    static let listCommands: Set<String> = ["strategies", "positions", "orders", "fills", "pnl.daily", "equity"]

    func list(_ command: String, _ request: ControlRequest, caller: Caller, users: [String], _ db: DatabaseConnection) throws -> JSONObjectWriter {
        if command == "equity" { return try equity(request, users: users, db) }
        let filter = try Self.filter(request, dates: command == "pnl.daily", statuses: command == "orders")
        let read: (String) throws -> [AccountHistory.Row] = { user in
            switch command {
            case "strategies": try AccountHistory.strategies(db, userID: user, filter)
            case "positions": try AccountHistory.positions(db, userID: user, filter)
            case "orders": try AccountHistory.orders(db, userID: user, filter)
            case "fills": try AccountHistory.fills(db, userID: user, filter)
            default: try AccountHistory.days(db, userID: user, filter)
            }
        }
        // Each user's page is newest first; the merged page is the newest `limit` of them all.
        var rows = try users.flatMap(read)
        if users.count > 1 {
            rows.sort { ($0.cursor.time, $0.cursor.id) > ($1.cursor.time, $1.cursor.id) }
            rows = Array(rows.prefix(filter.limit))
        }
        var answer = JSONObjectWriter()
        answer.add(command == "pnl.daily" ? "days" : command, objects: rows.map(Self.object))
        return answer
    }

    /// A row as the API writes it: numbers as JSON numbers, flags as booleans, `parameters` as
    /// its JSON object, and `cursor` for the next page's `before`.
    static func object(_ row: AccountHistory.Row) -> JSONObjectWriter {
        var w = JSONObjectWriter()
        for (name, text) in row.fields {
            if numberFields.contains(name) {
                w.add(name, value: text.flatMap { WideDecimal($0) != nil || Int64($0) != nil ? JSONValue.number($0) : nil } ?? .null)
            } else if boolFields.contains(name) {
                w.add(name, text == "true" || text == "t")
            } else if name == "parameters" {
                w.add(name, value: (try? JSONValue.parse(Array((text ?? "{}").utf8))) ?? .object([]))
            } else {
                w.add(name, text)
            }
        }
        // The desk's own name for a strategy's type, kept for `ctl` and scripts written before.
        if let type = row["strategy_type"] { w.add("type", type) }
        w.add("cursor", row.cursor.time + "~" + row.cursor.id)
        return w
    }

    static let orderStatuses: Set<String> = ["PENDING", "OPEN", "PARTIALLY_FILLED", "FILLED", "CANCELLED", "REJECTED"]

    /// `strategy_id`, `status`, `from`, `to`, `before` and `limit`, each checked (a bad one is
    /// refused, never passed to SQL to fail there).
    static func filter(_ request: ControlRequest, dates: Bool, statuses: Bool) throws -> AccountHistory.Filter {
        var f = AccountHistory.Filter()
        f.strategyID = try request.uuid("strategy_id")
        if statuses, let status = try request.string("status", max: 32) {
            guard orderStatuses.contains(status) else {
                throw ControlRefusal("'status' must be one of \(orderStatuses.sorted().joined(separator: ", "))")
            }
            f.status = status
        }
        let moment = dates ? date : time
        f.from = try request.string("from", max: 40).map { try moment("from", $0) }
        f.to = try request.string("to", max: 40).map { try moment("to", $0) }
        f.limit = Int(try request.integer("limit", in: 1...1_000) ?? 100)
        if let before = try request.string("before", max: 80) {
            let parts = before.split(separator: "~", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2, let id = UUID(uuidString: parts[1]) else {
                throw ControlRefusal("'before' must be the 'cursor' of a listed item")
            }
            f.before = AccountHistory.Cursor(time: try moment("before", parts[0]), id: id.uuidString.lowercased())
        }
        return f
    }

    /// An RFC 3339 time, written back in UTC with microseconds.
    static func time(_ key: String, _ text: String) throws -> String {
        guard let stamp = Timestamp.parseRFC3339(text), text.utf8.count <= 40 else {
            throw ControlRefusal("'\(key)' must be an RFC 3339 time (2026-12-08T09:15:00+05:30)")
        }
        var out: [UInt8] = []
        stamp.appendRFC3339(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// A `YYYY-MM-DD` date that exists.
    static func date(_ key: String, _ text: String) throws -> String {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let y = Int64(parts[0]), let m = Int64(parts[1]), let d = Int64(parts[2]), (1900...9999).contains(y), (1...12).contains(m),
              d >= 1, d <= CivilCalendar.daysInMonth(year: y, month: m) else {
            throw ControlRefusal("'\(key)' must be a date, YYYY-MM-DD")
        }
        return text
    }

    /// `equity`: the net P&L (realized less charges) summed over the executions from `from`
    /// (default: the start of today in IST) to `to`, one point per execution.
    private func equity(_ request: ControlRequest, users: [String], _ db: DatabaseConnection) throws -> JSONObjectWriter {
        let strategyID = try request.uuid("strategy_id")
        let istOffset: Int64 = 19_800
        let nowSeconds = Int64(Date().timeIntervalSince1970)
        let todayIST = Timestamp(secondsSinceEpoch: ((nowSeconds + istOffset) / 86_400) * 86_400 - istOffset)
        let from = try request.string("from", max: 40).map { try Self.time("from", $0) } ?? {
            var out: [UInt8] = []
            todayIST.appendRFC3339(to: &out)
            return String(decoding: out, as: UTF8.self)
        }()
        let to = try request.string("to", max: 40).map { try Self.time("to", $0) }
        let limit = Int(try request.integer("limit", in: 1...100_000) ?? 10_000)
        var changes = try users.flatMap { user in
            try AccountHistory.equityChanges(db, userID: user, strategyID: strategyID, from: from, to: to, limit: limit)
        }
        if users.count > 1 { changes.sort { $0.time < $1.time } }
        var total = WideDecimal.zero
        var points: [JSONObjectWriter] = []
        for change in changes.prefix(limit) {
            total = WideDecimal(units: total.units + (WideDecimal(change.change)?.units ?? 0))
            var p = JSONObjectWriter()
            p.add("ts", change.time)
            p.add("equity", total)
            p.add("change", WideDecimal(change.change))
            points.append(p)
        }
        var answer = JSONObjectWriter()
        answer.add("from", from)
        answer.add("strategy_id", strategyID)
        answer.add("points", objects: points)
        return answer
    }
}
