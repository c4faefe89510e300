import Foundation
import Storage
import TradingCore

/// The control socket's commands once the caller's token is checked (docs/security.md). A
/// non-admin naming another user, strategy or order gets the same answer as for one that does not
/// exist, so nothing tells a caller which names or ids exist beyond their own.
extension ControlServer {
    func handle(_ command: String, _ request: ControlRequest, caller: Caller, token: String, peer: Peer,
                _ db: DatabaseConnection) throws -> JSONObjectWriter {
        let actor = "ctl:\(caller.username)"
        /// The user a command acts on: the caller, or for an admin the `user` it names.
        func target() throws -> String {
            guard let named = try request.string("user", max: 64), !named.isEmpty else { return caller.userID }
            let id = try AccountViews.userID(db, named: named)
            guard let id, id == caller.userID || caller.isAdmin else {
                throw ControlRefusal(caller.isAdmin ? "no user '\(named)'" : "no user '\(named)' you may act on", .notFound)
            }
            return id
        }
        func requireActor() throws {
            guard caller.canAct else {
                throw ControlRefusal("refused: an investor account is read-only ('\(command)' changes trading)", .forbidden)
            }
        }
        /// The strategy a request names and its owner, if the caller may act for them: by
        /// `strategy_id` (a UUID), or by `strategy`, a name among the caller's own strategies (an
        /// admin's: anyone's), so a name never reveals another user's strategy to a trader.
        func namedStrategy() throws -> (id: String, owner: String) {
            if request.has("strategy") {
                guard !request.has("strategy_id") else { throw ControlRefusal("give 'strategy_id' or 'strategy', not both") }
                let name = try request.requiredString("strategy", max: 100)
                let found = try AccountViews.strategies(db, named: name, owner: caller.isAdmin ? nil : caller.userID)
                guard let first = found.first else { throw ControlRefusal("no strategy '\(name)' of yours", .notFound) }
                guard found.count == 1 else {
                    throw ControlRefusal("strategy name '\(name)' is ambiguous: use its id (\(found.map(\.id).joined(separator: ", ")))")
                }
                return first
            }
            let strategyID = try request.requiredUUID("strategy_id")
            guard let owner = try AccountViews.strategyOwner(db, strategyID: strategyID), owner == caller.userID || caller.isAdmin else { throw ControlRefusal("no strategy '\(strategyID)' of yours", .notFound) }
            return (strategyID, owner)
        }
        var answer = JSONObjectWriter()
        switch command {
        case "logout":
            try SessionStore.close(db, tokenHash: Self.hash(token))
            try AuditLog.record(db, actor: actor, actorUserID: caller.userID, action: .logout, targetUserID: caller.userID, peer: peer.label)
            answer.add("logged_out", true)
        case "status":
            answer = try status(caller, db)
        case "strategy.start", "strategy.stop":
            try requireActor()
            let (strategyID, owner) = try namedStrategy()
            let start = command == "strategy.start"
            try AccountViews.setStrategyActive(db, strategyID: strategyID, owner: owner, active: start) { conn in
                try AuditLog.record(conn, actor: actor, actorUserID: caller.userID, action: start ? .strategyStarted : .strategyStopped,
                                    targetUserID: owner, target: strategyID, peer: peer.label)
            }
            hooks.reloadStrategies()
            answer.add("strategy_id", strategyID)
            answer.add("is_active", start)
        case _ where Self.listCommands.contains(command):
            // The users whose rows the list holds: the caller's, a named user's (an admin's or
            // the caller's own), or with `all_users` every user's for an admin.
            let users: [String]
            if request.has("user") {
                users = [try target()]
            } else if try request.bool("all_users") == true, caller.isAdmin {
                users = try AccountHistory.userIDs(db)
            } else {
                users = [caller.userID]
            }
            answer = try list(command, request, caller: caller, users: users, db)
        case "order.cancel":
            try requireActor()
            let orderID = try request.requiredString("order_id", max: 64).lowercased()
            let visible = try AccountViews.orderVisible(db, orderID: orderID, to: caller.isAdmin ? nil : caller.userID)
            let owner = try AccountViews.orderOwner(db, orderID: orderID)
            guard visible, let owner else { throw ControlRefusal("no order '\(orderID)' of yours", .notFound) }
            hooks.desk?.cancel(orderID: orderID, reason: "cancelled by \(caller.username)", now: SystemClock().now())
            try AuditLog.record(db, actor: actor, actorUserID: caller.userID, action: .orderCancelled, targetUserID: owner, target: orderID,
                                peer: peer.label)
            answer.add("order_id", orderID)
            answer.add("cancel", "requested")
        case "halt", "resume":
            let halting = command == "halt"
            if halting { try requireActor() } else if !caller.isAdmin { throw ControlRefusal("only an admin resumes trading after a halt", .forbidden) }
            // Exactly one scope, each typed: `"engine": "true"` is refused, never a halt of the caller.
            let engine = try request.bool("engine") ?? false
            let named = request.has("strategy_id") || request.has("strategy")
            let scopes = (named ? 1 : 0) + (engine ? 1 : 0) + (request.has("user") ? 1 : 0)
            guard scopes <= 1 else { throw ControlRefusal("name one scope: 'user', 'strategy_id' or \"engine\": true") }
            let scope: OperatorHalts.Scope
            if named {
                let (strategyID, owner) = try namedStrategy()
                scope = .strategy(id: strategyID, userID: owner)
            } else if engine {
                guard caller.isAdmin else { throw ControlRefusal("only an admin \(halting ? "halts" : "resumes") the whole engine", .forbidden) }
                scope = .engine
            } else {
                scope = .user(try target())
            }
            if halting {
                let reason = try request.string("reason", max: 500) ?? "halted by \(caller.username)"
                try OperatorHalts.halt(db, scope, reason: reason, actor: actor, actorUserID: caller.userID, peer: peer.label)
                switch scope {
                case .engine: answer.add("halted", "engine")
                case .user(let id): answer.add("halted", id)
                case .strategy(let id, _):
                    answer.add("halted", "strategy")
                    answer.add("strategy_id", id)
                }
            } else {
                let lifted = try OperatorHalts.resume(db, scope, actor: actor, actorUserID: caller.userID, peer: peer.label)
                answer.add("lifted", lifted)
                if case .strategy(let id, _) = scope { answer.add("strategy_id", id) }
            }
        case "flatten":
            try requireActor()
            // A user's book, or with `strategy_id`/`strategy` that strategy's part of its owner's.
            let named = request.has("strategy_id") || request.has("strategy")
            guard !(named && request.has("user")) else { throw ControlRefusal("name 'user' or a strategy, not both") }
            let strategy = named ? try namedStrategy() : nil
            let user = try strategy?.owner ?? target()
            guard let desk = hooks.desk else { throw ControlRefusal("no order desk in this process", .unavailable) }
            let result = desk.flatten(userID: user, strategyID: strategy?.id, now: SystemClock().now())
            var details = JSONObjectWriter()
            details.add("strategy_id", strategy?.id)
            details.add("closing_orders", result.closingOrders)
            details.add("cancel_requests", result.cancelRequests)
            try AuditLog.record(db, actor: actor, actorUserID: caller.userID, action: .flatten, targetUserID: user, details: details.text,
                                peer: peer.label)
            answer.add("closing_orders", result.closingOrders)
            answer.add("cancel_requests", result.cancelRequests)
            answer.add("skipped", strings: result.skipped)
        case "reload":
            answer = try reload(caller, actor: actor, peer: peer, db)
        default:
            throw ControlRefusal("unknown command '\(PrintableText.make(command, maxCharacters: 64))' (login, logout, status, strategies, "
                                 + "strategy.start, strategy.stop, positions, orders, fills, pnl.daily, equity, order.cancel, halt, resume, "
                                 + "flatten, reload)")
        }
        return answer
    }

