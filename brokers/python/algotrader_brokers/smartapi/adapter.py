"""Angel One SmartAPI behind the gateway protocol, on the official SDK (``smartapi-python``, made
safe by sdk.py): ``SmartConnect`` for orders, the order book, trade book, positions and RMS
funds, and the order-status WebSocket for prompt reports, with a poll of the order book as the
safety net (tracked_orders.py holds what every broker shares).

Orders. An ``order.new`` becomes ``placeOrderFullResponse`` with ``variety`` NORMAL (MARKET,
LIMIT) or STOPLOSS (SL -> ``STOPLOSS_LIMIT``, SL-M -> ``STOPLOSS_MARKET``), ``producttype``
DELIVERY (the engine's CNC), INTRADAY (MIS) or CARRYFORWARD (NRML, derivatives only),
``duration`` DAY or IOC (TTL is refused: Angel has none), the instrument's ``tradingsymbol`` and
``symboltoken`` from Angel's scrip master (scrips.py: the engine's Zerodha-style names are
mapped), and ``ordertag``: the first 20 hex digits of the engine's order_id, by which the order
is found again after a restart. Angel's refusals come back as the rejection's reason with its
error code ("Invalid Product Type (AB1012)"); an order Angel's RMS or the exchange rejects after
taking it carries the order book's ``text``. Angel documents no algo-id field: ``algo_id`` is
not sent (docs/brokers.md).

Reports. ``accepted`` once the order book shows it past validation (``open``, ``trigger
pending``, ...), ``fill`` per trade-book row with ``exec_id`` = ``<orderid>:<fillid>``,
``modified``, ``cancelled`` (with the book's ``text`` when Angel gives one), ``rejected``.

Limits (smartapi.angelbroking.com/docs/RateLimit): place, modify and cancel share 9 requests a
second, 500 a minute and 1,000 an hour per client code; the order book, trade book and positions
1 a second each, RMS 2. Placements and modifies together are held to 8 a second, 450 a minute
and 900 an hour, so however many of them queue, cancels always have room in the shared windows
(a halt's cancels must get through), and no order call waits more than a minute for a window. Past a limit Angel answers HTTP 403 with a plain-text body, which
the SDK raises as DataException: retried with backoff, like connection failures and AB1004 /
AB2001 (Angel's "something went wrong" / internal error) on reads. On an order call a JSON
refusal (AB1004 included: Angel words validation failures so) is final, and an answer that is
cut off or unreadable may have been carried out: the order is looked for by its tag.

Session. AG8001 (invalid token), AG8002 (expired), AG8003 (missing), AB1010 (AMX session
expired) and AB1011 (client not logged in), in either of Angel's answer shapes, send
``session expired``; a welcome with a new ``jwt_token`` brings it back. Credentials (the
welcome's object): ``api_key``, ``client_code``, ``jwt_token``, ``feed_token`` (what
``algotrader broker login`` stores; the MPIN, TOTP secret and refresh token stay in the engine).
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import requests

from ..adapter import JSON, LinkSink
from ..config import AngelSection
from ..ratelimit import LimitExhausted, RateLimiter
from ..tracked_orders import TrackedOrdersAdapter
from ..broker_orders import (CANCELLED, COMPLETE, REJECTED, RETRY_DELAYS, UNCONFIRMED, WORKING, BrokerOrder,
                              BrokerTrade, Refused, SessionExpired, Tracked, Transient, price)
from .scrips import Scrip, ScripMaster
from .sdk import QuietSmartConnect, VerifiedOrderUpdates

log = logging.getLogger(__name__)

IST = timezone(timedelta(hours=5, minutes=30))

ORDER_TYPES = {"MARKET": "MARKET", "LIMIT": "LIMIT", "SL": "STOPLOSS_LIMIT", "SL-M": "STOPLOSS_MARKET"}
ENGINE_ORDER_TYPES = {v: k for k, v in ORDER_TYPES.items()}
PRODUCTS = {"CNC": "DELIVERY", "MIS": "INTRADAY", "NRML": "CARRYFORWARD"}
ENGINE_PRODUCTS = {"DELIVERY": "CNC", "INTRADAY": "MIS", "CARRYFORWARD": "NRML", "MARGIN": "NRML"}
VALIDITIES = ("DAY", "IOC")
EQUITY_EXCHANGES = ("NSE", "BSE")
EXCHANGES = ("NSE", "BSE", "NFO", "BFO", "MCX", "CDS")
MODIFY_PENDING = ("modify pending", "modify validation pending", "modify order req received",
                  "modify after market order req received")
UNCONFIRMED_STATUSES = ("open pending", "validation pending", "put order req received", "")

ORDER_LIMITS = ((1.0, 9), (60.0, 500), (3600.0, 1000))
PLACE_LIMITS = ((1.0, 8), (60.0, 450), (3600.0, 900))
BOOK_LIMITS = ((1.0, 1),)
RMS_LIMITS = ((1.0, 2),)
SCRIP_RELOAD_SECONDS = 900.0
# An order call never waits longer than this for the rate windows (the cancels' reserve makes
# theirs short); past it the call fails at once with the reason.
MAX_WRITE_WAIT = 61.0
TOKEN_CODES = ("AG8001", "AG8002", "AG8003", "AB1010", "AB1011")
TRANSIENT_CODES = ("AB1004", "AB2001")
RATE_TEXT = "exceeding access rate"


def rfc3339(value: Any) -> str | None:
    """Angel's time in UTC, RFC 3339: ``07-Dec-2026 09:15:02`` (order book) or a bare
    ``09:15:02`` (the trade book's filltime, today in IST)."""
    text = str(value or "").strip()
    for layout in ("%d-%b-%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S"):
        try:
            moment = datetime.strptime(text, layout).replace(tzinfo=IST)
            break
        except ValueError:
            continue
    else:
        try:
            clock = datetime.strptime(text, "%H:%M:%S").time()
        except ValueError:
            return None
        moment = datetime.combine(datetime.now(IST).date(), clock, tzinfo=IST)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _true(value: Any) -> bool:
    # Angel's answers carry booleans; its documentation's samples sometimes the strings.
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _int(value: Any) -> int:
    try:
        return int(float(str(value or "0")))
    except ValueError:
        return 0


class AngelCalls:
    """The SDK's calls behind Angel's rate limits, with retries, and Angel's answers sorted into
    SessionExpired / Transient / Refused (the SDK returns its error answers as dicts)."""

    def __init__(self, smart: Any, sleep: Callable[[float], None] = time.sleep) -> None:
        self.smart = smart
        self.order_limit = RateLimiter(ORDER_LIMITS)
        self.place_limit = RateLimiter(PLACE_LIMITS)
        self.book_limit = RateLimiter(BOOK_LIMITS)
        self.trade_limit = RateLimiter(BOOK_LIMITS)
        self.position_limit = RateLimiter(BOOK_LIMITS)
        self.rms_limit = RateLimiter(RMS_LIMITS)
        self._sleep = sleep

    def call(self, limiter: RateLimiter | tuple[RateLimiter, ...] | None, name: str, *args: Any, retry: bool = True,
             write: bool = False) -> Any:
        """``smart.<name>(*args)``'s ``data`` once ``limiter`` (or each of several) lets it go
        (None: the caller has waited already), retried on transient failures unless ``retry`` is
        False. ``write``: an order call, where a JSON refusal is Angel's decision (even its
        catch-all AB1004, which is also how it words validation failures), and an outcome that
        cannot be read (an answer cut off, an error of the SDK's own) may have been carried out."""
        method = getattr(self.smart, name)
        limiters = limiter if isinstance(limiter, tuple) else (limiter,) if limiter is not None else ()
        last, code = "", 0
        for attempt in range(len(RETRY_DELAYS) + 1):
            try:
                for each in limiters:
                    each.acquire(max_wait=MAX_WRITE_WAIT if write else None)
            except LimitExhausted as error:
                raise Transient(f"Angel One's order-rate windows are full ({error})", 429) from None
            try:
                return self.data(method(*args), write=write)
            except Transient as error:
                last, code = str(error), error.code
            except requests.RequestException as error:  # refused, timed out, or cut off mid-answer
                last, code = type(error).__name__, 0
            except (SessionExpired, Refused):
                raise
            except Exception as error:  # the SDK's DataException: not JSON (a 403 rate text, a 502 page)
                text = str(error)
                if RATE_TEXT in text:
                    last, code = "Access denied because of exceeding access rate", 429
                elif type(error).__name__ in ("DataException", "NetworkException", "JSONDecodeError") or write:
                    last, code = f"{type(error).__name__}: {text[:200]}", 502
                else:
                    raise Refused(f"{type(error).__name__}: {text[:300]}") from None
            if not retry or attempt == len(RETRY_DELAYS):
                break
            log.warning("Angel One %s: %s; retrying in %.1f s", name, last, RETRY_DELAYS[attempt])
            self._sleep(RETRY_DELAYS[attempt])
        raise Transient(last, code)

    @staticmethod
    def data(answer: Any, write: bool = False) -> Any:
        if isinstance(answer, (bytes, str)):
            raise Transient(f"an answer that is not JSON: {str(answer)[:200]}", 502)
        if not isinstance(answer, dict):
            raise Transient("no answer", 502)
        if _true(answer.get("status")) or _true(answer.get("success")):
            return answer.get("data")
        code = str(answer.get("errorcode") or answer.get("errorCode") or "")
        message = str(answer.get("message") or "refused")
        if code in TOKEN_CODES:
            raise SessionExpired(f"{message} ({code})")
        if code in TRANSIENT_CODES and not write:
            raise Transient(f"{message} ({code})", 503)
        if RATE_TEXT in message:
            raise Transient(message, 429)
        raise Refused(f"{message} ({code})" if code else message)


class AngelAdapter(TrackedOrdersAdapter):
    """One Angel One account (one engine broker id) behind the gateway."""

    broker_name = "Angel One"

    def __init__(self, broker_id: str, sink: LinkSink, settings: AngelSection, scrips: ScripMaster) -> None:
        self.settings = settings
        self.scrips = scrips
        self._scrips_read = time.monotonic()
        self.calls: AngelCalls | None = None
        self._secret_values: tuple[str, ...] = ()
        self._session_key: tuple[str, str, str] | None = None
        self._client_code = ""
        self._stream: VerifiedOrderUpdates | None = None
        self._stream_stop: threading.Event | None = None
        self._trade_book: list[BrokerTrade] = []   # the trade book as last read
        super().__init__(broker_id, sink, settings.poll_seconds, "angel")

    # -- the broker ------------------------------------------------------------------------------
    def _open(self, credentials: JSON) -> bool | None:
        fields = {k: credentials.get(k) for k in ("api_key", "client_code", "jwt_token", "feed_token")}
        missing = [k for k, v in fields.items() if not isinstance(v, str) or not v]
        if missing:
            log.error("broker %s: its credentials lack %s (algotrader broker login makes the session tokens)",
                      self.broker_id, ", ".join(missing))
            self._unusable_reason = f"no {', '.join(missing)} in the credentials (run algotrader broker login)"
            return None
        api_key, client, jwt, feed = (str(fields[k]) for k in ("api_key", "client_code", "jwt_token", "feed_token"))
        key = (api_key, jwt, feed)
        if key == self._session_key:
            return False
        self._session_key, self._client_code = key, client
        self._secret_values = (jwt, feed, api_key)
        smart = QuietSmartConnect(api_key, jwt, self.settings.root, public_ip=self.settings.public_ip,
                                  local_ip=self.settings.local_ip, mac_address=self.settings.mac_address)
        if self.calls is None:
            self.calls = AngelCalls(smart)
            self.place_limits = (self.calls.place_limit, self.calls.order_limit)
        else:
            self.calls.smart = smart  # the limits are the client code's: keep their windows
        return True

    def _secrets(self) -> tuple[str, ...]:
        return self._secret_values

    def _refusal(self, request: JSON) -> str | None:
        exchange = request.get("exchange")
        if exchange not in EXCHANGES:
            return f"Angel One does not trade on exchange {exchange!r} (it takes {', '.join(EXCHANGES)})"
        if request.get("transaction_type") not in ("BUY", "SELL"):
            return "Invalid transactiontype"
        quantity = request.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
            return "Invalid quantity"
        product = request.get("product")
        if product not in PRODUCTS:
            return "Invalid Product Type (AB1012)"
        if product == "NRML" and exchange in EQUITY_EXCHANGES:
            return "NRML (CARRYFORWARD) is for derivatives at Angel One: use CNC (DELIVERY) or MIS (INTRADAY) on NSE and BSE"
        if product == "CNC" and exchange not in EQUITY_EXCHANGES:
            return "CNC (DELIVERY) is for equities at Angel One: use NRML (CARRYFORWARD) or MIS (INTRADAY) on derivatives"
        order_type = request.get("order_type")
        if order_type not in ORDER_TYPES:
            return "Invalid ordertype"
        validity = request.get("validity") or "DAY"
        if validity not in VALIDITIES:
            return f"Angel One takes duration DAY or IOC, not {validity}"
        if order_type in ("LIMIT", "SL") and not (price(request.get("price")) or 0) > 0:
            return "Invalid price"
        if order_type in ("SL", "SL-M") and not (price(request.get("trigger_price")) or 0) > 0:
            return "Invalid triggerprice"
        if self._scrip(str(exchange), str(request.get("symbol") or "")) is None:
            return f"Symbol Not Found (AB1009): {request.get('symbol')} on {exchange} is not in Angel One's scrip master"
        return None

    def _scrip(self, exchange: str, symbol: str) -> Scrip | None:
        """The instrument in the scrip master; on a miss, the master read again (at most every
        15 minutes): Angel lists new contracts (weekly options) every day, and a gateway runs
        for days."""
        scrip = self.scrips.find(exchange, symbol)
        if scrip is None and time.monotonic() - self._scrips_read >= SCRIP_RELOAD_SECONDS:
            self._scrips_read = time.monotonic()
            try:
                self.scrips = ScripMaster.load(self.settings.scrip_master)
                log.info("Angel One scrip master read again for %s:%s: %d instruments", exchange, symbol,
                         self.scrips.count)
            except (OSError, ValueError) as error:
                log.warning("Angel One scrip master could not be read again: %s", error)
            scrip = self.scrips.find(exchange, symbol)
        return scrip

    def _new_tracked(self, request: JSON, tag: str) -> Tracked:
        order_type = request["order_type"]
        scrip = self.scrips.find(request["exchange"], request["symbol"])
        assert scrip is not None
        return Tracked(order_id=request["order_id"], tag=tag, symbol=request["symbol"], exchange=request["exchange"],
                       side=request["transaction_type"], order_type=order_type, quantity=request["quantity"],
                       price=price(request["price"]) if order_type in ("LIMIT", "SL") else None,
                       trigger_price=price(request["trigger_price"]) if order_type in ("SL", "SL-M") else None,
                       extra={"variety": "STOPLOSS" if order_type in ("SL", "SL-M") else "NORMAL",
                              "tradingsymbol": scrip.symbol, "symboltoken": scrip.token,
                              "producttype": PRODUCTS[request["product"]], "ordertype": ORDER_TYPES[order_type],
                              "duration": request.get("validity") or "DAY"})

    def _send_order(self, request: JSON, tracked: Tracked) -> str:
        assert self.calls is not None
        extra = tracked.extra
        params: JSON = {"variety": extra["variety"], "tradingsymbol": extra["tradingsymbol"],
                        "symboltoken": extra["symboltoken"], "transactiontype": tracked.side,
                        "exchange": tracked.exchange, "ordertype": extra["ordertype"], "producttype": extra["producttype"],
                        "duration": extra["duration"], "price": str(tracked.price or 0),
                        "triggerprice": str(tracked.trigger_price or 0), "squareoff": "0", "stoploss": "0",
                        "quantity": str(tracked.quantity), "ordertag": tracked.tag}
        data = self.calls.call(None, "placeOrderFullResponse", params, retry=False, write=True)
        if not isinstance(data, dict) or not data.get("orderid"):
            raise Transient("placeOrder answered without an orderid", 502)
        return str(data["orderid"])

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
        extra = tracked.extra
        params: JSON = {"variety": extra.get("variety", "NORMAL"), "orderid": tracked.broker_order_id,
                        "ordertype": extra.get("ordertype", ORDER_TYPES.get(tracked.order_type, "LIMIT")),
                        "producttype": extra.get("producttype"), "duration": extra.get("duration", "DAY"),
                        "price": str(changes.get("price", tracked.price) or 0),
                        "triggerprice": str(changes.get("trigger_price", tracked.trigger_price) or 0),
                        "quantity": str(changes.get("quantity", tracked.quantity)),
                        "tradingsymbol": extra.get("tradingsymbol"), "symboltoken": extra.get("symboltoken"),
                        "exchange": tracked.exchange}
        # Modifies count against the placements' smaller windows too: what is left of Angel's
        # shared ones is the cancels' reserve.
        self.calls.call((self.calls.place_limit, self.calls.order_limit), "modifyOrder", params, write=True)

    def _send_cancel(self, tracked: Tracked) -> None:
        assert self.calls is not None
        self.calls.call(self.calls.order_limit, "cancelOrder", tracked.broker_order_id, tracked.extra.get("variety", "NORMAL"),
                        write=True)

    def _engine_symbol(self, exchange: str, angel_symbol: str) -> str:
        return self.scrips.engine_name(exchange, angel_symbol)

    def _order(self, row: JSON) -> BrokerOrder:
        status = str(row.get("orderstatus") or row.get("status") or "").lower()
        if status == "complete":
            state = COMPLETE
        elif status == "cancelled":
            state = CANCELLED
        elif status == "rejected":
            state = REJECTED
        elif status in UNCONFIRMED_STATUSES:
            state = UNCONFIRMED
        else:
            state = WORKING
        exchange = str(row.get("exchange") or "")
        order_type = ENGINE_ORDER_TYPES.get(str(row.get("ordertype") or ""), str(row.get("ordertype") or ""))
        return BrokerOrder(broker_order_id=str(row.get("orderid") or ""), tag=str(row.get("ordertag") or ""), state=state,
                           symbol=self._engine_symbol(exchange, str(row.get("tradingsymbol") or "")), exchange=exchange,
                           side=str(row.get("transactiontype") or ""), order_type=order_type,
                           quantity=_int(row.get("quantity")), filled=_int(row.get("filledshares")),
                           price=price(row.get("price")) if order_type in ("LIMIT", "SL") else None,
                           trigger_price=price(row.get("triggerprice")) if order_type in ("SL", "SL-M") else None,
                           reason=str(row["text"]) if row.get("text") else None,
                           settled=str(row.get("status") or "").lower() not in MODIFY_PENDING,
                           extra={"variety": row.get("variety") or "NORMAL", "tradingsymbol": row.get("tradingsymbol"),
                                  "symboltoken": row.get("symboltoken"), "producttype": row.get("producttype"),
                                  "ordertype": row.get("ordertype"), "duration": row.get("duration") or "DAY"})

    def _trade(self, row: JSON) -> BrokerTrade:
        exchange = str(row.get("exchange") or "")
        # A trade book row without a fillid (not seen; Angel documents one) gets an id from what
        # identifies it, so two fills of one order never share an exec_id.
        trade_id = str(row.get("fillid") or "") or f"{row.get('filltime')}-{row.get('fillsize')}-{row.get('fillprice')}"
        return BrokerTrade(broker_order_id=str(row.get("orderid") or ""), trade_id=trade_id,
                           symbol=self._engine_symbol(exchange, str(row.get("tradingsymbol") or "")), exchange=exchange,
                           side=str(row.get("transactiontype") or ""), quantity=_int(row.get("fillsize")),
                           price=price(row.get("fillprice")), ts=rfc3339(row.get("filltime")))

    def _book(self) -> list[BrokerOrder]:
        assert self.calls is not None
        return [self._order(r) for r in self.calls.call(self.calls.book_limit, "orderBook") or [] if isinstance(r, dict)]

    def _trades(self) -> list[BrokerTrade]:
        assert self.calls is not None
        trades = [self._trade(r) for r in self.calls.call(self.calls.trade_limit, "tradeBook") or [] if isinstance(r, dict)]
        self._trade_book = trades
        return trades

    def _order_trades(self, tracked: Tracked, filled: int) -> list[BrokerTrade]:
        """From the trade book read last, when it already shows all ``filled`` of the order:
        Angel has no per-order trades call and takes one trade-book read a second, so a burst of
        fill updates read it once each (a second apiece, ahead of cancels) before this."""
        cached = [t for t in self._trade_book if t.broker_order_id == tracked.broker_order_id]
        if sum(t.quantity for t in cached) >= filled:
            return cached
        return [t for t in self._trades() if t.broker_order_id == tracked.broker_order_id]

    def _day_positions(self) -> list[JSON]:
        # Today's part of each position: the net less what was carried forward (cf*) from earlier days.
        assert self.calls is not None
        nets: list[JSON] = []
        for row in self.calls.call(self.calls.position_limit, "position") or []:
            if not isinstance(row, dict):
                continue
            day = _int(row.get("netqty")) - (_int(row.get("cfbuyqty")) - _int(row.get("cfsellqty")))
            if day != 0:
                exchange = str(row.get("exchange") or "")
                nets.append({"symbol": self._engine_symbol(exchange, str(row.get("tradingsymbol") or "")),
                             "exchange": exchange, "product": ENGINE_PRODUCTS.get(str(row.get("producttype") or ""), "MIS"),
                             "quantity": day})
        return nets

    def _funds(self) -> float | None:
        assert self.calls is not None
        data = self.calls.call(self.calls.rms_limit, "rmsLimit") or {}
        try:
            return float(str(data.get("availablecash")))
        except (TypeError, ValueError):
            return None

    # -- the order-status WebSocket ----------------------------------------------------------------
    def _connect_stream(self) -> None:
        if not self.settings.order_updates or self._session_key is None:
            return
        self._close_stream()
        api_key, jwt, feed = self._session_key
        stop = threading.Event()
        self._stream_stop = stop
        thread = threading.Thread(target=self._run_stream, args=(stop, api_key, jwt, feed),
                                  name=f"angel-updates-{self.broker_id[:8]}", daemon=True)
        thread.start()

    def _run_stream(self, stop: threading.Event, api_key: str, jwt: str, feed: str) -> None:
        """Keeps the order-status WebSocket connected, with backoff (1 s doubling to 30 s). A
        replaced stream's callbacks (a renewal started another) change nothing."""
        delay = 1.0

        def state(live: bool, why: str = "") -> None:
            if not stop.is_set():
                self._stream_state(live, why)

        while not stop.is_set():
            stream = VerifiedOrderUpdates(self.settings.order_updates_url, jwt, api_key, self._client_code, feed,
                                          on_order=lambda row: self.push_update(self._order(row)),
                                          on_state=state)
            with self._lock:
                if stop.is_set():
                    return
                self._stream = stream
            opened = time.monotonic()
            try:
                stream.run()
            except Exception as error:  # websocket-client raises on a refused handshake
                state(False, f"{type(error).__name__}: {error}")
            if stop.wait(delay):
                return
            delay = 1.0 if time.monotonic() - opened > 60 else min(30.0, delay * 2)

    def _close_stream(self) -> None:
        with self._lock:
            stop, self._stream_stop = self._stream_stop, None
            stream, self._stream = self._stream, None
        self._stream_live = False
        if stop is not None:
            stop.set()
        if stream is not None:
            stream.close()
