"""ICICI Direct Breeze behind the gateway protocol, on the official SDK (``breeze-connect``, made
safe by sdk.py): ``place_order``, ``modify_order``, ``cancel_order``, ``get_order_detail``,
``get_order_list``, ``get_trade_list``, ``get_trade_detail`` and ``get_funds`` for orders and
books, and the order-notification socket (ICICI's livefeeds) as the prompt trigger, with a poll
of the open orders' books as the safety net (tracked_orders.py holds what every broker shares).

Orders. An ``order.new`` becomes ``place_order`` with ICICI's stock code and, for derivatives,
expiry, strike and right from the security master (securities.py maps the engine's names);
product ``cash`` for the engine's CNC on NSE and BSE, ``futures`` / ``options`` for NRML and MIS
on NFO and BFO (Breeze's F&O orders carry no intraday flag: the engine's own MIS square-off
applies). The engine's MIS on NSE/BSE is refused: Breeze 1.0.69 lists no intraday equity product
(its ``margin`` was withdrawn). Order types: LIMIT -> ``limit``; SL -> ``stoploss`` (price the
limit, ``stoploss`` the trigger); MARKET -> ``market``, which the SDK places as an "aggressive
limit" (SEBI's rules for retail algorithmic orders bar market orders through the API): it reads
the quote and sends a limit at the LTP plus (buy) or minus (sell) 3 % for cash, 1.5 % for
futures, 10 % for options, at least 0.05 / 0.05 / 5 rupees away, within the circuit limits and
rounded to the tick; SL-M is refused (Breeze has none). Validity ``day`` or ``ioc`` (TTL is
refused). ``user_remark`` carries the tag (the first 20 hex digits of the engine's order_id), by
which the order is found again after a restart. Breeze documents no algo-id field.

Reports. ``accepted`` once the order detail shows it "Ordered" (or past it), ``fill`` per row of
``get_trade_detail`` with ``exec_id`` = ``<order_id>:<trade_id>``, ``modified``, ``cancelled``,
``rejected`` (Breeze's order detail carries no rejection text: the reason says so).

Limits. ICICI allows 100 calls a minute per app key (and 5,000 a day); all calls are held to
that and 10 a second. Placements and modifies are held to 60 a minute and 8 a second, and the
safety-net poll and funds reads to 12 a minute (a poll that finds its window full is skipped,
not waited for, so it never delays a notification's read or a fill's), so cancels always have
room (a halt's cancels must get through). Past the limit, or on a connection failure, a read is
retried with backoff; an order call whose answer is lost (a timeout, a page that is not JSON)
may have been carried out: the order is looked for by its tag. A JSON refusal is final, with
ICICI's words.

Session. "Session key is expired.", "Resource not available." and other answers naming an
invalid or expired session send ``session expired``; a welcome with a new ``session_token``
brings it back. Credentials (the welcome's object): ``api_key``, ``api_secret`` (every call is
signed with it: the one secret a Breeze gateway holds) and ``session_token`` (what
``algotrader broker login`` stores).
"""
from __future__ import annotations

import logging
import threading
import time
import types
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from ..adapter import JSON, LinkSink
from ..broker_orders import (RETRY_DELAYS, BrokerOrder, BrokerTrade, Refused, SessionExpired, Tracked, Transient,
                             price)
from ..config import IciciSection
from ..ratelimit import LimitExhausted, RateLimiter
from ..tracked_orders import TrackedOrdersAdapter
from .orders import order_from_detail, trade_from_detail
from .sdk import BreezeURLs, make_breeze
from .securities import Security, SecurityMaster

log = logging.getLogger(__name__)

IST = timezone(timedelta(hours=5, minutes=30))
ORDER_TYPES = {"MARKET": "market", "LIMIT": "limit", "SL": "stoploss"}
VALIDITIES = {"DAY": "day", "IOC": "ioc"}
EXCHANGES = ("NSE", "BSE", "NFO", "BFO")
ALL_LIMITS = ((1.0, 10), (60.0, 100))
PLACE_LIMITS = ((1.0, 8), (60.0, 60))
POLL_LIMITS = ((60.0, 12),)
MAX_WRITE_WAIT = 61.0
SESSION_TEXTS = ("session key is expired", "resource not available", "session key is invalid", "invalid session",
                 "could not authenticate credentials")
EMPTY_TEXTS = ("no data found",)


def _is_session(text: str) -> bool:
    lowered = text.lower()
    return any(t in lowered for t in SESSION_TEXTS)


