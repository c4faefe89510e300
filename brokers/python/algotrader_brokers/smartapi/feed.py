"""Angel One's market-data publisher: SmartStream (WebSocket 2.0) ticks, on the official SDK's
``SmartWebSocketV2`` (sdk.py's VerifiedSmartStream), published to the engine as the tick messages
of docs/ingest.md on a ZeroMQ XPUB bound at ``[feed] publish_bind``.

    python -m algotrader_brokers feed --config /etc/algotrader/feed-angel-main.toml

Inputs, as for Kite's publisher (kite/feed.py): ``[feed] instruments`` names them; the engine's
``welcome`` (this process connects as a ``feed``) gives the broker's credentials (``api_key``,
``client_code``, ``jwt_token``, ``feed_token``) and each instrument's ``exchange_token`` from the
instrument master: SmartStream names instruments by the exchange's token and an exchange type
(NSE 1, NFO 2, BSE 3, BFO 4, MCX 5, CDS 13). A later ``welcome`` with a renewed token replaces the
connections; tokens never reach a log line (SecretFilter).

Angel's limits (smartapi.angelbroking.com/docs/WebSocket2): at most 1,000 tokens per connection
and 3 connections per client code, so at most 3,000 instruments (more is exit 78).

A published tick (topic ``tick.<EXCHANGE>.<SYMBOL>``): ``symbol`` and ``exchange`` by the packet's
token; ``ts`` the packet's exchange timestamp (epoch ms) in nanoseconds, else the time received;
``price`` the last traded price (paise, or 1/10^7 rupee on CDS) as an exact decimal, a price the
engine cannot hold exactly or not > 0 counted as ``rejected`` and not published; ``volume`` the
day's volume and ``qty`` its rise since the instrument's previous packet (quote and snap-quote
modes: ``[feed] mode`` "quote" or "full"); ``oi`` (full); ``bid``/``ask`` and their quantities
from the best of the five levels (full); ``src``/``session``/``seq`` by the Publisher.

Health: each connection pings every ``stall_seconds / 3``; nothing at all (no tick, no pong) for
``stall_seconds`` is a stall: the connection is dropped and made again. Lost connections are
made again with backoff (1 s doubling to 30 s) and resubscribed; the time without data is a
gap. A handshake refused with 401/403 (the feed token expired) tells the engine ``session
expired`` and waits for a welcome with a new token (retrying the old one every 5 minutes).
Counters (a ``angel feed status:`` log line at each event, each minute and at exit): as Kite's.
"""
from __future__ import annotations

import logging
import signal
import sys
import threading
import time
import uuid
from decimal import Decimal
from types import FrameType
from typing import Any

import zmq

from ..config import ConfigError, ProcessConfig
from ..engine_link import EngineLink, LinkHandler, Welcome, curve_keys
from ..feed_common import (OI_MAX, PRICE_LIMIT, QTY_MAX, STRING_MAX, VOLUME_MAX, Instrument, Publisher, SecretFilter,
                           VolumeDelta, control_free, count_value, exact_number, group_instruments, parse_instruments)
from .sdk import VerifiedSmartStream

log = logging.getLogger(__name__)

JSON = dict[str, Any]
LIMITS = (1000, 3, "Angel One")
EXCHANGE_TYPES = {"NSE": 1, "NFO": 2, "BSE": 3, "BFO": 4, "MCX": 5, "CDS": 13}
MODES = {"quote": 2, "full": 3}
DIVISORS = {13: Decimal(10_000_000)}  # CDS prices come in 1/10^7 rupee; the rest in paise
PAISE = Decimal(100)
STATUS_SECONDS = 60.0
EXPIRED_RETRY_SECONDS = 300.0
REJECT_LOG_SECONDS = 60.0


def angel_price(raw: Any, exchange_type: int) -> float | int | None:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw <= 0:
        return None
    value = Decimal(raw) / DIVISORS.get(exchange_type, PAISE)
    number = float(value)
    if Decimal(repr(number)) != value:  # not exactly what the float writes: never rounded
        return None
    return exact_number(number, positive=True, limit=PRICE_LIMIT)


