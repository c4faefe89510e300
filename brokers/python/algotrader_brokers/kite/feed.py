"""Zerodha's market-data publisher: Kite Ticker ticks (the official kiteconnect SDK's
``KiteTicker``) published to the engine as the tick messages of docs/ingest.md ("Messages") on
a ZeroMQ socket bound at ``[feed] publish_bind``, which the engine's ``market_data.connect``
lists.

    python -m algotrader_brokers feed --config /etc/algotrader/feed-zerodha-main.toml

Where its inputs come from. The configuration names the instruments (``[feed] instruments``,
``"EXCHANGE:SYMBOL"``) and nothing secret. The engine owns the instrument master and the
broker's session: this process connects to the engine's gateway socket like a gateway
(engine_link.py, ``hello`` with ``role: "feed"`` and the instruments, docs/protocol.md) and the
``welcome`` gives it the broker's credentials (``api_key``, ``access_token``) and each
instrument's Kite ``instrument_token``. A later ``welcome`` with a renewed token replaces the
stream's connection; the token is never logged (SecretFilter blanks it wherever it would show).

Kite's limits (https://kite.trade/docs/connect/v3/websocket/: "You can subscribe for up to 3000
instruments on a single WebSocket connection ... Single API key can have upto 3 websocket
connections"): the instruments are split into groups of at most 3,000, one Kite Ticker
connection each, at most three, so at most 9,000 instruments (more is a configuration error,
exit 78). The engine's ``hello`` takes at most 3,000 instruments too, and at most 64 KiB, so each
group has its own engine connection (``gateway_id`` = ``broker.id``, or ``broker.id#N`` when
there are several) and a group ends early when its hello would outgrow 64 KiB (long option
symbols: about 2,300 of them fill one).

What a published tick is (topic ``tick.<EXCHANGE>.<SYMBOL>``, one JSON object):

- ``symbol``, ``exchange``: the instrument master's, by the tick's instrument token;
- ``ts``: integer Unix epoch nanoseconds: Kite's ``exchange_timestamp`` (full mode; whole
  seconds) when the packet has one, else the time this process received the packet (quote
  mode has no exchange time);
- ``price``: ``last_price``, as exactly as Kite sends it (paise, or the segment's unit): a
  price the engine cannot hold exactly (more than 4 decimals, as a currency quote in 1/10^7
  rupee could be) or not > 0 (no trade yet) is not published but counted (``rejected``), never
  rounded;
- ``volume``: ``volume_traded``, the day's cumulative volume (quote and full modes);
- ``qty``: what traded since the instrument's previous packet, the rise in ``volume_traded``.
  Kite's packets are snapshots sent on any change (a depth change repeats the last trade), so
  publishing ``last_traded_quantity`` on each would count one trade many times in the engine's
  bars (a bar's volume is the sum of ``qty``). It equals ``last_traded_quantity`` when one trade
  happened between packets. An instrument's first packet in this run carries
  ``last_traded_quantity`` (at most the day's volume);
- ``oi``: open interest (full mode);
- ``bid``, ``bid_qty``, ``ask``, ``ask_qty``: the best level of the depth (full mode), when
  that side has one;
- ``src``: ``broker.id``; ``session``: a new UUID at each start of this process; ``seq``: 0, 1,
  2, ... over everything this process publishes (every connection), one per message. A tick
  that finds no subscriber, or the socket at its high-water mark, still takes its ``seq``, so
  the engine sees what it missed as a gap, as the contract wants loss to be seen.

The socket is an XPUB: it knows when the engine's SUB has subscribed, so ticks are not sent
into the void before it has (docs/ingest.md); they are counted as ``unsubscribed``.

Connection health: Kite sends a 1-byte heartbeat every second, so ``stall_seconds`` with no
message at all (tick or heartbeat) means a stalled stream: it is dropped and reconnected. A lost
connection is reconnected by the SDK with backoff (0.8 s, rising to 30 s) and resubscribed in
its mode; the time without data is logged as a gap. An HTTP 403 on connecting (the day's token
expired or was revoked) stops the retries and tells the engine (``session``, ``expired``,
docs/protocol.md); the stream returns with the next ``welcome`` carrying a renewed token (the
refused one is tried again only every 5 minutes), and the engine is told ``active``. Counters (``status()``, and a ``kite feed status:`` log line at
every such event, every minute and at exit): ``received`` ticks, ``published``, ``seq``
(the next), ``unsubscribed``, ``hwm_dropped``, ``rejected``, ``unknown_tokens``, ``reconnects``,
``drops``, ``stalls``, ``gaps``, ``gap_seconds``, ``expired``.

TLS: ``wss://`` is verified (certificate and host name, the system's trusted roots), which the
SDK's own connect does not do (ticker.py's VerifiedKiteTicker, shared with the gateway).

Threads: Twisted's reactor (the SDK's) runs in the main thread and owns the tickers and the PUB
socket; each engine link has its own thread and hands welcomes to the reactor.
"""
from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from datetime import datetime
from typing import Any, Callable

