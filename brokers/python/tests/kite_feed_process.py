"""Running the Kite publisher (``python -m algotrader_brokers feed``) against the fake Kite
(kite_fake_process.py) and a fake engine (fake_engine.py) from a test, with a ZeroMQ SUB that
reads what it publishes as the engine's market-data socket would."""
from __future__ import annotations

import json
import random
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import zmq

from fake_engine import FakeEngine
from fake_kite_exchange import instrument_token

PACKAGE = Path(__file__).resolve().parent.parent  # brokers/python
BROKER = "0b7e1c4e-5d1a-4c1e-9f0e-2a6b8d9c1f00"
API_KEY = "feedkey"
STATUS = re.compile(r"(?:kite|angel) feed status: (.*) session=(\S+)")


def free_port() -> int:
    """A free port below the kernel's ephemeral range. A port the kernel handed out (bind to 0)
    and let go can be handed out again as the local port of any outgoing connection before the
    publisher binds it (seen: EADDRINUSE in a full run); below the range only a bind takes it."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for _ in range(200):
        port = random.randint(20000, max(20001, low - 1))
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


def feed_welcome(access_token: str, *, unknown: frozenset[str] = frozenset()) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The engine's answer to a feed's hello: its broker granted with these credentials, and
    each instrument's token as the fake Kite gives it (the engine's instrument master). The
    heartbeat timeout is long: the fake engine beats only to the last connection that said hello
    and a feed may hold several."""
    def answer(hello: dict[str, Any]) -> dict[str, Any]:
        names = [n for n in hello.get("instruments", [])]
        known = [n for n in names if n not in unknown]
        return {"broker_ids": hello["broker_ids"], "refused_broker_ids": [], "heartbeat_interval_ms": 200,
                "heartbeat_timeout_ms": 60_000,
                "credentials": {b: {"api_key": API_KEY, "access_token": access_token} for b in hello["broker_ids"]},
                "credential_errors": {},
                "instruments": [{"exchange": n.split(":", 1)[0], "symbol": n.split(":", 1)[1],
                                 "instrument_token": instrument_token(*n.split(":", 1))} for n in known],
                "unknown_instruments": [n for n in names if n in unknown]}
    return answer


class FeedProcess:
    """The publisher in its own process (Twisted's reactor runs once per process); its stderr
    is kept in ``lines`` and in ``log_path``."""

    def __init__(self, directory: Path, *, engine: str, ws_root: str, instruments: list[str],
                 stall_seconds: float = 10.0, mode: str = "full", broker_id: str = BROKER, api_type: str = "zerodha",
                 broker_section: str | None = None, feed_id: str = "kite-feed-test") -> None:
        """``broker_section``: the broker's TOML section (Kite's ``[kite] ws_root`` by default)."""
        self.publish = f"tcp://127.0.0.1:{free_port()}"
        self.config = directory / "feed.toml"
        self.config.write_text(
            f'[engine]\nendpoint = "{engine}"\n'
            f'[broker]\napi_type = "{api_type}"\nid = "{feed_id}"\nbroker_ids = ["{broker_id}"]\n'
            + (broker_section if broker_section is not None else f'[kite]\nws_root = "{ws_root}"\n') +
            f'[feed]\npublish_bind = "{self.publish}"\nstall_seconds = {stall_seconds}\nmode = "{mode}"\n'
            f'instruments = {json.dumps(instruments)}\n')
        self.log_path = directory / "feed.log"
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self.process = subprocess.Popen([sys.executable, "-m", "algotrader_brokers", "feed", "--config", str(self.config)],
                                        cwd=PACKAGE, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        with self.log_path.open("w") as out:
            for raw in self.process.stderr:
                line = raw.decode("utf-8", "replace")
                out.write(line)
                out.flush()
                with self._cond:
                    self.lines.append(line)
                    self._cond.notify_all()

    def wait_line(self, pattern: str, timeout: float = 10.0, after: int = 0) -> re.Match[str]:
        """The first log line from index ``after`` on that matches ``pattern``."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines[after:]:
                    found = regex.search(line)
                    if found:
                        return found
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.process.poll() is not None:
                    raise AssertionError(f"no log line matching {pattern!r}; the log:\n" + "".join(self.lines[-40:]))
                self._cond.wait(min(remaining, 0.2))

    def status(self) -> dict[str, float]:
        """The counters of the latest status line."""
        with self._cond:
            lines = list(self.lines)
        for line in reversed(lines):
            found = STATUS.search(line)
            if found:
                return {k: float(v) for k, v in (pair.split("=") for pair in found.group(1).split())}
        return {}

    def wait_status(self, check: Callable[[dict[str, float]], bool], timeout: float = 10.0) -> dict[str, float]:
        deadline = time.monotonic() + timeout
        while True:
            status = self.status()
            if status and check(status):
                return status
            if time.monotonic() > deadline:
                raise AssertionError(f"status never matched; last {status}; the log:\n" + "".join(self.lines[-30:]))
            time.sleep(0.05)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            return self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(5)

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""


class TickReader:
    """A SUB on the publisher's endpoint, subscribed to ``tick.`` as the engine is."""

    def __init__(self, endpoint: str) -> None:
        self.sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"tick.")
        self.sock.connect(endpoint)

    def read(self, count: int, timeout: float = 10.0) -> list[tuple[str, dict[str, Any]]]:
        out: list[tuple[str, dict[str, Any]]] = []
        deadline = time.monotonic() + timeout
        while len(out) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self.sock.poll(int(remaining * 1000)):
                raise AssertionError(f"{len(out)} of {count} ticks arrived: {out}")
            frames = self.sock.recv_multipart()
            assert len(frames) == 2, frames
            out.append((frames[0].decode("ascii"), json.loads(frames[1])))
        return out

    def quiet(self, seconds: float) -> list[tuple[str, dict[str, Any]]]:
        """Whatever else arrives within ``seconds`` (a test of exactly-once expects nothing)."""
        out: list[tuple[str, dict[str, Any]]] = []
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            if self.sock.poll(int(remaining * 1000)):
                frames = self.sock.recv_multipart()
                out.append((frames[0].decode("ascii"), json.loads(frames[1])))
        return out

    def close(self) -> None:
        self.sock.close(0)


def engine_for(access_token: str, **kwargs: Any) -> FakeEngine:
    return FakeEngine(feed_welcome(access_token, **kwargs))
