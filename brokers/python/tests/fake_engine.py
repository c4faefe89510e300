"""The engine's half of the gateway protocol (docs/protocol.md, "Broker gateways") for tests: a
ROUTER that records what a gateway sends, answers ``hello`` with a ``welcome``, sends heartbeats
on request, acknowledges reports, and sends requests as the engine would."""
from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable

import zmq

JSON = dict[str, Any]


class FakeEngine:
    """``FakeEngine(welcome=...)`` binds ``tcp://127.0.0.1:<free port>`` (``endpoint``). A thread
    serves it: every message is kept in ``received`` as (identity, type, payload); ``hello`` is
    answered by ``welcome_for(hello)``; ``report`` is answered ``report.ack`` (``applied``, or
    ``duplicate`` for an exec_id already seen) unless ``ack_reports`` is False; heartbeats are sent
    every ``heartbeat_ms`` while ``beating``."""

    def __init__(self, welcome_for: Callable[[JSON], JSON], *, curve_secret: bytes | None = None,
                 heartbeat_ms: int = 200) -> None:
        self.context: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
        self.sock: zmq.Socket[bytes] = self.context.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        if curve_secret is not None:
            self.sock.curve_server = True
            self.sock.curve_secretkey = curve_secret
        port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{port}"
        self.welcome_for = welcome_for
        self.heartbeat_ms = heartbeat_ms
        self.beating = True
        self.ack_reports = True
        self.received: list[tuple[bytes, str, JSON]] = []
        self.exec_ids: set[str] = set()
        self.identity: bytes | None = None
        self._outbox: list[tuple[str, JSON]] = []
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close(0)

    def send(self, kind: str, payload: JSON) -> None:
        """Sends to the gateway that said hello last."""
        with self._lock:
            self._outbox.append((kind, payload))

    def messages(self, kind: str) -> list[JSON]:
        with self._lock:
            return [p for _, k, p in self.received if k == kind]

    def wait_for(self, kind: str, match: Callable[[JSON], bool] = lambda _: True, timeout: float = 10.0,
                 count: int = 1) -> list[JSON]:
        """Waits until ``count`` messages of ``kind`` matching ``match`` arrived; returns them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [p for _, k, p in self.received if k == kind and match(p)]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no {count} x {kind} matching within {timeout} s; got "
                                         f"{[(k, p) for _, k, p in self.received if k not in ('heartbeat',)][-20:]}")
                self._cond.wait(remaining)

    def reports(self, order_id: str, type_: str | None = None) -> list[JSON]:
        return [p for p in self.messages("report") if p.get("order_id") == order_id
                and (type_ is None or p.get("type") == type_)]

    def _run(self) -> None:
        last_beat = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            with self._lock:
                outbox, self._outbox = self._outbox, []
                identity = self.identity
            for kind, payload in outbox:
                if identity is not None:
                    self.sock.send_multipart([identity, kind.encode(), json.dumps(payload).encode()])
            if self.beating and identity is not None and now - last_beat > self.heartbeat_ms / 1000:
                self.sock.send_multipart([identity, b"heartbeat", b"{}"])
                last_beat = now
            if not self.sock.poll(20):
                continue
            identity_frame, kind_frame, body = self.sock.recv_multipart()
            kind = kind_frame.decode()
            payload = json.loads(body)
            with self._cond:
                self.received.append((identity_frame, kind, payload))
                self._cond.notify_all()
            if kind == "hello":
                with self._lock:
                    self.identity = identity_frame
                self.sock.send_multipart([identity_frame, b"welcome", json.dumps(self.welcome_for(payload)).encode()])
            elif kind == "report" and self.ack_reports:
                status = "applied"
                if payload.get("type") == "fill":
                    status = "duplicate" if payload["exec_id"] in self.exec_ids else "applied"
                    self.exec_ids.add(payload["exec_id"])
                self.sock.send_multipart([identity_frame, b"report.ack",
                                          json.dumps({"report_id": payload["report_id"], "status": status}).encode()])