import zmq
from twisted.internet import reactor as _reactor
from twisted.internet import task

from ..config import ConfigError, ProcessConfig
from ..engine_link import EngineLink, LinkHandler, Welcome, curve_keys
from ..feed_common import (OI_MAX, PRICE_LIMIT, QTY_MAX, STRING_MAX, VOLUME_MAX, Instrument, Publisher, SecretFilter,
                           VolumeDelta, control_free, count_value, exact_number, group_instruments, parse_instruments)
from .ticker import VerifiedKiteTicker

log = logging.getLogger(__name__)
reactor: Any = _reactor  # Twisted types the global reactor as a module; it is an object

JSON = dict[str, Any]

# Kite's documented limits (module docstring).
MAX_INSTRUMENTS_PER_CONNECTION = 3000
MAX_CONNECTIONS = 3
LIMITS = (MAX_INSTRUMENTS_PER_CONNECTION, MAX_CONNECTIONS, "Kite")  # for feed_common's grouping
# Reconnection: the SDK's factory (Twisted's ReconnectingClientFactory) multiplies its delay by
# e each attempt; starting from 0.3 s the first retry comes after about 0.8 s, the delay then
# caps at 30 s (the SDK's minimum cap is 5 s). After the SDK's most retries (300) a new ticker
# starts over: a publisher never gives up on its stream.
FIRST_RETRY_SECONDS = 0.3
RECONNECT_MAX_DELAY = 30
RECONNECT_MAX_TRIES = 300
STATUS_SECONDS = 60.0
EXPIRED_RETRY_SECONDS = 300.0
SUBSCRIPTION_POLL_SECONDS = 0.2
REJECT_LOG_SECONDS = 60.0
# autobahn's reason for a refused handshake: "WebSocket connection upgrade failed (403 - ...)".
HANDSHAKE_403 = re.compile(r"upgrade failed \(403\b")


def exchange_time_ns(value: Any) -> int | None:
    """Kite's exchange timestamp in epoch nanoseconds, or None when the packet has none. The SDK
    makes ``datetime.fromtimestamp(seconds)`` (naive local time); ``timestamp()`` inverts it
    exactly, folds included (PEP 495). Epoch 0 is Kite's "no time"."""
    if isinstance(value, datetime):
        seconds = round(value.timestamp())
        if seconds > 0:
            return seconds * 1_000_000_000
    return None


class TickMapper:
    """Kite ticks as the SDK parses them -> contract ticks (less ``src``, ``session`` and
    ``seq``, which the Publisher stamps). Keeps each instrument's last volume for ``qty``."""

    def __init__(self) -> None:
        self._volume = VolumeDelta()

    def map(self, raw: JSON, instrument: Instrument, received_ns: int) -> tuple[JSON | None, str]:
        """(tick, "") or (None, why it cannot be published)."""
        last_price = raw.get("last_price")
        price = exact_number(last_price, positive=True, limit=PRICE_LIMIT)
        if price is None:
            return None, "no_price" if not last_price else "inexact_price"
        tick: JSON = {"symbol": instrument.symbol, "exchange": instrument.exchange,
                      "ts": exchange_time_ns(raw.get("exchange_timestamp")) or received_ns, "price": price}
        volume = count_value(raw.get("volume_traded"), VOLUME_MAX)
        if volume is not None:  # not in index packets
            tick["volume"] = volume
            qty = self._volume.traded(instrument.token, volume, raw.get("last_traded_quantity"))
            if qty <= QTY_MAX:
                tick["qty"] = qty
            else:
                log.warning("%s:%s: %d traded since the previous packet is over qty's 10^9; qty left out",
                            instrument.exchange, instrument.symbol, qty)
        oi = count_value(raw.get("oi"), OI_MAX)
        if oi is not None:
            tick["oi"] = oi
        depth = raw.get("depth")
        if isinstance(depth, dict):
            for side, name in (("buy", "bid"), ("sell", "ask")):
                levels = depth.get(side)
                best = levels[0] if isinstance(levels, list) and levels and isinstance(levels[0], dict) else {}
                best_price = exact_number(best.get("price"), positive=True, limit=PRICE_LIMIT)
                if best_price is None:  # an empty side is zeros in Kite's packet
                    continue
                tick[name] = best_price
                size = count_value(best.get("quantity"), QTY_MAX)
                if size is not None:
                    tick[f"{name}_qty"] = size
        return tick, ""


