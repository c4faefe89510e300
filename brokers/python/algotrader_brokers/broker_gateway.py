"""The broker-independent half of a gateway process (docs/protocol.md, "Broker gateways"): it sits
between the engine link (engine_link.py) and one ``BrokerAdapter`` per broker account
(adapter.py), and keeps the protocol's promises that do not depend on the broker:

- **ack and dedupe.** Each ``order.new`` / ``order.modify`` / ``order.cancel`` is acknowledged;
  a repeated ``request_id``, or an ``order.new`` whose ``order_id`` was seen before, is
  acknowledged again and never handed to the adapter twice (the engine resends until ``ack``).
- **session.** While an adapter says its broker session is expired, a new order is acknowledged
  and rejected with the reason (placing it later, when a token comes, would place a stale
  order), and a modify or cancel is left unacknowledged so the engine keeps resending it until
  the renewed session can carry it out.
- **reports** get a ``report_id`` and are resent every ``REPORT_RESEND_SECONDS`` (and at once
  after a new welcome) until the engine's ``report.ack``.
- **reconciliation**: ``reconcile.request`` goes to the broker's adapter (one read in flight per
  request id; the engine repeats the request until the answer is whole); the answer is split
  into parts of at most 64 KiB.
- **credentials**: each welcome's credentials go to the adapter's ``start`` and nowhere else.
"""
from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
import uuid
from collections import OrderedDict
from types import FrameType
from typing import Callable

from .adapter import JSON, BrokerAdapter, LinkSink, Snapshot
from .config import ConfigError, ProcessConfig
from .engine_link import EngineLink, LinkHandler, Welcome
from .feed_common import SecretFilter

log = logging.getLogger(__name__)

REPORT_RESEND_SECONDS = 2.0
# How many request ids and order ids are remembered for deduplication: far more than a day's
# orders at Kite's 3,000 a day, and bounded so a long-running process does not grow forever.
REMEMBERED = 100_000
# A reconciliation part's lists are cut to stay under the engine's 64 KiB per payload.
PART_BYTES = 60_000
REQUESTS = ("order.new", "order.modify", "order.cancel")

AdapterFactory = Callable[[str, LinkSink], BrokerAdapter]


def split_snapshot(snapshot: Snapshot, limit: int = PART_BYTES) -> list[JSON]:
    """The snapshot's lists in parts whose JSON stays under ``limit`` bytes (at least one part,
    possibly empty), each ``{"orders", "executions", "positions"}``."""
    parts: list[JSON] = []
    current: JSON = {"orders": [], "executions": [], "positions": []}
    size = 100
    for key, items in (("orders", snapshot.orders), ("executions", snapshot.executions),
                       ("positions", snapshot.positions)):
        for item in items:
            length = len(json.dumps(item, separators=(",", ":"))) + 1
            if size + length > limit and any(current.values()):
                parts.append(current)
                current = {"orders": [], "executions": [], "positions": []}
                size = 100
            current[key].append(item)
            size += length
    parts.append(current)
    return parts


class _Remembered:
    """A bounded set: the oldest entries are forgotten first."""

    def __init__(self, limit: int = REMEMBERED) -> None:
        self._items: OrderedDict[str, None] = OrderedDict()
        self._limit = limit

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def add(self, key: str) -> None:
        self._items[key] = None
        if len(self._items) > self._limit:
            self._items.popitem(last=False)