class TickMapper:
    """SmartStream packets as the SDK parses them -> contract ticks (less src/session/seq)."""

    def __init__(self) -> None:
        self._volume = VolumeDelta()

    def map(self, raw: JSON, instrument: Instrument, exchange_type: int, received_ns: int) -> tuple[JSON | None, str]:
        price = angel_price(raw.get("last_traded_price"), exchange_type)
        if price is None:
            return None, "no_price" if not raw.get("last_traded_price") else "inexact_price"
        stamp = raw.get("exchange_timestamp")
        ts = stamp * 1_000_000 if isinstance(stamp, int) and not isinstance(stamp, bool) and 0 < stamp < 2**53 else received_ns
        tick: JSON = {"symbol": instrument.symbol, "exchange": instrument.exchange, "ts": ts, "price": price}
        volume = count_value(raw.get("volume_trade_for_the_day"), VOLUME_MAX)
        if volume is not None:
            tick["volume"] = volume
            qty = self._volume.traded(instrument.token, volume, raw.get("last_traded_quantity"))
            if qty <= QTY_MAX:
                tick["qty"] = qty
        oi = count_value(raw.get("open_interest"), OI_MAX)
        if oi is not None and raw.get("subscription_mode") == MODES["full"]:
            tick["oi"] = oi
        # The five best levels of each side, told apart by their flag (1: buy, 0: sell, as
        # Angel documents it), not by the SDK's list names: 1.5.5 swaps the lists it built, and
        # a fix of that (its issue #71) would swap them back.
        levels = [level for key in ("best_5_buy_data", "best_5_sell_data") for level in raw.get(key) or []
                  if isinstance(level, dict)]
        for flag, name in ((1, "bid"), (0, "ask")):
            side = [level for level in levels if level.get("flag") == flag and angel_price(level.get("price"), exchange_type)]
            if not side:
                continue
            best = side[0]
            tick[name] = angel_price(best.get("price"), exchange_type)
            size = count_value(best.get("quantity"), QTY_MAX)
            if size is not None:
                tick[f"{name}_qty"] = size
        return tick, ""


class Shard(LinkHandler):
    """At most 1,000 instruments: an engine connection and a SmartStream connection (thread)."""

    def __init__(self, feed: "AngelFeed", index: int, instruments: list[tuple[str, str]]) -> None:
        self.feed, self.index, self.instruments = feed, index, instruments
        self.link: EngineLink | None = None
        self.tokens: dict[tuple[int, str], Instrument] = {}   # (exchange type, token) ->
        self.credentials: tuple[str, str, str, str] | None = None
        self.stream: VerifiedSmartStream | None = None
        self.stop_event: threading.Event | None = None
        self.generation = 0
        self.open = self.ever_open = self.expired = False
        self.last_activity = 0.0
        self.lost_at: float | None = None
        self.lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"connection {self.index + 1}"

    def on_welcome(self, welcome: Welcome) -> None:
        self.feed.welcome(self, welcome)


