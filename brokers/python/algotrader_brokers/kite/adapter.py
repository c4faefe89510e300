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
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import requests
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kex

from ..adapter import JSON, LinkSink
from ..config import KiteSection
from ..ratelimit import RateLimiter
from ..tracked_orders import TrackedOrdersAdapter
from ..broker_orders import (CANCELLED, COMPLETE, REJECTED, RETRY_DELAYS, UNCONFIRMED, WORKING, BrokerOrder,
                              BrokerTrade, Refused, SessionExpired, Tracked, Transient, order_tag,
                              price)
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
KITE_UNCONFIRMED = ("PUT ORDER REQ RECEIVED", "VALIDATION PENDING", "OPEN PENDING")

# Kite's limits (see the module's docstring for the sources).
PLACE_LIMITS = ((1.0, 10), (60.0, 200), (86400.0, 3000))
WRITE_LIMITS = ((1.0, 10),)
READ_LIMITS = ((1.0, 3),)
MAX_MODIFICATIONS = 25

kite_tag = order_tag  # Kite's ``tag``: the tests and the docs know it by this name


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


def broker_order(order: JSON) -> BrokerOrder:
    """A Kite order (the order book, an order's history, an order update) in the engine's words."""
    status = str(order.get("status") or "")
    if status == "COMPLETE":
        state = COMPLETE
    elif status.startswith("CANCELLED"):
        state = CANCELLED
    elif status == "REJECTED":
        state = REJECTED
    elif status in KITE_UNCONFIRMED:
        state = UNCONFIRMED
    else:
        state = WORKING
    return BrokerOrder(broker_order_id=str(order.get("order_id") or ""), tag=str(order.get("tag") or ""), state=state,
                       symbol=str(order.get("tradingsymbol") or ""), exchange=str(order.get("exchange") or ""),
                       side=str(order.get("transaction_type") or ""), order_type=str(order.get("order_type") or ""),
                       quantity=int(order.get("quantity") or 0), filled=int(order.get("filled_quantity") or 0),
                       price=price(order.get("price")), trigger_price=price(order.get("trigger_price")),
                       reason=str(order["status_message"]) if order.get("status_message") else None,
                       settled=status not in ("MODIFY PENDING", "MODIFY VALIDATION PENDING"))


def broker_trade(trade: JSON) -> BrokerTrade:
    return BrokerTrade(broker_order_id=str(trade["order_id"]), trade_id=str(trade["trade_id"]),
                       symbol=str(trade.get("tradingsymbol") or ""), exchange=str(trade.get("exchange") or ""),
                       side=str(trade.get("transaction_type") or ""), quantity=int(trade["quantity"]),
                       price=price(trade["average_price"]),
                       ts=rfc3339(trade.get("fill_timestamp") or trade.get("exchange_timestamp")))


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


