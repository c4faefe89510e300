"""The connection to the engine's strategy socket and the loop that drives a `Strategy`.

One DEALER socket; every message is two frames, a topic and a JSON object (docs/protocol.md,
"Strategy processes"). The process says `hello` with its strategy and secret and gets a
`welcome` (or an `error`); both sides send `heartbeat`s; a process that hears nothing from the
engine for the heartbeat timeout connects again, and a refused hello (another process still
holds the strategy) is retried.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Set, Type

import zmq

from .messages import Bar, Event, Tick, decode, encode
from .strategy import Strategy

VERSION = "algotrader_sdk/0.1"


class Refused(Exception):
    """The engine refused the hello for good (a wrong secret, an unknown strategy)."""


class Busy(Exception):
    """Another process holds the strategy; retried."""


class Link:
    """The socket, with what a handler's calls need."""

    def __init__(self, socket: "zmq.Socket[bytes]") -> None:
        self.socket = socket

    def send(self, topic: str, fields: Dict[str, Any]) -> None:
        self.socket.send_multipart([topic.encode("ascii"), encode(fields)])


class Runner:
    """Drives one strategy until the engine stops it or the process is told to end."""

    def __init__(self, strategy: Strategy, endpoint: str, name: str, token: str, *,
                 connect_timeout: float = 10.0, retry_seconds: float = 1.0,
                 server_key: Optional[str] = None, client_keys: Optional[tuple[str, str]] = None) -> None:
        self.strategy = strategy
        self.endpoint = endpoint
        self.name = name
        self.token = token
        self.connect_timeout = connect_timeout
        self.retry_seconds = retry_seconds
        self.server_key = server_key
        self.client_keys = client_keys
        self.context: "zmq.Context[zmq.Socket[bytes]]" = zmq.Context.instance()
        self.started = False
        self.ending = False
        self.heartbeat_interval = 1.0
        self.heartbeat_timeout = 5.0
        self.lockstep = False

    def _socket(self) -> "zmq.Socket[bytes]":
        socket: "zmq.Socket[bytes]" = self.context.socket(zmq.DEALER)
        socket.setsockopt(zmq.LINGER, 1000)
        if self.server_key and self.client_keys:
            socket.curve_serverkey = self.server_key.encode()
            socket.curve_publickey = self.client_keys[0].encode()
            socket.curve_secretkey = self.client_keys[1].encode()
        socket.connect(self.endpoint)
        return socket

    def _hello(self) -> tuple["zmq.Socket[bytes]", Dict[str, Any]]:
        """Connects and says hello; returns the socket and the welcome."""
        socket = self._socket()
        Link(socket).send("hello", {"strategy": self.name, "token": self.token, "sdk": VERSION})
        deadline = time.monotonic() + self.connect_timeout
        while time.monotonic() < deadline:
            if not socket.poll(100):
                if self.ending:
                    break
                continue
            topic, payload = self._frames(socket)
            body = decode(payload)
            if topic == "welcome":
                return socket, body
            if topic == "error":
                socket.close(0)
                text = str(body.get("error", ""))
                if body.get("retry") is True:
                    raise Busy(text)
                raise Refused(text)
        socket.close(0)
        raise Busy("no welcome within %.0f s" % self.connect_timeout)

    @staticmethod
    def _frames(socket: "zmq.Socket[bytes]") -> tuple[str, bytes]:
        frames = socket.recv_multipart()
        if len(frames) != 2:
            return "", b"{}"
        return frames[0].decode("ascii", "replace"), frames[1]

    def _welcome(self, socket: "zmq.Socket[bytes]", body: Dict[str, Any]) -> None:
        self.strategy._link = Link(socket)
        self._settings(body)
        if not self.started:
            self.started = True
            self.strategy.on_start()

    def _settings(self, body: Dict[str, Any]) -> None:
        """A welcome's contents: at the hello, and again when the strategy was edited while this
        process was connected (new parameters, instruments or name; positions as the desk has them)."""
        s = self.strategy
        s.strategy_id = str(body.get("strategy_id", ""))
        s.name = str(body.get("name", ""))
        params = body.get("parameters")
        s.params = dict(params) if isinstance(params, dict) else {}
        s._positions = {}
        for p in body.get("positions", []) or []:
            s._positions[(str(p["symbol"]), str(p["exchange"]))] = int(p["quantity"])
        self.heartbeat_interval = max(0.05, int(body.get("heartbeat_interval_ms", 1000)) / 1000)
        self.heartbeat_timeout = max(self.heartbeat_interval * 2, int(body.get("heartbeat_timeout_ms", 5000)) / 1000)
        # `algotrader replay --run`: the engine waits for this process, event by event.
        self.lockstep = body.get("lockstep") is True

    def _dispatch(self, topic: str, body: Dict[str, Any]) -> bool:
        """Handles one message; False when the engine stopped the strategy."""
        s = self.strategy
        if topic == "tick":
            s.on_tick(Tick.from_message(body))
        elif topic == "bar":
            s.on_bar(Bar.from_message(body))
        elif topic == "order":
            event = Event(body)
            s._note_order(event)
            s.on_order(event)
        elif topic == "fill":
            event = Event(body)
            s._note_order(event)
            s.on_fill(event)
        elif topic == "position":
            s._positions[(str(body["symbol"]), str(body["exchange"]))] = int(body["quantity"])
        elif topic == "error":
            s._refused(body.get("client_order_id"))
            print("algotrader_sdk: the engine refused a request: %s" % body.get("error"), file=sys.stderr)
        elif topic == "welcome":
            self._settings(body)
            s.on_edit()
        elif topic == "stop":
            return False
        return True

    def run(self) -> int:
        """Runs until stopped; returns the process's exit status. SIGTERM and SIGINT end it (with
        `on_stop`) when it runs in the main thread; their previous handlers are put back after."""
        previous: Dict[int, Any] = {}
        blocked: Optional[Set[int]] = None
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                previous[signum] = signal.signal(signum, self._end)
            # A process started from a thread with signals blocked (the engine's lock-step
            # replay, from a Dispatch worker) inherits the mask: SIGTERM would never arrive.
            blocked = set(signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT}))
        try:
            return self._run()
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
            if blocked is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def _run(self) -> int:
        while not self.ending:
            try:
                socket, welcome = self._hello()
            except Busy as busy:
                print("algotrader_sdk: %s; retrying" % busy, file=sys.stderr)
                time.sleep(self.retry_seconds)
                continue
            except Refused as refused:
                print("algotrader_sdk: refused: %s" % refused, file=sys.stderr)
                return 2
            self._welcome(socket, welcome)
            stopped = self._loop(socket)
            socket.close()
            if stopped:
                self.strategy.on_stop()
                return 0
        if self.started:
            self.strategy.on_stop()
        return 0

    def _loop(self, socket: "zmq.Socket[bytes]") -> bool:
        """Messages until the engine stops the strategy (True), goes silent or the process ends (False)."""
        if self.lockstep:
            return self._lockstep_loop(socket)
        link = Link(socket)
        last_heard = last_sent = time.monotonic()
        while not self.ending:
            now = time.monotonic()
            if now - last_sent >= self.heartbeat_interval:
                link.send("heartbeat", {})
                last_sent = now
            if now - last_heard > self.heartbeat_timeout:
                print("algotrader_sdk: the engine went silent; connecting again", file=sys.stderr)
                return False
            if not socket.poll(max(1, int((self.heartbeat_interval - (now - last_sent)) * 1000))):
                continue
            while socket.poll(0):
                topic, payload = self._frames(socket)
                # An `error` is no sign of a session: an engine that dropped this process (silent
                # too long) answers each heartbeat with one ("say hello first") and sends nothing
                # else, so only other messages keep the connection alive.
                if topic != "error":
                    last_heard = time.monotonic()
                if not self._dispatch(topic, decode(payload)):
                    return True
                # A steady stream must not starve the heartbeats: the engine drops a process
                # it has not heard from for its timeout.
                if time.monotonic() - last_sent >= self.heartbeat_interval:
                    link.send("heartbeat", {})
                    last_sent = time.monotonic()
                if self.ending:
                    break
        return False

    def _lockstep_loop(self, socket: "zmq.Socket[bytes]") -> bool:
        """A replay: no heartbeats and no silence limit (the engine waits for this process, and this
        process for the engine, however long a handler takes); each event carries a `step`, and
        `done` with that step, sent after the handler returned (and after the requests it made),
        tells the engine to apply them and go on."""
        parent = os.getppid()
        endpoint = self.endpoint[len("ipc://"):] if self.endpoint.startswith("ipc://") else None
        # One blocking receive per event (a 100 ms timeout) rather than a poll and then a
        # receive: a replay makes one round trip per tick, so each call on the path counts.
        socket.setsockopt(zmq.RCVTIMEO, 100)
        try:
            while not self.ending:
                try:
                    frames = socket.recv_multipart()
                except zmq.Again:
                    # The replay that started this process is gone (killed, or its endpoint
                    # removed): nothing will ever answer, so end instead of waiting forever.
                    if os.getppid() != parent or (endpoint is not None and not os.path.exists(endpoint)):
                        print("algotrader_sdk: the replay driving this process is gone; ending", file=sys.stderr)
                        self.ending = True
                    continue
                if len(frames) != 2:
                    topic, payload = "", b"{}"
                else:
                    topic, payload = frames[0].decode("ascii", "replace"), frames[1]
                body = decode(payload)
                if not self._dispatch(topic, body):
                    return True
                step = body.get("step")
                if type(step) is int:  # not a bool
                    # encode({"step": step}), written directly
                    socket.send_multipart([b"done", b'{"step":%d}' % step])
        finally:
            socket.setsockopt(zmq.RCVTIMEO, -1)
        return False

    def _end(self, signum: int, frame: Any) -> None:
        self.ending = True


