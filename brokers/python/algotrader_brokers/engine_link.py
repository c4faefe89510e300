"""The connection to the engine's gateway socket (docs/protocol.md, "Broker gateways"), shared by
every broker's gateway and by the market-data publishers' ``role: feed`` connection.

One ``EngineLink`` owns one ZeroMQ DEALER connected to the engine's ``gateway.bind`` and a
thread that alone touches it (ZeroMQ sockets are not thread-safe). It

- says ``hello`` (``gateway_id``, ``broker_ids``, ``api_type``, ``role``, a feed's
  ``instruments``) and repeats it on a fresh socket until a ``welcome`` comes;
- hands each ``welcome`` (the first and every later one: a broker granted later, renewed
  credentials) to ``LinkHandler.on_welcome`` as a ``Welcome`` whose credentials never show in
  its ``repr``, so logging one cannot leak a secret;
- sends ``heartbeat`` every ``heartbeat_interval_ms`` the welcome gave, and when the engine has
  been silent for ``heartbeat_timeout_ms`` (it died, restarted or dropped us) or answers
  ``say hello first`` (a restarted engine that does not know this connection), starts over with
  a new socket and a new ``hello`` — the engine then reconciles, which is what makes a reconnect
  safe;
- passes every other engine message to ``LinkHandler.on_message`` on the link's thread (handlers
  must return quickly: a broker call belongs on a thread of its own, adapter.AdapterWorker);
- ``send(kind, payload)`` may be called from any thread: messages go through a queue and a wake-up
  pipe to the link's thread, and wait there until the connection has been welcomed (the engine
  answers anything before ``hello`` with ``error``).

CURVE: with ``engine.curve_server_public_key_file`` and ``engine.curve_secret_key_file`` (Z85
text files), the DEALER is a CURVE client; the public key is derived from the secret. Neither key
nor any credential is ever logged. Without them the endpoint must be one the engine trusts
without CURVE (a private ``ipc://`` path; a plain loopback TCP connection is answered but given
no live broker, docs/security.md).

Usage::

    class Mine(LinkHandler):
        def on_welcome(self, welcome: Welcome) -> None: ...
        def on_message(self, kind: str, payload: JSON) -> None: ...

    link = EngineLink.from_config(config, Mine(), role="gateway")
    link.start()            # or link.run() on the calling thread
    link.send("report", {...})
    link.stop()
"""
from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import zmq

from .config import ConfigError, ProcessConfig

log = logging.getLogger(__name__)

JSON = dict[str, Any]

ROLES = ("gateway", "feed")
# Until a welcome says otherwise: the engine's documented defaults are of this order, and a
# hello unanswered for HELLO_RETRY_SECONDS is sent again on a new socket.
DEFAULT_HEARTBEAT_INTERVAL_MS = 1000
DEFAULT_HEARTBEAT_TIMEOUT_MS = 5000
HELLO_RETRY_SECONDS = 5.0
# Messages waiting for a welcome are bounded so an engine away for hours cannot exhaust memory;
# what is dropped is what the protocol resends anyway (reports until report.ack, answers to
# requests the engine repeats).
MAX_HELD = 10_000
# The engine's limit on a payload (docs/protocol.md, "Strict fields").
MAX_PAYLOAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class CurveKeys:
    """This connection's CURVE key pair and the engine's public key, Z85 text."""

    server_public: bytes
    public: bytes
    secret: bytes = field(repr=False)

    @classmethod
    def from_files(cls, server_public_file: Path, secret_file: Path) -> "CurveKeys":
        """Reads the engine's public key and this process's secret key (Z85, 40 characters,
        surrounding whitespace ignored); ValueError says which file is bad, never its content."""
        server_public = _read_key(server_public_file)
        secret = _read_key(secret_file)
        try:
            public = zmq.curve_public(secret)
        except (zmq.ZMQError, ValueError) as error:
            raise ValueError(f"{secret_file}: not a Z85 CURVE secret key") from error
        return cls(server_public=server_public, public=public, secret=secret)