class AngelFeed:
    def __init__(self, config: ProcessConfig, secrets: SecretFilter | None = None,
                 status_seconds: float = STATUS_SECONDS) -> None:
        src = config.broker.id
        if not 1 <= len(src) <= STRING_MAX["src"] or not control_free(src):
            raise ConfigError("broker.id: the feed's src must be 1-64 characters without control characters")
        instruments = parse_instruments(config.feed.instruments, *LIMITS)
        for exchange, symbol in instruments:
            if exchange not in EXCHANGE_TYPES:
                raise ConfigError(f"feed.instruments: {exchange}:{symbol}: Angel One streams {', '.join(EXCHANGE_TYPES)}")
        self.broker_id = config.broker.broker_ids[0]
        self.mode = MODES[config.feed.mode]
        self.url = config.angel.stream_url
        self.stall_seconds = config.feed.stall_seconds
        self.status_seconds = status_seconds
        self.secrets = secrets or SecretFilter()
        self.session = str(uuid.uuid4())
        self.mapper = TickMapper()
        self.mapper_lock = threading.Lock()
        curve = curve_keys(config)
        groups = group_instruments(instruments, {"gateway_id": f"{config.broker.id}#{LIMITS[1]}",
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
        self._counters = threading.Lock()
        self._stopping = threading.Event()
        self._watch: threading.Thread | None = None

    # -- life ---------------------------------------------------------------------------------
    def start(self) -> None:
        log.info("angel feed: session %s, %d instrument(s) in %d connection(s), mode %d, publishing on %s",
                 self.session, sum(len(s.instruments) for s in self.shards), len(self.shards), self.mode,
                 self.publish_bind)
        for shard in self.shards:
            assert shard.link is not None
            shard.link.start()
        self._watch = threading.Thread(target=self._watch_loop, name="angel-feed-watch", daemon=True)
        self._watch.start()

    def stop(self) -> None:
        self._stopping.set()
        for shard in self.shards:
            self._end_stream(shard)
            if shard.link is not None:
                shard.link.stop()
        self.log_status("stopping")
        self.publisher.close()

    def _watch_loop(self) -> None:
        last_status = time.monotonic()
        while not self._stopping.wait(min(0.25, self.stall_seconds / 4)):
            self.publisher.poll_subscriptions()
            self.check_stalls()
            if time.monotonic() - last_status >= self.status_seconds:
                last_status = time.monotonic()
                self.log_status("every minute")

    # -- engine ---------------------------------------------------------------------------------
    def welcome(self, shard: Shard, welcome: Welcome) -> None:
        if self.broker_id not in welcome.broker_ids:
            log.error("%s: the engine did not grant broker %s; waiting for another welcome", shard.name, self.broker_id)
            return
        credentials = welcome.credentials.get(self.broker_id)
        if credentials is None:
            log.error("%s: no credentials for broker %s in the welcome: %s", shard.name, self.broker_id,
                      welcome.credential_errors.get(self.broker_id, "none sent"))
            return
        fields = tuple(credentials.get(k) for k in ("api_key", "client_code", "jwt_token", "feed_token"))
        if not all(isinstance(v, str) and v for v in fields):
            log.error("%s: broker %s's credentials lack api_key, client_code, jwt_token or feed_token (has today's "
                      "login been done?)", shard.name, self.broker_id)
            return
        creds: tuple[str, str, str, str] = tuple(str(v) for v in fields)  # type: ignore[assignment]
        for secret in (creds[2], creds[3]):
            self.secrets.add(secret)
        tokens = self._tokens(shard, welcome)
        if not tokens:
            log.error("%s: the engine's instrument master has no exchange token for this connection's instruments",
                      shard.name)
            return
        with shard.lock:
            if shard.expired and creds == shard.credentials:
                self._session(shard, "expired")
                return
            if shard.stream is not None and not shard.expired and creds == shard.credentials and tokens == shard.tokens:
                log.info("%s: welcome again, nothing changed for the stream", shard.name)
                return
            shard.credentials, shard.tokens = creds, tokens
        self._start_stream(shard)

    def _tokens(self, shard: Shard, welcome: Welcome) -> dict[tuple[int, str], Instrument]:
        wanted = set(shard.instruments)
        tokens: dict[tuple[int, str], Instrument] = {}
        for item in welcome.instruments:
            exchange, symbol, token = item.get("exchange"), item.get("symbol"), item.get("exchange_token")
            if (not isinstance(exchange, str) or not isinstance(symbol, str) or (exchange, symbol) not in wanted
                    or exchange not in EXCHANGE_TYPES):
                continue
            if isinstance(token, bool) or not isinstance(token, int) or token <= 0:
                log.warning("%s: %s:%s has no exchange_token in the instrument master: not streamed", shard.name,
                            exchange, symbol)
                continue
            key = (EXCHANGE_TYPES[exchange], str(token))
            if key not in tokens:
                tokens[key] = Instrument(exchange, symbol, token)
        for name in welcome.unknown_instruments:
            log.warning("%s: %s is not in the engine's instrument master: not streamed", shard.name, name)
        return tokens

    def _session(self, shard: Shard, status: str, reason: str | None = None) -> None:
        payload: JSON = {"broker_id": self.broker_id, "status": status}
        if reason:
            payload["reason"] = reason
        assert shard.link is not None
        shard.link.send("session", payload)

    # -- SmartStream ----------------------------------------------------------------------------
    def _end_stream(self, shard: Shard) -> None:
        with shard.lock:
            stop, shard.stop_event = shard.stop_event, None
            stream, shard.stream = shard.stream, None
        if stop is not None:
            stop.set()
        if stream is not None:
            stream.abort()

    def _start_stream(self, shard: Shard) -> None:
        self._end_stream(shard)
        stop = threading.Event()
        with shard.lock:
            shard.stop_event = stop
            shard.generation += 1
            generation = shard.generation
        threading.Thread(target=self._run_stream, args=(shard, stop, generation), daemon=True,
                         name=f"angel-stream-{shard.index + 1}").start()

    def _run_stream(self, shard: Shard, stop: threading.Event, generation: int) -> None:
        delay = 1.0
        while not stop.is_set() and not self._stopping.is_set():
            assert shard.credentials is not None
            api_key, client, jwt, feed = shard.credentials
            def state(live: bool, why: str) -> None:
                if not live and why:
                    log.debug("%s: SmartStream %s", shard.name, why)

            stream = VerifiedSmartStream(self.url, jwt, api_key, client, feed,
                                         on_tick=lambda raw: self.on_tick(shard, raw),
                                         on_activity=lambda: setattr(shard, "last_activity", time.monotonic()),
                                         on_state=state, on_open=lambda s: self.on_open(shard, s))
            with shard.lock:
                if shard.generation != generation:
                    return
                shard.stream = stream
            opened = time.monotonic()
            try:
                stream.run(ping_interval=max(1.0, self.stall_seconds / 3))
            except Exception as error:
                state(False, f"{type(error).__name__}: {error}")
            self._closed(shard)
            if stream.refused_status in (401, 403):  # the handshake's status, not text that looks like one
                self._refused(shard)
                if stop.wait(EXPIRED_RETRY_SECONDS):
                    return
                continue
            if stop.wait(delay):
                return
            delay = 1.0 if time.monotonic() - opened > 60 else min(30.0, delay * 2)

    def on_open(self, shard: Shard, stream: VerifiedSmartStream) -> None:
        token_list: dict[int, list[str]] = {}
        for exchange_type, token in sorted(shard.tokens):
            token_list.setdefault(exchange_type, []).append(token)
        stream.subscribe(uuid.uuid4().hex[:10], self.mode,
                         [{"exchangeType": t, "tokens": tokens} for t, tokens in token_list.items()])
        now = time.monotonic()
        with self._counters:
            if shard.ever_open:
                self.reconnects += 1
            shard.ever_open = shard.open = True
            shard.last_activity = now
            if shard.lost_at is not None:
                gap = now - shard.lost_at
                self.gaps += 1
                self.gap_seconds += gap
                shard.lost_at = None
                log.warning("%s: data resumes after a gap of %.1f s", shard.name, gap)
        if shard.expired:
            shard.expired = False
            log.info("%s: Angel One accepted the renewed token; telling the engine the session is active", shard.name)
            self._session(shard, "active")
        log.info("%s: subscribed %d instrument(s) in mode %d", shard.name, len(shard.tokens), self.mode)
        self.log_status("connected")

    def _closed(self, shard: Shard) -> None:
        with self._counters:
            if shard.open:
                shard.open = False
                shard.lost_at = shard.last_activity
                self.drops += 1
                log.warning("%s: SmartStream connection lost; reconnecting", shard.name)

    def _refused(self, shard: Shard) -> None:
        if not shard.expired:
            shard.expired = True
            with self._counters:
                self.expired += 1
            log.error("%s: Angel One refused the feed token (expired or revoked); told the engine, waiting for a "
                      "welcome with a renewed token", shard.name)
            self._session(shard, "expired", "Angel One SmartStream refused the session token")

    def on_tick(self, shard: Shard, raw: JSON) -> None:
        received_ns = time.time_ns()
        with self._counters:
            self.received += 1
        key = (int(raw.get("exchange_type") or 0), str(raw.get("token") or ""))
        instrument = shard.tokens.get(key)
        if instrument is None:
            with self._counters:
                self.unknown_tokens += 1
            return
        with self.mapper_lock:
            tick, why = self.mapper.map(raw, instrument, key[0], received_ns)
        if tick is None:
            self._reject(instrument, why)
            return
        self.publisher.publish(instrument.topic, tick)

    def _reject(self, instrument: Instrument, why: str) -> None:
        with self._counters:
            self.rejected[why] = self.rejected.get(why, 0) + 1
            now = time.monotonic()
            if now - self._reject_logged.get(why, -REJECT_LOG_SECONDS) < REJECT_LOG_SECONDS:
                return
            self._reject_logged[why] = now
        log.warning("a tick of %s:%s not published (%s; logged at most once a minute)", instrument.exchange,
                    instrument.symbol, why)

    def check_stalls(self) -> None:
        now = time.monotonic()
        for shard in self.shards:
            if shard.open and now - shard.last_activity > self.stall_seconds:
                with self._counters:
                    self.stalls += 1
                    shard.open = False  # a stall, not also a drop when the connection then ends
                    shard.lost_at = shard.last_activity
                log.warning("%s: nothing from Angel One (no tick, no pong) for %.1f s: stalled; dropping the "
                            "connection to reconnect", shard.name, now - shard.last_activity)
                stream = shard.stream
                if stream is not None:
                    stream.abort()
                self.log_status("stalled")

    # -- counters -------------------------------------------------------------------------------
    def status(self) -> dict[str, int | float]:
        p = self.publisher
        with self._counters:
            return {"connections": len(self.shards), "open": sum(s.open for s in self.shards),
                    "received": self.received, "published": p.published, "seq": p.next_seq,
                    "unsubscribed": p.unsubscribed, "hwm_dropped": p.hwm_dropped,
                    "rejected": sum(self.rejected.values()), "unknown_tokens": self.unknown_tokens,
                    "reconnects": self.reconnects, "drops": self.drops, "stalls": self.stalls, "gaps": self.gaps,
                    "gap_seconds": round(self.gap_seconds, 1), "expired": self.expired}

    def log_status(self, why: str) -> None:
        fields = " ".join(f"{k}={v}" for k, v in self.status().items())
        log.info("angel feed status: %s session=%s (%s)", fields, self.session, why)


def main(config: ProcessConfig) -> int:
    """Runs the publisher until SIGTERM or SIGINT; 78 on a bad configuration (the key named)."""
    logging.basicConfig(level=config.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    secrets = SecretFilter()
    for handler in logging.getLogger().handlers:
        handler.addFilter(secrets)
    try:
        feed = AngelFeed(config, secrets)
    except ConfigError as error:
        print(f"algotrader_brokers: bad configuration: {error}", file=sys.stderr)
        return 78
    except zmq.ZMQError as error:
        print(f"algotrader_brokers: feed.publish_bind: cannot bind {config.feed.publish_bind}: {error}",
              file=sys.stderr)
        return 69 if error.errno == zmq.EADDRINUSE else 78
    done = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    feed.start()
    while not done.wait(1.0):
        pass
    feed.stop()
    return 0
