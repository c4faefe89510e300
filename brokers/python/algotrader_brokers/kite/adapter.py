"""Zerodha Kite Connect behind the gateway protocol, on the official SDK (``kiteconnect``):
``KiteConnect`` for orders, the order book, trades, positions and margins, and ``KiteTicker``'s
order-update callback for prompt reports, with a poll of the order book as the safety net for
updates the WebSocket missed (it was down, or an update was lost). The WebSocket's ``wss://``
is verified (certificate and host name: ticker.py), since its URL carries the access token.

Orders. An ``order.new`` becomes ``place_order(variety="regular", ...)`` with the engine's
``exchange``, ``symbol`` (tradingsymbol), ``transaction_type``, ``quantity``, ``product`` (CNC,
MIS, NRML), ``order_type`` (MARKET, LIMIT, SL, SL-M: ``price`` for LIMIT and SL,
``trigger_price`` for SL and SL-M), ``validity`` (DAY, IOC, or TTL with ``validity_ttl``
minutes), ``algo_id`` when the engine gives one, and ``tag``: the first 20 hex digits of the
engine's ``order_id`` (Kite's tag is at most 20 alphanumerics). The tag is how this gateway
knows its orders again after a restart: a reconciliation or a repeated ``order.new`` finds the
order by it, so an order is never placed twice. Values outside Kite's enumerations are refused
here in the words of Kite's InputException ("Invalid `product`."); every other combination Kite
refuses (CNC on NFO, a tick-size violation, margins, ...) is refused by Kite, and its message is
the rejection's reason, as is ``status_message`` when Kite's RMS or the exchange rejects an
order after accepting it.

Reports. ``accepted`` once Kite shows the order past its own validation (OPEN, TRIGGER PENDING,
...), ``rejected`` with ``status_message``, ``fill`` per Kite trade with ``exec_id`` =
``<kite order_id>:<trade_id>`` (a trade id is unique per order at Kite, so re-reading the trade
book, the order's trades or a reconciliation yields the same id: the engine applies each once),
``modified`` after Kite accepted a modification (or showed one made elsewhere), ``cancelled``
with Kite's reason or the engine's.

Limits. Kite's published API rate limits (https://kite.trade/docs/connect/v3/exceptions/, "API
rate limit"; restated by Zerodha staff on https://kite.trade/forum/discussion/comment/46596 and
/comment/47996): order placement 10 requests a second, 200 a minute and 3,000 a day per
account; at most 25 modifications of one order (Kite then answers "Maximum allowed order
modifications exceeded"); quote 1/s, historical 3/s, everything else 10/s. Reads are kept to
3 a second here, the older and stricter figure Zerodha gave for all HTTP requests
(https://kite.trade/forum/discussion/comment/8100), since the gateway's reads are never urgent.
Modify and cancel share the 10/s of "every other endpoint". Placements held back by those
windows wait in the worker's placement queue, not in a sleeping call: order updates, cancels,
modifies and reconciliations go ahead of them, and a cancel for one still waiting withdraws it
(reported ``cancelled``, never sent to Kite: adapter.AdapterWorker).

Errors. NetworkException, DataException, 5xx, 429 and connection failures are retried with
backoff; a placement whose answer was lost (timeout, 5xx) is looked up by its tag before it is
sent again; if the look-up fails too, the order is looked for by its tag at each poll and
reported rejected only when the order book has not shown it in UNRESOLVED_SECONDS (a rejection
at once would end an order that may be live at Kite). InputException, OrderException and the
other Kite exceptions fail at once with Kite's message. TokenException (HTTP 403: the daily access token expired or was revoked) sends
``session expired``; new orders are then rejected and modify/cancel wait until a welcome brings
a different ``access_token``, which sends ``session active`` and catches up with the order book.
While the order-update stream is not connected (and so when Kite refuses it with 403 at an
expiry), the funds read (``/user/margins``) runs every ``poll_seconds`` as the session probe, so
an expiry is noticed with no order working.

Credentials (the welcome's object for this broker): ``api_key`` and ``access_token`` (the session
token ``algotrader broker login`` stores). They are never logged; text from the SDK is scrubbed
of them before it is logged.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import requests
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kex

from ..adapter import JSON, AdapterWorker, LinkSink, Snapshot
from ..config import KiteSection
from ..ratelimit import LimitExhausted, RateLimiter
from .ticker import VerifiedKiteTicker, reactor, start_reactor

log = logging.getLogger(__name__)

IST = timezone(timedelta(hours=5, minutes=30))

# Kite's enumerations (Kite Connect v3 "Orders": constants and the SDK's KiteConnect.*).
ORDER_TYPES = ("MARKET", "LIMIT", "SL", "SL-M")
PRODUCTS = ("CNC", "MIS", "NRML")
VALIDITIES = ("DAY", "IOC", "TTL")
EXCHANGES = ("NSE", "BSE", "NFO", "CDS", "BCD", "BFO", "MCX")
VARIETY = "regular"
# Statuses of an order Kite has not yet finished validating: not yet "accepted".
UNCONFIRMED = ("PUT ORDER REQ RECEIVED", "VALIDATION PENDING", "OPEN PENDING")
ENDED = ("COMPLETE", "CANCELLED", "REJECTED", "CANCELLED AMO")

# Kite's limits (see the module's docstring for the sources).
PLACE_LIMITS = ((1.0, 10), (60.0, 200), (86400.0, 3000))
WRITE_LIMITS = ((1.0, 10),)
READ_LIMITS = ((1.0, 3),)
MAX_MODIFICATIONS = 25
# Waiting longer than this for the per-minute window is pointless for a live order; the daily
# cap is never waited out.
MAX_PLACE_WAIT = 61.0
# Backoff before each retry of a transient failure (about 6 s in all).
RETRY_DELAYS = (0.2, 0.4, 0.8, 1.6, 3.2)
FUNDS_SECONDS = 60.0
UNRESOLVED_SECONDS = 120.0


class SessionExpired(Exception):
    """Kite answered TokenException: the access token no longer works."""


class Transient(Exception):
    """Kite could not be reached or asked us to slow down, every retry included; ``code`` is the
    HTTP status (429: rate-limited, so certainly not carried out), 0 for a connection failure."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


