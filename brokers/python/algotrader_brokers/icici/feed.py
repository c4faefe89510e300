"""ICICI Direct's market-data publisher: Breeze's live quote stream (socket.io, on the official
SDK's ``SocketEventBreeze`` / ``BreezeConnect.ws_connect`` / ``subscribe_feeds`` / ``parse_data``,
imported through sdk.py), published to the engine as the tick messages of docs/ingest.md on a
ZeroMQ XPUB bound at ``[feed] publish_bind``.

    python -m algotrader_brokers feed --config /etc/algotrader/feed-icici-main.toml

Inputs: ``[feed] instruments`` names them (NSE, NFO, BSE, BFO); the engine's ``welcome`` (this
process connects as a ``feed``) gives the broker's ``api_key`` and ``session_token`` (base64
"user_id:session_key", what ICICI's customerdetails answers) and says which instruments its
master holds. Breeze's stream names an instrument by ICICI's own token: ``[icici]
security_master`` (securities.py) maps each engine name to it, and the room subscribed is
``<segment>.1!<token>`` (exchange quotes; 4 NSE and NFO, 1 BSE, 8 BFO). A later ``welcome`` with
a renewed token replaces the connection; tokens never reach a log line (SecretFilter).

ICICI documents no per-connection limit; the SDK makes one quote connection per session, and so
does this publisher, with at most 3,000 instruments (the engine's hello; more is exit 78).

A published tick (topic ``tick.<EXCHANGE>.<SYMBOL>``): ``symbol`` and ``exchange`` by the quote's
room; ``ts`` its last traded time (``ltt``, epoch seconds) in nanoseconds, else the time
received; ``price`` the last traded price (``last``, rupees) when the engine can hold it exactly
and it is > 0, else counted as ``rejected`` and not published; ``volume`` the day's traded
quantity (``ttq``) and ``qty`` its rise since the instrument's previous quote; in ``[feed] mode``
"full" also ``oi`` (F&O quotes' ``OI``) and the best ``bid``/``ask`` (``bPrice``/``sPrice``) with
their quantities; ``src``/``session``/``seq`` by the Publisher. A message the SDK cannot parse,
or that is not an exchange quote, is counted ``bad`` (logged at most once a minute).

Health: socket.io's client reconnects a dropped transport by itself (the SDK's ``rewatch`` joins
the rooms again on each ``connect``) and Engine.IO's heartbeat (the server's pingInterval +
pingTimeout) drops a silent one, so ``[feed] stall_seconds`` is not used here. A connection the
server ends, or a first connection that fails, is made again here with backoff (1 s doubling to
30 s). A handshake the server refuses (socket.io ``connect_error`` with a message: the session is
not live) tells the engine ``session expired`` and waits for a welcome with a new token
(retrying the old one every 5 minutes); the next connection tells it ``active``. Counters (an
``icici feed status:`` log line at each event, each minute and at exit): as Angel's, plus ``bad``.
"""
from __future__ import annotations

import logging
import signal
import sys
import threading
import time
import uuid
from types import FrameType, ModuleType
from typing import Any

import zmq

from ..config import ConfigError, ProcessConfig
from ..engine_link import EngineLink, LinkHandler, Welcome, curve_keys
from ..feed_common import (STRING_MAX, Instrument, Publisher, SecretFilter, control_free, group_instruments,
                           parse_instruments)
from .sdk import BreezeURLs, import_breeze, make_breeze, session_parts
from .securities import SecurityMaster, stream_token
from .stream import BAD, BreezeStream, TickMapper

log = logging.getLogger(__name__)

JSON = dict[str, Any]
LIMITS = (3000, 1, "ICICI Direct")
EXCHANGES = ("NSE", "NFO", "BSE", "BFO")
STATUS_SECONDS = 60.0
EXPIRED_RETRY_SECONDS = 300.0
LOG_ONCE_SECONDS = 60.0
MASTER_RETRY_SECONDS = 30.0
WATCH_SECONDS = 0.2


