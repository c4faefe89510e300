"""Reconciliation's read of a broker account (docs/protocol.md, "Reconciliation"), for every
broker adapter (TrackedOrdersAdapter inherits it): the order book, trade book and day positions
as of one moment, in the snapshot's fields and the engine's order ids (by the broker's order id
the engine sent, or by the order's tag), and the engine's orders found there adopted, so a
restarted gateway reports their later fills and never places one of them again."""
from __future__ import annotations

import logging
import time

from .adapter import JSON, LinkSink, Snapshot
from .broker_orders import (ENDED_STATES, UNCONFIRMED, BrokerOrder, BrokerTrade, Refused, Tracked, Transient, exec_id,
                            order_tag)

log = logging.getLogger(__name__)


class SnapshotReading:
    """What TrackedOrdersAdapter has that the read needs, and the read itself."""

    broker_id: str
    broker_name: str
    sink: LinkSink
    orders: dict[str, Tracked]
    _by_broker: dict[str, Tracked]
    _by_tag: dict[str, Tracked]

    def _book(self) -> list[BrokerOrder]:
        raise NotImplementedError

    def _trades(self) -> list[BrokerTrade]:
        raise NotImplementedError

    def _day_positions(self) -> list[JSON]:
        raise NotImplementedError

    def _scrub(self, text: str) -> str:
        raise NotImplementedError

    # -- reconciliation --------------------------------------------------------------------------
    def _reconcile(self, request: JSON) -> None:
        request_id = request["request_id"]
        try:
            book, trades, positions = self._consistent_read()
        except (Transient, Refused) as error:
            self.sink.reconcile(request_id, self.broker_id, None,
                                f"{self.broker_name} could not be read: {self._scrub(str(error))}")
            return
        engine_by_tag: dict[str, str] = {}
        engine_by_broker: dict[str, str] = {}
        for order in request.get("orders") or []:
            if isinstance(order, dict) and isinstance(order.get("order_id"), str):
                engine_by_tag[order_tag(order["order_id"])] = order["order_id"]
                if order.get("broker_order_id"):
                    engine_by_broker[str(order["broker_order_id"])] = order["order_id"]
        for tracked in self.orders.values():
            engine_by_tag.setdefault(tracked.tag, tracked.order_id)
        owner: dict[str, str | None] = {}
        orders: list[JSON] = []
        for order in book:
            order_id = engine_by_broker.get(order.broker_order_id) or (engine_by_tag.get(order.tag) if order.tag else None)
            owner[order.broker_order_id] = order_id
            row: JSON = {"broker_order_id": order.broker_order_id, "order_id": order_id, "status": order.engine_status(),
                         "symbol": order.symbol, "exchange": order.exchange, "transaction_type": order.side,
                         "quantity": order.quantity, "filled_quantity": order.filled, "price": order.price,
                         "trigger_price": order.trigger_price}
            if order.reason:
                row["reason"] = order.reason
            orders.append(row)
        executions: list[JSON] = []
        for trade in trades:
            row = {"exec_id": exec_id(trade.broker_order_id, trade.trade_id), "broker_order_id": trade.broker_order_id,
                   "order_id": owner.get(trade.broker_order_id), "symbol": trade.symbol, "exchange": trade.exchange,
                   "transaction_type": trade.side, "fill_quantity": trade.quantity, "fill_price": trade.price}
            if trade.ts is not None:
                row["ts"] = trade.ts
            executions.append(row)
        self._adopt(book, trades, owner)
        self.sink.reconcile(request_id, self.broker_id, Snapshot(orders=orders, executions=executions, positions=positions))

    def _consistent_read(self) -> tuple[list[BrokerOrder], list[BrokerTrade], list[JSON]]:
        """The order book, trade book and day positions as of one moment, as far as three calls
        can be: the trade book is read before and after the other two, and all of it again (up
        to 3 times) when a fill landed in between, since a trade without its order's new filled
        quantity, or a position without its trade, reads as a difference that halts the broker.
        The order book is also checked against the trades it should show."""
        for attempt in range(3):
            before = self._trades()
            book = self._book()
            positions = self._day_positions()
            trades = self._trades()
            filled: dict[str, int] = {}
            for trade in trades:
                filled[trade.broker_order_id] = filled.get(trade.broker_order_id, 0) + trade.quantity
            agrees = all(filled.get(o.broker_order_id, 0) == o.filled for o in book)
            same = {(t.broker_order_id, t.trade_id) for t in before} == {(t.broker_order_id, t.trade_id) for t in trades}
            if same and agrees:
                return book, trades, positions
            log.info("broker %s: a fill landed while %s was read for reconciliation; reading again (%d)", self.broker_id,
                     self.broker_name, attempt + 1)
            time.sleep(0.5)  # the trade book may lag the order book by a moment
        return book, trades, positions

    def _adopt(self, book: list[BrokerOrder], trades: list[BrokerTrade], owner: dict[str, str | None]) -> None:
        """Tracks the engine's orders found at the broker that this process did not place (it
        restarted): their executions in the snapshot are the engine's now, later ones are
        reported; a repeated order.new for one of them is not placed again."""
        for order in book:
            order_id = owner.get(order.broker_order_id)
            if order_id is None or order.broker_order_id in self._by_broker:
                continue
            tracked = Tracked(order_id=order_id, tag=order_tag(order_id), symbol=order.symbol, exchange=order.exchange,
                              side=order.side, order_type=order.order_type, quantity=order.quantity, price=order.price,
                              trigger_price=order.trigger_price, broker_order_id=order.broker_order_id,
                              accepted=order.state != UNCONFIRMED, ended=order.state in ENDED_STATES,
                              extra=dict(order.extra))
            for trade in trades:
                if trade.broker_order_id == order.broker_order_id:
                    tracked.execs.add(exec_id(order.broker_order_id, trade.trade_id))
                    tracked.filled += trade.quantity
            self.orders[order_id] = tracked
            self._by_broker[order.broker_order_id] = tracked
            self._by_tag[tracked.tag] = tracked