class Refused(Exception):
    """Kite refused the call for good (InputException, OrderException, ...): its message."""


def kite_tag(order_id: str) -> str:
    """The engine order's tag at Kite: the first 20 hex digits of its UUIDv7 (its millisecond
    time, the generator's counter and 14 random bits: the engine's generator makes them unique,
    and two engines would have to place in the same millisecond to collide)."""
    return order_id.replace("-", "").lower()[:20]


def exec_id(broker_order_id: str, trade_id: Any) -> str:
    return f"{broker_order_id}:{trade_id}"


def rfc3339(value: Any) -> str | None:
    """Kite's time (a naive IST datetime as the SDK parses it, or its ``YYYY-MM-DD HH:MM:SS``
    text as order updates carry it) in UTC, RFC 3339 with microseconds."""
    if isinstance(value, str):
        try:
            value = datetime.strptime(value[:19], "%Y-%m-%d %H:%M:%S")
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    moment: datetime = value if value.tzinfo is not None else value.replace(tzinfo=IST)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def price(value: Any) -> float | None:
    """A Kite price as the engine takes it (at most 4 decimals); Kite's 0 means none."""
    if value is None:
        return None
    number = round(float(value), 4)
    return number if number > 0 else None


def engine_status(order: JSON) -> str:
    status = str(order.get("status") or "")
    if status == "COMPLETE":
        return "FILLED"
    if status.startswith("CANCELLED"):
        return "CANCELLED"
    if status == "REJECTED":
        return "REJECTED"
    if status in UNCONFIRMED:
        return "PENDING"
    return "PARTIALLY_FILLED" if int(order.get("filled_quantity") or 0) > 0 else "OPEN"


def refusal(request: JSON) -> str | None:
    """Why Kite would not take this ``order.new`` at all, in the words of its InputException;
    None when it is Kite's to judge."""
    if request.get("exchange") not in EXCHANGES:
        return "Invalid `exchange`."
    if request.get("transaction_type") not in ("BUY", "SELL"):
        return "Invalid `transaction_type`."
    quantity = request.get("quantity")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
        return "Invalid `quantity`."
    if request.get("product") not in PRODUCTS:
        return "Invalid `product`."
    order_type = request.get("order_type")
    if order_type not in ORDER_TYPES:
        return "Invalid `order_type`."
    validity = request.get("validity") or "DAY"
    if validity not in VALIDITIES:
        return "Invalid `validity`."
    if validity == "TTL" and not isinstance(request.get("validity_ttl"), int):
        return "Invalid `validity_ttl`: TTL orders need a validity in minutes."
    if order_type in ("LIMIT", "SL") and not (price(request.get("price")) or 0) > 0:
        return "Invalid `price`."
    if order_type in ("SL", "SL-M") and not (price(request.get("trigger_price")) or 0) > 0:
        return "Invalid `trigger_price`."
    return None