class IciciFeed(LinkHandler):
    def __init__(self, config: ProcessConfig, secrets: SecretFilter | None = None,
                 status_seconds: float = STATUS_SECONDS) -> None:
        src = config.broker.id
        if not 1 <= len(src) <= STRING_MAX["src"] or not control_free(src):
            raise ConfigError("broker.id: the feed's src must be 1-64 characters without control characters")
        self.instruments = parse_instruments(config.feed.instruments, *LIMITS)
        for exchange, symbol in self.instruments:
            if exchange not in EXCHANGES:
                raise ConfigError(f"feed.instruments: {exchange}:{symbol}: ICICI Direct streams {', '.join(EXCHANGES)}")
        self.broker_id = config.broker.broker_ids[0]
        hello = {"gateway_id": config.broker.id, "broker_ids": [self.broker_id], "role": "feed",
                 "api_type": config.broker.api_type}
        group_instruments(self.instruments, hello, *LIMITS)  # ConfigError past one 64 KiB hello
        icici = config.icici
        self.urls = BreezeURLs(api=icici.api_url, stream=icici.stream_url, order_feed=icici.order_feed_url)
        self.master_source = icici.security_master
        self.full = config.feed.mode == "full"
        self.status_seconds = status_seconds
        self.secrets = secrets or SecretFilter()
        self.session = str(uuid.uuid4())
        self.mapper = TickMapper(self.full)
        self.mapper_lock = threading.Lock()
        self.link = EngineLink(config.engine.endpoint, gateway_id=config.broker.id, broker_ids=(self.broker_id,),
                               handler=self, api_type=config.broker.api_type, role="feed",
                               instruments=[f"{e}:{s}" for e, s in self.instruments], curve=curve_keys(config))
        self.publish_bind = config.feed.publish_bind
        self.publisher = Publisher(self.publish_bind, src, self.session)
        self.master: SecurityMaster | None = None
        self.module: ModuleType | None = None
        self.credentials: tuple[str, str] | None = None
        self.wanted: tuple[tuple[str, str], ...] = ()
        self.rooms: dict[str, Instrument] = {}
        self.stream: BreezeStream | None = None
        self.stop_event: threading.Event | None = None
        self.generation = 0
        self.open = self.ever_open = self.expired = False
        self.lost_at: float | None = None
        self.received = self.bad = self.unknown_tokens = self.reconnects = self.drops = 0
        self.gaps = self.expired_count = 0
        self.gap_seconds = 0.0
        self.rejected: dict[str, int] = {}
        self._logged: dict[str, float] = {}
        self._lock = threading.Lock()      # the stream's state
        self._counters = threading.Lock()
        self._stopping = threading.Event()
        self._watch: threading.Thread | None = None

    # -- life ---------------------------------------------------------------------------------
    def start(self) -> None:
        log.info("icici feed: session %s, %d instrument(s), mode %s, publishing on %s", self.session,
                 len(self.instruments), "full" if self.full else "quote", self.publish_bind)
        self.link.start()
        self._watch = threading.Thread(target=self._watch_loop, name="icici-feed-watch", daemon=True)
        self._watch.start()

    def stop(self) -> None:
        self._stopping.set()
        self._end_stream()
        self.link.stop()
        self.log_status("stopping")
        self.publisher.close()

    def _watch_loop(self) -> None:
        last_status = time.monotonic()
        while not self._stopping.wait(0.25):
            self.publisher.poll_subscriptions()
            if time.monotonic() - last_status >= self.status_seconds:
                last_status = time.monotonic()
                self.log_status("every minute")

    # -- engine ---------------------------------------------------------------------------------
    def on_welcome(self, welcome: Welcome) -> None:
        if self.broker_id not in welcome.broker_ids:
            log.error("the engine did not grant broker %s; waiting for another welcome", self.broker_id)
            return
        credentials = welcome.credentials.get(self.broker_id)
        if credentials is None:
            log.error("no credentials for broker %s in the welcome: %s", self.broker_id,
                      welcome.credential_errors.get(self.broker_id, "none sent"))
            return
        api_key, token = credentials.get("api_key"), credentials.get("session_token")
        if not isinstance(api_key, str) or not api_key or not isinstance(token, str) or not token:
            log.error("broker %s's credentials lack api_key or session_token (has today's login been done?)",
                      self.broker_id)
            return
        self.secrets.add(token)
        try:
            self.secrets.add(session_parts(token)[1])  # the session key the handshake sends
        except ValueError as error:
            log.error("broker %s: %s", self.broker_id, error)
            return
        known = {(str(i.get("exchange")), str(i.get("symbol"))) for i in welcome.instruments}
        wanted = tuple(i for i in self.instruments if i in known)
        for name in welcome.unknown_instruments:
            log.warning("%s is not in the engine's instrument master: not streamed", name)
        if not wanted:
            log.error("the engine's instrument master has none of this feed's instruments")
            return
        with self._lock:
            if self.expired and (api_key, token) == self.credentials:
                self._session("expired", "ICICI Direct refused the session token")
                return
            if self.stream is not None and not self.expired and (api_key, token) == self.credentials \
                    and wanted == self.wanted:
                log.info("welcome again, nothing changed for the stream")
                return
            self.credentials, self.wanted = (api_key, token), wanted
        self._start_stream()

    def _session(self, status: str, reason: str | None = None) -> None:
        payload: JSON = {"broker_id": self.broker_id, "status": status}
        if reason:
            payload["reason"] = reason
        self.link.send("session", payload)

    # -- the stream -----------------------------------------------------------------------------
    def _end_stream(self) -> None:
        with self._lock:
            stop, self.stop_event = self.stop_event, None
            stream, self.stream = self.stream, None
        if stop is not None:
            stop.set()
        if stream is not None:
            stream.close()

    def _start_stream(self) -> None:
        self._end_stream()
        stop = threading.Event()
        with self._lock:
            self.stop_event = stop
            self.generation += 1
            generation = self.generation
        threading.Thread(target=self._run_stream, args=(stop, generation), daemon=True, name="icici-stream").start()

    def _prepare(self, stop: threading.Event) -> bool:
        """The security master and the SDK, loaded once (retried while it cannot be read), and
        the rooms of the wanted instruments."""
        while self.master is None:
            try:
                self.master = SecurityMaster.load(self.master_source)
                self.module = import_breeze(self.master.raw)
                log.info("ICICI security master: %d instruments", self.master.count)
            except (OSError, ValueError) as error:
                self.master = None
                log.error("icici.security_master: cannot read %s: %s; retrying", self.master_source, error)
                if stop.wait(MASTER_RETRY_SECONDS):
                    return False
        rooms: dict[str, Instrument] = {}
        for exchange, symbol in self.wanted:
            security = self.master.find(exchange, symbol)
            if security is None:
                log.warning("%s:%s is not in ICICI's security master: not streamed", exchange, symbol)
                continue
            room = stream_token(security)
            if room in rooms:  # NSE and NFO share segment 4: a token both use is one stream
                log.warning("%s:%s and %s:%s are the same ICICI stream %s: only the first is streamed", exchange,
                            symbol, rooms[room].exchange, rooms[room].symbol, room)
                continue
            rooms[room] = Instrument(exchange, symbol, int(security.token) if security.token.isdigit() else 0)
        self.rooms = rooms
        return bool(rooms)

    def _run_stream(self, stop: threading.Event, generation: int) -> None:
        if not self._prepare(stop):
            if not stop.is_set():
                log.error("none of this feed's instruments is in ICICI's security master: nothing to stream")
            return
        assert self.module is not None and self.credentials is not None
        delay = 1.0
        while not stop.is_set() and not self._stopping.is_set():
            api_key, token = self.credentials
            breeze = make_breeze(self.module, api_key, "", token, self.urls)  # the stream needs no secret
            stream = BreezeStream(self.module, breeze, self.on_quote, self._dropped)
            with self._lock:
                if self.generation != generation:
                    return
                self.stream = stream
            opened = time.monotonic()
            outcome = stream.open(sorted(self.rooms))
            if outcome == "open":
                self._opened()
                outcome = self._supervise(stream, stop)
            stream.close()
            if outcome == "refused":
                self._refused(stream.refusal)
                if stop.wait(EXPIRED_RETRY_SECONDS):
                    return
                continue
            if outcome != "stopped":
                log.warning("ICICI quote stream: %s; connecting again in %.0f s", outcome, delay)
            if stop.wait(delay):
                return
            delay = 1.0 if time.monotonic() - opened > 60 else min(30.0, delay * 2)

    def _supervise(self, stream: BreezeStream, stop: threading.Event) -> str:
        """Watches an open stream until it ends: socket.io's own reconnections are counted
        here (``connected`` again after a drop: the SDK's rewatch joined the rooms again)."""
        while not stop.wait(WATCH_SECONDS):
            if self._stopping.is_set():
                return "stopped"
            if stream.refused.is_set():
                return "refused"
            if stream.ended.is_set():
                return "the server ended the connection"
            if stream.sio.connected and not self.open:
                self._opened()
        return "stopped"

    def _opened(self) -> None:
        now = time.monotonic()
        with self._counters:
            if self.ever_open:
                self.reconnects += 1
            self.ever_open = self.open = True
            if self.lost_at is not None:
                gap = now - self.lost_at
                self.gaps += 1
                self.gap_seconds += gap
                self.lost_at = None
                log.warning("data resumes after a gap of %.1f s", gap)
        if self.expired:
            self.expired = False
            log.info("ICICI Direct accepted the session token; telling the engine the session is active")
            self._session("active")
        log.info("subscribed %d instrument(s) (exchange quotes)", len(self.rooms))
        self.log_status("connected")

    def _dropped(self, reason: str, planned: bool) -> None:
        """The connection ended: ``planned`` when this process closed it (a renewed welcome,
        stopping), which is no drop but still a gap in the data."""
        with self._counters:
            if not self.open:
                return
            self.open = False
            self.lost_at = time.monotonic()
            if planned:
                return
            self.drops += 1
        log.warning("ICICI quote stream lost (%s); reconnecting", reason or "no reason given")
        self.log_status("lost")

    def _refused(self, message: str) -> None:
        if self.expired:
            return
        self.expired = True
        with self._counters:
            self.expired_count += 1
        log.error("ICICI Direct refused the session (%s); told the engine, waiting for a welcome with a renewed "
                  "token", message or "no message")
        self._session("expired", "ICICI Direct's stream refused the session token")
        self.log_status("session refused")

    def on_quote(self, quote: JSON) -> None:
        received_ns = time.time_ns()
        with self._counters:
            self.received += 1
        why = quote.get(BAD)
        if why is not None:
            with self._counters:
                self.bad += 1
            self._log_once(f"bad:{why}", f"a stream message not published ({why}; logged at most once a minute)")
            return
        room = str(quote.get("symbol"))
        instrument = self.rooms.get(room)
        if instrument is None:
            with self._counters:
                self.unknown_tokens += 1
            return
        with self.mapper_lock:
            tick, why = self.mapper.map(quote, instrument, room, received_ns)
        if tick is None:
            with self._counters:
                self.rejected[why] = self.rejected.get(why, 0) + 1
            self._log_once(why, f"a tick of {instrument.exchange}:{instrument.symbol} not published ({why}; logged "
                                "at most once a minute)")
            return
        self.publisher.publish(instrument.topic, tick)

    def _log_once(self, key: str, message: str) -> None:
        now = time.monotonic()
        with self._counters:
            if now - self._logged.get(key, -LOG_ONCE_SECONDS) < LOG_ONCE_SECONDS:
                return
            self._logged[key] = now
        log.warning("%s", message)

    # -- counters -------------------------------------------------------------------------------
    def status(self) -> dict[str, int | float]:
        p = self.publisher
        with self._counters:
            return {"connections": 1, "open": int(self.open), "received": self.received, "published": p.published,
                    "seq": p.next_seq, "unsubscribed": p.unsubscribed, "hwm_dropped": p.hwm_dropped,
                    "rejected": sum(self.rejected.values()), "bad": self.bad, "unknown_tokens": self.unknown_tokens,
                    "reconnects": self.reconnects, "drops": self.drops, "gaps": self.gaps,
                    "gap_seconds": round(self.gap_seconds, 1), "expired": self.expired_count}

    def log_status(self, why: str) -> None:
        fields = " ".join(f"{k}={v}" for k, v in self.status().items())
        log.info("icici feed status: %s session=%s (%s)", fields, self.session, why)


def main(config: ProcessConfig) -> int:
    """Runs the publisher until SIGTERM or SIGINT; 78 on a bad configuration (the key named)."""
    logging.basicConfig(level=config.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    secrets = SecretFilter()
    for handler in logging.getLogger().handlers:
        handler.addFilter(secrets)
    try:
        feed = IciciFeed(config, secrets)
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