def _read_key(path: Path) -> bytes:
    try:
        text = path.read_bytes().strip()
    except OSError as error:
        raise ValueError(f"{path}: cannot be read: {error.strerror}") from None
    if len(text) != 40:
        raise ValueError(f"{path}: a Z85 CURVE key of 40 characters is required")
    return text


def curve_keys(config: ProcessConfig) -> CurveKeys | None:
    """The configuration's CURVE keys (both files or neither); ConfigError names the key."""
    engine = config.engine
    server, secret = engine.curve_server_public_key_file, engine.curve_secret_key_file
    if server is None and secret is None:
        return None
    if server is None or secret is None:
        missing = "curve_server_public_key_file" if server is None else "curve_secret_key_file"
        raise ConfigError(f"engine.{missing}: required with the other CURVE key file")
    try:
        return CurveKeys.from_files(server, secret)
    except ValueError as error:
        key = "curve_secret_key_file" if str(secret) in str(error) else "curve_server_public_key_file"
        raise ConfigError(f"engine.{key}: {error}") from None


@dataclass(frozen=True)
class Welcome:
    """A ``welcome`` as a gateway or feed uses it. ``credentials`` maps each accepted broker that
    has any to its decrypted JSON object; it is left out of ``repr`` and ``str``."""

    broker_ids: tuple[str, ...]
    refused_broker_ids: tuple[str, ...]
    heartbeat_interval_ms: int
    heartbeat_timeout_ms: int
    credentials: Mapping[str, JSON] = field(repr=False)
    credential_errors: Mapping[str, str]
    instruments: tuple[JSON, ...] = ()
    unknown_instruments: tuple[str, ...] = ()

    @classmethod
    def parse(cls, payload: JSON) -> "Welcome":
        def strings(key: str) -> tuple[str, ...]:
            value = payload.get(key) or []
            return tuple(str(v) for v in value) if isinstance(value, list) else ()

        def positive(key: str, default: int) -> int:
            value = payload.get(key)
            return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default

        credentials = payload.get("credentials") or {}
        errors = payload.get("credential_errors") or {}
        instruments = payload.get("instruments") or []
        return cls(
            broker_ids=strings("broker_ids"), refused_broker_ids=strings("refused_broker_ids"),
            heartbeat_interval_ms=positive("heartbeat_interval_ms", DEFAULT_HEARTBEAT_INTERVAL_MS),
            heartbeat_timeout_ms=positive("heartbeat_timeout_ms", DEFAULT_HEARTBEAT_TIMEOUT_MS),
            credentials={str(k): dict(v) for k, v in credentials.items() if isinstance(v, dict)}
            if isinstance(credentials, dict) else {},
            credential_errors={str(k): str(v) for k, v in errors.items()} if isinstance(errors, dict) else {},
            instruments=tuple(dict(i) for i in instruments if isinstance(i, dict)) if isinstance(instruments, list) else (),
            unknown_instruments=strings("unknown_instruments"))


class LinkHandler:
    """What the link calls, always on its own thread. Override what you need; the defaults do
    nothing. Return quickly: a heartbeat cannot go out while a handler runs."""

    def on_welcome(self, welcome: Welcome) -> None:
        """A welcome (the first after each hello, and any later one: use the latest)."""

    def on_message(self, kind: str, payload: JSON) -> None:
        """Any engine message but ``welcome`` and ``heartbeat`` (``error`` included)."""

    def on_idle(self) -> None:
        """Called about every 100 ms: a place for timers (resending unacknowledged reports)."""

    def on_lost(self) -> None:
        """The engine went silent or forgot this connection; a new hello follows at once."""


