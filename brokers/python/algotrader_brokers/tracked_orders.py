"""What every broker adapter does with the engine's orders, whichever broker holds them: one
``TrackedOrdersAdapter`` subclass per broker (kite/adapter.py, smartapi/adapter.py) supplies the
broker's calls and turns its order book, trade book and positions into ``BrokerOrder``,
``BrokerTrade`` and day positions; this module keeps the rest in one place:

- the engine's orders as the broker knows them (``Tracked``), found again after a restart by
  their tag (the first 20 hex digits of the engine's order_id, which all three brokers store);
- a broker order's state (an order-update push, the order book, an order's history) turned into
  the reports the engine has not had yet (accepted, modified, fill, cancelled, rejected), each
  fill's ``exec_id`` = ``<broker order id>:<trade id>``, so a re-read yields the same id;
- exactly-once placement: an answer lost to a timeout or 5xx is looked for by its tag before the
  order is sent again, and at each poll until UNRESOLVED_SECONDS have passed;
- the session: ``SessionExpired`` from a call sends ``session expired``; new orders are then
  rejected with the broker's words, modifies and cancels wait for a welcome with a new token;
- the poll that catches what the push missed, funds, and the reconciliation snapshot (a
  consistent read of the three books, and adoption of the engine's orders found there).
"""
from __future__ import annotations

import logging
import threading
import time

from .adapter import JSON, AdapterWorker, LinkSink
from .broker_orders import (CANCELLED, COMPLETE, ENDED_STATES, MAX_PLACE_WAIT, REJECTED, RETRY_DELAYS,
                            UNCONFIRMED, UNRESOLVED_SECONDS, FUNDS_SECONDS, BrokerOrder, BrokerTrade, Refused,
                            SessionExpired, Tracked, Transient, exec_id, order_tag)
from .ratelimit import LimitExhausted, RateLimiter
from .snapshot_reading import SnapshotReading

log = logging.getLogger(__name__)