def _arguments(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run an algotrader strategy against the engine.")
    parser.add_argument("--endpoint", default=os.environ.get("ALGOTRADER_STRATEGY_ENDPOINT", "tcp://127.0.0.1:5560"))
    parser.add_argument("--strategy", default=os.environ.get("ALGOTRADER_STRATEGY"), help="the strategy's id or name")
    parser.add_argument("--token-file", help="a file holding the secret of `algotrader strategy token`")
    parser.add_argument("--curve-server-key", default=os.environ.get("ALGOTRADER_STRATEGY_CURVE_SERVER_KEY"))
    parser.add_argument("--curve-key-file", default=os.environ.get("ALGOTRADER_STRATEGY_CURVE_KEY_FILE"),
                        help="a file with this process's CURVE public and secret keys, one a line")
    return parser.parse_args(argv)


def run(strategy_class: Type[Strategy], argv: Optional[List[str]] = None,
        make: Optional[Callable[[], Strategy]] = None) -> None:
    """Connects, runs the strategy until it is stopped, and exits the process."""
    args = _arguments(argv)
    token = os.environ.get("ALGOTRADER_STRATEGY_TOKEN")
    if args.token_file:
        with open(args.token_file, encoding="utf-8") as f:
            token = f.read().strip()
    if not args.strategy or not token:
        print("algotrader_sdk: needs --strategy (or ALGOTRADER_STRATEGY) and --token-file (or ALGOTRADER_STRATEGY_TOKEN)",
              file=sys.stderr)
        sys.exit(64)
    keys: Optional[tuple[str, str]] = None
    if args.curve_key_file:
        with open(args.curve_key_file, encoding="utf-8") as f:
            lines = [line.strip() for line in f if line.strip()]
        keys = (lines[0], lines[1])
    strategy = make() if make else strategy_class()
    runner = Runner(strategy, args.endpoint, args.strategy, token, server_key=args.curve_server_key, client_keys=keys)
    sys.exit(runner.run())
