"""The engine link (algotrader_brokers/engine_link.py) against a fake engine ROUTER: hello and
welcome, heartbeats, sends from other threads held until the welcome, a reconnect when the
engine goes silent or forgets the connection, CURVE, and credentials kept out of logs."""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import zmq

from algotrader_brokers.config import ConfigError, parse
from algotrader_brokers.engine_link import EngineLink, LinkHandler, Welcome, curve_keys
from fake_engine import FakeEngine

SECRET = "tok-SECRET-9137"


def welcome(hello: dict[str, Any]) -> dict[str, Any]:
    return {"broker_ids": hello["broker_ids"], "refused_broker_ids": [], "heartbeat_interval_ms": 100,
            "heartbeat_timeout_ms": 600, "credentials": {b: {"api_key": "k", "access_token": SECRET}
                                                         for b in hello["broker_ids"]},
            "credential_errors": {}}


class Recorder(LinkHandler):
    def __init__(self) -> None:
        self.welcomes: list[Welcome] = []
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self.lost = 0

    def on_welcome(self, welcome: Welcome) -> None:
        self.welcomes.append(welcome)

    def on_message(self, kind: str, payload: dict[str, Any]) -> None:
        self.messages.append((kind, payload))

    def on_lost(self) -> None:
        self.lost += 1


def eventually(check: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


@pytest.fixture()
def engine() -> Iterator[FakeEngine]:
    fake = FakeEngine(welcome)
    yield fake
    fake.close()


def test_hello_welcome_heartbeats_and_sends_from_any_thread(engine: FakeEngine, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    handler = Recorder()
    link = EngineLink(engine.endpoint, gateway_id="gw-1", broker_ids=["b1", "b2"], handler=handler, api_type="zerodha")
    # Sent before the welcome: held, then delivered after it (never before the hello).
    link.send("funds", {"broker_id": "b1", "cash": 10.5})
    link.start()
    try:
        hello = engine.wait_for("hello")[0]
        assert hello == {"gateway_id": "gw-1", "broker_ids": ["b1", "b2"], "role": "gateway", "api_type": "zerodha"}
        assert link.wait_welcome(5)
        eventually(lambda: handler.welcomes)
        assert handler.welcomes[0].credentials["b1"]["access_token"] == SECRET
        assert SECRET not in repr(handler.welcomes[0])
        threads = [threading.Thread(target=link.send, args=("funds", {"broker_id": "b2", "cash": n})) for n in range(20)]
        for t in threads:
            t.start()
        engine.wait_for("funds", count=21)
        kinds = [k for _, k, _ in engine.received]
        assert kinds[0] == "hello" and kinds.index("funds") > 0
        engine.wait_for("heartbeat", count=3, timeout=3)  # every 100 ms, as the welcome said
        engine.send("order.cancel", {"request_id": "r1", "order_id": "o1", "broker_id": "b1"})
        eventually(lambda: handler.messages)
        assert handler.messages[0][0] == "order.cancel"
    finally:
        link.stop()
    assert SECRET not in caplog.text


def test_a_silent_engine_or_one_that_forgot_us_gets_a_new_hello(engine: FakeEngine) -> None:
    handler = Recorder()
    link = EngineLink(engine.endpoint, gateway_id="gw-1", broker_ids=["b1"], handler=handler)
    link.start()
    try:
        engine.wait_for("hello")
        eventually(lambda: handler.welcomes)
        engine.beating = False  # silent past heartbeat_timeout_ms (600)
        engine.wait_for("hello", count=2, timeout=5)
        assert handler.lost == 1 and link.connections == 2
        engine.beating = True
        eventually(lambda: len(handler.welcomes) == 2)
        # A restarted engine answers a stranger's heartbeat with this error: hello again at once.
        engine.send("error", {"error": "say hello first (with broker_ids)"})
        engine.wait_for("hello", count=3, timeout=3)
        assert handler.lost == 2
    finally:
        link.stop()


def test_a_feed_hello_names_its_instruments(engine: FakeEngine) -> None:
    link = EngineLink(engine.endpoint, gateway_id="feed-1", broker_ids=["b1"], handler=Recorder(), role="feed",
                      instruments=["NSE:INFY"])
    link.start()
    try:
        hello = engine.wait_for("hello")[0]
        assert hello["role"] == "feed" and hello["instruments"] == ["NSE:INFY"]
    finally:
        link.stop()
    with pytest.raises(ValueError):
        EngineLink(engine.endpoint, gateway_id="g", broker_ids=["b"], handler=Recorder(), instruments=["NSE:INFY"])


def test_curve_keys_from_the_configuration(tmp_path: Path) -> None:
    server_public, server_secret = zmq.curve_keypair()
    _, client_secret = zmq.curve_keypair()
    (tmp_path / "engine.pub").write_bytes(server_public + b"\n")
    (tmp_path / "gw.key").write_bytes(client_secret + b"\n")
    engine = FakeEngine(welcome, curve_secret=server_secret)
    try:
        config = parse({"engine": {"endpoint": engine.endpoint,
                                   "curve_server_public_key_file": str(tmp_path / "engine.pub"),
                                   "curve_secret_key_file": str(tmp_path / "gw.key")},
                        "broker": {"api_type": "zerodha", "id": "gw-c", "broker_ids": ["b1"]}})
        keys = curve_keys(config)
        assert keys is not None and keys.public == zmq.curve_public(client_secret)
        assert client_secret.decode() not in repr(keys)
        handler = Recorder()
        link = EngineLink.from_config(config, handler)
        link.start()
        try:
            assert engine.wait_for("hello")[0]["gateway_id"] == "gw-c"
            eventually(lambda: handler.welcomes)
        finally:
            link.stop()
    finally:
        engine.close()
    (tmp_path / "gw.key").write_text("short")
    with pytest.raises(ConfigError, match="engine.curve_secret_key_file"):
        curve_keys(config)
    one = parse({"engine": {"endpoint": "tcp://127.0.0.1:1", "curve_secret_key_file": str(tmp_path / "gw.key")},
                 "broker": {"api_type": "zerodha", "id": "g", "broker_ids": ["b1"]}})
    with pytest.raises(ConfigError, match="engine.curve_server_public_key_file"):
        curve_keys(one)
