"""The Angel One gateway end to end for tests: the fake SmartAPI in its process
(angel_fake_process.py), a fake engine ROUTER in the test (fake_engine.py), and the gateway as
operators run it, ``python -m algotrader_brokers gateway --config FILE``, in a process of its own."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from angel_fake_process import FakeAngelProcess
from fake_engine import FakeEngine

HERE = Path(__file__).resolve().parent
PACKAGE_ROOT = HERE.parent

API_KEY = "angel-APIKEY-7731"
B_MAIN = "5a0c3c1e-2f4b-4d6a-9e8f-1a2b3c4d5e01"   # client A123456
B_EXP = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b02"    # client B654321, whose token the tests expire
CLIENTS = {B_MAIN: "A123456", B_EXP: "B654321"}
JWTS = {B_MAIN: "jwt-MAIN-SECRET-3381", B_EXP: "jwt-EXP-SECRET-9904"}
FEEDS = {B_MAIN: "feed-MAIN-SECRET-1207", B_EXP: "feed-EXP-SECRET-5518"}
RENEWED = "jwt-RENEWED-SECRET-6642"


class AngelRig:
    def __init__(self, directory: Path, order_updates: bool = True) -> None:
        self.directory = directory
        self.fake = FakeAngelProcess(directory).__enter__()
        for broker in (B_MAIN, B_EXP):
            self.fake.post("session", api_key=API_KEY, client_code=CLIENTS[broker], jwt=JWTS[broker],
                           feed_token=FEEDS[broker])
        self.credentials: dict[str, dict[str, str]] = {
            b: {"api_key": API_KEY, "client_code": CLIENTS[b], "jwt_token": JWTS[b], "feed_token": FEEDS[b]}
            for b in (B_MAIN, B_EXP)}
        self.engine = FakeEngine(self.welcome_for)
        self.config = directory / "gateway.toml"
        self.config.write_text(
            f'[engine]\nendpoint = "{self.engine.endpoint}"\n'
            f'[broker]\napi_type = "angel"\nid = "angel-test"\nbroker_ids = ["{B_MAIN}", "{B_EXP}"]\n'
            f'[angel]\nroot = "{self.fake.root}"\norder_updates_url = "{self.fake.order_update_url}"\n'
            f'scrip_master = "{self.fake.scrip_master_url}"\npoll_seconds = 1.0\n'
            f'order_updates = {"true" if order_updates else "false"}\npublic_ip = "203.0.113.7"\n'
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
        # A read-only working directory, as under the systemd unit: the SDK's ./logs must not be needed.
        workdir = self.directory / "readonly"
        workdir.mkdir(exist_ok=True)
        workdir.chmod(0o555)
        self.process = subprocess.Popen([sys.executable, "-m", "algotrader_brokers", "gateway", "--config",
                                         str(self.config)], cwd=workdir, env=env,
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

    def order(self, broker: str = B_MAIN, **fields: Any) -> dict[str, Any]:
        """Sends an ``order.new`` as the engine does; returns it."""
        order_id = str(uuid.uuid4())
        request = {"request_id": str(uuid.uuid4()), "order_id": order_id, "broker_id": broker,
                   "trade_id": order_id, "parent_order_id": None, "user_id": str(uuid.uuid4()),
                   "strategy_id": str(uuid.uuid4()), "symbol": "INFY", "exchange": "NSE",
                   "transaction_type": "BUY", "order_type": "LIMIT", "quantity": 1, "price": 1500.0,
                   "trigger_price": None, "reference_price": 1500.0, "product": "MIS", "validity": "DAY",
                   "algo_id": None, "ts": "2026-12-07T04:00:00.000000Z"}
        request.update(fields)
        self.engine.send("order.new", request)
        return request

    def request(self, kind: str, order: dict[str, Any], **fields: Any) -> dict[str, Any]:
        message = {"request_id": str(uuid.uuid4()), "order_id": order["order_id"], "broker_id": order["broker_id"],
                   "ts": order["ts"], **fields}
        self.engine.send(kind, message)
        return message

    def report(self, order_id: str, type_: str, timeout: float = 10.0, count: int = 1) -> dict[str, Any]:
        return self.engine.wait_for("report", lambda p: p["order_id"] == order_id and p["type"] == type_,
                                    timeout=timeout, count=count)[-1]

    def angel_order(self, orderid: str, broker: str = B_MAIN) -> dict[str, Any]:
        for order in self.fake.orders(CLIENTS[broker]):
            if order["orderid"] == orderid:
                return order
        raise AssertionError(f"no Angel order {orderid}")

    def settle(self, seconds: float = 0.5) -> None:
        time.sleep(seconds)
