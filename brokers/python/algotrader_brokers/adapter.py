"""What a broker gateway plugs into the engine link (engine_link.py, through broker_gateway.py):
one ``BrokerAdapter`` per broker account, and the ``LinkSink`` through which it speaks to the
engine. Kite Connect's is kite/adapter.py; Angel One's and ICICI's implement the same interface.

The gateway calls an adapter from the link's thread only through ``start``, ``submit``,
``accepts_requests``, ``session_reason`` and ``stop``; the adapter does its broker I/O on a thread
of its own (``AdapterWorker``) so a slow or rate-limited broker never delays the engine's
heartbeats, and runs its broker calls one at a time: placements as the broker's order-rate
window lets them go, everything else ahead of them in the order it came (a modify never
overtakes the placement it modifies; a cancel withdraws a placement still waiting).
"""
from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

log = logging.getLogger(__name__)

JSON = dict[str, Any]


@dataclass(frozen=True)
class Snapshot:
    """A reconciliation answer's lists, in docs/protocol.md's fields ("Reconciliation")."""

    orders: list[JSON] = field(default_factory=list)
    executions: list[JSON] = field(default_factory=list)
    positions: list[JSON] = field(default_factory=list)


class LinkSink(Protocol):
    """The engine link as an adapter sees it; every method is safe from any thread."""

    def report(self, payload: JSON) -> None:
        """An execution report (docs/protocol.md ``report``), resent until ``report.ack``."""

    def session(self, broker_id: str, status: str, reason: str | None = None) -> None:
        """The broker's session token expired (``expired``) or works again (``active``)."""

    def funds(self, broker_id: str, cash: float) -> None:
        """The account's funds before margin, in rupees."""

    def reconcile(self, request_id: str, broker_id: str, snapshot: Snapshot | None, error: str | None = None) -> None:
        """The answer to ``reconcile.request``: a snapshot, or why the broker cannot be read now."""


class BrokerAdapter(Protocol):
    broker_id: str

    def start(self, credentials: JSON) -> None:
        """The engine granted this broker (again) with these credentials (a renewed session
        token comes this way): (re)connect, send ``funds``, and if the session had expired and
        the token is a new one, ``session active``. Never logs the credentials."""

    def submit(self, kind: str, message: JSON) -> None:
        """An engine request (``order.new``, ``order.modify``, ``order.cancel`` or
        ``reconcile.request``), already acknowledged and deduplicated by the gateway. The
        adapter's worker may answer a cancel itself with ``order.withdrawn`` (AdapterWorker)."""

    def accepts_requests(self) -> bool:
        """False while the broker's session is expired: the gateway leaves modify and cancel
        unacknowledged (the engine resends them) and rejects new orders."""

    def session_reason(self) -> str:
        """Why the session is expired (the broker's words), for the rejection of a new order."""

    def stop(self) -> None:
        """The gateway is ending or the broker was taken away."""


class AdapterWorker:
    """A thread running one adapter's broker calls, plus a ``tick`` (the adapter's polling
    safety net) every ``tick_seconds``.

    Placements (``order.new``) wait in a queue of their own for the broker's order-rate window
    (``placement_delay``: seconds until the next may go, 0 now), and every other call (order
    updates, cancels, modifies of placed orders, reconciliations, the tick) goes ahead of them
    in the order it came. An operator check at 76faf66 saw why: with one queue in arrival order,
    a burst held back by Kite's 200 a minute kept fill reports and cancels waiting for minutes,
    and the 667 placements queued when the strategy was halted still went out afterwards. Now a
    cancel for an order whose placement is still queued withdraws it (the adapter is told
    ``order.withdrawn`` with the cancel's ``order_id`` and ``reason``, and reports it cancelled:
    it never reached the broker), and a modify of one waits behind its own placement only.
    """

    def __init__(self, name: str, handle: Callable[[str, JSON], None], tick: Callable[[], None],
                 tick_seconds: float, placement_delay: Callable[[], float] = lambda: 0.0) -> None:
        self._handle, self._tick, self._tick_seconds = handle, tick, tick_seconds
        self._placement_delay = placement_delay
        self._ready = threading.Condition()
        self._calls: deque[tuple[str, JSON]] = deque()
        # order_id -> its order.new and the modifies that came while it waited, in order.
        self._placements: OrderedDict[str, list[tuple[str, JSON]]] = OrderedDict()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, kind: str, message: JSON) -> None:
        with self._ready:
            order_id = str(message.get("order_id") or "")
            waiting = self._placements.get(order_id) if order_id else None
            if kind == "order.new":
                if waiting is None:  # a resend of one still queued is the same request
                    self._placements[order_id] = [(kind, message)]
            elif waiting is not None and kind == "order.modify":
                waiting.append((kind, message))
            elif waiting is not None and kind == "order.cancel":
                del self._placements[order_id]
                self._calls.append(("order.withdrawn", {"order_id": order_id, "reason": message.get("reason")}))
            else:
                self._calls.append((kind, message))
            self._ready.notify()

    def queued_placements(self) -> int:
        """Placements waiting for the rate window (or behind the call now running)."""
        with self._ready:
            return len(self._placements)

    def idle(self) -> bool:
        """Nothing is waiting behind the call now running (a chance to batch broker reads)."""
        with self._ready:
            return not self._calls and not self._placements

    def stop(self) -> None:
        with self._ready:
            self._stopping = True
            self._ready.notify()
        if self._thread is not threading.current_thread():
            self._thread.join(10)

    def _next(self, next_tick: float) -> list[tuple[str, JSON]] | None:
        """The next calls to make (one call, or a placement with its modifies); [] when the
        tick is due; None when stopping."""
        with self._ready:
            while True:
                if self._stopping:
                    return None
                now = time.monotonic()
                if now >= next_tick:
                    return []
                if self._calls:
                    return [self._calls.popleft()]
                wait = next_tick - now
                if self._placements:
                    delay = self._placement_delay()
                    if delay <= 0:
                        return self._placements.popitem(last=False)[1]
                    wait = min(wait, delay)
                self._ready.wait(wait)

    def _run(self) -> None:
        next_tick = time.monotonic() + self._tick_seconds
        while True:
            # The tick is due every tick_seconds however busy the queues are: a steady stream
            # of requests must not starve the poll that catches what the broker's push missed.
            calls = self._next(next_tick)
            if calls is None:
                return
            if not calls:
                self._call("tick", {})
                # Counted from the tick's end: a tick slowed by the broker's read limit (Angel's
                # order book, one read a second) would otherwise be due again at once, forever,
                # and no placement would get a turn (failed before: six placements waited while
                # the poll ran every second).
                next_tick = time.monotonic() + self._tick_seconds
                continue
            for kind, message in calls:
                self._call(kind, message)

    def _call(self, kind: str, message: JSON) -> None:
        try:
            if kind == "tick":
                self._tick()
            else:
                self._handle(kind, message)
        except Exception:  # one bad call must not end the broker's thread
            log.exception("broker call %s failed", kind)
