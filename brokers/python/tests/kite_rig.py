"""The Zerodha gateway end to end for tests: the fake Kite Connect in its process
(kite_fake_process.py), a fake engine ROUTER in the test (fake_engine.py), and the gateway as
operators run it, ``python -m algotrader_brokers gateway --config FILE``, in a process of its
own (KiteTicker's Twisted reactor runs once per process)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from fake_engine import FakeEngine
from kite_fake_process import FakeKiteProcess

HERE = Path(__file__).resolve().parent
PACKAGE_ROOT = HERE.parent

API_KEY = "kkey-APIKEY-4410"
B_MAIN = "0b6d6b52-93c5-4d5c-9a43-4f2f0d9d1a01"   # account AB1234
B_EXP = "7e2a1c9f-5b1d-4c8e-8f0a-2d3c4b5a6f02"    # account CD5678, whose token the tests expire
TOKENS = {B_MAIN: "tok-MAIN-SECRET-5521", B_EXP: "tok-EXP-SECRET-8812"}
USERS = {B_MAIN: "AB1234", B_EXP: "CD5678"}
RENEWED = "tok-RENEWED-SECRET-7730"


class Rig:
    def __init__(self, directory: Path, ws_root: str | None = None) -> None:
        self.directory = directory
        self.fake = FakeKiteProcess(directory).__enter__()
        for broker, token in TOKENS.items():
            self.fake.post("session", api_key=API_KEY, access_token=token, user_id=USERS[broker])
        self.credentials: dict[str, dict[str, str]] = {b: {"api_key": API_KEY, "access_token": t}
                                                       for b, t in TOKENS.items()}
        self.engine = FakeEngine(self.welcome_for)
        self.config = directory / "gateway.toml"
        self.config.write_text(
            f'[engine]\nendpoint = "{self.engine.endpoint}"\n'
            f'[broker]\napi_type = "zerodha"\nid = "kite-test"\nbroker_ids = ["{B_MAIN}", "{B_EXP}"]\n'
            f'[kite]\nroot = "{self.fake.root}"\nws_root = "{ws_root or self.fake.ws_root}"\npoll_seconds = 1.0\n'
            '[log]\nlevel = "debug"\n')
        self.logs: list[Path] = []
        self.process: subprocess.Popen[bytes] | None = None
        self.start_gateway()

    def welcome_for(self, hello: dict[str, Any]) -> dict[str, Any]:
        return self.welcome(hello["broker_ids"])

    def welcome(self, brokers: list[str]) -> dict[str, Any]:
        return {"broker_ids": brokers, "refused_broker_ids": [], "heartbeat_interval_ms": 200,
                "heartbeat_timeout_ms": 3000, "credentials": {b: self.credentials[b] for b in brokers},
                "credential_errors": {}}

    def start_gateway(self) -> None:
        log = self.directory / f"gateway-{len(self.logs)}.log"
        self.logs.append(log)
        hellos = len(self.engine.messages("hello"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
        env["PYTHONPATH"] = str(PACKAGE_ROOT)
        self.process = subprocess.Popen([sys.executable, "-m", "algotrader_brokers", "gateway", "--config",
                                         str(self.config)], cwd=PACKAGE_ROOT, env=env,
                                        stdout=subprocess.DEVNULL, stderr=open(log, "wb"))
        self.engine.wait_for("hello", count=hellos + 1, timeout=20)
        self.engine.wait_for("funds", lambda p: p["broker_id"] == B_MAIN, count=hellos + 1, timeout=20)

    def stop_gateway(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def close(self) -> None:
        self.stop_gateway()
        self.engine.close()
        self.fake.__exit__()

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.logs)

    # -- the engine's requests --------------------------------------------------------------------
    def order(self, broker: str = B_MAIN, **fields: Any) -> dict[str, Any]:
        """Sends an ``order.new`` as the engine does; returns it."""
        order_id = str(uuid.uuid4())
        request = {"request_id": str(uuid.uuid4()), "order_id": order_id, "broker_id": broker,
                   "trade_id": order_id, "parent_order_id": None, "user_id": str(uuid.uuid4()),
                   "strategy_id": str(uuid.uuid4()), "symbol": "INFY", "exchange": "NSE",
                   "transaction_type": "BUY", "order_type": "MARKET", "quantity": 1, "price": None,
                   "trigger_price": None, "reference_price": 1500.0, "product": "MIS", "validity": "DAY",
                   "algo_id": None, "ts": "2026-12-07T04:00:00.000000Z"}
        request.update(fields)
        self.engine.send("order.new", request)
        return request

    def acked(self, request_id: str, count: int = 1, timeout: float = 10.0) -> None:
        self.engine.wait_for("ack", lambda p: p["request_id"] == request_id, count=count, timeout=timeout)

    def report(self, order_id: str, type_: str, timeout: float = 10.0, count: int = 1) -> dict[str, Any]:
        return self.engine.wait_for("report", lambda p: p["order_id"] == order_id and p["type"] == type_,
                                    timeout=timeout, count=count)[-1]

    def kite_order(self, broker_order_id: str, broker: str = B_MAIN) -> dict[str, Any]:
        for order in self.fake.orders(USERS[broker]):
            if order["order_id"] == broker_order_id:
                return order
        raise AssertionError(f"no Kite order {broker_order_id}")

    def settle(self, seconds: float = 0.5) -> None:
        time.sleep(seconds)
