"""A scripted engine for the SDK's tests: a real pyzmq ROUTER that a test plays in a thread.

`run_scripted(strategy, script)` binds the ROUTER on a free loopback port, runs `script(engine)`
in a thread and the SDK's `Runner` in the calling (main) thread, and hands back the Runner's exit
status. A script asserts what the process sent (`engine.expect("hello")`) and answers it
(`engine.welcome(...)`, `engine.send(...)`); an assertion failing in the script fails the test.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Dict, Iterator, List, Optional, Union

import pytest
import zmq

from algotrader_sdk import Runner, Strategy

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# Short enough that the suite runs in seconds, long enough for a loaded machine.
HEARTBEAT_INTERVAL_MS = 50
HEARTBEAT_TIMEOUT_MS = 400
WAIT = 5.0


def load_example(name: str) -> ModuleType:
    """An example file as a module (its `run(...)` is behind `if __name__ == "__main__"`)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class Received:
    identity: bytes
    topic: str
    raw: bytes
    body: Dict[str, Any]
    at: float


class ScriptedEngine:
    def __init__(self) -> None:
        self.context: "zmq.Context[zmq.Socket[bytes]]" = zmq.Context()
        self.socket: "zmq.Socket[bytes]" = self.context.socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, 0)
        port = self.socket.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{port}"
        # Every message received, heartbeats included, in order.
        self.received: List[Received] = []

    def poll(self, timeout: float) -> Optional[Received]:
        """The next message within `timeout` seconds, or None."""
        if not self.socket.poll(int(timeout * 1000)):
            return None
        frames = self.socket.recv_multipart()
        assert len(frames) == 3, f"a process sends two frames, got {frames[1:]!r}"
        identity, topic, raw = frames
        body = json.loads(raw.decode("utf-8"), parse_float=Decimal)
        assert isinstance(body, dict), raw
        message = Received(identity, topic.decode("ascii"), raw, body, time.monotonic())
        self.received.append(message)
        return message

    def recv(self, timeout: float = WAIT, heartbeats: bool = False) -> Received:
        """The next message (heartbeats skipped unless asked for); fails after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, "the process sent nothing (but heartbeats) in %.1f s" % timeout
            message = self.poll(left)
            if message is None:
                continue
            if message.topic == "heartbeat" and not heartbeats:
                continue
            return message

    def expect(self, topic: str, timeout: float = WAIT) -> Received:
        message = self.recv(timeout)
        assert message.topic == topic, f"expected {topic}, got {message.topic} {message.raw!r}"
        return message

    def quiet(self, seconds: float) -> List[Received]:
        """Everything but heartbeats that arrives in the next `seconds`."""
        out: List[Received] = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            message = self.poll(left)
            if message is not None and message.topic != "heartbeat":
                out.append(message)
        return out

    def heartbeats(self, identity: Optional[bytes] = None) -> List[Received]:
        return [m for m in self.received if m.topic == "heartbeat" and (identity is None or m.identity == identity)]

    def send(self, identity: bytes, topic: str, payload: Union[str, Dict[str, Any]]) -> None:
        """`payload` as JSON text exactly as given (prices as written), or a dict to serialise."""
        text = payload if isinstance(payload, str) else json.dumps(payload)
        self.socket.send_multipart([identity, topic.encode("ascii"), text.encode("utf-8")])

    def welcome(self, identity: bytes, *, parameters: Optional[Dict[str, Any]] = None,
                positions: Optional[List[Dict[str, Any]]] = None, instruments: Optional[List[str]] = None,
                interval_ms: int = HEARTBEAT_INTERVAL_MS, timeout_ms: int = HEARTBEAT_TIMEOUT_MS,
                lockstep: bool = False) -> None:
        instruments = instruments or ["NSE:RELIANCE"]
        if positions is None:
            positions = [{"symbol": i.split(":", 1)[1], "exchange": i.split(":", 1)[0], "quantity": 0} for i in instruments]
        extra: Dict[str, Any] = {"lockstep": True} if lockstep else {}
        self.send(identity, "welcome", {**extra,
            "strategy_id": "0190a0c2-7d1e-7a8b-9c0d-1e2f3a4b5c6d", "user_id": "0190a0c2-0000-7000-8000-000000000001",
            "name": "my-sma", "instruments": instruments, "intervals": ["1min"],
            "parameters": parameters if parameters is not None else {"instruments": instruments},
            "positions": positions, "heartbeat_interval_ms": interval_ms, "heartbeat_timeout_ms": timeout_ms,
        })

    def close(self) -> None:
        self.socket.close(0)
        self.context.term()


def tick(symbol: str, price: str, *, exchange: str = "NSE", ts: str = "2026-11-24T03:45:00.123456Z", qty: int = 1) -> str:
    """A tick as the engine writes it (price as exact text)."""
    return (f'{{"symbol":"{symbol}","exchange":"{exchange}","ts":"{ts}","price":{price},"qty":{qty},'
            f'"volume":1000,"src":"path","seq":1}}')


def bar(symbol: str, o: str, h: str, low: str, c: str, *, exchange: str = "NSE", start: str = "2026-11-24T03:45:00.000000Z",
        volume: int = 100) -> str:
    return (f'{{"symbol":"{symbol}","exchange":"{exchange}","interval":"1min","start":"{start}","open":{o},'
            f'"high":{h},"low":{low},"close":{c},"volume":{volume}}}')


def order_event(client_order_id: Optional[str], *, side: str, quantity: int, status: str, filled: int = 0,
                symbol: str = "RELIANCE", exchange: str = "NSE", order_type: str = "MARKET", average: Optional[str] = None,
                reason: Optional[str] = None, fill: Optional[tuple[int, str]] = None, seq: int = 1) -> str:
    """An order event (or, with `fill` = (fill_quantity, fill_price), a fill event) as the engine
    sends it to a process: the bus payload plus `client_order_id`."""
    fields: Dict[str, Any] = {
        "seq": seq, "event": "fill" if fill else "order", "trade_id": "0190a0c2-1111-7000-8000-000000000001",
        "order_id": "0190a0c2-2222-7000-8000-000000000002", "parent_order_id": None,
        "user_id": "0190a0c2-0000-7000-8000-000000000001", "strategy_id": "0190a0c2-7d1e-7a8b-9c0d-1e2f3a4b5c6d",
        "broker_id": "0190a0c2-3333-7000-8000-000000000003", "symbol": symbol, "exchange": exchange,
        "transaction_type": side, "order_type": order_type, "quantity": quantity,
    }
    parts = [json.dumps(k) + ":" + json.dumps(v) for k, v in fields.items()]
    if fill:
        parts += [f'"fill_quantity":{fill[0]}', f'"fill_price":{fill[1]}']
    parts += [f'"filled_quantity":{filled}', '"average_price":' + (average if average else "null"), f'"status":"{status}"']
    if not fill:
        parts += ['"price":null', '"trigger_price":null', '"stoploss":null', '"target":null',
                  '"reason":' + json.dumps(reason)]
    parts += ['"ts":"2026-11-24T03:45:00.123456Z"', '"client_order_id":' + json.dumps(client_order_id)]
    return "{" + ",".join(parts) + "}"


def fill_market_order(engine: ScriptedEngine, identity: bytes, order: Received, price: str, position: int) -> None:
    """What the engine sends for a paper MARKET order that fills at once: OPEN, the position,
    the fill, FILLED."""
    b = order.body
    cid, side, qty, symbol, exchange = b["client_order_id"], b["transaction_type"], b["quantity"], b["symbol"], b["exchange"]
    common: Dict[str, Any] = dict(side=side, quantity=qty, symbol=symbol, exchange=exchange)
    engine.send(identity, "order", order_event(cid, status="OPEN", **common))
    engine.send(identity, "position", {"symbol": symbol, "exchange": exchange, "quantity": position})
    engine.send(identity, "fill", order_event(cid, status="FILLED", filled=qty, average=price, fill=(qty, price), **common))
    engine.send(identity, "order", order_event(cid, status="FILLED", filled=qty, average=price, **common))


Script = Callable[[ScriptedEngine], None]


class Harness:
    def __init__(self, engine: ScriptedEngine) -> None:
        self.engine = engine

    def run(self, strategy: Strategy, script: Script, *, limit: float = 20.0, **runner: Any) -> int:
        """Runs `strategy` against `script` until the Runner returns; its exit status."""
        options: Dict[str, Any] = dict(connect_timeout=2.0, retry_seconds=0.05)
        options.update(runner)
        r = Runner(strategy, self.engine.endpoint, "my-sma", "s3cret-token", **options)
        self.runner = r
        failures: List[BaseException] = []

        def play() -> None:
            try:
                script(self.engine)
            except BaseException as error:  # handed to the test's thread
                failures.append(error)
                r.ending = True

        thread = threading.Thread(target=play, name="scripted-engine", daemon=True)
        watchdog = threading.Timer(limit, lambda: setattr(r, "ending", True))
        watchdog.daemon = True
        thread.start()
        watchdog.start()
        try:
            status = r.run()
        finally:
            watchdog.cancel()
        thread.join(WAIT)
        if failures:
            raise failures[0]
        assert not thread.is_alive(), "the script did not finish"
        return status


@pytest.fixture
def engine() -> Iterator[ScriptedEngine]:
    e = ScriptedEngine()
    try:
        yield e
    finally:
        e.close()


@pytest.fixture
def harness(engine: ScriptedEngine) -> Harness:
    return Harness(engine)