@dataclass
class Tracked:
    """An engine order at Kite, and what has been reported of it."""

    order_id: str
    tag: str
    symbol: str
    exchange: str
    side: str
    order_type: str
    quantity: int
    price: float | None
    trigger_price: float | None
    broker_order_id: str | None = None
    accepted: bool = False
    ended: bool = False
    execs: set[str] = field(default_factory=set)
    filled: int = 0
    modifications: int = 0
    cancel_reason: str | None = None
    # When Kite's answer to its placement was lost (every retry timed out or failed, the look-up
    # by tag too): it may be at Kite or not. Each poll looks for it by its tag; after
    # UNRESOLVED_SECONDS without it, it is reported rejected.
    unresolved_since: float | None = None
    # A cancel that came while unresolved: carried out once the order book shows the order.
    cancel_wanted: bool = False


class KiteCalls:
    """The SDK's calls behind Kite's rate limits, with retries and Kite's errors sorted into
    SessionExpired / Transient / Refused."""

    def __init__(self, kite: Any, sleep: Callable[[float], None] = time.sleep) -> None:
        self.kite = kite
        self.place_limit = RateLimiter(PLACE_LIMITS)
        self.write_limit = RateLimiter(WRITE_LIMITS)
        self.read_limit = RateLimiter(READ_LIMITS)
        self._sleep = sleep

    def call(self, limiter: RateLimiter | None, name: str, *args: Any, retry: bool = True, **kwargs: Any) -> Any:
        """``kite.<name>(*args, **kwargs)`` once ``limiter`` lets it go (None: the caller has
        waited already), retried on transient failures unless ``retry`` is False."""
        method = getattr(self.kite, name)
        last, code = "", 0
        for attempt in range(len(RETRY_DELAYS) + 1):
            if limiter is not None:
                limiter.acquire()
            try:
                return method(*args, **kwargs)
            except kex.TokenException as error:
                raise SessionExpired(str(error)) from None
            except (kex.NetworkException, kex.DataException, kex.GeneralException) as error:
                transient = isinstance(error, (kex.NetworkException, kex.DataException)) or error.code >= 500 \
                    or error.code == 429
                if not transient:
                    raise Refused(str(error)) from None
                last, code = f"{type(error).__name__} {error.code}: {error}", int(error.code)
            except kex.KiteException as error:  # InputException, OrderException, ...
                raise Refused(str(error)) from None
            except (requests.ConnectionError, requests.Timeout) as error:
                last, code = type(error).__name__, 0
            if not retry or attempt == len(RETRY_DELAYS):
                break
            log.warning("kite %s: %s; retrying in %.1f s", name, last, RETRY_DELAYS[attempt])
            self._sleep(RETRY_DELAYS[attempt])
        raise Transient(last, code)