class BrokerGateway(LinkHandler, LinkSink):
    """One gateway process: ``BrokerGateway(factory).run(link)``. ``factory(broker_id, sink)``
    makes the adapter of a granted broker the first time the engine grants it."""

    def __init__(self, factory: AdapterFactory) -> None:
        self.factory = factory
        self.secrets = SecretFilter()
        self.link: EngineLink | None = None
        self.adapters: dict[str, BrokerAdapter] = {}
        self.credential_errors: dict[str, str] = {}
        self._lock = threading.Lock()
        self._requests = _Remembered()
        self._orders = _Remembered()
        self._unacked: dict[str, tuple[JSON, float]] = {}
        self._reconciling: set[str] = set()

    def attach(self, link: EngineLink) -> None:
        self.link = link

    def _send(self, kind: str, payload: JSON) -> None:
        if self.link is None:
            raise RuntimeError("no engine link attached")
        self.link.send(kind, payload)

    def stop(self) -> None:
        for adapter in list(self.adapters.values()):
            try:
                adapter.stop()
            except Exception:
                log.exception("stopping broker %s failed", adapter.broker_id)

    # -- LinkSink (any thread) ------------------------------------------------------------------
    def report(self, payload: JSON) -> None:
        payload = dict(payload)
        payload.setdefault("report_id", str(uuid.uuid4()))
        with self._lock:
            self._unacked[payload["report_id"]] = (payload, time.monotonic())
        log.info("report %s %s for order %s%s", payload["report_id"], payload.get("type"), payload.get("order_id"),
                 f" ({payload['reason']})" if payload.get("reason") else "")
        self._send("report", payload)

    def session(self, broker_id: str, status: str, reason: str | None = None) -> None:
        payload: JSON = {"broker_id": broker_id, "status": status}
        if reason:
            payload["reason"] = reason
        log.warning("broker %s session %s%s", broker_id, status, f": {reason}" if reason else "")
        self._send("session", payload)

    def funds(self, broker_id: str, cash: float) -> None:
        self._send("funds", {"broker_id": broker_id, "cash": cash})

    def reconcile(self, request_id: str, broker_id: str, snapshot: Snapshot | None, error: str | None = None) -> None:
        with self._lock:
            self._reconciling.discard(request_id)
        if snapshot is None:
            log.warning("reconciliation of broker %s: cannot read the broker now: %s", broker_id, error)
            self._send("reconcile", {"request_id": request_id, "broker_id": broker_id, "part": 1, "parts": 1,
                                     "error": error or "the broker could not be read"})
            return
        parts = split_snapshot(snapshot)
        log.info("reconciliation of broker %s: %d order(s), %d execution(s), %d position(s) in %d part(s)", broker_id,
                 len(snapshot.orders), len(snapshot.executions), len(snapshot.positions), len(parts))
        for number, lists in enumerate(parts, start=1):
            self._send("reconcile", {"request_id": request_id, "broker_id": broker_id, "part": number,
                                     "parts": len(parts), **lists})

    # -- LinkHandler (the link's thread) ----------------------------------------------------------
    def on_welcome(self, welcome: Welcome) -> None:
        self.credential_errors = dict(welcome.credential_errors)
        for broker_id in welcome.refused_broker_ids:
            log.error("the engine refused broker %s to this gateway (not live, unknown, or not authenticated for it)",
                      broker_id)
            adapter = self.adapters.pop(broker_id, None)
            if adapter is not None:
                adapter.stop()
        for broker_id in welcome.broker_ids:
            credentials = welcome.credentials.get(broker_id)
            if credentials is None:
                log.error("broker %s granted without credentials: %s", broker_id,
                          welcome.credential_errors.get(broker_id, "the engine holds none for it"))
                continue
            # Every credential value blanked from every log line of this process (a traceback from
            # the SDK included), whatever the adapter scrubs itself.
            for value in credentials.values():
                if isinstance(value, str) and len(value) >= 8:
                    self.secrets.add(value)
            adapter = self.adapters.get(broker_id)
            if adapter is None:
                adapter = self.factory(broker_id, self)
                self.adapters[broker_id] = adapter
            adapter.start(credentials)
        with self._lock:
            unacked = list(self._unacked.items())
            for report_id, (payload, _) in unacked:
                self._unacked[report_id] = (payload, time.monotonic())
        for _, (payload, _) in unacked:  # the engine may have lost them with the old connection
            self._send("report", payload)

    def on_idle(self) -> None:
        now = time.monotonic()
        with self._lock:
            due = [(k, p) for k, (p, sent) in self._unacked.items() if now - sent >= REPORT_RESEND_SECONDS]
            for report_id, payload in due:
                self._unacked[report_id] = (payload, now)
        for _, payload in due:
            self._send("report", payload)

    def on_message(self, kind: str, payload: JSON) -> None:
        if kind == "report.ack":
            with self._lock:
                self._unacked.pop(str(payload.get("report_id")), None)
            if payload.get("status") not in ("applied", "duplicate"):
                log.warning("the engine answered report %s: %s", payload.get("report_id"), payload.get("status"))
            return
        if kind in REQUESTS:
            self._request(kind, payload)
        elif kind == "reconcile.request":
            self._reconcile_request(payload)
        elif kind == "reconcile.done":
            level = logging.INFO if payload.get("status") == "clean" else logging.ERROR
            log.log(level, "reconciliation of broker %s: %s, %s missed execution(s) applied, unknown orders %s, "
                    "differences %s", payload.get("broker_id"), payload.get("status"), payload.get("applied"),
                    payload.get("unknown_orders"), payload.get("differences"))
        elif kind != "error":
            log.warning("engine message %s ignored", kind)

    def _request(self, kind: str, payload: JSON) -> None:
        request_id, order_id, broker_id = (payload.get(k) for k in ("request_id", "order_id", "broker_id"))
        if not isinstance(request_id, str) or not isinstance(order_id, str) or not isinstance(broker_id, str):
            log.warning("%s without request_id, order_id or broker_id ignored", kind)
            return
        if request_id in self._requests or (kind == "order.new" and order_id in self._orders):
            self._send("ack", {"request_id": request_id})  # the same request again: taken already
            return
        adapter = self.adapters.get(broker_id)
        if adapter is None:
            if kind != "order.new":
                return  # not ours to act on (yet): the engine resends it once the broker is served
            why = self.credential_errors.get(broker_id, "this gateway has no credentials for it")
            self._take(kind, request_id, order_id)
            self.report({"type": "rejected", "order_id": order_id, "reason": f"broker {broker_id} not served: {why}"})
            return
        if not adapter.accepts_requests():
            if kind == "order.new":
                self._take(kind, request_id, order_id)
                self.report({"type": "rejected", "order_id": order_id,
                             "reason": f"broker session expired: {adapter.session_reason()}"})
            return  # modify and cancel wait, unacknowledged, for the renewed session
        self._take(kind, request_id, order_id)
        adapter.submit(kind, payload)

    def _take(self, kind: str, request_id: str, order_id: str) -> None:
        self._requests.add(request_id)
        if kind == "order.new":
            self._orders.add(order_id)
        self._send("ack", {"request_id": request_id})

    def _reconcile_request(self, payload: JSON) -> None:
        request_id, broker_id = payload.get("request_id"), payload.get("broker_id")
        if not isinstance(request_id, str) or not isinstance(broker_id, str):
            return
        adapter = self.adapters.get(broker_id)
        if adapter is None:
            self.reconcile(request_id, broker_id, None,
                           f"no credentials for this broker: {self.credential_errors.get(broker_id, 'none given')}")
            return
        with self._lock:
            if request_id in self._reconciling:
                return  # this request's read is under way; its answer will come
            self._reconciling.add(request_id)
        adapter.submit("reconcile.request", payload)


EXIT_CONFIG = 78


def run_gateway(config: ProcessConfig, factory: AdapterFactory) -> int:
    """A gateway process's life: the engine link with one adapter per granted broker, until
    SIGTERM or SIGINT. 0 after a signal, 78 for bad CURVE key files (naming the key)."""
    gateway = BrokerGateway(factory)
    for handler in logging.getLogger().handlers:
        handler.addFilter(gateway.secrets)
    try:
        link = EngineLink.from_config(config, gateway, role="gateway")
    except ConfigError as error:
        print(f"algotrader_brokers: bad configuration: {error}", file=sys.stderr)
        return EXIT_CONFIG
    gateway.attach(link)

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        link.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        link.run()
    finally:
        gateway.stop()
    return 0