    /// `reload`: strategies, risk settings, brokers, desk settings and holidays read again, as
    /// SIGHUP reads them, answered once applied. An admin's: it applies every user's changes,
    /// and a failed one is audited too (the operator saw an error; the trail says which).
    private func reload(_ caller: Caller, actor: String, peer: Peer, _ db: DatabaseConnection) throws -> JSONObjectWriter {
        guard caller.isAdmin else { throw ControlRefusal("only an admin reloads the daemon", .forbidden) }
        guard let reload = hooks.reload else { throw ControlRefusal("this process has no strategies to reload", .unavailable) }
        var details = JSONObjectWriter()
        let loaded: StrategyRuntime.Loaded
        do {
            loaded = try reload()
        } catch {
            details.add("error", "\(error)")
            try AuditLog.record(db, actor: actor, actorUserID: caller.userID, action: .reload, details: details.text, peer: peer.label)
            throw ControlRefusal("reload failed, the running set is unchanged: \(error)")
        }
        details.add("strategies_running", loaded.running)
        details.add("strategies_refused", loaded.refused)
        details.add("strategies_awaiting_process", loaded.awaitingProcess)
        try AuditLog.record(db, actor: actor, actorUserID: caller.userID, action: .reload, details: details.text, peer: peer.label)
        var answer = JSONObjectWriter()
        answer.add("reloaded", true)
        answer.add("strategies_running", loaded.running)
        answer.add("strategies_refused", loaded.refused)
        answer.add("strategies_awaiting_process", loaded.awaitingProcess)
        return answer
    }

    private func status(_ caller: Caller, _ db: DatabaseConnection) throws -> JSONObjectWriter {
        let halts = try AccountViews.activeHalts(db)
        let visible = halts.filter { $0.userID == nil || caller.isAdmin || $0.userID == caller.userID }
        let counts = try AccountViews.strategyCounts(db, userID: caller.isAdmin ? nil : caller.userID)
        var body = JSONObjectWriter()
        body.add("user", caller.username)
        body.add("user_id", caller.userID)
        body.add("role", caller.role)
        body.add("engine_halted", halts.contains { $0.userID == nil })
        body.add("halts", objects: visible.map { h in
            var w = JSONObjectWriter()
            w.add("user_id", h.userID)
            w.add("strategy_id", h.strategyID)
            w.add("reason", h.reason)
            w.add("source", h.source)
            return w
        })
        body.add("strategies_running", counts.running)
        body.add("strategies", counts.all)
        return body
    }
}
