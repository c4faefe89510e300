"""The ICICI Direct gateway end to end for tests: the fake Breeze in its process
(icici_fake_process.py), a fake engine ROUTER in the test (fake_engine.py), and the gateway as
operators run it, ``python -m algotrader_brokers gateway --config FILE``, in a process of its own."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from icici_fake_process import FakeIciciProcess
from fake_engine import FakeEngine

HERE = Path(__file__).resolve().parent
PACKAGE_ROOT = HERE.parent

API_KEY = "icici-APPKEY-4417"
SECRET = "icici-SECRET-8852"
B_MAIN = "7b1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e01"   # user XY604721
B_EXP = "8c2e3f4a-5b6c-4d7e-9f0a-1b2c3d4e5f02"    # user ZW111222, whose session the tests expire
USERS = {B_MAIN: "XY604721", B_EXP: "ZW111222"}
KEYS = {B_MAIN: "sk-MAIN-SECRET-3381", B_EXP: "sk-EXP-SECRET-9904"}
RENEWED = "sk-RENEWED-SECRET-6642"
APP_KEYS = {B_MAIN: API_KEY, B_EXP: API_KEY + "-2"}   # Breeze's sessions are per app key


class IciciRig:
    def __init__(self, directory: Path, order_updates: bool = True, poll_seconds: float = 1.0) -> None:
        self.directory = directory
        self.fake = FakeIciciProcess(directory).__enter__()
        self.tokens = {b: self.fake.session(APP_KEYS[b], SECRET, USERS[b], KEYS[b]) for b in (B_MAIN, B_EXP)}
        self.credentials: dict[str, dict[str, str]] = {
            b: {"api_key": APP_KEYS[b], "api_secret": SECRET, "session_token": self.tokens[b], "user_id": USERS[b]}
            for b in (B_MAIN, B_EXP)}
        self.fake.post("quote", exchange="NSE", stock_code="INFTEC", ltp=1500.0)
        self.engine = FakeEngine(self.welcome_for)
        self.config = directory / "gateway.toml"
        self.config.write_text(
            f'[engine]\nendpoint = "{self.engine.endpoint}"\n'
            f'[broker]\napi_type = "icici"\nid = "icici-test"\nbroker_ids = ["{B_MAIN}", "{B_EXP}"]\n'
            f'[icici]\napi_url = "{self.fake.api_url}"\norder_feed_url = "{self.fake.order_feed_url}"\n'
            f'security_master = "{self.fake.security_master_url}"\npoll_seconds = {poll_seconds}\n'
            f'order_updates = {"true" if order_updates else "false"}\nexchanges = ["NSE", "NFO"]\n'
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

    def icici_order(self, order_id: str) -> dict[str, Any]:
        for order in self.fake.orders():
            if order["order_id"] == order_id:
                return order
        raise AssertionError(f"no ICICI order {order_id}")

    def settle(self, seconds: float = 0.5) -> None:
        time.sleep(seconds)
