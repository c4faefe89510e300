"""What a broker gateway plugs into the engine link (engine_link.py, through broker_gateway.py):
one ``BrokerAdapter`` per broker account, and the ``LinkSink`` through which it speaks to the
engine. Kite Connect's is kite/adapter.py; Angel One's and ICICI's implement the same interface.

The gateway calls an adapter from the link's thread only through ``start``, ``submit``,
``accepts_requests``, ``session_reason`` and ``stop``; the adapter does its broker I/O on a thread
of its own (``AdapterWorker``) so a slow or rate-limited broker never delays the engine's
heartbeats, and runs its broker calls one at a time in the order they came (a modify never
overtakes the placement it modifies).
"""
from __future__ import annotations

import logging
import queue
import threading
import time
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
        ``reconcile.request``), already acknowledged and deduplicated by the gateway."""

    def accepts_requests(self) -> bool:
        """False while the broker's session is expired: the gateway leaves modify and cancel
        unacknowledged (the engine resends them) and rejects new orders."""

    def session_reason(self) -> str:
        """Why the session is expired (the broker's words), for the rejection of a new order."""

    def stop(self) -> None:
        """The gateway is ending or the broker was taken away."""


class AdapterWorker:
    """A thread running one adapter's broker calls in the order they were submitted, plus a
    ``tick`` (the adapter's polling safety net) every ``tick_seconds``."""

    def __init__(self, name: str, handle: Callable[[str, JSON], None], tick: Callable[[], None],
                 tick_seconds: float) -> None:
        self._queue: queue.Queue[tuple[str, JSON] | None] = queue.Queue()
        self._handle, self._tick, self._tick_seconds = handle, tick, tick_seconds
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, kind: str, message: JSON) -> None:
        self._queue.put((kind, message))

    def idle(self) -> bool:
        """Nothing is waiting behind the call now running (a chance to batch broker reads)."""
        return self._queue.empty()

    def stop(self) -> None:
        self._queue.put(None)
        if self._thread is not threading.current_thread():
            self._thread.join(10)

    def _run(self) -> None:
        next_tick = time.monotonic() + self._tick_seconds
        while True:
            # The tick is due every tick_seconds however busy the queue is: a steady stream of
            # requests must not starve the poll that catches what the broker's push missed.
            try:
                item = self._queue.get(timeout=max(0.0, next_tick - time.monotonic()))
            except queue.Empty:
                item = ("tick", {})
            if item is None:
                return
            calls = [item]
            if item[0] != "tick" and time.monotonic() >= next_tick:
                calls.insert(0, ("tick", {}))
            for kind, message in calls:
                if kind == "tick":
                    next_tick = time.monotonic() + self._tick_seconds
                self._call(kind, message)

    def _call(self, kind: str, message: JSON) -> None:
        try:
            if kind == "tick":
                self._tick()
            else:
                self._handle(kind, message)
        except Exception:  # one bad call must not end the broker's thread
            log.exception("broker call %s failed", kind)