class KiteAdapter:
    """One Kite account (one engine broker id) behind the gateway."""

    def __init__(self, broker_id: str, sink: LinkSink, settings: KiteSection) -> None:
        self.broker_id = broker_id
        self.sink = sink
        self.settings = settings
        self.use_ticker = settings.order_updates
        self.kite: Any = None
        self.calls: KiteCalls | None = None
        self._api_key = ""
        self._token = ""
        self._expired = False
        self._expired_reason = ""
        self._credentials: JSON | None = None
        self._lock = threading.Lock()
        self._ticker: Any = None
        self._ticker_live = False
        self.orders: dict[str, Tracked] = {}          # engine order_id ->
        self._by_broker: dict[str, Tracked] = {}      # Kite order_id ->
        self._by_tag: dict[str, Tracked] = {}
        self._held: list[tuple[str, JSON]] = []       # modify/cancel waiting for a session
        self._last_funds = 0.0
        self._worker = AdapterWorker(f"kite-{broker_id[:8]}", self._handle, self._tick, settings.poll_seconds,
                                     placement_delay=self._placement_delay)

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
        self._close_ticker()
        self._worker.stop()

    def _placement_delay(self) -> float:
        """Seconds until Kite's order-rate windows take the next placement. One that would wait
        past MAX_PLACE_WAIT (the daily cap) goes at once, to be rejected with that reason."""
        calls = self.calls
        delay = calls.place_limit.delay() if calls is not None else 0.0
        return 0.0 if delay > MAX_PLACE_WAIT else delay

    # -- the broker's thread ---------------------------------------------------------------------
    def _scrub(self, text: str) -> str:
        for secret in (self._token, self._api_key):
            if secret:
                text = text.replace(secret, "***")
        return text

    def _handle(self, kind: str, message: JSON) -> None:
        try:
            if kind == "start":
                self._start()
            elif kind == "update":
                self._update(message)
            elif kind == "order.withdrawn":  # cancelled while its placement waited: never sent
                self.sink.report({"type": "cancelled", "order_id": message["order_id"],
                                  "reason": message.get("reason") or "cancelled by the engine"})
                log.info("order %s cancelled before it was sent to Kite", message["order_id"])
            elif self.calls is None:
                log.error("broker %s: %s before any credentials", self.broker_id, kind)
            elif kind == "order.new":
                self._place(message)
            elif kind == "order.modify":
                self._modify(message)
            elif kind == "order.cancel":
                self._cancel(message)
            elif kind == "reconcile.request":
                if self._expired:  # not Kite again with a refused token at every resend
                    self.sink.reconcile(message["request_id"], self.broker_id, None,
                                        f"Kite session expired: {self._expired_reason}")
                else:
                    self._reconcile(message)
        except SessionExpired as error:
            self._expire(str(error))
            if kind == "order.new":
                self.sink.report({"type": "rejected", "order_id": message["order_id"],
                                  "reason": f"Kite session expired: {self._scrub(str(error))}"})
            elif kind in ("order.modify", "order.cancel"):
                self._held.append((kind, message))
            elif kind == "reconcile.request":
                self.sink.reconcile(message["request_id"], self.broker_id, None,
                                    f"Kite session expired: {self._scrub(str(error))}")

    def _start(self) -> None:
        with self._lock:
            credentials, self._credentials = self._credentials or {}, None
        api_key, token = credentials.get("api_key"), credentials.get("access_token")
        if not isinstance(api_key, str) or not isinstance(token, str) or not api_key or not token:
            log.error("broker %s: its credentials lack api_key or access_token (algotrader broker login makes the "
                      "access token)", self.broker_id)
            self._expire("no access_token in the credentials")
            return
        renewed = token != self._token or api_key != self._api_key
        if not renewed and self._expired:
            log.warning("broker %s: the welcome brought the same access token, which Kite refused; still expired",
                        self.broker_id)
            return
        if renewed:
            self._api_key, self._token = api_key, token
            self.kite = KiteConnect(api_key, access_token=token, root=self.settings.root)
            if self.calls is None:
                self.calls = KiteCalls(self.kite)
            else:
                self.calls.kite = self.kite  # the limits are the account's: keep their windows
            self._connect_ticker()
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
            log.warning("broker %s: reading Kite after the welcome failed: %s", self.broker_id, self._scrub(str(error)))

    def _expire(self, reason: str) -> None:
        reason = self._scrub(reason)
        if not self._expired:
            self._expired, self._expired_reason = True, reason
            self.sink.session(self.broker_id, "expired", reason)
            self._close_ticker()

    def _tick(self) -> None:
        if self.calls is None or self._expired:
            return
        try:
            self._poll()
            self._give_up_unresolved()
            # Without the order-update stream (down, or refused with 403 because the day's token
            # ended) and with no order working, nothing else reads Kite: the funds read doubles as
            # the session probe, so an expiry is told to the engine within poll_seconds, not at
            # the next order.
            probe = not self._ticker_live and time.monotonic() - self._last_funds >= self.settings.poll_seconds
            if probe or time.monotonic() - self._last_funds >= FUNDS_SECONDS:
                self._send_funds()
        except SessionExpired as error:
            self._expire(str(error))
        except (Transient, Refused) as error:
            log.warning("broker %s: polling Kite failed: %s", self.broker_id, self._scrub(str(error)))

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
                                  "reason": f"Kite could not be reached when it was placed, and its order book has not shown it "
                                            f"(tag {tracked.tag}) in {UNRESOLVED_SECONDS:.0f} s"})

    def _send_funds(self) -> None:
        assert self.calls is not None
        margins = self.calls.call(self.calls.read_limit, "margins", "equity")
        cash = (margins.get("available") or {}).get("cash")
        if isinstance(cash, (int, float)):
            self.sink.funds(self.broker_id, round(float(cash), 4))
        self._last_funds = time.monotonic()

    def _poll(self) -> None:
        """The order book read as if every order's update had come again (the safety net)."""
        if not any(not t.ended for t in self.orders.values()):
            return
        assert self.calls is not None
        for order in self.calls.call(self.calls.read_limit, "orders"):
            self._update(order)

    # -- orders ----------------------------------------------------------------------------------
    def _place(self, request: JSON) -> None:
        assert self.calls is not None
        order_id = request["order_id"]
        tag = kite_tag(order_id)
        known = self.orders.get(order_id) or self._by_tag.get(tag)
        if known is not None:  # placed before (a restart, or a resend after reconciliation)
            known.order_id = order_id
            self.orders[order_id] = known
            log.info("order %s is already at Kite as %s: not placed again", order_id, known.broker_order_id)
            if known.accepted:
                self.sink.report({"type": "accepted", "order_id": order_id, "broker_order_id": known.broker_order_id})
            return
        why = refusal(request)
        if why is not None:
            self.sink.report({"type": "rejected", "order_id": order_id, "reason": why})
            return
        order_type = request["order_type"]
        params: JSON = {"variety": VARIETY, "exchange": request["exchange"], "tradingsymbol": request["symbol"],
                        "transaction_type": request["transaction_type"], "quantity": request["quantity"],
                        "product": request["product"], "order_type": order_type,
                        "validity": request.get("validity") or "DAY", "tag": tag}
        if order_type in ("LIMIT", "SL"):
            params["price"] = price(request["price"])
        if order_type in ("SL", "SL-M"):
            params["trigger_price"] = price(request["trigger_price"])
        if order_type in ("MARKET", "SL-M"):
            # Kite rejects these without market protection (for API orders since 2025).
            params["market_protection"] = self.settings.market_protection
        if params["validity"] == "TTL":
            params["validity_ttl"] = request["validity_ttl"]
        if request.get("algo_id"):
            params["algo_id"] = request["algo_id"]
        tracked = Tracked(order_id=order_id, tag=tag, symbol=request["symbol"], exchange=request["exchange"],
                          side=request["transaction_type"], order_type=order_type, quantity=request["quantity"],
                          price=params.get("price"), trigger_price=params.get("trigger_price"))
        try:
            broker_order_id = self._place_once(params, tag)
        except Refused as error:
            self.sink.report({"type": "rejected", "order_id": order_id, "reason": self._scrub(str(error))})
            return
        except LimitExhausted:
            self.sink.report({"type": "rejected", "order_id": order_id,
                              "reason": "Kite's limit of 3,000 orders a day for this account is reached"})
            return
        except Transient as error:
            if error.code == 429:  # Kite refused it for the rate: certainly not placed
                self.sink.report({"type": "rejected", "order_id": order_id,
                                  "reason": f"Kite could not take it: {self._scrub(str(error))}"})
                return
            # Kite may hold it: a rejection now would end an order that might be live, and its
            # fills would go unreported. The poll looks for it by its tag.
            tracked.unresolved_since = time.monotonic()
            self.orders[order_id] = tracked
            self._by_tag[tag] = tracked
            log.warning("order %s: Kite's answer to its placement was lost (%s); looking for it by its tag %s at each poll",
                        order_id, self._scrub(str(error)), tag)
            return
        tracked.broker_order_id = broker_order_id
        self.orders[order_id] = tracked
        self._by_broker[broker_order_id] = tracked
        self._by_tag[tag] = tracked
        log.info("order %s placed at Kite as %s", order_id, broker_order_id)
        if not self._ticker_live:
            self._refresh(tracked)

    def _place_once(self, params: JSON, tag: str) -> str:
        """Places the order exactly once: a placement whose answer was lost (timeout, 5xx) is
        looked for in the order book by its tag before it is sent again; a 429 was not placed."""
        assert self.calls is not None
        for attempt in range(len(RETRY_DELAYS) + 1):
            self.calls.place_limit.acquire(max_wait=MAX_PLACE_WAIT)
            try:
                return str(self.calls.call(None, "place_order", retry=False, **params))
            except Transient as error:
                if attempt == len(RETRY_DELAYS):
                    raise
                if error.code != 429:
                    for order in self.calls.call(self.calls.read_limit, "orders"):
                        if order.get("tag") == tag:
                            return str(order["order_id"])
                log.warning("kite place_order: %s; retrying in %.1f s", error, RETRY_DELAYS[attempt])
                time.sleep(RETRY_DELAYS[attempt])
        raise Transient("unreachable")

    def _refresh(self, tracked: Tracked) -> None:
        """Reads one order's latest state (when no WebSocket update will tell it)."""
        assert self.calls is not None and tracked.broker_order_id is not None
        try:
            history = self.calls.call(self.calls.read_limit, "order_history", tracked.broker_order_id)
        except (Transient, Refused) as error:
            log.warning("order %s: reading its state failed: %s (the poll will)", tracked.order_id, error)
            return
        if history:
            self._update(history[-1])

    def _modify(self, request: JSON) -> None:
        assert self.calls is not None
        tracked = self.orders.get(request["order_id"])
        if tracked is None or tracked.broker_order_id is None or tracked.ended:
            log.warning("order.modify for order %s, which is %s at Kite: nothing to modify", request["order_id"],
                        "not" if tracked is None else "ended")
            return
        if tracked.modifications >= MAX_MODIFICATIONS:
            log.warning("order.modify for order %s refused: Maximum allowed order modifications exceeded (Kite "
                        "allows %d)", tracked.order_id, MAX_MODIFICATIONS)
            return
        params: JSON = {}
        if isinstance(request.get("quantity"), int) and request["quantity"] > 0:
            params["quantity"] = request["quantity"]
        if tracked.order_type in ("LIMIT", "SL") and price(request.get("price")):
            params["price"] = price(request["price"])
        if tracked.order_type in ("SL", "SL-M") and price(request.get("trigger_price")):
            params["trigger_price"] = price(request["trigger_price"])
        if not params:
            log.warning("order.modify for order %s changes nothing Kite can change", tracked.order_id)
            return
        try:
            self.calls.call(self.calls.write_limit, "modify_order", VARIETY, tracked.broker_order_id, **params)
        except (Refused, Transient) as error:
            log.warning("order.modify for order %s refused by Kite: %s", tracked.order_id, self._scrub(str(error)))
            self._refresh(tracked)
            return
        tracked.modifications += 1
        tracked.quantity = params.get("quantity", tracked.quantity)
        tracked.price = params.get("price", tracked.price)
        tracked.trigger_price = params.get("trigger_price", tracked.trigger_price)
        self.sink.report({"type": "modified", "order_id": tracked.order_id, "broker_order_id": tracked.broker_order_id,
                          "quantity": tracked.quantity, "price": tracked.price, "trigger_price": tracked.trigger_price})
        if not self._ticker_live:
            self._refresh(tracked)

    def _cancel(self, request: JSON) -> None:
        assert self.calls is not None
        tracked = self.orders.get(request["order_id"])
        if tracked is not None and tracked.broker_order_id is None and tracked.unresolved_since is not None and not tracked.ended:
            tracked.cancel_reason = request.get("reason") or "cancelled by the engine"
            tracked.cancel_wanted = True
            log.warning("order.cancel for order %s, whose placement's answer was lost: cancelled once Kite's book shows it",
                        tracked.order_id)
            return
        if tracked is None or tracked.broker_order_id is None:
            log.warning("order.cancel for order %s, which this gateway did not place (or Kite refused)",
                        request["order_id"])
            return
        if tracked.ended:
            return  # its last report (filled, cancelled, rejected) was sent already
        tracked.cancel_reason = request.get("reason") or "cancelled by the engine"
        try:
            self.calls.call(self.calls.write_limit, "cancel_order", VARIETY, tracked.broker_order_id)
        except (Refused, Transient) as error:
            log.warning("order.cancel for order %s refused by Kite: %s", tracked.order_id, self._scrub(str(error)))
            self._refresh(tracked)  # it may have filled meanwhile: report what it is
            return
        if not self._ticker_live:
            self._refresh(tracked)

    def _update(self, order: JSON) -> None:
        """One Kite order's state (a WebSocket update, the order book, an order's history) turned
        into the reports the engine has not had yet."""
        broker_order_id = str(order.get("order_id") or "")
        tracked = self._by_broker.get(broker_order_id) or self._by_tag.get(str(order.get("tag") or ""))
        if tracked is None or tracked.ended:
            return
        found = tracked.broker_order_id is None
        if found:
            tracked.broker_order_id = broker_order_id
            self._by_broker[broker_order_id] = tracked
        status = str(order.get("status") or "")
        if found and tracked.cancel_wanted and status not in ENDED and status != "REJECTED":
            tracked.cancel_wanted = False
            log.info("order %s found at Kite as %s: carrying out the cancel that waited for it", tracked.order_id, broker_order_id)
            self._cancel({"order_id": tracked.order_id, "reason": tracked.cancel_reason})
        if status == "REJECTED":
            tracked.ended = True
            self.sink.report({"type": "rejected", "order_id": tracked.order_id, "broker_order_id": broker_order_id,
                              "reason": str(order.get("status_message") or "rejected by Kite")})
            return
        if status in UNCONFIRMED:
            return
        if not tracked.accepted:
            tracked.accepted = True
            self.sink.report({"type": "accepted", "order_id": tracked.order_id, "broker_order_id": broker_order_id})
        if status not in ENDED:
            new = (int(order.get("quantity") or tracked.quantity), price(order.get("price")),
                   price(order.get("trigger_price")))
            if new != (tracked.quantity, tracked.price, tracked.trigger_price):
                tracked.quantity, tracked.price, tracked.trigger_price = new
                self.sink.report({"type": "modified", "order_id": tracked.order_id, "broker_order_id": broker_order_id,
                                  "quantity": new[0], "price": new[1], "trigger_price": new[2]})
        if int(order.get("filled_quantity") or 0) > tracked.filled:
            self._sync_trades(tracked)
        if status == "COMPLETE" and tracked.filled >= int(order.get("filled_quantity") or 0):
            tracked.ended = True
        elif status.startswith("CANCELLED") and tracked.filled >= int(order.get("filled_quantity") or 0):
            tracked.ended = True
            self.sink.report({"type": "cancelled", "order_id": tracked.order_id, "broker_order_id": broker_order_id,
                              "reason": str(order.get("status_message") or tracked.cancel_reason or "cancelled at Kite")})

    def _sync_trades(self, tracked: Tracked) -> None:
        """Reports the order's trades not reported yet (the trade book may lag the order book by
        a moment: what is missing now is found at the next update or poll)."""
        assert self.calls is not None and tracked.broker_order_id is not None
        try:
            trades = self.calls.call(self.calls.read_limit, "order_trades", tracked.broker_order_id)
        except (Transient, Refused) as error:
            log.warning("order %s: reading its trades failed: %s (the poll will)", tracked.order_id, error)
            return
        for trade in trades:
            self._fill(tracked, trade)

    def _fill(self, tracked: Tracked, trade: JSON) -> None:
        assert tracked.broker_order_id is not None
        ident = exec_id(tracked.broker_order_id, trade["trade_id"])
        if ident in tracked.execs:
            return
        tracked.execs.add(ident)
        quantity = int(trade["quantity"])
        tracked.filled += quantity
        report: JSON = {"type": "fill", "order_id": tracked.order_id, "broker_order_id": tracked.broker_order_id,
                        "exec_id": ident, "fill_quantity": quantity, "fill_price": price(trade["average_price"])}
        ts = rfc3339(trade.get("fill_timestamp") or trade.get("exchange_timestamp"))
        if ts is not None:
            report["ts"] = ts
        self.sink.report(report)

    # -- reconciliation --------------------------------------------------------------------------
    def _reconcile(self, request: JSON) -> None:
        assert self.calls is not None
        request_id = request["request_id"]
        try:
            book, trades, positions = self._consistent_read()
        except (Transient, Refused) as error:
            self.sink.reconcile(request_id, self.broker_id, None, f"Kite could not be read: {self._scrub(str(error))}")
            return
        engine_by_tag: dict[str, str] = {}
        engine_by_broker: dict[str, str] = {}
        for order in request.get("orders") or []:
            if isinstance(order, dict) and isinstance(order.get("order_id"), str):
                engine_by_tag[kite_tag(order["order_id"])] = order["order_id"]
                if order.get("broker_order_id"):
                    engine_by_broker[str(order["broker_order_id"])] = order["order_id"]
        for tracked in self.orders.values():
            engine_by_tag.setdefault(tracked.tag, tracked.order_id)
        owner: dict[str, str | None] = {}
        orders: list[JSON] = []
        for order in book:
            broker_order_id = str(order["order_id"])
            order_id = engine_by_broker.get(broker_order_id) or engine_by_tag.get(str(order.get("tag") or ""))
            owner[broker_order_id] = order_id
            row: JSON = {"broker_order_id": broker_order_id, "order_id": order_id, "status": engine_status(order),
                         "symbol": order["tradingsymbol"], "exchange": order["exchange"],
                         "transaction_type": order["transaction_type"], "quantity": int(order["quantity"]),
                         "filled_quantity": int(order.get("filled_quantity") or 0), "price": price(order.get("price")),
                         "trigger_price": price(order.get("trigger_price"))}
            if order.get("status_message"):
                row["reason"] = str(order["status_message"])
            orders.append(row)
        executions: list[JSON] = []
        for trade in trades:
            broker_order_id = str(trade["order_id"])
            row = {"exec_id": exec_id(broker_order_id, trade["trade_id"]), "broker_order_id": broker_order_id,
                   "order_id": owner.get(broker_order_id), "symbol": trade["tradingsymbol"],
                   "exchange": trade["exchange"], "transaction_type": trade["transaction_type"],
                   "fill_quantity": int(trade["quantity"]), "fill_price": price(trade["average_price"])}
            ts = rfc3339(trade.get("fill_timestamp") or trade.get("exchange_timestamp"))
            if ts is not None:
                row["ts"] = ts
            executions.append(row)
        # The day positions: what today's trades moved, as the engine compares (docs/protocol.md).
        net = [{"symbol": p["tradingsymbol"], "exchange": p["exchange"], "product": p["product"],
                "quantity": int(p["quantity"])} for p in (positions or {}).get("day", []) if int(p["quantity"]) != 0]
        self._adopt(book, trades, owner)
        self.sink.reconcile(request_id, self.broker_id, Snapshot(orders=orders, executions=executions, positions=net))

    def _consistent_read(self) -> tuple[list[JSON], list[JSON], Any]:
        """The order book, trade book and positions as of one moment, as far as three calls can
        be: the trade book is read before and after the other two, and all of it again (up to 3
        times) when a fill landed in between, since a trade without its order's new
        filled_quantity, or a position without its trade, reads as a difference that halts the
        broker. The order book is also checked against the trades it should show."""
        assert self.calls is not None
        for attempt in range(3):
            before = self.calls.call(self.calls.read_limit, "trades")
            book = self.calls.call(self.calls.read_limit, "orders")
            positions = self.calls.call(self.calls.read_limit, "positions")
            trades = self.calls.call(self.calls.read_limit, "trades")
            filled: dict[str, int] = {}
            for trade in trades:
                filled[str(trade["order_id"])] = filled.get(str(trade["order_id"]), 0) + int(trade["quantity"])
            agrees = all(filled.get(str(o["order_id"]), 0) == int(o.get("filled_quantity") or 0) for o in book)
            same = {(t["order_id"], t["trade_id"]) for t in before} == {(t["order_id"], t["trade_id"]) for t in trades}
            if same and agrees:
                return book, trades, positions
            log.info("broker %s: a fill landed while Kite was read for reconciliation; reading again (%d)", self.broker_id,
                     attempt + 1)
            time.sleep(0.5)  # the trade book may lag the order book by a moment
        return book, trades, positions

    def _adopt(self, book: list[JSON], trades: list[JSON], owner: dict[str, str | None]) -> None:
        """Tracks the engine's orders found at Kite that this process did not place (it
        restarted): their executions in the snapshot are the engine's now, later ones are
        reported; a repeated order.new for one of them is not placed again."""
        for order in book:
            broker_order_id = str(order["order_id"])
            order_id = owner.get(broker_order_id)
            if order_id is None or broker_order_id in self._by_broker:
                continue
            tracked = Tracked(order_id=order_id, tag=kite_tag(order_id), symbol=order["tradingsymbol"],
                              exchange=order["exchange"], side=order["transaction_type"],
                              order_type=order["order_type"], quantity=int(order["quantity"]),
                              price=price(order.get("price")), trigger_price=price(order.get("trigger_price")),
                              broker_order_id=broker_order_id, accepted=order.get("status") not in UNCONFIRMED,
                              ended=order.get("status") in ENDED)
            for trade in trades:
                if str(trade["order_id"]) == broker_order_id:
                    tracked.execs.add(exec_id(broker_order_id, trade["trade_id"]))
                    tracked.filled += int(trade["quantity"])
            self.orders[order_id] = tracked
            self._by_broker[broker_order_id] = tracked
            self._by_tag[tracked.tag] = tracked

    # -- the order-update WebSocket ---------------------------------------------------------------
    def _connect_ticker(self) -> None:
        if not self.use_ticker:
            return
        self._close_ticker()
        ticker = VerifiedKiteTicker(self._api_key, self._token, root=self.settings.ws_root, reconnect_max_delay=10)
        ticker.on_order_update = lambda ws, data: self._worker.put("update", dict(data))
        ticker.on_connect = lambda ws, response: self._ticker_state(True)
        ticker.on_close = lambda ws, code, reason: self._ticker_state(False, f"closed: {code} {reason}")
        ticker.on_error = lambda ws, code, reason: self._ticker_state(False, f"error: {code} {reason}")
        self._ticker = ticker
        _start_ticker(ticker)

    def _ticker_state(self, live: bool, why: str = "") -> None:
        self._ticker_live = live
        if live:
            log.info("broker %s: Kite order updates connected", self.broker_id)
        else:
            log.warning("broker %s: Kite order updates %s (the order book is polled meanwhile)", self.broker_id,
                        self._scrub(why))

    def _close_ticker(self) -> None:
        ticker, self._ticker = self._ticker, None
        self._ticker_live = False
        if ticker is not None:
            reactor().callFromThread(ticker.close)


def _start_ticker(ticker: Any) -> None:
    """Connects a ticker on the process's one reactor (Twisted's calls are not thread-safe)."""
    start_reactor()
    reactor().callFromThread(ticker.connect)
