"""ICICI Direct's quote stream on the official SDK's socket.io client (``BreezeStream``: one
connection, its refusals and drops seen, what ``parse_data`` cannot read marked bad) and the
quotes it hands on mapped to the engine's ticks (``TickMapper``). feed.py runs them."""
from __future__ import annotations

import logging
import threading
from decimal import Decimal, InvalidOperation
from types import ModuleType
from typing import Any, Callable

from ..feed_common import OI_MAX, PRICE_LIMIT, QTY_MAX, VOLUME_MAX, Instrument, VolumeDelta, count_value, exact_number

log = logging.getLogger(__name__)

JSON = dict[str, Any]
QUOTES = "Quotes Data"             # parse_data's "quotes" for an exchange quote (".1")
QUOTE_LENGTHS = {21: 19, 23: 21}   # parse_data's equity / F&O list length -> the index of ltt
BAD = "_algotrader_bad"            # keys the parse hook adds to the SDK's dict
LTT = "_algotrader_ltt"
TRANSPORT_ERROR = "transport error"  # engineio's reason when socket.io reconnects by itself


def epoch_ns(value: Any) -> int | None:
    """``ltt`` (epoch seconds, as ICICI sends it) in nanoseconds, if it is a plausible time."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 2**33:
        return None
    try:
        return int(Decimal(repr(value)) * 10**9)
    except InvalidOperation:
        return None


class TickMapper:
    """Quotes as the SDK's parse_data names them -> contract ticks (less src/session/seq)."""

    def __init__(self, full: bool) -> None:
        self.full = full
        self._volume = VolumeDelta()

    def map(self, quote: JSON, instrument: Instrument, room: str, received_ns: int) -> tuple[JSON | None, str]:
        last = quote.get("last")
        price = exact_number(last, positive=True, limit=PRICE_LIMIT)
        if price is None:
            return None, "inexact_price" if isinstance(last, (int, float)) and not isinstance(last, bool) and last > 0 \
                else "no_price"
        ts = epoch_ns(quote.get(LTT)) or received_ns
        tick: JSON = {"symbol": instrument.symbol, "exchange": instrument.exchange, "ts": ts, "price": price}
        volume = count_value(quote.get("ttq"), VOLUME_MAX)
        if volume is not None:
            tick["volume"] = volume
            tick["qty"] = self._volume.traded(room, volume, quote.get("ltq"))
        if not self.full:
            return tick, ""
        oi = exact_number(quote.get("OI"), positive=False, limit=OI_MAX)
        if oi is not None:
            tick["oi"] = oi
        for name, price_key, qty_key in (("bid", "bPrice", "bQty"), ("ask", "sPrice", "sQty")):
            best = exact_number(quote.get(price_key), positive=True, limit=PRICE_LIMIT)
            if best is None:
                continue
            tick[name] = best
            size = count_value(quote.get(qty_key), QTY_MAX)
            if size is not None:
                tick[f"{name}_qty"] = size
        return tick, ""


class BreezeStream:
    """One quote connection on the SDK's objects: a ``BreezeConnect`` whose
    ``sio_rate_refresh_handler`` is made here (so that a refusal of the first handshake is seen),
    whose ``parse_data`` is wrapped (so that what it cannot parse is counted, and the quote's raw
    ``ltt`` kept: parse_data turns it into local time text to the second), and whose
    ``on_ticks`` is ``on_quote``. Its socket.io callbacks run on the client's read thread."""

    def __init__(self, module: ModuleType, breeze: Any, on_quote: Callable[[JSON], None],
                 on_drop: Callable[[str, bool], None]) -> None:
        self.breeze = breeze
        self.handler = module.SocketEventBreeze("/", breeze)
        breeze.sio_rate_refresh_handler = self.handler
        self.sio = self.handler.sio
        self.refused = threading.Event()  # the server refused the session
        self.ended = threading.Event()    # lost, and socket.io will not reconnect by itself
        self.refusal = ""
        self._on_drop = on_drop
        self._sdk_parse = breeze.parse_data
        breeze.parse_data = self._parse
        breeze.on_ticks = on_quote
        self.sio.on("connect_error", self._connect_error)
        self.sio.on("disconnect", self._disconnect)
        self._closed = False
        self._lock = threading.Lock()

    def open(self, rooms: list[str]) -> str:
        """Connects and joins ``rooms``: "open", "refused" or a failure's text."""
        try:
            self.breeze.ws_connect()
        except Exception as error:  # the SDK turns every failure into Exception(text)
            return "refused" if self.refused.is_set() else f"{type(error).__name__}: {error}"
        # The SDK's connect put its own connect_error handler (authentication = False) in ours'
        # place; ours calls it too, and sees refusals while socket.io reconnects.
        self.sio.on("connect_error", self._connect_error)
        answer = self.breeze.subscribe_feeds(stock_token=list(rooms))
        if not isinstance(answer, dict) or "message" not in answer:  # it answers errors as text
            self.close()
            return f"subscribe_feeds: {answer}"
        return "open"

    def _parse(self, data: Any) -> JSON:
        try:
            parsed = self._sdk_parse(data)
        except Exception as error:  # anything the SDK's positional reads trip on
            return {BAD: f"unparsable ({type(error).__name__})"}
        if not isinstance(parsed, dict):
            return {BAD: "unparsable"}
        if parsed.get("quotes") == QUOTES and isinstance(data, list) and len(data) in QUOTE_LENGTHS:
            parsed[LTT] = data[QUOTE_LENGTHS[len(data)]]
        elif "symbol" in parsed or parsed.get("quotes"):
            parsed[BAD] = "not_a_quote"
        else:
            parsed = {BAD: "not_a_quote"}
        return parsed

    def _connect_error(self, data: Any = None) -> None:
        my_connect_error = getattr(self.handler, "my_connect_error", None)
        if callable(my_connect_error):
            my_connect_error(data)
        # The server's refusal carries {"message": ...}; a transport failure only a string.
        if isinstance(data, dict):
            self.refusal = str(data.get("message", ""))
            self.refused.set()

    def _disconnect(self, reason: str = "") -> None:
        if reason != TRANSPORT_ERROR:
            self.ended.set()
        self._on_drop(reason, self._closed)

    def close(self) -> None:
        """Ends the connection and any reconnecting; never from a socket.io callback."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            self.sio.shutdown()
        except Exception as error:  # closing a broken connection
            log.debug("closing the quote stream: %s", error)