class TrackedOrdersAdapter(SnapshotReading):
    """One broker account (one engine broker id) behind the gateway; subclasses supply the
    broker (the methods below that raise NotImplementedError)."""

    broker_name = "the broker"            # in reasons and logs: "Kite", "Angel One"
    max_modifications: int | None = None  # the broker's cap on modifications of one order

    def __init__(self, broker_id: str, sink: LinkSink, poll_seconds: float, name: str) -> None:
        self.broker_id = broker_id
        self.sink = sink
        self.poll_seconds = poll_seconds
        # Every window a placement must fit (the broker's order windows, and for a broker whose
        # modifies and cancels share them, a smaller one that leaves those room).
        self.place_limits: tuple[RateLimiter, ...] = ()
        self._expired = False
        self._expired_reason = ""
        self._credentials: JSON | None = None
        self._lock = threading.Lock()
        self._stream_live = False
        self.connected = False
        self.orders: dict[str, Tracked] = {}          # engine order_id ->
        self._by_broker: dict[str, Tracked] = {}      # broker order id ->
        self._by_tag: dict[str, Tracked] = {}
        self._held: list[tuple[str, JSON]] = []       # modify/cancel waiting for a session
        self._last_funds = 0.0
        self._worker = AdapterWorker(f"{name}-{broker_id[:8]}", self._handle, self._tick, poll_seconds,
                                     placement_delay=self._placement_delay)

    # -- the broker (subclasses) -------------------------------------------------------------
    def _open(self, credentials: JSON) -> bool | None:
        """Sets up the broker's client with these credentials: True when they differ from the
        ones in use (a renewal), False when they are the same, None when they are unusable
        (logged; the session is then expired with ``self._unusable_reason``)."""
        raise NotImplementedError

    def _secrets(self) -> tuple[str, ...]:
        """The credentials text from the SDK must never show (scrubbed before it is logged)."""
        raise NotImplementedError

    def _refusal(self, request: JSON) -> str | None:
        """Why the broker would not take this ``order.new`` at all, in its words; None when it
        is the broker's to judge."""
        raise NotImplementedError

    def _new_tracked(self, request: JSON, tag: str) -> Tracked:
        """The order as it will be tracked (its price fields as they are sent)."""
        raise NotImplementedError

    def _send_order(self, request: JSON, tracked: Tracked) -> str:
        """Places it, once (no retry): the broker's order id. Raises Refused, Transient (with
        the HTTP code: 429 was not placed) or SessionExpired."""
        raise NotImplementedError

    def _modify_changes(self, tracked: Tracked, request: JSON) -> JSON:
        """The new ``quantity``/``price``/``trigger_price`` this broker can set for the order."""
        raise NotImplementedError

    def _send_modify(self, tracked: Tracked, changes: JSON) -> None:
        raise NotImplementedError

    def _send_cancel(self, tracked: Tracked) -> None:
        raise NotImplementedError

    def _book(self) -> list[BrokerOrder]:
        """Today's order book."""
        raise NotImplementedError

    def _trades(self) -> list[BrokerTrade]:
        """Today's trade book."""
        raise NotImplementedError

    def _day_positions(self) -> list[JSON]:
        """What today's trades moved: ``[{symbol, exchange, product, quantity}]`` (non-zero)."""
        raise NotImplementedError

    def _funds(self) -> float | None:
        """The account's cash before margin, in rupees."""
        raise NotImplementedError

    def _order_state(self, tracked: Tracked) -> BrokerOrder | None:
        """One order's latest state (Kite reads its history; the default reads the book)."""
        for order in self._book():
            if order.broker_order_id == tracked.broker_order_id:
                return order
        return None

    def _order_trades(self, tracked: Tracked, filled: int) -> list[BrokerTrade]:
        """One order's trades, of which the broker shows ``filled`` in all (the default filters
        the trade book)."""
        return [t for t in self._trades() if t.broker_order_id == tracked.broker_order_id]

    def _connect_stream(self) -> None:
        """(Re)connects the broker's order-update push, if it has one; its updates come to
        ``self.push_update`` and its state to ``self._stream_state``."""

    def _close_stream(self) -> None:
        """Closes the order-update push."""

    # -- the gateway's side (link thread) ------------------------------------------------------
    def start(self, credentials: JSON) -> None:
        with self._lock:
            self._credentials = dict(credentials)
        self._worker.put("start", {})

    def submit(self, kind: str, message: JSON) -> None:
        self._worker.put(kind, message)

    def accepts_requests(self) -> bool:
        return not self._expired

    def session_reason(self) -> str:
        return self._expired_reason

    def stop(self) -> None:
        self._close_stream()
        self._worker.stop()

    def push_update(self, order: BrokerOrder) -> None:
        """An order update from the broker's push (any thread): handled on the broker's thread."""
        self._worker.put("update", {"order": order})

    # -- the broker's thread ---------------------------------------------------------------------
    def _placement_delay(self) -> float:
        """Seconds until the order-rate windows take the next placement. One that would wait
        past MAX_PLACE_WAIT (a daily cap) goes at once, to be rejected with that reason."""
        delay = max((limit.delay() for limit in self.place_limits), default=0.0)
        return 0.0 if delay > MAX_PLACE_WAIT else delay

    def _scrub(self, text: str) -> str:
        for secret in self._secrets():
            if secret:
                text = text.replace(secret, "***")
        return text

    def _handle(self, kind: str, message: JSON) -> None:
        try:
            if kind == "start":
                self._start()
            elif kind == "update":
                self._update(message["order"])
            elif kind == "order.withdrawn":  # cancelled while its placement waited: never sent
                self.sink.report({"type": "cancelled", "order_id": message["order_id"],
                                  "reason": message.get("reason") or "cancelled by the engine"})
                log.info("order %s cancelled before it was sent to %s", message["order_id"], self.broker_name)
            elif not self.connected:
                log.error("broker %s: %s before any credentials", self.broker_id, kind)
            elif kind == "order.new":
                self._place(message)
            elif kind == "order.modify":
                self._modify(message)
            elif kind == "order.cancel":
                self._cancel(message)
            elif kind == "reconcile.request":
                if self._expired:  # not the broker again with a refused token at every resend
                    self.sink.reconcile(message["request_id"], self.broker_id, None,
                                        f"{self.broker_name} session expired: {self._expired_reason}")
                else:
                    self._reconcile(message)
        except SessionExpired as error:
            self._expire(str(error))
            if kind == "order.new":
                self.sink.report({"type": "rejected", "order_id": message["order_id"],
                                  "reason": f"{self.broker_name} session expired: {self._scrub(str(error))}"})
            elif kind in ("order.modify", "order.cancel"):
                self._held.append((kind, message))
            elif kind == "reconcile.request":
                self.sink.reconcile(message["request_id"], self.broker_id, None,
                                    f"{self.broker_name} session expired: {self._scrub(str(error))}")

    def _start(self) -> None:
        with self._lock:
            credentials, self._credentials = self._credentials or {}, None
        renewed = self._open(credentials)
        if renewed is None:
            self._expire(self._unusable_reason)
            return
        if not renewed and self._expired:
            log.warning("broker %s: the welcome brought the same session token, which %s refused; still expired",
                        self.broker_id, self.broker_name)
            return
        self.connected = True
        if renewed:
            self._connect_stream()
        try:
            self._send_funds()
            if renewed and self._expired:
                self._expired, self._expired_reason = False, ""
                self.sink.session(self.broker_id, "active")
                held, self._held = self._held, []
                for kind, message in held:
                    self._handle(kind, message)
            if renewed:
                self._poll()  # catch up with what happened while the session was away
        except SessionExpired as error:
            self._expire(str(error))
        except (Transient, Refused) as error:
            log.warning("broker %s: reading %s after the welcome failed: %s", self.broker_id, self.broker_name,
                        self._scrub(str(error)))

    _unusable_reason = "no session token in the credentials"

    def _expire(self, reason: str) -> None:
        reason = self._scrub(reason)
        if not self._expired:
            self._expired, self._expired_reason = True, reason
            self.sink.session(self.broker_id, "expired", reason)
            self._close_stream()

    def _tick(self) -> None:
        if not self.connected or self._expired:
            return
        try:
            self._poll()
            self._give_up_unresolved()
            # Without the order-update push (down, or refused because the day's token ended)
            # and with no order working, nothing else reads the broker: the funds read doubles
            # as the session probe, so an expiry is told to the engine within poll_seconds, not
            # at the next order.
            probe = not self._stream_live and time.monotonic() - self._last_funds >= self.poll_seconds
            if probe or time.monotonic() - self._last_funds >= FUNDS_SECONDS:
                self._send_funds()
        except SessionExpired as error:
            self._expire(str(error))
        except (Transient, Refused) as error:
            log.warning("broker %s: polling %s failed: %s", self.broker_id, self.broker_name, self._scrub(str(error)))

    def _give_up_unresolved(self) -> None:
        """An order whose placement's answer was lost and that the order book has not shown for
        UNRESOLVED_SECONDS was not placed: it is reported rejected."""
        now = time.monotonic()
        for tracked in list(self.orders.values()):
            if tracked.broker_order_id is not None:
                tracked.unresolved_since = None
            elif tracked.unresolved_since is not None and not tracked.ended and now - tracked.unresolved_since >= UNRESOLVED_SECONDS:
                tracked.ended = True
                self.sink.report({"type": "rejected", "order_id": tracked.order_id,
                                  "reason": f"{self.broker_name} could not be reached when it was placed, and its order "
                                            f"book has not shown it (tag {tracked.tag}) in {UNRESOLVED_SECONDS:.0f} s"})

    def _send_funds(self) -> None:
        cash = self._funds()
        if cash is not None:
            self.sink.funds(self.broker_id, round(cash, 4))
        self._last_funds = time.monotonic()

    def _poll(self) -> None:
        """The order book read as if every order's update had come again (the safety net)."""
        if not any(not t.ended for t in self.orders.values()):
            return
        for order in self._book():
            self._update(order)

    # -- orders ----------------------------------------------------------------------------------
    def _place(self, request: JSON) -> None:
        order_id = request["order_id"]
        tag = order_tag(order_id)
        known = self.orders.get(order_id) or self._by_tag.get(tag)
        if known is not None:  # placed before (a restart, or a resend after reconciliation)
            known.order_id = order_id
            self.orders[order_id] = known
            log.info("order %s is already at %s as %s: not placed again", order_id, self.broker_name,
                     known.broker_order_id)
            if known.accepted:
                self.sink.report({"type": "accepted", "order_id": order_id, "broker_order_id": known.broker_order_id})
            return
        why = self._refusal(request)
        if why is not None:
            self.sink.report({"type": "rejected", "order_id": order_id, "reason": why})
            return
        tracked = self._new_tracked(request, tag)
        try:
            broker_order_id = self._place_once(request, tracked)
        except Refused as error:
            self.sink.report({"type": "rejected", "order_id": order_id, "reason": self._scrub(str(error))})
            return
        except LimitExhausted as error:
            self.sink.report({"type": "rejected", "order_id": order_id,
                              "reason": f"{self.broker_name}'s daily order limit for this account is reached ({error})"})
            return
        except Transient as error:
            if error.code == 429:  # refused for the rate: certainly not placed
                self.sink.report({"type": "rejected", "order_id": order_id,
                                  "reason": f"{self.broker_name} could not take it: {self._scrub(str(error))}"})
                return
            # The broker may hold it: a rejection now would end an order that might be live,
            # and its fills would go unreported. The poll looks for it by its tag.
            tracked.unresolved_since = time.monotonic()
            self.orders[order_id] = tracked
            self._by_tag[tag] = tracked
            log.warning("order %s: %s's answer to its placement was lost (%s); looking for it by its tag %s at each poll",
                        order_id, self.broker_name, self._scrub(str(error)), tag)
            return
        tracked.broker_order_id = broker_order_id
        self.orders[order_id] = tracked
        self._by_broker[broker_order_id] = tracked
        self._by_tag[tag] = tracked
        log.info("order %s placed at %s as %s", order_id, self.broker_name, broker_order_id)
        if not self._stream_live:
            self._refresh(tracked)

    def _place_once(self, request: JSON, tracked: Tracked) -> str:
        """Places the order exactly once: a placement whose answer was lost (timeout, 5xx) is
        looked for in the order book by its tag before it is sent again; a 429 was not placed."""
        for attempt in range(len(RETRY_DELAYS) + 1):
            for limit in self.place_limits:
                limit.acquire(max_wait=MAX_PLACE_WAIT)
            try:
                return self._send_order(request, tracked)
            except Transient as error:
                if attempt == len(RETRY_DELAYS):
                    raise
                log.warning("%s placement: %s; looking for it and retrying in %.1f s", self.broker_name,
                            self._scrub(str(error)), RETRY_DELAYS[attempt])
                # The wait comes before the look-up: a broker still processing the lost request
                # would not show it yet, and the resend would place it twice.
                time.sleep(RETRY_DELAYS[attempt])
                if error.code != 429:
                    for order in self._book():
                        if order.tag == tracked.tag:
                            return order.broker_order_id
        raise Transient("unreachable")

    def _refresh(self, tracked: Tracked) -> None:
        """Reads one order's latest state (when no pushed update will tell it)."""
        try:
            order = self._order_state(tracked)
        except (Transient, Refused) as error:
            log.warning("order %s: reading its state failed: %s (the poll will)", tracked.order_id, self._scrub(str(error)))
            return
        if order is not None:
            self._update(order)

    def _modify(self, request: JSON) -> None:
        tracked = self.orders.get(request["order_id"])
        if tracked is None or tracked.broker_order_id is None or tracked.ended:
            log.warning("order.modify for order %s, which is %s at %s: nothing to modify", request["order_id"],
                        "not" if tracked is None else "ended", self.broker_name)
            return
        if self.max_modifications is not None and tracked.modifications >= self.max_modifications:
            log.warning("order.modify for order %s refused: Maximum allowed order modifications exceeded (%s "
                        "allows %d)", tracked.order_id, self.broker_name, self.max_modifications)
            return
        changes = self._modify_changes(tracked, request)
        if not changes:
            log.warning("order.modify for order %s changes nothing %s can change", tracked.order_id, self.broker_name)
            return
        try:
            self._send_modify(tracked, changes)
        except (Refused, Transient) as error:
            log.warning("order.modify for order %s refused by %s: %s", tracked.order_id, self.broker_name,
                        self._scrub(str(error)))
            self._refresh(tracked)
            return
        tracked.modifications += 1
        tracked.quantity = changes.get("quantity", tracked.quantity)
        tracked.price = changes.get("price", tracked.price)
        tracked.trigger_price = changes.get("trigger_price", tracked.trigger_price)
        self.sink.report({"type": "modified", "order_id": tracked.order_id, "broker_order_id": tracked.broker_order_id,
                          "quantity": tracked.quantity, "price": tracked.price, "trigger_price": tracked.trigger_price})
        if not self._stream_live:
            self._refresh(tracked)

    def _cancel(self, request: JSON) -> None:
        tracked = self.orders.get(request["order_id"])
        if tracked is not None and tracked.broker_order_id is None and tracked.unresolved_since is not None and not tracked.ended:
            tracked.cancel_reason = request.get("reason") or "cancelled by the engine"
            tracked.cancel_wanted = True
            log.warning("order.cancel for order %s, whose placement's answer was lost: cancelled once %s's book shows it",
                        tracked.order_id, self.broker_name)
            return
        if tracked is None or tracked.broker_order_id is None:
            log.warning("order.cancel for order %s, which this gateway did not place (or %s refused)",
                        request["order_id"], self.broker_name)
            return
        if tracked.ended:
            return  # its last report (filled, cancelled, rejected) was sent already
        tracked.cancel_reason = request.get("reason") or "cancelled by the engine"
        try:
            self._send_cancel(tracked)
        except (Refused, Transient) as error:
            log.warning("order.cancel for order %s refused by %s: %s", tracked.order_id, self.broker_name,
                        self._scrub(str(error)))
            self._refresh(tracked)  # it may have filled meanwhile: report what it is
            return
        if not self._stream_live:
            self._refresh(tracked)

    def _update(self, order: BrokerOrder) -> None:
        """One broker order's state turned into the reports the engine has not had yet."""
        tracked = self._by_broker.get(order.broker_order_id) or (self._by_tag.get(order.tag) if order.tag else None)
        if tracked is None or tracked.ended:
            return
        broker_order_id = order.broker_order_id
        found = tracked.broker_order_id is None
        if found:
            tracked.broker_order_id = broker_order_id
            self._by_broker[broker_order_id] = tracked
        if found and tracked.cancel_wanted and order.state not in ENDED_STATES:
            tracked.cancel_wanted = False
            log.info("order %s found at %s as %s: carrying out the cancel that waited for it", tracked.order_id,
                     self.broker_name, broker_order_id)
            self._cancel({"order_id": tracked.order_id, "reason": tracked.cancel_reason})
        if order.state == REJECTED:
            tracked.ended = True
            self.sink.report({"type": "rejected", "order_id": tracked.order_id, "broker_order_id": broker_order_id,
                              "reason": order.reason or f"rejected by {self.broker_name}"})
            return
        if order.state == UNCONFIRMED:
            return
        if not tracked.accepted:
            tracked.accepted = True
            self.sink.report({"type": "accepted", "order_id": tracked.order_id, "broker_order_id": broker_order_id})
        if order.state not in ENDED_STATES and order.settled:
            # Only the fields the engine's order type has: a broker that turns a MARKET order
            # into a protected limit (Angel One's market price protection) shows a price the
            # engine's order never had, which is no modification.
            new = (order.quantity or tracked.quantity,
                   order.price if tracked.order_type in ("LIMIT", "SL") else tracked.price,
                   order.trigger_price if tracked.order_type in ("SL", "SL-M") else tracked.trigger_price)
            if new != (tracked.quantity, tracked.price, tracked.trigger_price):
                tracked.quantity, tracked.price, tracked.trigger_price = new
                self.sink.report({"type": "modified", "order_id": tracked.order_id, "broker_order_id": broker_order_id,
                                  "quantity": new[0], "price": new[1], "trigger_price": new[2]})
        if order.filled > tracked.filled:
            self._sync_trades(tracked, order.filled)
        if order.state == COMPLETE and tracked.filled >= order.filled:
            tracked.ended = True
        elif order.state == CANCELLED and tracked.filled >= order.filled:
            tracked.ended = True
            self.sink.report({"type": "cancelled", "order_id": tracked.order_id, "broker_order_id": broker_order_id,
                              "reason": order.reason or tracked.cancel_reason or f"cancelled at {self.broker_name}"})

    def _sync_trades(self, tracked: Tracked, filled: int) -> None:
        """Reports the order's trades not reported yet (the trade book may lag the order book by
        a moment: what is missing now is found at the next update or poll)."""
        try:
            trades = self._order_trades(tracked, filled)
        except (Transient, Refused) as error:
            log.warning("order %s: reading its trades failed: %s (the poll will)", tracked.order_id, self._scrub(str(error)))
            return
        for trade in trades:
            self._fill(tracked, trade)

    def _fill(self, tracked: Tracked, trade: BrokerTrade) -> None:
        assert tracked.broker_order_id is not None
        ident = exec_id(tracked.broker_order_id, trade.trade_id)
        if ident in tracked.execs:
            return
        tracked.execs.add(ident)
        tracked.filled += trade.quantity
        report: JSON = {"type": "fill", "order_id": tracked.order_id, "broker_order_id": tracked.broker_order_id,
                        "exec_id": ident, "fill_quantity": trade.quantity, "fill_price": trade.price}
        if trade.ts is not None:
            report["ts"] = trade.ts
        self.sink.report(report)

    def _stream_state(self, live: bool, why: str = "") -> None:
        self._stream_live = live
        if live:
            log.info("broker %s: %s order updates connected", self.broker_id, self.broker_name)
        else:
            log.warning("broker %s: %s order updates %s (the order book is polled meanwhile)", self.broker_id,
                        self.broker_name, self._scrub(why))