class KiteAdapter(TrackedOrdersAdapter):
    """One Kite account (one engine broker id) behind the gateway."""

    broker_name = "Kite"
    max_modifications = MAX_MODIFICATIONS

    def __init__(self, broker_id: str, sink: LinkSink, settings: KiteSection) -> None:
        self.settings = settings
        self.use_ticker = settings.order_updates
        self.kite: Any = None
        self.calls: KiteCalls | None = None
        self._api_key = ""
        self._token = ""
        self._ticker: Any = None
        super().__init__(broker_id, sink, settings.poll_seconds, "kite")

    # -- the broker ------------------------------------------------------------------------------
    def _open(self, credentials: JSON) -> bool | None:
        api_key, token = credentials.get("api_key"), credentials.get("access_token")
        if not isinstance(api_key, str) or not isinstance(token, str) or not api_key or not token:
            log.error("broker %s: its credentials lack api_key or access_token (algotrader broker login makes the "
                      "access token)", self.broker_id)
            self._unusable_reason = "no access_token in the credentials"
            return None
        if token == self._token and api_key == self._api_key:
            return False
        self._api_key, self._token = api_key, token
        self.kite = KiteConnect(api_key, access_token=token, root=self.settings.root)
        if self.calls is None:
            self.calls = KiteCalls(self.kite)
            self.place_limits = (self.calls.place_limit,)
        else:
            self.calls.kite = self.kite  # the limits are the account's: keep their windows
        return True

    def _secrets(self) -> tuple[str, ...]:
        return (self._token, self._api_key)

    def _refusal(self, request: JSON) -> str | None:
        return refusal(request)

    def _new_tracked(self, request: JSON, tag: str) -> Tracked:
        order_type = request["order_type"]
        return Tracked(order_id=request["order_id"], tag=tag, symbol=request["symbol"], exchange=request["exchange"],
                       side=request["transaction_type"], order_type=order_type, quantity=request["quantity"],
                       price=price(request["price"]) if order_type in ("LIMIT", "SL") else None,
                       trigger_price=price(request["trigger_price"]) if order_type in ("SL", "SL-M") else None)

    def _send_order(self, request: JSON, tracked: Tracked) -> str:
        assert self.calls is not None
        params: JSON = {"variety": VARIETY, "exchange": request["exchange"], "tradingsymbol": request["symbol"],
                        "transaction_type": request["transaction_type"], "quantity": request["quantity"],
                        "product": request["product"], "order_type": tracked.order_type,
                        "validity": request.get("validity") or "DAY", "tag": tracked.tag}
        if tracked.price is not None:
            params["price"] = tracked.price
        if tracked.trigger_price is not None:
            params["trigger_price"] = tracked.trigger_price
        if tracked.order_type in ("MARKET", "SL-M"):
            # Kite rejects these without market protection (for API orders since 2025).
            params["market_protection"] = self.settings.market_protection
        if params["validity"] == "TTL":
            params["validity_ttl"] = request["validity_ttl"]
        if request.get("algo_id"):
            params["algo_id"] = request["algo_id"]
        return str(self.calls.call(None, "place_order", retry=False, **params))

    def _modify_changes(self, tracked: Tracked, request: JSON) -> JSON:
        changes: JSON = {}
        if isinstance(request.get("quantity"), int) and request["quantity"] > 0:
            changes["quantity"] = request["quantity"]
        if tracked.order_type in ("LIMIT", "SL") and price(request.get("price")):
            changes["price"] = price(request["price"])
        if tracked.order_type in ("SL", "SL-M") and price(request.get("trigger_price")):
            changes["trigger_price"] = price(request["trigger_price"])
        return changes

    def _send_modify(self, tracked: Tracked, changes: JSON) -> None:
        assert self.calls is not None
        self.calls.call(self.calls.write_limit, "modify_order", VARIETY, tracked.broker_order_id, **changes)

    def _send_cancel(self, tracked: Tracked) -> None:
        assert self.calls is not None
        self.calls.call(self.calls.write_limit, "cancel_order", VARIETY, tracked.broker_order_id)

    def _book(self) -> list[BrokerOrder]:
        assert self.calls is not None
        return [broker_order(o) for o in self.calls.call(self.calls.read_limit, "orders")]

    def _trades(self) -> list[BrokerTrade]:
        assert self.calls is not None
        return [broker_trade(t) for t in self.calls.call(self.calls.read_limit, "trades")]

    def _order_trades(self, tracked: Tracked, filled: int) -> list[BrokerTrade]:
        assert self.calls is not None
        return [broker_trade(t) for t in self.calls.call(self.calls.read_limit, "order_trades", tracked.broker_order_id)]

    def _order_state(self, tracked: Tracked) -> BrokerOrder | None:
        assert self.calls is not None
        history = self.calls.call(self.calls.read_limit, "order_history", tracked.broker_order_id)
        return broker_order(history[-1]) if history else None

    def _day_positions(self) -> list[JSON]:
        # The day positions: what today's trades moved, as the engine compares (docs/protocol.md).
        assert self.calls is not None
        positions = self.calls.call(self.calls.read_limit, "positions")
        return [{"symbol": p["tradingsymbol"], "exchange": p["exchange"], "product": p["product"],
                 "quantity": int(p["quantity"])} for p in (positions or {}).get("day", []) if int(p["quantity"]) != 0]

    def _funds(self) -> float | None:
        assert self.calls is not None
        margins = self.calls.call(self.calls.read_limit, "margins", "equity")
        cash = (margins.get("available") or {}).get("cash")
        return float(cash) if isinstance(cash, (int, float)) else None

    # -- the order-update WebSocket ---------------------------------------------------------------
    def _connect_stream(self) -> None:
        if not self.use_ticker:
            return
        self._close_stream()
        ticker = VerifiedKiteTicker(self._api_key, self._token, root=self.settings.ws_root, reconnect_max_delay=10)
        ticker.on_order_update = lambda ws, data: self.push_update(broker_order(dict(data)))
        ticker.on_connect = lambda ws, response: self._stream_state(True)
        ticker.on_close = lambda ws, code, reason: self._stream_state(False, f"closed: {code} {reason}")
        ticker.on_error = lambda ws, code, reason: self._stream_state(False, f"error: {code} {reason}")
        self._ticker = ticker
        _start_ticker(ticker)

    def _close_stream(self) -> None:
        ticker, self._ticker = self._ticker, None
        self._stream_live = False
        if ticker is not None:
            reactor().callFromThread(ticker.close)


def _start_ticker(ticker: Any) -> None:
    """Connects a ticker on the process's one reactor (Twisted's calls are not thread-safe)."""
    start_reactor()
    reactor().callFromThread(ticker.connect)