class BreezeCalls:
    """The SDK's calls behind ICICI's rate limits, with retries, and its answers sorted into
    SessionExpired / Transient / Refused (the SDK returns error answers as dicts and wraps
    transport failures in a plain Exception)."""

    def __init__(self, breeze: Any, sleep: Callable[[float], None] = time.sleep) -> None:
        self.breeze = breeze
        self.all_limit = RateLimiter(ALL_LIMITS)
        self.place_limit = RateLimiter(PLACE_LIMITS)
        # The safety-net poll and the funds read: skipped, never waited for, when full.
        self.poll_limit = RateLimiter(POLL_LIMITS)
        self._sleep = sleep

    def call(self, limiters: tuple[RateLimiter, ...], name: str, retry: bool = True, write: bool = False,
             **kwargs: Any) -> Any:
        """``breeze.<name>(**kwargs)``'s ``Success`` once every limiter lets it go (an empty
        tuple: the caller has waited already)."""
        method = getattr(self.breeze, name)
        last, code = "", 0
        for attempt in range(len(RETRY_DELAYS) + 1):
            try:
                for each in limiters:
                    each.acquire(max_wait=MAX_WRITE_WAIT if write else None)
            except LimitExhausted as error:
                raise Transient(f"ICICI Direct's rate windows are full ({error})", 429) from None
            try:
                return self.success(method(**kwargs), write)
            except Transient as error:
                last, code = str(error), error.code
            except (SessionExpired, Refused):
                raise
            except Exception as error:  # the SDK's wrapper of a transport failure or a non-JSON page
                last, code = f"{type(error).__name__}: {str(error)[:200]}", 502
            if not retry or attempt == len(RETRY_DELAYS):
                break
            log.warning("ICICI Direct %s: %s; retrying in %.1f s", name, last, RETRY_DELAYS[attempt])
            self._sleep(RETRY_DELAYS[attempt])
        raise Transient(last, code)

    @staticmethod
    def success(answer: Any, write: bool = False) -> Any:
        if not isinstance(answer, dict):
            raise Transient(f"an answer that is not Breeze's envelope: {str(answer)[:200]}", 502)
        status = answer.get("Status")
        error = str(answer.get("Error") or "")
        if status == 200 and not error:
            return answer.get("Success")
        if _is_session(error):
            raise SessionExpired(error)
        if status == 429 or "limit exceed" in error.lower():
            raise Transient(error or "rate limited", 429)
        if not write and any(t in error.lower() for t in EMPTY_TEXTS):
            return []
        if isinstance(status, int) and status >= 500 and not error:
            raise Transient(f"status {status} without an error", 502)
        raise Refused(error or f"refused (status {status})")


