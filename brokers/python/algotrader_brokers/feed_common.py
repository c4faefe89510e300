"""What every broker's market-data publisher shares (kite/feed.py, smartapi/feed.py): the
``[feed] instruments`` list and its grouping into broker connections, the exactness checks of
docs/ingest.md's tick fields, the volume-delta ``qty``, the XPUB ``Publisher`` that stamps
``src``/``session``/``seq``, and the ``SecretFilter`` that keeps session tokens out of every log
line."""
from __future__ import annotations

import json
import logging
import math
import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import zmq

from .config import ConfigError

log = logging.getLogger(__name__)

JSON = dict[str, Any]

# The contract's bounds (docs/ingest.md, "Messages").
PRICE_LIMIT = 10**14          # prices below 10^14 with at most 4 decimals
PRICE_DECIMALS = 4
QTY_MAX = 10**9
VOLUME_MAX = 10**15
OI_MAX = 10**15
STRING_MAX = {"symbol": 50, "exchange": 20, "src": 64}
# The engine drops a gateway-socket message over 64 KiB unread (docs/security.md); the margin
# leaves room for a field the link may add to the hello.
MAX_HELLO_BYTES = 64 * 1024
HELLO_MARGIN = 256
# The engine's hello takes at most this many instruments.
MAX_HELLO_INSTRUMENTS = 3000
# Ticks the engine has not taken yet wait in libzmq up to this many (about 20 MB of ticks): a
# pause of the engine's reading is absorbed; beyond it the loss shows as a seq gap.
SEND_HWM = 100_000


def control_free(text: str) -> bool:
    """No Unicode Cc character (the engine's bad_string, docs/ingest.md)."""
    return not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text)


@dataclass(frozen=True)
class Instrument:
    exchange: str
    symbol: str
    token: int

    @property
    def topic(self) -> bytes:
        return f"tick.{self.exchange}.{self.symbol}".encode("utf-8")


def parse_instruments(values: tuple[str, ...], per_connection: int, connections: int,
                      broker: str) -> list[tuple[str, str]]:
    """``[feed] instruments`` as (exchange, symbol), in order, without repeats (brokers count a
    repeated token against their limits); ConfigError names the key."""
    seen: set[tuple[str, str]] = set()
    out: list[tuple[str, str]] = []
    for value in values:
        exchange, colon, symbol = value.partition(":")
        if (not colon or not exchange or not symbol or len(exchange) > STRING_MAX["exchange"]
                or len(symbol) > STRING_MAX["symbol"] or not control_free(value)):
            raise ConfigError(f"feed.instruments: {value!r} is not EXCHANGE:SYMBOL (exchange 1-20, symbol 1-50 "
                              "characters, no control characters)")
        if (exchange, symbol) not in seen:
            seen.add((exchange, symbol))
            out.append((exchange, symbol))
    if not out:
        raise ConfigError("feed.instruments: at least one instrument is required")
    limit = per_connection * connections
    if len(out) > limit:
        raise ConfigError(f"feed.instruments: {len(out)} instruments; {broker} streams at most {limit} per account "
                          f"({connections} connections of {per_connection})")
    return out


def group_instruments(instruments: list[tuple[str, str]], hello: JSON, per_connection: int, connections: int,
                      broker: str) -> list[list[tuple[str, str]]]:
    """The instruments in groups, one per broker connection and engine connection: each at most
    ``per_connection`` (and the hello's 3,000) and small enough that its ``hello`` (``hello``,
    less its ``instruments``, as the engine link sends it) stays within the engine's 64 KiB per
    message, which long derivative symbols reach first. More than ``connections`` groups is
    ConfigError."""
    per_connection = min(per_connection, MAX_HELLO_INSTRUMENTS)
    base = len(json.dumps({**hello, "instruments": []}).encode("utf-8")) + HELLO_MARGIN
    groups: list[list[tuple[str, str]]] = []
    size = base
    for exchange, symbol in instruments:
        cost = len(json.dumps(f"{exchange}:{symbol}").encode("utf-8")) + 2  # the ", " before it
        if not groups or len(groups[-1]) >= per_connection or size + cost > MAX_HELLO_BYTES:
            groups.append([])
            size = base
        groups[-1].append((exchange, symbol))
        size += cost
    if len(groups) > connections:
        raise ConfigError(f"feed.instruments: {len(instruments)} instruments need {len(groups)} connections (at most "
                          f"{per_connection} and one 64 KiB hello each); {broker} allows {connections} per account")
    return groups