class Shard(LinkHandler):
    """One group of at most 3,000 instruments: its engine connection and its Kite Ticker
    connection. Everything but ``on_welcome`` (the link's thread) runs on the reactor."""

    def __init__(self, feed: "KiteFeed", index: int, instruments: list[tuple[str, str]]) -> None:
        self.feed, self.index, self.instruments = feed, index, instruments
        self.link: EngineLink | None = None
        self.tokens: dict[int, Instrument] = {}
        self.api_key = ""
        self.access_token = ""
        self.ticker: Any = None
        self.subscribed = False     # this ticker subscribed once; later opens the SDK resubscribes
        self.ever_open = False      # any ticker of this shard was open once: a later open is a reconnect
        self.open = False
        self.last_message = 0.0
        self.lost_at: float | None = None  # when data stopped, until it resumes
        self.expired = False
        self.retry_call: Any = None

    @property
    def name(self) -> str:
        return f"connection {self.index + 1}"

    def on_welcome(self, welcome: Welcome) -> None:
        reactor.callFromThread(self.feed.welcome, self, welcome)


class KiteFeed:
    def __init__(self, config: ProcessConfig, secrets: SecretFilter | None = None,
                 status_seconds: float = STATUS_SECONDS) -> None:
        src = config.broker.id
        if not 1 <= len(src) <= STRING_MAX["src"] or not control_free(src):
            raise ConfigError("broker.id: the feed's src must be 1-64 characters without control characters")
        instruments = parse_instruments(config.feed.instruments, *LIMITS)
        self.broker_id = config.broker.broker_ids[0]
        self.mode = config.feed.mode
        self.ws_root = config.kite.ws_root
        self.stall_seconds = config.feed.stall_seconds
        self.status_seconds = status_seconds
        self.secrets = secrets or SecretFilter()
        self.session = str(uuid.uuid4())
        self.mapper = TickMapper()
        curve = curve_keys(config)
        # The longest gateway_id a group may get stands in for each (broker.id#N).
        groups = group_instruments(instruments, {"gateway_id": f"{config.broker.id}#{MAX_CONNECTIONS}",
                                                 "broker_ids": [self.broker_id], "role": "feed",
                                                 "api_type": config.broker.api_type}, *LIMITS)
        self.shards = [Shard(self, i, group) for i, group in enumerate(groups)]
        for shard in self.shards:
            gateway_id = config.broker.id if len(groups) == 1 else f"{config.broker.id}#{shard.index + 1}"
            shard.link = EngineLink(config.engine.endpoint, gateway_id=gateway_id, broker_ids=(self.broker_id,),
                                    handler=shard, api_type=config.broker.api_type, role="feed",
                                    instruments=[f"{e}:{s}" for e, s in shard.instruments], curve=curve)
        self.publish_bind = config.feed.publish_bind
        self.publisher = Publisher(self.publish_bind, src, self.session)
        self.received = self.unknown_tokens = self.reconnects = self.drops = self.stalls = 0
        self.gaps = self.expired = 0
        self.gap_seconds = 0.0
        self.rejected: dict[str, int] = {}
        self._reject_logged: dict[str, float] = {}
        self._loops: list[task.LoopingCall] = []

    # -- life ---------------------------------------------------------------------------------
    def start(self) -> None:
        log.info("kite feed: session %s, %d instrument(s) in %d connection(s), %s mode, publishing on %s",
                 self.session, sum(len(s.instruments) for s in self.shards), len(self.shards), self.mode,
                 self.publish_bind)
        for shard in self.shards:
            assert shard.link is not None
            shard.link.start()
        for call, seconds in ((self.check_stalls, min(0.25, self.stall_seconds / 4)),
                              (self.publisher.poll_subscriptions, SUBSCRIPTION_POLL_SECONDS),
                              (lambda: self.log_status("every minute"), self.status_seconds)):
            loop = task.LoopingCall(call)
            loop.start(seconds, now=False)
            self._loops.append(loop)

    def stop(self) -> None:
        for loop in self._loops:
            if loop.running:
                loop.stop()
        for shard in self.shards:
            if shard.retry_call is not None and shard.retry_call.active():
                shard.retry_call.cancel()
            if shard.ticker is not None:
                shard.ticker.close(1000, "publisher stopping")
            if shard.link is not None:
                shard.link.stop()
        self.log_status("stopping")
        self.publisher.close()

    # -- engine ---------------------------------------------------------------------------------
    def welcome(self, shard: Shard, welcome: Welcome) -> None:
        """A welcome for ``shard`` (reactor thread): (re)connect its stream when what it needs
        changed (the token, the instrument tokens) or the old token had been refused."""
        if self.broker_id not in welcome.broker_ids:
            log.error("%s: the engine did not grant broker %s (not live, inactive, or not one this connection "
                      "is authenticated for); waiting for another welcome", shard.name, self.broker_id)
            return
        credentials = welcome.credentials.get(self.broker_id)
        if credentials is None:
            log.error("%s: no credentials for broker %s in the welcome: %s", shard.name, self.broker_id,
                      welcome.credential_errors.get(self.broker_id, "none sent"))
            return
        api_key, access_token = credentials.get("api_key"), credentials.get("access_token")
        if not isinstance(api_key, str) or not api_key or not isinstance(access_token, str) or not access_token:
            log.error("%s: broker %s's credentials lack api_key or access_token (has today's login been done?)",
                      shard.name, self.broker_id)
            return
        self.secrets.add(access_token)
        tokens = self._tokens(shard, welcome)
        if not tokens:
            log.error("%s: the engine's instrument master has none of this connection's instruments", shard.name)
            return
        if shard.expired and access_token == shard.access_token:
            # The refused token again (an engine that restarted says welcome anew): do not
            # knock on Kite with it, but make sure this engine knows.
            self._session(shard, "expired")
            return
        if (shard.ticker is not None and not shard.expired and (api_key, access_token) ==
                (shard.api_key, shard.access_token) and tokens == shard.tokens):
            log.info("%s: welcome again, nothing changed for the stream", shard.name)
            return
        shard.api_key, shard.access_token, shard.tokens = api_key, access_token, tokens
        self.connect(shard)

    def _tokens(self, shard: Shard, welcome: Welcome) -> dict[int, Instrument]:
        wanted = set(shard.instruments)
        tokens: dict[int, Instrument] = {}
        for item in welcome.instruments:
            exchange, symbol, token = item.get("exchange"), item.get("symbol"), item.get("instrument_token")
            if (not isinstance(exchange, str) or not isinstance(symbol, str) or isinstance(token, bool)
                    or not isinstance(token, int) or not 0 < token < 2**32 or (exchange, symbol) not in wanted):
                log.warning("%s: the welcome's instrument %r is not one this connection asked for; ignored",
                            shard.name, item)
                continue
            if token in tokens:  # a ticker packet names only its token: which of the two would it be?
                log.warning("%s: the engine gave %s:%s the token of %s:%s; only the first is streamed", shard.name,
                            exchange, symbol, tokens[token].exchange, tokens[token].symbol)
                continue
            tokens[token] = Instrument(exchange, symbol, token)
        for name in welcome.unknown_instruments:
            log.warning("%s: %s is not in the engine's instrument master: not streamed", shard.name, name)
        answered = {f"{i.exchange}:{i.symbol}" for i in tokens.values()} | set(welcome.unknown_instruments)
        for exchange, symbol in shard.instruments:
            if f"{exchange}:{symbol}" not in answered:
                log.warning("%s: the welcome gave no token for %s:%s: not streamed", shard.name, exchange, symbol)
        return tokens

    def _session(self, shard: Shard, status: str, reason: str | None = None) -> None:
        payload: JSON = {"broker_id": self.broker_id, "status": status}
        if reason:
            payload["reason"] = reason
        assert shard.link is not None
        shard.link.send("session", payload)

    # -- Kite -----------------------------------------------------------------------------------
    def connect(self, shard: Shard) -> None:
        """A new KiteTicker for ``shard`` with its current token (the old one, if any, closed)."""
        if shard.retry_call is not None and shard.retry_call.active():
            shard.retry_call.cancel()
        shard.retry_call = None
        if shard.ticker is not None:
            old, shard.ticker = shard.ticker, None
            old.close(1000, "replaced")
            if shard.open:
                shard.open = False
                shard.lost_at = shard.last_message
        ticker = VerifiedKiteTicker(shard.api_key, shard.access_token, root=self.ws_root,
                                    reconnect_max_tries=RECONNECT_MAX_TRIES, reconnect_max_delay=RECONNECT_MAX_DELAY)
        shard.ticker, shard.subscribed = ticker, False

        def guard(method: Callable[..., None]) -> Callable[..., None]:
            # Callbacks of a ticker this shard has replaced are ignored; a bug in one is logged
            # and the stream goes on.
            def call(ws: Any, *args: Any) -> None:
                if ws is not shard.ticker:
                    return
                try:
                    method(shard, ws, *args)
                except Exception:
                    log.exception("%s: %s failed", shard.name, method.__name__)
            return call

        ticker.on_connect = guard(self.on_connect)
        ticker.on_open = guard(self.on_open)
        ticker.on_message = guard(self.on_message)
        ticker.on_ticks = guard(self.on_ticks)
        ticker.on_close = guard(self.on_close)
        ticker.on_error = guard(self.on_error)
        ticker.on_noreconnect = guard(self.on_noreconnect)
        log.info("%s: connecting to Kite Ticker for %d instrument(s)", shard.name, len(shard.tokens))
        ticker.connect()  # the reactor runs already: this only starts connecting
        ticker.factory.initialDelay = ticker.factory.delay = FIRST_RETRY_SECONDS

    def on_connect(self, shard: Shard, ws: Any, response: Any) -> None:
        if shard.expired:
            shard.expired = False
            log.info("%s: Kite accepted the renewed token; telling the engine the session is active", shard.name)
            self._session(shard, "active")

    def on_open(self, shard: Shard, ws: Any) -> None:
        now = time.monotonic()
        tokens = sorted(shard.tokens)
        if not shard.subscribed:
            ws.subscribe(tokens)
            ws.set_mode(self.mode, tokens)
            shard.subscribed = True
            log.info("%s: subscribed %d instrument(s) in %s mode", shard.name, len(tokens), self.mode)
        else:  # KiteTicker._on_open has resubscribed every token in its mode before calling us
            log.info("%s: reconnected; the SDK resubscribed %d instrument(s) in %s mode", shard.name,
                     len(ws.subscribed_tokens), self.mode)
        if shard.ever_open:
            self.reconnects += 1
        shard.ever_open = shard.open = True
        shard.last_message = now
        if shard.lost_at is not None:
            gap = now - shard.lost_at
            self.gaps += 1
            self.gap_seconds += gap
            shard.lost_at = None
            log.warning("%s: data resumes after a gap of %.1f s (ticks in it were not sent by Kite)", shard.name, gap)
        self.log_status("connected")

    def on_message(self, shard: Shard, ws: Any, payload: bytes, is_binary: bool) -> None:
        shard.last_message = time.monotonic()  # ticks, heartbeats and text alike prove the stream alive

    def on_ticks(self, shard: Shard, ws: Any, ticks: list[JSON]) -> None:
        received_ns = time.time_ns()
        for raw in ticks:
            self.received += 1
            token = raw.get("instrument_token")
            instrument = shard.tokens.get(token) if isinstance(token, int) else None
            if instrument is None:
                self.unknown_tokens += 1
                continue
            tick, why = self.mapper.map(raw, instrument, received_ns)
            if tick is None:
                self._reject(instrument, why)
                continue
            self.publisher.publish(instrument.topic, tick)

    def _reject(self, instrument: Instrument, why: str) -> None:
        self.rejected[why] = self.rejected.get(why, 0) + 1
        now = time.monotonic()
        if now - self._reject_logged.get(why, -REJECT_LOG_SECONDS) >= REJECT_LOG_SECONDS:
            self._reject_logged[why] = now
            log.warning("a tick of %s:%s not published (%s; %d so far; logged at most once a minute)",
                        instrument.exchange, instrument.symbol, why, self.rejected[why])

    def on_close(self, shard: Shard, ws: Any, code: Any, reason: Any) -> None:
        text = str(reason)
        was_open, shard.open = shard.open, False
        if was_open:
            shard.lost_at = shard.last_message
        if HANDSHAKE_403.search(text):
            # The same token will not work again soon: no retries at the SDK's pace, wait for a
            # renewed one; still try it again now and then, in case Kite refused it by mistake.
            ws.stop_retry()
            shard.retry_call = reactor.callLater(EXPIRED_RETRY_SECONDS, self.connect, shard)
            if not shard.expired:
                shard.expired = True
                self.expired += 1
                log.error("%s: Kite refused the access token (HTTP 403: expired or revoked); told the engine, "
                          "waiting for a welcome with a renewed token", shard.name)
                self._session(shard, "expired", "Kite Ticker refused the access token (HTTP 403)")
                self.log_status("token refused")
            return
        if was_open:
            self.drops += 1
            log.warning("%s: Kite Ticker connection lost (%s: %s); reconnecting", shard.name, code, text)
            self.log_status("connection lost")

    def on_error(self, shard: Shard, ws: Any, code: Any, reason: Any) -> None:
        if code == 0:  # a text error from Kite (the SDK's code 0), e.g. a subscription refused
            log.warning("%s: Kite Ticker says: %s", shard.name, reason)

    def on_noreconnect(self, shard: Shard, ws: Any) -> None:
        log.error("%s: the SDK gave up reconnecting; starting a new connection in %d s", shard.name,
                  RECONNECT_MAX_DELAY)
        shard.retry_call = reactor.callLater(RECONNECT_MAX_DELAY, self.connect, shard)

    def check_stalls(self) -> None:
        now = time.monotonic()
        for shard in self.shards:
            if shard.open and now - shard.last_message > self.stall_seconds:
                self.stalls += 1
                shard.open = False
                shard.lost_at = shard.last_message
                log.warning("%s: nothing from Kite (no tick, no heartbeat) for %.1f s: stalled; dropping the "
                            "connection to reconnect", shard.name, now - shard.last_message)
                ws = shard.ticker.ws if shard.ticker is not None else None
                if ws is not None:
                    ws.dropConnection(abort=True)  # the SDK's factory then reconnects with backoff
                self.log_status("stalled")

    # -- counters -------------------------------------------------------------------------------
    def status(self) -> dict[str, int | float]:
        p = self.publisher
        return {"connections": len(self.shards), "open": sum(s.open for s in self.shards),
                "received": self.received, "published": p.published, "seq": p.next_seq,
                "unsubscribed": p.unsubscribed, "hwm_dropped": p.hwm_dropped,
                "rejected": sum(self.rejected.values()), "unknown_tokens": self.unknown_tokens,
                "reconnects": self.reconnects, "drops": self.drops, "stalls": self.stalls, "gaps": self.gaps,
                "gap_seconds": round(self.gap_seconds, 1), "expired": self.expired}

    def log_status(self, why: str) -> None:
        fields = " ".join(f"{k}={v}" for k, v in self.status().items())
        log.info("kite feed status: %s session=%s (%s)", fields, self.session, why)


def main(config: ProcessConfig) -> int:
    """Runs the publisher until SIGTERM or SIGINT; 78 on a bad configuration (the key named)."""
    logging.basicConfig(level=config.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    secrets = SecretFilter()
    for handler in logging.getLogger().handlers:
        handler.addFilter(secrets)
    try:
        feed = KiteFeed(config, secrets)
    except ConfigError as error:
        print(f"algotrader_brokers: bad configuration: {error}", file=sys.stderr)
        return 78
    except zmq.ZMQError as error:
        print(f"algotrader_brokers: feed.publish_bind: cannot bind {config.feed.publish_bind}: {error}",
              file=sys.stderr)
        return 69 if error.errno == zmq.EADDRINUSE else 78  # a busy port may free itself; a bad endpoint not
    reactor.callWhenRunning(feed.start)
    reactor.addSystemEventTrigger("before", "shutdown", feed.stop)
    reactor.run()  # Twisted's SIGTERM and SIGINT handlers stop it; feed.stop runs first
    return 0