class IciciAdapter(TrackedOrdersAdapter):
    """One ICICI Direct account (one engine broker id) behind the gateway."""

    broker_name = "ICICI Direct"

    def __init__(self, broker_id: str, sink: LinkSink, settings: IciciSection, securities: SecurityMaster,
                 sdk: types.ModuleType) -> None:
        self.settings = settings
        self.securities = securities
        self.sdk = sdk
        self.calls: BreezeCalls | None = None
        self._session_key: tuple[str, str, str] | None = None
        self._secret_values: tuple[str, ...] = ()
        self._fills: dict[str, list[BrokerTrade]] = {}   # ICICI order id -> its trade detail as last read
        self._socket: Any = None
        self._sides: dict[str, str] = {}   # ICICI order id -> BUY/SELL, from the trade list (orders not tracked)
        super().__init__(broker_id, sink, settings.poll_seconds, "icici")

    # -- the broker ------------------------------------------------------------------------------
    def _open(self, credentials: JSON) -> bool | None:
        fields = {k: credentials.get(k) for k in ("api_key", "api_secret", "session_token")}
        missing = [k for k, v in fields.items() if not isinstance(v, str) or not v]
        if missing:
            log.error("broker %s: its credentials lack %s (algotrader broker login stores the session token)",
                      self.broker_id, ", ".join(missing))
            self._unusable_reason = f"no {', '.join(missing)} in the credentials (run algotrader broker login)"
            return None
        api_key, secret, token = (str(fields[k]) for k in ("api_key", "api_secret", "session_token"))
        key = (api_key, secret, token)
        if key == self._session_key:
            return False
        try:
            breeze = make_breeze(self.sdk, api_key, secret, token,
                                 BreezeURLs(api=self.settings.api_url, stream=self.settings.stream_url,
                                            order_feed=self.settings.order_feed_url))
        except ValueError as error:
            self._unusable_reason = f"{error} (run algotrader broker login)"
            return None
        self._session_key = key
        self._secret_values = (secret, token, str(breeze.session_key), api_key)
        if self.calls is None:
            self.calls = BreezeCalls(breeze)
            self.place_limits = (self.calls.place_limit, self.calls.all_limit)
        else:
            self.calls.breeze = breeze  # the limits are the app key's: keep their windows
        return True

    def _secrets(self) -> tuple[str, ...]:
        return self._secret_values

    def _refusal(self, request: JSON) -> str | None:
        exchange = request.get("exchange")
        if exchange not in EXCHANGES:
            return f"ICICI Direct's Breeze does not trade on exchange {exchange!r} (it takes {', '.join(EXCHANGES)})"
        if request.get("transaction_type") not in ("BUY", "SELL"):
            return "Action should be either 'buy' or 'sell'"
        quantity = request.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
            return "Quantity should be greater than 0"
        product = request.get("product")
        if exchange in ("NSE", "BSE"):
            if product == "MIS":
                return ("ICICI Direct's Breeze API takes no intraday (MIS) equity orders: its margin product is "
                        "withdrawn; use CNC")
            if product != "CNC":
                return f"{product} is for derivatives: equities at ICICI Direct are CNC (cash)"
        elif product not in ("NRML", "MIS"):
            return f"{product} is for equities: derivatives at ICICI Direct are NRML or MIS (futures, options)"
        order_type = request.get("order_type")
        if order_type == "SL-M":
            return "ICICI Direct's Breeze has no stop-loss market order (SL-M): use SL with a limit price"
        if order_type not in ORDER_TYPES:
            return "Order type should be either 'limit', 'market' or 'stoploss'"
        validity = request.get("validity") or "DAY"
        if validity not in VALIDITIES:
            return f"ICICI Direct takes validity DAY or IOC, not {validity}"
        if order_type in ("LIMIT", "SL") and not (price(request.get("price")) or 0) > 0:
            return "Price should be greater than 0"
        if order_type == "SL" and not (price(request.get("trigger_price")) or 0) > 0:
            return "Stoploss trigger price should be greater than 0"
        security = self.securities.find(str(exchange), str(request.get("symbol") or ""))
        if security is None:
            return f"{request.get('symbol')} on {exchange} is not in ICICI Direct's security master"
        if security.lot_size > 1 and quantity % security.lot_size:
            return f"Quantity should be a multiple of the lot size {security.lot_size}"
        return None

    def _security(self, tracked: Tracked) -> Security:
        security = self.securities.find(tracked.exchange, tracked.symbol)
        assert security is not None
        return security

    def _new_tracked(self, request: JSON, tag: str) -> Tracked:
        order_type = request["order_type"]
        return Tracked(order_id=request["order_id"], tag=tag, symbol=request["symbol"], exchange=request["exchange"],
                       side=request["transaction_type"], order_type=order_type, quantity=request["quantity"],
                       price=price(request["price"]) if order_type in ("LIMIT", "SL") else None,
                       trigger_price=price(request["trigger_price"]) if order_type == "SL" else None,
                       extra={"validity": VALIDITIES[request.get("validity") or "DAY"]})

    def _send_order(self, request: JSON, tracked: Tracked) -> str:
        assert self.calls is not None
        security = self._security(tracked)
        data = self.calls.call((), "place_order", retry=False, write=True, stock_code=security.stock_code,
                               exchange_code=tracked.exchange, product=security.product,
                               action=tracked.side.lower(), order_type=ORDER_TYPES[tracked.order_type],
                               stoploss=str(tracked.trigger_price or ""), quantity=str(tracked.quantity),
                               price=str(tracked.price or ""), validity=tracked.extra.get("validity", "day"),
                               expiry_date=security.expiry_iso, right=security.right if security.product != "cash" else "",
                               strike_price=security.strike_text if security.product == "options" else "",
                               user_remark=tracked.tag)
        if not isinstance(data, dict) or not data.get("order_id"):
            raise Transient("place_order answered without an order_id", 502)
        return str(data["order_id"])

    def _modify_changes(self, tracked: Tracked, request: JSON) -> JSON:
        changes: JSON = {}
        if isinstance(request.get("quantity"), int) and request["quantity"] > 0:
            changes["quantity"] = request["quantity"]
        if tracked.order_type in ("LIMIT", "SL") and price(request.get("price")):
            changes["price"] = price(request["price"])
        if tracked.order_type == "SL" and price(request.get("trigger_price")):
            changes["trigger_price"] = price(request["trigger_price"])
        return changes

    def _send_modify(self, tracked: Tracked, changes: JSON) -> None:
        assert self.calls is not None
        # The SDK reads the order's detail first (one more call, counted by the rate windows
        # when it happens: acquire once more for it).
        self.calls.all_limit.acquire(max_wait=MAX_WRITE_WAIT)
        self.calls.call((self.calls.place_limit, self.calls.all_limit), "modify_order", write=True,
                        order_id=tracked.broker_order_id, exchange_code=tracked.exchange,
                        order_type="stoploss" if tracked.order_type == "SL" else "limit",
                        stoploss=str(changes.get("trigger_price", tracked.trigger_price) or ""),
                        quantity=str(changes.get("quantity", tracked.quantity)),
                        price=str(changes.get("price", tracked.price) or ""),
                        validity=tracked.extra.get("validity", "day"), disclosed_quantity="", validity_date="")

    def _send_cancel(self, tracked: Tracked) -> None:
        assert self.calls is not None
        self.calls.call((self.calls.all_limit,), "cancel_order", write=True, exchange_code=tracked.exchange,
                        order_id=tracked.broker_order_id)

    def _order(self, row: JSON) -> BrokerOrder:
        return order_from_detail(row, self.securities)

    def _today(self) -> str:
        return f"{datetime.now(IST).date().isoformat()}T06:00:00.000Z"

    def _book_of(self, exchanges: tuple[str, ...], limits: tuple[RateLimiter, ...] = ()) -> list[BrokerOrder]:
        assert self.calls is not None
        orders: list[BrokerOrder] = []
        for exchange in exchanges:
            rows = self.calls.call((*limits, self.calls.all_limit), "get_order_list", exchange_code=exchange,
                                   from_date=self._today(), to_date=self._today()) or []
            orders.extend(self._order(r) for r in rows if isinstance(r, dict))
        return orders

    def _exchanges(self) -> tuple[str, ...]:
        used = {t.exchange for t in self.orders.values()}
        return tuple(dict.fromkeys((*self.settings.exchanges, *sorted(used))))

    def _book(self) -> list[BrokerOrder]:
        return self._book_of(self._exchanges())

    def _poll(self) -> None:
        """Only the books of exchanges with open orders (Breeze's books cost a call each), as far
        as the poll's window has room now: the rest waits for the next tick."""
        assert self.calls is not None
        for exchange in sorted({t.exchange for t in self.orders.values() if not t.ended}):
            try:
                self.calls.poll_limit.acquire(max_wait=0.0)
            except LimitExhausted:
                return
            for order in self._book_of((exchange,)):
                self._update(order)

    def _order_state(self, tracked: Tracked) -> BrokerOrder | None:
        assert self.calls is not None
        rows = self.calls.call((self.calls.all_limit,), "get_order_detail",
                               exchange_code=tracked.exchange, order_id=tracked.broker_order_id) or []
        return next((self._order(r) for r in rows if isinstance(r, dict)), None)

    def _order_trades(self, tracked: Tracked, filled: int) -> list[BrokerTrade]:
        assert tracked.broker_order_id is not None
        return self._trade_detail(tracked.exchange, tracked.broker_order_id, filled)

    def _trade_detail(self, exchange: str, order_id: str, filled: int) -> list[BrokerTrade]:
        """An order's fills with their trade ids, read again only when the quantity the books
        show differs from what was read last (each read is a call of the 100 a minute)."""
        cached = self._fills.get(order_id)
        if cached is not None and sum(t.quantity for t in cached) == filled:
            return cached
        assert self.calls is not None
        rows = self.calls.call((self.calls.all_limit,), "get_trade_detail",
                               exchange_code=exchange, order_id=order_id) or []
        trades = [trade_from_detail(r, order_id, self.securities, self._side_of(order_id)) for r in rows
                  if isinstance(r, dict)]
        self._fills[order_id] = trades
        return trades

    def _side_of(self, order_id: str) -> str:
        tracked = self._by_broker.get(order_id)
        return tracked.side if tracked else self._sides.get(order_id, "")

    def _trades(self) -> list[BrokerTrade]:
        """Today's fills: the trade list of each exchange names the orders with fills and their
        quantity; each order's trade detail gives the fills and their ids."""
        assert self.calls is not None
        trades: list[BrokerTrade] = []
        for exchange in self._exchanges():
            rows = self.calls.call((self.calls.all_limit,), "get_trade_list",
                                   from_date=self._today(), to_date=self._today(), exchange_code=exchange,
                                   product_type="", action="", stock_code="") or []
            filled: dict[str, int] = {}
            for row in rows:
                if isinstance(row, dict) and row.get("order_id"):
                    order_id = str(row["order_id"])
                    filled[order_id] = filled.get(order_id, 0) + int(float(str(row.get("quantity") or 0)))
                    if order_id not in self._by_broker and row.get("action"):
                        self._sides[order_id] = str(row["action"]).upper()
            for order_id, quantity in filled.items():
                trades.extend(self._trade_detail(exchange, order_id, quantity))
        return trades

    def _day_positions(self) -> list[JSON]:
        """Today's net per instrument, from today's fills: Breeze's positions do not split what
        was carried from earlier days from what today's trades moved."""
        nets: dict[tuple[str, str, str], int] = {}
        for trade in self._trades():
            tracked = self._by_broker.get(trade.broker_order_id)
            side = tracked.side if tracked else trade.side
            exchange = trade.exchange
            product = "CNC" if exchange in ("NSE", "BSE") else "NRML"
            key = (trade.symbol, exchange, product)
            nets[key] = nets.get(key, 0) + (trade.quantity if side == "BUY" else -trade.quantity)
        return [{"symbol": s, "exchange": e, "product": p, "quantity": q} for (s, e, p), q in nets.items() if q]

    def _funds(self) -> float | None:
        assert self.calls is not None
        try:
            self.calls.poll_limit.acquire(max_wait=0.0)
        except LimitExhausted:
            return None  # read at a later tick; the poll's window is full
        data = self.calls.call((self.calls.all_limit,), "get_funds") or {}
        try:
            return float(str(data.get("total_bank_balance")))
        except (TypeError, ValueError, AttributeError):
            return None

    # -- the order-notification socket -----------------------------------------------------------
    def _handle(self, kind: str, message: JSON) -> None:
        if kind != "notified":
            super()._handle(kind, message)
            return
        tracked = self._by_broker.get(str(message.get("order_id") or ""))
        if tracked is None or tracked.ended:
            return
        try:
            order = self._order_state(tracked)
        except SessionExpired as error:
            self._expire(str(error))
            return
        except (Transient, Refused) as error:
            log.warning("broker %s: reading order %s after its notification failed: %s (the poll reads it)",
                        self.broker_id, tracked.broker_order_id, self._scrub(str(error)))
            return
        if order is not None:
            self._update(order)

    def _connect_stream(self) -> None:
        if not self.settings.order_updates or self.calls is None:
            return
        self._close_stream()
        breeze = self.calls.breeze
        thread = threading.Thread(target=self._run_stream, args=(breeze,), name=f"icici-orders-{self.broker_id[:8]}",
                                  daemon=True)
        thread.start()

    def _run_stream(self, breeze: Any) -> None:
        """Connects the SDK's order-notification socket once; python-socketio's client
        reconnects by itself after a drop. A notification names the order; its detail is read on
        the broker's thread."""
        def notified(data: Any) -> None:
            if isinstance(data, dict) and data.get("orderReference"):
                self._worker.put("notified", {"order_id": str(data["orderReference"])})

        breeze.on_ticks = notified
        try:
            breeze._ws_connect(None, order_flag=True)  # the SDK's own connect of its order feed
            handler = breeze.sio_order_refresh_handler
            handler.notify()
        except Exception as error:  # the SDK raises a plain Exception naming the feed
            self._stream_state(False, f"{type(error).__name__}: {error}")
            return
        sio = handler.sio
        with self._lock:
            if self.calls is None or self.calls.breeze is not breeze:  # replaced meanwhile
                sio.disconnect()
                return
            self._socket = sio
        sio.on("connect", lambda: self._stream_state(True))
        sio.on("disconnect", lambda *_: self._stream_state(False, "the order feed disconnected"))
        self._stream_state(True)

    def _close_stream(self) -> None:
        with self._lock:
            sio, self._socket = self._socket, None
        self._stream_live = False
        if sio is not None:
            try:
                sio.disconnect()
            except Exception as error:  # a socket already gone
                log.debug("closing ICICI's order feed: %s", error)