class EngineLink:
    def __init__(self, endpoint: str, *, gateway_id: str, broker_ids: tuple[str, ...] | list[str],
                 handler: LinkHandler, api_type: str | None = None, role: str = "gateway",
                 instruments: tuple[str, ...] | list[str] = (), curve: CurveKeys | None = None,
                 hello_retry_seconds: float = HELLO_RETRY_SECONDS, idle_seconds: float = 0.1) -> None:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        if instruments and role != "feed":
            raise ValueError("instruments are a feed's")
        self.endpoint = endpoint
        self.handler = handler
        self._hello: JSON = {"gateway_id": gateway_id, "broker_ids": list(broker_ids), "role": role}
        if api_type:
            self._hello["api_type"] = api_type
        if role == "feed":
            self._hello["instruments"] = list(instruments)
        self._curve = curve
        self._hello_retry = hello_retry_seconds
        self._idle = idle_seconds
        self._context: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
        self._outbox: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._welcome: Welcome | None = None
        self._welcomed = threading.Event()
        self.connections = 0  # how many sockets this link has made (a reconnect adds one)

    @classmethod
    def from_config(cls, config: ProcessConfig, handler: LinkHandler, *, role: str = "gateway",
                    instruments: tuple[str, ...] | list[str] = ()) -> "EngineLink":
        """The link the configuration describes (``[engine]`` and ``[broker]``); ConfigError for
        bad CURVE key files."""
        return cls(config.engine.endpoint, gateway_id=config.broker.id, broker_ids=config.broker.broker_ids,
                   handler=handler, api_type=config.broker.api_type, role=role, instruments=instruments,
                   curve=curve_keys(config))

    # -- any thread ---------------------------------------------------------------------------
    @property
    def welcome(self) -> Welcome | None:
        """The latest welcome of the current connection (None before it or after losing it)."""
        return self._welcome

    def wait_welcome(self, timeout: float | None = None) -> bool:
        return self._welcomed.wait(timeout)

    def send(self, kind: str, payload: JSON) -> None:
        """Queues one message (safe from any thread); it leaves once the connection is
        welcomed. A payload over the engine's 64 KiB limit is refused here (ValueError)."""
        body = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()
        if len(body) > MAX_PAYLOAD_BYTES:
            raise ValueError(f"{kind}: payload of {len(body)} bytes is over the engine's 64 KiB")
        self._outbox.put((kind, body))
        self._wake()

    def start(self) -> threading.Thread:
        """Runs the link on a thread of its own (daemon) and returns it."""
        self._thread = threading.Thread(target=self.run, name="engine-link", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self) -> None:
        """Ends ``run`` (safe from any thread and from signal handlers' callers)."""
        self._stopping.set()
        self._wake()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)

    def _wake(self) -> None:
        try:
            os.write(self._wake_write, b"x")
        except (BlockingIOError, OSError):
            pass  # the pipe is full: the link is awake anyway

    # -- the link's thread ----------------------------------------------------------------------
    def _socket(self) -> zmq.Socket[bytes]:
        sock: zmq.Socket[bytes] = self._context.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RECONNECT_IVL, 200)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, 5000)
        if self._curve is not None:
            sock.curve_serverkey = self._curve.server_public
            sock.curve_publickey = self._curve.public
            sock.curve_secretkey = self._curve.secret
        sock.connect(self.endpoint)
        self.connections += 1
        return sock

    def run(self) -> None:
        """Connects, says hello and serves the connection until ``stop``."""
        sock = self._socket()
        held: list[tuple[str, bytes]] = []
        interval = DEFAULT_HEARTBEAT_INTERVAL_MS / 1000
        timeout = DEFAULT_HEARTBEAT_TIMEOUT_MS / 1000
        hello_sent = last_heard = last_sent = 0.0
        next_idle = time.monotonic()

        def put(s: zmq.Socket[bytes], kind: str, body: bytes) -> None:
            try:
                s.send_multipart([kind.encode(), body], flags=zmq.NOBLOCK)
            except zmq.Again:
                log.warning("engine link: %s dropped, the connection's queue is full", kind)

        def hello(s: zmq.Socket[bytes]) -> float:
            put(s, "hello", json.dumps(self._hello).encode())
            log.info("engine link: hello to %s as %s %s for %d broker(s)", self.endpoint, self._hello["role"],
                     self._hello["gateway_id"], len(self._hello["broker_ids"]))
            return time.monotonic()

        def restart(s: zmq.Socket[bytes], why: str) -> zmq.Socket[bytes]:
            log.warning("engine link: %s; reconnecting with a new hello", why)
            self._welcome = None
            self._welcomed.clear()
            try:
                self.handler.on_lost()
            except Exception:
                log.exception("engine link: on_lost failed")
            s.close(0)
            return self._socket()

        hello_sent = hello(sock)
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        poller.register(self._wake_read, zmq.POLLIN)
        try:
            while not self._stopping.is_set():
                now = time.monotonic()
                welcomed = self._welcome is not None
                due = [next_idle, (last_sent + interval) if welcomed else hello_sent + self._hello_retry]
                wait_ms = max(0, int((min(due) - now) * 1000))
                events = dict(poller.poll(wait_ms))
                if self._wake_read in events:
                    try:
                        while os.read(self._wake_read, 4096):
                            pass
                    except BlockingIOError:
                        pass
                while True:
                    try:
                        held.append(self._outbox.get_nowait())
                    except queue.Empty:
                        break
                if len(held) > MAX_HELD:
                    log.warning("engine link: %d message(s) dropped while not welcomed", len(held) - MAX_HELD)
                    del held[:len(held) - MAX_HELD]
                lost: str | None = None
                if sock in events:
                    while True:
                        try:
                            frames = sock.recv_multipart(flags=zmq.NOBLOCK)
                        except zmq.Again:
                            break
                        last_heard = time.monotonic()
                        if len(frames) != 2:
                            log.warning("engine link: a message of %d frame(s) ignored", len(frames))
                            continue
                        kind = frames[0].decode("ascii", "replace")
                        try:
                            payload = json.loads(frames[1])
                        except ValueError:
                            log.warning("engine link: %s with a body that is not JSON ignored", kind)
                            continue
                        if not isinstance(payload, dict):
                            continue
                        if kind == "heartbeat":
                            continue
                        if kind == "welcome":
                            welcome = Welcome.parse(payload)
                            first = self._welcome is None
                            self._welcome = welcome
                            interval = welcome.heartbeat_interval_ms / 1000
                            timeout = welcome.heartbeat_timeout_ms / 1000
                            log.info("engine link: welcome (%s): %d broker(s) granted, %d refused, credentials for %d",
                                     "first" if first else "again", len(welcome.broker_ids),
                                     len(welcome.refused_broker_ids), len(welcome.credentials))
                            for broker, why in welcome.credential_errors.items():
                                log.error("engine link: no credentials for broker %s: %s", broker, why)
                            self._welcomed.set()
                            self._call(self.handler.on_welcome, welcome)
                            continue
                        if kind == "error" and "hello first" in str(payload.get("error", "")):
                            lost = "the engine does not know this connection (it restarted?)"
                            break
                        if kind == "error":
                            log.warning("engine link: the engine refused a message: %s", payload.get("error"))
                        self._call(self.handler.on_message, kind, payload)
                now = time.monotonic()
                if lost is None and self._welcome is not None and now - last_heard > timeout:
                    lost = f"the engine was silent for {now - last_heard:.1f} s"
                if lost is None and self._welcome is None and now - hello_sent >= self._hello_retry:
                    lost = f"no welcome within {self._hello_retry:.1f} s"
                if lost is not None:
                    poller.unregister(sock)
                    sock = restart(sock, lost)
                    poller.register(sock, zmq.POLLIN)
                    interval = DEFAULT_HEARTBEAT_INTERVAL_MS / 1000
                    timeout = DEFAULT_HEARTBEAT_TIMEOUT_MS / 1000
                    hello_sent = hello(sock)
                    continue
                if self._welcome is not None:
                    for kind, body in held:
                        put(sock, kind, body)
                        last_sent = now
                    held.clear()
                    if now - last_sent >= interval:
                        put(sock, "heartbeat", b"{}")
                        last_sent = now
                if now >= next_idle:
                    next_idle = now + self._idle
                    self._call(self.handler.on_idle)
        finally:
            sock.close(0)
            self._welcome = None
            self._welcomed.clear()

    def _call(self, method: Any, *args: Any) -> None:
        try:
            method(*args)
        except Exception:  # a handler's bug must not end the engine connection
            log.exception("engine link: handler %s failed", getattr(method, "__name__", method))