def exact_number(value: Any, *, positive: bool, limit: float, decimals: int = PRICE_DECIMALS) -> float | int | None:
    """``value`` if the engine stores it exactly as JSON writes it (a finite number in range with
    at most ``decimals`` decimals), else None. The SDK divides Kite's integer prices by the
    segment's divisor; the float's shortest repr (what json writes) is that exact decimal."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if not (value > 0 if positive else value >= 0) or value >= limit:
        return None
    if isinstance(value, float):
        exponent = Decimal(repr(value)).as_tuple().exponent
        if isinstance(exponent, int) and exponent < -decimals:
            return None
    return value


def count_value(value: Any, maximum: int) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= maximum:
        return value
    return None


class VolumeDelta:
    """``qty`` from the day's cumulative volume: what traded since the instrument's previous
    packet. Brokers' packets are snapshots sent on any change (a depth change repeats the last
    trade), so publishing the last traded quantity on each would count one trade many times in
    the engine's bars. An instrument's first packet in this run (or after the volume restarted:
    a new day) carries the last traded quantity, at most the day's volume."""

    def __init__(self) -> None:
        self._volume: dict[Any, int] = {}

    def traded(self, key: Any, volume: int, last_traded_quantity: Any) -> int:
        before = self._volume.get(key)
        self._volume[key] = volume
        if before is not None and volume >= before:
            return volume - before
        last = count_value(last_traded_quantity, QTY_MAX) or 0
        return min(last, volume)


class Publisher:
    """The XPUB at ``publish_bind``; stamps ``src``, ``session`` and ``seq``. ZeroMQ sockets are
    not thread-safe: every use holds ``lock`` (one thread, Kite's reactor, or several streams)."""

    def __init__(self, bind: str, src: str, session: str, context: zmq.Context[Any] | None = None) -> None:
        self.src, self.session = src, session
        self.lock = threading.RLock()
        self.next_seq = 0
        self.published = self.unsubscribed = self.hwm_dropped = 0
        self._prefixes: set[bytes] = set()
        self._sock: zmq.Socket[bytes] = (context or zmq.Context.instance()).socket(zmq.XPUB)
        self._sock.setsockopt(zmq.SNDHWM, SEND_HWM)
        # At the high-water mark a plain (X)PUB drops without a word; NODROP makes send say so,
        # and the tick is counted (its seq is spent: the engine logs the gap).
        self._sock.setsockopt(zmq.XPUB_NODROP, 1)
        self._sock.setsockopt(zmq.LINGER, 1000)
        self._sock.bind(bind)

    def poll_subscriptions(self) -> None:
        """Reads the subscriptions that arrived. Without XPUB_VERBOSE, a prefix arrives when its
        first subscriber subscribes and leaves with its last one."""
        with self.lock:
            self._poll_subscriptions()

    def _poll_subscriptions(self) -> None:
        while True:
            try:
                message = self._sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            if not message:
                continue
            prefix = message[1:]
            if message[0] == 1 and prefix not in self._prefixes:
                self._prefixes.add(prefix)
                log.info("a subscriber joined (prefix %r)", prefix.decode("utf-8", "replace"))
            elif message[0] == 0 and prefix in self._prefixes:
                self._prefixes.discard(prefix)
                log.warning("the last subscriber of prefix %r left", prefix.decode("utf-8", "replace"))

    def publish(self, topic: bytes, tick: JSON) -> None:
        with self.lock:
            self._publish(topic, tick)

    def _publish(self, topic: bytes, tick: JSON) -> None:
        self._poll_subscriptions()
        tick["src"], tick["session"], tick["seq"] = self.src, self.session, self.next_seq
        self.next_seq += 1
        if not any(topic.startswith(prefix) for prefix in self._prefixes):
            self.unsubscribed += 1
            return
        body = json.dumps(tick, separators=(",", ":"), allow_nan=False).encode("utf-8")
        try:
            self._sock.send_multipart([topic, body], flags=zmq.NOBLOCK)
            self.published += 1
        except zmq.Again:
            self.hwm_dropped += 1

    def close(self) -> None:
        with self.lock:
            self._sock.close()


class SecretFilter(logging.Filter):
    """Blanks the secrets it was given out of every record a handler writes (messages and
    tracebacks alike), whichever library logs them."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def add(self, secret: str) -> None:
        if len(secret) >= 4:
            self.secrets.add(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        if any(s in message for s in self.secrets):
            for secret in self.secrets:
                message = message.replace(secret, "[redacted]")
            record.msg, record.args = message, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            for secret in self.secrets:
                record.exc_text = record.exc_text.replace(secret, "[redacted]")
        return True


